"""The warehouse behind one interface: Ibis for reading, an atomic batch writer per engine.

Cleaning always runs in an embedded DuckDB (the edge). The DuckDB warehouse stages in its own
connection; other engines receive the cleaned rows by bulk copy and merge them in one transaction.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from typing import Any

import duckdb
import ibis

from channelscope.model import TABLES, Table

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


class Warehouse(abc.ABC):
    """One project's warehouse."""

    name: str

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
                if self.name != "duckdb" and (t.kind == "fact" or t.name == "quarantine"):
                    cols = ", ".join(t.key)
                    self.execute(f"CREATE INDEX IF NOT EXISTS ix_{t.name}_key ON {t.name} ({cols})")
        for name, cols in (
            ("customers", "customer_key"),
            ("orders", "customer_key"),
            ("orders", "batch_id"),
            ("quarantine", "source, source_key"),
        ):
            if self.name == "duckdb":
                break
            self.execute(f"CREATE INDEX IF NOT EXISTS ix_{name}_{cols.replace(', ', '_')} ON {name} ({cols})")
        self.ensure_source_state()

    def ensure_source_state(self) -> None:
        self.execute(
            "CREATE TABLE IF NOT EXISTS source_state (source VARCHAR PRIMARY KEY, cursor VARCHAR, updated_at TIMESTAMP)"
        )

    def loaded_fingerprints(self, source: str) -> set[str]:
        rows = self.execute(
            "SELECT fingerprint FROM batches WHERE source = ? AND status = 'loaded'"
            if self.name == "duckdb"
            else "SELECT fingerprint FROM batches WHERE source = %s AND status = 'loaded'",
            [source],
        )
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
