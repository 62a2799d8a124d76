"""The warehouse: Ibis over DuckDB (default) or PostgreSQL, with an atomic batch writer."""

from __future__ import annotations

from pathlib import Path

from channelscope.warehouse.base import BatchResult, GoodTable, Warehouse
from channelscope.warehouse.duckdb_backend import DuckDBWarehouse
from channelscope.warehouse.postgres_backend import PostgresWarehouse

__all__ = ["BatchResult", "DuckDBWarehouse", "GoodTable", "PostgresWarehouse", "Warehouse", "open_warehouse"]


def open_warehouse(
    url: str, project: Path, *, memory_limit: str = "600MB", threads: int | None = None, read_only: bool = False
) -> Warehouse:
    """Open the warehouse a project's URL names (relative DuckDB paths are inside the project)."""
    if url.startswith("duckdb://"):
        rest = url[len("duckdb://") :]
        path = Path(rest[1:]) if rest.startswith("/") and not rest.startswith("//") else Path(rest)
        if rest.startswith("//"):
            path = Path(rest[1:])
        if not path.is_absolute():
            path = project / path
        return DuckDBWarehouse(path, read_only=read_only, memory_limit=memory_limit, threads=threads)
    return PostgresWarehouse(url, memory_limit=memory_limit)
