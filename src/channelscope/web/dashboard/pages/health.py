"""Data health: freshness per source, quarantine by reason (a reason opens its rows), and the batch ledger
(rows in = loaded + quarantined + duplicates)."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import is_missing, t
from channelscope.web.dashboard.widgets import (
    BAD,
    empty,
    figure,
    file_links,
    graph,
    number,
    section,
    sort_header,
    table,
)
from channelscope.web.table_exports import LEDGER_COLUMNS, sort_frame


def render(ctx: PageContext) -> Component:
    health = ctx.call("data_health")
    fresh = health.get("freshness")
    fresh_rows = fresh.to_dict("records") if isinstance(fresh, pd.DataFrame) else list(fresh or [])
    quarantine = health.get("quarantine_by_reason")
    q = quarantine if isinstance(quarantine, pd.DataFrame) else pd.DataFrame(quarantine or [])
    ledger = health.get("ledger")
    ledger = ledger if isinstance(ledger, pd.DataFrame) else pd.DataFrame(ledger or [])
    return html.Div(
        [
            html.Div(
                [
                    section(
                        t("freshness", ctx.lang),
                        _freshness(ctx, fresh_rows),
                        class_name="panel half",
                        id_="freshness-panel",
                    ),
                    section(
                        t("quarantine", ctx.lang), _quarantine(ctx, q), class_name="panel half", id_="quarantine-panel"
                    ),
                ],
                className="row",
            ),
            *_reason_rows(ctx, q),
            section(t("data_freshness", ctx.lang), _data_freshness(ctx), id_="data-freshness-panel"),
            section(t("ledger", ctx.lang), _ledger(ctx, ledger), id_="ledger-panel"),
        ]
    )


ROWS_SHOWN = 50


def _reason_links(ctx: PageContext, q: pd.DataFrame) -> html.Table:
    """Each kind of reason (and its source) with its row count, opening its rows."""
    rows = q.sort_values("rows", ascending=False).to_dict("records")
    for i, r in enumerate(rows):
        r["key"] = str(i)

    def reason(r: dict[str, Any]) -> Any:
        href = ctx.option_href("/health", reason=str(r["reason"]), source=str(r["source"]))
        return dcc.Link(_short(str(r["reason"]), 70), href=href, id=f"reason-{r['key']}", title=str(r["reason"]))

    columns = [
        ("reason", t("reason", ctx.lang), reason),
        ("source", t("source", ctx.lang), lambda r: r["source"]),
        ("rows", t("rows", ctx.lang), lambda r: number(f"reason-{r['key']}-rows", r["rows"], "count", ctx.nf)),
    ]
    return table("reasons-table", rows, columns, numeric=("rows",))


def _pieces(kind: str) -> list[str]:
    """The fixed words of a kind of reason (its values were replaced by … and line numbers by 'line N')."""
    return [p for p in re.split(r"…|line N", kind) if p.strip()]


def _reason_rows(ctx: PageContext, q: pd.DataFrame) -> list[Component]:
    """The quarantined rows of the reason the URL names (``?reason=...&source=...``), at most ROWS_SHOWN."""
    kind, source = ctx.view.option("reason", ""), ctx.view.option("source", "")
    if not kind:
        return []
    pieces = _pieces(kind)
    longest = max(pieces, key=len) if pieces else None
    frame = ctx.call("quarantine_rows", source=source or None, reason=longest, limit=1000)
    picked = []
    for r in frame.to_dict("records"):
        texts = json.loads(r["reasons"]) if isinstance(r.get("reasons"), str) else list(r.get("reasons") or [])
        hit = [x for x in texts if all(p in x for p in pieces)]
        if hit:
            picked.append({**r, "why": "; ".join(hit), "key": f"{r['batch_id']}-{r['row_number']}"})
        if len(picked) >= ROWS_SHOWN:
            break
    columns = [
        ("file", t("file", ctx.lang), lambda r: html.Span(_tail(str(r.get("file") or "")), title=str(r.get("file")))),
        ("row_number", t("row", ctx.lang), lambda r: r.get("row_number")),
        ("why", t("reason", ctx.lang), lambda r: r["why"]),
        ("record", t("record", ctx.lang), lambda r: html.Code(_short(str(r.get("record") or ""), 120))),
    ]
    back = dcc.Link(t("all_reasons", ctx.lang), href=ctx.option_href("/health", reason="", source=""), id="reason-back")
    body = table("quarantine-rows", picked, columns, key="key") if picked else empty(t("no_data", ctx.lang))
    return [
        section(f"{t('quarantined_rows', ctx.lang)}: {_short(kind, 80)} ({len(picked)})", body, back, id_="rows-panel")
    ]


def _freshness(ctx: PageContext, rows: list[dict[str, Any]]) -> Component:
    if not rows:
        return empty(t("no_data", ctx.lang))

    def state(r: dict[str, Any]) -> Any:
        s = str(r.get("state") or "never")
        return html.Span(t(f"state_{s}", ctx.lang), className=f"badge {s}")

    def age(r: dict[str, Any]) -> Any:
        v: Any = r.get("age_hours")
        return "–" if is_missing(v) else f"{float(v):,.1f}"

    columns = [
        ("source", t("source", ctx.lang), lambda r: r["source"]),
        ("state", t("state", ctx.lang), state),
        ("last_loaded", ctx.with_zone(t("last_loaded", ctx.lang)), lambda r: ctx.local_time(r.get("last_loaded"))),
        ("age_hours", t("age_hours", ctx.lang), age),
        ("expect_every", t("expect_every", ctx.lang), lambda r: r.get("expect_every") or "–"),
        ("rows", t("rows", ctx.lang), lambda r: number(f"fresh-{r['source']}-rows", r.get("rows"), "count", ctx.nf)),
    ]
    return table("freshness-table", rows, columns, key="source", numeric=("age_hours", "rows"))


def _data_freshness(ctx: PageContext) -> Component:
    """Per source and channel: the latest business date its data holds against its cadence (a file loaded a
    minute ago whose newest order is months old is stale), in the project's time zone."""
    fresh = ctx.call("data_as_of")
    rows = [r for r in fresh.get("rows", []) if r.get("state") != "dimension"]
    if not rows:
        return empty(t("no_data", ctx.lang))
    for i, r in enumerate(rows):
        r["key"] = f"{r['source']}-{r.get('channel') or i}"

    def state(r: dict[str, Any]) -> Any:
        s = str(r.get("state") or "never")
        return html.Span(r.get("state_en" if ctx.lang == "en" else "state_zh") or s, className=f"badge {s}")

    columns = [
        ("source", t("source", ctx.lang), lambda r: r["source"]),
        ("channel", t("channel", ctx.lang), lambda r: ctx.channel_name(r.get("channel"))),
        ("tables", t("tables", ctx.lang), lambda r: r.get("table") or "–"),
        ("state", t("state", ctx.lang), state),
        ("latest_date", t("latest_date", ctx.lang), lambda r: str(r.get("latest_date") or "–")),
        (
            "lag_days",
            t("lag_days", ctx.lang),
            lambda r: number(f"data-{r['key']}-lag", r.get("lag_days"), "count", ctx.nf),
        ),
        ("expect_every", t("expect_every", ctx.lang), lambda r: r.get("expect_every") or "–"),
    ]
    note = html.Div(
        f"{t('data_as_of', ctx.lang)} {fresh.get('data_as_of') or '–'} · {fresh.get('timezone')}", className="muted"
    )
    return html.Div([note, table("data-freshness-table", rows, columns, key="key", numeric=("lag_days",))])


def _quarantine(ctx: PageContext, q: pd.DataFrame) -> Component:
    if q.empty:
        return empty(t("nothing_quarantined", ctx.lang))
    by_reason = q.groupby("reason", as_index=False)["rows"].sum().sort_values("rows")
    fig = go.Figure(
        go.Bar(
            x=by_reason["rows"],
            y=[_short(r) for r in by_reason["reason"]],
            orientation="h",
            marker={"color": BAD},
            hovertext=list(by_reason["reason"]),
            hovertemplate="%{hovertext}<br>%{x:,}<extra></extra>",
        )
    )
    fig = figure(fig, height=max(220, 28 * len(by_reason) + 60), legend=False)
    fig.update_layout(margin={"l": 10})
    fig.update_yaxes(automargin=True)
    total = int(q["rows"].sum())
    return html.Div(
        [
            html.Div(
                [
                    html.Span(f"{t('quarantined', ctx.lang)}: ", className="muted"),
                    number("quarantine-total", total, "count", ctx.nf),
                ]
            ),
            graph("quarantine-chart", fig),
            html.Div(_reason_links(ctx, q), className="scroll"),
        ]
    )


def _short(reason: str, width: int = 48) -> str:
    return reason if len(reason) <= width else reason[: width - 1] + "…"


def _ledger(ctx: PageContext, ledger: pd.DataFrame) -> Component:
    if ledger.empty:
        return empty(t("no_data", ctx.lang))
    sort = ctx.view.option("sort", "")
    rows = sort_frame(ledger.head(30).reset_index(drop=True), sort, list(LEDGER_COLUMNS)).to_dict("records")

    def n(col: str) -> Any:
        return lambda r: number(f"batch-{r.get('batch_id')}-{col}", r.get(col), "count", ctx.nf)

    columns = [
        ("started_at", ctx.with_zone(t("started", ctx.lang)), lambda r: ctx.local_time(r.get("started_at"))),
        ("source", t("source", ctx.lang), lambda r: r.get("source")),
        ("file", t("file", ctx.lang), lambda r: html.Span(_tail(str(r.get("file") or "")), title=str(r.get("file")))),
        ("status", t("status", ctx.lang), lambda r: html.Span(r.get("status"), className=f"badge {r.get('status')}")),
        ("rows_in", t("rows_in", ctx.lang), n("rows_in")),
        ("loaded", t("loaded", ctx.lang), n("loaded")),
        ("quarantined", t("quarantined", ctx.lang), n("quarantined")),
        ("duplicates", t("duplicates", ctx.lang), n("duplicates")),
    ]
    headers = {
        c: sort_header(h, c, sort, lambda s: ctx.option_href("/health", sort=s), ctx.lang) for c, h, _ in columns
    }
    exports = file_links(
        "ledger-export", ctx.lang, "/api/ingestion/ledger/export", [("lang", ctx.lang), ("sort", sort)]
    )
    body = table(
        "ledger-table", rows, columns, numeric=("rows_in", "loaded", "quarantined", "duplicates"), headers=headers
    )
    return html.Div([exports, body])


def _tail(path: str, width: int = 42) -> str:
    return path if len(path) <= width else "…" + path[-(width - 1) :]
