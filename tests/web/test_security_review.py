"""A security review of the web app, attacking it the way a signed-in channel manager, a viewer or another
site could: Dash's /_dash-* endpoints called directly with forged inputs, the filter choices of the page
frame, login from a cross-site form, and many failed logins sent at once to a real uvicorn server."""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import _free_port
from tests.web.test_api import PASSWORD, add_alerts, make_shop

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

#: user -> (role, channels, distributors)
USERS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "admin": ("admin", (), ()),
    "viewer": ("viewer", (), ()),
    "tm": ("channel_manager", ("tmall",), ()),
    "resellers": ("channel_manager", (), ("wx-r01", "wx-r01-01")),
}


@pytest.fixture(scope="module")
def app(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from channelscope.web.app import create_app

    folder = make_shop(demo_shop, tmp_path_factory.mktemp("secrev") / "shop")
    web = create_app(folder, scheduler=False, events=False)
    for name, (role, channels, distributors) in USERS.items():
        web.state.store.add_user(name, role, PASSWORD, channels=channels, distributors=distributors)
    add_alerts(web.state.project)
    with TestClient(web):
        yield web


def session(app: Any, user: str) -> TestClient:
    """A browser-like client: logged in with the session cookie, sending the CSRF token as Dash does."""
    c = TestClient(app)
    r = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRFToken"] = r.json()["csrf_token"]
    return c


def sql(app: Any, query: str) -> list[tuple]:
    rows: list[tuple] = app.state.project.warehouse.execute(query)
    return rows


def render_body(pathname: str, search: str) -> dict[str, Any]:
    """The request Dash's renderer sends to draw a page (the shell's render callback), written by hand."""
    from channelscope.web.dashboard.shell import RENDER_OUTPUTS

    outs = list(RENDER_OUTPUTS)
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outs],
        "inputs": [
            {"id": "url", "property": "pathname", "value": pathname},
            {"id": "url", "property": "search", "value": search},
            {"id": "refresh", "property": "data", "value": 0},
        ],
        "changedPropIds": ["url.search"],
        "state": [],
    }


def ack_body(alert_id: str) -> dict[str, Any]:
    """The request the alerts inbox sends when 'acknowledge' is clicked, for any alert id the caller likes."""
    button = {"id": alert_id, "to": "acknowledged", "type": "alert-act"}
    return {
        "output": "refresh.data",
        "outputs": {"id": "refresh", "property": "data"},
        "inputs": [[{"id": button, "property": "n_clicks", "value": 1}]],
        "changedPropIds": [json.dumps(button, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
        "state": [{"id": "refresh", "property": "data", "value": 0}, {"id": "url", "property": "search", "value": ""}],
    }


def dropdowns(layout: Any) -> dict[str, list[str]]:
    """id -> option values of every dropdown in a Dash layout (JSON)."""
    found: dict[str, list[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("props", {})
            if node.get("type") == "Dropdown":
                found[props["id"]] = [o["value"] for o in props.get("options", [])]
            for v in props.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(layout)
    return found


# ---- the page frame's filter choices ------------------------------------------------------------------


def test_filter_choices_of_a_distributor_manager_stay_in_its_channels(app: Any) -> None:
    """A manager scoped to distributors only must not be offered the names of other channels, nor their
    campaigns: its channels are those of its distributors."""
    c = session(app, "resellers")
    options = dropdowns(c.get("/_dash-layout").json())
    mine = {
        r[0]
        for r in sql(
            app, "SELECT DISTINCT channel_id FROM distributors WHERE distributor_id IN ('wx-r01', 'wx-r01-01')"
        )
    }
    assert mine == {"wechat_resellers"}
    assert set(options["f-channel"]) == mine
    assert set(options["f-distributor"]) == {"wx-r01", "wx-r01-01"}
    campaign_channel = dict(sql(app, "SELECT campaign_id, channel_id FROM campaigns"))
    assert all(campaign_channel[cid] in mine for cid in options["f-campaign"]), options["f-campaign"]


def test_filter_choices_of_a_channel_manager_and_an_admin(app: Any) -> None:
    tm = dropdowns(session(app, "tm").get("/_dash-layout").json())
    assert tm["f-channel"] == ["tmall"]
    campaign_channel = dict(sql(app, "SELECT campaign_id, channel_id FROM campaigns"))
    assert tm["f-campaign"] and all(campaign_channel[cid] == "tmall" for cid in tm["f-campaign"])
    distributor_channel = dict(sql(app, "SELECT distributor_id, channel_id FROM distributors"))
    assert all(distributor_channel[d] == "tmall" for d in tm["f-distributor"])
    admin = dropdowns(session(app, "admin").get("/_dash-layout").json())
    assert set(admin["f-channel"]) == {r[0] for r in sql(app, "SELECT channel_id FROM channels")}
    assert set(admin["f-campaign"]) == set(campaign_channel)


# ---- Dash's callback endpoint called directly ------------------------------------------------------


def test_forged_render_callback_outside_the_scope_is_denied_and_logged(app: Any) -> None:
    tm = session(app, "tm")
    for path in ("/", "/trends", "/channels", "/distributors", "/funnel"):
        r = tm.post("/_dash-update-component", json=render_body(path, "?channel=jd&start=2025-11-01&end=2025-11-30"))
        assert r.status_code == 200, r.text  # the page shows the refusal ...
        page = json.dumps(r.json()["response"]["page"], ensure_ascii=False)
        assert "outside the scope" in page and "京东" not in page
    logged = sql(
        app,
        "SELECT count(*) FROM access_log WHERE username = 'tm' AND decision = 'denied' "
        "AND path = '/_dash-update-component' AND reason LIKE '%channel=jd%'",
    )
    assert logged[0][0] >= 5  # ... and the access log has every denial


def test_forged_render_callback_shows_only_the_scope(app: Any) -> None:
    """Every page, with dimensions chosen in the URL, names no other channel (by id or name)."""
    tm = session(app, "tm")
    other = [x for r in sql(app, "SELECT channel_id, name FROM channels WHERE channel_id <> 'tmall'") for x in r if x]
    for path in ("/", "/trends", "/channels", "/distributors", "/funnel", "/alerts", "/health"):
        for search in ("?start=2025-11-01&end=2025-11-30", "?start=2025-11-01&end=2025-11-30&by=platform"):
            r = tm.post("/_dash-update-component", json=render_body(path, search))
            assert r.status_code == 200, r.text
            page = json.dumps(r.json()["response"]["page"], ensure_ascii=False)
            leaked = [o for o in other if f'"{o}"' in page or f">{o}<" in page or f" {o} " in page]
            assert not leaked, (path, search, leaked)


def test_forged_alert_acknowledge_by_viewer_and_outside_scope(app: Any) -> None:
    alerts = dict(sql(app, "SELECT channel_id, alert_id FROM alerts WHERE channel_id IS NOT NULL"))
    viewer, tm = session(app, "viewer"), session(app, "tm")
    r = viewer.post("/_dash-update-component", json=ack_body(alerts["tmall"]))
    assert r.status_code == 403 and "viewer" in r.text
    r = tm.post("/_dash-update-component", json=ack_body(alerts["jd"]))
    assert r.status_code == 403 and "outside the scope" in r.text
    r = viewer.post(f"/api/alerts/{alerts['tmall']}/acknowledge")
    assert r.status_code == 403
    status = dict(sql(app, "SELECT channel_id, status FROM alerts WHERE channel_id IN ('tmall', 'jd')"))
    assert status == {"tmall": "open", "jd": "open"}


def test_dash_endpoints_need_a_login_and_a_csrf_token(app: Any) -> None:
    anon = TestClient(app)
    for path in ("/_dash-layout", "/_dash-dependencies", "/_reload-hash", "/assets/dashboard.css", "/docs"):
        assert anon.get(path).status_code == 401, path
    r = anon.get("/trends?channel=jd", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert anon.post("/_dash-update-component", json=render_body("/", "")).status_code == 401
    tm = session(app, "tm")
    forged = TestClient(app)
    forged.cookies = tm.cookies  # the cookie alone (another site's form): no CSRF token
    assert forged.post("/_dash-update-component", json=render_body("/", "")).status_code == 403
    forged.headers["X-CSRFToken"] = "guess"
    assert forged.post("/_dash-update-component", json=render_body("/", "")).status_code == 403


def test_broken_callback_requests_give_no_stack_trace(app: Any) -> None:
    tm = session(app, "tm")
    for body in ({"output": "page.children", "outputs": [], "inputs": "x"}, {}):
        r = tm.post("/_dash-update-component", json=body)
        assert r.status_code >= 400 and "Traceback" not in r.text and 'File "' not in r.text
    r = tm.post("/_dash-update-component", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code >= 400 and "Traceback" not in r.text


def test_callback_requests_no_callback_takes_are_named_400s(app: Any) -> None:
    """A stale or forged callback request (an output list no callback has, inputs of another shape or type)
    is a 400 naming what is wrong, never Dash's bare 500."""
    tm = session(app, "tm")
    stale = render_body("/", "")
    stale["output"] = stale["output"].split("...f-dates.")[0] + ".."  # the render callback before its date words
    wrong_count = {**render_body("/", ""), "inputs": render_body("/", "")["inputs"][:2]}
    wrong_id = render_body("/", "")
    wrong_id["inputs"][0] = {"id": "page", "property": "pathname", "value": "/"}
    wrong_type = render_body("/", "")
    wrong_type["inputs"][1]["value"] = {"search": "?channel=jd"}
    for body, said in (
        (stale, "no callback has the output"),
        (wrong_count, "must list 3 values"),
        (wrong_id, "expected input url"),
        (wrong_type, "url.search cannot be dict"),
        ([1, 2], "JSON object"),
    ):
        r = tm.post("/_dash-update-component", json=body)
        assert r.status_code == 400 and said in r.json()["error"]["message"], (said, r.status_code, r.text)
    r = tm.post("/_dash-update-component", content=b"[" * 100_000, headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = tm.post("/_dash-update-component", content=b" " * 1_100_000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert tm.post("/_dash-update-component", json=render_body("/health", "")).status_code == 200


# ---- login -------------------------------------------------------------------------------------------


def test_login_from_a_cross_site_text_plain_form_is_refused(app: Any) -> None:
    """A cross-site form (enctype text/plain) can post a JSON-looking body without a CORS preflight; it must not
    log the browser in (login CSRF: the victim would work in the attacker's account)."""
    c = TestClient(app)
    body = json.dumps({"username": "viewer", "password": PASSWORD, "x": "="})
    r = c.post("/api/auth/login", content=body, headers={"content-type": "text/plain"})
    assert r.status_code in (400, 415), r.status_code
    assert "cs_session" not in r.headers.get("set-cookie", "")
    r = c.post("/api/auth/login", content=body, headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200


def test_login_form_without_its_csrf_token_is_refused_and_logged(app: Any) -> None:
    c = TestClient(app)
    form = {"username": "viewer", "password": PASSWORD, "csrf": "forged", "next": "/"}
    c.cookies.set("_csrf_token", "other")
    r = c.post("/api/auth/login", data=form, follow_redirects=False)
    assert r.status_code == 403 and "cs_session" not in r.headers.get("set-cookie", "")
    logged = sql(
        app,
        "SELECT count(*) FROM access_log WHERE username = 'viewer' AND decision = 'denied' "
        "AND path = '/api/auth/login' AND status = 403",
    )
    assert logged[0][0] >= 1


def test_login_form_next_is_never_another_site(app: Any) -> None:
    for nxt, expected in [
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("\\/evil.example", "/"),
        ("/trends?channel=tmall", "/trends?channel=tmall"),
    ]:
        c = TestClient(app)
        c.get("/login")
        form = {"username": "viewer", "password": PASSWORD, "csrf": c.cookies["_csrf_token"], "next": nxt}
        r = c.post("/api/auth/login", data=form, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == expected, (nxt, r.headers.get("location"))


def test_failed_logins_sent_at_once_are_limited(app: Any) -> None:
    """Many wrong passwords sent concurrently to a real server: only the allowed number is checked, the rest get
    429 (checking the limit and counting the attempt must be one step, or every parallel request passes)."""
    import uvicorn

    from channelscope.web.auth import LoginLimiter

    old = app.state.limiter
    app.state.limiter = LoginLimiter(per_user=3, per_client=1000, window_s=300)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started

        def attempt(i: int) -> int:
            with httpx.Client(timeout=120) as c:
                r = c.post(
                    f"http://127.0.0.1:{port}/api/auth/login", json={"username": "tm", "password": f"wrong-{i}-pass"}
                )
                return r.status_code

        with ThreadPoolExecutor(10) as pool:
            codes = Counter(pool.map(attempt, range(10)))
        assert codes[401] == 3 and codes[429] == 7, codes
        with httpx.Client(timeout=120) as c:  # the right password is refused too until the window passes
            r = c.post(f"http://127.0.0.1:{port}/api/auth/login", json={"username": "tm", "password": PASSWORD})
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    finally:
        server.should_exit = True
        thread.join(30)
        app.state.limiter = old


def test_login_limiter_attempt_is_counted_before_the_check() -> None:
    from channelscope.web.auth import LoginLimiter

    lim = LoginLimiter(per_user=2, per_client=3, window_s=60)
    assert lim.attempt("li", "1.2.3.4") == 0
    assert lim.attempt("li", "1.2.3.4") == 0
    assert lim.attempt("li", "1.2.3.4") > 0  # the third is refused before any password is checked
    lim.succeeded("li", "1.2.3.4")  # a success forgets the user's attempts and gives the address one back
    assert lim.attempt("li", "1.2.3.4") == 0
    assert lim.attempt("wang", "1.2.3.4") == 0  # the refused try was not counted: this is the third
    assert lim.attempt("zhao", "1.2.3.4") > 0  # the address has used its three
