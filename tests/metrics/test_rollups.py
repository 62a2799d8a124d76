"""Rollups (aggregate awareness): a covered query gives the same numbers from the rollups as from the facts,
for every built-in metric, on DuckDB and PostgreSQL; each batch keeps the rollups equal to the facts."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests.metrics.test_marts import ORDERS, build

from channelscope import Project
from channelscope.metrics.definitions import BUILTIN, Measure
from channelscope.metrics.query import KpiRequest, compile_request, kpi_frame
from channelscope.model.semantic import ROLLUPS
from channelscope.warehouse import Warehouse
from channelscope.warehouse.rollups import rollup_sql

ALL = tuple(m.name for m in BUILTIN)
REQUESTS = [
    KpiRequest(ALL),
    KpiRequest(ALL, by=("channel",), grain="day"),
    KpiRequest(ALL, by=("channel_kind",), grain="month", start=dt.date(2024, 3, 1), end=dt.date(2024, 3, 31)),
    KpiRequest(ALL, by=("weekday",), grain="week", filters=(("channel", ("tmall", "dist")),)),
    KpiRequest(ALL, by=("festival", "platform"), grain="total"),
    KpiRequest(ALL, by=("distributor",), grain="day", filters=(("distributor_tier", (1, 2)),)),
    KpiRequest(ALL, by=("campaign",), grain="quarter"),
]


def _cuttable(req: KpiRequest) -> KpiRequest:
    from channelscope.metrics.definitions import build_catalog
    from channelscope.metrics.query import cuttable

    dims = [*req.by, *(f for f, _ in req.filters)]
    return KpiRequest(
        tuple(cuttable(build_catalog(), list(req.metrics), dims)), req.by, req.grain, req.start, req.end, req.filters
    )


@pytest.fixture
def shop(tmp_path: Path, warehouse_url: str) -> Iterator[Project]:
    p = Project(build(tmp_path / "shop", warehouse_url))
    assert all(r.status == "loaded" for r in p.ingest())
    yield p
    p.close()


def same_as_facts(wh: Warehouse) -> None:
    """Every rollup holds exactly the rows a full recomputation from the facts gives."""
    for r in ROLLUPS.values():
        cols = ", ".join(r.columns)
        have = Counter(wh.execute(f"SELECT {cols} FROM {r.name}"))
        want = Counter(wh.execute(f"SELECT {cols} FROM ({rollup_sql(r, wh.dialect, only_dates=False)}) x"))
        assert have == want, r.name


@pytest.mark.parametrize("i", range(len(REQUESTS)))
def test_every_builtin_metric_is_the_same_from_rollups(shop: Project, i: int) -> None:
    req = _cuttable(REQUESTS[i])
    wh, catalog = shop.warehouse, shop.catalog
    fast = kpi_frame(wh, catalog, req)
    slow = kpi_frame(wh, catalog, req, rollups=False)
    assert len(slow) > 0
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    sql = str(wh.ibis.compile(compile_request(wh, catalog, req)))
    assert "rollup_orders" in sql and "rollup_order_lines" in sql  # the rollups answered the additive part
    if "customer_type" not in req.by:
        assert "rollup_traffic" in sql or "visitors" not in req.metrics


def test_additive_builtins_are_all_covered() -> None:
    """Every built-in measure but the distinct counts is answered from a rollup at channel x day."""
    from channelscope.metrics.query import rollup_covers
    from channelscope.model.semantic import FRAMES

    for m in BUILTIN:
        if isinstance(m, Measure) and m.agg in ("sum", "count") and "customer_type" not in m.filter:
            assert rollup_covers(ROLLUPS[FRAMES[m.table].rollup or ""], m), m.name


def test_region_and_customer_type_read_the_facts(shop: Project) -> None:
    wh, catalog = shop.warehouse, shop.catalog
    req = KpiRequest(("gmv", "orders"), by=("region",))
    assert "rollup_orders" not in str(wh.ibis.compile(compile_request(wh, catalog, req)))


def test_each_batch_keeps_the_rollups_equal_to_the_facts(shop: Project) -> None:
    wh = shop.warehouse
    same_as_facts(wh)
    # a later file: T2 is paid now, T3 moves to another day, T5 is dropped from the file (stays), T6 is new
    text = (
        ORDERS.replace("T2,tmall,,bob,2024-02-10 11:00:00,created", "T2,tmall,,bob,2024-02-10 11:00:00,paid")
        .replace("T3,tmall,,alice,2024-02-10 12:00:00", "T3,tmall,,alice,2024-03-05 12:00:00")
        .replace("D1,dist,d1,erin", "D1,dist,d2,erin")
        + "T6,tmall,,gina,2024-03-07 09:00:00,paid,42.42\n"
    )
    (shop.folder / "data" / "orders.csv").write_text(text, encoding="utf-8")
    before = kpi_frame(wh, shop.catalog, KpiRequest(("gmv", "paid_orders", "refunds"), by=("distributor",)))
    results = shop.ingest()
    assert [r.replaced for r in results if r.source == "orders"] == [3]
    same_as_facts(wh)
    req = KpiRequest(("gmv", "paid_orders", "units", "refunds"), by=("distributor",), grain="day")
    pd.testing.assert_frame_equal(kpi_frame(wh, shop.catalog, req), kpi_frame(wh, shop.catalog, req, rollups=False))
    after = kpi_frame(wh, shop.catalog, KpiRequest(("gmv", "paid_orders", "refunds"), by=("distributor",)))
    assert not before.equals(after)  # D1 (and its refund) moved from d1 to d2
