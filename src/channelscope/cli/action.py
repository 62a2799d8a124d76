"""``channelscope action``: the action log (PDCA): add, list, update, check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from channelscope.cli.render import console as make_console

action_app = typer.Typer(
    help="Action log (PDCA): plan an action, record progress, check its measured effect.", no_args_is_help=True
)
console = make_console()

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="project folder", envvar="CHANNELSCOPE_PROJECT")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
LangOpt = Annotated[str, typer.Option("--lang", help="zh-CN or en")]


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def _pct(v: Any) -> str:
    return "" if v is None or v != v else f"{float(v) * 100:+.1f}%"


@action_app.command("add")
def add_cmd(
    what: Annotated[str, typer.Argument(help="what will be done")],
    owner: Annotated[str, typer.Option(help="who does it")],
    start: Annotated[str, typer.Option(help="first day (YYYY-MM-DD)")],
    deadline: Annotated[str, typer.Option(help="last day, when the effect is checked (YYYY-MM-DD)")],
    channel: Annotated[str | None, typer.Option(help="scope: a channel id")] = None,
    distributor: Annotated[str | None, typer.Option(help="scope: a distributor id")] = None,
    campaign: Annotated[str | None, typer.Option(help="scope: a campaign id")] = None,
    metric: Annotated[str, typer.Option(help="the metric it should move")] = "gmv",
    expect: Annotated[float | None, typer.Option(help="expected relative change, 0.1 = +10%")] = None,
    note: Annotated[str | None, typer.Option(help="a note")] = None,
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Plan an action on one channel, distributor or campaign."""
    from channelscope.cli.app import _project
    from channelscope.errors import QueryError
    from channelscope.plan.actions import add_action

    scopes = [(k, v) for k, v in (("channel", channel), ("distributor", distributor), ("campaign", campaign)) if v]
    if len(scopes) != 1:
        raise QueryError("give exactly one scope: --channel, --distributor or --campaign")
    with _project(project) as p:
        row = add_action(
            p,
            what=what,
            owner=owner,
            scope_kind=scopes[0][0],
            scope_id=scopes[0][1],
            start=start,
            deadline=deadline,
            metric=metric,
            expected_change=expect,
            note=note,
        )
    if as_json:
        _print(row)
        return
    console.print(f"action {row['action_id']}: {row['what']} ({row['scope_kind']} {row['scope_id']})")


@action_app.command("from-report")
def from_report_cmd(
    report: Annotated[str, typer.Argument(help="report name (see `channelscope report list`)")],
    owner: Annotated[str, typer.Option(help="who does it")],
    period: Annotated[str | None, typer.Option(help="the report's period (2025-W12, last_week...)")] = None,
    finding: Annotated[
        int, typer.Option(help="the finding's number among those with a recommendation (1 = first)")
    ] = 1,
    start: Annotated[str | None, typer.Option(help="first day (default: the day after the report's period)")] = None,
    deadline: Annotated[str | None, typer.Option(help="last day (default: the recommendation's check date)")] = None,
    lang: LangOpt = "zh-CN",
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Plan an action from a report's recommendation: its channel, metric, expected effect and check date."""
    import datetime as dt

    from channelscope.cli.app import _project
    from channelscope.errors import QueryError
    from channelscope.plan.actions import action_from_finding
    from channelscope.report import compose, get_definition

    with _project(project) as p:
        r = compose(p, get_definition(p.folder, report), period=period)
        usable = [f for f in r.findings if f.recommendation and f.channel]
        if not 1 <= finding <= len(usable):
            raise QueryError(f"the report has {len(usable)} findings with a recommendation; --finding {finding}")
        f = usable[finding - 1]
        row = action_from_finding(
            p,
            f,
            owner=owner,
            start=start or (r.end + dt.timedelta(days=1)).isoformat(),
            deadline=deadline,
            language=lang,
        )
    if as_json:
        _print(row)
        return
    console.print(f"action {row['action_id']}: {row['what']} ({row['scope_kind']} {row['scope_id']})")


@action_app.command("list")
def list_cmd(
    project: ProjectOpt = Path("."),
    status: Annotated[str | None, typer.Option(help="planned, doing, done, cancelled")] = None,
    channel: Annotated[list[str] | None, typer.Option("--channel", help="only these channels (repeat)")] = None,
    lang: LangOpt = "zh-CN",
    as_json: JsonOpt = False,
) -> None:
    """The action log with status and verdicts."""
    from channelscope.cli.app import _project
    from channelscope.plan.actions import STATUS_TEXT, VERDICT_TEXT, list_actions

    with _project(project, read_only=True) as p:
        df = list_actions(p, channels=list(channel) if channel else None, status=status)
    if as_json:
        _print(json.loads(df.to_json(orient="records", date_format="iso")))
        return
    zh = lang == "zh-CN"
    table = Table(
        "id",
        "行动" if zh else "what",
        "负责人" if zh else "owner",
        "范围" if zh else "scope",
        "期间" if zh else "window",
        "指标" if zh else "metric",
        "预期" if zh else "expected",
        "状态" if zh else "status",
        "结论" if zh else "verdict",
        "效果 (95% 区间)" if zh else "effect (95% interval)",
    )
    for r in df.to_dict("records"):
        verdict = r["verdict"] if isinstance(r["verdict"], str) else None
        effect = (
            f"{_pct(r['effect'])} [{_pct(r['effect_lower'])}, {_pct(r['effect_upper'])}]" if _pct(r["effect"]) else ""
        )
        table.add_row(
            r["action_id"],
            r["what"],
            r["owner"],
            f"{r['scope_kind']}:{r['scope_id']}",
            f"{r['start_date']}..{r['deadline']}",
            r["metric"],
            _pct(r["expected_change"]),
            STATUS_TEXT[r["status"]][lang],
            VERDICT_TEXT[verdict][lang] if verdict else "",
            effect,
        )
    console.print(table)


@action_app.command("update")
def update_cmd(
    action_id: Annotated[str, typer.Argument(help="action id (or a unique prefix)")],
    status: Annotated[str | None, typer.Option(help="planned, doing, done, cancelled")] = None,
    note: Annotated[str | None, typer.Option(help="a note")] = None,
    deadline: Annotated[str | None, typer.Option(help="a new deadline (YYYY-MM-DD)")] = None,
    owner: Annotated[str | None, typer.Option(help="a new owner")] = None,
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Record progress: status, note, deadline, owner."""
    from channelscope.cli.app import _project
    from channelscope.plan.actions import update_action

    with _project(project) as p:
        row = update_action(p, action_id, status=status, note=note, deadline=deadline, owner=owner)
    if as_json:
        _print(row)
        return
    console.print(f"action {row['action_id']}: {row['status']}")


@action_app.command("check")
def check_cmd(
    action_id: Annotated[str | None, typer.Argument(help="action id; none: every action that is due")] = None,
    project: ProjectOpt = Path("."),
    lang: LangOpt = "zh-CN",
    as_json: JsonOpt = False,
) -> None:
    """Measure the effect (difference-in-differences against untreated channels) and record the verdict."""
    from channelscope.cli.app import _project
    from channelscope.plan.actions import REASON_TEXT, VERDICT_TEXT, check_action, check_due

    with _project(project) as p:
        checks = [check_action(p, action_id)] if action_id else check_due(p)
    out: list[dict[str, Any]] = [
        {
            "action_id": c.action_id,
            "verdict": c.verdict,
            "effect": c.effect.effect,
            "lower": c.effect.lower,
            "upper": c.effect.upper,
            "reason": c.reason,
            "evidence": c.evidence,
        }
        for c in checks
    ]
    if as_json:
        _print(out)
        return
    if not out:
        console.print("没有到期的行动" if lang == "zh-CN" else "No action is due")
    for c in out:
        why = REASON_TEXT[c["reason"]][lang] if c["reason"] in REASON_TEXT else ""
        console.print(
            f"{c['action_id']}: {VERDICT_TEXT[str(c['verdict'])][lang]} {_pct(c['effect'])}"
            + (f" [{_pct(c['lower'])}, {_pct(c['upper'])}]" if c["lower"] is not None else "")
            + (f" ({why})" if why else "")
        )
