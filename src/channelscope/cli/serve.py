"""``channelscope serve``: the API, the dashboard, live events and the scheduler in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from channelscope.cli.app import ProjectOpt, console, err

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    project: ProjectOpt = Path("."),
    host: Annotated[str, typer.Option(help="address to bind; only loopback unless you say otherwise")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    scheduler: Annotated[bool, typer.Option(help="run the alert/report scheduler in this process")] = True,
    events: Annotated[bool, typer.Option(help="accept live order events (POST /events/...)")] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Serve the web app (API at /api, OpenAPI at /docs, dashboard at /). This process owns the warehouse."""
    import uvicorn

    from channelscope.web.app import create_app

    app = create_app(project, scheduler=scheduler, events=events)
    if host not in LOOPBACK:
        err.print(
            f"[yellow]warning:[/] listening on {host}: other machines can reach the login page; "
            "put it behind HTTPS (cookies get the Secure flag over HTTPS)"
        )
    url = f"http://{host}:{port}/"
    console.print(f"channelscope serving {Path(project).resolve()} at {url} (API docs: /docs)")
    marker = _announce(app, url)
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, **proxy_options(app))
    finally:
        if marker:
            marker.unlink(missing_ok=True)


def proxy_options(app: object) -> dict[str, Any]:
    """uvicorn's proxy settings: X-Forwarded-For/-Proto only from ``web.trusted_proxies`` (default: never).

    uvicorn's own default trusts them from 127.0.0.1, so any local client (or a proxy that passes the header
    through) could rotate the address the login limit counts and the access log records."""
    project = getattr(getattr(app, "state", None), "project", None)
    trusted = list(project.config.web.trusted_proxies) if project is not None else []
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(trusted)}


def _announce(app: object, url: str) -> Path | None:
    """Next to a DuckDB warehouse, say which server owns it, so a CLI command that must write can name it."""
    import json
    import os

    wh = getattr(getattr(getattr(app, "state", None), "project", None), "warehouse", None)
    path = getattr(wh, "path", None)
    if path is None:
        return None
    marker = Path(f"{path}.server.json")
    marker.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    return marker
