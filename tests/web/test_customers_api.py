"""/api/customers on the ingested demo: numbers against hand-written SQL, scope (a channel manager sees only
their channels' customers; a distributor scope is denied, never widened), export permission and CSV."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests.web.test_api import api_client, auth, make_shop, sql

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PAID = "(paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded'))"  # 支付金额
USERS = {
    "analyst": ("analyst", (), ()),
    "viewer": ("viewer", (), ()),
    "tm": ("channel_manager", ("tmall",), ()),
    "res_in_wechat": ("channel_manager", ("wechat_resellers",), ("wx-r01",)),
}


@pytest.fixture(scope="module")
def client(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from api_client(make_shop(demo_shop, tmp_path_factory.mktemp("cust-api") / "shop"), USERS)


def _customers(client: TestClient, where: str = "TRUE") -> int:
    q = f"SELECT count(DISTINCT customer_key) AS n FROM orders WHERE {PAID} AND customer_key IS NOT NULL AND {where}"
    return int(sql(client, q).n.iloc[0])


def test_repurchase_counts_every_customer_once_per_acquisition_channel(client: TestClient) -> None:
    r = client.get("/api/customers/repurchase", headers=auth(client, "analyst"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"]["channels"] == "all"
    rows = pd.DataFrame(body["rows"])
    assert int(rows["customers"].sum()) == _customers(client)
    assert {"rate_30d", "rate_180d"} <= set(rows.columns)
    assert body["days_between"] and all(0 <= g["share"] <= 1 for g in body["days_between"])


def test_a_channel_manager_sees_only_their_channels_customers(client: TestClient) -> None:
    tm = auth(client, "tm")
    r = client.get("/api/customers/rfm", headers=tm)
    assert r.status_code == 200, r.text
    assert sum(row["customers"] for row in r.json()["rows"]) == _customers(client, "channel_id = 'tmall'")
    overlap = client.get("/api/customers/cross-channel", headers=tm).json()["overlap"]
    assert {row["channel"] for row in overlap} == {"tmall"}
    cohorts = pd.DataFrame(
        client.get("/api/customers/cohorts", params={"by": "acquisition_channel"}, headers=tm).json()["rows"]
    )
    assert set(cohorts["acquisition_channel"]) == {"tmall"}
    denied = client.get("/api/customers/rfm", params={"channel": "jd"}, headers=tm)
    assert denied.status_code == 403
    # a distributor scope cannot be applied to customers: denied, never widened to the whole channel
    assert client.get("/api/customers/rfm", headers=auth(client, "res_in_wechat")).status_code == 403


def test_migration_sums_to_the_customers_of_both_dates(client: TestClient) -> None:
    r = client.get(
        "/api/customers/migration", params={"start": "2025-06-30", "end": "2025-11-30"}, headers=auth(client, "analyst")
    )
    assert r.status_code == 200, r.text
    m = pd.DataFrame(r.json()["rows"]).set_index("from")
    assert int(m.to_numpy().sum()) == _customers(client, "business_date <= DATE '2025-11-30'")
    assert int(m.drop(index="new").to_numpy().sum()) == _customers(client, "business_date <= DATE '2025-06-30'")


def test_export_needs_the_export_permission_and_gives_pseudonymous_keys(client: TestClient) -> None:
    params = {"segment": "important_value"}
    assert client.get("/api/customers/export", params=params, headers=auth(client, "viewer")).status_code == 403
    r = client.get("/api/customers/export", params=params, headers=auth(client, "tm"))
    assert r.status_code == 200, r.text
    df = pd.read_csv(io.StringIO(r.text), dtype={"customer_key": str})
    assert len(df) and set(df["segment"]) == {"important_value"}
    keys = set(
        sql(client, f"SELECT DISTINCT customer_key FROM orders WHERE channel_id = 'tmall' AND {PAID}").customer_key
    )
    assert set(df["customer_key"]) <= keys
    assert df["customer_key"].str.fullmatch(r"[0-9a-f]{32}").all()


def test_clv_reports_fits_holdout_and_cac(client: TestClient) -> None:
    r = client.get("/api/customers/clv", headers=auth(client, "analyst"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bgnbd"]["converged"] and set(body["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert body["holdout"] and body["clv_cac"]
    assert (
        client.get("/api/customers/clv", params={"holdout_end": "nope"}, headers=auth(client, "analyst")).status_code
        == 400
    )
    assert client.get(
        "/api/customers/cohorts", params={"grain": "day"}, headers=auth(client, "analyst")
    ).status_code in (400, 422)


def test_funnel_and_paths_equal_the_demo_truth_within_scope(client: TestClient, demo_shop: Path) -> None:
    import json

    truth = json.loads((demo_shop / "ground_truth.json").read_text(encoding="utf-8"))["behaviour"]
    r = client.get("/api/customers/funnel", params={"by": "channel"}, headers=auth(client, "analyst"))
    assert r.status_code == 200, r.text
    rows = {row["channel_id"]: row for row in r.json()["rows"]}
    assert {c: row["engaged"] for c, row in rows.items()} == {
        c: v["engaged"] for c, v in truth["funnel_by_channel"].items()
    }
    assert sum(s["sessions"] for s in r.json()["sessions"]) == truth["sessions"]
    total = client.get("/api/customers/funnel", params={"by": "none"}, headers=auth(client, "viewer")).json()
    assert [row["viewed"] for row in total["rows"]] == [truth["sessions"]]
    p = client.get("/api/customers/paths", headers=auth(client, "analyst")).json()
    assert {row["path"]: row["sessions"] for row in p["rows"]} == truth["paths"]
    assert sum(link["sessions"] for link in p["sankey"] if link["step"] == 1) == truth["sessions"]
    tm = auth(client, "tm")
    scoped = client.get("/api/customers/funnel", headers=tm).json()
    assert {row["channel_id"] for row in scoped["rows"]} == {"tmall"}
    assert {s["channel_id"] for s in scoped["sessions"]} == {"tmall"}
    want = {k.split("/")[1]: v["purchased"] for k, v in truth["funnel_by_channel_category"].items() if "tmall/" in k}
    assert {row["category"]: row["purchased"] for row in scoped["rows"]} == want
    tp = client.get("/api/customers/paths", headers=tm).json()
    assert sum(row["sessions"] for row in tp["rows"]) == truth["sessions_by_channel"]["tmall"]
    assert client.get("/api/customers/paths", params={"channel": "jd"}, headers=tm).status_code == 403
    assert client.get("/api/customers/funnel", headers=auth(client, "res_in_wechat")).status_code == 403
    assert client.get("/api/customers/funnel", params={"by": "region"}, headers=tm).status_code in (400, 422)
