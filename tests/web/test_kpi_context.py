"""The API's KPI answers carry the basis (口径), the coverage (why a value is empty) and data_as_of; the
metric catalog carries each metric's basis; the ingestion status carries the data's freshness. On the
ingested demo (DuckDB, through the real ASGI app); the KPI values themselves are checked against the
ground truth on DuckDB and PostgreSQL in tests/metrics/test_ground_truth.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.test_api import api_client, make_shop

USERS = {"analyst": ("analyst", (), ()), "tm": ("channel_manager", ("tmall",), ())}
NOV = {"start": "2025-11-01", "end": "2025-11-30"}


@pytest.fixture(scope="module")
def client(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from api_client(make_shop(demo_shop, tmp_path_factory.mktemp("ctx") / "shop"), USERS)


def h(client: TestClient, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[name]}"}  # type: ignore[attr-defined]


def test_kpi_answer_has_coverage_basis_and_data_as_of(client: TestClient) -> None:
    params = {"metric": ["gmv", "refund_rate", "conversion_rate", "contribution_margin_rate"], "by": "channel", **NOV}
    body = client.get("/api/kpis", params=params, headers=h(client, "analyst")).json()
    rows = {r["channel"]: r for r in body["rows"]}
    assert rows["jd"]["refund_rate"] is None and rows["tmall"]["contribution_margin_rate"] is None
    assert rows["wechat_resellers"]["conversion_rate"] is None
    assert rows["tmall"]["gmv"] == pytest.approx(193060.80)
    got = {(c["metric"], c["channel"], c["reason"]) for c in body["coverage"]}
    assert got == {
        ("refund_rate", "jd", "no_refunds"),
        ("conversion_rate", "wechat_resellers", "no_traffic"),
        ("contribution_margin_rate", "tmall", "no_order_lines"),
        ("contribution_margin_rate", "jd", "no_refunds"),
    }
    assert all(c["left_out_of_total"] and c["reason_zh"] and c["reason_en"] for c in body["coverage"])
    assert body["data_as_of"] == "2025-11-30" and body["timezone"] == "Asia/Shanghai"
    assert "支付金额" in body["basis"]["gmv"]["zh-CN"] and "payment time" in body["basis"]["gmv"]["en"]
    assert body["basis"]["refund_rate"]["fields"]["needs"] == ["refunds"]


def test_scoped_answer_shows_only_its_channels(client: TestClient) -> None:
    params = {"metric": ["gmv", "contribution_margin_rate"], "by": "channel", **NOV}
    body = client.get("/api/kpis", params=params, headers=h(client, "tm")).json()
    assert [r["channel"] for r in body["rows"]] == ["tmall"]
    assert [(c["channel"], c["reason"]) for c in body["coverage"]] == [("tmall", "no_order_lines")]
    st = client.get("/api/ingestion/status", headers=h(client, "tm")).json()
    assert {r["channel"] for r in st["data_freshness"]["rows"]} == {"tmall"}


def test_catalog_export_and_freshness(client: TestClient) -> None:
    m = client.get("/api/metrics", headers=h(client, "analyst")).json()
    gmv = next(r for r in m["rows"] if r["name"] == "gmv")
    assert gmv["basis"]["rows"] == ["paid_orders"] and gmv["basis"]["money"] is True
    assert gmv["basis_zh"].startswith("口径：") and gmv["basis_en"].startswith("Basis:")
    x = client.get("/api/kpis/export", params={"metric": ["gmv"], **NOV}, headers=h(client, "analyst"))
    assert "支付金额" in json.loads(x.headers["X-Channelscope-Basis"])["gmv"]["zh-CN"]
    st = client.get("/api/ingestion/status", headers=h(client, "analyst")).json()["data_freshness"]
    assert st["data_as_of"] == "2025-11-30" and st["timezone"] == "Asia/Shanghai"
    tmall = next(r for r in st["rows"] if r["source"] == "tmall_orders")
    assert tmall["latest_date"] == "2025-11-30" and tmall["state"] == "stale"  # today is long after the demo
    assert tmall["lag_days"] > 300
