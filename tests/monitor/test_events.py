"""Live order events through a real uvicorn server on 127.0.0.1: signed, landed, visible to KPIs, idempotent."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from tests.conftest import _free_port, write_project

from channelscope import Project
from channelscope.monitor.event_batches import MicroBatcher, events_folder
from channelscope.monitor.events import LiveEvents, events_router, sign_generic

SECRET = "generic-test-secret"
SHOPIFY_SECRET = "shpss_test_app_secret"

CONFIG = """
channels:
  - {id: own_store, name: 品牌官网, kind: own_store, platform: shopify}
  - {id: miniprogram, name: 小程序, kind: own_store, platform: wechat_miniprogram}
sources:
  - {name: products, path: products.csv, preset: canonical_products}
  - {name: live_orders, kind: events, preset: canonical_orders}
  - {name: shopify_live, kind: events, preset: shopify_orders, channel_id: own_store}
events:
  source: live_orders
  secret_env: CS_TEST_EVENTS_SECRET
  shopify_source: shopify_live
  shopify_secret_env: CS_TEST_SHOPIFY_SECRET
  max_batch: 50
  max_wait_ms: 150
  max_body_bytes: 4096
"""


def _project_folder(folder: Path) -> Path:
    write_project(folder, CONFIG)
    (folder / "products.csv").write_text(
        "sku,spu,name,category,brand,list_price,unit_cost\n"
        "QH-CL01-100G,QH-CL01,洁面乳 100g,洁面,青禾,89.00,26.26\n"
        "QH-SR02-30ML,QH-SR02,精华 30ml,精华,青禾,259.00,61.00\n",
        encoding="utf-8",
    )
    return folder


@contextlib.contextmanager
def _serving(app: FastAPI) -> Iterator[httpx.Client]:
    """The app on a real uvicorn server on a free loopback port, with a client for it."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        srv.should_exit = True
        thread.join(15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A project with two events sources, served by uvicorn on a free loopback port."""
    os.environ["CS_TEST_EVENTS_SECRET"] = SECRET
    os.environ["CS_TEST_SHOPIFY_SECRET"] = SHOPIFY_SECRET
    folder = _project_folder(tmp_path_factory.mktemp("events") / "shop")
    project = Project(folder)
    project.ingest(["products"])
    router = events_router(project)
    app = FastAPI()
    app.include_router(router)
    with _serving(app) as client:
        yield {"project": project, "client": client, "live": router.live}  # type: ignore[attr-defined]
    project.close()
    for env in ("CS_TEST_EVENTS_SECRET", "CS_TEST_SHOPIFY_SECRET"):
        os.environ.pop(env, None)


def _kpis(project: Project) -> dict[str, float]:
    with project.write_lock:  # one DuckDB connection in this process: readers take the lock too
        df = project.kpis(["orders", "paid_orders", "gmv"])
    row = df.iloc[0] if len(df) else {"orders": 0, "paid_orders": 0, "gmv": 0}
    return {k: float(row[k] or 0) for k in ("orders", "paid_orders", "gmv")}


def _wait_for(project: Project, check: Any, timeout: float = 10.0) -> tuple[dict[str, float], float]:
    t0 = time.monotonic()
    while True:
        now = _kpis(project)
        if check(now):
            return now, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"KPIs never reached the expected state: {now}")
        time.sleep(0.05)


def _order(oid: str, amount: str, status: str = "paid", channel: str = "miniprogram") -> dict[str, Any]:
    return {
        "source_order_id": oid,
        "channel_id": channel,
        "customer_key": f"1380000{oid[-4:]}",
        "ordered_at": "2025-03-18 10:00:00",
        "paid_at": "2025-03-18 10:01:00" if status == "paid" else None,
        "status": status,
        "currency": "CNY",
        "net_amount": amount,
    }


def _post(client: httpx.Client, payload: Any, secret: str = SECRET, ts: int | None = None) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **sign_generic(secret, body, ts)}
    return client.post("/events/orders", content=body, headers=headers)


def _ledger(project: Project, source: str) -> list[tuple]:
    with project.write_lock:
        return project.warehouse.execute(
            "SELECT batch_id, rows_in, loaded, quarantined, duplicates, status FROM batches WHERE source = ? "
            "ORDER BY started_at",
            [source],
        )


def test_signed_events_become_visible_within_seconds(server: dict[str, Any]) -> None:
    project, client = server["project"], server["client"]
    before = _kpis(project)
    orders = [_order("MP9000001", "199.90"), _order("MP9000002", "0.30"), _order("MP9000003", "58.00", "created")]
    t0 = time.monotonic()
    resp = _post(client, orders)
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"accepted": 3, "duplicate": False}
    after, _ = _wait_for(project, lambda k: k["orders"] >= before["orders"] + 3)
    latency = time.monotonic() - t0
    assert latency < 5.0
    assert after["orders"] - before["orders"] == 3
    assert after["paid_orders"] - before["paid_orders"] == 2
    paid = sum(Decimal(o["net_amount"]) for o in orders if o["status"] == "paid")
    assert Decimal(str(after["gmv"])) - Decimal(str(before["gmv"])) == pytest.approx(paid)
    with project.write_lock:
        exact = project.warehouse.execute(
            "SELECT sum(net_amount_base) FROM orders WHERE source_order_id IN ('MP9000001', 'MP9000002')"
        )[0][0]
    assert Decimal(exact) == Decimal("200.20")  # money stays exact through JSON


def test_bad_signature_stale_time_and_missing_headers_are_401(server: dict[str, Any]) -> None:
    client, live = server["client"], server["live"]
    accepted = live.accepted
    assert _post(client, _order("MP9000100", "10.00"), secret="wrong").status_code == 401
    assert _post(client, _order("MP9000100", "10.00"), ts=int(time.time()) - 600).status_code == 401
    body = json.dumps(_order("MP9000100", "10.00")).encode()
    assert client.post("/events/orders", content=body).status_code == 401
    # a valid signature over other bytes: the body was changed in transit
    headers = sign_generic(SECRET, body)
    assert client.post("/events/orders", content=body.replace(b"10.00", b"99.00"), headers=headers).status_code == 401
    assert live.accepted == accepted


def test_bad_json_names_the_field_and_big_body_is_413(server: dict[str, Any]) -> None:
    client = server["client"]
    missing = _order("MP9000200", "10.00")
    del missing["ordered_at"]
    resp = _post(client, [_order("MP9000201", "1.00"), missing])
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", 1, "ordered_at"]
    resp = _post(client, {**_order("MP9000202", "1.00"), "net_amout": "1.00"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "net_amout"]
    body = b'{"source_order_id": '
    resp = client.post("/events/orders", content=body, headers=sign_generic(SECRET, body))
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body"]
    big = [_order(f"MP91{i:05d}", "1.00") for i in range(40)]
    assert _post(client, big).status_code == 413


def test_replayed_request_and_same_order_twice_change_nothing(server: dict[str, Any]) -> None:
    project, client, live = server["project"], server["client"], server["live"]
    body = json.dumps(_order("MP9000300", "88.80")).encode()
    headers = sign_generic(SECRET, body)
    before = _kpis(project)
    assert client.post("/events/orders", content=body, headers=headers).json()["duplicate"] is False
    once, _ = _wait_for(project, lambda k: k["orders"] == before["orders"] + 1)
    # the same request again (a replay inside the 5 minutes): recognised, not even written
    replay = client.post("/events/orders", content=body, headers=headers)
    assert replay.status_code == 202 and replay.json() == {"accepted": 0, "duplicate": True}
    # the same order sent again as a new, correctly signed request: lands as a duplicate
    ledger_before = len(_ledger(project, "live_orders"))
    time.sleep(1.1)  # another second: another timestamp, another signature
    again = _post(client, [_order("MP9000300", "88.80"), _order("MP9000300", "88.80")])
    assert again.json() == {"accepted": 2, "duplicate": False}
    live.flush()
    assert _kpis(project) == once
    ledger = _ledger(project, "live_orders")
    assert len(ledger) == ledger_before + 1
    _, rows_in, loaded, _, duplicates, status = ledger[-1]
    assert (rows_in, loaded, duplicates, status) == (2, 0, 2, "loaded")
    assert all(r[1] == r[2] + r[3] + r[4] for r in ledger), "rows_in = loaded + quarantined + duplicates"


SHOPIFY_ORDER = {
    "id": 5678901234567,
    "name": "#2001",
    "email": "buyer@example.com",
    "created_at": "2025-03-18T10:15:00+08:00",
    "processed_at": "2025-03-18T10:16:00+08:00",
    "updated_at": "2025-03-18T10:16:00+08:00",
    "currency": "CNY",
    "financial_status": "paid",
    "subtotal_price": "428.00",
    "total_discounts": "20.00",
    "total_tax": "0.00",
    "total_price": "438.00",
    "total_shipping_price_set": {"shop_money": {"amount": "10.00", "currency_code": "CNY"}},
    "billing_address": {"phone": "+86 138 0013 8000", "province": "Shanghai"},
    "customer": {"id": 1, "phone": "+8613800138000"},
    "line_items": [
        {"id": 1, "sku": "QH-CL01-100G", "quantity": 2, "price": "89.00", "total_discount": "0.00", "name": "洁面乳"},
        {
            "id": 2,
            "sku": "QH-SR02-30ML",
            "quantity": 1,
            "price": "270.00",
            "discount_allocations": [{"amount": "20.00"}],
            "name": "精华",
        },
    ],
    "refunds": [],
}


def _shopify_post(client: httpx.Client, body: bytes, webhook_id: str, signature: str | None = None) -> httpx.Response:
    # computed the way Shopify documents it: base64(HMAC-SHA256(app secret, raw body))
    digest = base64.b64encode(hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": signature or digest,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Shop-Domain": "qinghe.myshopify.com",
    }
    return client.post("/events/shopify/orders", content=body, headers=headers)


def test_shopify_webhook_hmac_and_redelivery(server: dict[str, Any]) -> None:
    project, client, live = server["project"], server["client"], server["live"]
    body = json.dumps(SHOPIFY_ORDER, ensure_ascii=False).encode()
    before = _kpis(project)
    assert _shopify_post(client, body, "wh-1", signature=base64.b64encode(b"x" * 32).decode()).status_code == 401
    assert _shopify_post(client, body + b" ", "wh-1", signature=None).status_code == 202  # signed over its bytes
    after, _ = _wait_for(project, lambda k: k["orders"] == before["orders"] + 1)
    assert after["gmv"] - before["gmv"] == pytest.approx(438.00)
    with project.write_lock:
        lines = project.warehouse.execute(
            "SELECT sku, quantity, amount FROM order_lines WHERE source_order_id = '#2001' ORDER BY line_no"
        )
        order = project.warehouse.execute("SELECT channel_id, status FROM orders WHERE source_order_id = '#2001'")
    assert [(s, int(q), Decimal(a)) for s, q, a in lines] == [
        ("QH-CL01-100G", 2, Decimal("178.00")),
        ("QH-SR02-30ML", 1, Decimal("250.00")),
    ]
    assert order == [("own_store", "paid")]
    # Shopify redelivers with the same webhook id: dropped; the same order from another webhook: a duplicate
    assert _shopify_post(client, body, "wh-1").json() == {"accepted": 0, "duplicate": True}
    assert _shopify_post(client, body, "wh-2").json() == {"accepted": 1, "duplicate": False}
    live.flush()
    assert _kpis(project) == after
    # the same bytes as a loaded batch: skipped whole, the ledger keeps the one loaded batch
    assert [r[1:] for r in _ledger(project, "shopify_live")] == [(2, 2, 0, 0, "loaded")]
    assert live.batchers["shopify_live"].landed[-1].status == "skipped"
    # the order again beside another one: its two line rows count as duplicates
    other = {**SHOPIFY_ORDER, "name": "#2002", "line_items": SHOPIFY_ORDER["line_items"][:1], "total_price": "188.00"}
    batcher = live.batchers["shopify_live"]
    batcher.max_wait = 60.0  # both webhooks in one micro-batch, however slow this machine is
    try:
        assert _shopify_post(client, body, "wh-3").status_code == 202
        assert _shopify_post(client, json.dumps(other).encode(), "wh-4").status_code == 202
        live.flush()
    finally:
        batcher.max_wait = 0.15
    ledger = _ledger(project, "shopify_live")
    assert ledger[-1][1:] == (3, 1, 0, 2, "loaded"), ledger
    assert all(r[1] == r[2] + r[3] + r[4] for r in ledger), "rows_in = loaded + quarantined + duplicates"
    assert _kpis(project)["gmv"] - after["gmv"] == pytest.approx(188.00)


def test_events_left_by_a_dead_process_are_landed_on_start(tmp_path: Path) -> None:
    os.environ["CS_TEST_EVENTS_SECRET"] = SECRET
    folder = _project_folder(tmp_path / "crash")
    with Project(folder) as project:
        project.ingest(["products"])
        src = project.source("live_orders")
        dead = MicroBatcher(project, src, max_batch=1000, max_wait_ms=60_000)
        dead.append([_order("MP9100001", "12.50")])
        dead.append([_order("MP9100002", "7.50")])
        open_file = next((events_folder(project) / "live_orders").glob("open-*.jsonl"))
        with open_file.open("ab") as fh:
            fh.write(b'{"source_order_id": "MP91000')  # a write cut by the crash: never acknowledged
        dead._fh.close()  # the process is gone; nothing was landed
        assert _kpis(project)["orders"] == 0
        live = LiveEvents(project)
        live.start()
        try:
            assert _kpis(project) == {"orders": 2.0, "paid_orders": 2.0, "gmv": 20.0}
            assert not list((events_folder(project) / "live_orders").glob("*.jsonl"))
        finally:
            live.stop()


def test_concurrent_appends_of_the_event_loop_share_fsyncs_and_lose_nothing_across_rotations(tmp_path: Path) -> None:
    """append_async from many requests at once while the lander rotates files: every event is on
    disk when its await returns, each exactly once, and the landed batches count them all."""
    import asyncio

    folder = _project_folder(tmp_path / "group")
    with Project(folder) as project:
        project.ingest(["products"])
        batcher = MicroBatcher(project, project.source("live_orders"), max_batch=10_000, max_wait_ms=60_000)
        stop = threading.Event()

        def rotating() -> None:  # the lander closing batches while appends go on
            while not stop.is_set():
                batcher._rotate()
                time.sleep(0.01)

        async def one(i: int) -> None:
            await batcher.append_async([_order(f"MP92{i:05d}", "1.00")])
            # queued in call order, so this was write number i + 1: an fsync covered it before the return
            assert batcher._synced >= i + 1

        async def many() -> None:
            await asyncio.gather(*(one(i) for i in range(300)))

        rotator = threading.Thread(target=rotating)
        rotator.start()
        try:
            asyncio.run(many())
        finally:
            stop.set()
            rotator.join()
        assert batcher._synced == batcher._written == 300  # every write fsync'ed
        lines = [
            json.loads(line)["source_order_id"]
            for f in (events_folder(project) / "live_orders").glob("*.jsonl")
            for line in f.read_text().splitlines()
        ]
        assert sorted(lines) == [f"MP92{i:05d}" for i in range(300)]
        results = batcher.flush()
        assert sum(r.loaded for r in results) == 300 and all(r.rows_in == r.loaded for r in results)
        assert _kpis(project)["orders"] == 300


def test_without_an_events_section_the_endpoints_answer_404(tmp_path: Path) -> None:
    from channelscope.monitor.events import start_events

    folder = write_project(tmp_path / "plain", "channels: []\n")
    with Project(folder) as project:
        assert start_events(project) is None
        app = FastAPI()
        app.include_router(events_router(project))
        with _serving(app) as client:
            resp = client.post("/events/orders", content=b"{}")
        assert resp.status_code == 404 and "events:" in resp.json()["detail"]


def test_the_app_and_the_router_share_one_started_live_events(tmp_path: Path) -> None:
    from channelscope.monitor.events import live_events, start_events

    os.environ["CS_TEST_EVENTS_SECRET"] = SECRET

    def ours() -> list[threading.Thread]:  # the module's server has threads of the same names
        return [t for t in threading.enumerate() if t.name.startswith("events-")]

    before = set(ours())
    with Project(_project_folder(tmp_path / "shared")) as project:
        live = start_events(project)
        assert live is live_events(project)
        live.start()  # the router's lifespan starting it again: counted, not a second set of threads
        assert sorted(t.name for t in set(ours()) - before) == ["events-live_orders", "events-shopify_live"]
        live.stop()
        assert live.deliveries is not None  # still running for the other owner
        live.stop()
        assert live.deliveries is None
        assert set(ours()) <= before


def test_events_config_errors_name_the_section(tmp_path: Path) -> None:
    from channelscope.errors import ConfigError

    folder = _project_folder(tmp_path / "bad")
    text = (folder / "channelscope.yaml").read_text()
    (folder / "channelscope.yaml").write_text(text.replace("source: live_orders", "source: products"))
    with pytest.raises(ConfigError, match=r"key 'events'.*source 'products' must have kind: events"):
        Project(folder)
    (folder / "channelscope.yaml").write_text(
        text.replace("kind: events, preset: canonical_orders", "kind: events, path: x.csv, preset: canonical_orders")
    )
    with pytest.raises(ConfigError, match="an events source receives posted order events"):
        Project(folder)
    (folder / "channelscope.yaml").write_text(text.replace("CS_TEST_EVENTS_SECRET", "s3cr3t value!"))
    with pytest.raises(ConfigError, match="NAME of an environment variable") as err:
        Project(folder)
    assert "s3cr3t" not in str(err.value)  # a secret pasted by mistake is not echoed
