"""Loads that outgrow memory or get interrupted: a file larger than the memory limit loads (spilling,
then on one thread), Ctrl-C stops a load with nothing half-written, and progress shows without a
terminal. Files come from bench/ingest.py's generator (canonical orders with planted faults)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from channelscope import Project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import ingest as bench

CLI = [sys.executable, "-m", "channelscope.cli"]


def _bench_project(folder: Path, rows: int, memory_limit: str, url: str = "duckdb:///warehouse.duckdb") -> dict:
    csv = folder / "exports" / "orders.csv"
    csv.parent.mkdir(parents=True)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    planted = bench.generate(csv, rows, now)
    bench.write_project(folder, csv, memory_limit, None, now)
    cfg = folder / "channelscope.yaml"
    cfg.write_text(cfg.read_text().replace("url: duckdb:///warehouse.duckdb", f"url: '{url}'"))
    return planted


def test_a_file_larger_than_the_memory_limit_loads(tmp_path: Path, warehouse_url: str) -> None:
    planted = _bench_project(tmp_path / "big", 1_000_000, "128MB", warehouse_url)
    assert planted["bytes"] > 128 * 2**20
    with Project(tmp_path / "big") as p:
        (r,) = p.ingest()
        assert r.status == "loaded", r.message
        assert (r.rows_in, r.loaded, r.quarantined, r.duplicates) == (
            1_000_000,
            planted["good"],
            planted["bad"],
            planted["repeats"],
        )
        assert p.table("orders").count().execute() == planted["good"]


def test_ctrl_c_stops_a_load_and_leaves_the_warehouse_as_before(tmp_path: Path) -> None:
    _bench_project(tmp_path / "shop", 1_000_000, "1GB")
    with open(tmp_path / "err.txt", "w") as err:
        proc = subprocess.Popen([*CLI, "ingest", "-p", str(tmp_path / "shop")], stdout=subprocess.DEVNULL, stderr=err)
        time.sleep(8)  # imports, dimensions, and into the file's SQL (the load takes far longer)
        assert proc.poll() is None, (tmp_path / "err.txt").read_text()
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
    stopped = time.monotonic() - started
    text = (tmp_path / "err.txt").read_text()
    assert code == 130, text
    assert "Traceback" not in text
    assert stopped < 30, stopped
    con = duckdb.connect(str(tmp_path / "shop" / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM orders").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM batches").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)


def test_progress_without_a_terminal_is_one_line_per_file(tmp_path: Path) -> None:
    from tests.conftest import write_project

    root = write_project(
        tmp_path / "shop",
        "channels: [{id: own, name: Own, kind: own_store, platform: own}]\n"
        "sources: [{name: shop, path: 'exports/*.csv', preset: canonical_orders, channel_id: own}]\n",
    )
    (root / "exports").mkdir()
    head = "source_order_id,ordered_at,status,net_amount\n"
    (root / "exports" / "a.csv").write_text(head + "1,2024-01-05 10:00:00,paid,10\n2,2024-01-05 11:00:00,paid,-1\n")
    (root / "exports" / "b.csv").write_text(head + "3,2024-01-06 10:00:00,paid,5\n")
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run([*CLI, "ingest", "-p", str(root)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [x for x in out.stderr.splitlines() if x.startswith("shop ")]
    assert lines == [
        "shop 1/2 a.csv: loaded, 2 rows in = 1 loaded + 1 quarantined + 0 duplicates",
        "shop 2/2 b.csv: loaded, 1 rows in = 1 loaded + 0 quarantined + 0 duplicates",
    ]
