"""The semantic model as data: one definition of paid statuses and of the minimum-price check, frames that
plug in by declaration, and marts built from the catalog's measures; on DuckDB and PostgreSQL."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.metrics.test_marts import PAID, build

from channelscope import Project
from channelscope.metrics.definitions import MEASURE_TABLES, build_catalog
from channelscope.metrics.marts import DISTRIBUTOR, create_marts
from channelscope.metrics.query import TABLE_DIMENSIONS, KpiRequest, kpi_frame
from channelscope.model import semantic
from channelscope.model.semantic import FRAMES, PAID_STATUSES, Frame, register_frame

SRC = Path(__file__).resolve().parents[2] / "src" / "channelscope"


@pytest.fixture
def shop(tmp_path: Path, warehouse_url: str) -> Iterator[Project]:
    p = Project(build(tmp_path / "shop", warehouse_url))
    assert all(r.status == "loaded" for r in p.ingest())
    yield p
    p.close()


def test_paid_statuses_are_defined_once() -> None:
    """No module but model/semantic.py spells out the paid statuses."""
    found = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "model" / "semantic.py" or "demo" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.List | ast.Tuple | ast.Set):
                values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                if {"paid", "shipped", "completed"} <= values and "cancelled" not in values:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found, found
    assert "(" + ", ".join(f"'{s}'" for s in PAID_STATUSES) + ")" == PAID
    assert not (SRC / "metrics" / "summary.py").exists()


def test_below_min_price_is_one_decimal_check(shop: Project) -> None:
    """The distributor board and the distributor mart count the same lines, and plain SQL agrees (exact
    DECIMAL comparison of unit_price with the product's minimum advertised price)."""
    wh = shop.warehouse
    create_marts(wh)
    want = dict(
        wh.execute(
            "SELECT o.distributor_id, count(*) FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
            "JOIN products p ON p.sku = l.sku WHERE l.unit_price < p.min_advertised_price "
            f"AND o.distributor_id IS NOT NULL AND o.status IN {PAID} GROUP BY 1"
        )
    )
    assert want == {"d1": 2}  # D1's 85 and D4's 88 under A's 90; D2 sells at 95, D3 is cancelled
    board = shop.analysis.distributor_activity()
    got = {r.distributor: int(r.below_map_lines) for r in board.itertuples() if r.below_map_lines}
    assert got == want
    mart = dict(wh.execute(f"SELECT distributor_id, sum(lines_below_map) FROM {DISTRIBUTOR} GROUP BY 1"))
    assert {k: int(v) for k, v in mart.items() if v} == want


def test_a_frame_plugs_in_by_declaration(shop: Project) -> None:
    """A new frame is one register_frame call: measures on it validate, cut and compile with no code."""
    frame = Frame("customer_orders", "orders", "business_date", frozenset({"channel", "channel_kind", "weekday"}))
    register_frame(frame)
    try:
        assert MEASURE_TABLES["customer_orders"] == "business_date"
        assert TABLE_DIMENSIONS["customer_orders"] == {"channel", "channel_kind", "weekday"}
        catalog = build_catalog(
            [
                {
                    "name": "customers_seen",
                    "label_zh": "顾客数",
                    "label_en": "Customers seen",
                    "table": "customer_orders",
                    "agg": "count_distinct",
                    "column": "customer_key",
                }
            ]
        )
        got = kpi_frame(shop.warehouse, catalog, KpiRequest(("customers_seen",), by=("channel_kind",)))
        want = dict(
            shop.warehouse.execute(
                "SELECT c.kind, count(DISTINCT o.customer_key) FROM orders o "
                "JOIN channels c ON c.channel_id = o.channel_id GROUP BY 1"
            )
        )
        assert dict(zip(got.channel_kind, got.customers_seen, strict=True)) == want
        with pytest.raises(Exception, match="cannot be cut by"):
            kpi_frame(shop.warehouse, catalog, KpiRequest(("customers_seen",), by=("sku",)))
    finally:
        FRAMES.pop("customer_orders")
        semantic.FRAME_DIMENSIONS.pop("customer_orders")
        semantic.FRAME_DATES.pop("customer_orders")


def test_unknown_dimension_in_a_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown dimensions colour"):
        register_frame(Frame("x", "orders", "business_date", frozenset({"colour"})))
    assert "x" not in FRAMES


def test_marts_follow_the_catalog(shop: Project) -> None:
    """A project that redefines gmv (here: all orders, paid or not) sees the marts follow it."""
    catalog = build_catalog(
        [
            {
                "name": "gmv",
                "label_zh": "下单金额",
                "label_en": "GMV",
                "table": "orders",
                "agg": "sum",
                "column": "net_amount_base",
                "unit": "money",
            }
        ]
    )
    wh = shop.warehouse
    create_marts(wh, catalog)
    got = wh.execute("SELECT sum(gmv) FROM mart_daily_channel")[0][0]
    assert got == wh.execute("SELECT sum(net_amount_base) FROM orders")[0][0]
    create_marts(wh)
    got = wh.execute("SELECT sum(gmv) FROM mart_daily_channel")[0][0]
    assert got == wh.execute(f"SELECT sum(net_amount_base) FROM orders WHERE status IN {PAID}")[0][0]
