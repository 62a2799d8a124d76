"""行动 / Actions: the action log (PDCA) within the user's scope: what, owner, scope, window, the expected and
the measured effect with its interval and verdict; a form to plan an action on a channel of the scope, and
buttons to record progress (start, done, cancel) and to check the effect. Writes need ``actions.write`` and go
through the same functions as the API (``web/actions_api.py``), scope checks included."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from dash import ALL, Input, Output, State, callback_context, dcc, html, no_update
from dash.development.base_component import Component

from channelscope.errors import ChannelscopeError
from channelscope.plan.actions import STATUS_TEXT, VERDICT_TEXT
from channelscope.web.auth import request_user
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import t
from channelscope.web.dashboard.view import parse_search
from channelscope.web.dashboard.widgets import data_attrs, empty, section, table

if TYPE_CHECKING:
    from dash import Dash

    from channelscope.project import Project

METRICS = ("gmv", "paid_orders", "aov", "conversion_rate", "visitors", "refund_rate")


def _missing(v: Any) -> bool:
    return v is None or (not isinstance(v, str) and pd.isna(v))


def _pct(v: Any) -> str:
    return "–" if _missing(v) else f"{float(v) * 100:+.1f}%"


def render(ctx: PageContext) -> Component:
    from channelscope.web.actions_api import actions_table

    lang = ctx.lang
    frame = actions_table(ctx.project, ctx.user)
    rows = [{k: (None if _missing(v) else v) for k, v in r.items()} for r in frame.to_dict("records")][::-1]
    parts: list[Component] = []
    if ctx.user.may("actions.write"):
        parts.append(_form(ctx))
    if not rows:
        parts.append(section(t("ac_title", lang), empty(t("ac_none", lang)), id_="actions-panel"))
        return html.Div(parts)

    def scope(r: dict[str, Any]) -> str:
        if r["scope_kind"] == "channel":
            return ctx.channel_name(r["scope_id"])
        return f"{r['scope_kind']}: {r['scope_id']}"

    def status(r: dict[str, Any]) -> Any:
        s = str(r["status"])
        return html.Span(STATUS_TEXT[s][lang], className=f"badge {s}", id=f"action-{r['action_id']}-status")

    def verdict(r: dict[str, Any]) -> Any:
        v = r.get("verdict")
        if not v:
            return "–"
        return html.Span(VERDICT_TEXT[v][lang], className=f"badge verdict-{v}", id=f"action-{r['action_id']}-verdict")

    def effect(r: dict[str, Any]) -> str:
        if r.get("effect") is None:
            return "–"
        return f"{_pct(r['effect'])} [{_pct(r['effect_lower'])}, {_pct(r['effect_upper'])}]"

    def buttons(r: dict[str, Any]) -> Any:
        if not ctx.user.may("actions.write"):
            return html.Div(className="actions")
        s, aid = r["status"], r["action_id"]
        out = []
        if s == "planned":
            out.append(_button(t("ac_doing", lang), aid, "doing", "btn"))
        if s in ("planned", "doing"):
            out.append(_button(t("ac_done", lang), aid, "done", "btn"))
            out.append(_button(t("ac_cancel", lang), aid, "cancelled", "btn secondary"))
        if s != "cancelled":
            out.append(_button(t("ac_check", lang), aid, "check", "btn secondary"))
        return html.Div(out, className="actions")

    columns: list[tuple[str, str, Any]] = [
        ("what", t("ac_what", lang), lambda r: r["what"]),
        ("owner", t("ac_owner", lang), lambda r: r["owner"]),
        ("scope", t("ac_scope", lang), scope),
        ("window", t("ac_window", lang), lambda r: f"{r['start_date']} – {r['deadline']}"),
        ("metric", t("ac_metric", lang), lambda r: ctx.label(r["metric"])),
        ("expected", t("ac_expected", lang), lambda r: _pct(r.get("expected_change"))),
        ("status", t("ac_status", lang), status),
        ("verdict", t("ac_verdict", lang), verdict),
        ("effect", t("ac_effect", lang), effect),
        ("buttons", "", buttons),
    ]
    parts.append(
        section(
            f"{t('ac_title', lang)} ({len(rows)})",
            table("actions-table", rows, columns, key="action_id", numeric=("expected", "effect")),
            html.P(t("ac_method", lang), className="muted"),
            id_="actions-panel",
        )
    )
    return html.Div(parts)


def _form(ctx: PageContext) -> Component:
    from channelscope.web.dashboard.shell import filter_options

    lang = ctx.lang
    channels = filter_options(ctx.project, ctx.user.channels, ctx.user.distributors)["channel"]
    end = ctx.view.end

    def field(label: str, control: Component) -> Component:
        return html.Div([html.Label(label), control], className="filter")

    return section(
        t("ac_new", lang),
        html.Div(
            [
                field(t("ac_what", lang), dcc.Input(id="ac-what", type="text", debounce=False, className="wide")),
                field(t("ac_owner", lang), dcc.Input(id="ac-owner", type="text", value=ctx.user.username)),
                field(
                    t("ac_scope", lang),
                    dcc.Dropdown(
                        id="ac-channel",
                        options=channels,
                        value=channels[0]["value"] if channels else None,
                        clearable=False,
                    ),
                ),
                field(
                    t("ac_start", lang), dcc.Input(id="ac-start", type="text", value=str(end), placeholder="YYYY-MM-DD")
                ),
                field(t("ac_deadline", lang), dcc.Input(id="ac-deadline", type="text", placeholder="YYYY-MM-DD")),
                field(
                    t("ac_metric", lang),
                    dcc.Dropdown(
                        id="ac-metric",
                        options=[{"label": ctx.label(m), "value": m} for m in METRICS],
                        value="gmv",
                        clearable=False,
                    ),
                ),
                field(t("ac_expected", lang), dcc.Input(id="ac-expected", type="number", value=10)),
                html.Button(t("ac_add", lang), id="ac-add", className="btn"),
                html.Div(id="ac-msg", className="error-text"),
            ],
            className="filters form",
        ),
        id_="actions-form",
    )


def _button(text: str, action_id: str, to: str, cls: str) -> html.Button:
    return html.Button(
        text, id={"type": "action-act", "id": action_id, "to": to}, className=cls, **data_attrs(action=action_id, to=to)
    )


#: an action form's error per field, in Chinese (the English text is the error's own)
_FORM_ERRORS_ZH = {
    "what": "请填写行动内容（500 字以内）",
    "owner": "请填写负责人（100 字以内）",
    "scope_id": "请选择一个渠道",
    "scope_kind": "行动范围须为渠道、经销商或活动",
    "start": "开始日不是日期，请按 YYYY-MM-DD 填写",
    "deadline": "截止日不是日期，请按 YYYY-MM-DD 填写",
    "metric": "未知指标",
    "expected_change": "预期变化填百分比（10 表示 +10%），须大于 -100",
    "status": "未知状态",
}
_FIELDS_EN = {"scope_id": "channel", "expected_change": "expected change"}


def form_error(exc: Exception, lang: str) -> str:
    """The text of an action form's error in ``lang``: the field it names and what is wrong with it."""
    from pydantic import ValidationError

    from channelscope.web.auth import AccessDenied

    field: str | None = getattr(exc, "field", None)
    text = str(exc).splitlines()[0]
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None
        text = f"{_FIELDS_EN.get(field or '', field)}: {err['msg']}"
    elif not isinstance(exc, ChannelscopeError):  # the expected change is not a number
        field, text = "expected_change", "expected change: not a number"
    if lang == "en":
        return text
    if isinstance(exc, AccessDenied):
        return "该范围不在您的权限之内"
    raw = str(getattr(exc, "message", text))
    if field == "deadline" and "before the start" in raw:
        dates = [w.strip("'") for w in raw.split() if w[:1].isdigit()]
        return f"截止日 {dates[0]} 早于开始日 {dates[1]}" if len(dates) == 2 else "截止日早于开始日"
    if field == "scope_id" and raw.startswith("unknown"):
        return "未知的渠道、经销商或活动"
    return _FORM_ERRORS_ZH.get(field or "", "无法保存该行动：请检查各项填写")


def register(app: Dash, project: Project) -> None:
    @app.callback(
        Output("refresh", "data", allow_duplicate=True),
        Output("ac-msg", "children"),
        Input("ac-add", "n_clicks"),
        State("ac-what", "value"),
        State("ac-owner", "value"),
        State("ac-channel", "value"),
        State("ac-start", "value"),
        State("ac-deadline", "value"),
        State("ac-metric", "value"),
        State("ac-expected", "value"),
        State("refresh", "data"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def add(
        clicks: int | None,
        what: str | None,
        owner: str | None,
        channel: str | None,
        start: str | None,
        deadline: str | None,
        metric: str | None,
        expected: float | None,
        counter: int,
        search: str | None = None,
    ) -> Any:
        """Plan an action from the form; an error is shown beside the button (naming the field), in the
        page's language."""
        from channelscope.web.actions_api import NewAction, create_action

        if not clicks:
            return no_update, no_update

        def text(value: Any) -> str:  # a forged request may send any JSON: anything else reads as empty
            return value if isinstance(value, str) else ""

        try:
            if expected not in (None, "") and not isinstance(expected, int | float | str):
                raise ValueError("expected change: not a number")
            body = NewAction(
                what=text(what) or " ",
                owner=text(owner) or " ",
                scope_kind="channel",
                scope_id=text(channel),
                start=text(start).strip(),
                deadline=text(deadline).strip(),
                metric=text(metric) or "gmv",
                expected_change=None if expected in (None, "") else float(expected) / 100,
            )
            create_action(project, request_user(), body)
        except (ChannelscopeError, ValueError) as exc:
            return no_update, form_error(exc, parse_search(search).lang or request_user().lang)
        return (counter or 0) + 1, ""

    @app.callback(
        Output("refresh", "data", allow_duplicate=True),
        Input({"type": "action-act", "id": ALL, "to": ALL}, "n_clicks"),
        State("refresh", "data"),
        prevent_initial_call=True,
    )
    def act(clicks: list[int | None], counter: int) -> Any:
        """Record a status, or check the effect, of the clicked action; then re-render the page."""
        from channelscope.plan import actions as A
        from channelscope.web.actions_api import own_action

        trigger = callback_context.triggered_id
        if not trigger or not any(clicks) or not [c for c in callback_context.triggered if c.get("value")]:
            return no_update
        user = request_user()
        action = own_action(project, user, trigger["id"])
        if trigger["to"] == "check":
            A.check_action(project, action["action_id"])
        else:
            A.update_action(project, action["action_id"], status=trigger["to"])
        return (counter or 0) + 1
