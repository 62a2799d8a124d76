"""Hostile live events (issue 12) against a real uvicorn server: malformed headers before authentication,
signed bodies Python's JSON reader accepts but that are no events, and 16 concurrent copies of one signed
request are each a 4xx or exactly one acceptance, never a 500 (senders retry a 5xx forever)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from tests.monitor.test_events import SECRET, SHOPIFY_SECRET, _order, server  # noqa: F401 - the fixture

from channelscope.monitor.events import shopify_hmac, sign_generic


def _signed(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign_generic(SECRET, body)}


def test_bad_timestamp_headers_are_401_before_authentication(server: dict[str, Any]) -> None:  # noqa: F811
    client = server["client"]
    body = json.dumps(_order("MP9100001", "1.00")).encode()
    for ts in ["١٧٠٠٠٠٠٠٠٠", "²", "9" * 5000, "-1", "1e9"]:
        headers = {"X-Channelscope-Timestamp": ts.encode("utf-8"), "X-Channelscope-Signature": b"sha256=00"}
        r = client.post("/events/orders", content=body, headers=headers)
        assert r.status_code == 401, (ts[:20], r.status_code, r.text[:200])


def test_signed_bodies_that_are_no_events_are_4xx(server: dict[str, Any]) -> None:  # noqa: F811
    client = server["client"]
    accepted = server["live"].accepted
    deep = b"[" * 1500 + b"]" * 1500
    surrogate = b'{"source_order_id": "MP9100002", "status": "paid", "customer_key": "\\ud800"}'
    for body in (deep, surrogate):
        r = client.post("/events/orders", content=body, headers=_signed(body))
        assert 400 <= r.status_code < 500, (body[:40], r.status_code, r.text[:300])
    shop = json.dumps({"id": 1, "customer": "not an object", "line_items": "x"}).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Hmac-Sha256": shopify_hmac(SHOPIFY_SECRET, shop)}
    r = client.post("/events/shopify/orders", content=shop, headers=headers)
    assert 400 <= r.status_code < 500, r.text[:300]
    assert server["live"].accepted == accepted


def test_concurrent_copies_of_one_signed_request_are_accepted_once(server: dict[str, Any]) -> None:  # noqa: F811
    base = str(server["client"].base_url)
    body = json.dumps(_order("MP9100003", "3.00")).encode()
    headers = _signed(body)

    def send(_: int) -> tuple[int, Any]:
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post("/events/orders", content=body, headers=headers)
            return r.status_code, r.json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(16)))
    assert {code for code, _ in answers} == {202}
    fresh = [a for _, a in answers if a["duplicate"] is False]
    assert len(fresh) == 1 and fresh[0]["accepted"] == 1, answers
    time.sleep(0.5)
