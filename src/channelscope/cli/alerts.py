"""``channelscope alerts``: list alerts with their delivery state, check rules, acknowledge, resolve, deliver.

Exit codes: 0 ok; 1 when ``alerts check`` finds critical alerts; 2 for errors (bad config, unknown id).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from channelscope.cli.render import console as make_console
from channelscope.errors import ChannelscopeError

alerts_app = typer.Typer(
    help="Alerts: list (with delivery state), show, check rules and notify, acknowledge, resolve, deliver.",
    invoke_without_command=True,
)
console = make_console()
err = make_console(stderr=True)

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="project folder", envvar="CHANNELSCOPE_PROJECT")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
StatusOpt = Annotated[str | None, typer.Option("--status", help="open, acknowledged or resolved")]
ChannelOpt = Annotated[list[str] | None, typer.Option("--channel", "-c", help="only alerts of these channels")]
LimitOpt = Annotated[int, typer.Option("--limit", min=0, help="at most this many (0 = all)")]
ByOpt = Annotated[str | None, typer.Option("--by", help="who does it (default: the OS user)")]
_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _project(path: Path, read_only: bool = False) -> Any:
    from channelscope.project import Project

    return Project(path, read_only=read_only)


def _dump(obj: Any) -> None:
    def default(o: Any) -> Any:
        if isinstance(o, pd.DataFrame):
            return json.loads(o.to_json(orient="records", date_format="iso"))
        if isinstance(o, dt.datetime | dt.date | pd.Timestamp):
            return o.isoformat()
        return str(o)

    sys.stdout.write(json.dumps(obj, default=default, ensure_ascii=False, indent=2) + "\n")


def _user(by: str | None) -> str:
    if by:
        return by
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _fmt(value: Any) -> str:
    """Numbers with thousands separators, times to the second (UTC), dicts as k=v."""
    if value is None or value is pd.NaT:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, dt.datetime | pd.Timestamp):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "(whole business)"
    return str(value)


def _delivery(row: Any) -> str:
    parts = []
    if row.delivered:
        parts.append(f"[green]{row.delivered} delivered[/]")
    if row.pending:
        parts.append(f"[yellow]{row.pending} pending[/]")
    if row.failed:
        parts.append(f"[red]{row.failed} failed[/]")
    text = ", ".join(parts) or "-"
    if isinstance(row.last_error, str) and (row.pending or row.failed):
        text += f"\n[dim]{row.last_error[:120]}[/]"
    return text


def _list(project: Path, status: str | None, channel: list[str] | None, limit: int, as_json: bool) -> None:
    from channelscope.monitor.dispatch import list_alerts

    if status is not None and status not in ("open", "acknowledged", "resolved"):
        raise ChannelscopeError(f"--status must be open, acknowledged or resolved, not '{status}'")
    with _project(project, read_only=True) as p:
        df = list_alerts(p, status=status, channels=channel or None, limit=limit)
    if as_json:
        _dump(df)
        return
    if df.empty:
        console.print("no alerts" + (f" with status {status}" if status else ""))
        return
    t = Table(title="Alerts", show_lines=False)
    for col in ("id", "status", "severity", "rule", "channel", "period", "title", "seen", "delivery"):
        t.add_column(col)
    for r in df.itertuples(index=False):
        sev = str(r.severity)
        t.add_row(
            str(r.alert_id),
            str(r.status),
            f"[{_STYLE.get(sev, '')}]{sev}[/]",
            str(r.rule),
            str(r.channel_id or "-"),
            str(r.period or ""),
            str(r.title),
            str(r.occurrences),
            _delivery(r),
        )
    console.print(t)


@alerts_app.callback()
def _alerts(
    ctx: typer.Context,
    project: ProjectOpt = Path("."),
    status: StatusOpt = None,
    channel: ChannelOpt = None,
    limit: LimitOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """Without a subcommand: the alerts, open first, with their delivery state."""
    if ctx.invoked_subcommand is None:
        _list(project, status, channel, limit, as_json)


@alerts_app.command("list")
def list_cmd(
    project: ProjectOpt = Path("."),
    status: StatusOpt = None,
    channel: ChannelOpt = None,
    limit: LimitOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """The alerts, open first, with their delivery state (delivered / pending / failed and the last error)."""
    _list(project, status, channel, limit, as_json)


@alerts_app.command("show")
def show(
    alert_id: Annotated[str, typer.Argument(help="alert id (or a unique prefix of 6+ characters)")],
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """One alert: its numbers, texts, evidence and every delivery attempt."""
    from channelscope.monitor.dispatch import alert_detail, alerts_config

    with _project(project, read_only=True) as p:
        row = alert_detail(p, alert_id)
        lang = alerts_config(p).language
    if as_json:
        _dump(row)
        return
    sev = str(row["severity"])
    console.print(f"[{_STYLE.get(sev, '')}]{sev}[/] [bold]{row['title'].get(lang) or row['title'].get('en', '')}[/]")
    for key in (
        "alert_id",
        "status",
        "rule",
        "kind",
        "scope",
        "period",
        "metric",
        "value",
        "expected",
        "lower",
        "upper",
    ):
        console.print(f"  {key:<16} {_fmt(row.get(key))}")
    for key in ("first_seen_at", "last_seen_at", "occurrences", "acknowledged_by", "resolved_by"):
        if row.get(key) is not None:
            console.print(f"  {key:<16} {_fmt(row.get(key))}")
    text = row["text"].get(lang) or row["text"].get("en")
    if text:
        console.print(f"\n{text}")
    t = Table(title="Deliveries")
    for col in ("notifier", "kind", "status", "attempts", "next attempt (UTC)", "delivered (UTC)", "last error"):
        t.add_column(col)
    for d in row["deliveries"]:
        t.add_row(
            str(d["notifier"]),
            str(d["kind"]),
            str(d["status"]),
            str(d["attempts"]),
            _fmt(d["next_attempt_at"]),
            _fmt(d["delivered_at"]),
            str(d["last_error"] or ""),
        )
    console.print(t)


@alerts_app.command("check")
def check(
    project: ProjectOpt = Path("."),
    group: Annotated[str | None, typer.Option("--group", "-g", help="only the rules of this schedule group")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="business date judged (YYYY-MM-DD)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="evaluate only: record and send nothing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the rules, record the alerts, notify (respecting cooldown and digest) and deliver.

    Exit 1 on a critical alert or a rule that failed to evaluate (as `channelscope run --once` does)."""
    from channelscope.monitor.dispatch import alerts_config, check_and_notify

    day = None
    if as_of:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ChannelscopeError(f"--as-of '{as_of}' is not a date (YYYY-MM-DD)") from None
    with _project(project, read_only=dry_run) as p:
        report = check_and_notify(p, group=group, as_of=day, dry_run=dry_run)
        lang = alerts_config(p).language
    if as_json:
        _dump(report.to_dict())
    else:
        _print_check(report, lang)
    if report.critical or report.errors:
        raise typer.Exit(1)


def _print_check(report: Any, lang: str) -> None:
    if not report.findings:
        console.print(f"[green]no alerts[/] ({len(report.checked)} rule(s) checked)")
    for f in report.findings:
        style = _STYLE.get(f.severity, "")
        console.print(f"[{style}]{f.severity:<8}[/] {f.key}  {f.title.get(lang) or f.title.get('en', '')}")
    for e in report.errors:
        err.print(f"[red]rule failed:[/] {e}")
    if report.dry_run:
        console.print("[dim]dry run: nothing recorded or sent[/]")
        return
    d = report.delivery
    console.print(
        f"opened {len(report.opened)}, re-opened {len(report.reopened)}, still open {len(report.updated)}, "
        f"auto-resolved {len(report.resolved)}; queued {report.queued}, held by cooldown {report.suppressed}; "
        f"delivered {d.delivered}, retrying {d.retrying}, failed {d.failed}"
    )
    for e in d.errors:
        err.print(f"[yellow]delivery:[/] {e}")


@alerts_app.command("ack")
def ack(
    alert_id: Annotated[str, typer.Argument(help="alert id (or a unique prefix)")],
    project: ProjectOpt = Path("."),
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge: someone is on it; no more notifications until it resolves and comes back."""
    from channelscope.monitor.dispatch import acknowledge

    with _project(project) as p:
        row = acknowledge(p, alert_id, by=_user(by))
    _done(row, as_json)


@alerts_app.command("resolve")
def resolve_cmd(
    alert_id: Annotated[str, typer.Argument(help="alert id (or a unique prefix)")],
    project: ProjectOpt = Path("."),
    by: ByOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resolve an alert (it re-opens if a later check finds it again)."""
    from channelscope.monitor.dispatch import resolve

    with _project(project) as p:
        row = resolve(p, alert_id, by=_user(by))
    _done(row, as_json)


def _done(row: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _dump({"alert_id": row["alert_id"], "status": row["status"]})
    else:
        console.print(f"alert {row['alert_id']}: [bold]{row['status']}[/]")


@alerts_app.command("deliver")
def deliver(
    project: ProjectOpt = Path("."),
    failed: Annotated[bool, typer.Option("--failed", help="first put failed deliveries back in the queue")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send the notifications that are due (retries after a receiver was down)."""
    from channelscope.monitor.dispatch import deliver_due, retry_failed

    with _project(project) as p:
        requeued = retry_failed(p) if failed else 0
        report = deliver_due(p)
    if as_json:
        _dump({"requeued": requeued, **report.to_dict()})
        return
    if requeued:
        console.print(f"requeued {requeued} failed deliveries")
    console.print(f"delivered {report.delivered}, retrying {report.retrying}, failed {report.failed}")
    for e in report.errors:
        err.print(f"[yellow]delivery:[/] {e}")
