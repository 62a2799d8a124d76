"""Every API route on the ingested demo: numbers against hand-written SQL, pagination, errors that name the
parameter (never a 500), role permissions, exports neutralized against formula injection."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest import copy_demo

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PAID = "(paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded'))"  # 支付金额
TARGETS = """
targets:
  - {metric: gmv, period: 2025-11, value: 200000, channel: tmall}
  - {metric: gmv, period: 2025-11, value: 150000, channel: jd}
  - {metric: gmv, period: 2025-11, value: 900000}
  - {metric: gmv, period: 2025-11, value: 50000, distributor: wx-r01}
"""
PASSWORD = "correct horse 1"
ROLES = {
    "admin": ("admin", (), ()),
    "analyst": ("analyst", (), ()),
    "viewer": ("viewer", (), ()),
    "tm": ("channel_manager", ("tmall",), ()),
}


def make_shop(demo_shop: Path, dest: Path) -> Path:
    folder = copy_demo(demo_shop, dest)
    with (folder / "channelscope.yaml").open("a", encoding="utf-8") as fh:
        fh.write(TARGETS)
    return folder


def add_alerts(project: Any) -> None:
    """Three open alerts: about tmall, about jd, and about the whole business."""
    from channelscope.monitor.dispatch import record_findings
    from channelscope.monitor.findings import Evaluation, Finding

    def finding(scope: dict[str, str], value: float) -> Finding:
        return Finding(
            rule="gmv_drop",
            kind="change",
            severity="warning",
            scope=scope,
            period="2025-11",
            metric="gmv",
            value=value,
            expected=value * 1.5,
            lower=None,
            upper=None,
            title={"en": f"GMV fell {scope}", "zh-CN": f"GMV 下降 {scope}"},
            text={"en": "", "zh-CN": ""},
            evidence={},
            auto_resolve=False,
        )

    findings = [
        finding({"channel_id": "tmall"}, 100.0),
        finding({"channel_id": "jd"}, 200.0),
        finding({}, 300.0),
        finding({"channel_id": "wechat_resellers", "distributor_id": "wx-r01"}, 400.0),
    ]
    record_findings(project, Evaluation(findings=findings, checked=[]))


def api_client(folder: Path, users: dict[str, tuple[str, tuple, tuple]]) -> Iterator[TestClient]:
    """create_app on ``folder`` with these users (role, channels, distributors), an API token each, and the
    test alerts; shared by the API and scope-matrix tests."""
    from channelscope.web.app import create_app

    app = create_app(folder, scheduler=False, events=False, dashboard=False)
    store = app.state.store
    for name, (role, channels, distributors) in users.items():
        store.add_user(name, role, PASSWORD, channels=channels, distributors=distributors)
    add_alerts(app.state.project)
    with TestClient(app) as c:
        c.tokens = {name: store.create_token(name) for name in users}  # type: ignore[attr-defined]
        yield c


@pytest.fixture(scope="module")
def client(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from api_client(make_shop(demo_shop, tmp_path_factory.mktemp("api") / "shop"), ROLES)


def auth(client: TestClient, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[name]}"}  # type: ignore[attr-defined]


def sql(client: TestClient, query: str) -> pd.DataFrame:
    con = client.app.state.project.warehouse.con.cursor()  # type: ignore[attr-defined]
    try:
        return con.execute(query).df()
    finally:
        con.close()


def test_kpis_by_channel_equal_hand_sql(client: TestClient) -> None:
    r = client.get(
        "/api/kpis",
        params={"metric": ["gmv", "orders", "aov"], "by": "channel", "start": "2025-11-01", "end": "2025-11-30"},
        headers=auth(client, "analyst"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scope"] == {"role": "analyst", "channels": "all", "distributors": "all"}
    assert body["units"]["gmv"] == {"unit": "money", "currency": "CNY"}
    got = pd.DataFrame(body["rows"]).set_index("channel")
    want = sql(
        client,
        f"SELECT channel_id, sum(net_amount_base) FILTER (WHERE {PAID}) AS gmv, count(*) AS orders, "
        f"count(*) FILTER (WHERE {PAID}) AS paid FROM orders "
        "WHERE business_date BETWEEN '2025-11-01' AND '2025-11-30' GROUP BY 1",
    ).set_index("channel_id")
    assert sorted(got.index) == sorted(want.index)
    for ch, row in want.iterrows():
        assert got.loc[ch, "gmv"] == pytest.approx(float(row.gmv), abs=0.005)
        assert got.loc[ch, "orders"] == row.orders
        assert got.loc[ch, "aov"] == pytest.approx(float(row.gmv) / row.paid, abs=0.005)  # money: cents


def test_kpis_daily_pagination_and_comparison(client: TestClient) -> None:
    h = auth(client, "viewer")
    params: dict[str, Any] = {"metric": "gmv", "grain": "day", "start": "2025-11-01", "end": "2025-11-30"}
    full = client.get("/api/kpis", params=params, headers=h).json()
    assert full["page"]["total"] == 30
    page = client.get("/api/kpis", params={**params, "limit": 7, "offset": 28}, headers=h).json()
    assert page["page"] == {"limit": 7, "offset": 28, "total": 30}
    assert page["rows"] == full["rows"][28:]
    cmp = client.get("/api/kpis", params={"metric": "gmv", "compare": "previous", "end": "2025-11-30"}, headers=h)
    row = cmp.json()["rows"][0]
    oct_gmv = sql(
        client,
        f"SELECT sum(net_amount_base) AS g FROM orders WHERE {PAID} "
        "AND business_date BETWEEN '2025-10-01' AND '2025-10-31'",
    ).g[0]
    assert row["gmv_prev"] == pytest.approx(float(oct_gmv), abs=0.005)


@pytest.mark.parametrize(
    ("params", "parameter", "allowed"),
    [
        ({"metric": "gmvv"}, "metric", "gmv"),
        ({"metric": "gmv", "grain": "hour"}, "grain", "day"),
        ({"metric": "gmv", "by": "colour"}, "by", "channel"),
        ({"metric": "gmv", "filter": "channel"}, "filter", None),
        ({"metric": "gmv", "filter": "colour=red"}, "filter", "channel"),
        ({"metric": "gmv", "compare": "lastyear"}, "compare", "yoy"),
        ({"metric": "gmv", "to_date": "ytm"}, "to_date", "mtd"),
        ({"metric": "gmv", "start": "2025-13-01"}, "start", None),
        ({"metric": "gmv", "limit": "0"}, "limit", None),
        ({"metric": "gmv", "limit": "many"}, "limit", None),
        ({"metric": "gmv", "offset": "-1"}, "offset", None),
        ({}, "metric", None),
    ],
)
def test_invalid_parameters_are_4xx_naming_the_parameter(
    client: TestClient, params: dict[str, str], parameter: str, allowed: str | None
) -> None:
    r = client.get("/api/kpis", params=params, headers=auth(client, "analyst"))
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert err["parameter"] == parameter
    assert "Traceback" not in r.text
    if allowed:
        assert allowed in err["allowed"]


def test_other_invalid_parameters(client: TestClient) -> None:
    h = auth(client, "admin")
    cases = [
        ("/api/explain", {"period": "2025-11", "metric": "orders"}, "metric"),
        ("/api/explain", {"period": "2025-11", "lang": "fr"}, "lang"),
        ("/api/alerts", {"status": "sleeping"}, "status"),
        ("/api/ingestion/quarantine", {"source": "nope"}, "source"),
        ("/api/kpis/export", {"metric": "gmv", "format": "pdf"}, "format"),
        ("/api/targets", {"as_of": "yesterday"}, "as_of"),
        # an unknown parameter is an error, not ignored: channel=jd would otherwise answer for every channel
        ("/api/kpis", {"metric": "gmv", "channel": "jd"}, "channel"),
        ("/api/kpis/export", {"metric": "gmv", "channel": "jd"}, "channel"),
        ("/api/alerts", {"stauts": "open"}, "stauts"),
    ]
    for path, params, parameter in cases:
        r = client.get(path, params=params, headers=h)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["error"]["parameter"] == parameter
    bad_period = client.get("/api/explain", params={"period": "last spring"}, headers=h)
    assert bad_period.status_code == 400 and "YYYY-MM" in bad_period.json()["error"]["message"]


def test_metrics_targets_explain_funnel_distributors(client: TestClient) -> None:
    h = auth(client, "viewer")
    m = client.get("/api/metrics", headers=h).json()
    assert {"name": "gmv", "unit": "money"}.items() <= next(r for r in m["rows"] if r["name"] == "gmv").items()
    t = client.get("/api/targets", params={"as_of": "2025-11-30"}, headers=h).json()
    assert len(t["rows"]) == 4
    assert t["units"] == {"gmv": {"unit": "money", "currency": "CNY"}}
    tmall = next(r for r in t["rows"] if r["channel"] == "tmall")
    nov_tmall = sql(
        client,
        f"SELECT sum(net_amount_base) AS g FROM orders WHERE {PAID} AND channel_id = 'tmall' "
        "AND business_date BETWEEN '2025-11-01' AND '2025-11-30'",
    ).g[0]
    assert tmall["actual"] == pytest.approx(float(nov_tmall), abs=0.005)
    assert tmall["attainment"] == pytest.approx(float(nov_tmall) / 200000, rel=1e-6)
    e = client.get("/api/explain", params={"period": "2025-11", "lang": "en"}, headers=h).json()
    parts = e["total"]
    assert parts["value_after"] - parts["value_before"] == pytest.approx(parts["change"], abs=0.01)
    assert isinstance(e["sentences"], list) and e["sentences"]
    f = client.get("/api/funnel", params={"start": "2025-11-01", "end": "2025-11-30"}, headers=h).json()
    stages = {r["stage"]: r["value"] for r in f["rows"]}
    visitors = sql(client, "SELECT sum(visitors) AS v FROM traffic WHERE date BETWEEN '2025-11-01' AND '2025-11-30'")
    assert stages["visitors"] == float(visitors.v[0])
    d = client.get("/api/distributors", params={"start": "2025-11-01", "end": "2025-11-30"}, headers=h).json()
    assert d["rows"] and all(r["distributor"] for r in d["rows"])
    assert d["rows"][0]["gmv"] >= d["rows"][-1]["gmv"]


def test_alerts_list_acknowledge_resolve(client: TestClient) -> None:
    listed = client.get("/api/alerts", headers=auth(client, "viewer")).json()
    assert len(listed["rows"]) == 4
    one = next(a for a in listed["rows"] if a["channel_id"] == "jd")["alert_id"]
    # a viewer may not change alerts: denied and logged
    r = client.post(f"/api/alerts/{one}/acknowledge", headers=auth(client, "viewer"))
    assert r.status_code == 403
    log = client.app.state.store.access_log(decision="denied")  # type: ignore[attr-defined]
    assert any(e["username"] == "viewer" and e["path"] == f"/api/alerts/{one}/acknowledge" for e in log)
    r = client.post(f"/api/alerts/{one}/acknowledge", headers=auth(client, "analyst"))
    assert r.status_code == 200, r.text
    status = {a["alert_id"]: a for a in client.get("/api/alerts", headers=auth(client, "viewer")).json()["rows"]}
    assert status[one]["status"] == "acknowledged" and status[one]["acknowledged_by"] == "analyst"
    assert client.post(f"/api/alerts/{one}/resolve", headers=auth(client, "analyst")).status_code == 200
    acked = client.get("/api/alerts", params={"status": "resolved"}, headers=auth(client, "viewer")).json()
    assert [a["alert_id"] for a in acked["rows"]] == [one]
    assert client.post("/api/alerts/ffffffffffffffff/resolve", headers=auth(client, "admin")).status_code == 404
    page = client.get("/api/alerts", params={"limit": 2, "offset": 1}, headers=auth(client, "viewer")).json()
    assert len(page["rows"]) == 2


def test_ingestion_status_and_quarantine(client: TestClient) -> None:
    st = client.get("/api/ingestion/status", headers=auth(client, "viewer")).json()
    batches = sql(client, "SELECT count(*) AS n FROM batches").n[0]
    assert len(st["ledger"]) == min(50, batches)
    assert st["counts"]["orders"] == sql(client, "SELECT count(*) AS n FROM orders").n[0]
    assert {f["source"] for f in st["freshness"]} == {s.name for s in client.app.state.project.config.sources}  # type: ignore[attr-defined]
    assert client.get("/api/ingestion/quarantine", headers=auth(client, "viewer")).status_code == 403
    q = client.get("/api/ingestion/quarantine", params={"limit": 5}, headers=auth(client, "analyst")).json()
    unresolved = sql(client, "SELECT count(*) AS n FROM quarantine WHERE resolved_batch_id IS NULL").n[0]
    assert len(q["rows"]) == min(5, unresolved)


def test_exports_csv_and_excel_neutralize_formulas(client: TestClient) -> None:
    params = {"metric": ["gmv", "orders"], "by": "channel", "start": "2025-11-01", "end": "2025-11-30"}
    assert client.get("/api/kpis/export", params=params, headers=auth(client, "viewer")).status_code == 403
    r = client.get("/api/kpis/export", params=params, headers=auth(client, "analyst"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-channelscope-scope"]
    csv = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig")
    api = pd.DataFrame(client.get("/api/kpis", params=params, headers=auth(client, "analyst")).json()["rows"])
    assert csv["gmv"].tolist() == pytest.approx(api["gmv"].tolist())
    x = client.get("/api/kpis/export", params={**params, "format": "xlsx"}, headers=auth(client, "analyst"))
    assert x.status_code == 200
    assert pd.read_excel(io.BytesIO(x.content))["orders"].tolist() == api["orders"].tolist()


def test_neutralize_formula_cells() -> None:
    from channelscope.web.service import neutralize

    df = pd.DataFrame(
        {"name": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "ok", None], "n": [-1, 2, 3, 4, 5, 6]}
    )
    out = neutralize(df)
    assert out["name"].tolist()[:5] == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "ok"]
    assert out["n"].tolist() == [-1, 2, 3, 4, 5, 6]  # numbers stay numbers


def test_excel_export_keeps_formula_text_inert(client: TestClient) -> None:
    """A dimension value that looks like a formula arrives in Excel as text, not as a formula."""
    import openpyxl

    from channelscope.web.auth import User
    from channelscope.web.service import export_bytes

    df = pd.DataFrame({"region": ["=1+1", "北京"], "gmv": [1.5, -2.0]})
    data = export_bytes(client.app.state.project, User("a", "analyst"), df, "xlsx")  # type: ignore[attr-defined]
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws["A2"].value == "'=1+1" and ws["A2"].data_type == "s"
    assert ws["B3"].value == -2.0


def test_users_routes_admin_only(client: TestClient) -> None:
    assert client.get("/api/users", headers=auth(client, "analyst")).status_code == 403
    body = {"username": "newbie", "role": "viewer", "password": "longenough1"}
    r = client.post("/api/users", json=body, headers=auth(client, "admin"))
    assert r.status_code == 201, r.text
    names = {u["username"] for u in client.get("/api/users", headers=auth(client, "admin")).json()["rows"]}
    assert {"admin", "analyst", "viewer", "tm", "newbie"} <= names
    tok = client.post("/api/users/newbie/tokens", headers=auth(client, "admin")).json()["token"]
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {tok}"}).json()["user"]["role"] == "viewer"
    bad = client.post("/api/users", json={**body, "role": "god"}, headers=auth(client, "admin"))
    assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "role"
    assert client.post("/api/users/newbie/disable", headers=auth(client, "admin")).status_code == 200
    client.app.state.store.forget()  # type: ignore[attr-defined]
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {tok}"}).status_code == 401


def test_unauthenticated_and_docs(client: TestClient) -> None:
    assert client.get("/api/kpis", params={"metric": "gmv"}).status_code == 401
    assert (
        client.get("/api/kpis", params={"metric": "gmv"}, headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    assert client.get("/docs", headers=auth(client, "viewer")).status_code == 200
    spec = client.get("/openapi.json", headers=auth(client, "viewer")).json()
    assert {
        "/api/kpis",
        "/api/kpis/export",
        "/api/targets",
        "/api/explain",
        "/api/alerts",
        "/api/alerts/{alert_id}/acknowledge",
        "/api/alerts/{alert_id}/resolve",
        "/api/ingestion/status",
        "/api/ingestion/quarantine",
        "/api/users",
    } <= set(spec["paths"])
    assert client.get("/api/nothing-here", headers=auth(client, "viewer")).status_code == 404


def test_reads_do_not_wait_behind_a_writer(client: TestClient) -> None:
    """A batch load holds the project's write lock for its whole transaction; API reads use their own cursor."""
    import threading
    import time

    project = client.app.state.project  # type: ignore[attr-defined]
    held, release = threading.Event(), threading.Event()

    def writer() -> None:
        with project.write_lock:
            held.set()
            release.wait(30)

    t = threading.Thread(target=writer)
    t.start()
    held.wait(5)
    try:
        start = time.perf_counter()
        r = client.get(
            "/api/kpis", params={"metric": "units", "by": "sku", "grain": "week"}, headers=auth(client, "admin")
        )
        assert r.status_code == 200 and r.json()["page"]["total"] > 0
        assert time.perf_counter() - start < 20  # answered while the lock is still held
        assert not release.is_set()
    finally:
        release.set()
        t.join()


def test_alerts_and_ledger_export_what_the_dashboard_shows(client: TestClient) -> None:
    """The alerts inbox and the batch ledger as CSV/Excel: the shown columns with the page's headers in the
    chosen language, the page's sort order, only the user's scope, viewers refused (no export permission)."""
    h = auth(client, "analyst")
    assert client.get("/api/alerts/export", headers=auth(client, "viewer")).status_code == 403
    r = client.get("/api/alerts/export", params={"lang": "en", "sort": "channel"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    df = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", keep_default_na=False)
    assert list(df.columns) == ["Severity", "Alert", "Channel", "Period", "Last seen (Asia/Shanghai)", "Status"]
    shown = client.get("/api/alerts", params={"limit": 1000}, headers=h).json()["rows"]
    assert len(df) == len(shown) == 4
    named = [c for c in df["Channel"] if c]
    assert named == sorted(named) and "天猫旗舰店" in named and "tmall" not in named  # names, never ids
    assert "GMV fell {'channel_id': 'tmall'}" in set(df["Alert"])
    zh = pd.read_csv(
        io.BytesIO(client.get("/api/alerts/export", params={"sort": "-channel"}, headers=h).content),
        encoding="utf-8-sig",
        keep_default_na=False,
    )
    assert list(zh.columns)[:3] == ["级别", "告警", "渠道"] and zh["渠道"].iloc[0] >= zh["渠道"].iloc[1]
    tm = pd.read_csv(
        io.BytesIO(client.get("/api/alerts/export", headers=auth(client, "tm")).content), encoding="utf-8-sig"
    )
    assert tm["渠道"].tolist() == ["天猫旗舰店"]  # a channel manager: only the alerts of its channels
    x = client.get("/api/ingestion/ledger/export", params={"format": "xlsx", "sort": "-rows_in"}, headers=h)
    assert x.status_code == 200
    ledger = pd.read_excel(io.BytesIO(x.content))
    assert list(ledger.columns) == [
        "开始（Asia/Shanghai）",
        "数据源",
        "文件",
        "状态",
        "输入行数",
        "已加载",
        "已隔离",
        "重复",
    ]
    assert ledger["输入行数"].tolist() == sorted(ledger["输入行数"], reverse=True) and len(ledger) <= 30
    assert (ledger["输入行数"] == ledger["已加载"] + ledger["已隔离"] + ledger["重复"]).all()
    # times in the project's time zone (stored in UTC): the 30 newest batches' start, as the page shows them
    newest = sql(client, "SELECT started_at FROM batches ORDER BY started_at DESC LIMIT 30").started_at
    utc = pd.to_datetime(newest)
    utc = utc.dt.tz_localize("UTC") if utc.dt.tz is None else utc
    local = set(utc.dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d %H:%M"))
    assert set(ledger["开始（Asia/Shanghai）"]) == local
