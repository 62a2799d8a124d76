"""Forecasts of GMV, paid orders and units, reconciled from the bottom of a hierarchy to the total.

``forecast(project, metric, hierarchy=..., horizon=...)`` pulls the metric once through the semantic
layer (``Project.kpis(by=<hierarchy dims>, grain=...)``), builds every node's series (the total,
each channel, each channel's categories or distributors, each bottom series), runs the rolling-origin
backtest and model choice of ``engine.forecast_panel`` on every node, reconciles the chosen models'
forecasts (``reconcile``: MinT with shrinkage) and returns a ``ForecastRun``.

Hierarchies (``HIERARCHIES``): ``channel`` (total <- channel), ``distributor`` (total <- channel <-
distributor; orders without a distributor are the channel's "direct" series), ``product`` (total <-
channel <- category <- SKU; for units, the only sales measure the order lines carry per SKU).

Units: GMV in the base currency (yuan), orders and units as counts; forecasts are means per period
rounded to 0.01; quantiles p2_5/p10/p50/p90/p97_5 give the 95% and 80% intervals.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from channelscope.analysis.forecast.engine import QCOLS, PanelForecast, forecast_panel, scores
from channelscope.analysis.forecast.reconcile import Node, reconcile, summing_matrix, to_cents
from channelscope.errors import QueryError

if TYPE_CHECKING:
    from channelscope.project import Project

__all__ = ["HIERARCHIES", "ForecastRun", "forecast", "forecast_frame"]

#: hierarchy -> the dimensions of its bottom series, top first
HIERARCHIES: dict[str, tuple[str, ...]] = {
    "channel": ("channel",),
    "distributor": ("channel", "distributor"),
    "product": ("channel", "category", "sku"),
}
LEVEL_NAMES = {0: "total"}
METRICS = ("gmv", "paid_orders", "units")
DIRECT = "(direct)"
TOTAL = "total"
#: how a model is chosen: one per hierarchy level ("level") or one per series ("series")
CHOICES = ("level", "series")


@dataclass
class ForecastRun:
    """One forecast run.

    ``forecast``: one row per node and future period: level (total | channel | distributor |
    category | sku), the hierarchy's dimension columns (None above the node's level), series (the
    node's path "tmall/SE01"), period, model, mean (reconciled, 0.01), base_mean (the model's own),
    p2_5, p10, p50, p90, p97_5. ``accuracy``: per level and model (incl. "selected"): n, mae, mase,
    smape, bias, coverage_80, coverage_95, festival_mae, festival_days, on the last backtest window.
    ``series_accuracy``: the same per node. ``horizon_accuracy``: the same per level, model and horizon
    (``horizon``: the steps ahead scored, "1-7", "8-14", "15-28", "29-56", "57-90" days or "1-4", "5-8",
    "9-13" weeks, cut at the run's horizon). ``backtest``: every window's rows.
    """

    run_id: str
    metric: str
    hierarchy: str
    grain: str
    horizon: int
    history_start: dt.date
    history_end: dt.date
    created_at: dt.datetime
    forecast: pd.DataFrame
    accuracy: pd.DataFrame
    series_accuracy: pd.DataFrame
    backtest: pd.DataFrame
    reconciliation: str
    choice: dict[str, str] = field(default_factory=dict)
    horizon_accuracy: pd.DataFrame = field(default_factory=pd.DataFrame)


def _path(node: Node) -> str:
    return "/".join(node) if node else TOTAL


def forecast_frame(
    history: pd.DataFrame,
    *,
    metric: str,
    dims: tuple[str, ...],
    horizon: int,
    grain: str = "day",
    models: tuple[str, ...] | None = None,
    windows: int = 3,
    calendar: Any = None,
    overseas_channels: list[str] | None = None,
    reconciliation: str = "mint_shrink",
    choose: str = "level",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, str, dict[str, str], pd.DataFrame]:
    """The pure part of ``forecast``: ``history`` has one row per period and bottom key (``dims``
    columns, ``period``, ``metric``). Returns (forecast, accuracy by level, accuracy by series,
    backtest, reconciliation method, model choice, accuracy by level and horizon)."""
    from channelscope.analysis.commerce_calendar import calendar_features, commerce_calendar

    if history.empty:
        raise QueryError(f"no history of '{metric}' to forecast")
    frame = history.copy()
    for d in dims:
        frame[d] = frame[d].astype(object).where(frame[d].notna(), DIRECT).astype(str)
    frame["period"] = pd.to_datetime(frame["period"])
    frame[metric] = pd.to_numeric(frame[metric], errors="coerce").fillna(0.0).astype(float)
    bottom_panel = frame.pivot_table(index="period", columns=list(dims), values=metric, aggfunc="sum")
    freq = "D" if grain == "day" else "W-MON"
    full = pd.date_range(bottom_panel.index.min(), bottom_panel.index.max(), freq=freq)
    bottom_panel = bottom_panel.reindex(full).fillna(0.0)
    bottom = sorted(tuple(str(v) for v in (k if isinstance(k, tuple) else (k,))) for k in bottom_panel.columns)
    bottom_panel.columns = [tuple(str(v) for v in (k if isinstance(k, tuple) else (k,))) for k in bottom_panel.columns]
    bottom_panel = bottom_panel[bottom]
    nodes, s = summing_matrix(bottom)
    panel = pd.DataFrame(bottom_panel.to_numpy() @ s.T, index=full, columns=[_path(n) for n in nodes])
    step = full[1] - full[0] if len(full) > 1 else pd.Timedelta(days=1)
    days = full.append(pd.DatetimeIndex([full[-1] + step * (i + 1) for i in range(horizon)]))
    groups = {_path(n): (n[0] if n else TOTAL) for n in nodes}
    features = {
        g: calendar_features(days, calendar, channel=None if g == TOTAL else g, overseas_channels=overseas_channels)
        for g in set(groups.values())
    }
    if grain != "day":  # weekly: the share of each week's days inside each phase
        features = {g: _weekly(f, days) for g, f in features.items()}
    cal = commerce_calendar(days[0], days[-1], calendar, overseas_channels=overseas_channels)
    fest = pd.DatetimeIndex(pd.to_datetime(cal.loc[cal["events"].notna(), "date"]))
    level_of = {_path(n): _level(n, dims) for n in nodes}
    result = forecast_panel(
        panel,
        horizon,
        models=models,
        windows=windows,
        features=features,
        groups=groups,
        festival_days=fest,
        pools=level_of if choose == "level" else None,
    )
    fc, used = _reconciled(result, nodes, s, panel.columns.tolist(), reconciliation)
    keys = {_path(n): n for n in nodes}
    for i, d in enumerate(dims):
        fc[d] = fc["series"].map(lambda p, i=i: keys[p][i] if len(keys[p]) > i else None)
    fc.insert(0, "level", fc["series"].map(level_of))
    acc = result.accuracy.assign(level=result.accuracy["series"].map(level_of))
    by_level = _level_accuracy(result, level_of)
    scale = acc[acc["model"] == "seasonal_naive"].set_index("series")
    scale = scale["mae"] / scale["mase"]  # each series' MASE denominator (in-sample seasonal difference)
    by_horizon = pd.concat(
        [
            _level_accuracy(result, level_of, scale, (first, last)).assign(horizon=name)
            for name, first, last in horizon_buckets(grain, horizon)
        ],
        ignore_index=True,
    )
    bt = result.backtest.assign(level=result.backtest["series"].map(level_of))
    return fc, by_level, acc, bt, used, result.choice, by_horizon


def _weekly(features: pd.DataFrame, weeks: pd.DatetimeIndex) -> pd.DataFrame:
    daily = features.reindex(pd.date_range(weeks[0], weeks[-1] + pd.Timedelta(days=6), freq="D")).fillna(0.0)
    out = daily.resample("W-MON", label="left", closed="left").mean()
    return out.reindex(weeks).fillna(0.0)


def _level(node: Node, dims: tuple[str, ...]) -> str:
    return dims[len(node) - 1] if node else TOTAL


def _reconciled(
    result: PanelForecast, nodes: list[Node], s: np.ndarray, order: list[str], method: str
) -> tuple[pd.DataFrame, str]:
    fc = result.forecast
    periods = pd.DatetimeIndex(sorted(fc["period"].unique()))
    base = fc.pivot(index="series", columns="period", values="mean").reindex(index=order, columns=periods)
    bt = result.backtest
    chosen = bt[bt["model"] == bt["series"].map(result.choice)]
    err = (chosen.assign(e=chosen["mean"] - chosen["actual"])).pivot_table(
        index=["origin", "period"], columns="series", values="e"
    )
    errors = err.reindex(columns=order).fillna(0.0).to_numpy() if len(err) else None
    bottom, used = reconcile(base.to_numpy(dtype=float), s, errors=errors, method=method)
    cents = to_cents(bottom, s)
    rec = pd.DataFrame(cents / 100.0, index=order, columns=periods)
    out = fc.copy()
    out["base_mean"] = out["mean"]
    out["mean"] = [rec.at[sr, pr] for sr, pr in zip(out["series"], out["period"], strict=True)]
    shift = out["mean"] - out["base_mean"]
    for c in QCOLS:
        out[c] = (out[c] + shift).clip(lower=0).round(2)
    out["cents"] = (out["mean"] * 100).round().astype("int64")
    return out, used


#: horizon buckets (first and last step ahead) for daily and weekly runs
HORIZON_BUCKETS = {"day": ((1, 7), (8, 14), (15, 28), (29, 56), (57, 90)), "week": ((1, 4), (5, 8), (9, 13))}


def horizon_buckets(grain: str, horizon: int) -> list[tuple[str, int, int]]:
    """The buckets of steps ahead a run of ``horizon`` periods is scored on: (name, first, last)."""
    return [(f"{a}-{min(b, horizon)}", a, min(b, horizon)) for a, b in HORIZON_BUCKETS[grain] if a <= horizon]


def _level_accuracy(
    result: PanelForecast,
    level_of: dict[str, str],
    scale: pd.Series | None = None,
    steps: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Accuracy per level and model on the last backtest window (MASE: mean of the series' MASEs), on all
    its steps or on ``steps`` (first, last step ahead) only, where MASE is each series' MAE on those steps
    over its ``scale``."""
    acc = result.accuracy.assign(level=result.accuracy["series"].map(level_of))
    bt = result.backtest[result.backtest["origin"] == result.backtest["origin"].max()]
    if steps is not None:
        bt = bt[bt["step"].between(*steps)]
    chosen = bt[bt["model"] == bt["series"].map(result.choice)].assign(model="selected")
    both = pd.concat([bt, chosen], ignore_index=True).assign(level=lambda f: f["series"].map(level_of))
    rows = []
    for (level, model), g in both.groupby(["level", "model"], sort=True):
        sc = scores(g)
        if steps is None or scale is None:
            a = acc[(acc["level"] == level) & (acc["model"] == model)]
            sc["mase"] = float(a["mase"].mean())
        else:
            per_series = (g["mean"] - g["actual"]).abs().groupby(g["series"]).mean()
            sc["mase"] = float((per_series / scale.reindex(per_series.index)).mean())
        fest = g[g["festival"]]
        sc["festival_mae"] = float((fest["mean"] - fest["actual"]).abs().mean()) if len(fest) else float("nan")
        sc["festival_days"] = int(fest["period"].nunique())
        sc["series"] = int(g["series"].nunique())
        rows.append({"level": level, "model": model, **sc})
    return pd.DataFrame(rows)


def line_gmv(
    project: Project,
    *,
    grain: str = "day",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """GMV by channel, category, SKU and period for the product hierarchy: the paid orders' lines at their
    到手价 (``analysis.compliance.paid_lines``: each line's share of what the buyer paid for the goods, in
    the base currency, to the fen; shipping is not a SKU's). Orders without lines have no SKU and are left
    out, so the hierarchy's total is the goods GMV of the channels that send order lines."""
    from channelscope.analysis.compliance import paid_lines

    unknown = sorted(set(filters or {}) - {"channel"})
    if unknown:
        raise QueryError(f"GMV by SKU cannot be filtered by {', '.join(unknown)} (only by channel)")
    con = project.warehouse.ibis
    lines = paid_lines(con, base_currency=project.config.project.base_currency, all_orders=True, paid_only=True)
    if start is not None:
        lines = lines.filter(lines.business_date >= ibis.date(str(start)))
    if end is not None:
        lines = lines.filter(lines.business_date <= ibis.date(str(end)))
    channels = (filters or {}).get("channel")
    if channels:
        lines = lines.filter(lines.channel_id.isin([channels] if isinstance(channels, str) else list(channels)))
    products = con.table("products").select(_sku="sku", category="category")
    t = lines.left_join(products, lines.sku == products._sku)
    period = t.business_date if grain == "day" else t.business_date.truncate("W").cast("date")
    out = (
        t.group_by(channel=t.channel_id, category=t.category.fill_null("(none)"), sku=t.sku, period=period)
        .aggregate(gmv=t.paid_cents.sum())
        .execute()
    )
    out["gmv"] = out["gmv"].astype(float) / 100.0
    return out


def forecast(
    project: Project,
    metric: str = "gmv",
    *,
    hierarchy: str = "channel",
    horizon: int = 28,
    grain: str = "day",
    models: tuple[str, ...] | None = None,
    windows: int = 3,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: dict[str, Any] | None = None,
    choose: str = "level",
) -> ForecastRun:
    """Forecast ``metric`` ``horizon`` periods (days or weeks, 1-90 days) past the data's last day."""
    if metric not in METRICS:
        raise QueryError(f"cannot forecast '{metric}'; valid: {', '.join(METRICS)}")
    if hierarchy not in HIERARCHIES:
        raise QueryError(f"unknown hierarchy '{hierarchy}'; valid: {', '.join(HIERARCHIES)}")
    if hierarchy == "product" and metric == "paid_orders":
        raise QueryError(
            "the product hierarchy (channel/category/SKU) forecasts units and GMV: an order is not a SKU's"
        )
    from channelscope.analysis.forecast.models import MODELS

    unknown = [m for m in models or () if m not in MODELS]
    if unknown:
        raise QueryError(f"unknown model '{unknown[0]}'; valid: {', '.join(MODELS)}")
    if choose not in CHOICES:
        raise QueryError(f"choose is one of {', '.join(CHOICES)} (one model per hierarchy level, or per series)")
    if grain not in ("day", "week"):
        raise QueryError("grain must be day or week")
    if not 1 <= horizon <= (90 if grain == "day" else 13):
        raise QueryError("horizon must be 1-90 days (grain day) or 1-13 weeks (grain week)")
    from channelscope.analysis.commerce_calendar import overseas_channels_of

    dims = HIERARCHIES[hierarchy]
    if hierarchy == "product" and metric == "gmv":
        history = line_gmv(project, grain=grain, start=start, end=end, filters=dict(filters or {}))
    else:
        history = project.kpis([metric], by=list(dims), grain=grain, start=start, end=end, filters=dict(filters or {}))
    history = history.rename(columns={"channel_id": "channel"})
    cal = project.config.calendar.commerce
    overseas = overseas_channels_of((c.id, c.platform) for c in project.config.channels)
    fc, acc, sacc, bt, used, choice, hacc = forecast_frame(
        history,
        metric=metric,
        dims=dims,
        horizon=horizon,
        grain=grain,
        models=models,
        windows=windows,
        calendar=cal,
        overseas_channels=overseas,
        choose=choose,
    )
    periods = pd.to_datetime(history["period"])
    return ForecastRun(
        run_id=uuid.uuid4().hex[:12],
        metric=metric,
        hierarchy=hierarchy,
        grain=grain,
        horizon=horizon,
        history_start=periods.min().date(),
        history_end=periods.max().date(),
        created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        forecast=fc,
        accuracy=acc,
        series_accuracy=sacc,
        backtest=bt,
        reconciliation=used,
        choice=choice,
        horizon_accuracy=hacc,
    )
