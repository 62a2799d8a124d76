"""The distributor network: the multi-level tree with sales, commission and active customers per node and
level; active, new and silent distributors and the recruitment -> activation funnel; own-store customers who
moved to a distributor (cannibalization); live hosts and live sessions (GMV, orders, viewers, GPM, conversion,
refund rate, commission and its ROI).

The engine aggregates paid orders (支付金额: a payment time, whatever the status became) per distributor,
session or customer; Python only walks the tree of the ``distributors`` dimension (one row per distributor)
to add subtrees and levels.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pandas as pd

from channelscope.model.semantic import is_paid


def _paid(tables: Any, start: dt.date | None = None, end: dt.date | None = None) -> Any:
    o = tables.table("orders")
    o = o.filter(o.paid_at.notnull() | is_paid(o.status))
    if start is not None:
        o = o.filter(o.business_date >= ibis.date(str(start)))
    if end is not None:
        o = o.filter(o.business_date <= ibis.date(str(end)))
    return o


def _levels(dims: pd.DataFrame) -> dict[str, int]:
    """Level of every distributor (1 = no parent), following parent_id; a cycle stops at the node seen twice."""
    parent = {d: p for d, p in zip(dims["distributor_id"], dims["parent_id"], strict=True) if isinstance(p, str)}
    out: dict[str, int] = {}
    for d in dims["distributor_id"]:
        level, node, seen = 1, d, {d}
        while node in parent and parent[node] not in seen:
            node = parent[node]
            seen.add(node)
            level += 1
        out[d] = level
    return out


def network_tree(tables: Any, *, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """One row per distributor: parent_id, level, children, paid orders, sales (base currency), active
    customers (distinct buyers), commission paid (fees) and the same totals over its whole subtree."""
    dims = tables.table("distributors").select("distributor_id", "name", "channel_id", "kind", "parent_id").to_pandas()
    o = _paid(tables, start, end)
    o = o.filter(o.distributor_id.notnull())
    sales = (
        o.group_by("distributor_id")
        .aggregate(orders=o.count(), sales=o.net_amount_base.sum(), customers=o.customer_key.nunique())
        .to_pandas()
    )
    f = tables.table("fees")
    f = f.filter(f.fee_type == "commission", f.distributor_id.notnull())
    if start is not None:
        f = f.filter(f.date >= ibis.date(str(start)))
    if end is not None:
        f = f.filter(f.date <= ibis.date(str(end)))
    com = f.group_by("distributor_id").aggregate(commission=f.amount_base.sum()).to_pandas()
    t = dims.merge(sales, on="distributor_id", how="left").merge(com, on="distributor_id", how="left")
    t["orders"] = t["orders"].fillna(0).astype("int64")
    t["customers"] = t["customers"].fillna(0).astype("int64")
    for c in ("sales", "commission"):
        t[c] = t[c].astype(float).fillna(0.0)
    levels = _levels(dims)
    t["level"] = t["distributor_id"].map(levels)
    kids = t.groupby("parent_id").size()
    t["children"] = t["distributor_id"].map(kids).fillna(0).astype("int64")
    # subtree totals: add each node's figures to every ancestor (the tree has one row per distributor)
    parent = dict(zip(t["distributor_id"], t["parent_id"], strict=True))
    sub = {d: [0.0, 0.0, 0] for d in t["distributor_id"]}
    for d, s, c, n in zip(t["distributor_id"], t["sales"], t["commission"], t["orders"], strict=True):
        node, seen = d, set()
        while isinstance(node, str) and node in sub and node not in seen:
            seen.add(node)
            sub[node][0] += s
            sub[node][1] += c
            sub[node][2] += n
            node = parent.get(node)
    t["subtree_sales"] = t["distributor_id"].map(lambda d: round(sub[d][0], 2))
    t["subtree_commission"] = t["distributor_id"].map(lambda d: round(sub[d][1], 2))
    t["subtree_orders"] = t["distributor_id"].map(lambda d: sub[d][2])
    return t.sort_values(["level", "subtree_sales", "distributor_id"], ascending=[True, False, True], ignore_index=True)


def by_level(tree: pd.DataFrame) -> pd.DataFrame:
    """The tree's totals per level: distributors, active (with orders), orders, sales, customers, commission."""
    g = tree.groupby("level")
    return pd.DataFrame(
        {
            "distributors": g.size(),
            "active": g["orders"].apply(lambda s: int((s > 0).sum())),
            "orders": g["orders"].sum(),
            "sales": g["sales"].sum().round(2),
            "customers": g["customers"].sum(),
            "commission": g["commission"].sum().round(2),
        }
    ).reset_index()


def activity(tables: Any, *, as_of: dt.date, window_days: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per distributor: first and last paid order and a state as of ``as_of``: new (first order in the last
    ``window_days``), active (an order in the window), silent (orders before, none in the window), never
    (recruited, no paid order yet). With the recruitment -> activation -> active funnel."""
    dims = tables.table("distributors").select("distributor_id", "joined_at").to_pandas()
    o = _paid(tables, end=as_of)
    o = o.filter(o.distributor_id.notnull())
    since = as_of - dt.timedelta(days=window_days - 1)
    agg = (
        o.group_by("distributor_id")
        .aggregate(
            first_order=o.business_date.min(),
            last_order=o.business_date.max(),
            recent_orders=o.count(where=o.business_date >= ibis.date(str(since))),
        )
        .to_pandas()
    )
    t = dims.merge(agg, on="distributor_id", how="left")
    first = pd.to_datetime(t["first_order"]).dt.date
    recent = t["recent_orders"].fillna(0)
    t["state"] = "never"
    t.loc[first.notna(), "state"] = "silent"
    t.loc[first.notna() & (recent > 0), "state"] = "active"
    t.loc[first.notna() & (first >= since), "state"] = "new"
    funnel = pd.DataFrame(
        {
            "step": ["recruited", "activated", "active"],
            "distributors": [len(t), int(first.notna().sum()), int(t["state"].isin(["active", "new"]).sum())],
        }
    )
    funnel["rate"] = funnel["distributors"] / max(len(t), 1)
    return t.sort_values("distributor_id", ignore_index=True), funnel


def cannibalization(tables: Any, own_channels: list[str]) -> pd.DataFrame:
    """Customers whose first paid order was in an own channel and who later bought through a distributor:
    per distributor, those customers and their paid GMV through it (base currency)."""
    o = _paid(tables).filter(lambda t: t.customer_key.notnull())
    first = o.group_by("customer_key").aggregate(first_at=o.ordered_at.min())
    own = o.filter(o.channel_id.isin(own_channels))
    own_first = own.group_by("customer_key").aggregate(own_at=own.ordered_at.min())
    began_own = first.join(
        own_first, [first.customer_key == own_first.customer_key, first.first_at == own_first.own_at]
    )
    began_own = began_own.select(ck=began_own.customer_key, at=began_own.first_at)
    later = o.filter(o.distributor_id.notnull())
    j = later.join(began_own, [later.customer_key == began_own.ck, later.ordered_at > began_own.at])
    return (
        j.group_by("distributor_id")
        .aggregate(customers=j.customer_key.nunique(), orders=j.count(), gmv=j.net_amount_base.sum())
        .order_by([ibis.desc("customers"), "distributor_id"])
        .to_pandas()
    )


def live_sessions(tables: Any, *, host_kinds: tuple[str, ...] = ("live_host", "kol")) -> pd.DataFrame:
    """Per live session (campaigns of kind live_session) and host: paid orders of the session's channel placed
    during the session, GMV (base currency), refunds, refund rate, commission owed at the host's rate, its ROI
    (GMV / commission), viewers (traffic of the session's campaign), GPM (GMV per 1,000 viewers) and
    conversion (orders / viewers). Viewers, GPM and conversion are empty where the source gives no viewers."""
    c = tables.table("campaigns")
    c = c.filter(c.kind == "live_session").select(
        session="campaign_id", session_name="name", s_channel="channel_id", s_start="starts_at", s_end="ends_at"
    )
    o = _paid(tables).filter(lambda t: t.distributor_id.notnull())
    j = o.join(c, [o.channel_id == c.s_channel, o.ordered_at >= c.s_start, o.ordered_at <= c.s_end])
    r = tables.table("refunds")
    ref = r.group_by("order_id").aggregate(refunded=r.amount_base.sum())
    j = j.left_join(ref, j.order_id == ref.order_id)
    d = tables.table("distributors").select(
        h_id="distributor_id", host_name="name", h_kind="kind", rate="commission_rate"
    )
    j = j.join(d, j.distributor_id == d.h_id).filter(lambda t: t.h_kind.isin(list(host_kinds)))
    agg = j.group_by(["session", "session_name", "distributor_id", "host_name", "rate"]).aggregate(
        orders=j.count(), gmv=j.net_amount_base.sum(), refunds=j.refunded.sum()
    )
    tr = tables.table("traffic")
    viewers = tr.group_by("campaign_id").aggregate(viewers=tr.visitors.sum())
    agg = agg.left_join(viewers, agg.session == viewers.campaign_id).drop("campaign_id")
    out = agg.to_pandas()
    out["gmv"] = out["gmv"].astype(float)
    out["refunds"] = out["refunds"].astype(float).fillna(0.0)
    out["refund_rate"] = out["refunds"] / out["gmv"].where(out["gmv"] > 0)
    out["commission"] = (out["gmv"] * out["rate"].astype(float).fillna(0.0)).round(2)
    out["commission_roi"] = out["gmv"] / out["commission"].where(out["commission"] > 0)
    viewers_known = out["viewers"].notna() & (out["viewers"] > 0)
    out["gpm"] = (out["gmv"] / out["viewers"] * 1000).where(viewers_known)
    out["conversion"] = (out["orders"] / out["viewers"]).where(viewers_known)
    out["missing"] = ""
    out.loc[~viewers_known, "missing"] = "no viewers in traffic for the session (GPM, conversion empty)"
    return out.drop(columns=["rate"]).sort_values(["session", "gmv"], ascending=[True, False], ignore_index=True)


def live_hosts(tables: Any, *, host_kinds: tuple[str, ...] = ("live_host", "kol")) -> pd.DataFrame:
    """Per live host or creator (any platform): paid orders, GMV, refunds and refund rate, commission paid
    (fees) and its ROI (GMV / commission), and the live sessions it sold in."""
    d = tables.table("distributors")
    d = d.filter(d.kind.isin(list(host_kinds))).select("distributor_id", "name", "channel_id", "kind")
    o = _paid(tables).filter(lambda t: t.distributor_id.notnull())
    r = tables.table("refunds")
    ref = r.group_by("order_id").aggregate(refunded=r.amount_base.sum())
    o = o.left_join(ref, o.order_id == ref.order_id)
    sold = o.group_by("distributor_id").aggregate(
        orders=o.count(), gmv=o.net_amount_base.sum(), refunds=o.refunded.sum()
    )
    f = tables.table("fees")
    f = f.filter(f.fee_type == "commission", f.distributor_id.notnull())
    com = f.group_by("distributor_id").aggregate(commission=f.amount_base.sum())
    t = d.left_join(sold, "distributor_id").drop("distributor_id_right")
    t = t.left_join(com, "distributor_id").drop("distributor_id_right").to_pandas()
    for c in ("gmv", "refunds", "commission"):
        t[c] = t[c].astype(float).fillna(0.0)
    t["orders"] = t["orders"].fillna(0).astype("int64")
    t["refund_rate"] = t["refunds"] / t["gmv"].where(t["gmv"] > 0)
    t["commission_roi"] = t["gmv"] / t["commission"].where(t["commission"] > 0)
    sessions = live_sessions(tables, host_kinds=host_kinds)
    t["sessions"] = (
        t["distributor_id"].map(sessions.groupby("distributor_id")["session"].nunique()).fillna(0).astype("int64")
    )
    return t.sort_values(["gmv", "distributor_id"], ascending=[False, True], ignore_index=True)


class NetworkAnalyses:
    """``Project.analysis.network``: the distributor network, its activity, cannibalization and live hosts."""

    def __init__(self, project: Any) -> None:
        self._p = project

    def tree(self, *, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        return network_tree(self._p, start=start, end=end)

    def levels(self, *, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        return by_level(self.tree(start=start, end=end))

    def activity(self, *, as_of: dt.date | None = None, window_days: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
        day = as_of or self._p.latest_date() or dt.date.today()
        return activity(self._p, as_of=day, window_days=window_days)

    def cannibalization(self) -> pd.DataFrame:
        own = [c.id for c in self._p.config.channels if c.kind == "own_store"]
        return cannibalization(self._p, own)

    def live_sessions(self) -> pd.DataFrame:
        return live_sessions(self._p)

    def live_hosts(self) -> pd.DataFrame:
        return live_hosts(self._p)
