"""Rollup tables kept in step with the facts, inside each batch's transaction.

A rollup (declared in ``model.semantic.ROLLUPS``) holds a frame's additive parts by day and a few keys.
When a batch merges rows into one of its source tables, the batch's transaction also recomputes the rollup
rows of every *affected day* from the facts: the days of the staged rows, the days the replaced rows had
before (an order may move to another day), the days of refunds whose order changed, and the order days of
staged order lines. Recomputing whole days from the facts keeps the rollup exactly equal to the facts
(replacements, late rows, status changes) at the cost of scanning those days only.

The SQL is compiled once per engine from the same Ibis declarations the queries use.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from channelscope.model import TABLES
from channelscope.model.semantic import FRAMES, ROLLUPS, Rollup, frame_table, paid_order

DATES = "_rollup_dates"


class _Unbound:
    """Hands ``frame_table`` unbound tables, so a rollup compiles to SQL for any engine."""

    def table(self, name: str) -> ir.Table:
        if name == DATES:
            return ibis.table({"d": "date"}, name=DATES)
        return ibis.table(TABLES[name].schema(), name=name)


def _expr(rollup: Rollup, only_dates: bool) -> ir.Table:
    con = _Unbound()
    t = frame_table(con, rollup.frame, set(rollup.keys) - {"_paid"})
    if "_paid" in rollup.keys:
        t = t.mutate(_paid=paid_order(t))
    if only_dates:
        t = t.filter(t._date.isin(con.table(DATES).d))
    return t.group_by(["_date", *rollup.keys]).aggregate(
        _n=t.count().cast("int64"), **{f"s_{c}": _sum(t[c]) for c in rollup.sums}
    )


def _sum(col: ir.Column) -> ir.Scalar:
    """A sum typed the same on every engine: BIGINT for integers, DECIMAL(38, scale) for money."""
    typ = col.type()
    if typ.is_integer():
        return col.sum().cast("int64")
    if typ.is_decimal():
        return col.sum().cast(f"decimal(38, {typ.scale})")
    return col.sum()


def rollup_sql(rollup: Rollup, dialect: str, *, only_dates: bool) -> str:
    """The SELECT computing the rollup's rows from the facts (of the days in ``_rollup_dates`` only)."""
    return str(ibis.to_sql(_expr(rollup, only_dates), dialect=dialect))


def own_date(table: str) -> str | None:
    """The date column a table carries itself (a frame over it dates rows by it), if any."""
    for f in FRAMES.values():
        if f.table == table and f.date in TABLES[table].names:
            return f.date
    return None


def before_merge(table: str, staged: str, key_match: Any) -> list[str]:
    """Collect the days a batch of ``table`` (staged as ``staged``) affects, before it is merged: the staged
    rows' days, the days of the rows they replace, and the days of child rows (refunds of changed orders)."""
    out: list[str] = []
    date = own_date(table)
    if date:
        t = TABLES[table]
        out.append(f"INSERT INTO {DATES} SELECT DISTINCT {date} FROM {staged}")
        out.append(
            f"INSERT INTO {DATES} SELECT DISTINCT w.{date} FROM {table} w JOIN {staged} g ON {key_match(t, 'w', 'g')}"
        )
    for f in FRAMES.values():
        p = f.parent
        if p is None or p.table != table or f.table == table:
            continue
        child_date = own_date(f.table)
        if child_date:
            out.append(
                f"INSERT INTO {DATES} SELECT DISTINCT c.{child_date} FROM {f.table} c "
                f"WHERE c.{p.key} IN (SELECT {p.key} FROM {staged})"
            )
    return out


def after_merge(table: str, staged: str) -> list[str]:
    """Days known only once merged: the parent's day of staged child rows (order lines take the order's)."""
    out: list[str] = []
    for f in FRAMES.values():
        p = f.parent
        if f.table != table or p is None or own_date(table) or f.date not in p.columns:
            continue
        out.append(
            f"INSERT INTO {DATES} SELECT DISTINCT p.{f.date} FROM {p.table} p "
            f"WHERE p.{p.key} IN (SELECT {p.key} FROM {staged})"
        )
    return out


def touched(tables: set[str]) -> list[Rollup]:
    """The rollups a change of ``tables`` makes stale."""
    return [r for r in ROLLUPS.values() if tables & set(r.sources)]


def refresh(rollups: list[Rollup], dialect: str) -> list[str]:
    """Replace the rows of the affected days of ``rollups`` with rows recomputed from the facts."""
    out: list[str] = []
    for r in rollups:
        cols = ", ".join(r.columns)
        out.append(f"DELETE FROM {r.name} WHERE _date IN (SELECT d FROM {DATES})")
        out.append(f"INSERT INTO {r.name} ({cols}) SELECT {cols} FROM ({rollup_sql(r, dialect, only_dates=True)}) x")
    return out
