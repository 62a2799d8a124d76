"""Canonical tables, declared once. DDL, mappings, validation and merges all read from here."""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt

MONEY = dt.Decimal(18, 2)
RATE = dt.Decimal(18, 8)

#: The canonical order statuses; platform status values are mapped onto these.
ORDER_STATUSES = ("created", "paid", "shipped", "completed", "cancelled", "refunded")


@dataclass(frozen=True)
class Column:
    name: str
    type: dt.DataType
    required: bool = False
    doc: str = ""
    #: a column the loader fills itself (batch_id, record_hash, business_date, *_base)
    derived: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    kind: str  # fact | dimension | bookkeeping
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str = ""
    #: the column whose later value wins when the same key arrives again
    updated_at: str | None = None
    #: money column -> (currency column, base-currency column)
    money_base: dict[str, str] = field(default_factory=dict)
    #: the timestamp (or date) that gives a row its business date
    business_time: str | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def schema(self) -> ibis.Schema:
        return ibis.schema({c.name: c.type for c in self.columns})

    @property
    def mappable(self) -> list[str]:
        return [c.name for c in self.columns if not c.derived]


def _c(name: str, type_: dt.DataType | str, required: bool = False, doc: str = "", derived: bool = False) -> Column:
    return Column(name, dt.dtype(type_) if isinstance(type_, str) else type_, required, doc, derived)


_LOAD = (
    _c("batch_id", "string", derived=True, doc="the batch that loaded this row"),
    _c("record_hash", "string", derived=True, doc="hash of the row's content, to tell repeats"),
)

_T: list[Table] = [
    Table(
        "channels",
        "dimension",
        (
            _c("channel_id", "string", True),
            _c("name", "string", True),
            _c("kind", "string", True),
            _c("platform", "string"),
            _c("parent_id", "string"),
            _c("currency", "string"),
            _c("timezone", "string"),
            _c("fee_rate", RATE),
            *_LOAD,
        ),
        key=("channel_id",),
        doc="Where the brand sells.",
    ),
    Table(
        "distributors",
        "dimension",
        (
            _c("distributor_id", "string", True),
            _c("channel_id", "string", True),
            _c("name", "string"),
            _c("kind", "string"),
            _c("tier", "int32"),
            _c("parent_id", "string"),
            _c("commission_rate", RATE),
            _c("region", "string"),
            _c("joined_at", "date"),
            _c("status", "string"),
            *_LOAD,
        ),
        key=("distributor_id",),
        doc="Resellers, affiliates, KOLs, live hosts, stores.",
    ),
    Table(
        "products",
        "dimension",
        (
            _c("sku", "string", True),
            _c("spu", "string"),
            _c("name", "string"),
            _c("category", "string"),
            _c("brand", "string"),
            _c("list_price", MONEY),
            _c("unit_cost", MONEY),
            _c("min_advertised_price", MONEY),
            *_LOAD,
        ),
        key=("sku",),
        doc="What the brand sells, at its list price and unit cost (base currency).",
    ),
    Table(
        "price_list",
        "dimension",
        (
            _c("sku", "string", True),
            _c("valid_from", "date", True, "first day the prices hold (business date)"),
            _c("valid_to", "date", doc="last day the prices hold; empty = until further notice"),
            _c("min_advertised_price", MONEY, True, "MAP, base currency, per unit"),
            _c("msrp", MONEY, doc="manufacturer's suggested retail price, base currency, per unit"),
            *_LOAD,
        ),
        key=("sku", "valid_from"),
        doc="The brand's price list over time: MAP and MSRP per SKU with validity dates (prices change).",
    ),
    Table(
        "lead_times",
        "dimension",
        (
            _c("sku", "string", True),
            _c("supplier", "string", doc="who replenishes the SKU"),
            _c("lead_time_days", "int32", True, "days from a purchase order to stock on hand"),
            _c("case_pack", "int32", doc="units per case: orders are rounded up to whole cases"),
            _c("on_order", "int64", doc="units already ordered and not yet received"),
            *_LOAD,
        ),
        key=("sku",),
        doc="Replenishment per SKU: supplier, lead time, case pack and units on order (the inventory plan's input).",
    ),
    Table(
        "distributor_regions",
        "dimension",
        (
            _c("distributor_id", "string", True),
            _c("region", "string", True, "province (or city) as orders carry it"),
            _c("valid_from", "date", True),
            _c("valid_to", "date", doc="empty = until further notice"),
            *_LOAD,
        ),
        key=("distributor_id", "region", "valid_from"),
        doc="Where each distributor may sell, with dates; a distributor without rows is not restricted.",
    ),
    Table(
        "distributor_warnings",
        "dimension",
        (
            _c("distributor_id", "string", True),
            _c("sku", "string", doc="the SKU the warning names; empty = every SKU"),
            _c("warned_at", "date", True, "business date the warning was issued"),
            _c("reference", "string"),
            *_LOAD,
        ),
        key=("distributor_id", "warned_at", "reference"),
        doc="Price warnings issued to distributors outside channelscope (letters, e-mails), loaded as data.",
    ),
    Table(
        "customers",
        "dimension",
        (
            _c("customer_key", "string", True, "keyed HMAC pseudonym"),
            _c("first_order_at", "timestamp"),
            _c("acquisition_channel_id", "string"),
            _c("region", "string"),
            _c("gender", "string"),
            _c("age_band", "string"),
            _c("member_level", "string"),
            *_LOAD,
        ),
        key=("customer_key",),
        doc="Pseudonymous customers; first order and acquisition channel are derived.",
    ),
    Table(
        "campaigns",
        "dimension",
        (
            _c("campaign_id", "string", True),
            _c("name", "string"),
            _c("kind", "string"),
            _c("channel_id", "string"),
            _c("starts_at", "timestamp"),
            _c("ends_at", "timestamp"),
            _c("budget", MONEY),
            _c("code", "string"),
            *_LOAD,
        ),
        key=("campaign_id",),
    ),
    Table(
        "calendar",
        "dimension",
        (
            _c("date", "date", True),
            _c("year", "int32"),
            _c("quarter", "int32"),
            _c("month", "int32"),
            _c("iso_week", "string"),
            _c("weekday", "int32"),
            _c("is_weekend", "boolean"),
            _c("festival", "string"),
            _c("festival_en", "string"),
        ),
        key=("date",),
        doc="One row a day with its tags.",
    ),
    Table(
        "fx_rates",
        "dimension",
        (
            _c("date", "date", True),
            _c("currency", "string", True),
            _c("rate_to_base", RATE, True, "units of base currency per 1 unit of currency"),
            *_LOAD,
        ),
        key=("date", "currency"),
    ),
    Table(
        "orders",
        "fact",
        (
            _c("order_id", "string", True, "channel_id:source_order_id", derived=True),
            _c("source_order_id", "string", True),
            _c("channel_id", "string", True),
            _c("distributor_id", "string"),
            _c("customer_key", "string"),
            _c("campaign_id", "string"),
            _c("ordered_at", "timestamp", True, "UTC"),
            _c("paid_at", "timestamp", doc="UTC"),
            _c("updated_at", "timestamp", doc="UTC; the latest export wins"),
            _c("status", "string", True),
            _c("currency", "string", True),
            _c("gross_amount", MONEY),
            _c("discount_amount", MONEY),
            _c("shipping_amount", MONEY),
            _c("net_amount", MONEY, True),
            _c("net_amount_base", MONEY, derived=True),
            _c("region", "string"),
            _c("utm_source", "string"),
            _c("utm_medium", "string"),
            _c("business_date", "date", derived=True),
            *_LOAD,
        ),
        key=("order_id",),
        updated_at="updated_at",
        money_base={"net_amount": "net_amount_base"},
        business_time="ordered_at",
        doc="One row per order.",
    ),
    Table(
        "order_lines",
        "fact",
        (
            _c("order_id", "string", True, derived=True),
            _c("source_order_id", "string", True),
            _c("channel_id", "string", True),
            _c("line_no", "int32", True),
            _c("sku", "string", True),
            _c("quantity", "int64", True),
            _c("unit_price", MONEY),
            _c("discount_amount", MONEY),
            _c("amount", MONEY),
            *_LOAD,
        ),
        key=("order_id", "line_no"),
    ),
    Table(
        "refunds",
        "fact",
        (
            _c("order_id", "string", True, derived=True),
            _c("source_order_id", "string", True),
            _c("channel_id", "string", True),
            _c("refund_id", "string"),
            _c("refunded_at", "timestamp", True, "UTC"),
            _c("currency", "string", True),
            _c("amount", MONEY, True),
            _c("amount_base", MONEY, derived=True),
            _c("reason", "string"),
            _c("business_date", "date", derived=True),
            *_LOAD,
        ),
        key=("order_id", "refund_id"),
        money_base={"amount": "amount_base"},
        business_time="refunded_at",
    ),
    Table(
        "traffic",
        "fact",
        (
            _c("date", "date", True),
            _c("channel_id", "string", True),
            _c("distributor_id", "string"),
            _c("campaign_id", "string"),
            _c("impressions", "int64"),
            _c("visitors", "int64"),
            _c("page_views", "int64"),
            _c("add_to_cart", "int64"),
            *_LOAD,
        ),
        key=("date", "channel_id", "distributor_id", "campaign_id"),
    ),
    Table(
        "events",
        "fact",
        (
            _c("ts", "timestamp", True),
            _c("visitor_key", "string", True),
            _c("customer_key", "string"),
            _c("event_type", "string", True),
            _c("sku", "string"),
            _c("channel_id", "string", True),
            _c("campaign_id", "string"),
            _c("business_date", "date", derived=True),
            *_LOAD,
        ),
        key=("ts", "visitor_key", "event_type", "sku"),
        business_time="ts",
    ),
    Table(
        "ad_spend",
        "fact",
        (
            _c("date", "date", True),
            _c("channel_id", "string", True),
            _c("campaign_id", "string"),
            _c("platform", "string"),
            _c("currency", "string", True),
            _c("spend", MONEY, True),
            _c("spend_base", MONEY, derived=True),
            _c("impressions", "int64"),
            _c("clicks", "int64"),
            _c("reported_conversions", "int64"),
            _c("reported_revenue", MONEY),
            *_LOAD,
        ),
        key=("date", "channel_id", "campaign_id", "platform"),
        money_base={"spend": "spend_base"},
        business_time="date",
    ),
    Table(
        "fees",
        "fact",
        (
            _c("date", "date", True),
            _c("channel_id", "string", True),
            _c("distributor_id", "string"),
            _c("fee_type", "string", True),
            _c("currency", "string", True),
            _c("amount", MONEY, True),
            _c("amount_base", MONEY, derived=True),
            *_LOAD,
        ),
        key=("date", "channel_id", "distributor_id", "fee_type"),
        money_base={"amount": "amount_base"},
        business_time="date",
    ),
    Table(
        "shipments",
        "fact",
        (
            _c("order_id", "string", True, derived=True),
            _c("source_order_id", "string", True),
            _c("channel_id", "string", True),
            _c("shipped_at", "timestamp"),
            _c("delivered_at", "timestamp"),
            _c("carrier", "string"),
            _c("status", "string"),
            *_LOAD,
        ),
        key=("order_id",),
    ),
    Table(
        "payments",
        "fact",
        (
            _c("order_id", "string", True, derived=True),
            _c("source_order_id", "string", True),
            _c("channel_id", "string", True),
            _c("payment_seq", "int32", True),
            _c("method", "string"),
            _c("installments", "int32"),
            _c("currency", "string", True),
            _c("amount", MONEY, True),
            _c("amount_base", MONEY, derived=True),
            *_LOAD,
        ),
        key=("order_id", "payment_seq"),
        money_base={"amount": "amount_base"},
    ),
    Table(
        "inventory",
        "fact",
        (
            _c("date", "date", True),
            _c("sku", "string", True),
            _c("location", "string", True),
            _c("on_hand", "int64", True),
            *_LOAD,
        ),
        key=("date", "sku", "location"),
    ),
]

BOOKKEEPING: list[Table] = [
    Table(
        "batches",
        "bookkeeping",
        (
            _c("batch_id", "string", True),
            _c("source", "string", True),
            _c("file", "string"),
            _c("fingerprint", "string"),
            _c("table_name", "string"),
            _c("started_at", "timestamp"),
            _c("finished_at", "timestamp"),
            _c("rows_in", "int64"),
            _c("loaded", "int64"),
            _c("quarantined", "int64"),
            _c("duplicates", "int64"),
            _c("replaced", "int64"),
            _c("status", "string"),
            _c("message", "string"),
            _c("details", "string"),
        ),
        key=("batch_id",),
        doc="The ledger: one row per load; rows_in = loaded + quarantined + duplicates.",
    ),
    Table(
        "quarantine",
        "bookkeeping",
        (
            _c("batch_id", "string", True),
            _c("source", "string"),
            _c("file", "string"),
            _c("table_name", "string"),
            _c("row_number", "int64"),
            _c("source_key", "string"),
            _c("record", "string", doc="the input row as JSON, personal fields pseudonymized"),
            _c("reasons", "string", doc="JSON list of every reason"),
            _c("resolved_batch_id", "string"),
        ),
        key=("batch_id", "row_number"),
    ),
]

TABLES: dict[str, Table] = {t.name: t for t in [*_T, *BOOKKEEPING]}


def table(name: str) -> Table:
    """The canonical table called ``name``; unknown names list the valid ones."""
    from channelscope.errors import ConfigError

    if name not in TABLES:
        raise ConfigError(f"unknown canonical table '{name}'; valid: {', '.join(sorted(TABLES))}")
    return TABLES[name]
