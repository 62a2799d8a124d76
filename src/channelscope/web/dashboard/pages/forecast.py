"""预测 / Forecast: the last 90 days and the next 28 of GMV with its 80% interval (the whole business,
or a channel manager's channels), the backtest accuracy per channel and model, suggested monthly
targets and, for users who see every channel, the SKUs at risk of a stock-out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from channelscope.errors import ChannelscopeError
from channelscope.web import service
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import t
from channelscope.web.dashboard.widgets import COLORS, empty, figure, graph, section, table

HORIZON = 28


def render(ctx: PageContext) -> Component:
    from channelscope.web.forecast_api import forecast_for

    try:
        run = forecast_for(ctx.project, "gmv", HORIZON)
    except ChannelscopeError as exc:
        return empty(str(exc))
    fc = run.forecast
    picked = list(ctx.view.filters.get("channel", ()))
    try:  # the channel filter picks the channels drawn (within a channel manager's scope)
        filters = service.scoped_filters(ctx.project, ctx.user, {"channel": picked} if picked else {})
    except ChannelscopeError as exc:
        return empty(str(exc))
    channels = filters.get("channel")
    if ctx.user.scoped and not channels:  # a distributor's scope: the forecast is by channel, never its total
        return empty(t("no_data", ctx.lang))
    shown = fc[(fc["level"] == "channel") & fc["channel"].isin(channels)] if channels else fc[fc["level"] == "total"]
    if shown.empty:
        return empty(t("no_data", ctx.lang))
    # one channel: its own interval; several: the sum of their bounds (wider than the sum's own interval)
    curve = shown.groupby("period", as_index=False)[["mean", "p10", "p90"]].sum()
    start = run.history_end - dt.timedelta(days=89)
    hist = ctx.project.kpis(["gmv"], grain="day", start=start, end=run.history_end, filters=filters)
    acc = run.series_accuracy[run.series_accuracy["level"] == "channel"]
    acc = acc[acc["series"].isin(channels)] if channels else acc
    panels = [
        section(t("fc_title", ctx.lang), graph("forecast-chart", _chart(ctx, hist, curve)), id_="forecast-panel"),
        html.Div(
            [
                section(t("fc_accuracy", ctx.lang), _accuracy(ctx, acc), class_name="panel half"),
                section(t("fc_targets", ctx.lang), _targets(ctx, run, channels), class_name="panel half"),
            ],
            className="row",
        ),
    ]
    if not ctx.user.scoped:  # both are brand-wide: stock of every channel, errors summed over the channels
        panels.append(section(t("fc_tracked", ctx.lang), _tracked(ctx), id_="forecast-tracked"))
        panels.append(section(t("fc_inventory", ctx.lang), _inventory(ctx), id_="forecast-inventory"))
    return html.Div(panels)


def _tracked(ctx: PageContext) -> Component:
    """The stored runs scored against the actuals that arrived since (kind 'tracked'), newest first."""
    from channelscope.plan.forecasts import accuracy_history, runs

    hist = accuracy_history(ctx.project)
    rows = hist[hist["kind"] == "tracked"].head(40) if len(hist) else hist
    if rows.empty:
        return empty(t("fc_no_tracked", ctx.lang))
    rows = rows.merge(runs(ctx.project)[["run_id", "metric"]], on="run_id", how="left")
    first_step = rows["horizon"].fillna("all").map(lambda h: 0 if h == "all" else int(str(h).split("-")[0]))
    rows = rows.assign(_step=first_step).sort_values(
        ["measured_at", "run_id", "level", "_step"], ascending=[False, True, False, True]
    )

    def mae(r: dict[str, Any]) -> str:
        return ctx.nf.value(r["mae"], "money") if r["metric"] == "gmv" else f"{float(r['mae']):,.2f}"

    return table(
        "forecast-tracked-table",
        rows.to_dict("records"),
        [
            ("run_id", t("fc_run", ctx.lang), lambda r: r["run_id"]),
            ("metric", t("fc_metric", ctx.lang), lambda r: r["metric"]),
            ("measured_at", t("fc_measured", ctx.lang), lambda r: str(r["measured_at"])[:16]),
            ("level", t("fc_level", ctx.lang), lambda r: r["level"]),
            ("horizon", t("fc_horizon", ctx.lang), lambda r: r["horizon"] if isinstance(r["horizon"], str) else "all"),
            ("n", "n", lambda r: f"{int(r['n']):,}"),
            ("mae", "MAE", mae),
            ("bias", t("fc_bias", ctx.lang), lambda r: _pct(r["bias"])),
            ("coverage_80", t("fc_coverage", ctx.lang), lambda r: _pct(r["coverage_80"])),
        ],
        numeric=("n", "mae", "bias", "coverage_80"),
    )


def _chart(ctx: PageContext, hist: pd.DataFrame, curve: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    periods = pd.to_datetime(curve["period"])
    fig.add_trace(
        go.Scatter(
            x=list(periods) + list(periods[::-1]),
            y=list(curve["p90"]) + list(curve["p10"][::-1]),
            fill="toself",
            fillcolor="rgba(249,115,22,0.18)",
            line={"width": 0},
            name=t("fc_interval", ctx.lang),
            hoverinfo="skip",
        )
    )
    if len(hist):
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(hist["period"]),
                y=hist["gmv"].astype(float),
                name=t("fc_history", ctx.lang),
                line={"color": COLORS[0]},
            )
        )
    fig.add_trace(go.Scatter(x=periods, y=curve["mean"], name=t("fc_forecast", ctx.lang), line={"color": COLORS[1]}))
    return figure(fig, height=360)


def _pct(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1%}"


def _accuracy(ctx: PageContext, acc: pd.DataFrame) -> Component:
    rows = acc[acc["model"].isin(["selected", "seasonal_naive"])].to_dict("records")
    return table(
        "forecast-accuracy",
        rows,
        [
            ("series", t("fc_series", ctx.lang), lambda r: r["series"]),
            ("model", t("fc_model", ctx.lang), lambda r: r["model"]),
            ("mase", "MASE", lambda r: f"{r['mase']:.3f}" if pd.notna(r["mase"]) else "–"),
            ("coverage_80", t("fc_coverage", ctx.lang), lambda r: _pct(r["coverage_80"])),
        ],
        numeric=("mase", "coverage_80"),
    )


def _targets(ctx: PageContext, run: Any, channels: list[Any] | None) -> Component:
    from channelscope.plan.targets import suggest_targets
    from channelscope.web.forecast_api import forecast_for

    try:
        sug = suggest_targets(forecast_for(ctx.project, "gmv", 90))
    except ChannelscopeError as exc:
        return empty(str(exc))
    sug = sug.assign(channel=sug["channel"].fillna("total"))
    if channels:  # the picked channels (a channel manager's are always picked)
        sug = sug[sug["channel"].isin(set(channels))]
    money = lambda v: ctx.nf.value(v, "money")  # noqa: E731
    return table(
        "forecast-targets",
        sug.to_dict("records"),
        [
            ("channel", t("fc_series", ctx.lang), lambda r: r["channel"]),
            ("period", t("fc_month", ctx.lang), lambda r: r["period"]),
            ("p50", "P50", lambda r: money(r["p50"])),
            ("p80", "P80", lambda r: money(r["p80"])),
        ],
        numeric=("p50", "p80"),
    )


def _inventory(ctx: PageContext) -> Component:
    from channelscope.plan.inventory import inventory_plan

    try:
        plan = inventory_plan(ctx.project)
    except ChannelscopeError:
        return empty(t("fc_no_inventory", ctx.lang))
    risky = plan[plan["at_risk"] | plan["overstock"]].sort_values("stockout_date", na_position="last")
    return table(
        "forecast-inventory-table",
        risky.to_dict("records"),
        [
            ("sku", "SKU", lambda r: r["sku"]),
            ("on_hand", t("on_hand", ctx.lang), lambda r: f"{r['on_hand']:,.0f}"),
            ("stockout_date", t("fc_stockout", ctx.lang), lambda r: str(r["stockout_date"] or "–")),
            ("suggested_order", t("fc_order", ctx.lang), lambda r: f"{r['suggested_order']:,}"),
        ],
        numeric=("on_hand", "suggested_order"),
    )
