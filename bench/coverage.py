"""Coverage and freshness benchmark: what the basis work adds to a KPI answer, on an ingested project.

    python bench/coverage.py PROJECT [--reps 5]       # e.g. the demo: channelscope demo /tmp/demo-shop

Prints, best of ``--reps`` (seconds): ``channel_coverage`` (the distinct channels of order lines, refunds
and traffic: small aggregates pulled once per KPI request needing them); the Overview's total cards with
like-for-like ratios and the same by channel; ``kpi_coverage``; ``data_freshness`` (one aggregate per fact
table through the batch ledger). It also prints the figures, so a run shows what it measured.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from channelscope import Project
from channelscope.metrics.query import channel_coverage

CARDS = ["gmv", "paid_orders", "visitors", "conversion_rate", "aov", "refund_rate", "contribution_margin_rate"]


def best(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    with Project(args.project, read_only=True) as p:
        end = p.latest_date()
        start = end.replace(day=1) if end else None
        cases: dict[str, Callable[[], Any]] = {
            "channel_coverage": lambda: channel_coverage(p.warehouse),
            "cards (total, like for like)": lambda: p.kpis(CARDS, start=start, end=end),
            "cards by channel": lambda: p.kpis(CARDS, by=["channel"], start=start, end=end),
            "kpi_coverage": lambda: p.kpi_coverage(CARDS, start=start, end=end),
            "data_freshness": lambda: p.data_as_of(),
        }
        print(f"project {args.project}, {start}..{end}, best of {args.reps}")
        for name, fn in cases.items():
            secs, out = best(fn, args.reps)
            print(f"  {name:32s} {secs * 1000:8.1f} ms")
            if name == "cards (total, like for like)":
                print("    " + ", ".join(f"{k}={out[k].iloc[0]:.4g}" for k in CARDS))
            elif name == "kpi_coverage":
                print("    " + "; ".join(f"{r.metric}/{r.channel}: {r.reason}" for r in out.itertuples()))


if __name__ == "__main__":
    main()
