"""Funnel by channel: impressions -> visitors -> add to cart -> orders -> paid -> kept (not refunded),
the whole business as a funnel and each channel's step rates as a table."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import is_missing, t
from channelscope.web.dashboard.widgets import COLORS, empty, figure, graph, number, section, table

STAGES = (
    ("impressions", "stage_impressions"),
    ("visitors", "stage_visitors"),
    ("add_to_cart", "stage_cart"),
    ("orders", "stage_orders"),
    ("paid_orders", "stage_paid"),
    ("kept_orders", "stage_kept"),
)


#: the KPI whose coverage tells why a stage is empty for a channel (traffic stages need traffic; kept, refunds)
STAGE_METRIC = {
    "impressions": "visitors",
    "visitors": "visitors",
    "add_to_cart": "visitors",
    "kept_orders": "refund_rate",
}


def render(ctx: PageContext) -> Component:
    flt = ctx.view.filter_dict()
    by_channel = ctx.call("funnel_by_channel", start=ctx.start, end=ctx.end, filters=flt)
    total = ctx.call("funnel", start=ctx.start, end=ctx.end, filters=flt)
    if by_channel is None or by_channel.empty:
        return empty(t("no_data", ctx.lang))
    values = {str(r["stage"]): r["value"] for r in total.to_dict("records")}
    values["kept_orders"] = float(by_channel["kept_orders"].sum())
    return html.Div(
        [
            html.Div(
                [
                    section(
                        t("funnel_title", ctx.lang),
                        html.Div(
                            [
                                html.Span(f"{t('stage_impressions', ctx.lang)}: ", className="muted"),
                                number("funnel-total-impressions", values.get("impressions"), "count", ctx.nf),
                            ]
                        ),
                        graph("funnel-chart", _chart(ctx, values)),
                        class_name="panel half",
                    ),
                    section(
                        t("funnel_rates", ctx.lang),
                        graph("funnel-channels", _bars(ctx, by_channel)),
                        class_name="panel half",
                    ),
                ],
                className="row",
            ),
            section(
                t("funnel_table", ctx.lang), _table(ctx, by_channel.to_dict("records"), values), id_="funnel-panel"
            ),
        ]
    )


def _chart(ctx: PageContext, values: dict[str, Any]) -> go.Figure:
    """From visitors down: impressions are ~30x visitors and would flatten every later step (they head the
    panel and the table instead)."""
    stages = STAGES[1:]
    labels = [t(key, ctx.lang) for _, key in stages]
    ys = [float(values.get(stage) or 0) for stage, _ in stages]
    fig = go.Figure(
        go.Funnel(
            y=labels,
            x=ys,
            textinfo="value+percent previous",
            texttemplate="%{value:,.0f}<br>%{percentPrevious:.1%}",
            marker={"color": COLORS[: len(ys)]},
            connector={"line": {"color": "#cbd5e1"}},
        )
    )
    fig = figure(fig, height=360, legend=False)
    fig.update_layout(margin={"l": 80})
    return fig


def _bars(ctx: PageContext, frame: Any) -> go.Figure:
    """Paid orders per 100 visitors and kept per paid, by channel: where the funnel leaks."""
    rows = frame.to_dict("records")
    names = [ctx.channel_name(r["channel"]) for r in rows]
    fig = go.Figure()
    for i, (num, den, key) in enumerate(
        (("add_to_cart", "visitors", "stage_cart"), ("paid_orders", "visitors", "stage_paid"))
    ):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[_rate(r.get(num), r.get(den)) for r in rows],
                name=f"{t(key, ctx.lang)} / {t('stage_visitors', ctx.lang)}",
                marker={"color": COLORS[i + 1]},
            )
        )
    fig = figure(fig, height=360)
    fig.update_yaxes(tickformat=".0%")
    return fig


def _rate(a: Any, b: Any) -> float | None:
    if is_missing(a) or is_missing(b) or not float(b):
        return None
    return float(a) / float(b)


def _table(ctx: PageContext, rows: list[dict[str, Any]], total: dict[str, Any]) -> html.Table:
    rows = sorted(rows, key=lambda r: -float(r.get("paid_orders") or 0))
    rows.append({"channel": "total", **total})
    coverage = ctx.coverage(sorted(set(STAGE_METRIC.values())))

    def stage(col: str, prev: str | None) -> Any:
        def cell(r: dict[str, Any]) -> Any:
            why = coverage.get((STAGE_METRIC.get(col, col), str(r["channel"])))
            parts: list[Any] = [number(f"funnel-{r['channel']}-{col}", r.get(col), "count", ctx.nf, missing=why)]
            if prev:
                rate = _rate(r.get(col), r.get(prev))
                parts.append(html.Span(f" {ctx.nf.value(rate, 'percent')}", className="muted"))
            return html.Span(parts)

        return cell

    columns: list[tuple[str, str, Any]] = [
        (
            "channel",
            t("channel", ctx.lang),
            lambda r: t("total", ctx.lang) if r["channel"] == "total" else ctx.channel_name(r["channel"]),
        )
    ]
    prev = None
    for col, key in STAGES:
        columns.append((col, t(key, ctx.lang), stage(col, prev)))
        prev = col
    return table("funnel-table", rows, columns, numeric=[c for c, _ in STAGES])
