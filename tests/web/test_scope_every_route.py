"""The scope matrix over EVERY route and every Dash callback, found by walking the app (issue 12).

Each route the app serves, and each callback the dashboard registers, must have a rule in ``ROUTES`` or
``CALLBACKS`` below; a route added later without one fails ``test_every_route_and_callback_has_a_scope_rule``.
Then, for every user of the scope matrix (admin, analyst, viewer, channel manager, two channels, distributor
manager, channel + distributor), every route is called: no answer is a 500, an anonymous caller gets a 401 (or
the login page), a role rule is a 403, and no answer to a scoped user names a channel or distributor outside its
scope (by id or by name). Totals per scope are checked against SQL in ``test_scope_matrix.py``."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.test_api import PASSWORD, add_alerts, make_shop
from tests.web.test_scope_matrix import USERS

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

#: what a route may do: public (no login), self (the caller's own session), admin (admins only), read (rows,
#: filtered to the scope, or a 403 for a scope it cannot filter), alert (changes one alert: role and scope),
#: record (reads or changes one case, report or action by id: role and scope), write (creates a record: role),
#: frame (the dashboard's machinery: signed-in, names only the scope's members), callback (see CALLBACKS)
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "frame",
    ("GET", "/docs"): "frame",
    ("GET", "/docs/oauth2-redirect"): "frame",
    ("POST", "/api/auth/login"): "public",
    ("POST", "/api/auth/logout"): "self",
    ("GET", "/api/auth/me"): "self",
    ("GET", "/api/metrics"): "read",
    ("GET", "/api/kpis"): "read",
    ("GET", "/api/kpis/export"): "read",
    ("GET", "/api/targets"): "read",
    ("GET", "/api/explain"): "read",
    ("GET", "/api/funnel"): "read",
    ("GET", "/api/distributors"): "read",
    ("GET", "/api/alerts"): "read",
    ("POST", "/api/alerts/{alert_id}/acknowledge"): "alert",
    ("POST", "/api/alerts/{alert_id}/resolve"): "alert",
    ("GET", "/api/ingestion/status"): "read",
    ("GET", "/api/ingestion/quarantine"): "read",
    ("GET", "/api/users"): "admin",
    ("POST", "/api/users"): "admin",
    ("POST", "/api/users/{username}/disable"): "admin",
    ("POST", "/api/users/{username}/tokens"): "admin",
    ("GET", "/api/access_log"): "admin",
    ("GET", "/api/forecasts"): "read",
    ("GET", "/api/forecasts/accuracy"): "read",
    ("GET", "/api/forecasts/targets"): "read",
    ("GET", "/api/forecasts/history"): "read",
    ("GET", "/api/plan/inventory"): "read",
    ("GET", "/api/customers/cohorts"): "read",
    ("GET", "/api/customers/repurchase"): "read",
    ("GET", "/api/customers/rfm"): "read",
    ("GET", "/api/customers/migration"): "read",
    ("GET", "/api/customers/export"): "read",
    ("GET", "/api/customers/clv"): "read",
    ("GET", "/api/customers/cross-channel"): "read",
    ("GET", "/api/customers/funnel"): "read",
    ("GET", "/api/customers/paths"): "read",
    ("GET", "/api/marketing/roi"): "read",
    ("GET", "/api/marketing/attribution"): "read",
    ("GET", "/api/marketing/mmm"): "read",
    ("GET", "/api/marketing/uplift"): "read",
    ("GET", "/api/marketing/allocation"): "read",
    ("GET", "/api/alerts/export"): "read",
    ("GET", "/api/ingestion/ledger/export"): "read",
    **{("GET", f"/api/compliance/{p}"): "read" for p in ("violations", "violation-lines", "regions", "commissions")},
    ("GET", "/api/compliance/score"): "read",
    ("GET", "/api/compliance/cases"): "read",
    ("GET", "/api/compliance/cases/{case_id}/evidence.{fmt}"): "record",
    ("POST", "/api/compliance/cases/{case_id}/status"): "record",
    **{("GET", f"/api/network/{p}"): "read" for p in ("tree", "activity", "live-hosts", "live-sessions")},
    ("GET", "/api/reports"): "read",
    ("GET", "/api/reports/{report_id}/{fmt}"): "record",
    ("GET", "/api/actions"): "read",
    ("POST", "/api/actions"): "write",
    ("POST", "/api/actions/{action_id}"): "record",
    ("POST", "/api/actions/{action_id}/check"): "record",
    ("GET", "/login"): "public",
    ("GET", "/login.css"): "public",
    ("POST", "/events/orders"): "public",  # signed with the source's HMAC key, not a login
    ("POST", "/events/shopify/orders"): "public",
    ("GET", "/assets"): "frame",
    ("GET", "/_dash-component-suites/{package_name}/{fingerprinted_path:path}"): "frame",
    ("GET", "/_dash-layout"): "frame",
    ("GET", "/_dash-dependencies"): "frame",
    ("POST", "/_dash-update-component"): "callback",
    ("GET", "/_reload-hash"): "frame",
    ("GET", "/_favicon.ico"): "frame",
    ("WS", "/_dash-ws-callback"): "frame",
    **{("GET", p): "frame" for p in ("/", "/trends", "/channels", "/distributors", "/funnel", "/forecast")},
    **{("GET", p): "frame" for p in ("/customers", "/marketing", "/alerts", "/health", "/reports", "/actions")},
}
#: every Dash callback, by the first component property it writes: page (renders data), url (only rewrites the
#: address), alert (changes an alert: role and scope, like the API)
CALLBACKS: dict[str, str] = {
    "page.children": "page",
    "url.search": "url",
    "url.pathname": "url",
    "refresh.data": "alert",
}
SCOPED = [u for u, (role, _, _) in USERS.items() if role == "channel_manager"]
NOV = {"start": "2025-11-01", "end": "2025-11-30"}
VALUES = {"start": "2025-11-01", "end": "2025-11-30", "period": "2025-11", "as_of": "2025-11-30", "metric": "gmv"}


@pytest.fixture(scope="module")
def client(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The whole app (API, dashboard, live events) with the scope matrix's users, a token each."""
    from channelscope.web.app import create_app

    app = create_app(make_shop(demo_shop, tmp_path_factory.mktemp("every") / "shop"), scheduler=False)
    store = app.state.store
    for name, (role, channels, distributors) in USERS.items():
        store.add_user(name, role, PASSWORD, channels=channels, distributors=distributors)
    add_alerts(app.state.project)
    with TestClient(app) as c:
        c.tokens = {name: store.create_token(name) for name in USERS}  # type: ignore[attr-defined]
        yield c


def h(client: TestClient, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens[user]}"}  # type: ignore[attr-defined]


def routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, walking included routers and mounts."""
    found: set[tuple[str, str]] = set()

    def walk(items: list[Any], prefix: str) -> None:
        for r in items:
            if type(r).__name__ == "_IncludedRouter":
                walk(r.original_router.routes, prefix + (r.include_context.prefix or ""))
            elif type(r).__name__ in ("APIWebSocketRoute", "WebSocketRoute"):
                found.add(("WS", prefix + r.path))
            elif type(r).__name__ == "Mount":
                found.add(("GET", prefix + r.path))
            else:
                for m in sorted((getattr(r, "methods", None) or {"GET"}) - {"HEAD"}):
                    found.add((m, prefix + r.path))

    walk(app.routes, "")
    return found


def outside_names(client: TestClient, user: str) -> list[str]:
    """Ids and names of the channels and distributors outside ``user``'s scope."""
    _, channels, distributors = USERS[user]
    wh = client.app.state.project.warehouse  # type: ignore[attr-defined]
    chans = wh.execute("SELECT channel_id, name FROM channels")
    dists = wh.execute("SELECT distributor_id, name, channel_id FROM distributors")
    mine_ch = set(channels) or {ch for d, _, ch in dists if d in distributors}
    out = [x for c, name in chans if c not in mine_ch for x in (c, name) if x]
    for d, name, ch in dists:
        if (distributors and d not in distributors) or (channels and ch not in channels):
            out += [x for x in (d, name) if x]
    return out


def subtree_names(client: TestClient, user: str) -> set[str]:
    """Ids and names of the distributors below ``user``'s own (their children, grandchildren...)."""
    from channelscope.web.compliance_api import subtree

    _, _, distributors = USERS[user]
    if not distributors:
        return set()
    project = client.app.state.project  # type: ignore[attr-defined]
    below = set(subtree(project, list(distributors))) - set(distributors)
    rows = project.warehouse.execute("SELECT distributor_id, name FROM distributors")
    return {x for d, name in rows if d in below for x in (d, name) if x}


def leaks(text: str, names: list[str]) -> list[str]:
    """Names that appear in ``text`` as a whole value (JSON string, CSV cell, HTML text)."""
    marks = ('"{}"', ">{}<", ",{},", ",{}\n", "\n{},", " {} ", "：{}。", "、{}")
    return [n for n in names if any(m.format(n) in text for m in marks)]


def test_every_route_and_callback_has_a_scope_rule(client: TestClient) -> None:
    served = routes(client.app)
    missing = sorted(served - set(ROUTES))
    assert not missing, f"routes without a scope rule in ROUTES (add one and a check): {missing}"
    assert not sorted(set(ROUTES) - served), "rules for routes the app no longer serves"
    dash = client.app.state.dashboard  # type: ignore[attr-defined]
    firsts = {key.strip(".").split("...")[0].split("@")[0] for key in dash.callback_map}
    assert not sorted(firsts - set(CALLBACKS)), f"callbacks without a rule in CALLBACKS: {sorted(firsts)}"


def _call(client: TestClient, method: str, path: str, user: str | None) -> Any:
    headers = h(client, user) if user else {}
    if path.startswith("/api/") and method == "GET":
        params = client.app.openapi()["paths"][path]["get"].get("parameters", [])  # type: ignore[attr-defined]
        values = {p["name"]: VALUES[p["name"]] for p in params if p["name"] in VALUES}
        return client.get(path, params=values, headers=headers)
    concrete = path.replace("{package_name}", "dash").replace("{fingerprinted_path:path}", "dash.js")
    concrete = concrete.replace("{alert_id}", "nope").replace("{username}", "nobody")
    for param in ("{case_id}", "{report_id}", "{action_id}"):
        concrete = concrete.replace(param, "nope")
    concrete = concrete.replace("{fmt}", "pdf")
    if method == "GET":
        return client.get(concrete, headers={**headers, "Accept": "application/json"}, follow_redirects=False)
    return client.post(concrete, json={}, headers=headers)


@pytest.mark.parametrize("user", [None, *USERS])
def test_every_route_for_every_user(client: TestClient, user: str | None) -> None:
    names = outside_names(client, user) if user in SCOPED else []
    role = USERS[user][0] if user else None
    for (method, path), rule in sorted(ROUTES.items()):
        if method == "WS" or rule == "callback":
            continue  # the websocket is switched off (callbacks go over HTTP); callbacks: the next test
        r = _call(client, method, path, user)
        where = (user, method, path, r.status_code, r.text[:300])
        assert r.status_code < 500, where
        if user is None:
            assert r.status_code in ((200, 204, 400, 401, 404, 422) if rule == "public" else (401,)), where
            continue
        if rule == "admin":  # (a body the route cannot read may be a 422 first: no data either way)
            assert r.status_code in ((200, 400, 404, 422) if role == "admin" else (403, 422)), where
        elif rule == "read" and role == "viewer" and path.endswith("export"):
            assert r.status_code == 403, where
        elif rule == "alert":
            assert r.status_code in (403, 404), where  # no such alert, or a role that may not change any
        elif rule == "record":  # no such record, a role that may not, or a body the route cannot read
            assert r.status_code in (403, 404, 422), where
        elif rule == "write":  # an empty body: a role that may not write is refused first
            assert r.status_code in ((403, 422) if role == "viewer" else (400, 403, 422)), where
        if names and r.status_code == 200:
            # the channel order views show a distributor manager their node and everything below it (issue 17)
            allowed = subtree_names(client, user) if path.startswith(("/api/compliance", "/api/network")) else set()
            found = [n for n in leaks(r.text, names) if n not in allowed]
            assert not found, (*where[:3], found)


def callback_bodies(client: TestClient) -> Iterator[tuple[str, dict[str, Any]]]:
    """A request for each registered callback, every page for the page renderer, with a URL naming no filter."""
    from tests.web.test_security_review import render_body

    from channelscope.web.dashboard.callback_guard import declared_outputs
    from channelscope.web.dashboard.shell import PAGES

    dash = client.app.state.dashboard  # type: ignore[attr-defined]
    for key, spec in dash.callback_map.items():
        first = key.strip(".").split("...")[0].split("@")[0]
        if first == "page.children":
            for path in PAGES:
                yield f"page {path}", render_body(path, "?start=2025-11-01&end=2025-11-30&by=platform")
            continue
        inputs = [_value_for(i) for i in spec["inputs"]]
        state = [_value_for(s) for s in spec.get("state", [])]
        outs = [{"id": i, "property": p} for i, p in declared_outputs(key)]
        yield (
            key,
            {
                "output": key,
                "outputs": outs if key.startswith("..") else outs[0],
                "inputs": inputs,
                "state": state,
                "changedPropIds": [],
            },
        )


def _value_for(spec: dict[str, Any]) -> Any:
    if spec["id"].startswith("{"):
        return []
    value = {"search": "?start=2025-11-01", "pathname": "/", "data": 0}.get(spec["property"])
    return {"id": spec["id"], "property": spec["property"], "value": value}


@pytest.mark.parametrize("user", list(USERS))
def test_every_callback_for_every_user(client: TestClient, user: str) -> None:
    names = outside_names(client, user) if user in SCOPED else []
    for what, body in callback_bodies(client):
        r = client.post("/_dash-update-component", json=body, headers=h(client, user))
        where = (user, what, r.status_code, r.text[:300])
        assert r.status_code in (200, 204, 403), where
        if names and r.status_code == 200:
            assert not leaks(r.text, names), (user, what, leaks(r.text, names))
