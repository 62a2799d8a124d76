"""A load killed with SIGKILL at any moment leaves the warehouse as it was before (DESIGN rule 3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from tests.conftest import write_project

from channelscope import Project

ROWS = 300_000
CONFIG = """
channels: [{id: tmall, name: t, kind: marketplace, platform: tmall}]
sources: [{name: orders, path: "exports/*.csv", preset: canonical_orders, channel_id: tmall}]
"""


def make_orders(path: Path, rows: int, offset: int = 0) -> None:
    duckdb.sql(
        f"COPY (SELECT 'O' || (i + {offset}) AS source_order_id, '1380000' || lpad(CAST(i % 9999 AS VARCHAR), 4, '0') "
        "AS customer_key, TIMESTAMP '2024-01-01' + INTERVAL (i % 100000) MINUTE AS ordered_at, "
        "'paid' AS status, CAST(round(10 + (i % 997) * 0.37, 2) AS DECIMAL(18,2)) AS net_amount "
        f"FROM range({rows}) t(i)) TO '{path}' (HEADER, DELIMITER ',')"
    )


def state(folder: Path) -> tuple[int, int, int]:
    with Project(folder) as p:
        orders = int(p.table("orders").count().execute())
        b = p.table("batches")
        loaded = b.filter(b.status == "loaded")
        return orders, int(loaded.count().execute()), int(loaded.loaded.sum().fill_null(0).execute())


@pytest.mark.slow
def test_sigkill_mid_load_leaves_the_previous_state(tmp_path: Path, warehouse_url: str) -> None:
    folder = write_project(tmp_path / "shop", CONFIG, warehouse_url)
    (folder / "exports").mkdir()
    make_orders(folder / "exports" / "a.csv", 1000)
    with Project(folder) as p:
        p.ingest()
    assert state(folder) == (1000, 1, 1000)
    make_orders(folder / "exports" / "b.csv", ROWS, offset=10_000)
    code = f"from channelscope import Project; Project({str(folder)!r}).ingest()"
    outcomes = []
    for delay in (0.5, 1.0, 1.8, 2.6, 3.5):
        proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        now = state(folder)
        # all of the batch or none of it, and the ledger agrees with the table
        assert now in ((1000, 1, 1000), (1000 + ROWS, 2, 1000 + ROWS)), (delay, now)
        outcomes.append(now[0])
        if now[0] == 1000 + ROWS:
            break
    with Project(folder) as p:
        p.ingest()
    assert state(folder) == (1000 + ROWS, 2, 1000 + ROWS)
    assert 1000 in outcomes, "no kill landed before the commit: the test proved nothing"
