"""The engine stays inside warehouse/: no engine-name branch, no placeholder rewriting, no backend class
built by hand and no DDL outside it; the operational tables it creates from model/ work on both engines."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from channelscope.model.operational import OPERATIONAL
from channelscope.warehouse import open_warehouse

SRC = Path(__file__).resolve().parents[2] / "src" / "channelscope"
ENGINES = {"duckdb", "postgres", "postgresql", "spark", "pyspark"}
BACKENDS = {"DuckDBWarehouse", "PostgresWarehouse", "SparkWarehouse"}


def _outside_warehouse() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "warehouse" not in p.relative_to(SRC).parts[:1]]


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    where = f"{path.relative_to(SRC)}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            names = [s.value for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str)]
            engine_side = any(isinstance(s, ast.Attribute) and s.attr == "name" for s in sides)
            if engine_side and any(n.lower() in ENGINES for n in names):
                out.append(f"{where}:{node.lineno}: branches on the engine name")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            args = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if node.func.attr == "replace" and args[:2] in (["?", "%s"], ["%s", "?"]):
                out.append(f"{where}:{node.lineno}: rewrites parameter markers")
            if node.func.attr == "__new__" and any(isinstance(a, ast.Name) and a.id in BACKENDS for a in node.args):
                out.append(f"{where}:{node.lineno}: builds a warehouse backend by hand")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
            kinds = node.args[1] if len(node.args) > 1 else None
            names = {n.id for n in ast.walk(kinds) if isinstance(n, ast.Name)} if kinds is not None else set()
            if names & BACKENDS:
                out.append(f"{where}:{node.lineno}: asks which backend it has")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = " ".join(node.value.upper().split())
            if "CREATE TABLE" in text or "CREATE INDEX" in text:
                out.append(f"{where}:{node.lineno}: writes DDL (declare the table in model/)")
    return out


def test_no_engine_detail_outside_warehouse() -> None:
    found = [v for p in _outside_warehouse() for v in _violations(p)]
    assert not found, "\n".join(found)


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = SRC / "_boundary_probe.py"
    try:
        bad.write_text(
            "def f(wh, sql):\n"
            "    if wh.name == 'duckdb':\n"
            "        sql = sql.replace('?', '%s')\n"
            "    wh.execute('CREATE TABLE IF NOT EXISTS x (a INT)')\n"
            "    return isinstance(wh, DuckDBWarehouse), DuckDBWarehouse.__new__(DuckDBWarehouse)\n",
            encoding="utf-8",
        )
        assert len(_violations(bad)) == 5
    finally:
        bad.unlink()


def test_operational_tables_are_created_by_the_warehouse(warehouse_url: str, tmp_path: Path) -> None:
    wh = open_warehouse(warehouse_url, tmp_path)
    try:
        wh.ensure_tables(*OPERATIONAL)
        assert wh.has_tables(*OPERATIONAL)
        for name, table in OPERATIONAL.items():
            assert list(wh.ibis.table(name).columns) == table.names, name
        wh.ensure_tables(*OPERATIONAL)  # again: nothing to do
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        with wh.transaction() as tx:  # one marker style on every engine
            tx.execute("INSERT INTO source_state VALUES (?, ?, ?)", ["api", "c1", at])
            tx.execute("INSERT INTO runs (run_id, job, status) VALUES (?, ?, ?)", ["r1", "ingest", "ok"])
        with pytest.raises(RuntimeError), wh.transaction() as tx:
            tx.execute("INSERT INTO source_state VALUES (?, ?, ?)", ["web", "c2", at])
            raise RuntimeError("rolled back")
        with wh.reading() as tx:
            assert tx.execute("SELECT source, cursor, updated_at FROM source_state ORDER BY 1") == [("api", "c1", at)]
            assert list(tx.query("SELECT job FROM runs WHERE run_id = ?", ["r1"])["job"]) == ["ingest"]
        assert wh.execute("SELECT count(*) FROM runs WHERE status = ?", ["ok"]) == [(1,)]
    finally:
        wh.close()


def test_a_reader_sees_committed_rows_on_its_own_connection(warehouse_url: str, tmp_path: Path) -> None:
    wh = open_warehouse(warehouse_url, tmp_path)
    try:
        wh.ensure_tables("source_state")
        wh.prepare_readers()
        r = wh.reader()
        assert r is not wh
        with wh.transaction() as tx:
            tx.execute("INSERT INTO source_state VALUES (?, ?, now())", ["api", "c9"])
        assert r.execute("SELECT cursor FROM source_state WHERE source = ?", ["api"]) == [("c9",)]
        assert r.ibis.table("source_state").count().execute() == 1
        r.close()
    finally:
        wh.close()


def test_quarantine_reasons_unnest_on_every_engine(warehouse_url: str, tmp_path: Path) -> None:
    wh = open_warehouse(warehouse_url, tmp_path)
    try:
        wh.execute("CREATE TABLE q (reasons VARCHAR)")
        wh.execute("INSERT INTO q VALUES (?)", ['["a", "b"]'])
        rows = wh.execute(f"SELECT {wh.json_text_elements('reasons')} AS r FROM q")
        assert sorted(r[0] for r in rows) == ["a", "b"]
    finally:
        wh.close()


#: each stage and the later stages it must not import (sources -> clean -> warehouse -> metrics -> analysis -> outputs)
LATER = {
    "model": ("sources", "clean", "warehouse", "metrics", "analysis", "monitor", "web", "cli", "project"),
    "config": ("warehouse", "metrics", "analysis", "monitor", "web", "cli", "project"),
    "warehouse": ("metrics", "analysis", "monitor", "web", "cli", "project"),
    "metrics": ("analysis", "monitor", "web", "cli"),
}


@pytest.mark.parametrize("stage", sorted(LATER))
def test_no_import_goes_back(stage: str) -> None:
    found = []
    for path in sorted((SRC / stage).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                parts = name.split(".")
                if parts[0] == "channelscope" and len(parts) > 1 and parts[1] in LATER[stage]:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {name}")
    assert not found, "\n".join(found)


def test_postgres_staging_spills_to_a_private_folder_removed_on_close(pg_url: str, tmp_path: Path) -> None:
    """The in-memory DuckDB that stages loads for PostgreSQL spills to its own temporary folder, not to
    DuckDB's default ./.tmp in the user's working directory, and the folder goes with the warehouse."""
    wh = open_warehouse(pg_url, tmp_path)
    try:
        wh.ensure_schema()
        con = wh.staging()
        folder = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        assert Path(folder).is_absolute() and Path(folder).name.startswith("channelscope-staging-")
        assert Path(folder).exists()
    finally:
        wh.close()
    assert not Path(folder).exists()
