"""PostgreSQL warehouse: cleaned batches arrive by COPY and merge in one transaction."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import duckdb
import ibis
import pandas as pd
import psycopg

from channelscope.errors import WarehouseError
from channelscope.model import TABLES
from channelscope.warehouse.base import STAGING_DIMENSIONS, BatchResult, GoodTable, Tx, Warehouse, merge_sql
from channelscope.warehouse.duckdb_backend import _account


def _safe_url(url: str) -> str:
    p = urlparse(url)
    return url.replace(p.password, "***") if p.password else url


class PostgresWarehouse(Warehouse):
    name = "postgres"
    sql_types: ClassVar[dict[str, str]] = {**Warehouse.sql_types, "float64": "DOUBLE PRECISION"}
    has_grants = True
    dialect = "postgres"

    def __init__(self, url: str, *, memory_limit: str = "600MB") -> None:
        self.url = url.replace("postgres://", "postgresql://", 1)
        try:
            self.conn = psycopg.connect(self.url, autocommit=False)
            self._ibis = ibis.connect(self.url)
        except psycopg.Error as exc:
            raise WarehouseError(
                f"cannot connect to PostgreSQL at {_safe_url(url)}: {str(exc).splitlines()[0]}"
            ) from exc
        self.memory_limit = memory_limit
        self._staging: duckdb.DuckDBPyConnection | None = None
        self._spill: str | None = None
        # the staging copies of the dimensions are refreshed only after a dimension changed
        self._dims_stale = True

    @property
    def ibis(self) -> ibis.BaseBackend:
        return self._ibis

    def paramstyle(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def reader(self) -> PostgresWarehouse:
        """A new connection, for one reading thread."""
        return PostgresWarehouse(self.url, memory_limit=self.memory_limit)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        try:
            with self.conn.cursor() as cur:
                yield Tx(self, cur)
            self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[Tx]:
        try:
            with self.conn.cursor() as cur:
                yield Tx(self, cur)
        finally:
            self.conn.rollback()  # end the read transaction: no idle-in-transaction session

    def query_frame(self, sql: str) -> pd.DataFrame:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
                cols = [d[0] for d in cur.description or []]
                return pd.DataFrame(cur.fetchall(), columns=cols)
        finally:
            self.conn.rollback()  # end the read transaction

    def json_text_elements(self, column: str) -> str:
        return f"json_array_elements_text({column}::json)"

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        sql = self.paramstyle(sql) if params else sql
        with self.conn.cursor() as cur:
            cur.execute(sql, params or None)
            rows = cur.fetchall() if cur.description else []
        self.conn.commit()
        return rows

    def staging(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB holding fresh copies of the dimensions the cleaning reads."""
        if self._staging is None:
            # it spills to a private temporary folder (DuckDB's default is ./.tmp in the user's working directory)
            self._spill = tempfile.mkdtemp(prefix="channelscope-staging-")
            self._staging = duckdb.connect(
                config={"memory_limit": self.memory_limit or "600MB", "temp_directory": self._spill}
            )
        con = self._staging
        if not self._dims_stale:
            return con
        self._dims_stale = False
        for name in STAGING_DIMENSIONS:
            arrow = self._ibis.table(name).to_pyarrow()
            con.register("_dim", arrow)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _dim")
            con.unregister("_dim")
        return con

    def insert_batch_row(self, result: BatchResult, cur: psycopg.Cursor | None = None) -> None:
        cols = ", ".join(TABLES["batches"].names)
        marks = ", ".join("%s" for _ in TABLES["batches"].names)
        if cur is None:
            with self.conn.cursor() as c:
                c.execute(f"INSERT INTO batches ({cols}) VALUES ({marks})", self.batch_row(result))
            self.conn.commit()
        else:
            cur.execute(f"INSERT INTO batches ({cols}) VALUES ({marks})", self.batch_row(result))

    def _copy_in(
        self, cur: psycopg.Cursor, staging: duckdb.DuckDBPyConnection, staged: str, table: str, target: str
    ) -> None:
        cols = TABLES[table].names
        col_list = ", ".join(cols)
        with tempfile.TemporaryDirectory(prefix="channelscope-pg-") as tmp:
            path = Path(tmp) / "rows.csv"
            staging.execute(f"COPY (SELECT {col_list} FROM {staged}) TO '{path}' (FORMAT csv, HEADER true)")
            cur.execute(f"CREATE TEMP TABLE {target} (LIKE {table}) ON COMMIT DROP")
            with (
                cur.copy(f"COPY {target} ({col_list}) FROM STDIN (FORMAT csv, HEADER true)") as cp,
                path.open("rb") as fh,
            ):
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    cp.write(chunk)

    def commit_batch(
        self,
        result: BatchResult,
        goods: list[GoodTable],
        quarantine: str | None,
        staging: duckdb.DuckDBPyConnection,
        after: list[str],
    ) -> None:
        try:
            with self.conn.cursor() as cur:
                fates = {}
                for sql in self.rollup_begin():
                    cur.execute(sql)
                for g in goods:
                    stg = f"_stg_{g.table}"
                    self._copy_in(cur, staging, g.staged, g.table, stg)
                    work = f"_merge_{g.table}"
                    for sql in [*self.rollup_before(g.table, stg), *merge_sql(TABLES[g.table], stg, work)]:
                        cur.execute(sql)
                    cur.execute(f"SELECT _fate, count(*) FROM {work} GROUP BY 1")
                    fates[g.table] = {k: int(v) for k, v in cur.fetchall()}
                    cur.execute(f"DROP TABLE {work}")
                _account(result, goods, fates)
                if quarantine:
                    self._copy_in(cur, staging, quarantine, "quarantine", "_stg_quarantine")
                    cols = ", ".join(TABLES["quarantine"].names)
                    cur.execute(f"INSERT INTO quarantine ({cols}) SELECT {cols} FROM _stg_quarantine")
                for sql in [*after, *self.rollup_after([(g.table, f"_stg_{g.table}") for g in goods])]:
                    cur.execute(sql)
                self.insert_batch_row(result, cur)
            self.conn.commit()
            if any(g.table in STAGING_DIMENSIONS for g in goods):
                self._dims_stale = True
        except BaseException:
            self.conn.rollback()
            raise
        self._analyze([g.table for g in goods])

    def _analyze(self, tables: list[str]) -> None:
        """Refresh the planner's statistics of freshly loaded tables: without them PostgreSQL estimates a few
        hundred rows and picks nested loops for the customer frame's joins (minutes instead of a second)."""
        try:
            with self.conn.cursor() as cur:
                for t in dict.fromkeys(tables):
                    cur.execute(f"ANALYZE {t}")
            self.conn.commit()
        except psycopg.Error:
            self.conn.rollback()  # statistics are an optimization; a load that committed stays committed

    def replace_rows(self, table: str, staging: duckdb.DuckDBPyConnection, staged: str) -> int:
        cols = ", ".join(TABLES[table].names)
        try:
            with self.conn.cursor() as cur:
                self._copy_in(cur, staging, staged, table, f"_stg_{table}")
                cur.execute(f"DELETE FROM {table}")
                cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _stg_{table}")
                cur.execute(f"SELECT count(*) FROM {table}")
                n = cur.fetchone()[0]  # type: ignore[index]
            self.conn.commit()
            self._dims_stale = self._dims_stale or table in STAGING_DIMENSIONS
        except BaseException:
            self.conn.rollback()
            raise
        return int(n)

    def close(self) -> None:
        self.conn.close()
        if self._staging is not None:
            self._staging.close()
            self._staging = None
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None
