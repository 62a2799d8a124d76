"""Operational tables of forecasting, declared like the facts: runs, their forecasts and accuracy.

``forecast_runs``: one row per run. ``forecasts``: one row per run, series and future period (money
DECIMAL(18,2) in the base currency; counts with two decimals). ``forecast_accuracy``: per run, level
and model, the backtest's scores on the last window (MASE, sMAPE, bias as fractions; coverage as the
share of actuals inside the interval), and later rows with ``kind='tracked'`` as actuals arrive.
"""

from __future__ import annotations

FORECAST_RUNS: list[tuple[str, str]] = [
    ("run_id", "VARCHAR PRIMARY KEY"),
    ("metric", "VARCHAR NOT NULL"),
    ("hierarchy", "VARCHAR NOT NULL"),
    ("grain", "VARCHAR NOT NULL"),
    ("horizon", "INTEGER NOT NULL"),
    ("history_start", "DATE"),
    ("history_end", "DATE"),
    ("reconciliation", "VARCHAR"),
    ("created_at", "TIMESTAMP NOT NULL"),
]
FORECASTS: list[tuple[str, str]] = [
    ("run_id", "VARCHAR NOT NULL"),
    ("level", "VARCHAR NOT NULL"),
    ("series", "VARCHAR NOT NULL"),
    ("channel_id", "VARCHAR"),
    ("period", "DATE NOT NULL"),
    ("step", "INTEGER NOT NULL"),
    ("model", "VARCHAR NOT NULL"),
    ("mean", "DECIMAL(18,2) NOT NULL"),
    ("p2_5", "DECIMAL(18,2)"),
    ("p10", "DECIMAL(18,2)"),
    ("p50", "DECIMAL(18,2)"),
    ("p90", "DECIMAL(18,2)"),
    ("p97_5", "DECIMAL(18,2)"),
]
FORECAST_ACCURACY: list[tuple[str, str]] = [
    ("run_id", "VARCHAR NOT NULL"),
    ("kind", "VARCHAR NOT NULL"),  # backtest | tracked
    ("level", "VARCHAR NOT NULL"),
    ("model", "VARCHAR NOT NULL"),
    ("series_count", "INTEGER"),
    ("n", "INTEGER"),
    ("mae", "DOUBLE"),
    ("mase", "DOUBLE"),
    ("smape", "DOUBLE"),
    ("bias", "DOUBLE"),
    ("coverage_80", "DOUBLE"),
    ("coverage_95", "DOUBLE"),
    ("festival_mae", "DOUBLE"),
    ("festival_days", "INTEGER"),
    ("measured_at", "TIMESTAMP NOT NULL"),
]
TABLES: dict[str, list[tuple[str, str]]] = {
    "forecast_runs": FORECAST_RUNS,
    "forecasts": FORECASTS,
    "forecast_accuracy": FORECAST_ACCURACY,
}
