"""客户 / Customers: cohort heat map, retention curves by acquisition channel, RFM treemap and migration,
CLV by acquisition channel (with the holdout check), the channel overlap, and the behaviour paths (a Sankey of
the sessions of the view's date range, the funnel by channel and the most common paths).

Numbers come from ``web.customers_api.run`` with the user's scope, the same path as /api/customers; the end
of the view's date range is the as-of date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from channelscope.analysis.customer_labels import KINDS, STEP_NAMES, path_label
from channelscope.analysis.paths import EXIT
from channelscope.analysis.rfm import NEW, SEGMENT_CODES, segment_label
from channelscope.web.customers_api import customer_scope, run
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import t
from channelscope.web.dashboard.widgets import COLORS, empty, figure, graph, section, table

#: the migration compares the as-of date with this many days before
MIGRATION_DAYS = 180


def render(ctx: PageContext) -> Component:
    flt = ctx.view.filter_dict() or {}
    if flt.get("distributor") or flt.get("campaign"):
        return empty(t("cust_channel_only", ctx.lang))
    channels = customer_scope(ctx.project, ctx.user, list(flt.get("channel", [])))
    as_of = ctx.end
    lang = "zh" if ctx.lang.startswith("zh") else "en"

    def call(name: str, args: tuple, compute: Any) -> Any:
        return run(ctx.project, ctx.user, name, args, channels, compute)

    cohorts = call(
        "cohorts",
        ("month", "acquisition_channel", as_of),
        lambda c: c.cohorts(by="acquisition_channel", as_of=as_of, channels=channels),
    )
    if cohorts.empty:
        return empty(t("no_data", ctx.lang))
    segs = call("rfm", (as_of, lang), lambda c: c.rfm(as_of=as_of, channels=channels, lang=lang))
    start = as_of - dt.timedelta(days=MIGRATION_DAYS)
    mig = call("migration", (start, as_of), lambda c: c.migration(start, as_of, channels=channels))
    overlap = call("overlap", (as_of,), lambda c: c.overlap(as_of=as_of, channels=channels))
    clv = call("clv_page", (as_of,), lambda c: _clv(c, as_of, channels))
    start_b = ctx.start
    behaviour = call("paths_page", (start_b, as_of), lambda c: _behaviour(c, start_b, as_of, channels))
    return html.Div(
        [
            html.Div(
                [
                    section(
                        t("cust_cohorts", ctx.lang),
                        graph("cust-cohort-heatmap", _heatmap(ctx, cohorts)),
                        class_name="panel half",
                    ),
                    section(
                        t("cust_retention", ctx.lang),
                        graph("cust-retention", _curves(ctx, cohorts)),
                        class_name="panel half",
                    ),
                ],
                className="row",
            ),
            html.Div(
                [
                    section(
                        t("cust_rfm", ctx.lang), graph("cust-rfm-treemap", _treemap(segs)), class_name="panel half"
                    ),
                    section(
                        t("cust_migration", ctx.lang).format(start=start, end=as_of),
                        graph("cust-migration", _migration(mig, lang)),
                        class_name="panel half",
                    ),
                ],
                className="row",
            ),
            html.Div(
                [
                    section(t("cust_clv", ctx.lang), *_clv_panel(ctx, clv), class_name="panel half", id_="cust-clv"),
                    section(
                        t("cust_overlap", ctx.lang),
                        graph("cust-overlap", _overlap(ctx, overlap)),
                        class_name="panel half",
                    ),
                ],
                className="row",
            ),
            section(
                t("cust_paths", ctx.lang).format(start=start_b, end=as_of),
                *_behaviour_panel(ctx, behaviour),
                id_="cust-paths-panel",
            ),
            section(t("cust_rfm_table", ctx.lang), _segment_table(ctx, segs), id_="cust-rfm-panel"),
        ]
    )


def _behaviour(c: Any, start: dt.date, end: dt.date, channels: list[str] | None) -> dict[str, pd.DataFrame]:
    return {
        "sankey": c.sankey(start=start, end=end, channels=channels),
        "funnel": c.funnel(by=["channel"], start=start, end=end, channels=channels),
        "paths": c.paths(start=start, end=end, channels=channels, top=5),
    }


def _step(kind: str, lang: str) -> str:
    return STEP_NAMES.get(kind, (kind, kind))[0 if lang.startswith("zh") else 1]


def _sankey(ctx: PageContext, links: pd.DataFrame) -> go.Figure:
    """Sessions flowing from step to step (a node per step number and event type); 'exit' where a session
    without a purchase ends, a purchase ends a path."""
    nodes: dict[tuple[int, str], int] = {}

    def node(step: int, kind: str) -> int:
        return nodes.setdefault((step, kind), len(nodes))

    src = [node(int(r.step), str(r.source)) for r in links.itertuples()]
    dst = [node(int(r.step) + 1, str(r.target)) for r in links.itertuples()]
    colors = {"view": COLORS[0], "cart": COLORS[1], "favorite": COLORS[2], "purchase": COLORS[3], EXIT: "#bbbbbb"}
    labels = [f"{_step(k, ctx.lang)} ({s})" if k != EXIT else _step(k, ctx.lang) for (s, k) in nodes]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": labels,
                "color": [colors.get(k, COLORS[4]) for (_s, k) in nodes],
                "pad": 14,
                "thickness": 14,
            },
            link={"source": src, "target": dst, "value": links["sessions"].tolist()},
        )
    )
    return figure(fig, height=380, legend=False)


def _behaviour_panel(ctx: PageContext, b: dict[str, pd.DataFrame]) -> list[Any]:
    if b["funnel"].empty:
        return [html.P(t("cust_no_events", ctx.lang), className="muted", id="cust-paths-none")]
    lang = "zh" if ctx.lang.startswith("zh") else "en"
    seconds = lambda v: f"{v:,.0f}" if pd.notna(v) else "–"  # noqa: E731
    pct = lambda v: ctx.nf.value(v, "percent") if pd.notna(v) else "–"  # noqa: E731
    funnel = table(
        "cust-funnel",
        b["funnel"].to_dict("records"),
        [
            ("channel_id", t("channel", ctx.lang), lambda r: ctx.channel_name(r["channel_id"])),
            ("viewed", t("cust_viewed", ctx.lang), lambda r: ctx.nf.value(r["viewed"], "count")),
            ("engage_rate", t("cust_engage_rate", ctx.lang), lambda r: pct(r["engage_rate"])),
            ("purchase_rate", t("cust_purchase_rate", ctx.lang), lambda r: pct(r["purchase_rate"])),
            ("conversion", t("cust_conversion", ctx.lang), lambda r: pct(r["conversion"])),
            ("median_view_to_engage_s", t("cust_to_engage", ctx.lang), lambda r: seconds(r["median_view_to_engage_s"])),
            (
                "median_engage_to_purchase_s",
                t("cust_to_purchase", ctx.lang),
                lambda r: seconds(r["median_engage_to_purchase_s"]),
            ),
        ],
        key="channel_id",
        numeric=[
            "viewed",
            "engage_rate",
            "purchase_rate",
            "conversion",
            "median_view_to_engage_s",
            "median_engage_to_purchase_s",
        ],
    )
    paths = b["paths"].assign(key=lambda d: d["outcome"] + "-" + d["rank"].astype(str))
    top = table(
        "cust-top-paths",
        paths.to_dict("records"),
        [
            ("outcome", t("cust_outcome", ctx.lang), lambda r: KINDS[r["outcome"]][0 if lang == "zh" else 1]),
            ("path", t("cust_path", ctx.lang), lambda r: path_label(r["path"], lang)),
            ("sessions", t("cust_customers_sessions", ctx.lang), lambda r: ctx.nf.value(r["sessions"], "count")),
            ("share", t("cust_share", ctx.lang), lambda r: ctx.nf.value(r["share"], "percent")),
        ],
        key="key",
        numeric=["sessions", "share"],
    )
    return [
        html.Div(
            [
                html.Div([graph("cust-paths-sankey", _sankey(ctx, b["sankey"]))], className="panel half"),
                html.Div([html.H4(t("cust_top_paths", ctx.lang)), top], className="panel half"),
            ],
            className="row",
        ),
        html.H4(t("cust_funnel", ctx.lang)),
        funnel,
    ]


def _clv(c: Any, as_of: dt.date, channels: list[str] | None) -> dict[str, Any]:
    r = c.clv(holdout_end=as_of, holdout_days=180, channels=channels)
    return {"result": r, "cac": c.clv_cac(r, channels=channels)}


def _heatmap(ctx: PageContext, cohorts: pd.DataFrame) -> go.Figure:
    """Retention of all acquisition channels together: cohort month (rows) x months since acquisition."""
    g = cohorts.groupby(["cohort", "period"], as_index=False)[["customers", "cohort_size"]].sum()
    m = g.pivot_table(index="cohort", columns="period", values="customers", aggfunc="sum")
    size = cohorts[cohorts["period"] == 0].groupby("cohort")["cohort_size"].sum()
    rate = m.div(size, axis=0)
    fig = go.Figure(
        go.Heatmap(
            z=rate.to_numpy(),
            x=[str(c) for c in rate.columns],
            y=[str(i) for i in rate.index],
            colorscale="Blues",
            zmin=0,
            zmax=float(rate.drop(columns=0, errors="ignore").max().max() or 1),
            hovertemplate="%{y} +%{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig = figure(fig, height=380, legend=False)
    fig.update_xaxes(title=t("cust_months_since", ctx.lang))
    return fig


def _curves(ctx: PageContext, cohorts: pd.DataFrame) -> go.Figure:
    """Per acquisition channel: customers active n months after acquisition over the customers of the cohorts
    old enough to have a month n (like for like)."""
    fig = go.Figure()
    max_period = cohorts.groupby("cohort")["period"].transform("max")
    for i, (channel, part) in enumerate(cohorts.groupby("acquisition_channel")):
        ages = part.groupby("cohort")["period"].max()
        sizes = part[part["period"] == 0].set_index("cohort")["cohort_size"]
        xs, ys = [], []
        for n in sorted(part["period"].unique()):
            if n == 0:
                continue
            eligible = ages.index[ages >= n]
            denom = float(sizes.reindex(eligible).sum())
            num = float(part[(part["period"] == n) & part["cohort"].isin(eligible)]["customers"].sum())
            if denom:
                xs.append(int(n))
                ys.append(num / denom)
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, name=ctx.channel_name(channel), mode="lines", line={"color": COLORS[i % len(COLORS)]}
            )
        )
    del max_period
    fig = figure(fig, height=380)
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(title=t("cust_months_since", ctx.lang))
    return fig


def _treemap(segs: pd.DataFrame) -> go.Figure:
    rows = segs[segs["customers"] > 0]
    fig = go.Figure(
        go.Treemap(
            labels=rows["label"].tolist(),
            parents=[""] * len(rows),
            values=rows["customers"].tolist(),
            texttemplate="%{label}<br>%{value:,}<br>%{percentRoot:.1%}",
            marker={"colors": COLORS[: len(rows)]},
        )
    )
    return figure(fig, height=380, legend=False)


def _migration(m: pd.DataFrame, lang: str) -> go.Figure:
    rows = [*SEGMENT_CODES, NEW]
    fig = go.Figure(
        go.Heatmap(
            z=m.reindex(index=rows, columns=list(SEGMENT_CODES)).to_numpy(),
            x=[segment_label(s, lang) for s in SEGMENT_CODES],
            y=[segment_label(s, lang) for s in rows],
            colorscale="Purples",
            texttemplate="%{z:,}",
            hovertemplate="%{y} → %{x}: %{z:,}<extra></extra>",
        )
    )
    fig = figure(fig, height=380, legend=False)
    fig.update_yaxes(autorange="reversed")
    return fig


def _overlap(ctx: PageContext, m: pd.DataFrame) -> go.Figure:
    names = [ctx.channel_name(c) for c in m.index]
    fig = go.Figure(go.Heatmap(z=m.to_numpy(), x=names, y=names, colorscale="Greens", texttemplate="%{z:,}"))
    fig = figure(fig, height=380, legend=False)
    fig.update_yaxes(autorange="reversed")
    return fig


def _clv_panel(ctx: PageContext, clv: dict[str, Any]) -> list[Any]:
    r, cac = clv["result"], clv["cac"]
    if not r.bgnbd.ok:
        return [html.P(f"{t('cust_clv_none', ctx.lang)}: {r.reason}", className="muted", id="cust-clv-reason")]
    roll = r.rollup
    fig = go.Figure(
        go.Bar(
            x=[ctx.channel_name(c) for c in roll["acquisition_channel"]],
            y=roll.get("value_365d_per_customer", pd.Series(dtype=float)).tolist(),
            marker={"color": COLORS[0]},
        )
    )
    fig = figure(fig, height=260, legend=False)
    fig.update_yaxes(title=t("cust_clv_365", ctx.lang))
    parts: list[Any] = [graph("cust-clv-bars", fig)]
    if r.holdout is not None:
        pred, act = float(r.holdout["predicted"].sum()), float(r.holdout["actual"].sum())
        parts.append(
            html.P(
                t("cust_holdout", ctx.lang).format(
                    start=r.calibration_end, end=r.holdout_end, pred=f"{pred:,.0f}", act=f"{act:,.0f}"
                ),
                className="muted",
                id="cust-clv-holdout",
            )
        )
    if len(cac) and "cac" in cac:
        rows = cac.to_dict("records")
        parts.append(
            table(
                "cust-cac",
                rows,
                [
                    (
                        "acquisition_channel",
                        t("channel", ctx.lang),
                        lambda r: ctx.channel_name(r["acquisition_channel"]),
                    ),
                    ("new_customers", t("cust_new", ctx.lang), lambda r: ctx.nf.value(r["new_customers"], "count")),
                    ("cac", "CAC", lambda r: ctx.nf.value(r["cac"], "money") if pd.notna(r["cac"]) else "–"),
                    ("clv_365d", t("cust_clv_365", ctx.lang), lambda r: ctx.nf.value(r["clv_365d"], "money")),
                    (
                        "clv_to_cac",
                        "CLV / CAC",
                        lambda r: f"{r['clv_to_cac']:.1f}" if pd.notna(r["clv_to_cac"]) else "–",
                    ),
                ],
                key="acquisition_channel",
                numeric=["new_customers", "cac", "clv_365d", "clv_to_cac"],
            )
        )
    return parts


def _segment_table(ctx: PageContext, segs: pd.DataFrame) -> Any:
    return table(
        "cust-rfm-table",
        segs.to_dict("records"),
        [
            ("label", t("cust_segment", ctx.lang), lambda r: r["label"]),
            ("customers", t("cust_customers", ctx.lang), lambda r: ctx.nf.value(r["customers"], "count")),
            ("share", t("cust_share", ctx.lang), lambda r: ctx.nf.value(r["share"], "percent")),
            ("monetary", t("cust_monetary", ctx.lang), lambda r: ctx.nf.value(r["monetary"], "money")),
            (
                "recency_days",
                t("cust_recency", ctx.lang),
                lambda r: f"{r['recency_days']:.0f}" if pd.notna(r["recency_days"]) else "–",
            ),
            (
                "frequency",
                t("cust_frequency", ctx.lang),
                lambda r: f"{r['frequency']:.2f}" if pd.notna(r["frequency"]) else "–",
            ),
        ],
        key="segment",
        numeric=["customers", "share", "monetary", "recency_days", "frequency"],
    )
