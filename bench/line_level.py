"""Line-level export (the public Online Retail layout) through the clean path: lines aggregated into
orders, cancellation invoices as refunds, and many quarantined rows (the path that used to grow
quadratically with the rows it rejects).

    python bench/line_level.py --lines 200000 --bad 0.1 --bad 0.3

For each share of bad lines: generate N invoice lines with DuckDB (every 9th invoice a 'C'
cancellation, the given share with an unreadable Quantity), ingest them into a fresh project (one
process, DuckDB), and print seconds, CPU seconds, rows quarantined, orders and refunds made, and
whether the ledger balances. Linear means: seconds per quarantined row stay flat as the share grows.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

MAPPING = Path(__file__).resolve().parents[1] / "docs" / "large-exports.md"


def generate(csv: Path, lines: int, bad: float) -> None:
    """N invoice lines, 4 per invoice; every 9th invoice a cancellation (C prefix, negative quantity)."""
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT
            CASE WHEN (i // 4) % 9 = 8 THEN 'C' ELSE '' END || CAST(536365 + i // 4 AS VARCHAR) AS InvoiceNo,
            CAST(20000 + i % 50 AS VARCHAR) AS StockCode, 'ITEM ' || (i % 50) AS Description,
            CASE WHEN hash(i) % 1000 < {int(bad * 1000)} THEN 'x' || (i % 7)
                 WHEN (i // 4) % 9 = 8 THEN CAST(-(1 + i % 5) AS VARCHAR) ELSE CAST(1 + i % 12 AS VARCHAR) END AS Quantity,
            strftime(TIMESTAMP '2010-12-01 08:26:00' + to_minutes(CAST(i // 4 AS BIGINT)), '%-m/%-d/%Y %-H:%M') AS InvoiceDate,
            CAST(round(0.39 + (i % 50) * 0.37, 2) AS VARCHAR) AS UnitPrice,
            CAST(12346 + (i // 4) % 4000 AS VARCHAR) || '.0' AS CustomerID, 'United Kingdom' AS Country
        FROM range({lines}) r(i)) TO '{csv}' (HEADER)"""
    )
    con.execute(
        f"COPY (SELECT CAST(20000 + i AS VARCHAR) AS sku, 'ITEM ' || i AS name FROM range(50) r(i)) "
        f"TO '{csv.parent / 'products.csv'}' (HEADER)"
    )


def mapping_yaml() -> str:
    """The mapping of docs/large-exports.md, as written there (the guide and the bench stay one)."""
    text = MAPPING.read_text(encoding="utf-8")
    block = text.split("```yaml\n  - name: retail\n", 1)[1].split("```", 1)[0]
    return "  - name: retail\n" + block.replace("exports/online_retail.csv", "exports/retail.csv")


def run(root: Path, lines: int, bad: float) -> dict:
    from channelscope import Project

    folder = root / f"bad-{bad}"
    (folder / "exports").mkdir(parents=True)
    (folder / "secrets").mkdir()
    (folder / "secrets" / "pseudonym.key").write_text("ab" * 32 + "\n")
    generate(folder / "exports" / "retail.csv", lines, bad)
    (folder / "channelscope.yaml").write_text(
        "project: {name: retail, base_currency: GBP, timezone: Europe/London}\n"
        "channels: [{id: uk, name: Online Retail, kind: own_store, platform: own, currency: GBP}]\n"
        "sources:\n  - {name: products, path: exports/products.csv, preset: canonical_products}\n" + mapping_yaml()
    )
    t0, c0 = time.perf_counter(), time.process_time()
    with Project(folder) as p:
        r = p.ingest()[-1]
        orders = int(p.table("orders").count().execute())
        refunds = int(p.table("refunds").count().execute())
    return {
        "lines": lines,
        "bad_share": bad,
        "seconds": round(time.perf_counter() - t0, 2),
        "cpu_seconds": round(time.process_time() - c0, 2),
        "quarantined": r.quarantined,
        "loaded": r.loaded,
        "orders": orders,
        "refunds": refunds,
        "balanced": r.balanced,
        "status": r.status,
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--bad", type=float, action="append", help="share of unreadable lines (repeat)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="channelscope-lines-"))
    try:
        for bad in args.bad or [0.1, 0.3]:
            r = run(root, args.lines, bad)
            per = r["seconds"] / r["quarantined"] * 1e6 if r["quarantined"] else float("nan")
            print(
                f"{r['lines']:,} lines, {bad:.0%} bad: {r['status']} in {r['seconds']}s ({r['cpu_seconds']}s cpu), "
                f"quarantined {r['quarantined']:,} ({per:.0f} us each), loaded {r['loaded']:,}, "
                f"orders {r['orders']:,}, refunds {r['refunds']:,}, ledger {'balanced' if r['balanced'] else 'NOT balanced'}, "
                f"peak {r['peak_mib']} MiB",
                flush=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
