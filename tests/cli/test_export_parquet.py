"""`channelscope export parquet`: every canonical table as Parquet, equal to the warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
from tests.conftest import write_project

from channelscope import Project


def test_export_parquet_holds_the_warehouse(tmp_path: Path, warehouse_url: str) -> None:
    root = write_project(
        tmp_path / "shop",
        "channels: [{id: own, name: Own, kind: own_store, platform: own}]\n"
        "sources: [{name: shop, path: exports/orders.csv, preset: canonical_orders, channel_id: own}]\n",
        warehouse_url,
    )
    (root / "exports").mkdir()
    (root / "exports" / "orders.csv").write_text(
        "source_order_id,ordered_at,status,net_amount\n1,2024-01-05 10:00:00,paid,10.50\n2,2024-01-06 10:00:00,paid,4.25\n"
    )
    with Project(root) as p:
        p.ingest()
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "channelscope.cli",
            "export",
            "parquet",
            str(tmp_path / "pq"),
            "-p",
            str(root),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    manifest = {r["table"]: r["rows"] for r in json.loads((tmp_path / "pq" / "manifest.json").read_text())}
    assert manifest["orders"] == 2 and manifest["batches"] == 1
    con = duckdb.connect()
    got = con.execute(f"SELECT count(*), sum(net_amount) FROM '{tmp_path / 'pq' / 'orders.parquet'}'").fetchone()
    assert got == (2, Decimal("14.75"))
