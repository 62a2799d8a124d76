"""Alerts inbox: alerts newest first, filtered by status, each with acknowledge / resolve buttons. An alert's
title opens its evidence (value, base, change, periods) and the decomposition of the change, with links to
the metric in Trends and to the channel's overview over the alert's period."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pandas as pd
from dash import ALL, Input, Output, State, callback_context, dcc, html, no_update
from dash.development.base_component import Component

from channelscope.numbers import change_value
from channelscope.web.dashboard.data import PageContext, page_context
from channelscope.web.dashboard.i18n import t
from channelscope.web.dashboard.view import View, option_id, parse_search
from channelscope.web.dashboard.widgets import (
    change_badge,
    data_attrs,
    empty,
    file_links,
    number,
    section,
    sort_header,
    sort_rows,
    table,
)

if TYPE_CHECKING:
    from dash import Dash

    from channelscope.project import Project

STATUSES = ("open", "acknowledged", "resolved")
LIMIT = 100


def render(ctx: PageContext) -> Component:
    status = ctx.view.option("status", "open")
    status = status if status in (*STATUSES, "all") else "open"
    frame = ctx.call("alerts_table", status=None if status == "all" else status, limit=LIMIT, lang=ctx.lang)
    picker = html.Div(
        [
            html.Label(t("status", ctx.lang)),
            dcc.RadioItems(
                id=option_id("status", "open"),
                options=[{"label": t(f"status_{s}", ctx.lang), "value": s} for s in (*STATUSES, "all")],
                value=status,
                inline=True,
            ),
        ],
        className="controls",
    )
    detail = _detail(ctx, ctx.view.option("alert", ""))
    if frame is None or frame.empty:
        return html.Div([picker, *detail, section(t("alerts_title", ctx.lang), empty(t("no_alerts", ctx.lang)))])
    rows = [_row(r) for r in frame.to_dict("records")]
    sort = ctx.view.option("sort", "")
    for r in rows:
        r["channel"] = ctx.channel_name(r.get("channel_id")) if r.get("channel_id") else ""
        r["when_text"] = "" if ctx.local_time(r.get("when")) == "–" else ctx.local_time(r.get("when"))
        r["period"] = r.get("period") or ""
    if sort.lstrip("-") == "severity":
        rank = {"critical": 0, "warning": 1, "info": 2}
        rows.sort(key=lambda r: rank.get(str(r.get("severity")), 9), reverse=sort.startswith("-"))
    elif sort:
        rows = sort_rows(rows, sort.replace("when", "when_text"), ("channel", "period", "when_text", "status"))
    pairs = [("lang", ctx.lang), ("sort", sort)] + ([("status", status)] if status != "all" else [])
    exports = file_links("alerts-export", ctx.lang, "/api/alerts/export", pairs)
    return html.Div(
        [
            picker,
            *detail,
            section(
                f"{t('alerts_title', ctx.lang)} ({len(rows)})", exports, _table(ctx, rows, sort), id_="alerts-panel"
            ),
        ]
    )


#: the columns the inbox sorts by (the same keys the export route sorts by: web/table_exports.py)
SORTABLE = ("severity", "channel", "period", "when", "status")


def _detail(ctx: PageContext, alert_id: str) -> list[Component]:
    """The evidence panel of the alert the URL names (``?alert=<id>``); nothing when it names none."""
    if not alert_id:
        return []
    a = ctx.call("alert_detail", alert_id)
    back = dcc.Link(t("back_to_inbox", ctx.lang), href=ctx.option_href("/alerts", alert=""), id="alert-back")
    if a is None:
        return [section(t("evidence", ctx.lang), empty(t("alert_not_found", ctx.lang)), back, id_="alert-detail")]
    nf, lang = ctx.nf, ctx.lang
    metric = str(a.get("metric") or "")
    unit = ctx.unit(metric) if metric else "ratio"
    ev = a.get("evidence") or {}
    value = ev.get("value", a.get("value"))
    base = ev.get("base_value", a.get("expected"))
    title = (a.get("title") or {}).get(lang) or (a.get("title") or {}).get("zh-CN") or a.get("rule")
    facts: list[tuple[str, Any]] = [
        (ctx.label(metric) if metric else t("value", lang), number("alert-value", value, unit, nf)),
        (t("base_value", lang) if "base_value" in ev else t("expected", lang), number("alert-base", base, unit, nf)),
        (t("change", lang), change_badge("alert-change", change_value(value, base, unit), unit, nf)),
        (t("period", lang), _span(ev.get("period")) or str(a.get("period") or "–")),
    ]
    if ev.get("base_period"):
        facts.append((t("base_period", lang), _span(ev.get("base_period"))))
    calendar = ev.get("calendar") or {}
    if calendar:  # the base was changed because the periods hold different festivals: say so
        why = calendar.get("reason_en" if lang == "en" else "reason_zh") or ""
        facts.append((t("compare", lang), html.Span(why, id="alert-calendar")))
    channel = (a.get("scope") or {}).get("channel_id") or a.get("channel_id")
    if channel:
        facts.insert(0, (t("channel", lang), ctx.channel_name(channel)))
    rows = html.Table(
        [html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts])], className="tbl facts", id="alert-facts"
    )
    text = (a.get("text") or {}).get(lang) or ""
    lines = [html.Li(line) for line in text.splitlines()[1:] if line.strip()]  # the first line is the title
    parts = _parts(ctx, (ev.get("decomposition") or {}))
    links = _links(ctx, metric, channel, ev.get("period"))
    return [
        section(
            f"{t('evidence', lang)}: {title}",
            html.Div(
                [
                    html.Div([rows, *parts], className="grow"),
                    html.Div(
                        [html.H4(t("explanation", lang)), html.Ul(lines, id="alert-text"), links, back],
                        className="explain",
                    ),
                ],
                className="row",
            ),
            id_="alert-detail",
        )
    ]


def _parts(ctx: PageContext, dec: dict[str, Any]) -> list[Component]:
    """The decomposition's contributions (visitors, conversion rate, AOV...) in the base currency."""
    parts = dec.get("parts") or {}
    if not parts:
        return []
    nf = ctx.nf
    cells = [
        html.Tr(
            [html.Td(t("before", ctx.lang)), html.Td(number("alert-dec-before", dec.get("value_before"), "money", nf))]
        )
    ]
    for k, v in parts.items():
        cells.append(html.Tr([html.Td(t(f"part_{k}", ctx.lang)), html.Td(number(f"alert-dec-{k}", v, "money", nf))]))
    cells.append(
        html.Tr(
            [html.Td(t("after", ctx.lang)), html.Td(number("alert-dec-after", dec.get("value_after"), "money", nf))]
        )
    )
    return [
        html.H4(t("change_decomposition", ctx.lang)),
        html.Table(html.Tbody(cells), className="tbl", id="alert-dec"),
    ]


def _links(ctx: PageContext, metric: str, channel: str | None, period: Any) -> html.Div:
    """The metric in Trends and the channel's overview, over the alert's period when it has one."""
    span = period if isinstance(period, list | tuple) and len(period) == 2 else None
    view = ctx.view
    if span:
        view = View(dt.date.fromisoformat(span[0]), dt.date.fromisoformat(span[1]), {}, ctx.lang, {})
    flt: dict[str, tuple[str, ...]] = {"channel": (str(channel),)} if channel else {}
    trends = View(view.start, view.end, flt, ctx.lang, {"metric": metric or "gmv", "grain": "day"})
    overview = View(view.start, view.end, flt, ctx.lang, {})
    return html.Div(
        [
            dcc.Link(t("trends_link", ctx.lang), href="/trends" + trends.to_search(), id="alert-open-trends"),
            html.Span(" · "),
            dcc.Link(t("channel_link", ctx.lang), href="/" + overview.to_search(), id="alert-open-overview"),
        ],
        className="links",
    )


def _span(period: Any) -> str:
    if isinstance(period, list | tuple) and len(period) == 2:
        return f"{period[0]} – {period[1]}"
    return ""


def _row(r: dict[str, Any]) -> dict[str, Any]:
    """One alert with the fields the inbox shows, whatever shape the store gives (decoded or raw JSON)."""
    out = dict(r)
    out["id"] = str(r.get("alert_id") or r.get("id"))
    title = r.get("title", r.get("title_json"))
    if isinstance(title, str):
        try:
            title = json.loads(title)
        except ValueError:
            title = {"en": title, "zh-CN": title}
    out["title"] = title if isinstance(title, dict) else {}
    out["when"] = r.get("last_seen_at") or r.get("first_seen_at") or r.get("opened_at")
    return out


def _table(ctx: PageContext, rows: list[dict[str, Any]], sort: str = "") -> html.Table:
    def severity(r: dict[str, Any]) -> Any:
        s = str(r.get("severity") or "info")
        return html.Span(t(f"severity_{s}", ctx.lang), className=f"badge {s}")

    def title(r: dict[str, Any]) -> Any:
        text = r["title"].get(ctx.lang) or r["title"].get("zh-CN") or r["title"].get("en") or r.get("rule")
        value, expected = r.get("value"), r.get("expected")
        unit = ctx.unit(str(r["metric"])) if r.get("metric") else "ratio"
        detail = ""
        if value is not None and not pd.isna(value):
            detail = ctx.nf.value(value, unit)
            if expected is not None and not pd.isna(expected):
                detail += f" ({t('expected', ctx.lang)} {ctx.nf.value(expected, unit)})"
        link = dcc.Link(
            text, href=ctx.option_href("/alerts", alert=r["id"]), id=f"alert-{r['id']}-open", className="alert-title"
        )
        return html.Div([link, html.Div(f"{r.get('rule')} · {detail}", className="muted")])

    def status(r: dict[str, Any]) -> Any:
        s = str(r.get("status"))
        return html.Span(t(f"status_{s}", ctx.lang), className=f"badge {s}", id=f"alert-{r['id']}-status")

    def actions(r: dict[str, Any]) -> Any:
        s = str(r.get("status"))
        buttons: list[Any] = []
        if not ctx.user.may("alerts.write"):
            return html.Div(buttons, className="actions")
        if s == "open":
            buttons.append(_button(t("acknowledge", ctx.lang), r["id"], "acknowledged", "btn"))
        if s in ("open", "acknowledged"):
            buttons.append(_button(t("resolve", ctx.lang), r["id"], "resolved", "btn secondary"))
        return html.Div(buttons, className="actions")

    columns: list[tuple[str, str, Any]] = [
        ("severity", t("severity", ctx.lang), severity),
        ("title", t("alert", ctx.lang), title),
        ("channel", t("channel", ctx.lang), lambda r: r.get("channel") or "–"),
        ("period", t("period", ctx.lang), lambda r: r.get("period") or "–"),
        ("when", ctx.with_zone(t("opened", ctx.lang)), lambda r: ctx.local_time(r.get("when"))),
        ("status", t("status", ctx.lang), status),
        ("actions", t("actions", ctx.lang), actions),
    ]
    headers = {
        c: sort_header(h, c, sort, lambda s: ctx.option_href("/alerts", sort=s), ctx.lang)
        for c, h, _ in columns
        if c in SORTABLE
    }
    return table("alerts-table", rows, columns, key="id", headers=headers)


def _button(text: str, alert_id: str, to: str, cls: str) -> html.Button:
    return html.Button(
        text,
        id={"type": "alert-act", "id": alert_id, "to": to},
        className=cls,
        **data_attrs(alert=alert_id, to=to),
    )


def register(app: Dash, project: Project) -> None:
    @app.callback(
        Output("refresh", "data"),
        Input({"type": "alert-act", "id": ALL, "to": ALL}, "n_clicks"),
        State("refresh", "data"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def act(clicks: list[int | None], counter: int, search: str | None) -> Any:
        """Acknowledge or resolve the clicked alert, then re-render the inbox (refresh counter)."""
        trigger = callback_context.triggered_id
        if not trigger or not any(clicks):
            return no_update
        fired = [c for c in callback_context.triggered if c.get("value")]
        if not fired:
            return no_update
        ctx = page_context(project, parse_search(search))
        ctx.call("set_alert_status", trigger["id"], trigger["to"])
        return (counter or 0) + 1
