"""The customer frame of the semantic layer: one row per customer, built in the engine from paid orders.

A customer's history is their *paid* orders (``model.semantic.paid_order``: a payment time, else a paid status; the basis of GMV) with a known
``customer_key``; dates are business dates (the project's time zone), money is ``net_amount_base``
(the base currency, DECIMAL). The frame holds, per customer: the first paid order (date, channel,
distributor, campaign: the *acquisition*), the cohort week (Monday) and month, the second purchase
day (the next *later* day with a paid order: two orders on one day are one purchase occasion, as in
the BG/NBD literature), the last purchase day, orders, purchase days and value to date.

Customer-level metrics are *declared* over this frame (``CUSTOMER_METRICS``): an analysis asks for
``repurchase_30d`` or ``customers`` by a frame dimension, it does not re-derive them. ``scope``
(channels) restricts the history to those channels' orders first: a channel manager sees their
channels' customers, and a customer who bought in two channels is counted in each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from channelscope.errors import QueryError
from channelscope.model.semantic import paid_order

#: the frame's dimensions: name -> column
FRAME_DIMENSIONS: dict[str, str] = {
    "acquisition_channel": "acquisition_channel_id",
    "acquisition_distributor": "acquisition_distributor_id",
    "acquisition_campaign": "acquisition_campaign_id",
    "cohort_week": "cohort_week",
    "cohort_month": "cohort_month",
}


@dataclass(frozen=True)
class CustomerMetric:
    """A metric over the customer frame: ``count`` of customers meeting ``kind`` (with ``days``)."""

    name: str
    label_zh: str
    label_en: str
    #: customers | repeat (bought on a second day) | repurchase (second day within ``days`` of the first)
    #: | eligible (first purchase at least ``days`` before the as-of date) | value (sum of value to date)
    kind: str
    days: int | None = None
    unit: str = "count"


def _repurchase(days: int) -> tuple[CustomerMetric, CustomerMetric]:
    return (
        CustomerMetric(
            f"repurchase_{days}d", f"{days}天复购客户数", f"Repurchased within {days} days", "repurchase", days
        ),
        CustomerMetric(f"eligible_{days}d", f"{days}天可观察客户数", f"Observable for {days} days", "eligible", days),
    )


#: the declared customer metrics (rates are ``repurchase_Nd / eligible_Nd``, computed from the summed parts)
CUSTOMER_METRICS: dict[str, CustomerMetric] = {
    m.name: m
    for m in (
        CustomerMetric("customers", "客户数", "Customers", "customers"),
        CustomerMetric("repeat_customers", "复购客户数", "Repeat customers", "repeat"),
        CustomerMetric("customer_value", "客户累计金额", "Customer value to date", "value", unit="money"),
        *(m for d in (30, 60, 90, 180, 365) for m in _repurchase(d)),
    )
}


def paid_orders(
    con: ibis.BaseBackend, *, as_of: dt.date | None = None, channels: Sequence[str] | None = None
) -> ir.Table:
    """Paid orders with a customer: customer_key, order_id, channel_id, distributor_id, campaign_id, ordered_at,
    day (business date) and value (net_amount_base, base currency)."""
    o = con.table("orders")
    o = o.filter(paid_order(o), o.customer_key.notnull())
    if as_of is not None:
        o = o.filter(o.business_date <= as_of)
    if channels is not None:
        o = o.filter(o.channel_id.isin(list(channels)))
    return o.select(
        "customer_key",
        "order_id",
        "channel_id",
        "distributor_id",
        "campaign_id",
        "ordered_at",
        day=o.business_date,
        value=o.net_amount_base,
    )


def customer_frame(
    con: ibis.BaseBackend, *, as_of: dt.date | None = None, channels: Sequence[str] | None = None
) -> ir.Table:
    """One row per customer with a paid order up to ``as_of`` (business date, inclusive) in ``channels``.

    Columns: customer_key, first_day, acquisition_channel_id / _distributor_id / _campaign_id (of the first
    paid order: earliest ``ordered_at``, then ``order_id``), cohort_week (the Monday of first_day),
    cohort_month (its first day), second_day (next later purchase day, null if none), last_day, orders,
    purchase_days, value (DECIMAL, base currency)."""
    o = paid_orders(con, as_of=as_of, channels=channels)
    ranked = o.mutate(_rn=ibis.row_number().over(group_by=o.customer_key, order_by=[o.ordered_at, o.order_id]))
    first = ranked.filter(ranked._rn == 0).select(
        _ck="customer_key",
        acquisition_channel_id="channel_id",
        acquisition_distributor_id="distributor_id",
        acquisition_campaign_id="campaign_id",
    )
    days = o.group_by(["customer_key", "day"]).aggregate()
    days = days.mutate(_dn=ibis.row_number().over(group_by=days.customer_key, order_by=days.day))
    second = days.filter(days._dn == 1).select(_ck2="customer_key", second_day="day")
    per = o.group_by("customer_key").aggregate(
        first_day=o.day.min(),
        last_day=o.day.max(),
        orders=o.count(),
        purchase_days=o.day.nunique(),
        value=o.value.sum(),
    )
    t = per.join(first, per.customer_key == first._ck).drop("_ck")
    t = t.left_join(second, t.customer_key == second._ck2).drop("_ck2")
    return t.mutate(
        cohort_week=t.first_day.truncate("W").cast("date"),
        cohort_month=t.first_day.truncate("M").cast("date"),
    )


def acquisition_frame(
    con: ibis.BaseBackend, *, as_of: dt.date | None = None, channels: Sequence[str] | None = None
) -> ir.Table:
    """The lean part of ``customer_frame`` a cohort table needs, in one window pass over the paid orders: one
    row per customer with customer_key, first_day, acquisition_channel_id / _distributor_id / _campaign_id,
    cohort_week and cohort_month (same definitions as ``customer_frame``)."""
    o = paid_orders(con, as_of=as_of, channels=channels)
    w = ibis.window(group_by=o.customer_key, order_by=[o.ordered_at, o.order_id])
    ranked = o.mutate(_rn=ibis.row_number().over(w), first_day=o.day.min().over(ibis.window(group_by=o.customer_key)))
    t = ranked.filter(ranked._rn == 0).select(
        "customer_key",
        "first_day",
        acquisition_channel_id="channel_id",
        acquisition_distributor_id="distributor_id",
        acquisition_campaign_id="campaign_id",
    )
    return t.mutate(
        cohort_week=t.first_day.truncate("W").cast("date"),
        cohort_month=t.first_day.truncate("M").cast("date"),
    )


def metric_expr(frame: ir.Table, metric: CustomerMetric, as_of: dt.date | None) -> ir.Scalar:
    """The aggregate of one declared customer metric over (a group of) the frame."""
    if metric.kind == "customers":
        return frame.count()
    if metric.kind == "repeat":
        return ibis.ifelse(frame.second_day.notnull(), 1, 0).sum()
    if metric.kind == "value":
        return frame.value.sum()
    assert metric.days is not None
    if as_of is None:
        raise QueryError(f"customer metric '{metric.name}' needs an as-of date")
    eligible = frame.first_day <= as_of - dt.timedelta(days=metric.days)
    if metric.kind == "eligible":
        return ibis.ifelse(eligible, 1, 0).sum()
    within = frame.second_day.notnull() & (frame.second_day.delta(frame.first_day, unit="day") <= metric.days)
    return ibis.ifelse(eligible & within, 1, 0).sum()


def customer_metrics(
    con: ibis.BaseBackend,
    metrics: Sequence[str],
    *,
    by: Sequence[str] = (),
    as_of: dt.date | None = None,
    channels: Sequence[str] | None = None,
) -> ir.Table:
    """The declared customer metrics by frame dimensions, as one engine query."""
    unknown = [m for m in metrics if m not in CUSTOMER_METRICS]
    if unknown:
        raise QueryError(f"unknown customer metric '{unknown[0]}'; valid: {', '.join(CUSTOMER_METRICS)}")
    bad = [d for d in by if d not in FRAME_DIMENSIONS]
    if bad:
        raise QueryError(f"unknown customer dimension '{bad[0]}'; valid: {', '.join(FRAME_DIMENSIONS)}")
    frame = customer_frame(con, as_of=as_of, channels=channels)
    aggs = {m: metric_expr(frame, CUSTOMER_METRICS[m], as_of) for m in metrics}
    if not by:
        return frame.aggregate(**aggs)
    cols = {d: frame[FRAME_DIMENSIONS[d]] for d in by}
    return frame.group_by(**cols).aggregate(**aggs).order_by(list(by))
