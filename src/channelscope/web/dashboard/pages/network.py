"""The network sections of the Distributors page: the tree (level, sales, subtree sales, customers,
commission), the compliance score with its components, price violations by depth, the cases inbox and the
live hosts. Every number comes from ``/api/compliance`` and ``/api/network``'s functions with the user's
scope (a distributor-scoped user sees their node and children only)."""

from __future__ import annotations

from typing import Any

from dash import html
from dash.development.base_component import Component

from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.i18n import t
from channelscope.web.dashboard.widgets import number, section, table

LIMIT = 30


def sections(ctx: PageContext) -> list[Component]:
    from channelscope.monitor.compliance_cases import list_cases
    from channelscope.web import compliance_api as api
    from channelscope.web import service

    rp = service.reader(ctx.project)
    user = ctx.user
    comp = api.analyses(ctx.project, user)
    out: list[Component] = []
    tree = api._network_rows(rp, user, service._cached(rp, user, "network.tree", (), rp.analysis.network.tree))
    out.append(
        section(f"{t('net_tree', ctx.lang)} ({len(tree)})", _tree(ctx, tree.head(LIMIT * 2)), id_="network-panel")
    )
    viol = service._cached(rp, user, "compliance.violations", (), comp.violations)
    score = service._cached(rp, user, "compliance.score", (), lambda: comp.score(groups=viol))
    out.append(section(t("cs_score_board", ctx.lang), _score(ctx, score.head(LIMIT)), id_="score-panel"))
    out.append(
        section(
            f"{t('cs_violations', ctx.lang)} ({len(viol)})", _violations(ctx, viol.head(LIMIT)), id_="violations-panel"
        )
    )
    cases = api._cases_in_scope(rp, user, list_cases(ctx.project, managers=True))
    out.append(section(f"{t('cs_cases', ctx.lang)} ({len(cases)})", _cases(ctx, cases.head(LIMIT)), id_="cases-panel"))
    hosts = api._network_rows(
        rp, user, service._cached(rp, user, "network.live_hosts", (), rp.analysis.network.live_hosts)
    )
    out.append(section(t("live_hosts", ctx.lang), _hosts(ctx, hosts), id_="live-hosts-panel"))
    sessions = api._network_rows(
        rp, user, service._cached(rp, user, "network.live_sessions", (), rp.analysis.network.live_sessions)
    )
    out.append(section(t("live_sessions", ctx.lang), _sessions(ctx, sessions), id_="live-sessions-panel"))
    return out


def _sessions(ctx: PageContext, df: Any) -> html.Table:
    """Per live session and host: GMV, orders, viewers, GPM and conversion (empty with the reason where the
    source gives no viewers)."""
    rows = df.to_dict("records")

    def cell(col: str, unit: str, viewers: bool = False) -> Any:
        def show(r: dict[str, Any]) -> Any:
            why = (r.get("missing") or None) if viewers else None
            return number(f"live-{r['session']}-{r['distributor_id']}-{col}", r.get(col), unit, ctx.nf, missing=why)

        return show

    columns = [
        ("session", t("live_session", ctx.lang), lambda r: str(r.get("session_name") or r["session"])),
        ("host", t("distributor", ctx.lang), lambda r: str(r.get("host_name") or r["distributor_id"])),
        ("gmv", ctx.label("gmv"), cell("gmv", "money")),
        ("orders", ctx.label("paid_orders"), cell("orders", "count")),
        ("viewers", t("live_viewers", ctx.lang), cell("viewers", "count", viewers=True)),
        ("gpm", t("live_gpm", ctx.lang), cell("gpm", "money", viewers=True)),
        ("conversion", t("live_conversion", ctx.lang), cell("conversion", "percent", viewers=True)),
    ]
    return table("live-sessions-table", rows, columns, numeric=["gmv", "orders", "viewers", "gpm", "conversion"])


def _num(ctx: PageContext, prefix: str, col: str, unit: str) -> Any:
    return lambda r: number(f"{prefix}-{r['distributor_id']}-{col}", r.get(col), unit, ctx.nf)


def _tree(ctx: PageContext, df: Any) -> html.Table:
    rows = df.to_dict("records")
    columns = [
        (
            "name",
            t("distributor", ctx.lang),
            lambda r: html.Span("　" * (int(r["level"]) - 1) + str(r.get("name") or r["distributor_id"])),
        ),
        ("level", t("net_level", ctx.lang), lambda r: r["level"]),
        ("sales", t("net_sales", ctx.lang), _num(ctx, "net", "sales", "money")),
        ("subtree_sales", t("net_subtree", ctx.lang), _num(ctx, "net", "subtree_sales", "money")),
        ("customers", t("net_customers", ctx.lang), _num(ctx, "net", "customers", "count")),
        ("commission", t("net_commission", ctx.lang), _num(ctx, "net", "commission", "money")),
    ]
    # depth-first order: each tier-1 node followed by its children
    by_parent: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        by_parent.setdefault(r["parent_id"] if isinstance(r["parent_id"], str) else None, []).append(r)
    ordered: list[dict[str, Any]] = []
    ids = {r["distributor_id"] for r in rows}

    def walk(node: dict[str, Any]) -> None:
        ordered.append(node)
        for child in by_parent.get(node["distributor_id"], []):
            walk(child)

    for r in rows:
        if not isinstance(r["parent_id"], str) or r["parent_id"] not in ids:
            walk(r)
    return table(
        "network-table", ordered, columns, numeric=["level", "sales", "subtree_sales", "customers", "commission"]
    )


def _score(ctx: PageContext, df: Any) -> html.Table:
    rows = df.to_dict("records")

    def minus(r: dict[str, Any]) -> str:
        parts = [(k[6:], r[k]) for k in r if k.startswith("minus_") and r[k]]
        return ", ".join(f"{t('cs_c_' + k, ctx.lang)} -{v:.1f}" for k, v in parts)

    columns = [
        ("distributor_id", t("distributor", ctx.lang), lambda r: ctx.distributor_name(r["distributor_id"])),
        (
            "score",
            t("cs_score", ctx.lang),
            lambda r: number(f"score-{r['distributor_id']}", r["score"], "ratio", ctx.nf),
        ),
        ("minus", t("cs_minus", ctx.lang), minus),
    ]
    return table("score-table", rows, columns, numeric=["score"])


def _violations(ctx: PageContext, df: Any) -> html.Table:
    rows = df.to_dict("records")
    columns = [
        ("distributor_id", t("distributor", ctx.lang), lambda r: ctx.distributor_name(r["distributor_id"])),
        ("sku", "SKU", lambda r: r["sku"]),
        ("lines", t("cs_lines", ctx.lang), lambda r: int(r["lines"])),
        (
            "depth_worst",
            t("cs_depth", ctx.lang),
            lambda r: number(f"viol-{r['distributor_id']}-{r['sku']}-depth", r["depth_worst"], "percent", ctx.nf),
        ),
        ("repeat_days", t("cs_repeats", ctx.lang), lambda r: int(r["repeat_days"])),
        ("last_seen", t("cs_last_seen", ctx.lang), lambda r: str(r["last_seen"])[:10]),
    ]
    return table("violations-table", rows, columns, numeric=["lines", "depth_worst", "repeat_days"])


def _cases(ctx: PageContext, df: Any) -> html.Table:
    rows = df.to_dict("records") if len(df) else []
    columns = [
        ("case_id", "#", lambda r: html.A(r["case_id"], href=f"/api/compliance/cases/{r['case_id']}/evidence.pdf")),
        ("distributor_id", t("distributor", ctx.lang), lambda r: ctx.distributor_name(r["distributor_id"])),
        ("kind", t("cs_kind", ctx.lang), lambda r: t(f"cs_kind_{r['kind']}", ctx.lang)),
        ("sku", "SKU", lambda r: r["sku"] or ""),
        ("status", t("cs_status", ctx.lang), lambda r: t(f"cs_st_{r['status']}", ctx.lang)),
        ("action", t("cs_action", ctx.lang), lambda r: t(f"cs_act_{r['action']}", ctx.lang) if r["action"] else ""),
        ("repeat_days", t("cs_repeats", ctx.lang), lambda r: _int(r.get("repeat_days"))),
        ("manager", t("cs_manager", ctx.lang), lambda r: _name(r.get("manager"))),
    ]
    return table("cases-table", rows, columns)


def _name(value: Any) -> str:
    """A name, or "—" for none (None, NaN from a frame, or empty)."""
    return value if isinstance(value, str) and value.strip() else "—"


def _int(value: Any) -> str:
    return "" if value is None or value != value else str(int(value))


def _hosts(ctx: PageContext, df: Any) -> html.Table:
    rows = df.to_dict("records")
    columns = [
        ("name", t("distributor", ctx.lang), lambda r: r.get("name") or r["distributor_id"]),
        ("gmv", ctx.label("gmv"), _num(ctx, "host", "gmv", "money")),
        ("orders", ctx.label("paid_orders"), _num(ctx, "host", "orders", "count")),
        ("refund_rate", t("live_refund", ctx.lang), _num(ctx, "host", "refund_rate", "percent")),
        ("commission", t("net_commission", ctx.lang), _num(ctx, "host", "commission", "money")),
        ("commission_roi", t("live_roi", ctx.lang), _num(ctx, "host", "commission_roi", "ratio")),
    ]
    return table(
        "live-hosts-table", rows, columns, numeric=["gmv", "orders", "refund_rate", "commission", "commission_roi"]
    )
