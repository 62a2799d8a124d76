"""Overview: KPI cards (value, change vs the previous period or the same period last year, sparkline, target
attainment and pacing), each opening Trends for its metric; and the GMV change decomposed into visitors x
conversion rate x AOV (LMDI: the parts add up): a bar opens Trends for that driver by channel, a channel's
sentence opens that channel."""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component

from channelscope.metrics.periods import parse_period
from channelscope.numbers import NumberFormat, change_value
from channelscope.web.dashboard.context_bar import compared_range, comparison
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import is_missing, t
from channelscope.web.dashboard.view import parse_search
from channelscope.web.dashboard.widgets import BAD, GOOD, change_badge, empty, figure, graph, number, section, sparkline

if TYPE_CHECKING:
    from dash import Dash

    from channelscope.project import Project

CARDS = ("gmv", "net_sales", "paid_orders", "visitors", "conversion_rate", "aov", "refund_rate", "contribution_margin")
PARTS = ("visitors", "channel_mix", "conversion_rate", "aov", "new_or_lost", "undecomposed")


def render(ctx: PageContext) -> Component:
    shown = ctx.cuttable(CARDS)  # a distributor view has no visitors or ad spend (traffic is per channel)
    now = ctx.kpis(shown, compare=comparison(ctx.view))
    daily = ctx.kpis(shown, grain="day")
    targets = _targets(ctx)
    row = now.iloc[0] if len(now) else pd.Series(dtype=object)
    nf = _view_format(ctx, shown, row, targets)
    coverage = ctx.coverage(shown)
    cards = [_card(ctx, nf, m, row, daily, targets, coverage) for m in shown]
    decomposable = "visitors" in shown  # the identity needs traffic, which has no distributor
    return html.Div(
        [
            html.Div(_range_note(ctx), className="range-note", id="range-note"),
            html.Div(cards, className="cards", id="cards"),
            *([_decomposition(ctx)] if decomposable else []),
        ]
    )


def _vs_word(ctx: PageContext) -> str:
    return t("vs_yoy" if comparison(ctx.view) == "yoy" else "vs_previous", ctx.lang)


def _range_note(ctx: PageContext) -> str:
    b_start, b_end = compared_range(ctx.view, ctx.start, ctx.end)
    return f"{ctx.start} – {ctx.end}  ·  {_vs_word(ctx)} {b_start} – {b_end}"


def _view_format(ctx: PageContext, shown: list[str], row: pd.Series, targets: dict[str, dict]) -> NumberFormat:
    """One 万/亿 (K/M) scale for every amount on the page: the cards' values, their bases and the targets."""
    amounts: list[Any] = []
    for m in shown:
        if ctx.is_amount(m):
            amounts += [row.get(m), row.get(f"{m}_prev")]
            rec = targets.get(m) or {}
            amounts += [rec.get("target"), rec.get("expected_to_date")]
    return ctx.nf.scaled(amounts)


def _card(
    ctx: PageContext,
    nf: NumberFormat,
    m: str,
    row: pd.Series,
    daily: pd.DataFrame,
    targets: dict[str, dict],
    coverage: dict[tuple[str, str], str],
) -> dcc.Link:
    unit = ctx.unit(m)
    up_is_good = bool(getattr(ctx.project.catalog.get(m), "up_is_good", True))
    value, prev = row.get(m), row.get(f"{m}_prev")
    scaled = ctx.is_amount(m)
    change = change_value(value, prev, unit) if unit == "percent" else row.get(f"{m}_change_pct")
    left_out = ctx.left_out(coverage, m)
    why = "; ".join(left_out) or None
    basis = ctx.basis(m)
    parts: list[Any] = [
        html.Div(ctx.label(m), className="card-label", id=f"card-{m}-label", title=basis or None),
        number(f"card-{m}-value", value, unit, nf, scaled=scaled, class_name="card-value", missing=why),
        html.Div(
            [
                change_badge(f"card-{m}-change", change, unit, nf, up_is_good),
                html.Span(f" {_vs_word(ctx)} ", className="muted"),
                number(f"card-{m}-prev", prev, unit, nf, scaled=scaled, class_name="muted"),
            ],
            className="card-change",
        ),
    ]
    if len(daily) and m in daily:
        parts.append(sparkline(f"card-{m}-spark", daily["period"], daily[m].astype(float)))
    if left_out and not is_missing(value):  # a like-for-like total: say which channels it leaves out
        parts.append(
            html.Div(
                f"{t('left_out', ctx.lang)}: {'; '.join(left_out)}"
                if ctx.lang == "en"
                else f"{t('left_out', ctx.lang)}：{'、'.join(left_out)}",
                className="coverage-note",
                id=f"card-{m}-coverage",
            )
        )
    target = targets.get(m)
    if target:
        parts.append(_target_line(ctx, nf, m, target))
    tip = "\n".join(x for x in (nf.full(value, unit), basis, t("open_trends", ctx.lang)) if x)
    return dcc.Link(
        html.Div(parts, className="card", id=f"card-{m}", title=tip),
        href=ctx.trends_href(m),
        id=f"card-{m}-link",
        className="card-link",
    )


def _targets(ctx: PageContext) -> dict[str, dict]:
    """Whole-business targets whose period contains the end of the range, by metric (filters off only:
    a target for all channels says nothing about one channel)."""
    if ctx.view.filter_dict():
        return {}
    frame = ctx.call("targets_table", as_of=ctx.end)
    if frame is None or frame.empty:
        return {}
    out: dict[str, dict] = {}
    for rec in frame.to_dict("records"):
        if _named(rec.get("channel")) or _named(rec.get("distributor")):
            continue
        first, last = parse_period(str(rec["period"]))
        if first <= ctx.end <= last:
            out.setdefault(str(rec["metric"]), rec)
    return out


def _named(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _target_line(ctx: PageContext, nf: NumberFormat, m: str, rec: dict) -> html.Div:
    unit = ctx.unit(m)
    att: Any = rec.get("attainment")
    share: Any = rec.get("elapsed_share")
    pace_ok = not is_missing(rec.get("gap")) and float(rec["gap"]) >= 0
    bar_w = 0.0 if is_missing(att) else max(0.0, min(float(att), 1.0)) * 100
    marker = 0.0 if is_missing(share) else max(0.0, min(float(share), 1.0)) * 100
    return html.Div(
        [
            html.Div(
                [
                    html.Span(f"{t('target', ctx.lang)} {rec['period']}: "),
                    number(f"card-{m}-target", rec.get("target"), unit, nf, scaled=ctx.is_amount(m)),
                    html.Span(f"  {t('attainment', ctx.lang)} "),
                    number(f"card-{m}-attainment", att, "percent", nf),
                ],
                className="target-text",
            ),
            html.Div(
                [
                    html.Div(
                        className="bar-fill", style={"width": f"{bar_w:.1f}%", "background": GOOD if pace_ok else BAD}
                    ),
                    html.Div(className="bar-mark", style={"left": f"{marker:.1f}%"}),
                ],
                className="bar",
                title=f"{t('expected_to_date', ctx.lang)} {nf.full(rec.get('expected_to_date'), unit)}",
            ),
            html.Div(
                [
                    html.Span(f"{t('expected_to_date', ctx.lang)} "),
                    number(f"card-{m}-expected", rec.get("expected_to_date"), unit, nf, scaled=ctx.is_amount(m)),
                    html.Span(f" · {t('projection', ctx.lang)} "),
                    number(f"card-{m}-projected", rec.get("projected_attainment"), "percent", nf),
                ],
                className="target-text muted",
            ),
        ],
        className="target",
        id=f"card-{m}-target-box",
    )


#: the metric a driver of the decomposition opens in Trends (by channel)
DRIVER_METRIC = {
    "visitors": "visitors",
    "channel_mix": "gmv",
    "conversion_rate": "conversion_rate",
    "aov": "aov",
    "new_or_lost": "gmv",
    "undecomposed": "gmv",
}
_MEMBER = re.compile(r"^\[([^\]]+)\]\s*")


def _decomposition(ctx: PageContext) -> Component:
    vs = comparison(ctx.view)
    result = ctx.call(
        "explain_change", period=f"{ctx.start}..{ctx.end}", vs=vs, metric="gmv", by="channel", **_filters(ctx)
    )
    total = result.get("total") or {}
    if not total:
        return section(t("change_decomposition", ctx.lang), empty(t("no_data", ctx.lang)))
    parts = [p for p in PARTS if p in total and round(float(total[p]), 2) != 0]  # zero parts add nothing
    labels = [t("before", ctx.lang)] + [t(f"part_{p}", ctx.lang) for p in parts] + [t("after", ctx.lang)]
    values = [float(total["value_before"])] + [float(total[p]) for p in parts] + [float(total["value_after"])]
    measure = ["absolute"] + ["relative"] * len(parts) + ["total"]
    links = [ctx.trends_href("gmv", by="channel")]
    links += [ctx.trends_href(DRIVER_METRIC.get(p, "gmv"), by="channel") for p in parts]
    links += [ctx.trends_href("gmv", by="channel")]
    nf = ctx.nf.scaled(values)  # one scale for the bars' labels
    fig = go.Figure(
        go.Waterfall(
            x=labels,
            y=values,
            measure=measure,
            customdata=links,
            text=[
                _signed(nf, v) if k == "relative" else nf.value(v, "money", scaled=True)
                for v, k in zip(values, measure, strict=True)
            ],
            textposition="outside",
            increasing={"marker": {"color": GOOD}},
            decreasing={"marker": {"color": BAD}},
            totals={"marker": {"color": "#2563eb"}},
            connector={"line": {"color": "#cbd5e1"}},
            cliponaxis=False,
            hovertemplate="%{x}: %{text}<br>" + t("open_trends", ctx.lang) + "<extra></extra>",
        )
    )
    levels = list(itertools.accumulate(values[:-1]))
    lo, hi = min(levels + values[-1:]), max(levels + values[-1:])
    pad = max(hi - lo, abs(hi) * 0.02)
    # zoom on the moves: the bars start well above zero, which the before/after labels make plain
    fig.update_yaxes(range=[max(0.0, lo - pad * 1.2), hi + pad * 0.4], tickformat=",.0f")
    texts = result.get("sentences") or result.get("text") or []
    if isinstance(texts, dict):
        texts = texts.get(ctx.lang) or texts.get("zh-CN") or []
    return section(
        t("change_decomposition", ctx.lang),
        html.Div(
            [
                html.Div(graph("decomposition", figure(fig, height=300, legend=False)), className="grow"),
                html.Ul([_sentence(ctx, s) for s in list(texts)[:6]], className="explain", id="explain-text"),
            ],
            className="row",
        ),
        id_="decomposition-panel",
    )


def _sentence(ctx: PageContext, text: str) -> html.Li:
    """A decomposition sentence; a channel's (``[tmall] GMV ...``) names the channel and opens it."""
    hit = _MEMBER.match(text)
    if not hit:
        return html.Li(text)
    channel = hit.group(1)
    rest = text[hit.end() :]
    return html.Li(
        dcc.Link(
            [html.B(ctx.channel_name(channel)), " ", rest],
            href=ctx.href("/", channel=channel),
            id=f"explain-{channel}",
            title=t("open_channel", ctx.lang),
        )
    )


def _signed(nf: NumberFormat, value: float) -> str:
    text = nf.value(abs(value), "money", scaled=True)
    return ("+" if value >= 0 else "-") + text


def _filters(ctx: PageContext) -> dict[str, Any]:
    """explain_change takes the view's filters when the service offers them."""
    flt = ctx.view.filter_dict()
    return {"filters": flt} if flt else {}


def register(app: Dash, project: Project) -> None:
    """A click on a bar of the decomposition opens Trends for that driver, by channel."""

    @app.callback(
        Output("url", "pathname", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Input("decomposition", "clickData"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def open_driver(click: dict | None, search: str | None) -> tuple:
        points = (click or {}).get("points") or []
        href = points[0].get("customdata") if points else None
        if not isinstance(href, str) or not href.startswith("/trends"):
            return no_update, no_update
        path, _, query = href.partition("?")
        lang = parse_search(search).lang
        return path, "?" + query if query else (f"?lang={lang}" if lang else "")
