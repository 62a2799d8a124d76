"""Overview: KPI cards (value, change vs the previous period, sparkline, target attainment and pacing)
and the GMV change decomposed into visitors x conversion rate x AOV (LMDI: the parts add up)."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from channelscope.metrics.periods import parse_period
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import fmt_value, is_missing, t
from channelscope.web.dashboard.widgets import BAD, GOOD, change_badge, empty, figure, graph, number, section, sparkline

CARDS = ("gmv", "net_sales", "paid_orders", "visitors", "conversion_rate", "aov", "refund_rate", "contribution_margin")
PARTS = ("visitors", "channel_mix", "conversion_rate", "aov", "new_or_lost", "undecomposed")


def render(ctx: PageContext) -> Component:
    shown = ctx.cuttable(CARDS)  # a distributor view has no visitors or ad spend (traffic is per channel)
    now = ctx.kpis(shown, compare="previous")
    daily = ctx.kpis(shown, grain="day")
    targets = _targets(ctx)
    row = now.iloc[0] if len(now) else pd.Series(dtype=object)
    cards = [_card(ctx, m, row, daily, targets) for m in shown]
    decomposable = "visitors" in shown  # the identity needs traffic, which has no distributor
    return html.Div(
        [
            html.Div(_range_note(ctx), className="range-note", id="range-note"),
            html.Div(cards, className="cards", id="cards"),
            *([_decomposition(ctx)] if decomposable else []),
        ]
    )


def _range_note(ctx: PageContext) -> str:
    days = (ctx.end - ctx.start).days + 1
    prev_end = ctx.start - pd.Timedelta(days=1)
    prev_start = prev_end - pd.Timedelta(days=days - 1)
    return f"{ctx.start} – {ctx.end}  ·  {t('vs_previous', ctx.lang)} {prev_start} – {prev_end}"


def _card(ctx: PageContext, m: str, row: pd.Series, daily: pd.DataFrame, targets: dict[str, dict]) -> html.Div:
    unit = ctx.unit(m)
    up_is_good = bool(getattr(ctx.project.catalog.get(m), "up_is_good", True))
    value = row.get(m)
    parts: list[Any] = [
        html.Div(ctx.label(m), className="card-label"),
        number(f"card-{m}-value", value, unit, compact=True, class_name="card-value", lang=ctx.lang),
        html.Div(
            [
                change_badge(f"card-{m}-change", row.get(f"{m}_change_pct"), up_is_good),
                html.Span(f" {t('vs_previous', ctx.lang)} ", className="muted"),
                number(f"card-{m}-prev", row.get(f"{m}_prev"), unit, compact=True, class_name="muted", lang=ctx.lang),
            ],
            className="card-change",
        ),
    ]
    if len(daily) and m in daily:
        parts.append(sparkline(f"card-{m}-spark", daily["period"], daily[m].astype(float)))
    target = targets.get(m)
    if target:
        parts.append(_target_line(ctx, m, target))
    return html.Div(parts, className="card", id=f"card-{m}", title=_exact(value, unit))


def _exact(value: Any, unit: str) -> str:
    return fmt_value(value, unit)


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


def _target_line(ctx: PageContext, m: str, rec: dict) -> html.Div:
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
                    number(f"card-{m}-target", rec.get("target"), unit, compact=True, lang=ctx.lang),
                    html.Span(f"  {t('attainment', ctx.lang)} "),
                    number(f"card-{m}-attainment", att, "percent"),
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
                title=f"{t('expected_to_date', ctx.lang)} {fmt_value(rec.get('expected_to_date'), unit)}",
            ),
            html.Div(
                [
                    html.Span(f"{t('expected_to_date', ctx.lang)} "),
                    number(f"card-{m}-expected", rec.get("expected_to_date"), unit, compact=True, lang=ctx.lang),
                    html.Span(f" · {t('projection', ctx.lang)} "),
                    number(f"card-{m}-projected", rec.get("projected_attainment"), "percent"),
                ],
                className="target-text muted",
            ),
        ],
        className="target",
        id=f"card-{m}-target-box",
    )


def _decomposition(ctx: PageContext) -> Component:
    result = ctx.call(
        "explain_change", period=f"{ctx.start}..{ctx.end}", vs="previous", metric="gmv", by="channel", **_filters(ctx)
    )
    total = result.get("total") or {}
    if not total:
        return section(t("change_decomposition", ctx.lang), empty(t("no_data", ctx.lang)))
    parts = [p for p in PARTS if p in total and round(float(total[p]), 2) != 0]  # zero parts add nothing
    labels = [t("before", ctx.lang)] + [t(f"part_{p}", ctx.lang) for p in parts] + [t("after", ctx.lang)]
    values = [float(total["value_before"])] + [float(total[p]) for p in parts] + [float(total["value_after"])]
    measure = ["absolute"] + ["relative"] * len(parts) + ["total"]
    fig = go.Figure(
        go.Waterfall(
            x=labels,
            y=values,
            measure=measure,
            text=[
                _signed(v, ctx.lang) if k == "relative" else fmt_value(v, "money", compact=True, lang=ctx.lang)
                for v, k in zip(values, measure, strict=True)
            ],
            textposition="outside",
            increasing={"marker": {"color": GOOD}},
            decreasing={"marker": {"color": BAD}},
            totals={"marker": {"color": "#2563eb"}},
            connector={"line": {"color": "#cbd5e1"}},
            cliponaxis=False,
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
                html.Ul([html.Li(s) for s in list(texts)[:6]], className="explain", id="explain-text"),
            ],
            className="row",
        ),
        id_="decomposition-panel",
    )


def _signed(value: float, lang: str) -> str:
    text = fmt_value(abs(value), "money", compact=True, lang=lang)
    return ("+" if value >= 0 else "-") + text


def _filters(ctx: PageContext) -> dict[str, Any]:
    """explain_change takes the view's filters when the service offers them."""
    flt = ctx.view.filter_dict()
    return {"filters": flt} if flt else {}
