"""``channelscope run``: the scheduler in the foreground, optionally with the live events endpoint.

One Rich line per run. Ctrl-C stops after the running jobs finish (a second Ctrl-C quits at once;
a load is a transaction, so that leaves the warehouse as before). Exit codes: 0, 1 (--once and a run
failed), 2 (configuration errors).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from channelscope.cli.app import JsonOpt, ProjectOpt, console, err
from channelscope.errors import ConfigError

_STYLE = {"ok": "green", "failed": "red", "skipped": "yellow"}


def _print_run(run: Any, as_json: bool) -> None:
    if as_json:
        row = {k: getattr(run, k) for k in ("job", "scheduled_for", "started_at", "finished_at", "status", "message")}
        sys.stdout.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    style = _STYLE.get(run.status, "white")
    console.print(
        f"{run.started_at:%Y-%m-%d %H:%M:%S}Z [bold]{run.job}[/] [{style}]{run.status}[/] "
        f"({run.seconds:.1f} s) {run.message}",
        highlight=False,
    )


def _listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen '{value}' is not HOST:PORT (e.g. 127.0.0.1:8787)")
    return host.strip("[]"), int(port)


def run_command(
    project: ProjectOpt = Path("."),
    once: Annotated[bool, typer.Option("--once", help="run every scheduled job once now, then exit")] = False,
    listen: Annotated[
        str | None, typer.Option("--listen", help="also receive live order events at HOST:PORT (e.g. 127.0.0.1:8787)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the schedule (ingest, marts, alerts) in the foreground; every run is logged in the warehouse."""
    from channelscope.monitor.schedule import Scheduler
    from channelscope.project import Project

    address = _listen_address(listen) if listen else None
    with Project(project) as p:
        sched = Scheduler(p, on_run=lambda r: _print_run(r, as_json))
        if once:
            if address:
                raise ConfigError("--once and --listen do not go together (events need a running server)")
            runs = sched.run_pending(force=True)
            if any(r.status == "failed" for r in runs):
                raise typer.Exit(1)
            return
        if not sched.jobs and not address:
            raise ConfigError(
                "nothing to run: channelscope.yaml has no schedule: jobs",
                file=str(p.folder / "channelscope.yaml"),
                hint="add schedule: {sources: {'*': '0 * * * *'}} or use --listen for live events",
            )
        if not as_json:
            names = ", ".join(f"{j.name} [{j.cron}]" for j in sched.jobs) or "no jobs"
            err.print(f"channelscope run: {names} (time zone {sched.tz.key}); Ctrl-C stops")
        if address:
            _serve_with_events(p, sched, *address)
        else:
            _foreground(sched)


def _foreground(sched: Any) -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # the second Ctrl-C: quit now
        err.print("stopping after the running jobs finish (Ctrl-C again to quit now)")
        stop.set()

    previous = signal.signal(signal.SIGINT, on_signal)
    term = signal.signal(signal.SIGTERM, on_signal)
    try:
        sched.run_forever(stop)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, term)


def _serve_with_events(project: Any, sched: Any, host: str, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from channelscope.monitor.events import events_router

    if project.config.events is None:
        raise ConfigError(
            "--listen receives live order events, but channelscope.yaml has no events: section",
            file=str(project.folder / "channelscope.yaml"),
            hint="see docs/live-events.md",
        )
    app = FastAPI(title="channelscope events", docs_url="/docs", redoc_url=None)
    app.include_router(events_router(project))
    handle = sched.start_background()
    err.print(f"receiving order events at http://{host}:{port}/events/orders and /events/shopify/orders")
    try:
        # uvicorn handles Ctrl-C: it stops accepting, lets the lifespan land the open micro-batches
        uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False, proxy_headers=False)
    finally:
        err.print("stopping the scheduler after the running jobs finish")
        handle.stop()
