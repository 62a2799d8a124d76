"""Building blocks shared by the pages: KPI cards, tables with stable cell ids, charts in one style."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from channelscope.numbers import NumberFormat, is_missing

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
    id_: str,
    value: Any,
    unit: str,
    nf: NumberFormat,
    *,
    scaled: bool = False,
    class_name: str = "num",
    title: str | None = None,
    missing: str | None = None,
) -> html.Span:
    """A formatted number (``channelscope.numbers``) with a stable id and its exact value in ``data-value``;
    a scaled amount (¥68.18万) has the full value as its tooltip, unless ``title`` says something else.
    A missing value with a reason (``missing``: the channel sends no order lines...) reads 数据缺失 / no data
    with the reason as its tooltip and in ``data-missing``."""
    if missing and is_missing(value):
        word = "no data" if nf.lang == "en" else "数据缺失"
        return html.Span(
            word, id=id_, className=f"{class_name} missing", title=missing, **data_attrs(value="", missing=missing)
        )
    full = nf.full(value, unit)
    tip = title if title is not None else (full if scaled and nf.scale.divisor != 1 else None)
    return html.Span(
        nf.value(value, unit, scaled=scaled),
        id=id_,
        className=class_name,
        title=tip,
        **data_attrs(value=raw(value)),
    )


def change_badge(id_: str, change: Any, unit: str, nf: NumberFormat, up_is_good: bool = True) -> html.Span:
    """+12.3% (an amount) or +3.4 pp (a rate: ``change`` is then after - before) in green, or red when the
    move is bad (a rise of refunds). ``data-value`` holds the change as a fraction."""
    if is_missing(change):
        cls = "chg"
    else:
        good = (float(change) >= 0) == up_is_good
        cls = "chg good" if good else "chg bad"
    return html.Span(nf.change_text(change, unit), id=id_, className=cls, **data_attrs(value=raw(change)))


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
    columns: Sequence[tuple[str, str, Cell]],
    *,
    key: str | None = None,
    numeric: Sequence[str] = (),
    headers: dict[str, Any] | None = None,
) -> html.Table:
    """An HTML table: ``columns`` = (column key, header, cell renderer). With ``key``, each cell gets the
    id ``{id_}-{row key}-{column key}`` so tests and links can find a number. ``headers`` replaces some
    headers' text by a component (a sort link)."""
    heads = headers or {}
    head = html.Thead(
        html.Tr([html.Th(heads.get(c, h), className="n" if c in numeric else None) for c, h, _ in columns])
    )
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


def export_links(
    id_: str,
    lang: str,
    *,
    metrics: Sequence[str],
    start: Any,
    end: Any,
    filters: Mapping[str, Sequence[str]] | None = None,
    by: Sequence[str] = (),
    grain: str = "total",
    compare: str | None = None,
) -> html.Div:
    """CSV and Excel links to the API's export route (/api/kpis/export) for the rows a page shows: the same
    route as any API client, so the role's export permission, the user's scope and formula-injection
    neutralizing apply. The browser's session cookie signs the request."""
    pairs: list[tuple[str, str]] = [("metric", m) for m in metrics] + [("by", b) for b in by]
    pairs += [("grain", grain), ("start", str(start)), ("end", str(end))]
    pairs += [("filter", f"{k}={','.join(v)}") for k, v in (filters or {}).items() if v]
    if compare:
        pairs.append(("compare", compare))
    return file_links(id_, lang, "/api/kpis/export", pairs)


def file_links(id_: str, lang: str, route: str, pairs: Sequence[tuple[str, str]]) -> html.Div:
    """CSV and Excel links to an export route of the API (``route`` with the query ``pairs``): KPIs, the alerts
    inbox, the batch ledger. The API checks the role's export permission and the scope, and neutralizes."""
    from urllib.parse import urlencode

    from channelscope.web.dashboard.i18n import t

    links = [
        html.A(
            t(f"export_{fmt}", lang),
            href=f"{route}?" + urlencode([*pairs, ("format", fmt)]),
            id=f"{id_}-{fmt}",
            className="export",
            download=f"{id_}.{fmt}",
        )
        for fmt in ("csv", "xlsx")
    ]
    return html.Div(links, className="exports", id=id_)


def sort_rows(rows: list[dict[str, Any]], sort: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` ordered by the URL's ``sort`` option (``gmv`` ascending, ``-gmv`` descending); missing values
    last either way. An unknown column leaves the order as it is."""
    key, desc = sort.lstrip("-"), sort.startswith("-")
    if key not in columns:
        return rows
    present = [r for r in rows if not is_missing_cell(r.get(key))]
    absent = [r for r in rows if is_missing_cell(r.get(key))]
    present.sort(key=lambda r: _sort_key(r.get(key)), reverse=desc)
    return present + absent


def is_missing_cell(value: Any) -> bool:
    if isinstance(value, str):
        return value == ""
    return is_missing(value)


def _sort_key(value: Any) -> Any:
    if isinstance(value, str):
        return (1, 0.0, value)
    return (0, float(value), "")


def sort_header(text: str, column: str, sort: str, href_for: Callable[[str], str], lang: str, tip: str = "") -> Any:
    """A column header that sorts the table: a link to the same view with ``sort`` set (descending first,
    then ascending), an arrow on the column in use; ``tip`` (the metric's basis) heads its tooltip."""
    from dash import dcc

    from channelscope.web.dashboard.i18n import t

    current, desc = sort.lstrip("-"), sort.startswith("-")
    nxt = column if (current == column and desc) else f"-{column}"
    arrow = (" ↓" if desc else " ↑") if current == column else ""
    title = f"{tip}\n{t('sort_by', lang)}" if tip else t("sort_by", lang)
    return dcc.Link(text + arrow, href=href_for(nxt), id=f"sort-{column}", className="sort", title=title)
