"""Distributors: the leaderboard (GMV, commission, refund rate, active days, lines sold below the minimum
advertised price), the top 15 by GMV, and the network sections (tree, compliance score, violations by depth,
cases inbox, live hosts: ``pages/network.py``)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import is_missing, t
from channelscope.web.dashboard.pages.network import sections as network_sections
from channelscope.web.dashboard.widgets import (
    COLORS,
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

LIMIT = 50  # rows shown; the API pages through the rest


def render(ctx: PageContext) -> Component:
    board = ctx.call("distributor_board", start=ctx.start, end=ctx.end, filters=ctx.view.filter_dict())
    if board is None or board.empty:
        return empty(t("no_data", ctx.lang))
    board = board.sort_values("gmv", ascending=False)
    ranked = board.to_dict("records")
    for i, r in enumerate(ranked, start=1):
        r["rank"] = i
        r["name"] = r.get("name") or ctx.distributor_name(r["distributor"])
        r["channel_name"] = ctx.channel_name(r.get("channel_id"))
    sort = ctx.view.option("sort", "rank")
    rows = sort_rows(ranked, sort, SORTABLE)[:LIMIT]
    exports = export_links(
        "distributors-export",
        ctx.lang,
        metrics=[m for m in ("gmv", "paid_orders", "commissions", "refund_rate") if m in ctx.project.catalog],
        by=["distributor"],
        start=ctx.start,
        end=ctx.end,
        filters=ctx.view.filter_dict(),
    )
    return html.Div(
        [
            section(t("top_distributors", ctx.lang), graph("distributor-top", _top(ctx, ranked[:15]))),
            section(
                f"{t('leaderboard', ctx.lang)} ({len(board)})",
                exports,
                _table(ctx, rows, sort),
                id_="distributors-panel",
            ),
            *network_sections(ctx),
        ]
    )


SORTABLE = ("rank", "name", "channel_name", "gmv", "paid_orders", "commissions", "refund_rate", "active_days")


def _table(ctx: PageContext, rows: list[dict[str, Any]], sort: str) -> html.Table:
    def num(col: str, unit: str) -> Any:
        return lambda r: number(f"dist-{r['distributor']}-{col}", r.get(col), unit, ctx.nf)

    def below(r: dict[str, Any]) -> Any:
        n: Any = r.get("below_map_lines")
        lines: Any = r.get("lines")
        share = None if is_missing(n) or not lines else float(n) / float(lines)
        return html.Span(
            [
                number(
                    f"dist-{r['distributor']}-below_map_lines",
                    n,
                    "count",
                    ctx.nf,
                    class_name="num warn" if n else "num",
                ),
                html.Span(f" / {int(lines or 0)}", className="muted"),
            ],
            title=f"{share:.0%}" if share is not None else "",
        )

    columns = [
        ("rank", "#", lambda r: r["rank"]),
        ("name", t("distributor", ctx.lang), lambda r: r["name"]),
        ("channel_name", t("channel", ctx.lang), lambda r: r["channel_name"]),
        ("gmv", ctx.label("gmv"), num("gmv", "money")),
        ("paid_orders", ctx.label("paid_orders"), num("paid_orders", "count")),
        ("commissions", ctx.label("commissions"), num("commissions", "money")),
        ("refund_rate", ctx.label("refund_rate"), num("refund_rate", "percent")),
        ("active_days", t("active_days", ctx.lang), num("active_days", "count")),
        ("below_map", t("below_map", ctx.lang), below),
    ]
    headers = {
        c: sort_header(h, c, sort, lambda s: ctx.option_href("/distributors", sort=s), ctx.lang, ctx.basis(c))
        for c, h, _ in columns
        if c in SORTABLE
    }
    return table("distributors-table", rows, columns, numeric=[c for c, _, _ in columns[3:]], headers=headers)


def _top(ctx: PageContext, rows: list[dict[str, Any]]) -> go.Figure:
    rows = list(reversed(rows))
    fig = go.Figure(
        go.Bar(
            x=[float(r["gmv"]) for r in rows],
            y=[str(r["name"]) for r in rows],
            orientation="h",
            marker={"color": COLORS[0]},
            hovertemplate="%{y}<br>" + ctx.nf.symbol + "%{x:,.2f}<extra></extra>",
        )
    )
    fig = figure(fig, height=380, legend=False)
    fig.update_layout(margin={"l": 130})
    fig.update_xaxes(tickformat=",.0f")
    return fig
