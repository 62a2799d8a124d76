"""Trends: any KPI by any dimension and grain, with a comparison period drawn dashed."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import dropdown_labels, t
from channelscope.web.dashboard.view import option_id
from channelscope.web.dashboard.widgets import COLORS, empty, export_links, figure, graph, number, section

DIMENSIONS = (
    "channel",
    "channel_kind",
    "platform",
    "distributor",
    "distributor_tier",
    "campaign",
    "region",
    "category",
    "customer_type",
)
GRAINS = ("day", "week", "month", "quarter")
COMPARES = ("previous", "yoy", "wow")
ALL = object()  # the one line of a chart without a dimension
TOP = 8  # members drawn; the rest are summed as "other" only for additive metrics, so they are left out


def render(ctx: PageContext) -> Component:
    v = ctx.view
    metric = v.option("metric", "gmv")
    if metric not in ctx.project.catalog:
        metric = "gmv"
    by = v.option("by", "")
    by = by if by in DIMENSIONS else ""
    grain = v.option("grain", "day")
    grain = grain if grain in GRAINS else "day"
    compare = v.option("compare", "")
    compare = compare if compare in COMPARES else ""
    if compare == "wow" and grain not in ("day", "week"):
        compare = ""
    controls = _controls(ctx, metric, by, grain, compare)
    frame = ctx.kpis([metric], by=[by] if by else [], grain=grain, compare=compare or None)
    total = ctx.kpis([metric], compare=compare or None)
    head = total.iloc[0] if len(total) else pd.Series(dtype=object)
    unit = ctx.unit(metric)
    summary = html.Div(
        [
            html.Span(
                f"{ctx.label(metric)} {t('total', ctx.lang)}: ",
                className="muted",
                id="trend-label",
                title=ctx.basis(metric),
            ),
            number("trend-total-value", head.get(metric), unit, ctx.nf),
            *(
                [
                    html.Span(f"  {t('previous_period', ctx.lang)}: ", className="muted"),
                    number("trend-total-prev", head.get(f"{metric}_prev"), unit, ctx.nf),
                ]
                if compare
                else []
            ),
        ],
        className="summary",
    )
    if frame.empty:
        return html.Div([controls, summary, empty(t("no_data", ctx.lang))])
    exports = export_links(
        "trend-export",
        ctx.lang,
        metrics=[metric],
        by=[by] if by else [],
        grain=grain,
        start=ctx.start,
        end=ctx.end,
        filters=ctx.view.filter_dict(),
        compare=compare or None,
    )
    chart = graph("trend-chart", _chart(ctx, frame, metric, by, compare))
    missing = _missing_note(ctx, metric, by)
    return html.Div([controls, summary, section(ctx.label(metric), exports, chart, *missing, id_="trend-panel")])


def _missing_note(ctx: PageContext, metric: str, by: str) -> list[Component]:
    """数据缺失 / no data: the channels (and cuts) where the metric's input is not sent, with the reason; their
    lines are not drawn (never at 0) and totals leave them out."""
    left_out = ctx.left_out(ctx.coverage([metric], by=(by,) if by else ()), metric)
    if not left_out:
        return []
    head = "no data (not drawn, never 0): " if ctx.lang == "en" else "数据缺失（未绘制，不计 0）："
    return [html.Div(head + "; ".join(left_out), className="muted note", id="trend-missing")]


def _controls(ctx: PageContext, metric: str, by: str, grain: str, compare: str) -> html.Div:
    lang = ctx.lang
    metrics = [{"label": ctx.label(m), "value": m} for m in ctx.project.catalog.metrics]
    dims = [{"label": t("total", lang), "value": ""}] + [{"label": _dim_label(d, lang), "value": d} for d in DIMENSIONS]
    grains = [{"label": t(f"grain_{g}", lang), "value": g} for g in GRAINS]
    compares = [{"label": t("none", lang), "value": ""}] + [
        {"label": t(f"compare_{c}", lang), "value": c} for c in COMPARES
    ]

    def field(label: str, control: Component) -> html.Div:
        return html.Div([html.Label(label), control], className="filter")

    return html.Div(
        [
            field(
                t("metric", lang),
                dcc.Dropdown(
                    id=option_id("metric", "gmv"),
                    options=metrics,
                    value=metric,
                    labels=dropdown_labels(lang),
                    clearable=False,
                ),
            ),
            field(
                t("dimension", lang),
                dcc.Dropdown(
                    id=option_id("by", ""), options=dims, value=by, labels=dropdown_labels(lang), clearable=False
                ),
            ),
            field(
                t("grain", lang), dcc.RadioItems(id=option_id("grain", "day"), options=grains, value=grain, inline=True)
            ),
            field(
                t("compare", lang),
                dcc.RadioItems(id=option_id("compare", ""), options=compares, value=compare, inline=True),
            ),
        ],
        className="controls",
        id="trend-controls",
    )


def _dim_label(d: str, lang: str) -> str:
    key = d if d in ("channel", "distributor", "campaign") else f"dim_{d}"
    return t(key, lang)


def _chart(ctx: PageContext, frame: pd.DataFrame, metric: str, by: str, compare: str) -> go.Figure:
    fig = go.Figure()
    unit = ctx.unit(metric)
    frame = frame.sort_values("period")
    if by:
        sizes = frame.groupby(by, dropna=False)[metric].apply(lambda s: s.abs().sum()).sort_values(ascending=False)
        known = frame.groupby(by, dropna=False)[metric].apply(lambda s: s.notna().any())
        sizes = sizes[known.reindex(sizes.index).fillna(False).astype(bool)]  # a member with no data: not a line at 0
        members: list[object] = list(sizes.index[:TOP])
    else:
        members = [ALL]
    for i, member in enumerate(members):
        if member is ALL:
            rows, name = frame, ctx.label(metric)
        elif pd.isna(member):  # rows without a member (orders without a distributor): a line of their own
            rows, name = frame[frame[by].isna()], t("no_member", ctx.lang)
        else:
            rows, name = frame[frame[by] == member], ctx.member_name(by, member)
        color = COLORS[i % len(COLORS)]
        fig.add_trace(
            go.Scatter(
                x=rows["period"],
                y=rows[metric].astype(float),
                name=name,
                mode="lines+markers",
                marker={"size": 4},
                line={"color": color, "width": 2},
                hovertemplate="%{x}<br>%{y:,.2f}<extra>" + name + "</extra>",
            )
        )
        if compare and f"{metric}_prev" in rows:
            label = f"{name} · {t(f'compare_{compare}', ctx.lang)}"
            fig.add_trace(
                go.Scatter(
                    x=rows["period"],
                    y=rows[f"{metric}_prev"].astype(float),
                    name=label,
                    mode="lines",
                    line={"color": color, "width": 1.5, "dash": "dot"},
                )
            )
    fig = figure(fig, height=420, legend=len(fig.data) > 1)
    if unit == "percent":
        fig.update_yaxes(tickformat=".1%")
    else:
        fig.update_yaxes(tickformat=",.0f" if unit != "ratio" else ",.2f")
    fig.update_layout(hovermode="x unified")
    # numeric dates read the same in both languages (Plotly's month names are English only)
    month_like = grain_of(frame) in ("month", "quarter")
    fig.update_xaxes(tickformat="%Y-%m" if month_like else "%m-%d", hoverformat="%Y-%m-%d")
    return fig


def grain_of(frame: pd.DataFrame) -> str:
    """Roughly the grain of a KPI frame, from the spacing of its periods (for axis labels only)."""
    periods = pd.to_datetime(frame["period"]).drop_duplicates().sort_values()
    if len(periods) < 2:
        return "day"
    days = (periods.iloc[1] - periods.iloc[0]).days
    return "day" if days <= 1 else "week" if days <= 7 else "month" if days <= 31 else "quarter"
