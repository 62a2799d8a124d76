"""The warehouse behind one interface: Ibis for reading, an atomic batch writer per engine.

Cleaning always runs in an embedded DuckDB (the edge). The DuckDB warehouse stages in its own
connection; other engines receive the cleaned rows by bulk copy and merge them in one transaction.
"""

from __future__ import annotations

import abc
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import duckdb
import ibis
import pandas as pd

from channelscope.model import TABLES, Table
from channelscope.model.operational import OPERATIONAL, OpTable
from channelscope.model.semantic import ROLLUPS
from channelscope.warehouse import rollups

#: dimensions the cleaning step reads to check references and convert money
STAGING_DIMENSIONS = ("channels", "distributors", "products", "campaigns", "fx_rates")


@dataclass
class GoodTable:
    """A cleaned, de-duplicated target table staged in DuckDB, ready to merge."""

    table: str
    staged: str  # temp table name in the staging connection
    primary: bool


@dataclass
class BatchResult:
    batch_id: str
    source: str
    file: str
    fingerprint: str
    table: str
    rows_in: int
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    replaced: int = 0
    status: str = "loaded"
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    started_at: Any = None
    finished_at: Any = None

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.loaded + self.quarantined + self.duplicates


def key_match(table: Table, left: str, right: str) -> str:
    """Rows with the same key. Plain equality where the key column is required, so engines can hash
    join (PostgreSQL cannot hash IS NOT DISTINCT FROM); nullable key parts compare through coalesce
    (cleaning turns empty text into NULL, so '' never occurs as a value)."""
    parts = []
    for k in table.key:
        if table.column(k).required:
            parts.append(f"{left}.{k} = {right}.{k}")
        else:
            parts.append(f"coalesce(CAST({left}.{k} AS VARCHAR), '') = coalesce(CAST({right}.{k} AS VARCHAR), '')")
    return " AND ".join(parts)


def merge_sql(table: Table, staged: str, work: str) -> list[str]:
    """Classify staged rows against the table, then replace and insert, as portable SQL."""
    cols = [c.name for c in table.columns]
    upd = table.updated_at
    stale = f"WHEN w.{upd} IS NOT NULL AND g.{upd} IS NOT NULL AND w.{upd} > g.{upd} THEN 'stale' " if upd else ""
    col_list = ", ".join(cols)
    return [
        f"DROP TABLE IF EXISTS {work}",
        f"CREATE TEMP TABLE {work} AS SELECT g.*, CASE WHEN w.record_hash IS NULL THEN 'new' "
        f"WHEN w.record_hash = g.record_hash THEN 'same' {stale}ELSE 'replace' END AS _fate "
        f"FROM {staged} g LEFT JOIN {table.name} w ON {key_match(table, 'w', 'g')}",
        f"DELETE FROM {table.name} USING {work} m WHERE {key_match(table, table.name, 'm')} AND m._fate = 'replace'",
        f"INSERT INTO {table.name} ({col_list}) SELECT {col_list} FROM {work} WHERE _fate IN ('new', 'replace')",
    ]


class Tx:
    """SQL inside one open transaction (or one read) of a warehouse; ``?`` placeholders on every engine."""

    def __init__(self, wh: Warehouse, cursor: Any) -> None:
        self.wh = wh
        self._cur = cursor

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        cur = self._cur
        cur.execute(self.wh.paramstyle(sql), list(params or []))
        return list(cur.fetchall()) if cur.description else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many parameter rows (the driver batches them)."""
        if rows:
            self._cur.executemany(self.wh.paramstyle(sql), [list(r) for r in rows])

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        cur = self._cur
        cur.execute(self.wh.paramstyle(sql), list(params or []))
        cols = [d[0] for d in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=cols)


class Warehouse(abc.ABC):
    """One project's warehouse.

    Everything that differs between engines lives behind this class: SQL types, parameter markers,
    transactions, per-thread readers and the few SQL functions without a portable spelling. Code outside
    ``warehouse/`` writes SQL with ``?`` markers and never asks which engine it talks to.
    """

    name: str
    #: SQL type of each portable type name of ``model.operational``
    sql_types: ClassVar[dict[str, str]] = {
        "string": "VARCHAR",
        "float64": "DOUBLE",
        "int32": "INTEGER",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "money": "DECIMAL(18,2)",
    }
    #: whether the engine is served by B-tree indexes on keys (DuckDB hashes: an ART index only slows inserts)
    uses_indexes: bool = True
    #: whether views carry grants to re-apply after they are recreated
    has_grants: bool = False
    #: the SQL dialect Ibis compiles to for this engine
    dialect: str = "duckdb"

    @property
    @abc.abstractmethod
    def ibis(self) -> ibis.BaseBackend: ...

    @abc.abstractmethod
    def staging(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection where the cleaning SQL runs, with the dimensions it reads."""

    @abc.abstractmethod
    def commit_batch(
        self,
        result: BatchResult,
        goods: list[GoodTable],
        quarantine: str | None,
        staging: duckdb.DuckDBPyConnection,
        after: list[str],
    ) -> None:
        """Merge a cleaned batch, its quarantine and its ledger row in one transaction."""

    @abc.abstractmethod
    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """Run SQL on the warehouse engine and return its rows."""

    @abc.abstractmethod
    def replace_rows(self, table: str, staging: duckdb.DuckDBPyConnection, staged: str) -> int:
        """Replace a whole small table (calendar, config dimensions) with staged rows, atomically."""

    def paramstyle(self, sql: str) -> str:
        """``sql`` written with ``?`` markers, in the driver's own marker style."""
        return sql

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """One write transaction: committed when the block ends, rolled back when it raises."""

    @abc.abstractmethod
    def reading(self) -> contextlib.AbstractContextManager[Tx]:
        """One read (PostgreSQL ends its read transaction after the block, so no session idles in one)."""

    def prepare_readers(self) -> None:  # noqa: B027 - only DuckDB prepares anything
        """Make what readers are made from, while no write runs (see ``reader``)."""

    def reader(self) -> Warehouse:
        """A warehouse for reads on another thread (its own cursor or connection); the default is itself."""
        return self

    def query_frame(self, sql: str) -> pd.DataFrame | None:
        """Run a compiled query and return its rows as pandas; None where the engine leaves that to Ibis."""
        return None

    def json_text_elements(self, column: str) -> str:
        """SQL for the rows of a JSON array of strings held in a text column (a set-returning select item)."""
        return f"unnest(CAST(from_json({column}, '[\"VARCHAR\"]') AS VARCHAR[]))"

    def set_memory_limit(self, limit: str | None) -> None:  # noqa: B027 - only DuckDB has a local pool
        """Size the local engine's buffer pool (loading vs querying)."""

    def close(self) -> None:
        return None

    # ---- shared helpers -------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create every canonical table that is missing, from the one definition in ``model``."""
        existing = set(self.ibis.list_tables())
        for t in TABLES.values():
            if t.name not in existing:
                self.ibis.create_table(t.name, schema=t.schema())
                # DuckDB joins by hashing; an ART index only slows its inserts (1.5x at 1M rows)
                if self.uses_indexes and (t.kind == "fact" or t.name == "quarantine"):
                    cols = ", ".join(t.key)
                    self.execute(f"CREATE INDEX IF NOT EXISTS ix_{t.name}_key ON {t.name} ({cols})")
        for name, cols in (
            ("customers", "customer_key"),
            ("orders", "customer_key"),
            ("orders", "batch_id"),
            ("quarantine", "source, source_key"),
        ):
            if not self.uses_indexes:
                break
            self.execute(f"CREATE INDEX IF NOT EXISTS ix_{name}_{cols.replace(', ', '_')} ON {name} ({cols})")
        self.ensure_source_state()
        self.ensure_rollups()

    # ---- rollups (aggregate awareness) -------------------------------------------------------

    def ensure_rollups(self) -> None:
        """Create every missing rollup table, filled from the facts (declared in ``model.semantic``); a rollup
        whose columns differ from its declaration (a warehouse made by an earlier version) is made again."""
        existing = set(self.ibis.list_tables())
        for r in ROLLUPS.values():
            if r.name in existing and list(self.ibis.table(r.name).columns) != r.columns:
                self.execute(f"DROP TABLE {r.name}")
                existing.discard(r.name)
            if r.name not in existing:
                self.execute(f"CREATE TABLE {r.name} AS {rollups.rollup_sql(r, self.dialect, only_dates=False)}")
        self.__dict__["_rollups"] = set(ROLLUPS)

    def rebuild_rollups(self) -> None:
        """Recompute every rollup from the facts in one transaction (after facts were written around the
        batch path, e.g. by a bulk generator)."""
        self.ensure_rollups()
        with self.transaction() as tx:
            for r in ROLLUPS.values():
                cols = ", ".join(r.columns)
                tx.execute(f"DELETE FROM {r.name}")
                sql = rollups.rollup_sql(r, self.dialect, only_dates=False)
                tx.execute(f"INSERT INTO {r.name} ({cols}) SELECT {cols} FROM ({sql}) x")

    def rollup_tables(self) -> set[str]:
        """The rollup tables this warehouse has (looked up once per warehouse object)."""
        if "_rollups" not in self.__dict__:
            self.__dict__["_rollups"] = set(ROLLUPS) & set(self.ibis.list_tables())
        return set(self.__dict__["_rollups"])

    def rollup_begin(self) -> list[str]:
        """Statements opening a batch's rollup maintenance (an empty set of affected days)."""
        if not self.rollup_tables():
            return []
        return [f"CREATE TEMP TABLE IF NOT EXISTS {rollups.DATES} (d DATE)", f"DELETE FROM {rollups.DATES}"]

    def rollup_before(self, table: str, staged: str) -> list[str]:
        """Before ``table`` merges its staged rows: note the days they affect."""
        return rollups.before_merge(table, staged, key_match) if self.rollup_tables() else []

    def rollup_after(self, merged: list[tuple[str, str]]) -> list[str]:
        """After the merge, in the same transaction: recompute the affected days of the stale rollups."""
        if not self.rollup_tables():
            return []
        out = [sql for table, staged in merged for sql in rollups.after_merge(table, staged)]
        stale = [r for r in rollups.touched({t for t, _ in merged}) if r.name in self.rollup_tables()]
        return out + rollups.refresh(stale, self.dialect)

    def ensure_source_state(self) -> None:
        self.ensure_tables("source_state")

    def create_table_sql(self, table: OpTable) -> list[str]:
        """The DDL of an operational table (and its indexes where the engine uses them)."""
        cols = []
        for c in table.columns:
            spec = f"{c.name} {self.sql_types[c.type]}"
            if c.primary:
                spec += " PRIMARY KEY"
            elif c.not_null:
                spec += " NOT NULL"
            cols.append(spec)
        out = [f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(cols)})"]
        if self.uses_indexes:
            for ix in table.indexes:
                out.append(
                    f"CREATE INDEX IF NOT EXISTS ix_{table.name}_{'_'.join(ix)} ON {table.name} ({', '.join(ix)})"
                )
        return out

    def ensure_tables(self, *names: str) -> None:
        """Create the operational tables ``names`` (declared in ``model.operational``) when missing, and add
        the nullable columns a later version declared to a table an earlier one made; once per warehouse
        object."""
        done: set[str] = self.__dict__.setdefault("_ensured", set())
        for name in names:
            if name in done:
                continue
            table = OPERATIONAL[name]
            for sql in self.create_table_sql(table):
                self.execute(sql)
            have = {c.lower() for c in self.ibis.table(name).columns}
            for c in table.columns:
                if c.name.lower() not in have and not (c.primary or c.not_null):
                    self.execute(f"ALTER TABLE {name} ADD COLUMN {c.name} {self.sql_types[c.type]}")
            done.add(name)

    def has_tables(self, *names: str) -> bool:
        """True when every table ``names`` exists (a read-only project never creates them)."""
        return set(names) <= set(self.ibis.list_tables())

    def loaded_fingerprints(self, source: str) -> set[str]:
        rows = self.execute("SELECT fingerprint FROM batches WHERE source = ? AND status = 'loaded'", [source])
        return {r[0] for r in rows}

    def record_failure(self, result: BatchResult) -> None:
        self.insert_batch_row(result)

    @abc.abstractmethod
    def insert_batch_row(self, result: BatchResult) -> None: ...

    @staticmethod
    def batch_row(result: BatchResult) -> list[Any]:
        return [
            result.batch_id,
            result.source,
            result.file,
            result.fingerprint,
            result.table,
            result.started_at,
            result.finished_at,
            result.rows_in,
            result.loaded,
            result.quarantined,
            result.duplicates,
            result.replaced,
            result.status,
            result.message,
            json.dumps(result.details, ensure_ascii=False, default=str),
        ]
