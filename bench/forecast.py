"""Forecast benchmark: many daily series (SKU x channel), two years each, forecast 90 days ahead after
one rolling-origin backtest window, with the commerce calendar's regressors.

    python bench/forecast.py --series 10000            # the issue's size
    python bench/forecast.py --series 1000 --series 3000 --json

Series are synthetic (seeded): Poisson counts around a level drawn per series, with a weekend lift,
a trend and the festival phases of the built-in calendar (双11 x3 on its main day...). It runs
``engine.forecast_panel`` (seasonal naive and the calendar regression, per-series choice) and prints
the wall time, the peak resident memory (ru_maxrss), and the MASE of both models on the backtest
window. Reconciliation is not part of this figure (bottom-up sums are exact by construction).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from channelscope.analysis.commerce_calendar import calendar_features
from channelscope.analysis.forecast.engine import forecast_panel

HORIZON = 90


def synthetic(n: int, days: int = 730, seed: int = 16) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` daily series over ``days`` days ending 2025-11-30, and the calendar regressors."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(end="2025-11-30", periods=days, freq="D")
    future = pd.date_range(index[-1] + pd.Timedelta(days=1), periods=HORIZON, freq="D")
    feats = calendar_features(index.append(future))
    lift = np.ones(days)
    for col, mult in (
        ("double11:main_day", 3.0),
        ("double11:balance", 1.6),
        ("618:main_day", 2.5),
        ("618:balance", 1.4),
    ):
        if col in feats:
            lift *= np.where(feats[col].loc[index].to_numpy() > 0, mult, 1.0)
    weekend = np.where(index.day_of_week >= 5, 1.2, 1.0)
    trend = np.linspace(1.0, 1.3, days)
    level = rng.gamma(1.5, 2.0, n)
    lam = (weekend * trend * lift)[:, None] * level[None, :]
    y = rng.poisson(lam).astype(float)
    return pd.DataFrame(y, index=index, columns=[f"s{i}" for i in range(n)]), feats


def measure(n: int) -> dict:
    panel, feats = synthetic(n)
    started = time.perf_counter()
    result = forecast_panel(panel, HORIZON, windows=1, features={"all": feats})
    seconds = time.perf_counter() - started
    acc = result.accuracy.groupby("model")["mase"].mean()
    return {
        "series": n,
        "days": len(panel),
        "horizon": HORIZON,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "mase": {k: round(float(v), 3) for k, v in acc.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, action="append", help="number of series (repeat)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = [measure(n) for n in args.series or [10_000]]
    if args.json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    table = Table(title=f"forecast {HORIZON} days + 1 backtest window")
    for col in ("series", "days", "seconds", "peak RSS MB", "MASE calendar_regression", "MASE seasonal naive"):
        table.add_column(col, justify="right")
    for f in figures:
        table.add_row(
            str(f["series"]),
            str(f["days"]),
            str(f["seconds"]),
            str(f["peak_rss_mb"]),
            str(f["mase"].get("calendar_regression")),
            str(f["mase"].get("seasonal_naive")),
        )
    Console().print(table)


if __name__ == "__main__":
    main()
