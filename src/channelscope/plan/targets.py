"""Suggested monthly targets from a forecast, accepted into the project's targets CSV, and pacing by
the forecast's shape.

``suggest_targets(run)``: per channel (and the total) and calendar month covered entirely by the
forecast horizon, P50 = the sum of the daily reconciled means (the month's expected value) and a
stretch P80 = P50 + 0.8416 x sqrt(sum of the daily variances), each day's standard deviation taken
as (p90 - p10) / 2.563 (the 80% interval's width under normality) and days treated as independent,
which understates the spread when days move together: a stated approximation.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from channelscope.errors import QueryError

if TYPE_CHECKING:
    from channelscope.analysis.forecast import ForecastRun
    from channelscope.project import Project

Z80 = 0.8416
WIDTH80 = 2.5631


def suggest_targets(run: ForecastRun, *, full_months_only: bool = True) -> pd.DataFrame:
    """One row per channel (series 'total' for the whole business) and month: metric, period
    ('2025-12'), p50, p80 (base currency for GMV), days (days of the month forecast)."""
    if run.grain != "day":
        raise QueryError("targets are suggested from a daily forecast (grain day)")
    fc = run.forecast[run.forecast["level"].isin(["total", "channel"])].copy()
    fc["period"] = pd.to_datetime(fc["period"])
    fc["month"] = fc["period"].dt.to_period("M")
    fc["var"] = ((fc["p90"] - fc["p10"]) / WIDTH80) ** 2
    rows = []
    for (series, month), g in fc.groupby(["series", "month"], sort=True):
        if full_months_only and len(g) < month.days_in_month:
            continue
        p50 = round(float(g["mean"].sum()), 2)
        rows.append(
            {
                "metric": run.metric,
                "period": str(month),
                "channel": None if series == "total" else series,
                "p50": p50,
                "p80": round(p50 + Z80 * math.sqrt(float(g["var"].sum())), 2),
                "days": len(g),
            }
        )
    return pd.DataFrame(rows, columns=["metric", "period", "channel", "p50", "p80", "days"])


def targets_file(project: Project) -> Path:
    """The targets CSV named in channelscope.yaml (``targets: - {file: ...}``), else targets.csv."""
    for raw in project.config.targets or []:
        if isinstance(raw, dict) and "file" in raw:
            return project.folder / str(raw["file"])
    return project.folder / "targets.csv"


def accept_targets(
    project: Project, suggestions: pd.DataFrame, *, level: str = "p50", owner: str | None = None
) -> Path:
    """Append the suggestions (their ``level`` column: p50 or p80) to the targets CSV; returns its path.

    A target of the same metric, period and channel already in the file is replaced.
    """
    if level not in ("p50", "p80"):
        raise QueryError("level must be p50 or p80")
    path = targets_file(project)
    fields = ["metric", "period", "value", "channel", "distributor", "pacing", "owner"]
    old: list[dict[str, str]] = []
    if path.exists():
        with path.open(encoding="utf-8-sig", newline="") as fh:
            old = list(csv.DictReader(fh))
    new = [
        {
            "metric": str(r["metric"]),
            "period": str(r["period"]),
            "value": f"{float(r[level]):.2f}",
            "channel": "" if r["channel"] is None or pd.isna(r["channel"]) else str(r["channel"]),
            "distributor": "",
            "pacing": "linear",
            "owner": owner or "",
        }
        for r in suggestions.to_dict("records")
    ]
    keys = {(r["metric"], r["period"], r["channel"]) for r in new}
    kept = [r for r in old if (r.get("metric"), r.get("period"), r.get("channel") or "") not in keys]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: r.get(k) or "" for k in fields} for r in kept] + new)
    return path


def forecast_pacing(run: ForecastRun, series: str, month: str) -> pd.DataFrame:
    """Expected share of the month done by each day, by the forecast's shape (not a straight line):
    period, expected (the day's forecast), cumulative_share (fraction of the month's forecast)."""
    fc = run.forecast[run.forecast["series"] == series].copy()
    fc["period"] = pd.to_datetime(fc["period"])
    g = fc[fc["period"].dt.to_period("M") == pd.Period(month)]
    if g.empty:
        raise QueryError(f"the forecast does not cover {month} for '{series}'")
    total = float(g["mean"].sum())
    return pd.DataFrame(
        {
            "period": g["period"].dt.date.to_numpy(),
            "expected": g["mean"].to_numpy(),
            "cumulative_share": (g["mean"].cumsum() / total).to_numpy() if total else float("nan"),
        }
    )
