"""Touchpoint paths from the warehouse, as Ibis expressions for ``analysis.attribution``.

Basis (口径): a conversion is a paid order (a payment time, or a paid, shipped, completed or refunded status where
the source has none: the GMV basis) with a business date in the range; its revenue is ``net_amount_base`` (yuan). Its touches are
the customer's ``events`` (any type but ``purchase``) in the ``lookback_days`` before ``ordered_at``,
plus the order itself (its channel and campaign/UTM code) as the last touch, so an order without
events is one direct touch of its own channel. Orders without a customer key have only that touch.
A touch is direct when it has no campaign. Non-converting journeys (for Markov) are the touches of
visitors with no paid order in the range.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from channelscope.errors import QueryError
from channelscope.model.semantic import paid_order

if TYPE_CHECKING:
    from channelscope.project import Project

LABELS = ("channel", "campaign")
DIRECT = "direct"


def _label(t: ir.Table, by: str) -> ir.StringValue:
    if by == "channel":
        return t.channel_id
    return t.campaign_id.fill_null(ibis.literal(DIRECT + ":") + t.channel_id)


def touch_tables(
    project: Project,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    lookback_days: int = 30,
    by: str = "channel",
) -> tuple[ir.Table, ir.Table | None]:
    """(touches of paid orders, touches of non-converting journeys or None without events)."""
    if by not in LABELS:
        raise QueryError(f"attribution 'by' must be one of {', '.join(LABELS)} (got {by!r})")
    if lookback_days < 0:
        raise QueryError(f"lookback_days must be 0 or more (got {lookback_days})")
    con = project.warehouse.ibis
    o = con.table("orders")
    o = o.filter(paid_order(o))  # the GMV basis: a payment time, or a paid status
    if start is not None:
        o = o.filter(o.business_date >= start)
    if end is not None:
        o = o.filter(o.business_date <= end)
    own = o.select(
        conversion_id=o.order_id,
        label=_label(o, by),
        direct=o.campaign_id.isnull(),
        ts=o.ordered_at,
        converted_at=o.ordered_at,
        revenue=o.net_amount_base.cast("float64"),
    )
    if "events" not in con.list_tables():
        return own, None
    e = con.table("events")
    e = e.filter(e.event_type != "purchase")
    ev = e.select(
        "customer_key", "visitor_key", "ts", "business_date", label=_label(e, by), direct=e.campaign_id.isnull()
    )
    oc = o.filter(o.customer_key.notnull()).select(
        "order_id", "customer_key", "ordered_at", revenue=o.net_amount_base.cast("float64")
    )
    j = oc.join(
        ev,
        (oc.customer_key == ev.customer_key)
        & (ev.ts <= oc.ordered_at)
        & (ev.ts >= oc.ordered_at - ibis.interval(days=lookback_days)),
    )
    before = j.select(
        conversion_id=j.order_id,
        label=j.label,
        direct=j.direct,
        ts=j.ts,
        converted_at=j.ordered_at,
        revenue=j.revenue,
    )
    touches = own.union(before)
    buyers = oc.select("customer_key").distinct()
    lost = ev.filter(ev.customer_key.isnull() | ~ev.customer_key.isin(buyers.customer_key))
    if start is not None:
        lost = lost.filter(lost.business_date >= start)
    if end is not None:
        lost = lost.filter(lost.business_date <= end)
    nulls = lost.select(journey_id=lost.visitor_key, label=lost.label, ts=lost.ts)
    return touches, nulls
