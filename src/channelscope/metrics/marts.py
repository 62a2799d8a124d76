"""Stable views for BI tools (Superset, Metabase, Tableau, Power BI): the marts.

Each mart is an Ibis expression over the canonical tables, created in the warehouse as a view
(``CREATE OR REPLACE VIEW``), so it is always as fresh as the tables and works the same on DuckDB
and PostgreSQL. The marts hold additive parts only (counts and DECIMAL money): ratios such as
conversion or AOV are computed by the BI tool from summed parts, never stored. See docs/bi-marts.md.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from channelscope.metrics.definitions import Catalog, build_catalog
from channelscope.metrics.query import measure_table
from channelscope.model.semantic import below_min_price, paid_order
from channelscope.model.tables import MONEY
from channelscope.warehouse import Warehouse

COUNT = dt.int64
#: fee types summed into ``channel_fees``; ``commission`` has its own column, the rest is ``other_fees``
CHANNEL_FEE_TYPES = ("platform", "payment", "logistics")
COMMISSION = "commission"

DAILY_CHANNEL = "mart_daily_channel"
DISTRIBUTOR = "mart_distributor"
CUSTOMER = "mart_customer"


def _cast(value: ir.Value, to: dt.DataType) -> ir.Value:
    """An explicit CAST in the SQL even where Ibis thinks the type already matches: a sum of BIGINT is
    HUGEINT in DuckDB and NUMERIC in PostgreSQL, and BI drivers should see the same type on both."""
    return ops.Cast(value, to=to).to_expr()


def _money(value: ir.Value) -> ir.Value:
    """A money column: exact DECIMAL(18,2), 0 where there is nothing to sum."""
    return _cast(value.fill_null(ibis.literal(0, type=MONEY)), MONEY)


def _count(value: ir.Value) -> ir.Value:
    """A count: BIGINT, 0 where there is nothing to count."""
    return _cast(value.fill_null(0), COUNT)


def _same(*names: str) -> dict[str, str]:
    return {n: n for n in names}


def daily_channel(wh: Warehouse, catalog: Catalog | None = None) -> ir.Table:
    """One row per business date × channel where any of traffic, orders, refunds, ad spend or fees has data.
    Every measure comes from the catalog's definition (``measure_table``): a mart never re-derives a KPI."""
    db = wh.ibis
    cat = catalog or build_catalog()
    f = db.table("fees")
    ch, cal = db.table("channels"), db.table("calendar")
    keys = ["date", "channel_id"]
    by = {"date": "_date", "channel_id": "channel_id"}
    traffic = measure_table(wh, cat, _same("visitors", "impressions", "page_views", "add_to_cart"), by)
    sales = measure_table(wh, cat, _same("orders", "paid_orders", "buyers", "gmv"), by)
    refunds = measure_table(wh, cat, _same("refunds"), by)
    ads = measure_table(wh, cat, _same("ad_spend"), by)
    fees = measure_table(wh, cat, _same("channel_fees", "commissions"), by)
    other = f.filter(~f.fee_type.isin([*CHANNEL_FEE_TYPES, COMMISSION]))
    others = other.group_by(keys).aggregate(other_fees=other.amount_base.sum())
    parts = [traffic, sales, refunds, ads, fees, others]
    spine = ibis.union(*[p.select(*keys) for p in parts], distinct=True)
    j = spine
    for p in parts:
        j = j.left_join(p, keys).select(j, *[p[c] for c in p.columns if c not in keys])
    j = j.left_join(ch, "channel_id").select(j, channel_name=ch.name, channel_kind=ch.kind, platform=ch.platform)
    j = j.left_join(cal, "date").select(
        j,
        year=cal.year,
        quarter=cal.quarter,
        month=cal.month,
        iso_week=cal.iso_week,
        weekday=cal.weekday,
        is_weekend=cal.is_weekend,
        festival=cal.festival,
        festival_en=cal.festival_en,
    )
    gmv, ref = _money(j.gmv), _money(j.refunds)
    return j.select(
        "date",
        "channel_id",
        "channel_name",
        "channel_kind",
        "platform",
        visitors=_count(j.visitors),
        impressions=_count(j.impressions),
        page_views=_count(j.page_views),
        add_to_cart=_count(j.add_to_cart),
        orders=_count(j.orders),
        paid_orders=_count(j.paid_orders),
        buyers=_count(j.buyers),
        gmv=gmv,
        refunds=ref,
        net_sales=_cast(gmv - ref, MONEY),
        ad_spend=_money(j.ad_spend),
        channel_fees=_money(j.channel_fees),
        commissions=_money(j.commissions),
        other_fees=_money(j.other_fees),
        year=j.year,
        quarter=j.quarter,
        month=j.month,
        iso_week=j.iso_week,
        weekday=j.weekday,
        is_weekend=j.is_weekend,
        festival=j.festival,
        festival_en=j.festival_en,
    )


def distributor(wh: Warehouse, catalog: Catalog | None = None) -> ir.Table:
    """One row per business date × distributor where its orders, refunds, commission or lines have data."""
    db = wh.ibis
    cat = catalog or build_catalog()
    o, lines, products, d = db.table("orders"), db.table("order_lines"), db.table("products"), db.table("distributors")
    keys = ["date", "distributor_id"]
    by = {"date": "_date", "distributor_id": "distributor_id"}

    def known(t: ir.Table) -> ir.BooleanValue:
        return t.distributor_id.notnull()

    sales = measure_table(wh, cat, _same("orders", "paid_orders", "gmv"), by, where=known)
    refunds = measure_table(wh, cat, _same("refunds"), by, where=known)
    commission = measure_table(wh, cat, {"commission": "commissions"}, by, where=known)
    sold = o.filter(paid_order(o) & o.distributor_id.notnull())
    lj = (
        lines.select("order_id", "sku", "unit_price")
        .inner_join(sold.select("order_id", "business_date", "distributor_id"), "order_id")
        .left_join(products.select("sku", "min_advertised_price"), "sku")
        .select("business_date", "distributor_id", "unit_price", "min_advertised_price")
    )
    sold_lines = lj.group_by(date=lj.business_date, distributor_id=lj.distributor_id).aggregate(
        lines_sold=lj.count(), lines_below_map=lj.count(where=below_min_price(lj.unit_price, lj.min_advertised_price))
    )
    parts = [sales, refunds, commission, sold_lines]
    spine = ibis.union(*[p.select(*keys) for p in parts], distinct=True)
    j = spine
    for p in parts:
        j = j.left_join(p, keys).select(j, *[p[c] for c in p.columns if c not in keys])
    j = j.left_join(d, "distributor_id").select(
        j,
        distributor_name=d.name,
        distributor_kind=d.kind,
        tier=d.tier,
        parent_id=d.parent_id,
        channel_id=d.channel_id,
    )
    gmv, ref = _money(j.gmv), _money(j.refunds)
    return j.select(
        "date",
        "distributor_id",
        "distributor_name",
        "distributor_kind",
        "tier",
        "parent_id",
        "channel_id",
        orders=_count(j.orders),
        paid_orders=_count(j.paid_orders),
        gmv=gmv,
        refunds=ref,
        net_sales=_cast(gmv - ref, MONEY),
        commission=_money(j.commission),
        lines_sold=_count(j.lines_sold),
        lines_below_map=_count(j.lines_below_map),
    )


def customer(wh: Warehouse, catalog: Catalog | None = None) -> ir.Table:
    """One row per customer_key with at least one order: lifetime counts and money to date."""
    db = wh.ibis
    cat = catalog or build_catalog()
    o, c = db.table("orders"), db.table("customers")
    oc = o.filter(o.customer_key.notnull())
    # the acquisition channel is the first order's (by ordered_at, then order_id: the customers rule)
    rank = ibis.row_number().over(group_by=oc.customer_key, order_by=[oc.ordered_at, oc.order_id])
    ranked = oc.mutate(_rank=rank)
    first = ranked.filter(ranked._rank == 0).select(
        "customer_key",
        first_order_at=ranked.ordered_at,
        first_order_date=ranked.business_date,
        acquisition_channel_id=ranked.channel_id,
    )

    def known(t: ir.Table) -> ir.BooleanValue:
        return t.customer_key.notnull()

    by = {"customer_key": "customer_key"}
    sales = measure_table(wh, cat, _same("orders", "paid_orders", "gmv"), by, where=known)
    life = oc.group_by("customer_key").aggregate(
        last_order_at=oc.ordered_at.max(),
        last_business_date=oc.business_date.max(),
        channels_used=oc.channel_id.nunique(),
    )
    totals = sales.inner_join(life, "customer_key").select(
        sales, life.last_order_at, life.last_business_date, life.channels_used
    )
    refunds = measure_table(wh, cat, _same("refunds"), by, where=known)
    latest = o.aggregate(as_of_date=o.business_date.max())
    j = totals.left_join(first, "customer_key").select(
        totals, first.first_order_at, first.first_order_date, first.acquisition_channel_id
    )
    j = j.left_join(refunds, "customer_key").select(j, refunds.refunds)
    j = j.left_join(c, "customer_key").select(
        j, region=c.region, gender=c.gender, age_band=c.age_band, member_level=c.member_level
    )
    j = j.cross_join(latest)
    gmv, ref = _money(j.gmv), _money(j.refunds)
    return j.select(
        "customer_key",
        "first_order_at",
        "first_order_date",
        "acquisition_channel_id",
        orders=_count(j.orders),
        paid_orders=_count(j.paid_orders),
        gmv=gmv,
        refunds=ref,
        net_sales=_cast(gmv - ref, MONEY),
        last_order_at=j.last_order_at,
        last_order_date=j.last_business_date,
        channels_used=_count(j.channels_used),
        days_since_last_order=_cast(j.as_of_date.delta(j.last_business_date, unit="day"), COUNT),
        region=j.region,
        gender=j.gender,
        age_band=j.age_band,
        member_level=j.member_level,
    )


#: every mart: view name -> the function building its expression
MARTS: dict[str, Callable[[Warehouse, Catalog | None], ir.Table]] = {
    DAILY_CHANNEL: daily_channel,
    DISTRIBUTOR: distributor,
    CUSTOMER: customer,
}


def create_marts(wh: Warehouse, catalog: Catalog | None = None) -> list[str]:
    """Create or replace every mart view (idempotent); returns their names.

    A view whose columns changed since it was created (an upgrade) is dropped first, because
    PostgreSQL's ``CREATE OR REPLACE VIEW`` cannot rename, retype or remove columns.
    """
    wh.ensure_schema()
    db = wh.ibis
    existing = set(db.list_tables())
    for name, build in MARTS.items():
        expr = build(wh, catalog)
        grants: list[str] = []
        if name in existing and not _same_columns(db.table(name).schema(), expr.schema()):
            grants = _grants(wh, name)
            db.drop_view(name, force=True)
        db.create_view(name, expr, overwrite=True)
        for sql in grants:
            wh.execute(sql)
    return list(MARTS)


def _grants(wh: Warehouse, view: str) -> list[str]:
    """The GRANT statements that give others their privileges on a view (PostgreSQL), to re-apply
    after it is dropped and created again: a BI role keeps its access across an upgrade."""
    if not wh.has_grants:
        return []
    rows = wh.execute(
        "SELECT grantee, privilege_type, is_grantable FROM information_schema.role_table_grants "
        "WHERE table_schema = current_schema() AND table_name = ? AND grantee <> current_user",
        [view],
    )
    out = []
    for grantee, privilege, grantable in rows:
        who = "PUBLIC" if grantee == "PUBLIC" else '"' + str(grantee).replace('"', '""') + '"'
        option = " WITH GRANT OPTION" if grantable == "YES" else ""
        out.append(f"GRANT {privilege} ON {view} TO {who}{option}")
    return out


def _same_columns(a: ibis.Schema, b: ibis.Schema) -> bool:
    return list(a.names) == list(b.names) and all(
        x.copy(nullable=True) == y.copy(nullable=True) for x, y in zip(a.types, b.types, strict=True)
    )
