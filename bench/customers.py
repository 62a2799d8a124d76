"""Customer analytics benchmark: cohort and RFM tables and the CLV fit, channelscope against hand-written DuckDB.

    python bench/customers.py --orders 1000000 --customers 300000 [--orders 10000000 --customers 3000000] [--keep]

For each size it writes a project (six channels, a pseudonym key), lets ``channelscope.Project`` create the
canonical tables in its DuckDB file, and fills ``orders`` directly with DuckDB SQL from ``range(N)`` (ingest is
not measured here): N paid orders over two years from M customers, each customer's orders spread after
their first one (a hash of the order number picks the customer; a customer's first order defines the
acquisition). Then each measurement runs in its own child process (peak RSS = the child's maximum resident
set from ``wait4``):

* cohorts: ``analysis.cohorts.cohort_table(by="acquisition_channel")`` vs one hand-written DuckDB query;
* RFM: ``analysis.rfm.rfm_segments`` vs a hand-written query (same mean cuts);
* CLV: ``analysis.clv.clv`` (summary in the engine, BG/NBD + Gamma-Gamma fits, scoring every customer,
  the rollup and the holdout table).

It prints wall time, peak RSS, the ratio channelscope / hand SQL (target <= 2) and whether the cohort and
segment counts are equal.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHANNELS = ("tmall", "jd", "douyin", "xhs", "own", "wechat_resellers")
AS_OF = "2025-12-31"
CAL_END = "2025-06-30"

HAND_COHORTS = f"""
WITH o AS (SELECT customer_key, channel_id, ordered_at, order_id, business_date AS day, net_amount_base AS v
           FROM orders WHERE (paid_at IS NOT NULL OR status IN ('paid','shipped','completed','refunded')) AND customer_key IS NOT NULL
             AND business_date <= DATE '{AS_OF}'),
f AS (SELECT customer_key, arg_min(channel_id, (ordered_at, order_id)) AS ch,
             CAST(date_trunc('month', min(day)) AS DATE) AS cohort FROM o GROUP BY 1)
SELECT f.cohort, f.ch, (year(o.day) * 12 + month(o.day)) - (year(f.cohort) * 12 + month(f.cohort)) AS period,
       count(DISTINCT o.customer_key) AS customers, count(*) AS orders, sum(o.v) AS revenue
FROM o JOIN f USING (customer_key) GROUP BY 1, 2, 3
"""
HAND_RFM = f"""
WITH o AS (SELECT customer_key, business_date AS day, net_amount_base AS v FROM orders
           WHERE (paid_at IS NOT NULL OR status IN ('paid','shipped','completed','refunded')) AND customer_key IS NOT NULL
             AND business_date <= DATE '{AS_OF}'),
c AS (SELECT customer_key, DATE '{AS_OF}' - max(day) AS r, count(*) AS f, CAST(sum(v) AS DOUBLE) AS m
      FROM o GROUP BY 1),
k AS (SELECT *, r <= avg(r) OVER () AS hr, f >= avg(f) OVER () AS hf, m >= avg(m) OVER () AS hm FROM c)
SELECT hr, hf, hm, count(*) AS customers FROM k GROUP BY 1, 2, 3
"""
SEGMENT_FLAGS = {
    (True, True, True): "important_value",
    (True, False, True): "important_develop",
    (False, True, True): "important_keep",
    (False, False, True): "important_winback",
    (True, True, False): "general_value",
    (True, False, False): "general_develop",
    (False, True, False): "general_keep",
    (False, False, False): "general_winback",
}


def build(folder: Path, orders: int, customers: int) -> None:
    import duckdb

    from channelscope import Project

    folder.mkdir(parents=True)
    (folder / "secrets").mkdir()
    (folder / "secrets" / "pseudonym.key").write_text("ab" * 32 + "\n")
    chans = "\n".join(f"  - {{id: {c}, name: {c}, kind: marketplace, platform: {c}}}" for c in CHANNELS)
    (folder / "channelscope.yaml").write_text(
        "project: {name: bench, base_currency: CNY, timezone: Asia/Shanghai}\n"
        "warehouse: {url: 'duckdb:///warehouse.duckdb'}\nchannels:\n" + chans + "\n",
        encoding="utf-8",
    )
    with Project(folder) as p:
        p.warehouse.ensure_schema()
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    chan_list = "[" + ", ".join(f"'{c}'" for c in CHANNELS) + "]"
    # customer c arrives on day a(c) and buys again at a customer-specific rate; order n picks a customer and
    # a day on or after the customer's arrival
    con.execute(f"""
        INSERT INTO orders BY NAME
        WITH b AS (
          SELECT n, CAST(hash(n, 'c') % {customers} AS BIGINT) AS c FROM range({orders}) t(n)
        ), d AS (
          SELECT n, c, CAST(hash(c, 'a') % 540 AS INTEGER) AS arrive,
                 CAST(hash(n, 'gap') % (730 - CAST(hash(c, 'a') % 540 AS INTEGER)) AS INTEGER) AS gap
          FROM b
        )
        SELECT 'b:' || n AS order_id, CAST(n AS VARCHAR) AS source_order_id,
               {chan_list}[CAST(CASE WHEN hash(n, 'home') % 10 < 7 THEN hash(c, 'ch') ELSE hash(n, 'ch') END % 6 AS INTEGER) + 1]
                 AS channel_id,
               md5('cust-' || c) AS customer_key,
               DATE '2024-01-01' + arrive + CASE WHEN hash(n, 'first') % 3 = 0 THEN 0 ELSE gap END AS business_date,
               CAST(DATE '2024-01-01' + arrive + CASE WHEN hash(n, 'first') % 3 = 0 THEN 0 ELSE gap END AS TIMESTAMP)
                 + to_seconds(CAST(hash(n, 's') % 86400 AS BIGINT)) AS ordered_at,
               'completed' AS status, 'CNY' AS currency,
               CAST((20 + hash(n, 'v') % 50000 / 100.0) AS DECIMAL(18, 2)) AS net_amount,
               CAST((20 + hash(n, 'v') % 50000 / 100.0) AS DECIMAL(18, 2)) AS net_amount_base,
               'bench' AS batch_id, md5(CAST(n AS VARCHAR)) AS record_hash
        FROM d
    """)
    con.close()


def child(kind: str, folder: str) -> dict[str, Any]:
    import datetime as dt

    import duckdb

    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if kind == "hand_cohorts":
        con = duckdb.connect(str(Path(folder) / "warehouse.duckdb"), read_only=True)
        t1 = time.perf_counter()
        df = con.execute(HAND_COHORTS).df()
        out["rows"], out["orders"] = len(df), int(df["orders"].sum())
    elif kind == "hand_rfm":
        con = duckdb.connect(str(Path(folder) / "warehouse.duckdb"), read_only=True)
        t1 = time.perf_counter()
        df = con.execute(HAND_RFM).df()
        out["segments"] = {
            SEGMENT_FLAGS[(bool(a), bool(b), bool(c))]: int(n) for a, b, c, n in df.itertuples(index=False)
        }
    else:
        from channelscope import Project
        from channelscope.analysis import clv, cohorts, rfm

        with Project(folder, read_only=True) as p:
            con = p.warehouse.ibis
            t1 = time.perf_counter()
            if kind == "cohorts":
                df = cohorts.cohort_table(con, by="acquisition_channel", as_of=dt.date.fromisoformat(AS_OF))
                out["rows"], out["orders"] = len(df), int(df["orders"].sum())
            elif kind == "rfm":
                df = rfm.rfm_segments(con, dt.date.fromisoformat(AS_OF))
                out["segments"] = {s: int(n) for s, n in zip(df["segment"], df["customers"], strict=True) if n}
            else:
                r = clv.clv(
                    con, calibration_end=dt.date.fromisoformat(CAL_END), holdout_end=dt.date.fromisoformat(AS_OF)
                )
                out["customers"] = len(r.customers)
                out["bgnbd"] = r.bgnbd.params or r.bgnbd.reason
                out["gamma_gamma"] = r.gamma_gamma.params or r.gamma_gamma.reason
                if r.holdout is not None:
                    out["holdout_predicted"] = round(float(r.holdout["predicted"].sum()))
                    out["holdout_actual"] = round(float(r.holdout["actual"].sum()))
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["query_seconds"] = round(time.perf_counter() - t1, 2)  # without starting Python, imports, opening
    return out


def measure(kind: str, folder: Path) -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(folder)], stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    assert proc.stdout is not None
    text = proc.stdout.read()
    if status != 0:
        raise SystemExit(f"{kind} failed (status {status})")
    out = json.loads(text)
    out["peak_rss_mb"] = round(usage.ru_maxrss / 1024)
    out["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, action="append")
    ap.add_argument("--customers", type=int, action="append")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        sys.stdout.write(json.dumps(child(*args.child)))
        return
    sizes = list(zip(args.orders or [1_000_000], args.customers or [300_000], strict=True))
    for n, m in sizes:
        work = Path(tempfile.mkdtemp(prefix="cs-bench-customers-"))
        folder = work / "p"
        t0 = time.perf_counter()
        build(folder, n, m)
        print(f"== {n:,} orders / {m:,} customers (built in {time.perf_counter() - t0:.0f} s)")
        res = {k: measure(k, folder) for k in ("hand_cohorts", "cohorts", "hand_rfm", "rfm", "clv")}
        for name in ("cohorts", "rfm"):
            a, b = res[name], res[f"hand_{name}"]
            same = (a.get("rows"), a.get("orders"), a.get("segments")) == (
                b.get("rows"),
                b.get("orders"),
                b.get("segments"),
            )
            print(
                f"{name:8s} channelscope {a['seconds']:7.2f} s, {a['cpu_seconds']} s CPU ({a['peak_rss_mb']} MB)  "
                f"hand SQL {b['seconds']:7.2f} s, {b['cpu_seconds']} s CPU ({b['peak_rss_mb']} MB)  ratio {a['seconds'] / max(b['seconds'], 1e-9):.2f}  "
                f"query only {a['query_seconds']:.2f} s vs {b['query_seconds']:.2f} s "
                f"(ratio {a['query_seconds'] / max(b['query_seconds'], 1e-9):.2f})  equal: {same}"
            )
        c = res["clv"]
        print(
            f"clv      {c['seconds']:7.2f} s ({c['peak_rss_mb']} MB) for {c['customers']:,} customers: {json.dumps({k: c[k] for k in c if k not in ('seconds', 'peak_rss_mb', 'customers')})}"
        )
        if args.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
