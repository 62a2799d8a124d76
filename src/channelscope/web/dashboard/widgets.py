"""Building blocks shared by the pages: KPI cards, tables with stable cell ids, charts in one style."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from channelscope.web.dashboard.i18n import fmt_change, fmt_value, is_missing

FONT = '"Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
COLORS = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777", "#4b5563"]
GOOD, BAD = "#15803d", "#b91c1c"


def data_attrs(**values: str) -> Any:
    """``data-*`` attributes for a Dash component (``data_attrs(alert="x")`` -> ``data-alert="x"``)."""
    return {f"data-{k}": v for k, v in values.items()}


def raw(value: Any) -> str:
    """The exact number behind a shown value (data-value attribute), so tests compare numbers, not text."""
    return "" if is_missing(value) else repr(float(value))


def number(
    id_: str, value: Any, unit: str, *, compact: bool = False, class_name: str = "num", lang: str = "zh-CN"
) -> html.Span:
    """A formatted number with a stable id and its exact value in ``data-value`` (the full value as a tooltip)."""
    return html.Span(
        fmt_value(value, unit, compact=compact, lang=lang),
        id=id_,
        className=class_name,
        title=fmt_value(value, unit) if compact else None,
        **data_attrs(value=raw(value)),
    )


def change_badge(id_: str, change: Any, up_is_good: bool = True) -> html.Span:
    """+12.3% in green (or red when a rise is bad, like refunds)."""
    if is_missing(change):
        cls = "chg"
    else:
        good = (float(change) >= 0) == up_is_good
        cls = "chg good" if good else "chg bad"
    return html.Span(fmt_change(change), id=id_, className=cls, **data_attrs(value=raw(change)))


def _escape(value: Any) -> Any:
    import html as _html

    return _html.escape(value, quote=False) if isinstance(value, str) else value


def escape_names(fig: go.Figure) -> go.Figure:
    """Data shown as text in the chart (trace names, categories, labels) with <, > and & escaped: Plotly renders
    a subset of HTML there, so a region called '<a href=...>' would otherwise become a link in the legend."""
    for trace in fig.data:
        for attr in ("name", "legendgroup"):
            if isinstance(getattr(trace, attr, None), str):
                setattr(trace, attr, _escape(getattr(trace, attr)))
        for attr in ("x", "y", "text", "hovertext", "labels"):
            values = getattr(trace, attr, None) if attr in trace else None
            if isinstance(values, str):
                setattr(trace, attr, _escape(values))
            elif values is not None and any(isinstance(v, str) for v in values):
                setattr(trace, attr, [_escape(v) for v in values])
    return fig


def figure(fig: go.Figure, *, height: int = 300, legend: bool = True) -> go.Figure:
    """The house style: CJK font, small margins, horizontal legend under the plot; names escaped."""
    escape_names(fig)
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 16, "t": 30, "b": 40},
        font={"family": FONT, "size": 12},
        colorway=COLORS,
        paper_bgcolor="white",
        plot_bgcolor="white",
        showlegend=legend,
        legend={"orientation": "h", "y": -0.18, "x": 0},
        hoverlabel={"font": {"family": FONT}},
    )
    fig.update_xaxes(gridcolor="#eef0f3", zeroline=False)
    fig.update_yaxes(gridcolor="#eef0f3", zerolinecolor="#cbd5e1")
    return fig


def graph(id_: str, fig: go.Figure, *, static: bool = False) -> dcc.Graph:
    return dcc.Graph(
        id=id_,
        figure=fig,
        config={"displaylogo": False, "staticPlot": static, "displayModeBar": False},
        className="graph",
    )


def sparkline(id_: str, x: Sequence[Any], y: Sequence[Any]) -> dcc.Graph:
    fig = go.Figure(go.Scatter(x=list(x), y=list(y), mode="lines", line={"width": 1.5, "color": COLORS[0]}))
    fig.update_layout(
        height=44,
        margin={"l": 0, "r": 0, "t": 2, "b": 2},
        xaxis={"visible": False},
        yaxis={"visible": False},
        showlegend=False,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return dcc.Graph(id=id_, figure=fig, config={"staticPlot": True, "displayModeBar": False}, className="spark")


Cell = Callable[[Any], Any]  # a row (dict) -> what the cell shows


def table(
    id_: str,
    rows: list[dict[str, Any]],
    columns: list[tuple[str, str, Cell]],
    *,
    key: str | None = None,
    numeric: Sequence[str] = (),
) -> html.Table:
    """An HTML table: ``columns`` = (column key, header, cell renderer). With ``key``, each cell gets the
    id ``{id_}-{row key}-{column key}`` so tests and links can find a number."""
    head = html.Thead(html.Tr([html.Th(h, className="n" if c in numeric else None) for c, h, _ in columns]))
    body = []
    for r in rows:
        cells = []
        for c, _, render in columns:
            props: dict[str, Any] = {"className": "n" if c in numeric else None}
            if key is not None:
                props["id"] = f"{id_}-{_slug(r[key])}-{c}"
            cells.append(html.Td(render(r), **props))
        body.append(html.Tr(cells))
    return html.Table([head, html.Tbody(body)], id=id_, className="tbl")


def _slug(value: Any) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(value))


def section(title: str, *children: Any, class_name: str = "panel", id_: str | None = None) -> html.Section:
    props: dict[str, Any] = {"className": class_name}
    if id_:
        props["id"] = id_
    return html.Section([html.H3(title), *children], **props)


def empty(text: str) -> html.Div:
    return html.Div(text, className="empty")
