"""The action log and the report archive through the API: roles, a channel manager's scope (reads and writes),
errors that name the field, downloads of archived reports."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.web.test_api import api_client, auth, make_shop

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

USERS = {
    "admin": ("admin", (), ()),
    "analyst": ("analyst", (), ()),
    "viewer": ("viewer", (), ()),
    "tm": ("channel_manager", ("tmall",), ()),
}


@pytest.fixture(scope="module")
def client(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from api_client(make_shop(demo_shop, tmp_path_factory.mktemp("actions-api") / "shop"), USERS)


def _new(channel: str, **extra: object) -> dict[str, object]:
    return {
        "what": f"push {channel}",
        "owner": "Wang",
        "scope_kind": "channel",
        "scope_id": channel,
        "start": "2025-09-15",
        "deadline": "2025-09-28",
        "expected_change": 0.1,
        **extra,
    }


def test_actions_respect_roles_and_scope(client: TestClient) -> None:
    r = client.post("/api/actions", json=_new("jd"), headers=auth(client, "analyst"))
    assert r.status_code == 200, r.text
    jd_id = r.json()["action"]["action_id"]
    assert r.json()["action"]["channel_id"] == "jd"
    r = client.post("/api/actions", json=_new("tmall"), headers=auth(client, "tm"))
    assert r.status_code == 200, r.text
    tm_id = r.json()["action"]["action_id"]
    assert client.post("/api/actions", json=_new("jd"), headers=auth(client, "tm")).status_code == 403
    assert client.post("/api/actions", json=_new("tmall"), headers=auth(client, "viewer")).status_code == 403

    mine = client.get("/api/actions", headers=auth(client, "tm")).json()
    assert {r["channel_id"] for r in mine["rows"]} == {"tmall"}
    everyone = client.get("/api/actions", headers=auth(client, "viewer")).json()
    assert {jd_id, tm_id} <= {r["action_id"] for r in everyone["rows"]}

    assert client.post(f"/api/actions/{jd_id}", json={"status": "done"}, headers=auth(client, "tm")).status_code == 403
    r = client.post(f"/api/actions/{tm_id}", json={"status": "doing"}, headers=auth(client, "tm"))
    assert r.status_code == 200 and r.json()["action"]["status"] == "doing"
    r = client.post(f"/api/actions/{tm_id}/check", headers=auth(client, "tm"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] in ("worked", "no_effect", "worse") and body["lower"] <= body["effect"] <= body["upper"]
    assert "tmall" not in body["evidence"]["controls"]["channel"]


def test_bad_action_input_names_the_field(client: TestClient) -> None:
    h = auth(client, "analyst")
    r = client.post("/api/actions", json=_new("nope"), headers=h)
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "scope_id"
    r = client.post("/api/actions", json=_new("jd", deadline="2025-01-01"), headers=h)
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "deadline"
    r = client.post("/api/actions", json=_new("jd", metric="nope"), headers=h)
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "metric"
    assert client.post("/api/actions/zzzzzzzzzz", json={"status": "done"}, headers=h).status_code == 404
    assert client.get("/api/actions", params={"status": "x"}, headers=h).status_code == 400


def test_report_archive_is_scoped_and_downloadable(client: TestClient) -> None:
    from channelscope.report import issue_report

    p = client.app.state.project  # type: ignore[attr-defined]
    as_of = dt.date(2025, 12, 1)
    issue_report(p, "daily_brief", period="2025-11-20", as_of=as_of, language="en", formats=("html", "xlsx"))
    issue_report(p, "daily_brief", period="2025-11-20", as_of=as_of, channels=["tmall"], formats=("html", "pdf"))
    everyone = client.get("/api/reports", headers=auth(client, "viewer")).json()["rows"]
    assert len(everyone) == 2 and everyone[0]["channels"] == "tmall"  # newest first
    mine = client.get("/api/reports", headers=auth(client, "tm")).json()["rows"]
    assert [r["channels"] for r in mine] == ["tmall"]
    own, whole = everyone[0]["id"], everyone[1]["id"]
    r = client.get(f"/api/reports/{own}/pdf", headers=auth(client, "tm"))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert client.get(f"/api/reports/{whole}/html", headers=auth(client, "tm")).status_code == 404
    r = client.get(f"/api/reports/{whole}/html", headers=auth(client, "analyst"))
    assert r.status_code == 200 and "Morning brief" in r.text
    assert client.get(f"/api/reports/{whole}/pdf", headers=auth(client, "analyst")).status_code == 404
    assert client.get(f"/api/reports/{whole}/exe", headers=auth(client, "analyst")).status_code == 400
    assert client.get("/api/reports").status_code == 401
