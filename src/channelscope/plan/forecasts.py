"""Store forecast runs in the warehouse and track their accuracy as actuals arrive.

Tables (declared in ``model/operational.py``, created by the warehouse) are created on first use on DuckDB and
PostgreSQL. A run is written in one transaction holding ``project.write_lock``.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.errors import QueryError
from channelscope.model.operational import FORECAST_TABLES, OPERATIONAL
from channelscope.warehouse.base import Tx

if TYPE_CHECKING:
    from channelscope.analysis.forecast import ForecastRun
    from channelscope.project import Project


def ensure_tables(project: Project) -> None:
    """Create the forecast tables when missing."""
    project.warehouse.ensure_tables(*FORECAST_TABLES)


def _columns(table: str) -> list[str]:
    return OPERATIONAL[table].names


def _insert(tx: Tx, table: str, rows: list[list[Any]]) -> None:
    names = _columns(table)
    marks = ", ".join("?" for _ in names)
    tx.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)


def _money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2)))


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def save_run(project: Project, run: ForecastRun) -> str:
    """Write the run, its forecasts (reconciled means, cents exact) and its backtest accuracy."""
    if project.read_only:
        raise QueryError("the project is open read-only: forecasts cannot be stored")
    with project.write_lock:
        ensure_tables(project)
        _write_run(project, run)
    return run.run_id


def _write_run(project: Project, run: ForecastRun) -> None:
    with project.warehouse.transaction() as tx:
        _insert(
            tx,
            "forecast_runs",
            [
                [
                    run.run_id,
                    run.metric,
                    run.hierarchy,
                    run.grain,
                    run.horizon,
                    run.history_start,
                    run.history_end,
                    run.reconciliation,
                    run.created_at,
                ]
            ],
        )
        fc = run.forecast
        channel = fc["channel"] if "channel" in fc else pd.Series([None] * len(fc))
        rows = [
            [
                run.run_id,
                r.level,
                r.series,
                ch if isinstance(ch, str) else None,
                pd.Timestamp(r.period).date(),
                int(r.step),
                r.model,
                Decimal(int(r.cents)) / 100,
                _money(r.p2_5),
                _money(r.p10),
                _money(r.p50),
                _money(r.p90),
                _money(r.p97_5),
            ]
            for r, ch in zip(fc.itertuples(index=False), channel, strict=True)
        ]
        _insert(tx, "forecasts", rows)
        acc = pd.concat([run.accuracy.assign(horizon="all"), run.horizon_accuracy], ignore_index=True)
        _insert(tx, "forecast_accuracy", _accuracy_rows(run.run_id, "backtest", acc, run.created_at))


def _accuracy_rows(run_id: str, kind: str, acc: pd.DataFrame, at: dt.datetime) -> list[list[Any]]:
    return [
        [
            run_id,
            kind,
            r["level"],
            r["model"],
            int(r.get("series", 0) or 0),
            int(r["n"]),
            _num(r["mae"]),
            _num(r["mase"]),
            _num(r["smape"]),
            _num(r["bias"]),
            _num(r["coverage_80"]),
            _num(r["coverage_95"]),
            _num(r.get("festival_mae")),
            int(r.get("festival_days", 0) or 0),
            at,
            r.get("horizon") or "all",
        ]
        for r in acc.to_dict("records")
    ]


def runs(project: Project) -> pd.DataFrame:
    """The stored runs, newest first (empty when none was stored)."""
    if "forecast_runs" not in project.warehouse.ibis.list_tables():
        return pd.DataFrame(columns=_columns("forecast_runs"))
    t = project.warehouse.ibis.table("forecast_runs")
    return t.order_by(t.created_at.desc()).execute()


def stored_forecast(project: Project, run_id: str | None = None) -> pd.DataFrame:
    """The forecasts of a run (default: the newest run)."""
    all_runs = runs(project)
    if all_runs.empty:
        raise QueryError("no forecast stored yet: run `channelscope forecast run` first")
    run_id = run_id or str(all_runs.iloc[0]["run_id"])
    if run_id not in set(all_runs["run_id"]):
        raise QueryError(f"unknown forecast run '{run_id}'")
    t = project.warehouse.ibis.table("forecasts")
    return t.filter(t.run_id == run_id).order_by(["series", "period"]).execute()


def track_accuracy(project: Project, run_id: str | None = None) -> pd.DataFrame:
    """Score a stored run's forecasts against the actuals that have arrived since (per level).

    Returns one row per level and horizon ("all", and the steps-ahead buckets "1-7", "8-14", ... that have
    actuals): n (series x days with actuals), mae, bias (fraction) and the share of actuals inside the
    80% and 95% intervals; stored in ``forecast_accuracy`` as kind 'tracked'.
    Empty (with no row stored) when no actual has arrived yet.
    """
    all_runs = runs(project)
    fc = stored_forecast(project, run_id)
    rid = str(fc["run_id"].iloc[0])
    run = all_runs[all_runs["run_id"] == rid].iloc[0]
    if run["hierarchy"] != "channel" or run["grain"] != "day":
        raise QueryError("accuracy is tracked for daily channel-level runs (hierarchy channel)")
    first, last = pd.Timestamp(fc["period"].min()).date(), pd.Timestamp(fc["period"].max()).date()
    actual = project.kpis([str(run["metric"])], by=["channel"], grain="day", start=first, end=last)
    if actual.empty:
        return pd.DataFrame()
    actual = actual.rename(columns={str(run["metric"]): "actual"})
    actual["period"] = pd.to_datetime(actual["period"])
    total = actual.groupby("period", as_index=False)["actual"].sum().assign(channel="total")
    both = pd.concat([actual, total], ignore_index=True).rename(columns={"channel": "series"})
    f = fc.assign(period=pd.to_datetime(fc["period"]))
    merged = f.merge(both, on=["series", "period"], how="inner")
    for c in ("mean", "p2_5", "p10", "p90", "p97_5", "actual"):
        merged[c] = merged[c].astype(float)
    from channelscope.analysis.forecast import horizon_buckets

    buckets = [("all", 1, int(merged["step"].max())), *horizon_buckets(str(run["grain"]), int(run["horizon"]))]
    parts = [merged[merged["step"].between(a, b)].assign(horizon=name) for name, a, b in buckets]
    rows = []
    for (level, horizon), g in pd.concat(parts, ignore_index=True).groupby(["level", "horizon"], sort=False):
        if g.empty:
            continue
        err = g["mean"] - g["actual"]
        rows.append(
            {
                "level": level,
                "horizon": horizon,
                "model": "stored",
                "series": g["series"].nunique(),
                "n": len(g),
                "mae": float(err.abs().mean()),
                "mase": float("nan"),
                "smape": float((2 * err.abs() / (g["mean"].abs() + g["actual"].abs()).replace(0, float("nan"))).mean()),
                "bias": float(err.mean() / g["actual"].mean()) if g["actual"].mean() else float("nan"),
                "coverage_80": float(((g["actual"] >= g["p10"]) & (g["actual"] <= g["p90"])).mean()),
                "coverage_95": float(((g["actual"] >= g["p2_5"]) & (g["actual"] <= g["p97_5"])).mean()),
            }
        )
    out = pd.DataFrame(rows)
    if not project.read_only and len(out):
        with project.write_lock:
            at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            with project.warehouse.transaction() as tx:
                _insert(tx, "forecast_accuracy", _accuracy_rows(rid, "tracked", out, at))
    return out


def accuracy_history(project: Project) -> pd.DataFrame:
    """Every stored accuracy row (backtest and tracked), newest first."""
    if "forecast_accuracy" not in project.warehouse.ibis.list_tables():
        return pd.DataFrame(columns=_columns("forecast_accuracy"))
    t = project.warehouse.ibis.table("forecast_accuracy")
    return t.order_by(t.measured_at.desc()).execute()
