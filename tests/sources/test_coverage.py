"""Empty figures say why: a fact table with no rows is a warning naming the source that should fill it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_project

from channelscope import Project

BODY = """
channels: [{id: own, name: Own, kind: own_store, platform: own}]
sources:
  - {name: shop, path: exports/orders.csv, preset: canonical_orders, channel_id: own}
  - {name: ships, path: exports/ships.csv, preset: canonical_shipments, channel_id: own}
"""


def test_a_table_without_rows_names_its_source(tmp_path: Path, warehouse_url: str) -> None:
    root = write_project(tmp_path / "shop", BODY, warehouse_url)
    (root / "exports").mkdir()
    # every order is bad: GMV would print 0
    (root / "exports" / "orders.csv").write_text("source_order_id,ordered_at,status,net_amount\n1,2024-01-05,paid,-3\n")
    (root / "exports" / "ships.csv").write_text("source_order_id,status\n1,delivered\n")
    with Project(root) as p:
        p.ingest()
        warnings = p.status()["warnings"]
        assert any(w.startswith("表 orders 没有数据, 但数据源 shop 应当填充它") for w in warnings), (
            warnings
        )  # the project's locale is zh-CN
        assert p.empty_table_warnings(tables={"traffic"}) == []  # no source fills traffic: not a gap
    # without any source for orders (Olist's orders file mapped to shipments), the hint names olist_sales
    (root / "channelscope.yaml").write_text(
        (root / "channelscope.yaml")
        .read_text()
        .replace("locale: zh-CN", "")
        .replace("  - {name: shop, path: exports/orders.csv, preset: canonical_orders, channel_id: own}\n", "")
        .replace("timezone: Asia/Shanghai}", "timezone: Asia/Shanghai, locale: en}")
    )
    with Project(root) as p:
        (w,) = p.empty_table_warnings(tables={"orders"})
        assert w.startswith("table orders has no rows and no source fills it: sales KPIs")
        assert "olist_sales" in w
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-m", "channelscope.cli", "kpi", "-p", str(root), "-m", "gmv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "warning table orders has no rows and no source fills it" in " ".join(out.stderr.split())


def test_status_names_a_batch_that_does_not_balance(tmp_path: Path, warehouse_url: str) -> None:
    root = write_project(tmp_path / "shop", BODY, warehouse_url)
    (root / "exports").mkdir()
    (root / "exports" / "orders.csv").write_text("source_order_id,ordered_at,status,net_amount\n1,2024-01-05,paid,3\n")
    (root / "exports" / "ships.csv").write_text("source_order_id,status\n1,delivered\n")
    with Project(root) as p:
        p.ingest()
        assert not any("does not balance" in w for w in p.status()["warnings"])
        # a ledger row written by an older version that counted keys, not input rows
        p.warehouse.execute("UPDATE batches SET rows_in = rows_in + 2 WHERE source = 'shop'")
        (w,) = [w for w in p.status()["warnings"] if "does not balance" in w]
        assert w.endswith("of source shop does not balance: rows_in 3 != loaded 1 + quarantined 0 + duplicates 0")
