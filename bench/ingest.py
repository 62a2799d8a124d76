"""Ingest benchmark: channelscope's clean path against a bare DuckDB load of the same CSV.

    python bench/ingest.py --rows 1000000 [--rows 10000000] [--keep] [--json]

For each size it generates an orders CSV in the canonical layout with DuckDB itself (about 0.5% bad
rows and 0.5% exact repeats), writes a project folder around it, then runs each measurement in its
own child process so that its peak RSS (``ru_maxrss`` from ``wait4``) is its own:

* bare: a fresh DuckDB file, ``CREATE TABLE t AS SELECT * FROM read_csv(...)``, close;
* channelscope: ``Project(folder).ingest()`` (open, sync dimensions, stage, clean, merge, close),
  with every SQL statement timed through a thin wrapper of the connection (``--no-phases`` to
  skip it), and the ledger checked against the counts the generator planted.

Wall times are printed with the CPU time (user + system, all threads) next to them: on a shared
machine the CPU figures move less than the wall clock. ``--experiments`` also times, in isolation on
the same file, each slow phase's current SQL (built by src where it can be) against a proposed
rewrite and checks both give the same rows. ``--json`` prints the figures as JSON; ``--show FILE``
renders a saved JSON again. bench/README.md explains the figures.

Targets (issue): channelscope within 3x of the bare load, and under 1 GiB peak RSS at 10M rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: the mappable columns of ``orders`` (model/tables.py), in order: the canonical CSV header
COLUMNS = (
    "source_order_id",
    "channel_id",
    "distributor_id",
    "customer_key",
    "campaign_id",
    "ordered_at",
    "paid_at",
    "updated_at",
    "status",
    "currency",
    "gross_amount",
    "discount_amount",
    "shipping_amount",
    "net_amount",
    "region",
    "utm_source",
    "utm_medium",
)
#: (id, name, kind, platform, share of orders in %)
CHANNELS = (
    ("tmall", "Tmall flagship", "marketplace", "tmall", 35),
    ("jd", "JD self-run", "marketplace", "jd", 25),
    ("douyin", "Douyin shop", "live_stream", "douyin", 20),
    ("xhs", "Xiaohongshu store", "social", "xiaohongshu", 10),
    ("own", "Own mini-program", "own_store", "wechat", 10),
)
KOLS = 20  # live hosts on douyin (distributors)
CAMPAIGNS = (  # (id, name, kind, channel, starts, ends, code)
    ("c618", "618", "festival", None, "-06-01 00:00:00", "-06-18 23:59:59", "C618"),
    ("c1111", "Double 11", "festival", None, "-10-20 00:00:00", "-11-11 23:59:59", "C1111"),
    (
        "live01",
        "Douyin live week",
        "live_session",
        "douyin",
        "-03-01 00:00:00",
        "-03-07 23:59:59",
        "LIVE01",
    ),
)
REGIONS = (
    "广东",
    "浙江",
    "江苏",
    "上海",
    "北京",
    "山东",
    "四川",
    "湖北",
    "福建",
    "河南",
    "湖南",
    "安徽",
    "河北",
    "陕西",
    "重庆",
    "辽宁",
)
BAD_NEGATIVE_PERMILLE = 3  # net_amount < 0
BAD_DATE_PERMILLE = 2  # unreadable ordered_at
REPEAT_EVERY = 200  # one exact repeat of a row in each block of 200 (0.5%)
MIB = 1024 * 1024


# ---- data ---------------------------------------------------------------------------------------


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], h: str) -> str:
    return f"{_sql_list(values)}[CAST({h} % {len(values)} AS BIGINT) + 1]"


def generate_sql(rows: int, now: dt.datetime) -> str:
    """A SELECT of ``rows`` order rows, and planted flags ``_repeat`` and ``_bad``.

    Every value is a function of a base number ``b`` (through ``hash(b, k)``): the last row of
    each block of ``REPEAT_EVERY`` is a copy of an earlier row of its block, byte for byte.
    """
    start = (now - dt.timedelta(days=366)).replace(microsecond=0)
    weights, acc = [], 0
    for cid, *_, share in CHANNELS:
        acc += share
        weights.append((acc, cid))
    channel = "CASE " + " ".join(f"WHEN ch < {a} THEN '{c}'" for a, c in weights) + " END"
    status = (
        "CASE WHEN st < 55 THEN 'completed' WHEN st < 70 THEN 'shipped' WHEN st < 80 THEN 'paid' "
        "WHEN st < 85 THEN 'created' WHEN st < 93 THEN 'cancelled' ELSE 'refunded' END"
    )
    money = "printf('%s%d.%02d', CASE WHEN {v} < 0 THEN '-' ELSE '' END, abs({v}) // 100, abs({v}) % 100)"
    pool = max(rows // 3, 1)
    fmt = "'%Y-%m-%d %H:%M:%S'"
    kols = [f"kol{k:02d}" for k in range(1, KOLS + 1)]
    codes = [c[6] for c in CAMPAIGNS]
    bad_dates = ["2025-13-45 10:00:00", "31/02/2025 25:61", "N/A", "0000-00-00 00:00:00"]
    neg, bad = BAD_NEGATIVE_PERMILLE, BAD_NEGATIVE_PERMILLE + BAD_DATE_PERMILLE
    net = f"(CASE WHEN bad < {neg} THEN -1 ELSE 1 END) * (gross_c - disc_c + ship_c)"
    return f"""
WITH r AS (
  SELECT i % {REPEAT_EVERY} = {REPEAT_EVERY - 1} AS _repeat,
         CASE WHEN i % {REPEAT_EVERY} = {REPEAT_EVERY - 1}
              THEN i - 1 - CAST(hash(i, 1) % {REPEAT_EVERY - 1} AS BIGINT) ELSE i END AS src
  FROM range({rows}) t(i)
), h AS (
  SELECT _repeat, src - src // {REPEAT_EVERY} AS b FROM r
), v AS (
  SELECT _repeat, b, hash(b, 2) % 100 AS ch, hash(b, 3) % 1000 AS bad,
         CAST(hash(b, 4) % {pool} AS BIGINT) AS cust, hash(b, 6) % 100 AS st,
         TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}'
           + to_seconds(CAST(hash(b, 5) % {365 * 86400} AS BIGINT)) AS ts,
         CAST(hash(b, 7) % 199900 + 100 AS BIGINT) AS gross_c,
         hash(b, 8) AS h8, hash(b, 9) AS h9, hash(b, 10) AS h10
  FROM h
), m AS (
  SELECT *, {channel} AS channel, {status} AS status_,
         CAST(gross_c * (h8 % 20) // 100 AS BIGINT) AS disc_c,
         [0, 0, 600, 1000][CAST(h8 % 4 AS BIGINT) + 1] AS ship_c,
         ts + to_seconds(CAST(60 + h9 % 3540 AS BIGINT)) AS paid_ts
  FROM v
)
SELECT
  printf('%016d', 3000000000000000 + b) AS source_order_id,
  channel AS channel_id,
  CASE WHEN channel = 'douyin' AND h10 % 10 < 4 THEN {_pick(kols, "h10 // 10")}
       END AS distributor_id,
  printf('1%d%09d', 3 + cust % 7, cust) AS customer_key,
  CASE WHEN h10 % 100 >= 97 THEN {_pick(codes, "h10 // 100")} END AS campaign_id,
  CASE WHEN bad >= {neg} AND bad < {bad} THEN {_pick(bad_dates, "h9")}
       ELSE strftime(ts, {fmt}) END AS ordered_at,
  CASE WHEN status_ NOT IN ('created', 'cancelled') THEN strftime(paid_ts, {fmt}) END AS paid_at,
  strftime(least(paid_ts + to_seconds(CAST(h9 % 864000 AS BIGINT)),
                 TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}'), {fmt}) AS updated_at,
  status_ AS status,
  'CNY' AS currency,
  {money.format(v="gross_c")} AS gross_amount,
  {money.format(v="disc_c")} AS discount_amount,
  {money.format(v="ship_c")} AS shipping_amount,
  {money.format(v=net)} AS net_amount,
  {_pick(list(REGIONS), "h8 // 4")} AS region,
  CASE WHEN h10 % 10 < 4 THEN {_pick(["baidu", "wechat", "weibo", "douyin", "bilibili"], "h8 // 7")}
       END AS utm_source,
  CASE WHEN h10 % 10 < 4 THEN {_pick(["cpc", "feed", "social", "kol"], "h8 // 11")}
       END AS utm_medium,
  _repeat, bad < {bad} AS _bad
FROM m
"""


def generate(csv: Path, rows: int, now: dt.datetime) -> dict[str, Any]:
    """Write the CSV; return the planted counts the ledger must show."""
    import duckdb

    con = duckdb.connect()
    select = generate_sql(rows, now)
    cols = ", ".join(COLUMNS)
    t0 = time.perf_counter()
    con.execute(f"COPY (SELECT {cols} FROM ({select})) TO '{csv}' (HEADER, DELIMITER ',')")
    seconds = time.perf_counter() - t0
    repeats, bad = con.execute(
        f"SELECT count(*) FILTER (_repeat), count(*) FILTER (_bad AND NOT _repeat) FROM ({select})"
    ).fetchone()  # type: ignore[misc]
    con.close()
    return {
        "rows": rows,
        "repeats": int(repeats),
        "bad": int(bad),
        "good": rows - int(repeats) - int(bad),
        "seconds": round(seconds, 2),
        "bytes": csv.stat().st_size,
    }


def write_project(folder: Path, csv: Path, memory_limit: str, threads: int | None, now: dt.datetime) -> None:
    """channelscope.yaml (the channels, douyin hosts, campaigns, one canonical source) and a key."""
    lines = [
        "project:",
        "  name: ingest bench",
        "  base_currency: CNY",
        "  timezone: Asia/Shanghai",
        "warehouse:",
        "  url: duckdb:///warehouse.duckdb",
        f"  memory_limit: {memory_limit}",
    ]
    if threads:
        lines.append(f"  threads: {threads}")
    lines.append("channels:")
    for cid, name, kind, platform, _ in CHANNELS:
        lines += [
            f"  - id: {cid}",
            f"    name: {name}",
            f"    kind: {kind}",
            f"    platform: {platform}",
        ]
    lines.append("distributors:")
    for k in range(1, KOLS + 1):
        lines += [
            f"  - id: kol{k:02d}",
            "    channel_id: douyin",
            f"    name: Host {k}",
            "    kind: live_host",
        ]
    lines.append("campaigns:")
    for cid, name, kind, channel, starts, ends, code in CAMPAIGNS:
        # the latest edition that has ended: inside the generated year of orders
        year = now.year if f"{now.year}{ends}" < f"{now:%Y-%m-%d %H:%M:%S}" else now.year - 1
        lines += [
            f"  - id: {cid}",
            f"    name: '{name}'",
            f"    kind: {kind}",
            f"    starts_at: '{year}{starts}'",
            f"    ends_at: '{year}{ends}'",
            f"    code: {code}",
        ]
        if channel:
            lines.append(f"    channel_id: {channel}")
    lines += [
        "sources:",
        "  - name: orders",
        f"    path: {csv.relative_to(folder)}",
        "    preset: canonical_orders",
    ]
    (folder / "channelscope.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    secrets = folder / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "pseudonym.key").write_text(os.urandom(32).hex() + "\n", encoding="ascii")


# ---- children: one measurement each, in its own process ------------------------------------------


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MIB


def child_bare(csv: str, db: str, memory_limit: str, threads: int | None) -> dict[str, Any]:
    import duckdb

    base = _rss_mib()
    config: dict[str, Any] = {"memory_limit": memory_limit}
    if threads:
        config["threads"] = threads
    t0 = time.perf_counter()
    con = duckdb.connect(db, config=config)
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')")
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[index]
    con.close()
    return {"seconds": time.perf_counter() - t0, "rows": int(rows), "baseline_mib": base}


#: statement label -> pattern (first match wins); the labels are the phases of the report
PHASES = (
    ("validate: rule reasons (ibis)", r"^DESCRIBE _raw_\w+_t\d"),
    ("quarantine: resolve earlier entries", r"^UPDATE quarantine"),
    (
        "stage: read_csv to temp table",
        r"AS SELECT row_number\(\) OVER \(\) AS _row, \* FROM read_csv",
    ),
    (
        "stage: rejects, describe, counts",
        r"FROM _raw_\w+_rej |^DESCRIBE |^DROP TABLE IF EXISTS _raw",
    ),
    ("dedupe: exact repeats window", r"AS _dup FROM"),
    ("parse: typed columns, pseudonym", r"TEMP TABLE _raw_\w+_p\d+ AS"),
    ("tag: business date, fx, refs, campaign", r"TEMP TABLE _raw_\w+_t\d+ AS SELECT (t\.\*|s\.\*)"),
    ("tag: add _when", r"TEMP TABLE _raw_\w+_t\d+ AS SELECT \*,"),
    ("validate: rule reasons (ibis)", r"TEMP TABLE _raw_\w+_v\d+ AS"),
    ("reasons: per row", r"TEMP TABLE _raw_\w+_reasons AS"),
    ("quarantine: json record", r"TEMP TABLE _raw_\w+_q AS|_rejects"),
    ("good: md5 hash + rank window", r"TEMP TABLE _raw_\w+_g_\w+ AS"),
    ("good: drop superseded", r"FROM _raw_\w+_g_\w+ WHERE _rank > 1"),
    ("merge: classify (LEFT JOIN)", r"^CREATE TEMP TABLE _merge_"),
    ("merge: delete replaced", r"^DELETE FROM \w+ USING _merge_"),
    ("merge: insert", r"^INSERT INTO (orders|order_lines|refunds|\w+) \(.*FROM _merge_"),
    ("merge: count fates", r"SELECT _fate, count"),
    ("merge: quarantine insert", r"^INSERT INTO quarantine"),
    ("customers: first orders", r"(INSERT INTO|UPDATE) customers"),
    ("commit", r"^(COMMIT|BEGIN|ROLLBACK)"),
    ("sync dimensions, calendar", r"_calendar|_cfg_|^DELETE FROM \w+$"),
    ("counts and lookups", r"^SELECT count\(\*\)|^SELECT fingerprint|duckdb_tables|^DROP TABLE"),
)


class TimedConnection:
    """A DuckDB connection whose execute calls are timed (and their RSS high-water mark noted)."""

    def __init__(self, con: Any, log: list[tuple[str, float, float, float]]) -> None:
        self._con = con
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def _timed(self, method: str, sql: str, *args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return getattr(self._con, method)(sql, *args, **kwargs)
        finally:
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            self._log.append((sql, wall, cpu, _maxrss_mib()))

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        return self._timed("execute", sql, *args, **kwargs)

    def executemany(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        return self._timed("executemany", sql, *args, **kwargs)


def phase_of(sql: str) -> str:
    flat = " ".join(sql.split())
    for label, pattern in PHASES:
        if re.search(pattern, flat):
            return label
    return "other SQL"


def child_channelscope(folder: str, phases: bool) -> dict[str, Any]:
    from channelscope.project import Project
    from channelscope.sources import files as F

    base = _rss_mib()
    log: list[tuple[str, float, float, float]] = []
    fp_seconds = [0.0]
    fingerprint = F.fingerprint

    def timed_fingerprint(f: Any) -> str:
        t = time.perf_counter()
        try:
            return fingerprint(f)
        finally:
            fp_seconds[0] += time.perf_counter() - t

    if phases:
        F.fingerprint = timed_fingerprint
    t0 = time.perf_counter()
    project = Project(folder)
    wh = project.warehouse
    t_open = time.perf_counter() - t0
    if phases:
        wh.con = TimedConnection(wh.con, log)  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    results = project.ingest()
    t_ingest = time.perf_counter() - t1
    t2 = time.perf_counter()
    project.close()
    t_close = time.perf_counter() - t2
    seconds = time.perf_counter() - t0
    peak = _maxrss_mib()

    ledger = [
        {
            k: getattr(r, k)
            for k in (
                "status",
                "rows_in",
                "loaded",
                "quarantined",
                "duplicates",
                "replaced",
                "message",
            )
        }
        | {"balanced": r.balanced, "in_file": r.details.get("in_file")}
        for r in results
    ]
    import duckdb

    con = duckdb.connect(str(Path(folder) / "warehouse.duckdb"), read_only=True)
    counts = con.execute(
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM quarantine), (SELECT count(*) FROM customers)"
    ).fetchone()
    stored = dict(zip(("orders", "quarantine", "customers"), counts or (0, 0, 0), strict=True))
    con.close()

    by_phase: dict[str, list[float]] = {}
    top: list[tuple[float, str]] = []
    last_peak = base
    for sql, secs, cpu, maxrss in log:
        label = phase_of(sql)
        entry = by_phase.setdefault(label, [0.0, 0.0, 0.0, 0.0])
        entry[0] += secs
        entry[1] += 1
        entry[2] = max(entry[2], maxrss - last_peak)  # how much this statement raised the peak
        entry[3] += cpu
        last_peak = max(last_peak, maxrss)
        top.append((secs, " ".join(sql.split())[:160]))
    top.sort(reverse=True)
    return {
        "seconds": seconds,
        "open_seconds": t_open,
        "ingest_seconds": t_ingest,
        "close_seconds": t_close,
        "fingerprint_seconds": fp_seconds[0],
        "baseline_mib": base,
        "peak_mib_self": peak,
        "ledger": ledger,
        "stored": stored,
        "phases": {
            k: {
                "seconds": v[0],
                "cpu_seconds": v[3],
                "statements": int(v[1]),
                "raised_peak_mib": v[2],
            }
            for k, v in by_phase.items()
        },
        "sql_seconds": sum(x[1] for x in log),
        "slowest": [{"seconds": s, "sql": q} for s, q in top[:8]],
    }


# ---- experiments: one phase's current SQL against a proposed rewrite, in isolation ---------------


def proposed_parse_decimal(text: str, scale: int = 2, divisor: int = 1) -> str:
    """``parse.parse_decimal`` casting to DECIMAL(18, s): a width > 18 (int128) is ~100x slower."""
    stripped = f"regexp_replace({text}, '[,\\s¥￥$€£元]|RMB|CNY|USD|R\\$|BRL', '', 'g')"
    negative_paren = f"regexp_replace({stripped}, '^\\((.*)\\)$', '-\\1')"
    if divisor == 1:
        return f"TRY_CAST({negative_paren} AS DECIMAL(18, {scale}))"
    wide = f"TRY_CAST({negative_paren} AS DECIMAL(18, {max(scale, 6)}))"
    return f"TRY_CAST(round({wide} / {divisor}, {scale}) AS DECIMAL(18, {scale}))"


def fixed_offset_since(tz: str) -> tuple[dt.datetime, int] | None:
    """(local wall time from which ``tz`` keeps one UTC offset until 2100, offset in seconds)."""
    from zoneinfo import ZoneInfo

    zone, day = ZoneInfo(tz), dt.timedelta(days=1)
    t = dt.datetime(2100, 1, 1)
    offset = t.replace(tzinfo=zone).utcoffset()
    while t.year > 1900 and (t - day).replace(tzinfo=zone).utcoffset() == offset:
        t -= day
    if offset is None or t.year >= 2090:
        return None
    return t + day, int(offset.total_seconds())  # a day of margin after the last change


def proposed_parse_timestamp_utc(text: str, tz: str, formats: Any) -> str:
    """``parse.parse_timestamp_utc`` with cheap guards before each regex and, for a zone whose
    offset has been fixed for decades (Asia/Shanghai since 1991), arithmetic instead of ICU."""
    from channelscope.clean import parse as P

    local = P.parse_timestamp_local(text, formats)
    zoned = f"timezone('UTC', timezone({P.lit(tz)}, {local}))"
    fixed = fixed_offset_since(tz)
    if fixed:
        since, offset = fixed
        zoned = (
            f"CASE WHEN {local} >= TIMESTAMP '{since:%Y-%m-%d}' "
            f"THEN {local} - INTERVAL {offset} SECOND ELSE {zoned} END"
        )
    return (
        "CASE "
        f"WHEN {text} IS NULL THEN NULL "
        f"WHEN length({text}) IN (9, 10) AND regexp_full_match({text}, '\\d{{9,10}}') "
        f"THEN timezone('UTC', to_timestamp(TRY_CAST({text} AS BIGINT))) "
        f"WHEN length({text}) IN (12, 13) AND regexp_full_match({text}, '\\d{{12,13}}') "
        f"THEN timezone('UTC', to_timestamp(TRY_CAST({text} AS BIGINT) / 1000.0)) "
        f"WHEN (right({text}, 1) IN ('Z', 'z') OR contains(right({text}, 6), '+') "
        f"OR contains(right({text}, 6), '-')) AND regexp_matches({text}, "
        "'\\d[T ]\\d{1,2}:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*(Z|[+-]\\d{2}:?\\d{2})$') "
        f"THEN timezone('UTC', TRY_CAST(regexp_replace({text}, "
        "'\\s+([+-]\\d{2}:?\\d{2})$', '\\1') AS TIMESTAMPTZ)) "
        f"ELSE {zoned} END"
    )


#: inputs the generated file lacks, run through the current and the proposed builders
EDGE_CASES = [
    None,
    "",
    " ",
    "12.345",
    "-12.345",
    "12.344999",
    "0.13812345",
    "1e3",
    "1,234.50",
    "¥1,234.50",
    "(12.00)",
    "12.5元",
    "RMB 8",
    "+3",
    "1_000",
    "999999999999.99",
    "9999999999999999.99",
    "3.0",
    "3.5",
    "abc",
    '="00123"',
    '=""',
    '="',
    " \u00a0x\u3000",
    "\ufeffy",
    "a\nb",
    '="a\nb"',
    "2024-01-05 13:00:00",
    "2024-01-05 13:00",
    "2024-01-05T13:00:00",
    "2024/1/6 10:00",
    "2024年1月8日 09:30",
    "2024年1月8日 9时30分",
    "2024.01.08 09:30:00",
    "2024-01-05",
    "20240105",
    "2024-01-06T01:00:00Z",
    "2024-01-06 01:00:00+08:00",
    "2024-01-06 01:00:00 +0800",
    "2024-01-06T01:00:00.123-05:00",
    "1704500000",
    "170450000",
    "1704500000123",
    "45000",
    "45000.5",
    "1988-07-01 12:00:00",
    "1991-09-14 12:00:00",
    "1991-09-16 12:00:00",
    "2024-03-10 02:30:00",
    "2024-11-03 01:30:00",
    "2025-13-45 10:00:00",
    "31/02/2025 25:61",
    "N/A",
    "0000-00-00 00:00:00",
]
EDGE_ZONES = ("Asia/Shanghai", "America/New_York", "UTC", "Asia/Kolkata")


class _Capture:
    """Stands in for a connection to read the SQL a src function would run."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def execute(self, sql: str, *args: Any) -> _Capture:
        self.sql.append(sql)
        return self

    def fetchone(self) -> tuple[int]:
        return (0,)


def child_experiments(folder: str, memory_limit: str, threads: int | None, reps: int) -> dict[str, Any]:
    """Time each slow phase's current SQL (built by src where it can be) against a rewrite,
    on the generated file, and check both give the same rows."""
    from types import SimpleNamespace

    import duckdb

    from channelscope.clean import parse as P
    from channelscope.clean.pipeline import _hash_sql, mark_repeats
    from channelscope.clean.pseudonymize import load_key
    from channelscope.clean.targets import tag_select
    from channelscope.model import TABLES
    from channelscope.project import Project

    root = Path(folder)
    csv = root / "exports" / "orders.csv"
    work = root / "experiments.duckdb"
    shutil.copy(root / "warehouse.duckdb", work)  # orders as the ingest left them
    config: dict[str, Any] = {"memory_limit": memory_limit, "preserve_insertion_order": True}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(str(work), config=config)
    con.execute("SET timezone = 'UTC'")  # as the pipeline's ibis connection sets it
    con.execute(f"SET temp_directory = '{root / '.experiments-tmp'}'")
    con.execute(
        f"CREATE TEMP TABLE raw AS SELECT row_number() OVER () AS _row, * FROM read_csv('{csv}', all_varchar = true)"
    )
    cols = [r[0] for r in con.execute("DESCRIBE raw").fetchall() if r[0] != "_row"]
    con.execute(
        "CREATE TEMP TABLE l1 AS SELECT _row, "
        + ", ".join(f"{P.clean_text(P.ident(c))} AS {P.ident('_t_' + c)}" for c in cols)
        + " FROM raw"
    )
    key = load_key(root, "CHANNELSCOPE_PSEUDONYM_KEY", "secrets/pseudonym.key")
    bid = con.execute("SELECT max(batch_id) FROM orders").fetchone()[0]  # type: ignore[index]
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]  # type: ignore[index]
    out: list[dict[str, Any]] = []

    def timed(sql: str, *, statements: bool = False) -> tuple[float, float]:
        """Best wall time and best CPU time (all threads) over ``reps`` runs."""
        best, best_cpu = float("inf"), float("inf")
        for _ in range(reps):
            if statements:
                con.execute("BEGIN TRANSACTION")
            t, c = time.perf_counter(), time.process_time()
            for s in sql.split(";\n") if statements else [f"CREATE OR REPLACE TEMP TABLE _e AS {sql}"]:
                con.execute(s)
            best = min(best, time.perf_counter() - t)
            best_cpu = min(best_cpu, time.process_time() - c)
            if statements:
                con.execute("ROLLBACK")
        return best, best_cpu

    def same_rows(a: str, b: str) -> bool:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _a AS {a}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _b AS {b}")
        n = con.execute(
            "SELECT (SELECT count(*) FROM (SELECT * FROM _a EXCEPT ALL SELECT * FROM _b))"
            " + (SELECT count(*) FROM (SELECT * FROM _b EXCEPT ALL SELECT * FROM _a))"
        ).fetchone()[0]  # type: ignore[index]
        return n == 0

    def ab(
        name: str,
        phase: str,
        current: str,
        proposed: str,
        *,
        statements: bool = False,
        check: tuple[str, str] | None = None,
        edge: tuple[Any, Any] | None = None,
    ) -> None:
        (cur, cur_cpu), (new, new_cpu) = (timed(x, statements=statements) for x in (current, proposed))
        same = same_rows(*check) if check else same_rows(current, proposed)
        differs: list[str] = []
        if edge:  # the same builders over tricky inputs the generated file does not have
            a, b = (f"SELECT v, {fn('v')} FROM edge" for fn in edge)
            differs = [r[0] for r in con.execute(f"SELECT v FROM ({a} EXCEPT {b})").fetchall()]
        out.append(
            {
                "name": name,
                "phase": phase,
                "current_seconds": cur,
                "proposed_seconds": new,
                "current_cpu_seconds": cur_cpu,
                "proposed_cpu_seconds": new_cpu,
                "saved_seconds": cur - new,
                "speedup": cur / new if new else None,
                "same_result": same,
                "edge_cases_differing": differs,
            }
        )

    con.execute("CREATE OR REPLACE TEMP TABLE edge (v VARCHAR)")
    con.executemany("INSERT INTO edge VALUES (?)", [[v] for v in EDGE_CASES])
    t = P.ident
    money = ["gross_amount", "discount_amount", "shipping_amount", "net_amount"]
    stamps = ["ordered_at", "paid_at", "updated_at"]
    tz = "Asia/Shanghai"
    ab(
        "money: DECIMAL(18,2) cast instead of DECIMAL(24,6)",
        "parse",
        "SELECT _row, " + ", ".join(P.parse_decimal(t("_t_" + c), 2, 1) for c in money) + " FROM l1",
        "SELECT _row, " + ", ".join(proposed_parse_decimal(t("_t_" + c), 2, 1) for c in money) + " FROM l1",
        edge=(
            lambda v: f"{P.parse_decimal(v, 2, 1)}, {P.parse_decimal(v, 8, 1)}, {P.parse_int(v)}",
            lambda v: (
                f"{proposed_parse_decimal(v, 2, 1)}, {proposed_parse_decimal(v, 8, 1)}, "
                f"{P.parse_int(v).replace(P.parse_decimal(v, 6), proposed_parse_decimal(v, 6))}"
            ),
        ),
    )
    ab(
        "timestamps: guards before regexes, fixed-offset zone by arithmetic",
        "parse",
        "SELECT _row, " + ", ".join(P.parse_timestamp_utc(t("_t_" + c), tz, None) for c in stamps) + " FROM l1",
        "SELECT _row, " + ", ".join(proposed_parse_timestamp_utc(t("_t_" + c), tz, None) for c in stamps) + " FROM l1",
        edge=(
            lambda v: ", ".join(P.parse_timestamp_utc(v, z, None) for z in EDGE_ZONES),
            lambda v: ", ".join(proposed_parse_timestamp_utc(v, z, None) for z in EDGE_ZONES),
        ),
    )
    ck = t("_t_customer_key")
    ab(
        "pseudonym: HMAC once per distinct value, joined back",
        "parse",
        f"SELECT _row, {key.sql(ck, 'id')} AS k FROM l1",
        f"SELECT l1._row, d.k FROM l1 LEFT JOIN (SELECT v, {key.sql('v', 'id')} AS k FROM "
        f"(SELECT DISTINCT {ck} AS v FROM l1)) d ON d.v = {ck}",
    )
    part = ", ".join(t(c) for c in cols)
    capture = _Capture()
    mark_repeats(capture, "raw", cols)  # type: ignore[arg-type]
    current_repeats = capture.sql[0].split(" AS ", 1)[1]  # the SELECT src runs to rewrite raw
    blank = f"coalesce({', '.join(P.clean_text(t(c)) for c in cols)}) IS NULL"
    repeated = (
        f"WITH h AS (SELECT hash({part}) AS h FROM raw GROUP BY h HAVING count(*) > 1) "
        f"SELECT unnest(list_sort(list(_row))[2:]) AS _row FROM raw "
        f"WHERE hash({part}) IN (SELECT h FROM h) AND NOT ({blank}) GROUP BY {part}"
    )
    ab(
        "repeats: a small table of repeated _row (hash prefilter, blank test on candidates "
        "only) instead of rewriting raw with a window over every column",
        "dedupe",
        current_repeats,
        repeated,
        check=(f"SELECT _row FROM ({current_repeats}) WHERE _dup", repeated),
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE v AS SELECT row_number() OVER () AS _row, "
        "* EXCLUDE (batch_id, record_hash) FROM orders"
    )
    names = [r[0] for r in con.execute("DESCRIBE v").fetchall() if r[0] != "_row"]
    vcols = ", ".join(names)
    rank = "row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC NULLS LAST, _row DESC)"
    ab(
        "good rows: skip the rank window when no key repeats (count distinct first)",
        "good",
        f"SELECT _row, {vcols}, {_hash_sql('orders')} AS record_hash, {rank} AS _rank FROM v",
        f"SELECT _row, {vcols}, {_hash_sql('orders')} AS record_hash, 1 AS _rank FROM v "
        "WHERE (SELECT count(*) = count(DISTINCT order_id) FROM v)",
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE rs AS SELECT _row, CASE WHEN _t_net_amount LIKE '-%' "
        "OR TRY_CAST(_t_ordered_at AS TIMESTAMP) IS NULL THEN ['bad'] ELSE [] END "
        "AS _reasons FROM l1"
    )
    ab(
        "reasons: drop empty lists before GROUP BY _row",
        "reasons",
        "SELECT _row, flatten(list(_reasons)) AS reasons FROM (SELECT _row, _reasons FROM rs) "
        "GROUP BY _row HAVING len(flatten(list(_reasons))) > 0",
        "SELECT _row, flatten(list(_reasons)) AS reasons FROM (SELECT _row, _reasons FROM rs "
        "WHERE len(_reasons) > 0) GROUP BY _row",
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE s AS SELECT row_number() OVER () AS _row, "
        "* EXCLUDE (batch_id, record_hash) FROM orders"
    )
    con.execute(  # as the export had them: only the codes, the windows are for the tagger to find
        "UPDATE s SET campaign_id = NULL WHERE campaign_id NOT IN (SELECT code FROM campaigns)"
    )
    tagged = tag_select(
        "s",
        TABLES["orders"],
        SimpleNamespace(  # type: ignore[arg-type]
            project_tz=tz, base_currency="CNY", raw="s"
        ),
        has_campaigns=True,
    )
    window = (
        "LEFT JOIN LATERAL (SELECT c.campaign_id FROM campaigns c WHERE t.campaign_id IS NULL "
        "AND t.ordered_at BETWEEN c.starts_at AND c.ends_at AND (c.channel_id = t.channel_id "
        "OR c.channel_id IS NULL) AND c.kind IN ('promotion', 'festival', 'live_session') "
        "ORDER BY c.starts_at DESC LIMIT 1) win ON TRUE"
    )
    joined = (
        "LEFT JOIN (SELECT t2._row, arg_max(c.campaign_id, c.starts_at) AS campaign_id "
        "FROM (SELECT _row, ordered_at, channel_id FROM s WHERE campaign_id IS NULL) t2 "
        "JOIN campaigns c ON t2.ordered_at BETWEEN c.starts_at AND c.ends_at "
        "AND (c.channel_id = t2.channel_id OR c.channel_id IS NULL) "
        "AND c.kind IN ('promotion', 'festival', 'live_session') GROUP BY t2._row) win "
        "ON win._row = t._row"
    )
    if window in tagged:  # src still tags campaigns with the LATERAL subquery
        ab(
            "tag: campaign window by a range join + arg_max per row, not a LATERAL subquery",
            "tag",
            tagged,
            tagged.replace(window, joined),
        )
    done = SimpleNamespace(batch_id=bid, source="orders", table="orders")
    after = [  # only the customers part of what src runs after a batch
        s
        for s in Project._after_sql(SimpleNamespace(), done, [done])  # type: ignore[arg-type]
        if "customers" in s
    ]
    first = (
        "SELECT customer_key, min(ordered_at) AS ordered_at, arg_min(channel_id, "
        "(ordered_at, order_id)) AS channel_id FROM orders WHERE customer_key IN "
        f"(SELECT customer_key FROM orders WHERE batch_id = '{bid}') GROUP BY customer_key"
    )
    proposed_after = [
        f"CREATE OR REPLACE TEMP TABLE _first AS {first}",
        "INSERT INTO customers (customer_key, first_order_at, acquisition_channel_id, batch_id, "
        f"record_hash) SELECT f.customer_key, f.ordered_at, f.channel_id, '{bid}', 'derived' "
        "FROM _first f WHERE NOT EXISTS (SELECT 1 FROM customers c "
        "WHERE c.customer_key = f.customer_key)",
        "UPDATE customers SET first_order_at = f.ordered_at, acquisition_channel_id = f.channel_id "
        "FROM _first f WHERE customers.customer_key = f.customer_key "
        "AND (customers.first_order_at IS DISTINCT FROM f.ordered_at "
        "OR customers.acquisition_channel_id IS DISTINCT FROM f.channel_id)",
    ]
    snapshot = "SELECT customer_key, first_order_at, acquisition_channel_id FROM customers"
    results = []
    for stmts in (after, proposed_after):
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM customers")
        for s in stmts:
            con.execute(s)
        results.append(
            con.execute(
                f"SELECT count(*), sum(hash(customer_key, first_order_at, acquisition_channel_id)) FROM ({snapshot})"
            ).fetchone()
        )
        con.execute("ROLLBACK")
    con.execute("DELETE FROM customers")
    ab(
        "customers: first order by arg_min, computed once (not a window, twice)",
        "customers",
        ";\n".join(after),
        ";\n".join(proposed_after),
        statements=True,
        check=("SELECT 1", "SELECT 1" if results[0] == results[1] else "SELECT 2"),
    )
    ddl = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'orders'").fetchone()[0]  # type: ignore[index]

    def fresh_insert(index: bool) -> str:
        stmts = [
            "DROP TABLE IF EXISTS orders_copy",
            ddl.replace("CREATE TABLE orders", "CREATE TABLE orders_copy").rstrip(";"),
        ]
        if index:
            stmts.append("CREATE INDEX ix_orders_copy_key ON orders_copy (order_id)")
        return ";\n".join([*stmts, "INSERT INTO orders_copy SELECT * FROM orders", "COMMIT", "BEGIN TRANSACTION"])

    ab(
        "merge insert + commit: without the ART index on orders(order_id)",
        "merge",
        fresh_insert(True),
        fresh_insert(False),
        statements=True,
        check=("SELECT 1", "SELECT 1"),
    )
    con.close()
    work.unlink(missing_ok=True)
    Path(str(work) + ".wal").unlink(missing_ok=True)
    return {"rows": rows, "reps": reps, "experiments": out}


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child; return its JSON answer plus its peak RSS from wait4."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"child {args[0]} failed with exit code {proc.returncode}")
        out.seek(0)
        answer = json.loads(out.read().decode().strip().splitlines()[-1])
    answer["peak_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    answer["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # the whole child, all threads
    return answer


# ---- driver ------------------------------------------------------------------------------------


def bench_size(rows: int, root: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    from channelscope.model import TABLES

    if list(COLUMNS) != TABLES["orders"].mappable:
        raise SystemExit(f"the canonical orders layout changed: {TABLES['orders'].mappable}")
    now = dt.datetime.now().replace(microsecond=0)
    load_before = os.getloadavg()[0]
    folder = root / f"rows-{rows}"
    (folder / "exports").mkdir(parents=True, exist_ok=True)
    csv = folder / "exports" / "orders.csv"
    say(f"[{rows:,} rows] generating {csv} ...")
    planted = generate(csv, rows, now)
    write_project(folder, csv, args.memory_limit, args.threads, now)
    threads = [str(args.threads)] if args.threads else []
    say(f"[{rows:,} rows] bare DuckDB load ...")
    bare = run_child(["bare", str(csv), str(root / f"bare-{rows}.duckdb"), args.memory_limit, *threads])
    say(f"[{rows:,} rows] channelscope ingest ...")
    cs = run_child(["channelscope", str(folder), "0" if args.no_phases else "1"])
    experiments = None
    if args.experiments:
        say(f"[{rows:,} rows] experiments (best of {args.reps}) ...")
        experiments = run_child(["experiments", str(folder), args.memory_limit, str(args.threads or 0), str(args.reps)])
    ledger = cs["ledger"][0] if cs["ledger"] else {}
    expected = {
        "rows_in": planted["rows"],
        "loaded": planted["good"],
        "quarantined": planted["bad"],
        "duplicates": planted["repeats"],
    }
    got = {k: ledger.get(k) for k in expected}
    return {
        "rows": rows,
        "file_mib": planted["bytes"] / MIB,
        "generate_seconds": planted["seconds"],
        "bare_seconds": bare["seconds"],
        "bare_cpu_seconds": bare["cpu_seconds"],
        "bare_peak_mib": bare["peak_mib"],
        "bare_baseline_mib": bare["baseline_mib"],
        "channelscope_seconds": cs["seconds"],
        "channelscope_cpu_seconds": cs["cpu_seconds"],
        "channelscope_peak_mib": cs["peak_mib"],
        "channelscope_baseline_mib": cs["baseline_mib"],
        "ratio": cs["seconds"] / bare["seconds"],
        "cpu_ratio": cs["cpu_seconds"] / bare["cpu_seconds"],
        "rows_per_second": rows / cs["seconds"],
        "ledger": ledger,
        "expected": expected,
        "ledger_balanced": bool(ledger.get("balanced")),
        "ledger_matches_planted": got == expected,
        "stored": cs["stored"],
        "within_3x": cs["seconds"] <= 3 * bare["seconds"],
        "under_1gib": cs["peak_mib"] < 1024,
        "breakdown": {
            k: cs[k]
            for k in (
                "open_seconds",
                "ingest_seconds",
                "close_seconds",
                "fingerprint_seconds",
                "sql_seconds",
            )
        },
        "phases": cs["phases"],
        "slowest": cs["slowest"],
        "settings": {"memory_limit": args.memory_limit, "threads": args.threads or os.cpu_count()},
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "folder": str(folder),
        "experiments": experiments,
    }


def render(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 140)
    t = Table(title="ingest: channelscope vs bare DuckDB (read_csv into a table)")
    for col in (
        "rows",
        "file MB",
        "bare s (cpu s)",
        "channelscope s (cpu s)",
        "ratio (cpu)",
        "rows/s",
        "bare peak MiB",
        "cs peak MiB",
        "ledger",
    ):
        t.add_column(col, justify="right")
    for r in results:
        ok = "balanced" if r["ledger_balanced"] else "[red]UNBALANCED[/]"
        ok += "" if r["ledger_matches_planted"] else " [red]≠ planted[/]"
        ratio = f"{r['ratio']:.1f}x" + ("" if r["within_3x"] else " [red](>3x)[/]")
        ratio += f" ({r.get('cpu_ratio', float('nan')):.1f}x)"
        peak = f"{r['channelscope_peak_mib']:.0f}" + ("" if r["under_1gib"] else " [red](>1GiB)[/]")
        t.add_row(
            f"{r['rows']:,}",
            f"{r['file_mib'] * MIB / 1e6:.0f}",
            f"{r['bare_seconds']:.2f} ({r.get('bare_cpu_seconds', float('nan')):.1f})",
            f"{r['channelscope_seconds']:.2f} ({r.get('channelscope_cpu_seconds', float('nan')):.1f})",
            ratio,
            f"{r['rows_per_second']:,.0f}",
            f"{r['bare_peak_mib']:.0f}",
            peak,
            ok,
        )
    console.print(t)
    for r in results:
        led, exp = r["ledger"], r["expected"]
        console.print(
            f"[bold]{r['rows']:,} rows[/] ledger: rows_in {led.get('rows_in'):,} = loaded "
            f"{led.get('loaded'):,} + quarantined {led.get('quarantined'):,} + duplicates "
            f"{led.get('duplicates'):,}  (planted: {exp['loaded']:,} good, {exp['quarantined']:,} "
            f"bad, {exp['duplicates']:,} repeats); warehouse holds {r['stored']}"
        )
        b = r["breakdown"]
        console.print(
            f"  open {b['open_seconds']:.2f}s, ingest {b['ingest_seconds']:.2f}s (SQL "
            f"{b['sql_seconds']:.2f}s, fingerprint {b['fingerprint_seconds']:.2f}s), close "
            f"{b['close_seconds']:.2f}s; process baseline {r['channelscope_baseline_mib']:.0f} MiB "
            f"(bare {r['bare_baseline_mib']:.0f} MiB); "
            f"memory_limit {r['settings']['memory_limit']}; "
            f"1-min load average {r['load_average'][0]} -> {r['load_average'][1]} "
            f"on {os.cpu_count()} cores (other work on the machine inflates every figure)"
        )
        if not r["phases"]:
            continue
        p = Table(title=f"phases at {r['rows']:,} rows (SQL statements; cpu = all threads)")
        for col in ("phase", "statements", "seconds", "cpu s", "% of ingest", "raised peak MiB"):
            p.add_column(col, justify="left" if col == "phase" else "right")
        total = b["ingest_seconds"]
        for name, ph in sorted(r["phases"].items(), key=lambda kv: -kv[1]["seconds"]):
            p.add_row(
                name,
                str(ph["statements"]),
                f"{ph['seconds']:.2f}",
                f"{ph.get('cpu_seconds', float('nan')):.2f}",
                f"{100 * ph['seconds'] / total:.1f}",
                f"{ph['raised_peak_mib']:.0f}",
            )
        python = total - b["sql_seconds"]
        p.add_row(
            "Python (fingerprint, ibis/pandera build)",
            "",
            f"{python:.2f}",
            "",
            f"{100 * python / total:.1f}",
            "",
        )
        console.print(p)
    for r in results:
        ex = r.get("experiments")
        if not ex:
            continue
        e = Table(
            title=f"experiments at {ex['rows']:,} rows: current SQL vs proposed, in isolation (best of {ex['reps']})"
        )
        for col in (
            "phase",
            "change",
            "current s (cpu)",
            "proposed s (cpu)",
            "saved s",
            "speedup (cpu)",
            "same rows",
        ):
            e.add_column(col, justify="left" if col in ("phase", "change", "same rows") else "right")
        nan = float("nan")
        for x in ex["experiments"]:
            cur_cpu, new_cpu = x.get("current_cpu_seconds", nan), x.get("proposed_cpu_seconds", nan)
            e.add_row(
                x["phase"],
                x["name"],
                f"{x['current_seconds']:.2f} ({cur_cpu:.2f})",
                f"{x['proposed_seconds']:.2f} ({new_cpu:.2f})",
                f"{x['saved_seconds']:.2f}",
                f"{x['speedup']:.1f}x ({cur_cpu / new_cpu if new_cpu else nan:.1f}x)",
                ("yes" if x["same_result"] else "[red]NO[/]")
                + "".join(f"; differs on {v!r}" for v in x.get("edge_cases_differing", [])),
            )
        console.print(e)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        kind, rest = argv[1], argv[2:]
        if kind == "bare":
            answer = child_bare(rest[0], rest[1], rest[2], int(rest[3]) if len(rest) > 3 else None)
        elif kind == "experiments":
            answer = child_experiments(rest[0], rest[1], int(rest[2]) or None, int(rest[3]))
        else:
            answer = child_channelscope(rest[0], rest[1] == "1")
        print(json.dumps(answer, default=str))
        return 0
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--rows",
        type=int,
        action="append",
        help="rows to generate (repeat for several sizes; default 1000000)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the work folder (CSV, project, DBs)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON only")
    ap.add_argument("--workdir", type=Path, help="where to work (default: a new temp folder)")
    ap.add_argument(
        "--memory-limit",
        default="1GB",
        help="DuckDB memory_limit of the project and the bare load (default 1GB)",
    )
    ap.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, all cores)")
    ap.add_argument("--no-phases", action="store_true", help="do not time SQL statements")
    ap.add_argument(
        "--experiments",
        action="store_true",
        help="also time each slow phase's current SQL against a proposed rewrite",
    )
    ap.add_argument("--reps", type=int, default=3, help="repetitions per experiment (best kept)")
    ap.add_argument("--show", type=Path, help="render figures saved earlier with --json, and exit")
    args = ap.parse_args(argv)
    if args.show:
        render(json.loads(args.show.read_text()))
        return 0
    sizes = args.rows or [1_000_000]
    root = args.workdir or Path(tempfile.mkdtemp(prefix="channelscope-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    err = sys.stderr

    def say(msg: str) -> None:
        print(msg, file=err, flush=True)

    results = []
    try:
        for n in sizes:
            results.append(bench_size(n, root.resolve(), args, say))
            if not args.keep:
                shutil.rmtree(root / f"rows-{n}", ignore_errors=True)
                (root / f"bare-{n}.duckdb").unlink(missing_ok=True)
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        render(results)
    ok = all(r["ledger_balanced"] and r["ledger_matches_planted"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
