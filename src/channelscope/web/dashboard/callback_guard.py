"""Checks a Dash callback request (``POST /_dash-update-component``) before Dash runs it.

Dash answers any request it cannot match to a registered callback, or whose inputs have another shape than the
callback declares, with a bare 500 it does not log. The browser's renderer never sends such requests; a forged or
stale one does. This guard answers them with a 400 naming what is wrong (the callback, the input), so a 500 from
the callback endpoint always means a defect of ours. A component file Dash does not serve is a 404 (Dash: 500).
Dash answers a failing callback with a 500 it does not log; ``log_dash_errors`` logs them."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from dash import Dash

log = logging.getLogger("channelscope.web.dashboard")
CALLBACK_PATH = "/_dash-update-component"
SUITES_PATH = "/_dash-component-suites/"
#: a callback request is small (ids, a URL, a few dropdown values); anything bigger is no renderer's
MAX_BODY_BYTES = 1_000_000
#: the JSON types a component property may carry, by "id.property" or by property name (others: any JSON value)
PROPERTY_TYPES: dict[str, tuple[type, ...]] = {
    "refresh.data": (int,),  # the shell's re-render counter (other stores may hold any JSON)
    "pathname": (str,),
    "search": (str,),
    "start_date": (str,),
    "end_date": (str,),
    "n_clicks": (int,),
    "clickData": (dict,),
    "value": (str, int, float, list),
}


class CallbackRejected(ValueError):
    """A callback request that no registered callback can take, with the reason."""


class CallbackGuard:
    """ASGI middleware: validates the body of ``POST /_dash-update-component`` against Dash's callback map."""

    def __init__(self, app: ASGIApp, dash_app: Dash) -> None:
        self.app = app
        self.dash_app = dash_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        suites = scope["type"] == "http" and scope["path"].startswith(SUITES_PATH)
        if suites and not self._is_served_file(scope["path"][len(SUITES_PATH) :]):
            await _answer(404, "no such dashboard file", scope, receive, send)
            return
        if scope["type"] != "http" or scope["path"] != CALLBACK_PATH or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _answer(413, f"a callback request is at most {MAX_BODY_BYTES} bytes", scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            check_request(self.dash_app.callback_map, json.loads(body))
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and CallbackRejected are ValueErrors
            reason = str(exc) if isinstance(exc, CallbackRejected) else "the body is not a JSON callback request"
            log.warning("callback request rejected: %s", reason)
            await _answer(400, reason, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _is_served_file(self, rest: str) -> bool:
        """Whether Dash serves ``<package>/<file>`` (it answers any other with a 500)."""
        from dash import _validate
        from dash.exceptions import DependencyException
        from dash.fingerprint import check_fingerprint

        package, _, fingerprinted = rest.partition("/")
        try:
            _validate.validate_js_path(self.dash_app.registered_paths, package, check_fingerprint(fingerprinted)[0])
        except DependencyException:
            return False
        return True


async def _answer(status: int, message: str, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"error": {"message": message}}, status_code=status)(scope, receive, send)


def check_request(callback_map: dict[str, Any], body: Any) -> None:
    """Raise ``CallbackRejected`` unless ``body`` names a registered callback and gives it inputs and states of
    the declared ids, properties and value types."""
    if not isinstance(body, dict):
        raise CallbackRejected("a callback request is a JSON object")
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        raise CallbackRejected(f"no callback has the output {str(output)[:200]!r}")
    declared = callback_map[output]
    for part in ("inputs", "state"):
        given = body.get(part, [])
        wanted = declared.get(part, [])
        if not isinstance(given, list) or len(given) != len(wanted):
            raise CallbackRejected(f"callback {output[:200]}: '{part}' must list {len(wanted)} values")
        for spec, item in zip(wanted, given, strict=True):
            _check_item(output, spec, item)
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        raise CallbackRejected(f"callback {output[:200]}: 'changedPropIds' must be a list of texts")
    _check_outputs(output, body.get("outputs"))


def declared_outputs(key: str) -> list[tuple[str, str]]:
    """(component id, property) of each output of the callback with ``key`` in Dash's callback map
    (``"..a.x...b.y.."`` for several outputs, ``"a.x"`` for one; ``@hash`` marks an allowed duplicate)."""
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    out = []
    for part in parts:
        ident, _, prop = part.rpartition(".")
        out.append((ident, prop.split("@")[0]))
    return out


def _check_outputs(output: str, outputs: Any) -> None:
    """The outputs a request names are those the callback declares (Dash answers a 500 otherwise)."""
    wanted = declared_outputs(output)
    given = outputs if output.startswith("..") else [outputs]
    if not isinstance(given, list) or len(given) != len(wanted):
        raise CallbackRejected(f"callback {output[:200]}: 'outputs' must name its {len(wanted)} outputs")
    for (ident, prop), spec in zip(wanted, given, strict=True):
        specs = spec if ident.startswith("{") and isinstance(spec, list) else [spec]
        for one in specs:
            if not isinstance(one, dict) or str(one.get("property", "")).split("@")[0] != prop:
                raise CallbackRejected(f"callback {output[:200]}: expected output {ident}.{prop}")
            if not ident.startswith("{") and one.get("id") != ident:
                raise CallbackRejected(f"callback {output[:200]}: expected output {ident}, got {one.get('id')!r}")
            if ident.startswith("{") and not isinstance(one.get("id"), dict):
                raise CallbackRejected(f"callback {output[:200]}: output {ident} needs an object id")


def _check_item(output: str, spec: dict[str, Any], item: Any) -> None:
    wildcard = str(spec.get("id", "")).startswith("{")
    items = item if wildcard else [item]
    if not isinstance(items, list):
        raise CallbackRejected(f"callback {output[:200]}: input {spec.get('id')} takes a list (pattern-matching)")
    for one in items:
        if not isinstance(one, dict) or one.get("property") != spec.get("property"):
            raise CallbackRejected(f"callback {output[:200]}: expected input {spec.get('id')}.{spec.get('property')}")
        if wildcard:
            _check_pattern_id(output, str(spec.get("id")), one.get("id"))
        elif one.get("id") != spec.get("id"):
            raise CallbackRejected(f"callback {output[:200]}: expected input {spec.get('id')}, got {one.get('id')!r}")
        _check_value(output, spec, one.get("value"))


def _check_pattern_id(output: str, declared: str, given: Any) -> None:
    """A component id matching a pattern-matching input: the same keys, the fixed parts equal, the wildcard
    parts (``ALL``, ``MATCH``, ``ALLSMALLER``) plain texts or numbers."""
    pattern = json.loads(declared)
    if not isinstance(given, dict) or set(given) != set(pattern):
        raise CallbackRejected(f"callback {output[:200]}: input {declared} needs an id with the keys {sorted(pattern)}")
    for key, want in pattern.items():
        value = given[key]
        if isinstance(want, list):  # a wildcard
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise CallbackRejected(f"callback {output[:200]}: id part {key} must be a text or a number")
        elif value != want:
            raise CallbackRejected(f"callback {output[:200]}: id part {key} must be {want!r}")


def _check_value(output: str, spec: dict[str, Any], value: Any) -> None:
    prop = str(spec.get("property"))
    allowed = PROPERTY_TYPES.get(f"{spec.get('id')}.{prop}", PROPERTY_TYPES.get(prop))
    if value is None or allowed is None:
        return
    ok = isinstance(value, allowed) and not isinstance(value, bool)
    if ok and isinstance(value, list):
        ok = all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
    if not ok:
        raise CallbackRejected(
            f"callback {output[:200]}: {spec.get('id')}.{spec.get('property')} cannot be {type(value).__name__}"
        )


def log_dash_errors() -> None:
    """Log the exception behind every 500 Dash answers (its FastAPI backend sends the 500 without logging it)."""
    from dash.backends import _fastapi
    from dash.exceptions import PreventUpdate

    middleware: Any = _fastapi.DashMiddleware
    original = middleware._handle_error
    if getattr(original, "logs", False):
        return

    async def handle(self: Any, error: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        if not isinstance(error, PreventUpdate):
            log.error("dashboard request %s failed", scope.get("path"), exc_info=error)
        await original(self, error, scope, receive, send)

    handle.logs = True  # type: ignore[attr-defined]
    middleware._handle_error = handle
