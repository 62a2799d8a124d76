"""Channels: a comparison table (GMV, share, growth, conversion, AOV, refund rate, contribution margin),
sortable by any column and exported as CSV or Excel; the GMV share and the channel portfolio (growth x
contribution margin rate, bubble size = GMV). A channel's name opens the overview of that channel."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import dcc, html
from dash.development.base_component import Component

from channelscope.web.dashboard.context_bar import comparison
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import is_missing, t
from channelscope.web.dashboard.widgets import (
    COLORS,
    change_badge,
    empty,
    export_links,
    figure,
    graph,
    number,
    section,
    sort_header,
    sort_rows,
    table,
)

METRICS = (
    "gmv",
    "net_sales",
    "paid_orders",
    "visitors",
    "conversion_rate",
    "aov",
    "refund_rate",
    "contribution_margin",
    "contribution_margin_rate",
)


def render(ctx: PageContext) -> Component:
    metrics = ctx.cuttable(METRICS, by=["channel"])
    vs = comparison(ctx.view)
    frame = ctx.kpis(metrics, by=["channel"], compare=vs)
    frame = frame[frame["channel"].notna()]
    if frame.empty:
        return empty(t("no_data", ctx.lang))
    total_gmv = float(frame["gmv"].astype(float).sum())
    frame = frame.assign(share=frame["gmv"].astype(float) / total_gmv if total_gmv else None)
    frame = frame.sort_values("gmv", ascending=False)
    rows = frame.to_dict("records")
    for r in rows:
        r["name"] = ctx.channel_name(r["channel"])
        r["growth"] = r.get("gmv_change_pct")
    sort = ctx.view.option("sort", "-gmv")
    rows = sort_rows(rows, sort, SORTABLE)
    exports = export_links(
        "channels-export",
        ctx.lang,
        metrics=metrics,
        by=["channel"],
        start=ctx.start,
        end=ctx.end,
        filters=ctx.view.filter_dict(),
        compare=vs,
    )
    coverage = ctx.coverage(metrics)
    return html.Div(
        [
            section(t("channel_table", ctx.lang), exports, _table(ctx, rows, sort, coverage), id_="channels-panel"),
            html.Div(
                [
                    section(t("share", ctx.lang), graph("channel-share", _share(ctx, rows)), class_name="panel half"),
                    section(
                        t("portfolio", ctx.lang),
                        graph("channel-portfolio", _portfolio(ctx, rows)),
                        _not_plotted(ctx, rows, coverage),
                        class_name="panel half",
                    ),
                ],
                className="row",
            ),
        ]
    )


SORTABLE = ("name", "gmv", "share", "growth", *METRICS[1:])


def _table(ctx: PageContext, rows: list[dict[str, Any]], sort: str, coverage: dict[tuple[str, str], str]) -> html.Table:
    nf = ctx.nf

    def num(metric: str, unit: str | None = None) -> Any:
        return lambda r: number(
            f"chan-{r['channel']}-{metric}",
            r.get(metric),
            unit or ctx.unit(metric),
            nf,
            missing=coverage.get((metric, str(r["channel"]))),
        )

    def name(r: dict[str, Any]) -> Any:
        return dcc.Link(
            r["name"], href=ctx.href("/", channel=r["channel"]), id=f"chan-{r['channel']}-open", title=r["channel"]
        )

    columns = [
        ("name", t("channel", ctx.lang), name),
        ("gmv", ctx.label("gmv"), num("gmv")),
        ("share", t("share", ctx.lang), num("share", "percent")),
        (
            "growth",
            t("growth", ctx.lang),
            lambda r: change_badge(f"chan-{r['channel']}-growth", r.get("gmv_change_pct"), "money", nf),
        ),
        ("paid_orders", ctx.label("paid_orders"), num("paid_orders")),
        ("conversion_rate", ctx.label("conversion_rate"), num("conversion_rate")),
        ("aov", ctx.label("aov"), num("aov")),
        ("refund_rate", ctx.label("refund_rate"), num("refund_rate")),
        ("contribution_margin", ctx.label("contribution_margin"), num("contribution_margin")),
        ("contribution_margin_rate", ctx.label("contribution_margin_rate"), num("contribution_margin_rate")),
    ]
    headers = {
        c: sort_header(h, c, sort, lambda s: ctx.option_href("/channels", sort=s), ctx.lang, ctx.basis(c))
        for c, h, _ in columns
        if c in SORTABLE
    }
    return table("channels-table", rows, columns, numeric=[c for c, _, _ in columns[1:]], headers=headers)


def _share(ctx: PageContext, rows: list[dict[str, Any]]) -> go.Figure:
    fig = go.Figure(
        go.Pie(
            labels=[ctx.channel_name(r["channel"]) for r in rows],
            values=[float(r["gmv"]) for r in rows],
            hole=0.55,
            sort=False,
            marker={"colors": COLORS},
            textinfo="percent",
        )
    )
    fig = figure(fig, height=320)
    fig.update_layout(legend={"orientation": "v", "y": 0.5, "x": 1.02})
    return fig


def _not_plotted(ctx: PageContext, rows: list[dict[str, Any]], coverage: dict[tuple[str, str], str]) -> Any:
    """The channels the scatter leaves out because their margin rate (or growth) is missing, with the reason."""
    out = []
    for r in rows:
        if is_missing(r.get("contribution_margin_rate")):
            why = coverage.get(("contribution_margin_rate", str(r["channel"]))) or t("missing", ctx.lang)
            out.append(f"{r['name']}（{why}）" if ctx.lang != "en" else f"{r['name']} ({why})")
    if not out:
        return html.Div(id="portfolio-missing")
    return html.Div(
        f"{t('not_plotted', ctx.lang)}: {'、'.join(out)}", className="coverage-note", id="portfolio-missing"
    )


def _portfolio(ctx: PageContext, rows: list[dict[str, Any]]) -> go.Figure:
    pts = [
        r for r in rows if not is_missing(r.get("gmv_change_pct")) and not is_missing(r.get("contribution_margin_rate"))
    ]
    biggest = max((float(r["gmv"]) for r in pts), default=1.0) or 1.0
    fig = go.Figure(
        go.Scatter(
            x=[float(r["gmv_change_pct"]) for r in pts],
            y=[float(r["contribution_margin_rate"]) for r in pts],
            text=[ctx.channel_name(r["channel"]) for r in pts],
            mode="markers+text",
            textposition="top center",
            marker={
                "size": [12 + 38 * (float(r["gmv"]) / biggest) ** 0.5 for r in pts],
                "color": [COLORS[i % len(COLORS)] for i in range(len(pts))],
                "opacity": 0.75,
                "line": {"width": 1, "color": "white"},
            },
            hovertemplate="%{text}<br>%{x:+.1%} · %{y:.1%}<extra></extra>",
        )
    )
    fig = figure(fig, height=320, legend=False)
    fig.update_traces(cliponaxis=False)  # a name above the top bubble stays readable
    fig.update_layout(margin={"l": 50, "r": 30, "t": 40, "b": 40})
    fig.update_xaxes(tickformat="+.0%", title=t("growth", ctx.lang), zeroline=True, zerolinecolor="#94a3b8")
    fig.update_yaxes(
        tickformat=".0%", title=ctx.label("contribution_margin_rate"), zeroline=True, zerolinecolor="#94a3b8"
    )
    return fig
