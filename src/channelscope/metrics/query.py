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
from channelscope.metrics.basis import COVERAGE_TABLES
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


def _paid(t: ir.Table) -> ir.BooleanValue:
    """An order counted as paid (支付金额): it has a payment time, whatever its status became after (a paid
    order later cancelled or refunded stays paid); where the source gives no payment time, a status only
    reached after payment (paid, shipped, completed, refunded) says it was paid."""
    return t.paid_at.notnull() | t.status.isin(PAID)


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
            o.paid_at,
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
        c = _paid(t) if col == "status" and values == ["paid"] else t[col].isin(values)
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
        first = o.filter(_paid(o)).group_by("customer_key").aggregate(_first_date=o.business_date.min())
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


Coverage = dict[str, frozenset[str]]


def channel_coverage(wh: Warehouse, tables: tuple[str, ...] = COVERAGE_TABLES) -> Coverage:
    """Which channels provide each input: table -> the channel ids with at least one row in it, ever.

    A channel that never sent a row of ``order_lines``, ``refunds`` or ``traffic`` does not provide that
    input: its KPIs over it are unknown, not 0 (a month without refunds in a channel that has a refund
    feed is a real 0). ``_orders`` holds the channels with any order. Small aggregates, pulled once.
    """
    con = wh.ibis
    out: dict[str, frozenset[str]] = {}
    o = con.table("orders")
    for table in (*tables, "_orders"):
        if table == "_orders":
            ids = o.select("channel_id").distinct()
        elif table == "order_lines":
            lines = con.table("order_lines").select("order_id").distinct()
            j = lines.join(o.select("order_id", "channel_id"), "order_id")
            ids = j.select("channel_id").distinct()
        else:
            ids = con.table(table).select("channel_id").distinct()
        values = ids.to_pandas()["channel_id"].dropna()
        out[table] = frozenset(str(v) for v in values)
    return out


def eligible_channels(
    catalog: Catalog, name: str, coverage: Coverage, channel_filter: tuple[Any, ...] | None = None
) -> frozenset[str] | None:
    """The channels a total of metric ``name`` is computed over (like for like: every input it needs), or
    None when no channel with orders (or of the filter) is left out."""
    basis = catalog.get(name).basis
    needs = [t for t in (basis.needs if basis else ()) if t in coverage]
    universe = frozenset(str(c) for c in channel_filter) if channel_filter else coverage.get("_orders", frozenset())
    eligible = universe
    for t in needs:
        eligible = eligible & coverage[t]
    return None if eligible == universe else eligible


def _gated(m: Measure, channels: frozenset[str], suffix: str) -> Measure:
    """A copy of ``m`` counting only the rows of ``channels`` (a like-for-like part of a total)."""
    flt = {**m.filter, "channel_id": sorted(channels) or ["__no_channel__"]}
    return m.model_copy(update={"name": f"{m.name}__{suffix}", "filter": flt})


def compile_request(wh: Warehouse, catalog: Catalog, req: KpiRequest, coverage: Coverage | None = None) -> ir.Table:
    """One Ibis expression computing every requested metric.

    Coverage: by channel, a measure over an input the channel does not provide (``channel_coverage``) is
    empty (NULL) and so is every metric computed from it; in a total (or any cut without the channel), a
    derived metric is computed over the channels that provide all its inputs (like for like), and a
    measure none of the channels in view provides is empty.
    """
    validate(catalog, req)
    measures = catalog.base_measures(list(req.metrics))
    if coverage is None:
        needed = {t for m in measures for t in ((m.basis.needs if m.basis else ()) or ())}
        coverage = channel_coverage(wh, tuple(t for t in COVERAGE_TABLES if t in needed)) if needed else {}
    keys = ["period", *req.by]
    per_channel = "channel" in req.by
    channel_filter = dict(req.filters).get("channel")
    gates: dict[str, frozenset[str]] = {}
    if not per_channel and coverage:
        for name in req.metrics:
            if isinstance(catalog.get(name), Derived):
                eligible = eligible_channels(catalog, name, coverage, channel_filter)
                if eligible is not None:
                    gates[name] = eligible
    extra = [_gated(m, ch, d) for d, ch in gates.items() for m in catalog.base_measures([d])]
    all_measures = [*measures, *extra]
    by_table: dict[str, list[Measure]] = {}
    for m in all_measures:
        by_table.setdefault(m.table, []).append(m)
    parts = []
    for table, ms in by_table.items():
        agg = _aggregate(wh, table, ms, req, keys)
        cols = [agg[k] for k in keys]
        for m in all_measures:
            if m.name in agg.columns:
                cols.append(agg[m.name].cast(_typed(m)).name(m.name))
            else:
                cols.append(ibis.null().cast(_typed(m)).name(m.name))
        parts.append(agg.select(*cols))
    union = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    combined = union.group_by(keys).aggregate(**{m.name: union[m.name].sum() for m in all_measures})
    combined = combined.mutate(**{m.name: combined[m.name].fill_null(0) for m in all_measures})
    combined = _empty_where_not_provided(combined, measures, coverage, per_channel, channel_filter)
    for name in req.metrics:
        d = catalog.get(name)
        if isinstance(d, Derived):
            combined = combined.mutate(**{name: expanded_formula(catalog, d, _columns(combined, name in gates, name))})
    return combined.select(*keys, *req.metrics).order_by(keys)


def _columns(t: ir.Table, gated: bool, name: str) -> Callable[[str], ir.Value]:
    """The operand of a formula: a base measure's column, or its like-for-like copy for metric ``name``."""
    suffix = f"__{name}" if gated else ""
    return lambda n: t[n + suffix]


def _empty_where_not_provided(
    t: ir.Table, measures: list[Measure], coverage: Coverage, per_channel: bool, channel_filter: Any
) -> ir.Table:
    """NULL for a measure over an input (order lines, refunds, traffic) the channel does not provide."""
    updates: dict[str, ir.Value] = {}
    for m in measures:
        needs = [n for n in (m.basis.needs if m.basis else ()) if n in coverage]
        if not needs:
            continue
        have = coverage[needs[0]]
        for n in needs[1:]:
            have = have & coverage[n]
        if per_channel:
            known = t.channel.isin(sorted(have)) if have else ibis.literal(False)
            updates[m.name] = ibis.ifelse(known, t[m.name], ibis.null().cast(t[m.name].type()))
        else:
            universe = frozenset(str(c) for c in channel_filter) if channel_filter else coverage.get("_orders")
            if universe is not None and not (universe & have):
                updates[m.name] = ibis.null().cast(t[m.name].type())
    return t.mutate(**updates) if updates else t


def expanded_formula(catalog: Catalog, d: Derived, operand: Callable[[str], ir.Value]) -> ir.Value:
    """A derived metric's formula with every derived reference replaced by its own formula, down to base
    measures given by ``operand(name)`` (so a like-for-like total gates every part the same way)."""

    def resolve(name: str) -> ir.Value:
        m = catalog.get(name)
        return formula_expr(m, resolve) if isinstance(m, Derived) else operand(name)

    return formula_expr(d, resolve)


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
            # a count a channel does not provide is empty: float NaN, not a made-up 0
            df[name] = df[name].astype("float64") if df[name].isna().any() else df[name].astype("int64")
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
