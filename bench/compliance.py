"""Channel-order benchmark: every compliance check of ``analysis/compliance.py`` over a generated warehouse.

    python bench/compliance.py --lines 10000000 [--distributors 5000] [--keep] [--json]

It writes a project folder (one distributor channel, a pseudonym key), lets ``channelscope.Project`` create
the canonical tables in its DuckDB file, then fills them directly with DuckDB SQL (ingest is not measured):
N order lines (two per order) over one year sold by D distributors in a two-level network (10% tier 1, the
rest tier 2 under them), 500 SKUs with a price list that changes mid-year, one authorized province per
distributor (a second one from mid-year for every tenth), a warning for every 50th distributor, and one
commission payment per distributor and month, as owed (every 40th cut by 20%). About 0.5% of lines are priced deep
under MAP and 1% of orders ship out of region; the order discount is spread over the lines (到手价 rule).

Then, in one process (cold: the first run of each), it times: the 到手价 of every line summed back per order
and checked against the orders (``paid_lines``), violations per distributor x SKU, cross-region orders per
distributor x region, commissions owed vs paid per distributor and month, and the compliance score (from the
violations just computed, as the dashboard does). It
prints wall and CPU seconds (the process and its engine threads), rows returned and the checks' figures. Target (issue 17): all checks under 60 s on 2 cores
for 10M lines and 5,000 distributors.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

PROVINCES = 31


def write_project(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "channelscope.yaml").write_text(
        "project: {name: compliance bench, base_currency: CNY, timezone: Asia/Shanghai}\n"
        "warehouse: {url: 'duckdb:///warehouse.duckdb'}\n"
        "channels:\n  - {id: dist, name: Resellers, kind: distributor, platform: wechat}\n"
        "compliance:\n"
        "  exemptions: [{name: 双11, start: 2025-10-20, end: 2025-11-11, allowed_depth: 0.1}]\n"
        "  commission: {override_rate: 0.05, tolerance: 1.0}\n",
        encoding="utf-8",
    )
    (folder / "secrets").mkdir(exist_ok=True)
    (folder / "secrets" / "pseudonym.key").write_text(os.urandom(32).hex() + "\n", encoding="ascii")


def statements(lines: int, dists: int) -> list[tuple[str, str]]:
    orders = lines // 2
    tier1 = max(1, dists // 10)
    prov = f"'P' || lpad(CAST(hash(d, 'home') % {PROVINCES} AS VARCHAR), 2, '0')"
    price = "CAST(20 + hash(s, 'lp') % 480 AS DECIMAL(18, 2))"
    return [
        (
            "distributors",
            f"""INSERT INTO distributors BY NAME
            SELECT 'd' || lpad(CAST(d AS VARCHAR), 5, '0') AS distributor_id, 'dist' AS channel_id,
                   'Distributor ' || d AS name, 'reseller' AS kind, CASE WHEN d < {tier1} THEN 1 ELSE 2 END AS tier,
                   CASE WHEN d < {tier1} THEN NULL ELSE 'd' || lpad(CAST(d % {tier1} AS VARCHAR), 5, '0') END AS parent_id,
                   CASE WHEN d < {tier1} THEN 0.15 ELSE 0.20 END AS commission_rate, {prov} AS region,
                   DATE '2024-01-01' AS joined_at, 'active' AS status, 'bench' AS batch_id, md5('d' || d) AS record_hash
            FROM range({dists}) r(d)""",
        ),
        (
            "products and price list",
            f"""INSERT INTO products BY NAME
            SELECT 'S' || lpad(CAST(s AS VARCHAR), 4, '0') AS sku, 'Product ' || s AS name, {price} AS list_price,
                   CAST({price} * 0.3 AS DECIMAL(18, 2)) AS unit_cost, NULL AS min_advertised_price,
                   'bench' AS batch_id, md5('s' || s) AS record_hash
            FROM range(500) r(s);
            INSERT INTO price_list BY NAME
            SELECT 'S' || lpad(CAST(s AS VARCHAR), 4, '0') AS sku, DATE '2025-01-01' AS valid_from,
                   DATE '2025-06-30' AS valid_to, CAST({price} * 0.65 AS DECIMAL(18, 2)) AS min_advertised_price,
                   {price} AS msrp, 'bench' AS batch_id, md5('p1' || s) AS record_hash
            FROM range(500) r(s)
            UNION ALL
            SELECT 'S' || lpad(CAST(s AS VARCHAR), 4, '0'), DATE '2025-07-01', NULL,
                   CAST({price} * 0.68 AS DECIMAL(18, 2)), {price}, 'bench', md5('p2' || s)
            FROM range(500) r(s)""",
        ),
        (
            "regions and warnings",
            f"""INSERT INTO distributor_regions BY NAME
            SELECT 'd' || lpad(CAST(d AS VARCHAR), 5, '0') AS distributor_id, {prov} AS region,
                   DATE '2024-01-01' AS valid_from, NULL AS valid_to, 'bench' AS batch_id, md5('r' || d) AS record_hash
            FROM range({dists}) r(d)
            UNION ALL
            SELECT 'd' || lpad(CAST(d AS VARCHAR), 5, '0'),
                   'P' || lpad(CAST((hash(d, 'home') + 1) % {PROVINCES} AS VARCHAR), 2, '0'),
                   DATE '2025-07-01', NULL, 'bench', md5('r2' || d)
            FROM range(0, {dists}, 10) r(d);
            INSERT INTO distributor_warnings BY NAME
            SELECT 'd' || lpad(CAST(d AS VARCHAR), 5, '0') AS distributor_id, NULL AS sku,
                   DATE '2025-05-01' AS warned_at, 'W' || d AS reference, 'bench' AS batch_id, md5('w' || d) AS record_hash
            FROM range(0, {dists}, 50) r(d)""",
        ),
        (
            "orders",
            f"""CREATE TEMP TABLE _o AS
            SELECT i, CAST(hash(i, 'd') % {dists} AS INTEGER) AS d,
                   DATE '2025-01-01' + CAST(hash(i, 'day') % 365 AS INTEGER) AS day,
                   CAST(hash(i, 's1') % 500 AS INTEGER) AS s1, CAST(250 + hash(i, 's2') % 250 AS INTEGER) AS s2,
                   1 + CAST(hash(i, 'q') % 3 AS INTEGER) AS q1, hash(i, 'deep') % 1000 < 10 AS deep,
                   hash(i, 'out') % 100 = 0 AS away, hash(i, 'cpn') % 4 = 0 AS coupon
            FROM range({orders}) r(i);
            CREATE TEMP TABLE _l AS
            SELECT i, 1 AS line_no, s1 AS s, q1 AS q,
                   CAST(round((20 + hash(s1, 'lp') % 480) * CASE WHEN deep THEN 0.45 ELSE 0.80 END, 2) AS DECIMAL(18, 2))
                   AS unit FROM _o
            UNION ALL
            SELECT i, 2, s2, 1, CAST(round((20 + hash(s2, 'lp') % 480) * 0.85, 2) AS DECIMAL(18, 2)) FROM _o;
            CREATE TEMP TABLE _a AS
            SELECT i, CAST(sum(q * unit) AS DECIMAL(18, 2)) AS gross FROM _l GROUP BY i;
            INSERT INTO orders BY NAME
            SELECT 'dist:' || i AS order_id, CAST(i AS VARCHAR) AS source_order_id, 'dist' AS channel_id,
                   'd' || lpad(CAST(d AS VARCHAR), 5, '0') AS distributor_id, md5('c' || i % 100000) AS customer_key,
                   CAST(day AS TIMESTAMP) + INTERVAL 2 HOUR AS ordered_at,
                   CAST(day AS TIMESTAMP) + INTERVAL 2 HOUR + INTERVAL 1 MINUTE AS paid_at,
                   'completed' AS status, 'CNY' AS currency, gross AS gross_amount,
                   CASE WHEN coupon THEN 10.00 ELSE 0 END AS discount_amount, 8.00 AS shipping_amount,
                   CAST(gross - CASE WHEN coupon THEN 10.00 ELSE 0 END + 8.00 AS DECIMAL(18, 2)) AS net_amount,
                   CAST(gross - CASE WHEN coupon THEN 10.00 ELSE 0 END + 8.00 AS DECIMAL(18, 2)) AS net_amount_base,
                   'P' || lpad(CAST((hash(d, 'home') + CASE WHEN away THEN 2 ELSE 0 END) % {PROVINCES} AS VARCHAR), 2, '0')
                   AS region, day AS business_date, 'bench' AS batch_id, md5(CAST(i AS VARCHAR)) AS record_hash
            FROM _o JOIN _a USING (i);
            INSERT INTO order_lines BY NAME
            SELECT 'dist:' || i AS order_id, CAST(i AS VARCHAR) AS source_order_id, 'dist' AS channel_id, line_no,
                   'S' || lpad(CAST(s AS VARCHAR), 4, '0') AS sku, q AS quantity, unit AS unit_price,
                   0.00 AS discount_amount, CAST(q * unit AS DECIMAL(18, 2)) AS amount, 'bench' AS batch_id,
                   md5(i || '-' || line_no) AS record_hash
            FROM _l""",
        ),
        (
            "fees",
            """INSERT INTO fees BY NAME
            WITH s AS (SELECT distributor_id, month(business_date) AS m, sum(net_amount_base) AS sales
                       FROM orders GROUP BY 1, 2),
                 own AS (SELECT s.distributor_id, m, s.sales * d.commission_rate AS c
                         FROM s JOIN distributors d USING (distributor_id)),
                 ovr AS (SELECT d.parent_id AS distributor_id, m, sum(s.sales) * 0.05 AS c
                         FROM s JOIN distributors d USING (distributor_id) WHERE d.parent_id IS NOT NULL GROUP BY 1, 2),
                 owed AS (SELECT distributor_id, m, sum(c) AS c FROM (SELECT * FROM own UNION ALL SELECT * FROM ovr)
                          GROUP BY 1, 2)
            SELECT make_date(2025, CAST(m AS INTEGER), 1) AS date, 'dist' AS channel_id, distributor_id,
                   'commission' AS fee_type, 'CNY' AS currency, amt AS amount, amt AS amount_base,
                   'bench' AS batch_id, md5('f' || distributor_id || '-' || m) AS record_hash
            FROM (SELECT distributor_id, m, CAST(round(c * CASE WHEN hash(distributor_id, m) % 40 = 0 THEN 0.8 ELSE 1 END, 2)
                         AS DECIMAL(18, 2)) AS amt FROM owed)""",
        ),
    ]


def generate(folder: Path, lines: int, dists: int, say: Any) -> dict[str, Any]:
    import duckdb

    from channelscope import Project

    with Project(folder) as p:
        p.sync_dimensions()
        db = Path(p.warehouse.path)  # type: ignore[attr-defined]
    con = duckdb.connect(str(db))
    timings = {}
    for label, sql in statements(lines, dists):
        t = time.perf_counter()
        con.execute(sql)
        timings[label] = round(time.perf_counter() - t, 1)
        say(f"  generated {label}: {timings[label]} s")
    counts = {
        n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in ("orders", "order_lines", "distributors")
    }  # type: ignore[index]
    con.execute("CHECKPOINT")
    con.close()
    return {"counts": counts, "generate_seconds": timings}


def _cpu() -> float:
    """CPU seconds of this process and its engine threads (user + system): on a shared, overloaded machine
    the wall time says more about the neighbours than about the checks."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def checks(folder: Path) -> dict[str, Any]:
    from channelscope import Project

    out: dict[str, Any] = {}
    with Project(folder, read_only=True) as p:
        c = p.analysis.compliance

        def sumback() -> int:
            t = c.paid_lines()
            per = t.group_by("order_id").aggregate(paid=t.paid.sum())
            o = p.table("orders")
            j = per.join(o, "order_id")
            return int(j.filter(j.paid != j.net_amount - j.shipping_amount).count().execute())

        shared: dict[str, Any] = {}
        runs = {
            "paid_lines_sum_back": sumback,
            "violations": lambda: shared.setdefault("violations", c.violations()),
            "cross_region": lambda: c.regions(),
            "commissions": lambda: c.commissions(),
            "score": lambda: c.score(groups=shared["violations"]),
        }
        total = 0.0
        cpu_total = 0.0
        for name, fn in runs.items():
            t = time.perf_counter()
            c0 = _cpu()
            result = fn()
            secs = time.perf_counter() - t
            cpu = _cpu() - c0
            total += secs
            cpu_total += cpu
            if name == "paid_lines_sum_back":
                out[name] = {"seconds": round(secs, 2), "orders_not_summing_back": result}
            elif name == "violations":
                out[name] = {
                    "seconds": round(secs, 2),
                    "groups": len(result),
                    "lines": int(result["lines"].sum()),
                    "repeat_days": int(result["repeat_days"].sum()),
                }
            elif name == "cross_region":
                out[name] = {"seconds": round(secs, 2), "rows": len(result), "orders": int(result["orders"].sum())}
            elif name == "commissions":
                out[name] = {"seconds": round(secs, 2), "rows": len(result), "flagged": int(result["flagged"].sum())}
            else:
                out[name] = {
                    "seconds": round(secs, 2),
                    "distributors": len(result),
                    "mean_score": round(float(result["score"].mean()), 2),
                }
            out[name]["cpu_seconds"] = round(cpu, 2)
        out["total_seconds"] = round(total, 2)
        out["total_cpu_seconds"] = round(cpu_total, 2)
        out["load_average_1min"] = os.getloadavg()[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--distributors", type=int, default=5000)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cs-compliance-bench-"))
    say = (lambda s: None) if args.json else print
    try:
        folder = root / "project"
        write_project(folder)
        say(f"generating {args.lines:,} lines, {args.distributors:,} distributors in {folder}")
        gen = generate(folder, args.lines, args.distributors, say)
        res = checks(folder)
        report = {"lines": args.lines, "distributors": args.distributors, "cpus": os.cpu_count(), **gen, "checks": res}
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            for name, r in res.items():
                say(f"  {name}: {r}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
