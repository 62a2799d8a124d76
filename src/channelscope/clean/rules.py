"""Declared validation rules, one pandera schema per canonical table, evaluated row by row.

pandera declares the rules (required fields, ranges, allowed values, cross-field checks);
``row_reasons`` turns each rule into a per-row reason so a failing row is quarantined with every
reason that applies. The rules run in the engine as Ibis expressions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import pandera.ibis as pa
from pandera.api.ibis.types import IbisData
from pandera.backends.ibis.register import register_ibis_backends

from channelscope.config import CleaningConfig
from channelscope.model import ORDER_STATUSES, TABLES

register_ibis_backends()

NONNEG = [pa.Check.ge(0)]
EVENT_TYPES = ["view", "cart", "favorite", "purchase", "search", "share", "live_view"]
FEE_TYPES = ["commission", "platform", "payment", "logistics", "advertising", "other"]


def _frame_check(fn: Callable[[ir.Table], ir.BooleanValue], name: str, error: str) -> pa.Check:
    return pa.Check(lambda data: fn(data.table), name=name, error=error)


def _not_future(col: str, now: dt.datetime) -> pa.Check:
    return _frame_check(lambda t: t[col] <= ibis.literal(now), f"{col}_not_future", f"{col} is in the future")


def _known(flag: str, col: str, what: str) -> pa.Check:
    return _frame_check(lambda t: t[flag] | t[col].isnull(), f"known_{col}", f"unknown {what}")


def schema_for(table: str, cleaning: CleaningConfig, now: dt.datetime) -> pa.DataFrameSchema:
    """The rules of one canonical table. ``now`` is UTC plus the configured tolerance."""
    t = TABLES[table]
    checks: dict[str, list[pa.Check]] = {c.name: [] for c in t.columns}
    frame: list[pa.Check] = []
    money = [c.name for c in t.columns if str(c.type).startswith("decimal") and c.name != "fee_rate"]
    for col in money:
        if col not in ("amount",) or table != "fees":
            checks[col] += NONNEG
    if "channel_id" in checks:
        frame.append(_known("_ok_channel", "channel_id", "channel_id (not in channels)"))
    if "distributor_id" in checks and table != "distributors":
        frame.append(_known("_ok_distributor", "distributor_id", "distributor_id (not in distributors)"))
    if "currency" in checks:
        checks["currency"].append(pa.Check.str_matches(r"^[A-Z]{3}$"))
    if table == "orders":
        checks["status"].append(pa.Check.isin(list(ORDER_STATUSES)))
        frame.append(
            _frame_check(
                lambda x: x.paid_at.isnull() | (x.paid_at >= x.ordered_at),
                "paid_after_ordered",
                "paid_at is before ordered_at",
            )
        )
        frame += [_not_future("ordered_at", now), _not_future("paid_at", now)]
        frame.append(
            _frame_check(
                lambda x: x._fx_ok, "fx_rate_known", "no FX rate for the currency on or before the business date"
            )
        )
    if table == "order_lines":
        checks["quantity"] += [pa.Check.gt(0), pa.Check.le(cleaning.max_quantity)]
        checks["line_no"] += [pa.Check.ge(1)]
        frame.append(_known("_ok_sku", "sku", "sku (not in products)"))
        low, high = cleaning.price_outlier_low, cleaning.price_outlier_high
        frame.append(
            _frame_check(
                lambda x: (
                    x._list_price.isnull()
                    | x.unit_price.isnull()
                    | (x._list_price == 0)
                    | ((x.unit_price >= x._list_price * low) & (x.unit_price <= x._list_price * high))
                ),
                "price_near_list_price",
                f"unit_price is outside {low:g}x-{high:g}x of the product's list_price (outlier)",
            )
        )
    if table == "refunds":
        checks["amount"] = [pa.Check.gt(0)]
        frame += [_not_future("refunded_at", now)]
        frame.append(
            _frame_check(
                lambda x: x._fx_ok, "fx_rate_known", "no FX rate for the currency on or before the business date"
            )
        )
    if table in ("traffic", "ad_spend", "inventory"):
        for col in (
            "impressions",
            "visitors",
            "page_views",
            "add_to_cart",
            "clicks",
            "reported_conversions",
            "on_hand",
        ):
            if col in checks:
                checks[col] += NONNEG
    if table in ("traffic", "ad_spend", "fees"):
        frame.append(
            _frame_check(lambda x: x.date <= ibis.literal(now.date()), "date_not_future", "date is in the future")
        )
    if table in ("ad_spend", "fees", "payments"):
        frame.append(
            _frame_check(
                lambda x: x._fx_ok, "fx_rate_known", "no FX rate for the currency on or before the business date"
            )
        )
    if table == "fees":
        checks["fee_type"].append(pa.Check.isin(FEE_TYPES))
    if table == "events":
        checks["event_type"].append(pa.Check.isin(EVENT_TYPES))
        frame += [_not_future("ts", now)]
    if table == "fx_rates":
        checks["rate_to_base"] = [pa.Check.gt(0)]
    if table == "distributors":
        checks["tier"] += [pa.Check.ge(1)]
        checks["commission_rate"] += [pa.Check.in_range(0, 1)]
    columns = {
        c.name: pa.Column(checks=checks[c.name], nullable=not c.required, required=False)
        for c in t.columns
        if not c.derived or c.name == "order_id"
    }
    return pa.DataFrameSchema(columns, checks=frame, name=table)


_WORDS = {
    "greater_than_or_equal_to": "must be >= {min_value}",
    "greater_than": "must be > {min_value}",
    "less_than_or_equal_to": "must be <= {max_value}",
    "less_than": "must be < {max_value}",
    "in_range": "must be between {min_value} and {max_value}",
    "str_matches": "must match {pattern}",
}


def _describe(check: pa.Check) -> str:
    """A person's words for a built-in check, e.g. 'must be > 0'."""
    stats = dict(check.statistics or {})
    if check.name == "isin":
        return "is not one of " + ", ".join(str(v) for v in sorted(stats.get("allowed_values", [])))
    template = _WORDS.get(check.name or "")
    if template:
        try:
            return template.format(**{k: getattr(v, "pattern", v) for k, v in stats.items()})
        except KeyError:
            pass
    return f"fails {check.error}"


def row_reasons(tbl: ir.Table, schema: pa.DataFrameSchema) -> ir.ArrayValue:
    """An array of every reason this row breaks the schema (empty when it passes)."""
    reasons: list[ir.StringValue] = []
    present = set(tbl.columns)
    for name, col in schema.columns.items():
        if name not in present:
            continue
        value = tbl[name]
        if not col.nullable:
            reasons.append(ibis.ifelse(value.isnull(), ibis.literal(f"{name}: required value is missing"), None))
        for check in col.checks:
            out = check._check_fn(IbisData(tbl, name), **check._check_kwargs)
            ok = out.op().values[name].to_expr() if isinstance(out, ir.Table) else out
            msg = ibis.literal(f"{name}=") + value.cast("string") + ibis.literal(f": {_describe(check)}")
            reasons.append(ibis.ifelse(value.notnull() & ~ok.fill_null(True), msg, None))
    for check in schema.checks:
        needed = _columns_of(check)
        if needed and not needed <= present:
            continue
        ok = check._check_fn(IbisData(tbl, None))
        reasons.append(ibis.ifelse(~ok.fill_null(True), ibis.literal(check.error), None))
    if not reasons:
        return ibis.literal([], type="array<string>")
    return ibis.array(reasons).filter(lambda r: r.notnull())


def _columns_of(check: pa.Check) -> set[str]:
    names = {
        "paid_after_ordered": {"paid_at", "ordered_at"},
        "fx_rate_known": {"_fx_ok"},
        "price_near_list_price": {"_list_price", "unit_price"},
        "date_not_future": {"date"},
    }
    if check.name in names:
        return names[check.name]
    if check.name and check.name.startswith("known_"):
        col = check.name[len("known_") :]
        flag = {"channel_id": "_ok_channel", "distributor_id": "_ok_distributor", "sku": "_ok_sku"}[col]
        return {col, flag}
    if check.name and check.name.endswith("_not_future"):
        return {check.name[: -len("_not_future")]}
    return set()
