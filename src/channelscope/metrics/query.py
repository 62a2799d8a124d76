"""Compile KPI requests to Ibis: one aggregate per source table, unioned into one query.

Every measure is aggregated in the engine at the requested grain and dimensions; derived metrics
are computed from the summed parts afterwards (never averaged), with a zero denominator giving
an empty value.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from channelscope.errors import QueryError
from channelscope.metrics.definitions import MEASURE_TABLES, PAID, Catalog, Derived, Measure
from channelscope.warehouse import Warehouse

GRAINS = ("day", "week", "month", "quarter", "year", "total")
_TRUNC = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}

#: dimension -> (column in the base frame, what it needs joined)
DIMENSIONS: dict[str, tuple[str, str | None]] = {
    "channel": ("channel_id", None),
    "channel_kind": ("channel_kind", "channels"),
    "platform": ("channel_platform", "channels"),
    "distributor": ("distributor_id", None),
    "distributor_tier": ("distributor_tier", "distributors"),
    "distributor_parent": ("distributor_parent", "distributors"),
    "campaign": ("campaign_id", None),
    "region": ("region", None),
    "category": ("category", "products"),
    "brand": ("brand", "products"),
    "sku": ("sku", None),
    "customer_type": ("customer_type", None),
    "festival": ("festival", "calendar"),
    "weekday": ("weekday", "calendar"),
    "is_weekend": ("is_weekend", "calendar"),
}
#: the dimensions each measured table can be cut by
TABLE_DIMENSIONS: dict[str, set[str]] = {
    "orders": {
        "channel",
        "channel_kind",
        "platform",
        "distributor",
        "distributor_tier",
        "distributor_parent",
        "campaign",
        "region",
        "customer_type",
        "festival",
        "weekday",
        "is_weekend",
    },
    "order_lines": {
        "channel",
        "channel_kind",
        "platform",
        "distributor",
        "distributor_tier",
        "distributor_parent",
        "campaign",
        "region",
        "category",
        "brand",
        "sku",
        "customer_type",
        "festival",
        "weekday",
        "is_weekend",
    },
    "refunds": {
        "channel",
        "channel_kind",
        "platform",
        "distributor",
        "distributor_tier",
        "distributor_parent",
        "campaign",
        "region",
        "festival",
        "weekday",
        "is_weekend",
    },
    "traffic": {
        "channel",
        "channel_kind",
        "platform",
        "distributor",
        "distributor_tier",
        "distributor_parent",
        "campaign",
        "festival",
        "weekday",
        "is_weekend",
    },
    "ad_spend": {"channel", "channel_kind", "platform", "campaign", "festival", "weekday", "is_weekend"},
    "fees": {
        "channel",
        "channel_kind",
        "platform",
        "distributor",
        "distributor_tier",
        "distributor_parent",
        "festival",
        "weekday",
        "is_weekend",
    },
    "events": {"channel", "channel_kind", "platform", "campaign", "sku", "festival", "weekday", "is_weekend"},
}


@dataclass(frozen=True)
class KpiRequest:
    metrics: tuple[str, ...]
    by: tuple[str, ...] = ()
    grain: str = "total"
    start: dt.date | None = None
    end: dt.date | None = None
    filters: tuple[tuple[str, tuple[Any, ...]], ...] = ()


def validate(catalog: Catalog, req: KpiRequest) -> None:
    """Unknown names get an error listing the valid ones."""
    for m in req.metrics:
        if m not in catalog:
            raise QueryError(f"unknown metric '{m}'; valid: {', '.join(sorted(catalog.metrics))}")
    for d in [*req.by, *(f for f, _ in req.filters)]:
        if d not in DIMENSIONS:
            raise QueryError(f"unknown dimension '{d}'; valid: {', '.join(DIMENSIONS)}")
    if req.grain not in GRAINS:
        raise QueryError(f"unknown grain '{req.grain}'; valid: {', '.join(GRAINS)}")
    if req.start and req.end and req.start > req.end:
        raise QueryError(f"start {req.start} is after end {req.end}")
    dims = [*req.by, *(f for f, _ in req.filters)]
    for measure in catalog.base_measures(list(req.metrics)):
        missing = [d for d in dims if d not in TABLE_DIMENSIONS[measure.table]]
        if missing:
            raise QueryError(
                f"metric '{measure.name}' (from {measure.table}) cannot be cut by {', '.join(missing)}; "
                f"it can by: {', '.join(sorted(TABLE_DIMENSIONS[measure.table]))}"
            )


def cuttable(catalog: Catalog, metrics: list[str], dims: list[str]) -> list[str]:
    """The metrics (in order) whose every base measure can be cut by all ``dims``: visitors and ad spend
    have no distributor, so a view filtered to a distributor leaves them out instead of failing."""
    return [
        m
        for m in metrics
        if m in catalog and all(set(dims) <= TABLE_DIMENSIONS[b.table] for b in catalog.base_measures([m]))
    ]


def _status_paid(col: ir.StringValue) -> ir.BooleanValue:
    return col.isin(PAID)


def _frame(wh: Warehouse, table: str, needs: set[str]) -> ir.Table:
    """The rows of a measured table with ``_date`` and the dimension columns ``needs`` asks for."""
    con = wh.ibis
    if table == "order_lines":
        lines = con.table("order_lines")
        o = con.table("orders")
        t = lines.join(o, lines.order_id == o.order_id).select(
            lines.sku,
            lines.quantity,
            lines.unit_price,
            lines.amount,
            o.status,
            o.business_date,
            o.channel_id,
            o.distributor_id,
            o.campaign_id,
            o.region,
            o.customer_key,
            _date=o.business_date,
        )
        if needs & {"category", "brand", "unit_cost"}:
            p = con.table("products")
            t = t.left_join(p, t.sku == p.sku).select(t, p.category, p.brand, p.unit_cost)
    elif table == "refunds":
        r = con.table("refunds")
        t = r.mutate(_date=r.business_date)
        if needs & {"distributor_id", "campaign_id", "region"}:
            o = con.table("orders").select("order_id", "distributor_id", "campaign_id", "region")
            t = t.left_join(o, t.order_id == o.order_id).select(t, o.distributor_id, o.campaign_id, o.region)
    else:
        t = con.table(table)
        t = t.mutate(_date=t[MEASURE_TABLES[table]])
    if "channels" in needs:
        c = con.table("channels").select(channel_id_c="channel_id", channel_kind="kind", channel_platform="platform")
        t = t.left_join(c, t.channel_id == c.channel_id_c).drop("channel_id_c")
    if "distributors" in needs:
        d = con.table("distributors").select(
            distributor_id_d="distributor_id", distributor_tier="tier", distributor_parent="parent_id"
        )
        t = t.left_join(d, t.distributor_id == d.distributor_id_d).drop("distributor_id_d")
    if "calendar" in needs:
        cal = con.table("calendar").select(
            cal_date="date", festival="festival", weekday="weekday", is_weekend="is_weekend"
        )
        t = t.left_join(cal, t._date == cal.cal_date).drop("cal_date")
    return t


def _period(t: ir.Table, grain: str, start: dt.date | None) -> ir.DateValue:
    if grain == "total":
        return ibis.literal(start or dt.date(1900, 1, 1), type="date")
    return t._date.truncate(_TRUNC[grain]).cast("date")


def _condition(t: ir.Table, measure: Measure) -> ir.BooleanValue | None:
    cond: ir.BooleanValue | None = None
    for col, value in measure.filter.items():
        values = value if isinstance(value, list) else [value]
        c = _status_paid(t.status) if col == "status" and values == ["paid"] else t[col].isin(values)
        cond = c if cond is None else cond & c
    return cond


def _aggregate(wh: Warehouse, table: str, measures: list[Measure], req: KpiRequest, keys: list[str]) -> ir.Table:
    dims = [*req.by, *(f for f, _ in req.filters)]
    needs = {DIMENSIONS[d][1] for d in dims if DIMENSIONS[d][1]} | {DIMENSIONS[d][0] for d in dims}
    needs |= {m.times for m in measures if m.times}
    if "distributors" in needs:
        needs.add("distributor_id")
    t = _frame(wh, table, {n for n in needs if n})
    if req.start:
        t = t.filter(t._date >= req.start)
    if req.end:
        t = t.filter(t._date <= req.end)
    t = t.mutate(_period=_period(t, req.grain, req.start))
    if "customer_type" in dims or any("customer_type" in m.filter for m in measures):
        o = wh.ibis.table("orders")
        first = o.filter(_status_paid(o.status)).group_by("customer_key").aggregate(_first_date=o.business_date.min())
        first = first.rename(_ck="customer_key")
        t = t.left_join(first, t.customer_key == first._ck).drop("_ck")
        t = t.mutate(customer_type=ibis.ifelse(t._first_date >= t._period, "new", "returning"))
    for dim, values in req.filters:
        t = t.filter(t[DIMENSIONS[dim][0]].isin(list(values)))
    group = ["_period", *[DIMENSIONS[d][0] for d in req.by]]
    aggs: dict[str, ir.Scalar] = {}
    repeat: list[Measure] = []
    for m in measures:
        cond = _condition(t, m)
        if m.agg == "count":
            aggs[m.name] = t.count() if cond is None else ibis.ifelse(cond, 1, 0).sum()
        elif m.agg == "sum":
            col = t[m.column] * t[m.times] if m.times else t[m.column]
            aggs[m.name] = col.sum(where=cond)
        elif m.agg == "count_distinct":
            aggs[m.name] = t[m.column].nunique(where=cond)
        else:
            repeat.append(m)
    out = t.group_by(group).aggregate(**aggs) if aggs else None
    for m in repeat:
        cond = _condition(t, m)
        base = t if cond is None else t.filter(cond)
        base = base.filter(base[m.column].notnull())  # orders without a known customer are nobody's repeat
        per = base.group_by([*group, m.column]).aggregate(_n=base.count())
        rep = per.group_by(group).aggregate(**{m.name: ibis.ifelse(per._n >= 2, 1, 0).sum()})
        out = (
            rep
            if out is None
            else out.outer_join(rep, group).select(
                *[ibis.coalesce(out[g], rep[g]).name(g) for g in group],
                *[out[c] for c in out.columns if c not in group],
                rep[m.name],
            )
        )
    assert out is not None
    return out.rename({k: v for k, v in zip(keys, group, strict=True) if k != v})


def _typed(m: Measure) -> str:
    if m.unit == "money" or _sums_money(m):
        return "decimal(38, 2)"
    return "int64" if m.unit in ("count", "quantity") and not m.times else "float64"


def _is_sum(catalog: Catalog, name: str) -> bool:
    m = catalog.get(name)
    return isinstance(m, Measure) or ("/" not in m.formula and all(_is_sum(catalog, r) for r in m.refs))


def _sums_money(m: Measure) -> bool:
    """A sum over a money column is money, whatever unit the definition forgot to say."""
    from channelscope.model import TABLES

    if m.agg != "sum" or m.times or not m.column:
        return False
    try:
        return str(TABLES[m.table].column(m.column).type).startswith("decimal(18, 2)")
    except KeyError:
        return False


def compile_request(wh: Warehouse, catalog: Catalog, req: KpiRequest) -> ir.Table:
    """One Ibis expression computing every requested metric."""
    validate(catalog, req)
    measures = catalog.base_measures(list(req.metrics))
    keys = ["period", *req.by]
    by_table: dict[str, list[Measure]] = {}
    for m in measures:
        by_table.setdefault(m.table, []).append(m)
    parts = []
    for table, ms in by_table.items():
        agg = _aggregate(wh, table, ms, req, keys)
        cols = [agg[k] for k in keys]
        for m in measures:
            if m.name in agg.columns:
                cols.append(agg[m.name].cast(_typed(m)).name(m.name))
            else:
                cols.append(ibis.null().cast(_typed(m)).name(m.name))
        parts.append(agg.select(*cols))
    union = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    combined = union.group_by(keys).aggregate(**{m.name: union[m.name].sum() for m in measures})
    combined = combined.mutate(**{m.name: combined[m.name].fill_null(0) for m in measures})
    for d in catalog.derived_order(list(req.metrics)):
        combined = combined.mutate(**{d.name: _formula(d, combined)})
    return combined.select(*keys, *req.metrics).order_by(keys)


def _formula(d: Derived, t: ir.Table) -> ir.Value:
    return formula_expr(d, lambda name: t[name])


def formula_expr(d: Derived, operand: Callable[[str], ir.Value]) -> ir.Value:
    """A derived metric's formula as an Ibis expression over ``operand(name)`` (a column, or any expression)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Name):
            return operand(node.id).cast("float64")
        if isinstance(node, ast.Constant):
            return ibis.literal(float(node.value))  # type: ignore[arg-type]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                return a / ibis.ifelse(b == 0, ibis.null(), b)  # zero denominator: empty, never inf
        raise QueryError(f"metric '{d.name}': cannot evaluate formula '{d.formula}'")

    return ev(ast.parse(d.formula, mode="eval"))


def kpi_frame(wh: Warehouse, catalog: Catalog, req: KpiRequest) -> pd.DataFrame:
    """The request's table as pandas: money as float rounded to cents, ratios as float."""
    df = compile_request(wh, catalog, req).to_pandas()
    for name in req.metrics:
        m = catalog.get(name)
        if m.unit == "money" or (isinstance(m, Measure) and _sums_money(m)):
            df[name] = df[name].astype("float64").round(2)
        elif isinstance(m, Measure) and _typed(m) == "int64":
            df[name] = df[name].astype("int64")
        else:
            df[name] = df[name].astype("float64")
    if "period" in df.columns:
        df["period"] = pd.to_datetime(df["period"]).dt.date
    if req.grain == "total":
        df = df.drop(columns=["period"])
        if df.empty and not req.by:  # nothing happened: zeros (ratios stay empty), not no row
            df = pd.DataFrame(
                [
                    {
                        n: (float("nan") if isinstance(catalog.get(n), Derived) and not _is_sum(catalog, n) else 0)
                        for n in req.metrics
                    }
                ]
            )
    return df
