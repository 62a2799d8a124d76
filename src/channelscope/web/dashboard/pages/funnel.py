"""Funnel by channel: impressions -> visitors -> add to cart -> orders -> paid -> kept (not refunded),
the whole business as a funnel and each channel's step rates as a table."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import html
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import is_missing, t
from channelscope.web.dashboard.widgets import (
    COLORS,
    empty,
    export_links,
    figure,
    graph,
    number,
    section,
    sort_header,
    sort_rows,
    table,
)

STAGES = (
    ("impressions", "stage_impressions"),
    ("visitors", "stage_visitors"),
    ("add_to_cart", "stage_cart"),
    ("orders", "stage_orders"),
    ("paid_orders", "stage_paid"),
    ("kept_orders", "stage_kept"),
)


#: the KPI whose coverage tells why a stage is empty for a channel (traffic stages need traffic; kept, refunds)
STAGE_METRIC = {
    "impressions": "visitors",
    "visitors": "visitors",
    "add_to_cart": "visitors",
    "kept_orders": "refund_rate",
}


def render(ctx: PageContext) -> Component:
    flt = ctx.view.filter_dict()
    by_channel = ctx.call("funnel_by_channel", start=ctx.start, end=ctx.end, filters=flt)
    total = ctx.call("funnel", start=ctx.start, end=ctx.end, filters=flt)
    if by_channel is None or by_channel.empty:
        return empty(t("no_data", ctx.lang))
    values = {str(r["stage"]): r["value"] for r in total.to_dict("records")}
    values["kept_orders"] = float(by_channel["kept_orders"].sum())
    drawn, missing, left_out = like_for_like(ctx, by_channel)
    return html.Div(
        [
            html.Div(
                [
                    section(
                        t("funnel_title", ctx.lang),
                        html.Div(
                            [
                                html.Span(f"{t('stage_impressions', ctx.lang)}: ", className="muted"),
                                number("funnel-total-impressions", values.get("impressions"), "count", ctx.nf),
                            ]
                        ),
                        graph("funnel-chart", _chart(ctx, drawn, missing)),
                        *_left_out_note(ctx, left_out),
                        class_name="panel half",
                    ),
                    section(
                        t("funnel_rates", ctx.lang),
                        graph("funnel-channels", _bars(ctx, by_channel)),
                        class_name="panel half",
                    ),
                ],
                className="row",
            ),
            section(
                t("funnel_table", ctx.lang),
                export_links(
                    "funnel-export",
                    ctx.lang,
                    metrics=[m for m, _ in STAGES if m in ctx.project.catalog] + ["refund_count"],
                    by=["channel"],
                    start=ctx.start,
                    end=ctx.end,
                    filters=flt,
                ),
                _table(ctx, by_channel.to_dict("records"), values),
                id_="funnel-panel",
            ),
        ]
    )


def like_for_like(
    ctx: PageContext, by_channel: Any
) -> tuple[dict[str, float | None], dict[str, str], list[tuple[str, str]]]:
    """The whole funnel like for like: every stage summed over the channels that send traffic (so no step
    divides one set of channels by another). A stage no channel of that set reports (traffic when none sends
    it; kept orders when one has no refund feed) is missing, with its reason. Returns the drawn values, the
    missing stages' reasons and the channels left out with theirs."""
    coverage = ctx.coverage(sorted(set(STAGE_METRIC.values())))
    rows = by_channel.to_dict("records")
    with_traffic = [r for r in rows if not is_missing(r.get("visitors"))]
    left_out = [
        (str(r["channel"]), coverage.get(("visitors", str(r["channel"]))) or t("missing", ctx.lang))
        for r in rows
        if is_missing(r.get("visitors"))
    ]
    chosen = with_traffic or rows
    drawn: dict[str, float | None] = {}
    missing: dict[str, str] = {}
    for stage, _ in STAGES:
        gaps = [r for r in chosen if is_missing(r.get(stage))]
        if gaps:
            metric = STAGE_METRIC.get(stage, stage)
            colon, sep = (": ", "; ") if ctx.lang == "en" else ("：", "；")
            reasons = [
                f"{ctx.channel_name(r['channel'])}{colon}{coverage.get((metric, str(r['channel'])), '')}" for r in gaps
            ]
            missing[stage] = sep.join(reasons)
            drawn[stage] = None
        else:
            drawn[stage] = float(sum(float(r[stage]) for r in chosen))
    if not with_traffic:
        left_out = []
    return drawn, missing, left_out


def _left_out_note(ctx: PageContext, left_out: list[tuple[str, str]]) -> list[Any]:
    if not left_out:
        return []
    if ctx.lang == "en":
        return [
            html.Div(
                "like for like, not counted: " + "; ".join(f"{ctx.channel_name(ch)} ({why})" for ch, why in left_out),
                className="muted note",
                id="funnel-left-out",
            )
        ]
    names = "；".join(f"{ctx.channel_name(ch)}（{why}）" for ch, why in left_out)
    text = f"同口径比较，不含：{names}"
    return [html.Div(text, className="muted note", id="funnel-left-out")]


def _chart(ctx: PageContext, values: dict[str, float | None], missing: dict[str, str]) -> go.Figure:
    """From visitors down: impressions are ~30x visitors and would flatten every later step (they head the
    panel and the table instead). A missing stage has no bar and reads 数据缺失 / no data with its reason;
    the rate of the step after it is empty (nothing to divide by)."""
    stages = STAGES[1:]
    labels = [t(key, ctx.lang) for _, key in stages]
    word = t("missing", ctx.lang)
    xs: list[float | None] = []
    texts: list[str] = []
    prev: float | None = None
    for i, (stage, _) in enumerate(stages):
        v = values.get(stage)
        xs.append(v)
        if v is None:
            texts.append("")
        else:
            rate = v / prev if i and prev else None
            texts.append(ctx.nf.value(v, "count") + (" · " + ctx.nf.value(rate, "percent") if rate is not None else ""))
        prev = v
    fig = go.Figure(
        go.Funnel(
            y=labels,
            x=xs,
            text=texts,
            textinfo="text",
            hoverinfo="y+text",
            marker={"color": COLORS[: len(xs)]},
            connector={"line": {"color": "#cbd5e1"}},
        )
    )
    for (stage, _), label in zip(stages, labels, strict=True):
        if values.get(stage) is None:
            why = missing.get(stage, "")
            fig.add_annotation(
                x=0,
                y=label,
                text=(f"{word}: {why}" if ctx.lang == "en" else f"{word}：{why}") if why else word,
                showarrow=False,
                font={"color": "#b45309", "size": 12},
                bgcolor="#fffbeb",
            )
    fig = figure(fig, height=360, legend=False)
    fig.update_layout(margin={"l": 80})
    return fig


def _bars(ctx: PageContext, frame: Any) -> go.Figure:
    """Paid orders per 100 visitors and kept per paid, by channel: where the funnel leaks."""
    rows = frame.to_dict("records")
    names = [ctx.channel_name(r["channel"]) for r in rows]
    fig = go.Figure()
    for i, (num, den, key) in enumerate(
        (("add_to_cart", "visitors", "stage_cart"), ("paid_orders", "visitors", "stage_paid"))
    ):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[_rate(r.get(num), r.get(den)) for r in rows],
                name=f"{t(key, ctx.lang)} / {t('stage_visitors', ctx.lang)}",
                marker={"color": COLORS[i + 1]},
            )
        )
    fig = figure(fig, height=360)
    fig.update_yaxes(tickformat=".0%")
    return fig


def _rate(a: Any, b: Any) -> float | None:
    if is_missing(a) or is_missing(b) or not float(b):
        return None
    return float(a) / float(b)


def _table(ctx: PageContext, rows: list[dict[str, Any]], total: dict[str, Any]) -> html.Table:
    sort = ctx.view.option("sort", "-paid_orders")
    for r in rows:
        r["channel_name"] = ctx.channel_name(r["channel"])
    rows = sort_rows(rows, sort.replace("channel", "channel_name") if sort.lstrip("-") == "channel" else sort, SORTABLE)
    # the channels each stage's total sums: the total row's rate of a step is shown only when both stages sum
    # the same channels (like for like), never paid orders of all channels over the visitors of some
    summed = {col: frozenset(str(r["channel"]) for r in rows if not is_missing(r.get(col))) for col, _ in STAGES}
    rows.append({"channel": "total", **total})
    coverage = ctx.coverage(sorted(set(STAGE_METRIC.values())))

    def stage(col: str, prev: str | None) -> Any:
        def cell(r: dict[str, Any]) -> Any:
            why = coverage.get((STAGE_METRIC.get(col, col), str(r["channel"])))
            parts: list[Any] = [number(f"funnel-{r['channel']}-{col}", r.get(col), "count", ctx.nf, missing=why)]
            if prev:
                like = r["channel"] != "total" or summed[col] == summed[prev]
                rate = _rate(r.get(col), r.get(prev)) if like else None
                parts.append(html.Span(f" {ctx.nf.value(rate, 'percent')}", className="muted"))
            return html.Span(parts)

        return cell

    columns: list[tuple[str, str, Any]] = [
        (
            "channel",
            t("channel", ctx.lang),
            lambda r: t("total", ctx.lang) if r["channel"] == "total" else ctx.channel_name(r["channel"]),
        )
    ]
    prev = None
    for col, key in STAGES:
        columns.append((col, t(key, ctx.lang), stage(col, prev)))
        prev = col
    headers = {
        c: sort_header(h, c, sort, lambda s: ctx.option_href("/funnel", sort=s), ctx.lang, ctx.basis(c))
        for c, h, _ in columns
    }
    return table("funnel-table", rows, columns, numeric=[c for c, _ in STAGES], headers=headers)


#: the funnel table's sortable columns (the channel by its name)
SORTABLE = ("channel_name", *(m for m, _ in STAGES))
