"""One ASGI app: the API under /api (OpenAPI at /docs), /login, the dashboard, live events and the scheduler.

The process that runs it owns the project's DuckDB file (DESIGN rule 8). Every route is behind the auth
middleware except the login page and the live-event endpoints (those check their own HMAC signatures).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channelscope.errors import ChannelscopeError
from channelscope.web import api, login, marketing_api, service
from channelscope.web.auth import (
    AccessDenied,
    AuthError,
    AuthStore,
    LoginLimiter,
    User,
    reset_request_user,
    set_request_info,
    set_request_user,
    write_lock,
)

log = logging.getLogger("channelscope.web")

#: reachable without a login: the login page and form, and live events (signed with their own HMAC)
PUBLIC = ("/login", "/login.css", "/api/auth/login", "/favicon.ico")
PUBLIC_PREFIXES = ("/events/",)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class AuthMiddleware:
    """Authenticates every request (Bearer API token or session cookie), checks CSRF on cookie-authenticated
    writes, sets ``request_user()``, and logs every denial. Browsers without a session go to /login;
    API clients get 401 JSON."""

    def __init__(self, app: ASGIApp, store: AuthStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = scope["path"]
        method = scope.get("method", "GET")
        client = scope["client"][0] if scope.get("client") else None
        info = set_request_info(method, path, client)

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            if path in PUBLIC or path.startswith(PUBLIC_PREFIXES):
                await self.app(scope, receive, send_secure)
                return
            user, csrf, how = await self._authenticate(request)
            if user is None:
                await self._deny(request, 401, "unauthenticated", how or "no session or token", send_secure, receive)
                return
            if how == "cookie" and method not in SAFE_METHODS:
                sent = request.headers.get("x-csrf-token") or request.headers.get("x-csrftoken") or ""
                if not csrf or not secrets.compare_digest(sent, csrf):
                    await self._deny(
                        request, 403, "denied", "missing or wrong CSRF token", send_secure, receive, user=user
                    )
                    return
            token = set_request_user(user)
            try:
                await self.app(scope, receive, send_secure)
            finally:
                reset_request_user(token)
        finally:
            info.var.reset(info)

    async def _authenticate(self, request: Request) -> tuple[User | None, str | None, str | None]:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            user = await run_in_threadpool(self.store.token_user, auth[7:].strip())
            return (user, None, "bearer") if user else (None, None, "invalid API token")
        sid = request.cookies.get(api.SESSION_COOKIE)
        if sid:
            found = await run_in_threadpool(self.store.session_user, sid)
            if found:
                return found[0], found[1], "cookie"
            return None, None, "expired or unknown session"
        return None, None, None

    async def _deny(
        self,
        request: Request,
        status: int,
        decision: str,
        reason: str,
        send: Send,
        receive: Receive,
        user: User | None = None,
    ) -> None:
        path = request.url.path
        client = request.client.host if request.client else None
        await run_in_threadpool(
            self.store.log_access,
            user.username if user else None,
            request.method,
            path,
            status,
            decision,
            reason,
            client,
        )
        if request.scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        wants_html = "text/html" in request.headers.get("accept", "")
        is_api = path.startswith(("/api", "/_dash", "/docs", "/openapi.json"))
        if status == 401 and wants_html and not is_api and request.method in SAFE_METHODS:
            nxt = path + (f"?{request.url.query}" if request.url.query else "")
            response: Any = api.RedirectResponse(f"/login?next={quote(nxt)}", status_code=303)
        else:
            message = "log in first (session cookie or 'Authorization: Bearer <token>')" if status == 401 else reason
            response = JSONResponse({"error": {"message": message}}, status_code=status)
        await response(request.scope, receive, send)


def _error(status: int, message: str, parameter: str | None = None, allowed: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if parameter:
        body["parameter"] = parameter
    if allowed is not None:
        body["allowed"] = allowed
    return JSONResponse({"error": body}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Every error is a JSON answer naming what was wrong; never a stack trace."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(x) for x in first.get("loc", ()) if x not in ("query", "path", "body")]
        allowed = {k: v for k, v in (first.get("ctx") or {}).items() if isinstance(v, int | float | str)}
        return _error(
            422, f"{'.'.join(loc) or 'request'}: {first.get('msg', 'invalid')}", ".".join(loc) or None, allowed or None
        )

    @app.exception_handler(service.ParamError)
    async def _param(request: Request, exc: service.ParamError) -> JSONResponse:
        return _error(400, exc.message, exc.field, exc.allowed)

    @app.exception_handler(AccessDenied)
    async def _denied(request: Request, exc: AccessDenied) -> JSONResponse:
        return _error(403, exc.message)

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        return _error(400, str(exc), exc.field)

    @app.exception_handler(ChannelscopeError)
    async def _domain(request: Request, exc: ChannelscopeError) -> JSONResponse:
        status = (
            404
            if type(exc).__name__ in ("AlertNotFound", "ActionNotFound", "ReportNotFound", "CaseNotFound")
            else 409
            if type(exc).__name__ in ("LifecycleError", "CaseTransitionError")
            else 400
        )
        return _error(status, str(exc), exc.field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal error; the server log has the details")


def _optional(module: str, name: str) -> Any:
    """A function of another part of channelscope, or None while that part is not installed."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def create_app(
    folder: Path | str,
    *,
    scheduler: bool = True,
    events: bool = True,
    dashboard: bool = True,
    warehouse_url: str | None = None,
    cache: bool = True,
) -> FastAPI:
    """The whole web app of one project. Opens the project (this process becomes its writer).

    The live-events router starts and stops its micro-batchers in its own lifespan (merged by FastAPI);
    the scheduler runs in a background thread from this app's lifespan. ``cache=False`` turns off the
    per-(query, data version) result cache (to measure the engine alone)."""
    from channelscope.project import Project

    project = Project(folder, warehouse_url=warehouse_url)
    write_lock(project)
    _ = project.warehouse
    service.reader(project)  # the cursor factory, made now while nothing else uses the main connection
    store = AuthStore(project, reader=service.reader)
    store.ensure_tables()
    service.CACHE.enabled = cache
    stops: list[Callable[[], Any]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if scheduler:
            sched = _optional("channelscope.monitor.schedule", "Scheduler")
            if sched is not None:
                stops.append(sched(project).start_background().stop)
        try:
            yield
        finally:
            for stop in reversed(stops):
                try:
                    stop()
                except Exception:
                    log.exception("stopping a background part failed")
            project.close()

    app = FastAPI(
        title="channelscope",
        summary="Multi-channel e-commerce KPIs, targets, alerts and data health",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.project = project
    app.state.store = store
    app.state.limiter = LoginLimiter()
    app.include_router(api.router, prefix="/api")
    from channelscope.web.forecast_api import router as forecast_router

    app.include_router(forecast_router, prefix="/api")
    from channelscope.web.customers_api import router as customers_router

    app.include_router(customers_router, prefix="/api")
    app.include_router(marketing_api.router, prefix="/api")
    from channelscope.web.actions_api import router as actions_router

    app.include_router(actions_router, prefix="/api")
    from channelscope.web.compliance_api import network_router
    from channelscope.web.compliance_api import router as compliance_router

    app.include_router(compliance_router, prefix="/api")
    app.include_router(network_router, prefix="/api")
    app.include_router(login.router)
    if events:
        router = _optional("channelscope.monitor.events", "events_router")
        if router is not None:
            app.include_router(router(project))
    if dashboard:
        mount = _optional("channelscope.web.dashboard", "mount_dashboard")
        if mount is not None:
            mount(app, project)
    install_error_handlers(app)
    app.add_middleware(AuthMiddleware, store=store)
    return app
