"""The semantic model as data: measured frames, dimensions, the lookups that reach them, and the business
definitions every layer shares (paid statuses, the minimum-advertised-price check).

A *frame* is the rows a measure aggregates: one canonical table, the date that places a row in time, an
optional parent it inherits order attributes from (order lines and refunds take the order's distributor,
campaign, region, status, ...), and the dimensions it can be cut by. A *dimension* is a column of the frame,
possibly brought by a *lookup* (a dimension table joined on a key). ``metrics.query`` compiles any frame the
same way from these declarations; a new frame (a customer frame, say) is one ``register_frame`` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir

#: the canonical order statuses that count as paid (refunded orders were paid first)
PAID_STATUSES: tuple[str, ...] = ("paid", "shipped", "completed", "refunded")


def is_paid(status: ir.StringValue) -> ir.BooleanValue:
    """The one definition of a paid order, over an order's canonical ``status``."""
    return status.isin(list(PAID_STATUSES))


def paid_order(t: ir.Table) -> ir.BooleanValue:
    """An order counted as paid (支付金额), over a table with the order's ``paid_at`` and ``status``: it has a
    payment time, whatever its status became after (a paid order later cancelled or refunded stays paid);
    where the source gives no payment time, a status only reached after payment (``is_paid``) says so.
    Rollups keep it as the key ``_paid``; on a rollup, the kept key is read."""
    if "_paid" in t.columns:
        return t["_paid"]
    return t.paid_at.notnull() | is_paid(t.status)


def below_min_price(unit_price: ir.Value, min_advertised_price: ir.Value) -> ir.BooleanValue:
    """The one definition of a line sold below the minimum advertised price: the line's ``unit_price``
    (DECIMAL, before line discounts) under the product's ``min_advertised_price`` (DECIMAL), compared
    exactly. False where either is unknown (a product without a minimum price is never below it)."""
    return (unit_price < min_advertised_price).fill_null(False)


@dataclass(frozen=True)
class Lookup:
    """A dimension table joined to a frame: ``frame_column`` = ``table.key``; ``columns`` maps the names the
    frame gets to the table's columns."""

    name: str
    table: str
    frame_column: str
    key: str
    columns: dict[str, str]


@dataclass(frozen=True)
class Parent:
    """A table a frame inherits columns from, joined on ``key``. ``always``: joined for every query (inner);
    otherwise a left join made only when a query needs one of ``columns``."""

    table: str
    key: str
    columns: tuple[str, ...]
    always: bool = False


@dataclass(frozen=True)
class Dimension:
    """A way to cut a metric: ``column`` of the frame, brought by ``lookup`` when it is not the frame's own."""

    name: str
    column: str
    lookup: str | None = None
    doc: str = ""


@dataclass(frozen=True)
class Frame:
    """The rows one kind of measure aggregates."""

    name: str
    table: str
    #: the column (of the table or its parent) that places a row in time: a date
    date: str
    dimensions: frozenset[str]
    parent: Parent | None = None
    doc: str = ""
    #: the rollup this frame's additive measures can be answered from (see warehouse/rollups.py)
    rollup: str | None = None


LOOKUPS: dict[str, Lookup] = {
    lk.name: lk
    for lk in (
        Lookup(
            "channels", "channels", "channel_id", "channel_id", {"channel_kind": "kind", "channel_platform": "platform"}
        ),
        Lookup(
            "distributors",
            "distributors",
            "distributor_id",
            "distributor_id",
            {"distributor_tier": "tier", "distributor_parent": "parent_id"},
        ),
        Lookup(
            "products", "products", "sku", "sku", {"category": "category", "brand": "brand", "unit_cost": "unit_cost"}
        ),
        Lookup(
            "calendar",
            "calendar",
            "_date",
            "date",
            {"festival": "festival", "weekday": "weekday", "is_weekend": "is_weekend"},
        ),
    )
}

DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("channel", "channel_id", doc="the channel (shop, platform account)"),
        Dimension("channel_kind", "channel_kind", "channels"),
        Dimension("platform", "channel_platform", "channels"),
        Dimension("distributor", "distributor_id"),
        Dimension("distributor_tier", "distributor_tier", "distributors"),
        Dimension("distributor_parent", "distributor_parent", "distributors"),
        Dimension("campaign", "campaign_id"),
        Dimension("region", "region"),
        Dimension("category", "category", "products"),
        Dimension("brand", "brand", "products"),
        Dimension("sku", "sku"),
        Dimension("customer_type", "customer_type", doc="new (first paid order in the period) or returning"),
        Dimension("festival", "festival", "calendar"),
        Dimension("weekday", "weekday", "calendar"),
        Dimension("is_weekend", "is_weekend", "calendar"),
    )
}

_CAL = {"festival", "weekday", "is_weekend"}
_CH = {"channel", "channel_kind", "platform"}
_DIST = {"distributor", "distributor_tier", "distributor_parent"}
_ORDER_ATTRS = (
    "status",
    "paid_at",
    "business_date",
    "channel_id",
    "distributor_id",
    "campaign_id",
    "region",
    "customer_key",
)

FRAMES: dict[str, Frame] = {}
#: frame -> the dimensions it can be cut by, and frame -> its date column (views kept by ``register_frame``)
FRAME_DIMENSIONS: dict[str, set[str]] = {}
FRAME_DATES: dict[str, str] = {}


def frame_columns(name: str) -> set[str]:
    """The columns a measure of frame ``name`` can read: the table's, its parent's and every lookup's,
    and ``customer_type`` (computed per query)."""
    from channelscope.model.tables import TABLES

    frame = FRAMES[name]
    cols = set(TABLES[frame.table].names) | {"customer_type"}
    if frame.parent is not None:
        cols |= set(frame.parent.columns)
    for lookup in LOOKUPS.values():
        cols |= set(lookup.columns)
    return cols


def register_frame(frame: Frame) -> Frame:
    """Declare a measured frame (a later one of the same name replaces it)."""
    unknown = sorted(frame.dimensions - set(DIMENSIONS))
    if unknown:
        raise ValueError(f"frame '{frame.name}': unknown dimensions {', '.join(unknown)}")
    FRAMES[frame.name] = frame
    FRAME_DIMENSIONS[frame.name] = set(frame.dimensions)
    FRAME_DATES[frame.name] = frame.date
    return frame


for _f in (
    Frame(
        "orders",
        "orders",
        "business_date",
        frozenset(_CH | _DIST | _CAL | {"campaign", "region", "customer_type"}),
        doc="One row per order.",
        rollup="rollup_orders",
    ),
    Frame(
        "order_lines",
        "order_lines",
        "business_date",
        frozenset(_CH | _DIST | _CAL | {"campaign", "region", "category", "brand", "sku", "customer_type"}),
        parent=Parent("orders", "order_id", _ORDER_ATTRS, always=True),
        doc="One row per order line, with its order's attributes.",
        rollup="rollup_order_lines",
    ),
    Frame(
        "refunds",
        "refunds",
        "business_date",
        frozenset(_CH | _DIST | _CAL | {"campaign", "region"}),
        parent=Parent("orders", "order_id", ("distributor_id", "campaign_id", "region", "customer_key")),
        doc="One row per refund, dated when refunded.",
        rollup="rollup_refunds",
    ),
    Frame(
        "traffic",
        "traffic",
        "date",
        frozenset(_CH | _DIST | _CAL | {"campaign"}),
        doc="Daily traffic by channel.",
        rollup="rollup_traffic",
    ),
    Frame(
        "ad_spend",
        "ad_spend",
        "date",
        frozenset(_CH | _CAL | {"campaign"}),
        doc="Daily ad spend.",
        rollup="rollup_ad_spend",
    ),
    Frame("fees", "fees", "date", frozenset(_CH | _DIST | _CAL), doc="Daily fees by type.", rollup="rollup_fees"),
    Frame("events", "events", "business_date", frozenset(_CH | _CAL | {"campaign", "sku"}), doc="Behaviour events."),
):
    register_frame(_f)


def frame_table(con: Any, name: str, needs: set[str]) -> ir.Table:
    """The rows of frame ``name`` on the Ibis backend ``con``, with ``_date`` and the columns ``needs`` asks
    for (lookup names or their columns, parent columns), built from the declarations above."""
    frame = FRAMES[name]
    t = con.table(frame.table)
    parent = frame.parent
    if parent is not None and (parent.always or needs & set(parent.columns)):
        p = con.table(parent.table)
        p = p.select(*[p[c] for c in parent.columns], _pk=p[parent.key])
        own = [c for c in t.columns if c not in parent.columns]
        how = "inner" if parent.always else "left"
        t = t.join(p, t[parent.key] == p._pk, how=how).select(*[t[c] for c in own], *[p[c] for c in parent.columns])
    t = t.mutate(_date=t[frame.date])
    return with_lookups(con, t, needs)


def with_lookups(con: Any, t: ir.Table, needs: set[str]) -> ir.Table:
    """``t`` with the lookups ``needs`` asks for joined (by name or by one of their columns)."""
    for lname, lookup in LOOKUPS.items():
        if lname not in needs and not (needs & set(lookup.columns)):
            continue
        wanted = {k: v for k, v in lookup.columns.items() if k not in t.columns}
        if not wanted or lookup.frame_column not in t.columns:
            continue
        d = con.table(lookup.table)
        d = d.select(_lk=d[lookup.key], **{k: d[v] for k, v in wanted.items()})
        t = t.left_join(d, t[lookup.frame_column] == d._lk).drop("_lk")
    return t


# ---- rollups: additive measures kept by day (aggregate awareness) ---------------------------------------


@dataclass(frozen=True)
class Rollup:
    """Additive parts of one frame by day and ``keys``: ``_n`` (rows) and ``s_<column>`` (sums of ``sums``).

    ``sources``: the tables whose changes make it stale (the frame's table and its parent). A query whose
    dimensions, filters and measures reach only ``keys`` (or lookups joined on them) is answered from it.
    The key ``_paid`` is derived (``paid_order``), so paid measures (支付金额) are answered from it too.
    """

    name: str
    frame: str
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return ["_date", *self.keys, "_n", *[f"s_{c}" for c in self.sums]]


_K = ("channel_id", "distributor_id", "campaign_id")

ROLLUPS: dict[str, Rollup] = {
    r.name: r
    for r in (
        Rollup("rollup_orders", "orders", (*_K, "status", "_paid"), ("net_amount_base",), ("orders",)),
        Rollup(
            "rollup_order_lines",
            "order_lines",
            (*_K, "sku", "status", "_paid"),
            ("quantity", "amount"),
            ("order_lines", "orders"),
        ),
        Rollup("rollup_refunds", "refunds", _K, ("amount_base",), ("refunds", "orders")),
        Rollup("rollup_traffic", "traffic", _K, ("impressions", "visitors", "page_views", "add_to_cart"), ("traffic",)),
        Rollup(
            "rollup_ad_spend",
            "ad_spend",
            ("channel_id", "campaign_id"),
            ("spend_base", "spend", "clicks", "impressions", "reported_conversions", "reported_revenue"),
            ("ad_spend",),
        ),
        Rollup("rollup_fees", "fees", ("channel_id", "distributor_id", "fee_type"), ("amount_base",), ("fees",)),
    )
}
