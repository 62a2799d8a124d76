"""The Dash dashboard, served by the same FastAPI app as the API (Dash 4's FastAPI backend).

Pages: / (overview), /trends, /channels, /distributors, /funnel, /alerts, /health. Every number comes
from ``channelscope.web.service`` with the signed-in user, so it equals the API's for the same query.
Plotly and Dash's JavaScript are served by the app itself (no CDN): the dashboard works offline.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from dash import Dash
from fastapi import FastAPI, Request, Response

from channelscope.web.dashboard import shell
from channelscope.web.dashboard.callback_guard import CallbackGuard, log_dash_errors

if TYPE_CHECKING:
    from channelscope.project import Project

__all__ = ["PAGE_PATHS", "mount_dashboard"]

PAGE_PATHS = tuple(shell.PAGES)
ASSETS = Path(__file__).parent / "assets"

_INDEX = """<!DOCTYPE html>
<html lang="zh-CN">
<head>{%metas%}<title>{%title%}</title>{%favicon%}{%css%}</head>
<body>{%app_entry%}<footer>{%config%}{%scripts%}{%renderer%}</footer></body>
</html>"""


def mount_dashboard(app: FastAPI, project: Project) -> Dash:
    """Add the dashboard to ``app``: its pages, Dash's /_dash-* endpoints and /assets.

    Call it after the app's own routes (the API, /login) are added. The app's auth middleware guards
    these routes like any other; the pages read the user with ``request_user()``.
    """
    dash_app = Dash(
        __name__,
        server=cast(Any, app),  # Dash 4 takes a FastAPI app (its stubs only name Flask's options)
        serve_locally=True,  # the machine may be offline: JS from the package, never a CDN
        assets_folder=str(ASSETS),
        title="channelscope",
        update_title=cast(Any, None),  # no "Updating..." flashing in the tab title
        suppress_callback_exceptions=True,  # pages create their controls in callbacks
        compress=False,
    )
    dash_app.index_string = _INDEX
    # Callbacks go over plain HTTP: the renderer would otherwise keep opening a WebSocket the server may
    # not speak (uvicorn without a websocket library), and HTTP keeps every request behind the same middleware.
    backend: Any = dash_app.backend
    backend.websocket_capability = False
    dash_app.layout = shell.layout(project)
    renders = {
        path: importlib.import_module(f"{__name__}.pages.{module}").render for path, (_, module) in shell.PAGES.items()
    }
    shell.register(dash_app, project, renders)
    for _, module in shell.PAGES.values():
        page = importlib.import_module(f"{__name__}.pages.{module}")
        if hasattr(page, "register"):
            page.register(dash_app, project)
    _serve_pages(app, dash_app)
    # outside Dash's own middleware: a request no registered callback takes is a named 400, not Dash's bare 500
    app.add_middleware(CallbackGuard, dash_app=dash_app)
    log_dash_errors()
    app.state.dashboard = dash_app
    return dash_app


def _serve_pages(app: FastAPI, dash_app: Dash) -> None:
    """Each page path answers with Dash's index; Dash's own catch-all (every unknown GET -> the index,
    even /api/typo) is switched off so unknown paths stay 404."""
    from dash.backends._fastapi import reset_current_request, set_current_request

    async def index(request: Request) -> Response:
        token = set_current_request(request)
        try:
            dash_app._setup_server()  # Dash's first-request setup (assets, scripts)
            return Response(content=dash_app.index(), media_type="text/html")
        finally:
            reset_current_request(token)

    for path in PAGE_PATHS[1:]:  # "/" is Dash's own index route
        app.add_api_route(path, index, methods=["GET"], include_in_schema=False)
    backend: Any = dash_app.backend
    backend._setup_catchall = lambda: None  # private, but the only switch
