"""Live order events over HTTP: ``POST /events/orders`` (generic) and ``POST /events/shopify/orders``.

Every request is authenticated before its body is even parsed:
- generic: ``X-Channelscope-Timestamp: <unix seconds>`` and ``X-Channelscope-Signature: sha256=<hex>``
  where hex = HMAC-SHA256(secret, "<timestamp>." + raw body). The timestamp is signed too, so a
  captured request cannot be replayed with a fresh time; requests older or newer than 5 minutes are
  refused and an exact replay inside the window is recognised by its signature.
- Shopify: ``X-Shopify-Hmac-Sha256`` = base64 HMAC-SHA256(app secret, raw body), exactly as Shopify
  documents; ``X-Shopify-Webhook-Id`` drops redeliveries.

Answers: 202 accepted (the events are on disk, they reach the warehouse within ``max_wait_ms``);
401 bad or missing signature; 413 body over ``max_body_bytes``; 422 with the failing field's
location; 503 when the endpoint's secret is not configured. Secrets come from environment variables
and are never logged or echoed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from channelscope.errors import ConfigError
from channelscope.monitor.event_batches import DeliveryLog, MicroBatcher, events_folder
from channelscope.monitor.event_formats import EventFormatError, Layout, generic_rows, parse_json, shopify_rows

if TYPE_CHECKING:
    from channelscope.project import Project
    from channelscope.warehouse import BatchResult

log = logging.getLogger("channelscope.events")

#: how far the generic timestamp may be from the server's clock, in seconds
TOLERANCE_S = 300


def sign_generic(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers a sender adds to a generic event body (for clients, tests and the bench)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Channelscope-Timestamp": ts, "X-Channelscope-Signature": f"sha256={digest}"}


def shopify_hmac(secret: str, body: bytes) -> str:
    """Shopify's webhook signature: base64 of HMAC-SHA256 over the raw body, keyed by the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class _Refused(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


class LiveEvents:
    """The events endpoints' state: the secrets' names, a micro-batcher per events source, delivery ids."""

    def __init__(self, project: Project) -> None:
        cfg = project.config.events
        if cfg is None:
            raise ConfigError(
                "no 'events:' section in channelscope.yaml",
                file=str(project.folder / "channelscope.yaml"),
                hint="add events: {source: <an events source>} (see docs/live-events.md)",
            )
        self.project = project
        self.config = cfg
        self.batchers: dict[str, MicroBatcher] = {}
        self.layouts: dict[str, Layout] = {}
        self.accepted = 0
        for name in filter(None, (cfg.source, cfg.shopify_source)):
            src = project.source(name)
            self.batchers[name] = MicroBatcher(
                project, src, max_batch=cfg.max_batch, max_wait_ms=cfg.max_wait_ms, on_landed=self._landed
            )
            self.layouts[name] = Layout.of(project.mapping(src))
        self.deliveries: DeliveryLog | None = None
        # a generic request can only be replayed inside the timestamp window: its signature is kept
        # in memory for twice that (after a restart, a replay is still only a duplicate by merge key)
        self.signatures = DeliveryLog(None, memory_s=2 * TOLERANCE_S)
        self._inflight: set[str] = set()  # deliveries being written now (a concurrent copy is a duplicate)
        self._starts = 0
        self._lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Recover and land what a previous process left, then land in the background. Counted: the
        app's lifespan and the router's may both start it; the last matching ``stop`` stops it."""
        with self._lock:
            self._starts += 1
            if self._starts == 1:
                self._start()

    def stop(self) -> None:
        """Land the open batches and stop (once every ``start`` has its ``stop``)."""
        with self._lock:
            self._starts = max(0, self._starts - 1)
            if self._starts == 0 and self.deliveries is not None:
                for batcher in self.batchers.values():
                    batcher.stop()
                self.deliveries.close()
                self.deliveries = None

    def _start(self) -> None:
        self.deliveries = DeliveryLog(events_folder(self.project) / "deliveries.log")
        with self.project.write_lock:
            # a project that never ran an ingest has no channels or calendar yet
            if not self.project.warehouse.execute("SELECT 1 FROM channels LIMIT 1"):
                self.project.sync_dimensions()
        for name, batcher in self.batchers.items():
            batcher.start()
            log.info("events: landing %s every %d events or %d ms", name, batcher.max_batch, self.config.max_wait_ms)
        for env in filter(None, (self.config.secret_env, self.config.shopify_secret_env)):
            if not os.environ.get(env):
                log.warning("events: environment variable %s is not set; its endpoint answers 503", env)

    def flush(self) -> list[BatchResult]:
        """Land every open micro-batch now."""
        return [r for b in self.batchers.values() for r in b.flush()]

    def _landed(self, res: BatchResult, rows: int) -> None:
        log.info(
            "events: %s batch %s %s: %d rows in, %d loaded, %d quarantined, %d duplicates",
            res.source, res.batch_id, res.status, res.rows_in, res.loaded, res.quarantined, res.duplicates,
        )  # fmt: skip

    # ---- requests ----------------------------------------------------------------------------------

    def _secret(self, env: str | None) -> str:
        value = os.environ.get(env or "")
        if not value:
            raise _Refused(503, f"this endpoint is not configured: set the environment variable {env}")
        return value

    async def _body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _Refused(413, f"body over {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _Refused(413, f"body over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _accept(
        self, source: str, rows: list[dict[str, Any]], events: int, delivery: str, seen: DeliveryLog | None = None
    ) -> None:
        log_ = seen or self.deliveries
        assert log_ is not None, "LiveEvents.start() was not called"
        # claimed before the first await: a copy arriving while this one is written is a duplicate (the check
        # and the claim run with no await between them, so on the event loop they are one step)
        self._inflight.add(delivery)
        try:
            await self.batchers[source].append_async(rows, events)  # durable (fsync'ed) when this returns
            log_.add(delivery)
        finally:
            self._inflight.discard(delivery)
        self.accepted += events

    async def generic(self, request: Request) -> dict[str, Any]:
        secret = self._secret(self.config.secret_env)
        ts = request.headers.get("x-channelscope-timestamp", "")
        sig = request.headers.get("x-channelscope-signature", "")
        # ASCII digits only, at most 12: int() of '²' or of 5,000 digits raises (a 500 before authentication)
        if not (ts.isascii() and ts.isdigit() and len(ts) <= 12) or not sig.startswith("sha256="):
            raise _Refused(401, "missing X-Channelscope-Timestamp or X-Channelscope-Signature: sha256=<hex>")
        if abs(time.time() - int(ts)) > TOLERANCE_S:
            raise _Refused(401, "X-Channelscope-Timestamp is more than 5 minutes from the server's clock")
        body = await self._body(request)
        expected = sign_generic(secret, body, int(ts))["X-Channelscope-Signature"]
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise _Refused(401, "signature does not match (HMAC-SHA256 of '<timestamp>.' + body)")
        delivery = sig[7:]
        if self.signatures.seen(delivery) or delivery in self._inflight:
            return {"accepted": 0, "duplicate": True}
        rows = _rows(lambda: generic_rows(parse_json(body), self.layouts[self.config.source]))
        await self._accept(self.config.source, rows, len(rows), delivery, self.signatures)
        return {"accepted": len(rows), "duplicate": False}

    async def shopify(self, request: Request) -> dict[str, Any]:
        if not self.config.shopify_source:
            raise _Refused(404, "Shopify events are not configured (events.shopify_source)")
        secret = self._secret(self.config.shopify_secret_env)
        sig = request.headers.get("x-shopify-hmac-sha256", "")
        body = await self._body(request)
        if not sig or not hmac.compare_digest(shopify_hmac(secret, body).encode(), sig.encode()):
            raise _Refused(401, "X-Shopify-Hmac-Sha256 does not match the body")
        topic = request.headers.get("x-shopify-topic", "orders/create")
        if not topic.startswith("orders/"):
            return {"accepted": 0, "ignored": f"topic {topic}"}
        webhook = request.headers.get("x-shopify-webhook-id") or hashlib.sha256(body).hexdigest()
        delivery = "shopify:" + webhook
        assert self.deliveries is not None
        if self.deliveries.seen(delivery) or delivery in self._inflight:
            return {"accepted": 0, "duplicate": True}
        rows = _rows(lambda: shopify_rows(parse_json(body)))
        await self._accept(self.config.shopify_source, rows, 1, delivery)
        return {"accepted": 1, "duplicate": False}


def _rows(build: Any) -> list[dict[str, Any]]:
    """Rows from a posted body, or an EventFormatError (HTTP 4xx) for bodies Python's JSON reader accepts but
    that cannot be events: nested too deep, integers of thousands of digits, lone surrogates, an object sent
    as a string."""
    try:
        rows = build()
        json.dumps(rows, ensure_ascii=False).encode("utf-8")  # lone surrogates cannot be written
    except EventFormatError:
        raise
    except RecursionError:
        raise EventFormatError(["body"], "nested too deeply") from None
    except UnicodeError:
        raise EventFormatError(["body"], "contains text that is not valid Unicode (a lone surrogate)") from None
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise EventFormatError(["body"], f"not an order event: {str(exc)[:200]}") from None
    return list(rows)


def _answer(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def live_events(project: Project) -> LiveEvents:
    """The one ``LiveEvents`` of a project object (the router and the app's lifespan share it)."""
    live = getattr(project, "_live_events", None)
    if live is None:
        live = LiveEvents(project)
        project._live_events = live  # type: ignore[attr-defined]
    return live


def start_events(project: Project) -> LiveEvents | None:
    """Start landing live events for a project with an ``events:`` section (None without one).
    The caller stops the returned object; ``events_router``'s lifespan does the same, counted."""
    if project.config.events is None:
        return None
    live = live_events(project)
    live.start()
    return live


def events_router(project: Project) -> APIRouter:
    """The events endpoints as a FastAPI router; its lifespan starts and stops the micro-batchers
    (FastAPI merges a router's lifespan into the app's). ``router.live`` is the ``LiveEvents``, or
    None for a project without an ``events:`` section (the endpoints then answer 404)."""
    if project.config.events is None:
        return _unconfigured_router()
    live = live_events(project)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        await run_in_threadpool(live.start)
        try:
            yield
        finally:
            await run_in_threadpool(live.stop)

    router = APIRouter(prefix="/events", tags=["events"], lifespan=lifespan)

    async def handle(request: Request, kind: str) -> JSONResponse:
        try:
            out = await (live.generic(request) if kind == "generic" else live.shopify(request))
        except _Refused as exc:
            return _answer(exc.status, exc.detail)
        except EventFormatError as exc:
            return _answer(422, [{"loc": exc.loc, "msg": exc.msg, "type": "value_error"}])
        return JSONResponse(out, status_code=202)

    @router.post("/orders", status_code=202, summary="Receive order events (generic signed JSON)")
    async def post_orders(request: Request) -> JSONResponse:
        return await handle(request, "generic")

    @router.post("/shopify/orders", status_code=202, summary="Receive Shopify order webhooks")
    async def post_shopify_orders(request: Request) -> JSONResponse:
        return await handle(request, "shopify")

    router.live = live  # type: ignore[attr-defined]
    return router


def _unconfigured_router() -> APIRouter:
    router = APIRouter(prefix="/events", tags=["events"])
    detail = "live events are not configured: add an events: section to channelscope.yaml (docs/live-events.md)"

    @router.post("/orders", status_code=404, summary="Receive order events (not configured)")
    async def post_orders() -> JSONResponse:
        return _answer(404, detail)

    @router.post("/shopify/orders", status_code=404, summary="Receive Shopify order webhooks (not configured)")
    async def post_shopify_orders() -> JSONResponse:
        return _answer(404, detail)

    router.live = None  # type: ignore[attr-defined]
    return router
