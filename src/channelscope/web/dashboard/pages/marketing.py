"""营销 / Marketing: ROI by basis (口径), attribution models side by side, promotion uplift against its
counterfactual, response curves per ad platform and the budget allocator.

The models are fitted on the project's whole history (the media mix model needs it), not on the
view's date range; the page says so. Channel-scoped users are told why they cannot see it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from channelscope.errors import ChannelscopeError
from channelscope.numbers import NumberFormat
from channelscope.web import marketing
from channelscope.web.auth import AccessDenied
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import t
from channelscope.web.dashboard.widgets import COLORS, empty, figure, graph, section, table

MODELS = ("first", "last", "last_non_direct", "linear", "time_decay", "position", "markov", "shapley")


def render(ctx: PageContext) -> Component:
    try:
        roi = marketing.roi(ctx.project, ctx.user)
        fit = marketing.media_mix(ctx.project, ctx.user)
        attributed = marketing.attribution(ctx.project, ctx.user, by="channel")
        uplift, daily = marketing.uplift(ctx.project, ctx.user)
        plan = marketing.allocation(ctx.project, ctx.user)
    except AccessDenied:
        return empty(t("mkt_scoped", ctx.lang))
    except ChannelscopeError as exc:
        return empty(f"{t('no_data', ctx.lang)}: {exc}")
    lang = ctx.lang
    f = fit.fit
    note = t("mkt_note", lang).format(
        days=int(f["days"]), r2=f["r2"], mape=f["mape"] * 100, oos=f["mape_out_of_sample"] * 100, secs=f["fit_seconds"]
    )
    return html.Div(
        [
            html.P(note, className="muted", id="mkt-note"),
            *([] if f["reliable"] else [html.P(t("mkt_unreliable", lang), className="empty", id="mkt-unreliable")]),
            section(t("mkt_roi", lang), _roi_table(ctx, roi), id_="mkt-roi-panel"),
            html.Div(
                [
                    section(
                        t("mkt_attribution", lang),
                        graph("mkt-attribution", _attribution(ctx, attributed.credits)),
                        class_name="panel half",
                    ),
                    section(t("mkt_curves", lang), graph("mkt-curves", _curves(ctx, fit)), class_name="panel half"),
                ],
                className="row",
            ),
            section(
                t("mkt_uplift", lang),
                graph("mkt-uplift-chart", _uplift_chart(ctx, daily)),
                _uplift_table(ctx, uplift),
                id_="mkt-uplift-panel",
            ),
            section(
                t("mkt_allocator", lang),
                html.P(
                    t("mkt_gain", lang).format(
                        gain=ctx.nf.value(plan.expected_gain, "money"),
                        low=ctx.nf.value(plan.gain_low, "money"),
                        high=ctx.nf.value(plan.gain_high, "money"),
                    ),
                    id="mkt-gain",
                ),
                _allocation_table(ctx, plan.platforms),
                id_="mkt-allocator-panel",
            ),
        ]
    )


def _money(v: Any, ctx: PageContext) -> str:
    """Money in the project's currency, in full (a table: no 万/亿 scale; channelscope.numbers)."""
    return ctx.nf.value(v, "money")


def _ratio(v: Any) -> str:
    return NumberFormat().value(v, "ratio")


def _roi_table(ctx: PageContext, roi: pd.DataFrame) -> html.Table:
    lang = ctx.lang
    cols: list[tuple[str, str, Any]] = [
        ("campaign_id", t("campaign", lang), lambda r: r["campaign_id"]),
        ("platform", t("mkt_platform", lang), lambda r: r["platform"]),
        ("spend", t("mkt_spend", lang), lambda r: _money(r["spend"], ctx)),
        ("discount_cost", t("mkt_discount_cost", lang), lambda r: _money(r["discount_cost"], ctx)),
        ("cost", t("mkt_cost", lang), lambda r: _money(r["cost"], ctx)),
    ]
    for basis in ("platform", "orders", "attributed", "incremental"):
        cols.append((f"roas_{basis}", t(f"mkt_roas_{basis}", lang), lambda r, b=basis: _ratio(r[f"roas_{b}"])))
    cols.append(("roas_cost", t("mkt_roas_cost", lang), lambda r: _ratio(r["roas_cost"])))
    cols.append(("marginal_roas", t("mkt_marginal", lang), lambda r: _ratio(r["marginal_roas"])))
    numeric = [c for c, _, _ in cols[2:]]
    return table("mkt-roi", roi.to_dict("records"), cols, key="campaign_id", numeric=numeric)


def _attribution(ctx: PageContext, credits: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for i, model in enumerate(MODELS):
        part = credits[credits["model"] == model]
        fig.add_bar(
            name=t(f"mkt_model_{model}", ctx.lang),
            x=[ctx.channel_name(c) for c in part["label"]],
            y=part["conversions"],
            marker_color=COLORS[i % len(COLORS)],
        )
    fig.update_layout(barmode="group")
    return figure(fig, height=340)


def _curves(ctx: PageContext, fit: Any) -> go.Figure:
    curves = fit.response_curves()
    fig = go.Figure()
    for i, (platform, part) in enumerate(curves.groupby("platform", sort=True)):
        color = COLORS[i % len(COLORS)]
        fig.add_scatter(x=part["spend"], y=part["contribution"], name=str(platform), mode="lines", line_color=color)
        today = part[part["scale"].round(6) == 1.0]
        fig.add_scatter(x=today["spend"], y=today["contribution"], mode="markers", marker_color=color, showlegend=False)
    fig.update_xaxes(title_text=t("mkt_spend", ctx.lang))
    fig.update_yaxes(title_text=t("mkt_contribution", ctx.lang))
    return figure(fig, height=340)


def _uplift_chart(ctx: PageContext, daily: pd.DataFrame) -> go.Figure:
    """Each promotion's window and hangover: actual days against the counterfactual and its 95% band
    (one set of traces per promotion, so nothing is drawn between promotions)."""
    fig = go.Figure()
    if daily.empty:
        return figure(fig)
    first = True
    for _, d in daily.groupby("start", sort=True):
        d = d.sort_values("date")
        fig.add_scatter(
            x=pd.concat([d["date"], d["date"][::-1]]),
            y=pd.concat([d["high"], d["low"][::-1]]),
            fill="toself",
            fillcolor="rgba(37,99,235,0.15)",
            line={"width": 0},
            name=t("mkt_interval", ctx.lang),
            legendgroup="band",
            showlegend=first,
            hoverinfo="skip",
        )
        fig.add_scatter(
            x=d["date"],
            y=d["counterfactual"],
            mode="lines+markers",
            name=t("mkt_counterfactual", ctx.lang),
            legendgroup="cf",
            showlegend=first,
            line={"dash": "dot", "color": COLORS[0]},
        )
        fig.add_scatter(
            x=d["date"],
            y=d["actual"],
            mode="markers",
            name=t("mkt_actual", ctx.lang),
            legendgroup="actual",
            showlegend=first,
            marker_color=COLORS[1],
        )
        first = False
    return figure(fig, height=320)


def _uplift_table(ctx: PageContext, uplift: pd.DataFrame) -> html.Table:
    lang = ctx.lang
    cols: list[tuple[str, str, Any]] = [
        ("promotion", t("mkt_promotion", lang), lambda r: r["promotion"]),
        ("start", t("dates", lang), lambda r: f"{r['start']} ({r['days']}d)"),
        ("uplift", t("mkt_uplift_value", lang), lambda r: _money(r["uplift"], ctx)),
        (
            "interval",
            t("mkt_interval", lang),
            lambda r: f"{_money(r['uplift_low'], ctx)} – {_money(r['uplift_high'], ctx)}",
        ),
        ("uplift_pct", t("mkt_uplift_pct", lang), lambda r: ctx.nf.value(r["uplift_pct"], "percent")),
        ("dip", t("mkt_dip", lang), lambda r: _money(r["dip"], ctx)),
        ("hangover", t("mkt_hangover", lang), lambda r: _money(r["hangover"], ctx)),
        ("net_uplift", t("mkt_net", lang), lambda r: _money(r["net_uplift"], ctx)),
        ("cannibalization", t("mkt_cannibalization", lang), lambda r: _money(r.get("cannibalization"), ctx)),
    ]
    return table("mkt-uplift", uplift.to_dict("records"), cols, key="start", numeric=[c for c, _, _ in cols[2:]])


def _allocation_table(ctx: PageContext, rows: pd.DataFrame) -> html.Table:
    lang = ctx.lang
    cols: list[tuple[str, str, Any]] = [
        ("platform", t("mkt_platform", lang), lambda r: r["platform"]),
        ("current_spend", t("mkt_current", lang), lambda r: _money(r["current_spend"], ctx)),
        ("recommended_spend", t("mkt_recommended", lang), lambda r: _money(r["recommended_spend"], ctx)),
        ("scale", "×", lambda r: _ratio(r["scale"])),
        ("expected_contribution", t("mkt_contribution", lang), lambda r: _money(r["expected_contribution"], ctx)),
    ]
    return table("mkt-allocation", rows.to_dict("records"), cols, key="platform", numeric=[c for c, _, _ in cols[1:]])
