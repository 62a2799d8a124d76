"""Anomaly detection benchmark: fit time and precision/recall on the demo's injected shocks.

    python bench/detect.py --project /tmp/cs-dev/demo-shop [--sensitivity 3 --sensitivity 4 ...] [--json]
    python bench/detect.py            # generates and ingests the small demo (seed 7) in a temp folder

It pulls the daily KPIs once (``Project.kpis([gmv, orders, visitors, conversion_rate, ad_spend],
by=["channel"], grain="day")``, one query), runs ``detect_anomalies`` on every channel x metric
with the project's planned events (``project_events``) and ad spend as a driver, and prints:

* the fit time of all series (one-step-ahead over the whole demo year) and per series;
* for each sensitivity, the flagged (channel, day) pairs, precision (pairs inside a shock window of
  ground_truth.json "anomalies" / all pairs; planned festival days count as false), recall (shocks
  with at least one flagged day of their channel in their window), and the shocks missed;
* the flags on planned peaks (ground truth festivals at x2 or more, and channel events).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from channelscope import Project
from channelscope.analysis.planned_events import project_events
from channelscope.analysis.seasonal import detect_anomalies
from channelscope.analysis.seasonal_quality import detection_quality

METRICS = ("gmv", "orders", "visitors", "conversion_rate")


def demo_project(folder: Path) -> Path:
    """The small demo (seed 7), generated and ingested into ``folder``."""
    from channelscope.clean.pseudonymize import write_new_key
    from channelscope.demo import generate_demo

    generate_demo(folder, "small", seed=7)
    write_new_key(folder / "secrets" / "pseudonym.key")
    with Project(folder) as project:
        project.ingest()
    return folder


def run(folder: Path, sensitivities: list[float]) -> dict:
    with Project(folder, read_only=True) as project:
        began = time.perf_counter()
        kpis = project.kpis([*METRICS, "ad_spend"], by=["channel"], grain="day")
        events = project_events(project)
        query_s = time.perf_counter() - began
    began, cpu = time.perf_counter(), time.process_time()
    results = pd.concat(
        [
            detect_anomalies(kpis, value=m, by=["channel"], festivals=events, drivers=["ad_spend"]).assign(metric=m)
            for m in METRICS
        ],
        ignore_index=True,
    )
    fit_s, cpu_s = time.perf_counter() - began, time.process_time() - cpu
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    series = results.groupby(["channel", "metric"]).ngroups
    peaks = _peak_rows(results, truth["festivals"])
    rows = []
    for sens in sensitivities:
        flags = results[results.score.abs() > sens]
        q = detection_quality(flags, truth["anomalies"])
        rows.append(
            {
                "sensitivity": sens,
                "flagged": q.flagged,
                "true": q.true_flags,
                "precision": round(q.precision, 3),
                "recall": round(q.recall, 3),
                "missed": q.missed,
                "peak_flags": int((peaks.score.abs() > sens).sum()),
            }
        )
    return {
        "series": series,
        "days": int(results.period.nunique()),
        "query_s": round(query_s, 2),
        "fit_s": round(fit_s, 2),
        "fit_cpu_s": round(cpu_s, 2),
        "per_series_ms": round(1000 * fit_s / max(series, 1), 1),
        "quality": rows,
    }


def _peak_rows(results: pd.DataFrame, festivals: list[dict]) -> pd.DataFrame:
    parts = []
    for f in festivals:
        if f["multiplier"] < 2 and not f["channel_id"]:
            continue
        start, end = dt.date.fromisoformat(f["start"]), dt.date.fromisoformat(f["end"])
        inside = results[(results.period >= start) & (results.period <= end)]
        parts.append(inside[inside.channel == f["channel_id"]] if f["channel_id"] else inside)
    return pd.concat(parts) if parts else results.iloc[:0]


def show(report: dict, console: Console) -> None:
    console.print(
        f"{report['series']} series x {report['days']} days: KPI query {report['query_s']} s, "
        f"detection {report['fit_s']} s, CPU {report['fit_cpu_s']} s ({report['per_series_ms']} ms a series)"
    )
    table = Table("sensitivity", "flagged", "in a shock", "precision", "recall", "on peaks", "missed")
    for r in report["quality"]:
        table.add_row(
            f"{r['sensitivity']:g}",
            str(r["flagged"]),
            str(r["true"]),
            f"{r['precision']:.2f}",
            f"{r['recall']:.2f}",
            str(r["peak_flags"]),
            ", ".join(m.split()[0] for m in r["missed"]) or "-",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an ingested demo project (default: build one)")
    parser.add_argument("--sensitivity", type=float, action="append", help="repeatable; default 3, 3.5, 4, 5")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    sensitivities = args.sensitivity or [3.0, 3.5, 4.0, 5.0]
    if args.project:
        report = run(args.project, sensitivities)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report = run(demo_project(Path(tmp) / "demo"), sensitivities)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        show(report, Console())
    return 0


if __name__ == "__main__":
    sys.exit(main())
