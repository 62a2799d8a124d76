"""One HTTP POST to a receiver, its failures turned into :class:`DeliveryError` without the URL.

Robot URLs carry their tokens in the path or query, so no message here quotes a URL: only the
receiver kind, its host and port, and what went wrong.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from channelscope.monitor.notify.message import DeliveryError

#: answers that a later attempt cannot fix: the payload itself is wrong
_PERMANENT = {400, 413, 422}


def where(url: str) -> str:
    """host:port of a URL (never its path or query, which may hold a token)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def post(
    url: str,
    *,
    what: str,
    timeout: float,
    body: bytes | None = None,
    payload: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST JSON (``payload``) or raw ``body`` bytes; returns a 2xx response or raises DeliveryError."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"{what}: the configured URL does not start with http:// or https://", retryable=False)
    content = body if body is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    hdrs = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "channelscope"}
    hdrs.update(headers or {})
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False) as client:
            resp = client.post(url, content=content, headers=hdrs)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"{what} at {where(url)}: no answer within {timeout:g} s ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{what} at {where(url)}: {type(exc).__name__} (receiver down or unreachable)") from None
    if resp.status_code >= 300:
        snippet = resp.text[:200].strip().replace("\n", " ")
        raise DeliveryError(
            f"{what} at {where(url)} answered HTTP {resp.status_code}" + (f": {snippet}" if snippet else ""),
            retryable=resp.status_code not in _PERMANENT,
        )
    return resp


def json_answer(resp: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON body of a robot's answer (robots report errors in a 200 answer)."""
    try:
        data = resp.json()
    except ValueError:
        raise DeliveryError(f"{what} answered HTTP {resp.status_code} with a body that is not JSON") from None
    if not isinstance(data, dict):
        raise DeliveryError(f"{what} answered an unexpected JSON value")
    return data


def truncate_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (robots reject longer messages)."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode("utf-8", errors="ignore") + "…"
