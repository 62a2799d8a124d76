"""Distributors: the leaderboard (GMV, commission, refund rate, active days, lines sold below the minimum
advertised price) and the top 15 by GMV."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import is_missing, t
from channelscope.web.dashboard.widgets import COLORS, empty, figure, graph, number, section, table

LIMIT = 50  # rows shown; the API pages through the rest


def render(ctx: PageContext) -> Component:
    board = ctx.call("distributor_board", start=ctx.start, end=ctx.end, filters=ctx.view.filter_dict())
    if board is None or board.empty:
        return empty(t("no_data", ctx.lang))
    board = board.sort_values("gmv", ascending=False)
    rows = board.head(LIMIT).to_dict("records")
    for i, r in enumerate(rows, start=1):
        r["rank"] = i
    return html.Div(
        [
            section(t("top_distributors", ctx.lang), graph("distributor-top", _top(ctx, rows[:15]))),
            section(f"{t('leaderboard', ctx.lang)} ({len(board)})", _table(ctx, rows), id_="distributors-panel"),
        ]
    )


def _table(ctx: PageContext, rows: list[dict[str, Any]]) -> html.Table:
    def num(col: str, unit: str) -> Any:
        return lambda r: number(f"dist-{r['distributor']}-{col}", r.get(col), unit)

    def below(r: dict[str, Any]) -> Any:
        n: Any = r.get("below_map_lines")
        lines: Any = r.get("lines")
        share = None if is_missing(n) or not lines else float(n) / float(lines)
        return html.Span(
            [
                number(f"dist-{r['distributor']}-below_map_lines", n, "count", class_name="num warn" if n else "num"),
                html.Span(f" / {int(lines or 0)}", className="muted"),
            ],
            title=f"{share:.0%}" if share is not None else "",
        )

    columns = [
        ("rank", "#", lambda r: r["rank"]),
        ("name", t("distributor", ctx.lang), lambda r: r.get("name") or r["distributor"]),
        ("channel", t("channel", ctx.lang), lambda r: ctx.channel_name(r.get("channel_id"))),
        ("gmv", ctx.label("gmv"), num("gmv", "money")),
        ("paid_orders", ctx.label("paid_orders"), num("paid_orders", "count")),
        ("commissions", ctx.label("commissions"), num("commissions", "money")),
        ("refund_rate", ctx.label("refund_rate"), num("refund_rate", "percent")),
        ("active_days", t("active_days", ctx.lang), num("active_days", "count")),
        ("below_map", t("below_map", ctx.lang), below),
    ]
    return table("distributors-table", rows, columns, numeric=[c for c, _, _ in columns[3:]])


def _top(ctx: PageContext, rows: list[dict[str, Any]]) -> go.Figure:
    rows = list(reversed(rows))
    fig = go.Figure(
        go.Bar(
            x=[float(r["gmv"]) for r in rows],
            y=[str(r.get("name") or r["distributor"]) for r in rows],
            orientation="h",
            marker={"color": COLORS[0]},
            hovertemplate="%{y}<br>¥%{x:,.2f}<extra></extra>",
        )
    )
    fig = figure(fig, height=380, legend=False)
    fig.update_layout(margin={"l": 130})
    fig.update_xaxes(tickformat=",.0f")
    return fig
