"""Every role against every scope: a channel manager never receives another channel's (or distributor's) rows,
through KPIs, exports, targets, decomposition, funnel, distributors, alerts and ingestion; a request outside
the scope is a 403 that the access log records. Totals are checked against hand-written SQL over the scope."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.web.test_api import api_client, auth, make_shop, sql

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PAID = "(paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded'))"  # 支付金额
NOV = {"start": "2025-11-01", "end": "2025-11-30"}
#: user -> (role, channels, distributors)
USERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "admin": ("admin", (), ()),
    "analyst": ("analyst", (), ()),
    "viewer": ("viewer", (), ()),
    "tm": ("channel_manager", ("tmall",), ()),
    "jd_douyin": ("channel_manager", ("douyin", "jd"), ()),
    "resellers": ("channel_manager", (), ("wx-r01", "wx-r01-01")),
    "res_in_wechat": ("channel_manager", ("wechat_resellers",), ("wx-r01",)),
}
SCOPED = [u for u, (role, _, _) in USERS.items() if role == "channel_manager"]
EVERYONE = list(USERS)


@pytest.fixture(scope="module")
def client(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from api_client(make_shop(demo_shop, tmp_path_factory.mktemp("scope") / "shop"), USERS)


h = auth  # the user's bearer-token header


def where(user: str) -> str:
    """The user's scope as plain SQL over a table with channel_id and distributor_id."""
    _, channels, distributors = USERS[user]
    parts = ["TRUE"]
    if channels:
        parts.append("channel_id IN (" + ", ".join(f"'{c}'" for c in channels) + ")")
    if distributors:
        parts.append("distributor_id IN (" + ", ".join(f"'{d}'" for d in distributors) + ")")
    return " AND ".join(parts)


def allowed_channels(client: TestClient, user: str) -> set[str]:
    return set(sql(client, f"SELECT DISTINCT channel_id FROM orders WHERE {where(user)}").channel_id)


def scoped_gmv(client: TestClient, user: str) -> float:
    return float(
        sql(
            client,
            f"SELECT coalesce(sum(net_amount_base), 0) AS g FROM orders WHERE {PAID} AND {where(user)} "
            "AND business_date BETWEEN '2025-11-01' AND '2025-11-30'",
        ).g[0]
    )


@pytest.mark.parametrize("user", EVERYONE)
def test_kpis_by_channel_only_in_scope(client: TestClient, user: str) -> None:
    r = client.get("/api/kpis", params={"metric": ["gmv", "orders"], "by": "channel", **NOV}, headers=h(client, user))
    assert r.status_code == 200, r.text
    body = r.json()
    rows = pd.DataFrame(body["rows"])
    assert set(rows["channel"]) <= allowed_channels(client, user)
    assert rows["gmv"].sum() == pytest.approx(scoped_gmv(client, user), abs=0.01)
    assert body["scope"]["role"] == USERS[user][0]
    if user in SCOPED:
        assert body["scope"]["channels"] == (list(USERS[user][1]) or "all")


@pytest.mark.parametrize("user", EVERYONE)
@pytest.mark.parametrize("by", ["platform", "channel_kind", "region", "distributor_tier", "weekday"])
def test_kpis_by_other_dimensions_total_the_scope(client: TestClient, user: str, by: str) -> None:
    """Cutting by a dimension that is not the channel cannot reach rows outside the scope."""
    r = client.get("/api/kpis", params={"metric": "gmv", "by": by, **NOV}, headers=h(client, user))
    assert r.status_code == 200, r.text
    assert pd.DataFrame(r.json()["rows"])["gmv"].sum() == pytest.approx(scoped_gmv(client, user), abs=0.01)


@pytest.mark.parametrize("user", SCOPED)
def test_filter_outside_scope_is_denied_and_logged(client: TestClient, user: str) -> None:
    _, channels, distributors = USERS[user]
    outside = "channel=own_store" if channels else "distributor=wx-r02"
    r = client.get("/api/kpis", params={"metric": "gmv", "filter": outside}, headers=h(client, user))
    assert r.status_code == 403
    r = client.get("/api/kpis/export", params={"metric": "gmv", "filter": outside}, headers=h(client, user))
    assert r.status_code == 403
    log = client.app.state.store.access_log(decision="denied", limit=1000)  # type: ignore[attr-defined]
    mine = [e for e in log if e["username"] == user and e["path"] in ("/api/kpis", "/api/kpis/export")]
    assert len(mine) >= 2 and all("outside the scope" in e["reason"] for e in mine)
    inside = f"channel={channels[0]}" if channels else f"distributor={distributors[0]}"
    ok = client.get("/api/kpis", params={"metric": "gmv", "filter": inside}, headers=h(client, user))
    assert ok.status_code == 200


@pytest.mark.parametrize("user", EVERYONE)
def test_exports_only_in_scope(client: TestClient, user: str) -> None:
    params = {"metric": ["gmv", "visitors"], "by": ["channel", "distributor"], **NOV}
    r = client.get("/api/kpis/export", params=params, headers=h(client, user))
    if user == "viewer":
        assert r.status_code == 403
        return
    assert r.status_code == 200, r.text
    df = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", dtype={"distributor": str})
    assert set(df["channel"]) <= allowed_channels(client, user)
    _, _, distributors = USERS[user]
    if distributors:
        assert set(df["distributor"]) <= set(distributors)
    assert df["gmv"].sum() == pytest.approx(scoped_gmv(client, user), abs=0.01)
    x = client.get("/api/kpis/export", params={**params, "format": "xlsx"}, headers=h(client, user))
    assert set(pd.read_excel(io.BytesIO(x.content))["channel"]) <= allowed_channels(client, user)


@pytest.mark.parametrize("user", EVERYONE)
def test_funnel_and_distributors_in_scope(client: TestClient, user: str) -> None:
    f = client.get("/api/funnel", params=NOV, headers=h(client, user)).json()
    visitors = sql(
        client,
        f"SELECT coalesce(sum(visitors), 0) AS v FROM traffic WHERE {where(user)} "
        "AND date BETWEEN '2025-11-01' AND '2025-11-30'",
    ).v[0]
    sent = sql(client, f"SELECT count(*) AS n FROM traffic WHERE {where(user)}").n[0]
    # a scope whose channels never sent traffic (WeChat resellers) has visitors unknown, not 0
    got = next(r["value"] for r in f["rows"] if r["stage"] == "visitors")
    if sent:
        assert got == float(visitors)
    elif USERS[user][1]:  # channels that never sent traffic: unknown
        assert got is None
    else:  # a distributor-only scope: traffic is per channel, none is kept per distributor (see docs/numbers.md)
        assert got in (None, 0.0)
    d = client.get("/api/distributors", params=NOV, headers=h(client, user)).json()
    assert {r["channel_id"] for r in d["rows"]} <= allowed_channels(client, user)
    _, _, distributors = USERS[user]
    if distributors:
        assert {r["distributor"] for r in d["rows"]} <= set(distributors)


@pytest.mark.parametrize("user", EVERYONE)
def test_targets_and_explain_in_scope(client: TestClient, user: str) -> None:
    _, channels, distributors = USERS[user]
    t = client.get("/api/targets", params={"as_of": "2025-11-30"}, headers=h(client, user)).json()["rows"]
    if USERS[user][0] != "channel_manager":
        assert len(t) == 4
    else:
        for row in t:
            assert (not channels or row["channel"] in channels) and (
                not distributors or row["distributor"] in distributors
            )
    e = client.get("/api/explain", params={"period": "2025-11"}, headers=h(client, user)).json()
    assert {m["channel_id"] for m in e["by_member"]} <= allowed_channels(client, user)
    assert e["total"]["value_after"] == pytest.approx(scoped_gmv(client, user), abs=0.01)


@pytest.mark.parametrize("user", EVERYONE)
def test_alerts_in_scope(client: TestClient, user: str) -> None:
    rows = client.get("/api/alerts", headers=h(client, user)).json()["rows"]
    _, channels, distributors = USERS[user]
    if USERS[user][0] != "channel_manager":
        assert len(rows) == 4
        return
    for a in rows:
        assert a["channel_id"] is not None  # a whole-business alert includes other channels' numbers
        assert not channels or a["channel_id"] in channels
        assert not distributors or a["distributor_id"] in distributors
    expected = {"tm": 1, "jd_douyin": 1, "resellers": 1, "res_in_wechat": 1}[user]
    assert len(rows) == expected


@pytest.mark.parametrize("user", SCOPED)
def test_alert_outside_scope_cannot_be_changed(client: TestClient, user: str) -> None:
    everything = client.get("/api/alerts", headers=h(client, "admin")).json()["rows"]
    mine = {a["alert_id"] for a in client.get("/api/alerts", headers=h(client, user)).json()["rows"]}
    other = next(a["alert_id"] for a in everything if a["alert_id"] not in mine)
    r = client.post(f"/api/alerts/{other}/acknowledge", headers=h(client, user))
    assert r.status_code == 403
    after = {a["alert_id"]: a["status"] for a in client.get("/api/alerts", headers=h(client, "admin")).json()["rows"]}
    assert after[other] == next(a["status"] for a in everything if a["alert_id"] == other)
    log = client.app.state.store.access_log(decision="denied", limit=1000)  # type: ignore[attr-defined]
    assert any(e["username"] == user and other in e["path"] for e in log)


@pytest.mark.parametrize("user", EVERYONE)
def test_ingestion_in_scope(client: TestClient, user: str) -> None:
    project: Any = client.app.state.project  # type: ignore[attr-defined]
    from channelscope.web.auth import User
    from channelscope.web.service import scope_sources

    role, channels, distributors = USERS[user]
    allowed = scope_sources(project, User(user, role, channels, distributors))  # type: ignore[arg-type]
    st = client.get("/api/ingestion/status", headers=h(client, user)).json()
    if allowed is None:
        assert st["counts"]["orders"] > 0
        return
    assert st["counts"] is None
    assert {b["source"] for b in st["ledger"]} <= set(allowed)
    assert {f["source"] for f in st["freshness"]} == set(allowed)
    q = client.get("/api/ingestion/quarantine", params={"limit": 1000}, headers=h(client, user)).json()
    assert {r["source"] for r in q["rows"]} <= set(allowed)
    other = next(s.name for s in project.config.sources if s.name not in allowed)
    denied = client.get("/api/ingestion/quarantine", params={"source": other}, headers=h(client, user))
    assert denied.status_code == 403


def test_dashboard_path_service_is_scoped_too(client: TestClient) -> None:
    """The dashboard calls web.service directly: the same row filter applies there."""
    from channelscope.web.auth import User
    from channelscope.web.service import kpi_table

    project = client.app.state.project  # type: ignore[attr-defined]
    df = kpi_table(project, User("tm", "channel_manager", ("tmall",)), metrics=["gmv"], by=["platform"], **NOV)
    assert df["gmv"].sum() == pytest.approx(scoped_gmv(client, "tm"), abs=0.01)
    assert set(df["platform"]) == {"tmall"}
