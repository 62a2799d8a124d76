"""Alerts inbox: alerts newest first, filtered by status, each with acknowledge / resolve buttons."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pandas as pd
from dash import ALL, Input, Output, State, callback_context, dcc, html, no_update
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext, page_context
from channelscope.web.dashboard.i18n import fmt_value, t
from channelscope.web.dashboard.view import option_id, parse_search
from channelscope.web.dashboard.widgets import data_attrs, empty, section, table

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
    if frame is None or frame.empty:
        return html.Div([picker, section(t("alerts_title", ctx.lang), empty(t("no_alerts", ctx.lang)))])
    rows = [_row(r) for r in frame.to_dict("records")]
    return html.Div(
        [picker, section(f"{t('alerts_title', ctx.lang)} ({len(rows)})", _table(ctx, rows), id_="alerts-panel")]
    )


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


def _table(ctx: PageContext, rows: list[dict[str, Any]]) -> html.Table:
    def severity(r: dict[str, Any]) -> Any:
        s = str(r.get("severity") or "info")
        return html.Span(t(f"severity_{s}", ctx.lang), className=f"badge {s}")

    def title(r: dict[str, Any]) -> Any:
        text = r["title"].get(ctx.lang) or r["title"].get("zh-CN") or r["title"].get("en") or r.get("rule")
        value, expected = r.get("value"), r.get("expected")
        unit = ctx.unit(str(r["metric"])) if r.get("metric") else "ratio"
        detail = ""
        if value is not None and not pd.isna(value):
            detail = fmt_value(value, unit)
            if expected is not None and not pd.isna(expected):
                detail += f" ({t('expected', ctx.lang)} {fmt_value(expected, unit)})"
        return html.Div(
            [html.Div(text, className="alert-title"), html.Div(f"{r.get('rule')} · {detail}", className="muted")]
        )

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
        ("channel", t("channel", ctx.lang), lambda r: ctx.channel_name(r.get("channel_id"))),
        ("period", t("period", ctx.lang), lambda r: r.get("period") or "–"),
        ("when", t("opened", ctx.lang), lambda r: _when(r.get("when"))),
        ("status", t("status", ctx.lang), status),
        ("actions", t("actions", ctx.lang), actions),
    ]
    return table("alerts-table", rows, columns, key="id")


def _button(text: str, alert_id: str, to: str, cls: str) -> html.Button:
    return html.Button(
        text,
        id={"type": "alert-act", "id": alert_id, "to": to},
        className=cls,
        **data_attrs(alert=alert_id, to=to),
    )


def _when(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


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
