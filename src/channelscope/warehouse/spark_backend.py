"""Spark (local mode) as a read-only analytical warehouse, through Ibis' PySpark backend.

Batches are loaded with DuckDB or PostgreSQL; ``SparkWarehouse.from_warehouse`` copies every
canonical table to Parquet and registers each as a temporary view of the same name, so the metrics
layer compiles the same Ibis expressions for Spark as for the other engines (DESIGN rule 7).

PySpark is optional (``pip install -e ".[spark]"``) and needs Java 17 or later (``JAVA_HOME`` or
``java`` on the PATH); it is imported only when a Spark warehouse is made.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import duckdb
import ibis

from channelscope.errors import WarehouseError
from channelscope.model import TABLES
from channelscope.warehouse.base import BatchResult, GoodTable, Tx, Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

READ_ONLY = "the Spark warehouse is read-only: load with DuckDB or PostgreSQL, then analyse on Spark"

#: settings of every local session (a laptop or a CI runner, not a cluster)
SESSION_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "2g",
    # a short-lived driver over small data: the quick JIT tier and a serial GC start and warm up
    # in a fraction of the time (a cold KPI query took about a third of the default's time)
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}
#: the settings a new session over the same context must set again (runtime SQL settings)
_RUNTIME_CONF = ("spark.sql.shuffle.partitions", "spark.sql.session.timeZone")

_READ_SQL = re.compile(r"^\s*(?:\(\s*)*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXPLAIN|VALUES|TABLE)\b", re.IGNORECASE)


def java_missing() -> str | None:
    """Why no Java runtime can be found for Spark, or None when one can."""
    home = os.environ.get("JAVA_HOME")
    if home:
        if (Path(home) / "bin" / "java").exists():
            return None
        return f"JAVA_HOME={home} has no bin/java"
    if shutil.which("java"):
        return None
    return "no Java runtime: install Java 17 or later, or set JAVA_HOME"


def spark_missing() -> str | None:
    """Why a local Spark session cannot start here (pyspark or Java missing), or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed: pip install -e '.[spark]'"
    return java_missing()


def spark_session(
    app_name: str = "channelscope", master: str = "local[2]", conf: dict[str, str] | None = None
) -> SparkSession:
    """The process' local Spark session: started once, then reused (one JVM per process).

    ``conf`` overrides :data:`SESSION_CONF`; settings of the JVM (memory, Java options) count only
    when the first session of the process starts.
    """
    why = spark_missing()
    if why:
        raise WarehouseError(f"cannot start Spark: {why}")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SESSION_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: py4j/Java errors of many kinds
        raise WarehouseError(f"cannot start Spark: {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkWarehouse(Warehouse):
    """The canonical tables as Parquet-backed temporary views of a local Spark session.

    Each warehouse has its own Spark session over the shared context (``newSession``), so two
    warehouses in one process never see each other's views. Everything that writes raises.
    """

    name = "spark"
    dialect = "pyspark"

    def __init__(self, session: SparkSession, *, root: Path | None = None) -> None:
        self.session = session
        self.root = root
        self.views: list[str] = []
        self._ibis = ibis.pyspark.connect(session)

    @classmethod
    def from_warehouse(
        cls, wh: Warehouse, tmpdir: Path | str, *, session: SparkSession | None = None
    ) -> SparkWarehouse:
        """Copy every canonical table of ``wh`` to Parquet under ``tmpdir`` and register it on Spark.

        The files must outlive the Spark warehouse (Spark reads them lazily, at each query).
        """
        base = session or spark_session()
        own = base.newSession()
        for key in _RUNTIME_CONF:  # a new session starts from the defaults of these
            own.conf.set(key, base.conf.get(key, SESSION_CONF[key]) or SESSION_CONF[key])
        root = Path(tmpdir) / f"spark-{uuid.uuid4().hex[:8]}"
        root.mkdir(parents=True)
        out = cls(own, root=root)
        existing = set(wh.ibis.list_tables())
        for name in TABLES:
            if name not in existing:
                continue
            path = root / f"{name}.parquet"
            export_parquet(wh, name, path)
            own.read.parquet(str(path)).createOrReplaceTempView(name)
            out.views.append(name)
        return out

    @property
    def ibis(self) -> ibis.BaseBackend:
        return self._ibis

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """Run a read-only Spark SQL query (``?`` or ``%s`` markers take ``params``) and return its rows."""
        if not _READ_SQL.match(sql):
            self._read_only()
        if params:
            sql = sql.replace("%s", "?")
        try:
            rows = self.session.sql(sql, args=list(params)).collect() if params else self.session.sql(sql).collect()
        except Exception as exc:  # pyspark's AnalysisException, ParseException, ...
            raise WarehouseError(f"Spark SQL failed: {str(exc).splitlines()[0]}") from exc
        return [tuple(r) for r in rows]

    def close(self) -> None:
        """Drop this warehouse's views; the process' Spark context stays up for the next one."""
        for name in self.views:
            self.session.catalog.dropTempView(name)
        self.views = []
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # ---- writing is out of scope ----------------------------------------------------------

    def _read_only(self) -> NoReturn:
        raise WarehouseError(READ_ONLY)

    def staging(self) -> duckdb.DuckDBPyConnection:
        self._read_only()

    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        self._read_only()

    def reading(self) -> contextlib.AbstractContextManager[Tx]:
        self._read_only()

    def ensure_tables(self, *names: str) -> None:
        self._read_only()

    def json_text_elements(self, column: str) -> str:
        return f"explode(from_json({column}, 'array<string>'))"

    def commit_batch(
        self,
        result: BatchResult,
        goods: list[GoodTable],
        quarantine: str | None,
        staging: duckdb.DuckDBPyConnection,
        after: list[str],
    ) -> None:
        self._read_only()

    def replace_rows(self, table: str, staging: duckdb.DuckDBPyConnection, staged: str) -> int:
        self._read_only()

    def insert_batch_row(self, result: BatchResult) -> None:
        self._read_only()

    def ensure_schema(self) -> None:
        self._read_only()

    def ensure_source_state(self) -> None:
        self._read_only()


def export_parquet(wh: Warehouse, table: str, path: Path) -> None:
    """One table of a warehouse as a Parquet file (DuckDB copies it itself; other engines via Arrow)."""
    if wh.name == "duckdb":
        target = str(path).replace("'", "''")
        wh.execute(f"COPY {table} TO '{target}' (FORMAT parquet)")
    else:
        wh.ibis.table(table).to_parquet(path)
