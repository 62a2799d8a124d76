"""Compile KPI requests to Ibis: one aggregate per source table, unioned into one query.

Every measure is aggregated in the engine at the requested grain and dimensions; derived metrics
are computed from the summed parts afterwards (never averaged), with a zero denominator giving
an empty value.
"""

from __future__ import annotations

import ast
import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from channelscope.errors import QueryError
from channelscope.metrics.basis import COVERAGE_TABLES
from channelscope.metrics.definitions import Catalog, Derived, Measure
from channelscope.model.semantic import DIMENSIONS as SEMANTIC_DIMENSIONS
from channelscope.model.semantic import (
    FRAME_DIMENSIONS,
    FRAMES,
    LOOKUPS,
    ROLLUPS,
    Rollup,
    frame_table,
    paid_order,
    with_lookups,
)
from channelscope.warehouse import Warehouse

GRAINS = ("day", "week", "month", "quarter", "year", "total")
_TRUNC = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}

#: dimension -> (column in the frame, the lookup that brings it); declared in model/semantic.py
DIMENSIONS: dict[str, tuple[str, str | None]] = {d.name: (d.column, d.lookup) for d in SEMANTIC_DIMENSIONS.values()}


#: the dimensions each measured table can be cut by
TABLE_DIMENSIONS: dict[str, set[str]] = FRAME_DIMENSIONS


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
    """An order counted as paid (支付金额): ``model.semantic.paid_order``."""
    return paid_order(t)


def _frame(wh: Warehouse, table: str, needs: set[str]) -> ir.Table:
    """The rows of a measured frame with ``_date`` and the columns ``needs`` asks for, built from its
    declaration in ``model.semantic`` (parent columns, lookups): no frame is special-cased here."""
    return frame_table(wh.ibis, table, needs)


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


def measure_agg(t: ir.Table, m: Measure) -> ir.Scalar:
    """A base measure's aggregate over its frame ``t`` (count, sum, count_distinct): the one place a
    measure's definition becomes an aggregate, for KPI queries and marts alike."""
    cond = _condition(t, m)
    if m.agg == "count":
        return t.count() if cond is None else ibis.ifelse(cond, 1, 0).sum()
    if m.agg == "sum":
        col = t[m.column] * t[m.times] if m.times else t[m.column]
        return col.sum(where=cond)
    if m.agg == "count_distinct":
        return t[m.column].nunique(where=cond)
    raise QueryError(f"measure '{m.name}': '{m.agg}' is not a single aggregate")


def measure_table(
    wh: Warehouse,
    catalog: Catalog,
    names: dict[str, str],
    keys: dict[str, str],
    *,
    where: Callable[[ir.Table], ir.BooleanValue] | None = None,
) -> ir.Table:
    """Base measures of one frame aggregated in the engine by ``keys`` (output name -> frame column, ``_date``
    for the frame's date), through the catalog's definitions. ``names``: output column -> measure name."""
    measures = {out: catalog.get(n) for out, n in names.items()}
    tables = {m.table for m in measures.values() if isinstance(m, Measure)}
    if len(tables) != 1 or not all(isinstance(m, Measure) for m in measures.values()):
        raise QueryError(f"{', '.join(names.values())}: not base measures of one frame")
    needs = set(keys.values()) | {m.times for m in measures.values() if isinstance(m, Measure) and m.times}
    t = _frame(wh, tables.pop(), {n for n in needs if n})
    if where is not None:
        t = t.filter(where(t))
    return t.group_by(**{k: t[c] for k, c in keys.items()}).aggregate(
        **{out: measure_agg(t, m) for out, m in measures.items() if isinstance(m, Measure)}
    )


def _reach(rollup: Rollup) -> set[str]:
    """The columns a query over ``rollup`` can use: its keys and those of lookups joined on them."""
    keys = {"_date", *rollup.keys}
    out = set(keys)
    for lookup in LOOKUPS.values():
        if lookup.frame_column in keys:
            out |= set(lookup.columns)
    return out


def covering_rollup(wh: Warehouse, table: str, req: KpiRequest) -> Rollup | None:
    """The rollup of frame ``table`` when it covers the request's dimensions and filters (grain: any,
    rollups are daily), and the warehouse has it."""
    name = FRAMES[table].rollup
    if name is None or name not in wh.rollup_tables():
        return None
    reach = _reach(ROLLUPS[name])
    dims = [*req.by, *(f for f, _ in req.filters)]
    return ROLLUPS[name] if all(DIMENSIONS[d][0] in reach for d in dims) else None


def rollup_covers(rollup: Rollup, m: Measure) -> bool:
    """Whether a base measure is additive over ``rollup``'s columns (distinct counts never are)."""
    if m.agg not in ("count", "sum") or any(col not in rollup.keys for col in m.filter):
        return False
    if m.filter.get("status") == "paid" and "_paid" not in rollup.keys:
        return False  # "paid" needs the payment time (支付金额), kept by a rollup as its key _paid
    if "channel_id" in m.filter:
        return False  # a like-for-like part of a total: read from the facts
    if m.agg == "sum" and m.column not in rollup.sums:
        return False
    return not m.times or m.times in _reach(rollup)


def _aggregate(
    wh: Warehouse,
    table: str,
    measures: list[Measure],
    req: KpiRequest,
    keys: list[str],
    rollup: Rollup | None = None,
) -> ir.Table:
    dims = [*req.by, *(f for f, _ in req.filters)]
    needs = {DIMENSIONS[d][1] for d in dims if DIMENSIONS[d][1]} | {DIMENSIONS[d][0] for d in dims}
    needs |= {m.times for m in measures if m.times}
    if "distributors" in needs:
        needs.add("distributor_id")
    if rollup is not None:  # the additive parts by day, with the lookups joined as on the facts
        t = with_lookups(wh.ibis, wh.ibis.table(rollup.name), {n for n in needs if n})
    else:
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
        if rollup is not None:
            cond = _condition(t, m)
            col = t._n if m.agg == "count" else t[f"s_{m.column}"]
            if m.times:  # sum(q) x c per key = sum(q x c): exact where c depends on the key only (unit cost by sku)
                times = t[m.times]
                wide = f"decimal(38, {times.type().scale})" if times.type().is_decimal() else "float64"
                col = col.cast(wide) * times.cast(wide)
            aggs[m.name] = col.sum(where=cond)
        elif m.agg == "repeat_buyers":
            repeat.append(m)
        else:
            aggs[m.name] = measure_agg(t, m)
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
    feed is a real 0). ``_orders`` holds the channels with any order. Read from the daily rollups where
    the warehouse keeps them (a few thousand rows instead of every fact: at 10M orders the scan of the lines
    joined to their orders cost about 5 s of CPU per query compiled).
    """
    con = wh.ibis
    out: dict[str, frozenset[str]] = {}
    o = con.table("orders")
    kept = wh.rollup_tables()
    for table in (*tables, "_orders"):
        frame = "orders" if table == "_orders" else table
        rollup = FRAMES[frame].rollup if frame in FRAMES else None
        if rollup is not None and rollup in kept:
            # the daily rollup has a row per channel and day with facts (kept in the facts' transaction, the
            # lines keyed by their order's channel): the same channels, without rescanning the facts
            ids = con.table(rollup).select("channel_id").distinct()
        elif table == "_orders":
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


def compile_request(wh: Warehouse, catalog: Catalog, req: KpiRequest, *, rollups: bool = True) -> ir.Table:
    """One Ibis expression computing every requested metric.

    Per frame, the additive measures come from the frame's rollup when it covers the request (same
    result, far fewer rows); distinct counts and anything the rollup cannot cut come from the facts.
    ``rollups=False`` reads the facts only."""
    validate(catalog, req)
    measures = catalog.base_measures(list(req.metrics))
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
    cut = [d for d in req.by if d != "channel"]
    orders_cut = all(d in TABLE_DIMENSIONS["orders"] for d in [*req.by, *(f for f, _ in req.filters)])
    provides = _provides(measures, coverage) if cut and not per_channel and orders_cut else {}
    plain = measures
    measures = [*measures, *extra, *provides.values()]
    by_source: dict[tuple[str, str | None], list[Measure]] = {}
    for m in measures:
        r = covering_rollup(wh, m.table, req) if rollups and m in plain else None  # like-for-like parts: facts
        use = r.name if r is not None and rollup_covers(r, m) else None
        by_source.setdefault((m.table, use), []).append(m)
    parts = []
    for (table, use), ms in by_source.items():
        agg = _aggregate(wh, table, ms, req, keys, ROLLUPS[use] if use else None)
        cols = [agg[k] for k in keys]
        for m in measures:
            if m.name in agg.columns:
                cols.append(agg[m.name].cast(_typed(m)).name(m.name))
            else:
                cols.append(ibis.null().cast(_typed(m)).name(m.name))
        parts.append(agg.select(*cols))
    union = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    combined = union.group_by(keys).aggregate(**{m.name: union[m.name].sum() for m in measures})
    known = _known_at_cut(combined, plain, coverage, provides) if cut else {}
    combined = combined.mutate(**{m.name: combined[m.name].fill_null(0) for m in measures}, **known)
    if known:  # a row of the cut without the input: empty, not the 0 of fill_null
        measured = [k.removeprefix("__known__") for k in known]
        combined = combined.mutate(
            **{
                n: ibis.ifelse(combined[f"__known__{n}"], combined[n], ibis.null().cast(combined[n].type()))
                for n in measured
            }
        )
    combined = _empty_where_not_provided(combined, plain, coverage, per_channel, channel_filter)
    for name in req.metrics:
        d = catalog.get(name)
        if isinstance(d, Derived):
            combined = combined.mutate(**{name: expanded_formula(catalog, d, _columns(combined, name in gates, name))})
    return combined.select(*keys, *req.metrics).order_by(keys)


def _provides(measures: list[Measure], coverage: Coverage) -> dict[str, Measure]:
    """Per input of ``order_lines`` and ``refunds`` a request's measures need: a count of the orders of the
    channels that provide it, so a cut (channel kind, platform, distributor...) knows whether any of its
    channels sends that input (a real 0) or none does (empty)."""
    out: dict[str, Measure] = {}
    for m in measures:
        for need in m.basis.needs if m.basis else ():
            if need in coverage and need != "traffic" and need not in out:
                have = sorted(coverage[need]) or ["__no_channel__"]
                out[need] = Measure(
                    name=f"__provides__{need}",
                    label_zh=need,
                    label_en=need,
                    table="orders",
                    agg="count",
                    filter={"channel_id": have},
                )
    return out


def _known_at_cut(
    t: ir.Table, measures: list[Measure], coverage: Coverage, provides: dict[str, Measure]
) -> dict[str, ir.BooleanValue]:
    """``__known__<measure>``: whether a row of a cut other than the channel has the measure's input.

    Traffic is reported per channel and day, not per distributor or campaign: a row with no traffic row at
    all has no visitors data (empty, not 0). Refunds and order lines: a row is known when it has such rows
    or any of its channels provides the input (then no refund is a real 0)."""
    out: dict[str, ir.BooleanValue] = {}
    for m in measures:
        needs = [n for n in (m.basis.needs if m.basis else ()) if n in coverage]
        if not needs:
            continue
        cond: ir.BooleanValue = t[m.name].notnull()
        for n in needs:
            if n in provides:
                cond = cond | (t[provides[n].name].fill_null(0) > 0)
        out[f"__known__{m.name}"] = cond
    return out


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


#: compiled SQL per request shape, kept on each catalog (building and compiling the Ibis expression costs
#: 100-200 ms of Python per query; running the SQL over the rollups a few ms)
_PLANS_MAX = 1024
_plans_lock = threading.Lock()


def _run(wh: Warehouse, catalog: Catalog, req: KpiRequest, rollups: bool) -> pd.DataFrame:
    """The request's rows: the compiled SQL of the same request shape is reused (a plan cache, not a result
    cache: the SQL runs every time, so it always sees the current data)."""
    key = (wh.dialect, type(wh).__name__, req, rollups, tuple(sorted(wh.rollup_tables())) if rollups else ())
    plans: OrderedDict[tuple, str] = catalog.__dict__.setdefault("_plans", OrderedDict())
    with _plans_lock:
        sql = plans.get(key)
    if sql is None:
        expr = compile_request(wh, catalog, req, rollups=rollups)
        try:
            sql = str(wh.ibis.compile(expr))
        except Exception:  # an engine whose backend cannot hand out SQL: let Ibis run it
            return expr.to_pandas()
        with _plans_lock:
            plans[key] = sql
            while len(plans) > _PLANS_MAX:
                plans.popitem(last=False)
    df = wh.query_frame(sql)
    if df is None:
        return compile_request(wh, catalog, req, rollups=rollups).to_pandas()
    return df


def kpi_frame(wh: Warehouse, catalog: Catalog, req: KpiRequest, *, rollups: bool = True) -> pd.DataFrame:
    """The request's table as pandas: money as float rounded to cents, ratios as float."""
    df = _run(wh, catalog, req, rollups)
    for name in req.metrics:
        m = catalog.get(name)
        if m.unit == "money" or (isinstance(m, Measure) and _sums_money(m)):
            df[name] = df[name].astype("float64").round(2)
        elif isinstance(m, Measure) and _typed(m) == "int64":
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
