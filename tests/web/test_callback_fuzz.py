"""A fuzz of the dashboard's callback endpoint (issue 12): hypothesis builds requests for every registered
callback, in the shape the renderer sends, filled with hostile values (URLs with NUL, years 0001 and 9999,
5,000 digits, unknown pages and options, other channels, SQL and script text; dropdown values, click data and
counters of any JSON type), and also requests of the wrong shape. For an admin and for a channel manager no
answer is a 500: a callback either answers, or refuses with a named 4xx."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.web.test_api import PASSWORD, add_alerts, make_shop

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

USERS = {"admin": ("admin", (), ()), "tm": ("channel_manager", ("tmall",), ())}
HOSTILE = [
    "",
    "\x00",
    "9" * 5000,
    "0001-01-01",
    "9999-12-31",
    "2025-02-30",
    "-infinity",
    "jd",
    "tmall,jd",
    "'; DROP TABLE orders; --",
    "<a href='http://evil.example/'>x</a>",
    "١٢٣",
    "=1+2",
    "\ud800",
    "..",
    "gmv",
    "month",
    "yoy",
]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
KEYS = ["start", "end", "channel", "distributor", "campaign", "lang", "metric", "by", "grain", "compare", "status"]
SEARCH = st.one_of(
    st.lists(st.tuples(st.sampled_from(KEYS), TEXT), max_size=5).map(
        lambda pairs: "?" + urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in pairs])
    ),
    TEXT,
)
PATHNAME = st.one_of(
    st.sampled_from(["/", "/trends", "/channels", "/distributors", "/funnel", "/forecast", "/customers"]),
    st.sampled_from(["/marketing", "/alerts", "/health", "/nope", "//", "/trends/../admin"]),
    TEXT,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def client(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from channelscope.web.app import create_app

    app = create_app(make_shop(demo_shop, tmp_path_factory.mktemp("cbfuzz") / "shop"), scheduler=False, events=False)
    store = app.state.store
    for name, (role, channels, distributors) in USERS.items():
        store.add_user(name, role, PASSWORD, channels=channels, distributors=distributors)
    add_alerts(app.state.project)
    with TestClient(app) as c:
        c.tokens = {name: store.create_token(name) for name in USERS}  # type: ignore[attr-defined]
        yield c


def _value(prop: str, draw: Any) -> Any:
    if prop == "search":
        return draw(SEARCH)
    if prop == "pathname":
        return draw(PATHNAME)
    if prop in ("start_date", "end_date"):
        return draw(st.one_of(st.none(), TEXT))
    if prop == "value":
        return draw(st.one_of(st.none(), TEXT, st.lists(TEXT, max_size=3), JSON))
    if prop in ("data", "n_clicks"):
        return draw(st.one_of(st.none(), st.integers(), JSON))
    return draw(JSON)


@st.composite
def callback_request(draw: Any, callback_map: dict[str, Any]) -> dict[str, Any]:
    """A request for one registered callback, in the renderer's shape, with hostile values."""
    from channelscope.web.dashboard.callback_guard import declared_outputs

    key = draw(st.sampled_from(sorted(callback_map)))
    spec = callback_map[key]

    def item(s: dict[str, Any]) -> Any:
        if s["id"].startswith("{"):  # pattern-matching: a list of components with object ids
            ids = draw(
                st.lists(st.dictionaries(st.sampled_from(["type", "id", "to", "key", "dflt"]), TEXT), max_size=3)
            )
            return [{"id": i, "property": s["property"], "value": _value(s["property"], draw)} for i in ids]
        return {"id": s["id"], "property": s["property"], "value": _value(s["property"], draw)}

    outs = [{"id": i, "property": p} for i, p in declared_outputs(key)]
    body = {
        "output": key,
        "outputs": outs if key.startswith("..") else outs[0],
        "inputs": [item(s) for s in spec["inputs"]],
        "state": [item(s) for s in spec.get("state", [])],
        "changedPropIds": draw(st.lists(st.sampled_from(["url.search", "url.pathname", "refresh.data"]), max_size=2)),
    }
    if draw(st.integers(0, 9)) == 0:  # now and then a request of the wrong shape
        body[draw(st.sampled_from(["inputs", "state", "outputs", "output", "changedPropIds"]))] = draw(JSON)
    return body


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), user=st.sampled_from(sorted(USERS)))
def test_no_callback_request_is_a_500(client: TestClient, data: Any, user: str) -> None:
    dash = client.app.state.dashboard  # type: ignore[attr-defined]
    body = data.draw(callback_request(dash.callback_map))
    headers = {"Authorization": f"Bearer {client.tokens[user]}"}  # type: ignore[attr-defined]
    content = json.dumps(body).encode()  # ASCII JSON: a lone surrogate travels as its \\ud800 escape
    r = client.post("/_dash-update-component", content=content, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code < 500, (user, body, r.status_code, r.text[:300])
    assert "Traceback" not in r.text


def test_a_value_that_is_not_text_is_an_unknown_member_in_the_url() -> None:
    """Found by the fuzz: a lone surrogate in a forged campaign value made the URL writer raise (a 500)."""
    from urllib.parse import parse_qs

    from channelscope.web.dashboard.view import View

    search = View(filters={"campaign": ("\ud800",)}, lang="en").to_search()
    assert parse_qs(search.lstrip("?"))["campaign"] == ["?"]  # encoded with errors="replace"
