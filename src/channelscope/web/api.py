"""The REST API under /api: KPIs, targets, decomposition, alerts, ingestion, exports, users and login.

Thin over ``web.service`` (where scope is enforced). Every JSON answer states the applied scope; money is
a number in the unit the ``units`` map names (the project's base currency); lists are paginated.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from channelscope.web import service
from channelscope.web.auth import AuthStore, LoginLimiter, User, request_user
from channelscope.web.kpi_context import data_freshness, kpi_context, metric_basis


def _known_query_params(request: Request) -> None:
    """An unknown query parameter is a 400 naming it and the allowed ones, never silently ignored:
    ``?channel=jd`` (instead of ``?filter=channel=jd``) would otherwise answer for every channel."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None:
        return
    allowed: set[str] = set()
    todo = [dependant]
    while todo:  # the route's own query parameters and those of its dependencies
        d = todo.pop()
        allowed |= {p.alias for p in d.query_params}
        todo += d.dependencies
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            raise service.ParamError(key, f"unknown query parameter '{key}'", sorted(allowed))
        if "\x00" in value:  # no name, code or date holds a NUL; the SQL engines reject it mid-statement
            raise service.ParamError(key, f"parameter '{key}' contains a NUL character", "text without NUL")
    for key, value in request.path_params.items():
        if "\x00" in str(value):
            raise service.ParamError(key, f"'{key}' contains a NUL character", "text without NUL")


router = APIRouter(dependencies=[Depends(_known_query_params)])
SESSION_COOKIE = "cs_session"
CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads; it sends the value back as X-CSRFToken

Metric = Annotated[list[str], Query(description="metric name (repeat); see /api/metrics")]
By = Annotated[list[str], Query(description="dimension (repeat): channel, distributor, platform...")]
Filter = Annotated[list[str], Query(alias="filter", description="dimension=value[,value] (repeat)")]
Limit = Annotated[int, Query(ge=1, le=10_000, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="rows to skip")]


def _project(request: Request) -> Any:
    return request.app.state.project


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN as null, dates as ISO text."""
    return json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False)) if len(df) else []


def envelope(user: User, df: pd.DataFrame, *, limit: int | None = None, offset: int = 0, **extra: Any) -> dict:
    total = len(df)
    page = df.iloc[offset : offset + limit] if limit is not None else df
    out: dict[str, Any] = {"scope": user.scope(), **extra, "columns": [str(c) for c in df.columns]}
    out["rows"] = records(page)
    out["page"] = {"limit": limit, "offset": offset, "total": total}
    return out


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise service.ParamError("filter", f"filter '{item}' is not dimension=value[,value]", "dimension=value")
        k, v = item.split("=", 1)
        out.setdefault(k.strip(), []).extend(x.strip() for x in v.split(",") if x.strip())
    return out


def parse_date(value: str | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise service.ParamError(name, f"{name} '{value}' is not a date", "YYYY-MM-DD") from None


# ---- session ---------------------------------------------------------------------------------------


class LoginBody(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


@router.post("/auth/login", tags=["auth"], summary="Log in (form from /login, or JSON); sets the session cookie")
async def login(request: Request) -> Response:
    store: AuthStore = request.app.state.store
    limiter: LoginLimiter = request.app.state.limiter
    is_form = request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    )
    if is_form:
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        nxt = _safe_next(str(form.get("next", "/")))
        sent, cookie = str(form.get("csrf", "")), request.cookies.get(CSRF_COOKIE, "")
        if not sent or not cookie or not secrets.compare_digest(sent, cookie):
            where = request.client.host if request.client else "-"
            reason = "login form without its CSRF token"
            await run_in_threadpool(store.log_access, username, "POST", "/api/auth/login", 403, "denied", reason, where)
            return JSONResponse({"error": {"message": "login form expired; reload /login"}}, status_code=403)
    else:
        # JSON only with its content type: a cross-site form may post a JSON-looking body as text/plain without
        # a CORS preflight, which would log the victim's browser into the sender's account (login CSRF)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return JSONResponse(
                {"error": {"parameter": "content-type", "message": "send JSON (application/json) or the /login form"}},
                status_code=415,
            )
        try:
            body = LoginBody.model_validate(await request.json())
        except Exception:
            return JSONResponse(
                {"error": {"parameter": "body", "message": "expected JSON {username, password}"}}, status_code=400
            )
        username, password, nxt = body.username, body.password, "/"
    client = request.client.host if request.client else "-"
    wait = limiter.attempt(username, client)  # checks and counts in one step: parallel guesses cannot pass
    if wait:
        await run_in_threadpool(store.log_access, username, "POST", "/api/auth/login", 429, "rate_limited", "", client)
        return JSONResponse(
            {"error": {"message": f"too many failed logins; try again in {wait} s"}},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    user = await run_in_threadpool(store.authenticate, username, password)
    if user is None:
        await run_in_threadpool(
            store.log_access, username, "POST", "/api/auth/login", 401, "login_failed", "bad credentials", client
        )
        if is_form:
            return RedirectResponse(f"/login?error=1&next={quote(nxt)}", status_code=303)
        return JSONResponse({"error": {"message": "wrong user name or password"}}, status_code=401)
    limiter.succeeded(username, client)
    sid, csrf = await run_in_threadpool(store.create_session, user)
    await run_in_threadpool(store.log_access, username, "POST", "/api/auth/login", 200, "login", "", client)
    resp: Response
    if is_form:
        resp = RedirectResponse(nxt, status_code=303)
    else:
        resp = JSONResponse({"user": _user_json(user), "csrf_token": csrf, "scope": user.scope()})
    set_session_cookies(resp, request, sid, csrf)
    return resp


def set_session_cookies(resp: Response, request: Request, sid: str, csrf: str) -> None:
    """Session id HttpOnly (scripts cannot read it), both SameSite=Lax, Secure over HTTPS."""
    secure = request.url.scheme == "https"
    from channelscope.web.auth import SESSION_HOURS

    age = SESSION_HOURS * 3600
    resp.set_cookie(SESSION_COOKIE, sid, max_age=age, httponly=True, samesite="lax", secure=secure, path="/")
    resp.set_cookie(CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="lax", secure=secure, path="/")


def _safe_next(nxt: str) -> str:
    """Only a local path: never an open redirect to another site."""
    return nxt if nxt.startswith("/") and not nxt.startswith(("//", "/\\")) else "/"


@router.post("/auth/logout", tags=["auth"], summary="End the browser session")
def logout(request: Request) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        request.app.state.store.end_session(sid)
    resp = JSONResponse({"ok": True, "scope": request_user().scope()})
    resp.delete_cookie(SESSION_COOKIE, path="/")
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


def _user_json(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "channels": list(user.channels),
        "distributors": list(user.distributors),
        "lang": user.lang,
    }


@router.get("/auth/me", tags=["auth"], summary="The logged-in user and their scope")
def me() -> dict[str, Any]:
    user = request_user()
    return {"user": _user_json(user), "scope": user.scope()}


# ---- KPIs ------------------------------------------------------------------------------------------


@router.get("/metrics", tags=["kpis"], summary="Every metric: name, labels, unit")
def metrics(request: Request) -> dict[str, Any]:
    user = request_user()
    p = _project(request)
    service.require(p, user, "read")
    basis = metric_basis(p, list(p.catalog.metrics))
    rows = [
        {
            "name": m.name,
            "label_zh": m.label_zh,
            "label_en": m.label_en,
            "unit": m.unit,
            "up_is_good": m.up_is_good,
            "basis_zh": basis[m.name]["zh-CN"],
            "basis_en": basis[m.name]["en"],
            "basis": basis[m.name]["fields"],
        }
        for m in p.catalog.metrics.values()
    ]
    return {"scope": user.scope(), "currency": p.config.project.base_currency, "rows": rows}


def _kpis(
    request: Request,
    metric: list[str],
    by: list[str],
    grain: str,
    start: str | None,
    end: str | None,
    filters: list[str],
    compare: str | None,
    to_date: str | None,
) -> tuple[User, pd.DataFrame]:
    user = request_user()
    df = service.kpi_table(
        _project(request),
        user,
        metrics=list(dict.fromkeys(metric)),  # metric=gmv&metric=gmv asks for one column, not two
        by=list(dict.fromkeys(by)),
        grain=grain,
        start=parse_date(start, "start"),
        end=parse_date(end, "end"),
        filters=parse_filters(filters),
        compare=compare,
        to_date=to_date,
    )
    return user, df


@router.get("/kpis", tags=["kpis"], summary="KPIs by dimensions and grain, with comparisons (paginated)")
def kpis(
    request: Request,
    metric: Metric,
    by: By = [],  # noqa: B006 - FastAPI copies defaults
    grain: Annotated[str, Query(description="day, week, month, quarter, year or total")] = "total",
    start: Annotated[str | None, Query(description="first business date YYYY-MM-DD")] = None,
    end: Annotated[str | None, Query(description="last business date YYYY-MM-DD")] = None,
    filters: Filter = [],  # noqa: B006
    compare: Annotated[str | None, Query(description="previous, yoy or wow")] = None,
    to_date: Annotated[str | None, Query(description="mtd, qtd, ytd or wtd (up to end)")] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    user, df = _kpis(request, metric, by, grain, start, end, filters, compare, to_date)
    units = service.metric_units(_project(request), metric)
    context = kpi_context(
        _project(request),
        user,
        metrics=metric,
        start=parse_date(start, "start"),
        end=parse_date(end, "end"),
        filters=parse_filters(filters),
    )
    return envelope(user, df, limit=limit, offset=offset, units=units, **context)


@router.get("/kpis/export", tags=["exports"], summary="A KPI table as CSV or Excel (formula injection neutralized)")
def kpis_export(
    request: Request,
    metric: Metric,
    by: By = [],  # noqa: B006
    grain: str = "total",
    start: str | None = None,
    end: str | None = None,
    filters: Filter = [],  # noqa: B006
    compare: str | None = None,
    to_date: str | None = None,
    format: Annotated[str, Query(description="csv or xlsx")] = "csv",
) -> Response:
    user = request_user()
    service.require(_project(request), user, "export")
    if format not in service.EXPORT_FORMATS:
        raise service.ParamError("format", f"unknown export format '{format}'", list(service.EXPORT_FORMATS))
    user, df = _kpis(request, metric, by, grain, start, end, filters, compare, to_date)
    body = service.export_bytes(_project(request), user, df, format)
    media = (
        "text/csv; charset=utf-8"
        if format == "csv"
        else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="kpis.{format}"',
            "X-Channelscope-Scope": json.dumps(user.scope()),
            # the basis (口径) of each exported metric, JSON with non-ASCII escaped (HTTP headers are ASCII)
            "X-Channelscope-Basis": json.dumps(
                {k: {"zh-CN": v["zh-CN"], "en": v["en"]} for k, v in metric_basis(_project(request), metric).items()}
            ),
        },
    )


@router.get("/targets", tags=["kpis"], summary="Targets: attainment, pacing, gap and run-rate projection")
def targets(request: Request, as_of: str | None = None) -> dict[str, Any]:
    user = request_user()
    df = service.targets_table(_project(request), user, as_of=parse_date(as_of, "as_of"))
    # target, actual, expected_to_date, gap and projection are in the unit of the row's metric
    units = service.metric_units(_project(request), sorted(set(df["metric"])) if len(df) else [])
    return envelope(user, df, units=units)


@router.get("/explain", tags=["kpis"], summary="Why GMV changed: visitors x conversion x AOV per member (LMDI)")
def explain(
    request: Request,
    period: Annotated[str, Query(description="2025-06-18, 2025-W23, 2025-06, 2025-Q2, 2025 or START..END")],
    vs: str = "previous",
    metric: str = "gmv",
    by: str = "channel",
    lang: Annotated[str | None, Query(description="zh-CN or en (default: both)")] = None,
) -> dict[str, Any]:
    user = request_user()
    if lang is not None and lang not in ("zh-CN", "en"):
        raise service.ParamError("lang", f"unknown language '{lang}'", ["zh-CN", "en"])
    out = service.explain_change(_project(request), user, period=period, vs=vs, metric=metric, by=by, lang=lang)
    out["by_member"] = records(out["by_member"])
    return {"scope": user.scope(), "currency": _project(request).config.project.base_currency, **out}


@router.get("/funnel", tags=["kpis"], summary="Impressions -> visitors -> cart -> orders -> paid orders")
def funnel(request: Request, start: str | None = None, end: str | None = None, filters: Filter = []) -> dict[str, Any]:  # noqa: B006
    user = request_user()
    df = service.funnel(
        _project(request),
        user,
        start=parse_date(start, "start"),
        end=parse_date(end, "end"),
        filters=parse_filters(filters),
    )
    return envelope(user, df)


@router.get("/distributors", tags=["kpis"], summary="Per distributor: GMV, orders, buyers, AOV, refund rate")
def distributors(
    request: Request,
    start: str | None = None,
    end: str | None = None,
    filters: Filter = [],  # noqa: B006
    limit: Limit = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    user = request_user()
    df = service.distributor_board(
        _project(request),
        user,
        start=parse_date(start, "start"),
        end=parse_date(end, "end"),
        filters=parse_filters(filters),
    )
    units = service.metric_units(_project(request), ["gmv", "paid_orders", "buyers", "aov", "refund_rate"])
    return envelope(user, df, limit=limit, offset=offset, units=units)


# ---- alerts ----------------------------------------------------------------------------------------


@router.get("/alerts", tags=["alerts"], summary="Alerts, newest first (paginated)")
def alerts(
    request: Request, status: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 50, offset: Offset = 0
) -> dict[str, Any]:
    user = request_user()
    df = service.alerts_table(_project(request), user, status=status, limit=limit, offset=offset)
    out = envelope(user, df)
    out["page"] = {"limit": limit, "offset": offset, "returned": len(df)}
    return out


def _table_file(request: Request, user: User, df: pd.DataFrame, fmt: str, name: str) -> Response:
    """A dashboard table as CSV or Excel (``service.export_bytes``: export permission, formula injection)."""
    if fmt not in service.EXPORT_FORMATS:
        raise service.ParamError("format", f"unknown export format '{fmt}'", list(service.EXPORT_FORMATS))
    body = service.export_bytes(_project(request), user, df, fmt)
    media = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "X-Channelscope-Scope": json.dumps(user.scope()),
        },
    )


def _channel_namer(request: Request) -> Any:
    names = {c.id: c.name or c.id for c in _project(request).config.channels}
    return lambda ch: names.get(ch, str(ch))


@router.get("/alerts/export", tags=["exports"], summary="The alerts inbox as CSV or Excel, as the dashboard shows it")
def alerts_export(
    request: Request,
    status: str | None = None,
    lang: Annotated[str, Query(description="zh-CN or en: headers and titles")] = "zh-CN",
    sort: Annotated[str, Query(description="a shown column, '-' first for descending")] = "",
    format: Annotated[str, Query(description="csv or xlsx")] = "csv",
) -> Response:
    from channelscope.web import table_exports as X

    user = request_user()
    service.require(_project(request), user, "export")
    lang = "en" if lang == "en" else "zh-CN"
    df = service.alerts_table(_project(request), user, status=status, limit=1000, lang=lang)
    rows = X.sort_frame(X.alert_rows(df, lang, _channel_namer(request)), sort, list(X.ALERT_COLUMNS))
    tz = _project(request).config.project.timezone
    return _table_file(request, user, X.shown(rows, X.ALERT_COLUMNS, lang, tz), format, "alerts")


@router.post("/alerts/{alert_id}/acknowledge", tags=["alerts"], summary="Acknowledge an alert")
def acknowledge(request: Request, alert_id: str) -> dict[str, Any]:
    user = request_user()
    service.set_alert_status(_project(request), user, alert_id, "acknowledged")
    return {"scope": user.scope(), "id": alert_id, "status": "acknowledged"}


@router.post("/alerts/{alert_id}/resolve", tags=["alerts"], summary="Resolve an alert")
def resolve(request: Request, alert_id: str) -> dict[str, Any]:
    user = request_user()
    service.set_alert_status(_project(request), user, alert_id, "resolved")
    return {"scope": user.scope(), "id": alert_id, "status": "resolved"}


# ---- ingestion -------------------------------------------------------------------------------------


@router.get("/ingestion/status", tags=["ingestion"], summary="Batch ledger, freshness, quarantine by reason")
def ingestion_status(request: Request) -> dict[str, Any]:
    user = request_user()
    st = service.data_health(_project(request), user)
    return {
        "scope": user.scope(),
        "ledger": records(st["ledger"]),
        "counts": st["counts"],
        "freshness": json.loads(json.dumps(st["freshness"], default=str)),
        "data_freshness": data_freshness(_project(request), user),
        "quarantine_by_reason": records(st["quarantine_by_reason"]),
        # each quarantined row once per source: a row with several reasons counts under each reason above
        "quarantine_rows": records(st["quarantine_rows"]),
    }


@router.get("/ingestion/ledger/export", tags=["exports"], summary="The batch ledger as CSV or Excel, as shown")
def ledger_export(
    request: Request,
    lang: Annotated[str, Query(description="zh-CN or en: headers")] = "zh-CN",
    sort: Annotated[str, Query(description="a shown column, '-' first for descending")] = "",
    format: Annotated[str, Query(description="csv or xlsx")] = "csv",
) -> Response:
    from channelscope.web import table_exports as X

    user = request_user()
    service.require(_project(request), user, "export")
    ledger = service.data_health(_project(request), user)["ledger"]
    ledger = ledger if isinstance(ledger, pd.DataFrame) else pd.DataFrame(ledger)
    rows = X.sort_frame(ledger.head(30).reset_index(drop=True), sort, list(X.LEDGER_COLUMNS))  # the rows shown
    lang = "en" if lang == "en" else "zh-CN"
    tz = _project(request).config.project.timezone
    return _table_file(request, user, X.shown(rows, X.LEDGER_COLUMNS, lang, tz), format, "ledger")


@router.get("/ingestion/quarantine", tags=["ingestion"], summary="Quarantined rows with reasons (paginated)")
def quarantine(
    request: Request,
    source: str | None = None,
    batch: str | None = None,
    reason: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    user = request_user()
    df = service.quarantine_rows(
        _project(request), user, source=source, batch=batch, reason=reason, limit=limit, offset=offset
    )
    out = envelope(user, df)
    out["page"] = {"limit": limit, "offset": offset, "returned": len(df)}
    return out


# ---- users (admin) ---------------------------------------------------------------------------------


class NewUser(BaseModel):
    username: str = Field(max_length=64)
    role: str
    password: str = Field(min_length=8, max_length=1024)
    channels: list[str] = []
    distributors: list[str] = []
    lang: str = "zh-CN"


def _admin(request: Request) -> tuple[User, AuthStore]:
    user = request_user()
    service.require(_project(request), user, "users")
    return user, request.app.state.store


@router.get("/users", tags=["users"], summary="Users and their roles (admin)")
def users(request: Request) -> dict[str, Any]:
    user, store = _admin(request)
    return {"scope": user.scope(), "rows": json.loads(json.dumps(store.list_users(), default=str))}


@router.post("/users", tags=["users"], summary="Create or replace a user (admin)", status_code=201)
def add_user(request: Request, body: Annotated[NewUser, Body()]) -> dict[str, Any]:
    user, store = _admin(request)
    made = store.add_user(
        body.username, body.role, body.password, channels=body.channels, distributors=body.distributors, lang=body.lang
    )
    return {"scope": user.scope(), "user": _user_json(made)}


@router.post("/users/{username}/disable", tags=["users"], summary="Disable a user: sessions and tokens end (admin)")
def disable_user(request: Request, username: str) -> dict[str, Any]:
    user, store = _admin(request)
    store.disable_user(username)
    return {"scope": user.scope(), "username": username, "disabled": True}


@router.post("/users/{username}/tokens", tags=["users"], summary="A new API token, shown once (admin)")
def new_token(request: Request, username: str, label: str | None = None) -> dict[str, Any]:
    user, store = _admin(request)
    return {"scope": user.scope(), "username": username, "token": store.create_token(username, label)}


@router.get("/access_log", tags=["users"], summary="Denials, logins and failed logins, newest first (admin)")
def access_log(
    request: Request,
    decision: Annotated[
        str | None, Query(description="denied, unauthenticated, login, login_failed or rate_limited")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    user, store = _admin(request)
    rows = store.access_log(decision=decision, limit=limit)
    return {"scope": user.scope(), "rows": json.loads(json.dumps(rows, default=str))}
