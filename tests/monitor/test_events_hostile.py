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


def _hostile_bodies() -> dict[str, bytes]:
    order = _order("MP9100004", "4.00")
    return {
        "5,000-digit integer": json.dumps(order).encode().replace(b'"4.00"', b"9" * 5000),
        "5,000-digit quantity in a line": json.dumps(order).encode()[:-1] + b', "quantity": ' + b"7" * 5000 + b"}",
        "arrays nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
        "objects nested 100,000 deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        "an order nested 100,000 deep": json.dumps(order).encode()[:-1]
        + b', "extra": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
    }


def test_huge_integers_and_deep_nesting_in_signed_bodies_are_4xx(server: dict[str, Any]) -> None:  # noqa: F811
    """A correctly signed body with a 5,000-digit integer or nested 100,000 deep is a 4xx naming the body (400,
    413 or 422), never a 500 and never accepted."""
    client = server["client"]
    accepted = server["live"].accepted
    for what, body in _hostile_bodies().items():
        r = client.post("/events/orders", content=body, headers=_signed(body))
        assert r.status_code in (400, 413, 422), (what, r.status_code, r.text[:300])
        assert "Traceback" not in r.text
    assert server["live"].accepted == accepted


def _exchange(sock: Any, request: bytes) -> tuple[int, dict[str, str]]:
    """Send one HTTP/1.1 request on an open socket and read one whole answer (status, headers)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-answer"
        rest += chunk
    return int(lines[0].split()[1]), headers


def test_the_connection_stays_usable_after_4xx_answers(server: dict[str, Any]) -> None:  # noqa: F811
    """Issue 12: after each 500 the server dropped the keep-alive connection. Hostile requests now get 4xx
    answers on one raw keep-alive socket, and a good signed event on the same socket is then accepted."""
    import socket

    url = server["client"].base_url
    host, port = url.host, url.port

    def request(body: bytes, headers: dict[str, str]) -> bytes:
        lines = ["POST /events/orders HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
        lines += [f"{k}: {v}" for k, v in headers.items()] + [f"Content-Length: {len(body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    good = json.dumps(_order("MP9100005", "5.00")).encode()
    with socket.create_connection((host, port), timeout=30) as sock:
        for what, body in _hostile_bodies().items():
            status, headers = _exchange(sock, request(body, _signed(body)))
            assert 400 <= status < 500 and headers.get("connection") != "close", (what, status, headers)
        unsigned = {"Content-Type": "application/json", "X-Channelscope-Timestamp": "9" * 5000}
        status, headers = _exchange(sock, request(good, unsigned))
        assert status == 401 and headers.get("connection") != "close", (status, headers)
        status, _ = _exchange(sock, request(good, _signed(good)))
        assert status == 202  # the same connection, after six refusals
