"""The embedded default: a DuckDB file that also hosts the cleaning SQL."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pandas as pd

from channelscope.errors import WarehouseError, WriterBusyError
from channelscope.model import TABLES
from channelscope.warehouse.base import BatchResult, GoodTable, Tx, Warehouse, merge_sql


class DuckDBWarehouse(Warehouse):
    name = "duckdb"
    uses_indexes = False

    def __init__(
        self, path: Path, *, read_only: bool = False, memory_limit: str = "600MB", threads: int | None = None
    ) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"preserve_insertion_order": True}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = threads
        try:
            self.con = duckdb.connect(str(path), read_only=read_only and path.exists(), config=config)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" in text.lower():
                pid = re.search(r"PID (\d+)", text)
                server = _server_of(path, pid.group(1) if pid else None)
                if server:
                    raise WriterBusyError(
                        f"'channelscope serve' (PID {server['pid']}, {server['url']}) owns this warehouse",
                        file=str(path),
                        hint=f"use its API or dashboard at {server['url']} (see /docs), or stop it first",
                    ) from exc
                raise WriterBusyError(
                    "the warehouse file is in use by another process (DuckDB allows one process at a time)"
                    + (f" (PID {pid.group(1)})" if pid else ""),
                    file=str(path),
                    hint="if 'channelscope serve' runs, use its API, or stop it first",
                ) from exc
            raise WarehouseError(f"cannot open the DuckDB file: {text.splitlines()[0]}", file=str(path)) from exc
        tmp = path.parent / ".channelscope-tmp"
        self.con.execute(f"SET temp_directory = '{tmp}'")
        self._ibis = ibis.duckdb.from_connection(self.con)
        self._factory: duckdb.DuckDBPyConnection | None = None
        self._factory_lock = threading.Lock()

    @classmethod
    def _over(cls, path: Path, con: duckdb.DuckDBPyConnection) -> DuckDBWarehouse:
        """A warehouse over an existing connection or cursor of the same database (a reader)."""
        wh = cls.__new__(cls)
        wh.path = path
        wh.con = con
        wh._ibis = ibis.duckdb.from_connection(con)
        wh._factory = None
        wh._factory_lock = threading.Lock()
        return wh

    def prepare_readers(self) -> None:
        """Make the cursor factory: a cursor kept only to make more, so a new reader never waits for the
        main connection (which a batch load may hold for minutes). Call it once while no write runs."""
        with self._factory_lock:
            if self._factory is None:
                self._factory = self.con.cursor()

    def reader(self) -> DuckDBWarehouse:
        """A warehouse over a new cursor of the same database, for one reading thread."""
        self.prepare_readers()
        assert self._factory is not None
        return DuckDBWarehouse._over(self.path, self._factory.cursor())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            yield Tx(self, con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[Tx]:
        yield Tx(self, self.con)

    @property
    def ibis(self) -> ibis.BaseBackend:
        return self._ibis

    def set_memory_limit(self, limit: str | None) -> None:
        """Loading runs in a small buffer pool (it spills); queries get the configured or default one."""
        if limit:
            self.con.execute(f"SET memory_limit = '{limit.replace(chr(39), '')}'")
        else:
            self.con.execute("RESET memory_limit")

    def staging(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        cur = self.con.execute(sql, params or [])
        try:
            return cur.fetchall()
        except duckdb.InvalidInputException:
            return []

    def query_frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def insert_batch_row(self, result: BatchResult) -> None:
        cols = ", ".join(TABLES["batches"].names)
        marks = ", ".join("?" for _ in TABLES["batches"].names)
        self.con.execute(f"INSERT INTO batches ({cols}) VALUES ({marks})", self.batch_row(result))

    def commit_batch(
        self,
        result: BatchResult,
        goods: list[GoodTable],
        quarantine: str | None,
        staging: duckdb.DuckDBPyConnection,
        after: list[str],
    ) -> None:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            fates = {}
            for sql in self.rollup_begin():
                con.execute(sql)
            for g in goods:
                work = f"_merge_{g.table}"
                for sql in [*self.rollup_before(g.table, g.staged), *merge_sql(TABLES[g.table], g.staged, work)]:
                    con.execute(sql)
                fates[g.table] = dict(con.execute(f"SELECT _fate, count(*) FROM {work} GROUP BY 1").fetchall())
            _account(result, goods, fates)
            if quarantine:
                cols = ", ".join(TABLES["quarantine"].names)
                con.execute(f"INSERT INTO quarantine ({cols}) SELECT {cols} FROM {quarantine}")
            for sql in [*after, *self.rollup_after([(g.table, g.staged) for g in goods])]:
                con.execute(sql)
            self.insert_batch_row(result)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def replace_rows(self, table: str, staging: duckdb.DuckDBPyConnection, staged: str) -> int:
        cols = ", ".join(TABLES[table].names)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(f"DELETE FROM {table}")
            self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staged}")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]

    def close(self) -> None:
        self.con.close()


def _account(result: BatchResult, goods: list[GoodTable], fates: dict[str, dict[str, int]]) -> None:
    for g in goods:
        f = fates.get(g.table, {})
        new, rep = f.get("new", 0), f.get("replace", 0)
        same = f.get("same", 0) + f.get("stale", 0)
        result.details.setdefault("tables", {})[g.table] = {"new": new, "replaced": rep, "unchanged": same}
        if g.primary:
            result.loaded += new + rep
            result.replaced += rep
            result.duplicates += same


def _server_of(path: Path, pid: str | None) -> dict[str, Any] | None:
    """The server that announced itself next to the warehouse (channelscope serve), if it is the lock holder."""
    import json

    try:
        info = json.loads(Path(f"{path}.server.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or (pid is not None and str(info.get("pid")) != pid):
        return None
    return info
