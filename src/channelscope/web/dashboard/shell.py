"""The frame around every page: navigation, global filters, language switch, and the callbacks that keep
the URL, the controls and the page in step (the URL is the one source of truth: a view is shareable)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dash import ALL, Input, Output, State, callback_context, dcc, html, no_update
from dash.development.base_component import Component

from channelscope.errors import ChannelscopeError
from channelscope.web import service
from channelscope.web.auth import request_user
from channelscope.web.dashboard import context_bar, data
from channelscope.web.dashboard.i18n import dropdown_labels, t
from channelscope.web.dashboard.view import FILTER_KEYS, View, parse_search, with_values

if TYPE_CHECKING:
    from dash import Dash

    from channelscope.project import Project

log = logging.getLogger(__name__)
Render = Callable[[data.PageContext], Component]
#: path -> (navigation text key, page module name); the order is the navigation's
PAGES: dict[str, tuple[str, str]] = {
    "/": ("nav_overview", "overview"),
    "/trends": ("nav_trends", "trends"),
    "/channels": ("nav_channels", "channels"),
    "/distributors": ("nav_distributors", "distributors"),
    "/funnel": ("nav_funnel", "funnel"),
    "/forecast": ("nav_forecast", "forecast"),
    "/customers": ("nav_customers", "customers"),
    "/marketing": ("nav_marketing", "marketing"),
    "/alerts": ("nav_alerts", "alerts"),
    "/reports": ("nav_reports", "reports"),
    "/actions": ("nav_actions", "actions"),
    "/health": ("nav_health", "health"),
}
LABELS = ("dates", "channel", "distributor", "campaign")
#: what the page-render callback draws: (component id, property), in the order it returns them
RENDER_OUTPUTS: tuple[tuple[str, str], ...] = (
    ("page", "children"),
    ("nav", "children"),
    ("brand", "children"),
    *[(f"lbl-{k}", "children") for k in LABELS],
    *[(f"f-{k}", "placeholder") for k in FILTER_KEYS],
    *[(f"f-{k}", "labels") for k in FILTER_KEYS],
    ("f-dates", "month_format"),
    ("f-dates", "start_date_placeholder_text"),
    ("f-dates", "end_date_placeholder_text"),
)


def layout(project: Project) -> Callable[[], Component]:
    """The page skeleton, built per request so the filter choices follow the user's scope."""

    def serve() -> Component:
        user = request_user()
        lang = user.lang if user.lang in ("zh-CN", "en") else "zh-CN"
        options = filter_options(project, user.channels, user.distributors)
        filters = [
            html.Div(
                [
                    html.Label(t("dates", lang), id="lbl-dates", htmlFor="f-dates"),
                    dcc.DatePickerRange(
                        id="f-dates",
                        start_date_id="f-start",
                        end_date_id="f-end",
                        display_format="YYYY-MM-DD",
                        updatemode="bothdates",
                        first_day_of_week=1,
                        minimum_nights=0,
                    ),
                ],
                className="filter dates",
            )
        ]
        for key in FILTER_KEYS:
            filters.append(
                html.Div(
                    [
                        html.Label(t(key, lang), id=f"lbl-{key}", htmlFor=f"f-{key}"),
                        dcc.Dropdown(
                            id=f"f-{key}",
                            options=options[key],
                            multi=True,
                            placeholder=t("all", lang),
                            maxHeight=320,
                            labels=dropdown_labels(lang),
                        ),
                    ],
                    className=f"filter {key}",
                )
            )
        return html.Div(
            [
                dcc.Location(id="url", refresh=False),
                dcc.Store(id="refresh", data=0),
                html.Header(
                    [
                        html.Div(t("app_title", lang), id="brand", className="brand"),
                        html.Nav(id="nav", className="nav"),
                        dcc.RadioItems(
                            id="f-lang",
                            options=[{"label": "中文", "value": "zh-CN"}, {"label": "English", "value": "en"}],
                            value=lang,
                            inline=True,
                            className="lang",
                        ),
                    ],
                    className="top",
                ),
                html.Div(filters, className="filters", id="filters"),
                dcc.Loading(html.Main(id="page", className="page"), delay_show=400, type="dot"),
            ],
            className="app",
        )

    return serve


def filter_options(project: Project, channels: tuple[str, ...], distributors: tuple[str, ...]) -> dict[str, list]:
    """Members a user may pick: every channel, distributor and campaign, or those of a channel manager's scope.
    A scope of distributors only covers the channels of those distributors (never a list of every channel)."""
    cfg = project.config
    scoped = bool(channels or distributors)
    mine = set(channels) or {d.channel_id for d in cfg.distributors if d.id in distributors and d.channel_id}
    chans = [{"label": c.name or c.id, "value": c.id} for c in cfg.channels if not scoped or c.id in mine]
    allowed = {c["value"] for c in chans}
    dists = [
        {"label": f"{d.name or d.id}", "value": d.id}
        for d in cfg.distributors
        if (not distributors or d.id in distributors) and (not channels or d.channel_id in allowed)
    ]
    camps: list[dict[str, str]] = []
    try:
        frame = service.reader(project).table("campaigns").select("campaign_id", "name", "channel_id").to_pandas()
    except Exception:  # a warehouse without campaigns still shows the other filters
        log.exception("campaigns could not be listed")
    else:
        frame = frame.sort_values("campaign_id")
        for row in frame.itertuples():
            if scoped and row.channel_id not in allowed:
                continue
            camps.append({"label": str(row.name or row.campaign_id), "value": str(row.campaign_id)})
    return {"channel": chans, "distributor": dists, "campaign": camps}


def register(app: Dash, project: Project, renders: dict[str, Render]) -> None:
    """The shell's callbacks: URL <-> controls, rendering the page, page options -> URL."""
    control_outputs = [
        Output("f-dates", "start_date"),
        Output("f-dates", "end_date"),
        *[Output(f"f-{k}", "value") for k in FILTER_KEYS],
        Output("f-lang", "value"),
    ]
    control_inputs = [
        Input("f-dates", "start_date"),
        Input("f-dates", "end_date"),
        *[Input(f"f-{k}", "value") for k in FILTER_KEYS],
        Input("f-lang", "value"),
    ]

    @app.callback(Output("url", "search"), *control_outputs, Input("url", "search"), *control_inputs)
    def sync_controls(search: str | None, start: str | None, end: str | None, *rest: Any) -> tuple:
        """URL changed (load, link, back button): show its values in the controls. A control changed:
        write the new view into the URL, which re-renders the page."""
        *members, lang = rest
        view = parse_search(search)
        if callback_context.triggered_id in (None, "url"):
            full = data.page_context(project, view).view
            values = [
                full.start.isoformat() if full.start else None,
                full.end.isoformat() if full.end else None,
                *[list(view.filters.get(k, ())) or None for k in FILTER_KEYS],
                full.lang,
            ]
            return (no_update, *values)
        # members outside the user's scope are not among the dropdown's options, so the dropdown drops them;
        # keep them in the URL: the page then says they are out of scope instead of showing the scope's data
        kept = context_bar.outside_members(request_user(), view)
        changed = with_values(
            view,
            start=_day(start) or view.start,
            end=_day(end) or view.end,
            lang=lang or view.lang,
            **{k: [*(v or ()), *kept.get(k, [])] for k, v in zip(FILTER_KEYS, members, strict=True)},
        )
        new = changed.to_search()
        nothing = (no_update,) * len(control_outputs)
        return ((new if new != (search or "") else no_update), *nothing)

    @app.callback(
        *[Output(i, p) for i, p in RENDER_OUTPUTS],
        Input("url", "pathname"),
        Input("url", "search"),
        Input("refresh", "data"),
    )
    async def render(pathname: str | None, search: str | None, _refresh: int) -> tuple:
        # queries run in a worker thread (with this request's context: the user), not on the event loop,
        # so the API and live events stay responsive while a page computes
        return await asyncio.to_thread(_render_all, pathname, search)

    def _render_all(pathname: str | None, search: str | None) -> tuple:
        ctx = data.page_context(project, parse_search(search))
        lang = ctx.lang
        path = _page_path(pathname)
        page = html.Div([context_bar.bar(ctx, path, data.latest_date(project)), _render_page(renders, path, ctx)])
        nav = [
            dcc.Link(
                t(key, lang),
                href=p + (search or ""),
                id=f"nav-{module}",
                className="active" if p == path else None,
            )
            for p, (key, module) in PAGES.items()
        ]
        return (
            page,
            nav,
            t("app_title", lang),
            *[t(k, lang) for k in LABELS],
            *[t("all", lang) for _ in FILTER_KEYS],
            *[dropdown_labels(lang) for _ in FILTER_KEYS],
            "MMMM YYYY" if lang == "en" else "YYYY年M月",
            t("date_start", lang),
            t("date_end", lang),
        )

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input({"type": "opt", "key": ALL, "dflt": ALL}, "value"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def page_option(values: list[Any], search: str | None) -> Any:
        """A page's own choice (metric, dimension, grain, comparison, alert status) goes into the URL.

        Dash also calls this when a page inserts its controls; a control showing its default while the URL
        does not name it is then left out, so opening a page does not rewrite its address."""
        view = parse_search(search)
        options = dict(view.options)
        for spec, value in zip(callback_context.inputs_list[0], values, strict=True):
            key, default = spec["id"]["key"], spec["id"]["dflt"]
            if key in options or (value or "") != default:
                options[key] = value or ""
        new = View(view.start, view.end, view.filters, view.lang, {k: v for k, v in options.items() if v}).to_search()
        return new if new != (search or "") else no_update


def _render_page(renders: dict[str, Render], path: str, ctx: data.PageContext) -> Component:
    render = renders.get(path)
    if render is None:
        return html.Div("404", className="empty")
    outside = context_bar.out_of_scope(ctx)
    if outside:  # say so, rather than show the scope's data under a link that names other channels
        # the same denial (logged in the access log) as the API gives for these filters
        reason = "; ".join(f"filter {dim}={','.join(members)} is outside the scope" for dim, members in outside.items())
        denied = service.deny(ctx.project, ctx.user, reason)
        return context_bar.scope_notice(ctx, path, outside, denied.message)
    try:
        return render(ctx)
    except PermissionError as exc:
        return html.Div([html.H3(t("forbidden", ctx.lang)), html.P(str(exc))], className="error", id="page-error")
    except ChannelscopeError as exc:
        return html.Div([html.H3(t("error", ctx.lang)), html.P(str(exc))], className="error", id="page-error")


def _page_path(pathname: str | None) -> str:
    path = (pathname or "/").rstrip("/") or "/"
    return path


def _day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
