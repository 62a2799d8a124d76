"""The bar above every page: quick ranges (昨天, 近7天, 本月, 上月, 近30天), the comparison (previous period or
the same period last year), the signed-in channel manager's scope, and the notice of a link that asks for
data outside that scope (the page then shows nothing of it, and says so)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from dash import dcc, html

from channelscope.web.auth import User
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import t
from channelscope.web.dashboard.view import View

#: the comparison every page uses for "vs" (URL option ``vs``)
COMPARISONS = ("previous", "yoy")
QUICK = ("yesterday", "7d", "this_month", "last_month", "30d")


def comparison(view: View) -> str:
    """The view's comparison: ``previous`` (the default) or ``yoy`` (the same period last year)."""
    vs = view.option("vs", "previous")
    return vs if vs in COMPARISONS else "previous"


def compared_range(view: View, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The dates the view's range is compared with (as the KPI layer does: previous = as many days just before;
    yoy = the same dates a year earlier)."""
    from channelscope.metrics.periods import comparison_period

    b_start, b_end = comparison_period(start, end, comparison(view))
    return b_start, b_end


def quick_range(key: str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """The dates of a quick range, counted back from ``anchor`` (the latest day with data, i.e. yesterday for a
    daily load): yesterday, the last 7 or 30 days, this month to date, the whole previous month."""
    if key == "yesterday":
        return anchor, anchor
    if key == "7d":
        return anchor - dt.timedelta(days=6), anchor
    if key == "30d":
        return anchor - dt.timedelta(days=29), anchor
    first = anchor.replace(day=1)
    if key == "this_month":
        return first, anchor
    if key == "last_month":
        last = first - dt.timedelta(days=1)
        return last.replace(day=1), last
    raise ValueError(f"unknown quick range '{key}'")


def out_of_scope(ctx: PageContext) -> dict[str, list[str]]:
    """The view's filter members the user may not see, by dimension (empty for an unscoped user)."""
    return outside_members(ctx.user, ctx.view)


def outside_members(user: User, view: View) -> dict[str, list[str]]:
    """The members of ``view``'s filters outside ``user``'s scope, by dimension."""
    out: dict[str, list[str]] = {}
    if not user.scoped:
        return out
    for dim, allowed in (("channel", user.channels), ("distributor", user.distributors)):
        outside = [m for m in view.filters.get(dim, ()) if allowed and m not in allowed]
        if outside:
            out[dim] = outside
    return out


def bar(ctx: PageContext, path: str, anchor: dt.date | None) -> html.Div:
    """Quick ranges and the comparison as links (so they keep every other part of the view), and the scope."""
    lang = ctx.lang
    items: list[Any] = []
    if anchor is not None:
        links = []
        for key in QUICK:
            start, end = quick_range(key, anchor)
            active = (start, end) == (ctx.start, ctx.end)
            href = path + replace(ctx.view, start=start, end=end).to_search()
            links.append(
                dcc.Link(
                    t(f"quick_{key}", lang), href=href, id=f"quick-{key}", className="pill active" if active else "pill"
                )
            )
        items.append(html.Div(links, className="pills", id="quick-ranges"))
    vs = comparison(ctx.view)
    options = []
    for key in COMPARISONS:
        opts = {k: v for k, v in ctx.view.options.items() if k != "vs"}
        if key != "previous":
            opts["vs"] = key
        href = path + replace(ctx.view, options=opts).to_search()
        options.append(
            dcc.Link(t(f"cmp_{key}", lang), href=href, id=f"vs-{key}", className="pill active" if vs == key else "pill")
        )
    items.append(
        html.Div(
            [html.Span(t("compare_with", lang) + (":" if lang == "en" else "："), className="muted"), *options],
            className="pills",
            id="vs",
        )
    )
    items.append(as_of(ctx))
    if ctx.user.scoped:
        names = [ctx.channel_name(c) for c in ctx.user.channels] + [
            ctx.distributor_name(d) for d in ctx.user.distributors
        ]
        text = (
            f"{t('your_scope', lang)}: {', '.join(names)}"
            if lang == "en"
            else f"{t('your_scope', lang)}：{'、'.join(names)}"
        )
        items.append(html.Div(text, className="scope-note", id="scope-note"))
    return html.Div(items, className="context-bar", id="context-bar")


def as_of(ctx: PageContext) -> html.Span:
    """数据截至 2025-12-31 (the latest business date with orders, in the project's time zone), with the sources
    whose data is behind their cadence as its tooltip."""
    from channelscope.web import service

    fresh = service.data_as_of(ctx.project, ctx.user)
    day = fresh.get("data_as_of")
    stale = [r for r in fresh.get("rows", []) if r.get("state") == "stale"]
    tip = "\n".join(
        f"{r['source']} · {ctx.channel_name(r.get('channel'))}: {r.get('latest_date')} ({r.get('lag_days')}d)"
        for r in stale
    )
    text = f"{t('data_as_of', ctx.lang)} {day or '–'}（{fresh.get('timezone', '')}）"
    if ctx.lang == "en":
        text = f"{t('data_as_of', ctx.lang)} {day or '–'} ({fresh.get('timezone', '')})"
    if stale:
        text += " · " + t("stale_sources", ctx.lang).format(n=len({r["source"] for r in stale}))
    return html.Span(text, className="asof", id="data-as-of", title=tip or None)


def scope_notice(ctx: PageContext, path: str, outside: dict[str, list[str]], reason: str = "") -> html.Div:
    """What an out-of-scope link shows instead of the page: which members, and a link to the user's own data.
    ``reason`` is the denial as the access log records it (shown small, for support)."""
    lang = ctx.lang
    lines = []
    for dim, members in outside.items():
        # the ids as the link gives them: looking up their names would tell a scoped user about other channels
        names = "、".join(members)
        lines.append(html.P(t("out_of_scope", lang).format(dim=t(dim, lang), members=names)))
    filters = {k: tuple(v for v in vals if v not in outside.get(k, [])) for k, vals in ctx.view.filters.items()}
    href = path + replace(ctx.view, filters={k: v for k, v in filters.items() if v}).to_search()
    return html.Div(
        [
            html.H3(t("forbidden", lang)),
            *lines,
            *([html.P(reason, className="detail", id="scope-reason")] if reason else []),
            dcc.Link(t("show_my_scope", lang), href=href, id="scope-fix"),
        ],
        className="error",
        id="scope-error",
    )
