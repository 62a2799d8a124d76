"""``channelscope report``: list the report definitions and issue one as HTML, PDF and Excel."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from channelscope.cli.render import console as make_console

report_app = typer.Typer(
    help="Reports: list, run (HTML, PDF, Excel with findings and recommendations).", no_args_is_help=True
)
console = make_console()

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="project folder", envvar="CHANNELSCOPE_PROJECT")]


@report_app.command("list")
def list_cmd(project: ProjectOpt = Path(".")) -> None:
    """The standard reports and the project's own (reports/*.yaml)."""
    from channelscope.report import load_definitions

    table = Table("name", "title (zh-CN)", "title (en)", "period", "sections")
    for d in load_definitions(project.resolve()).values():
        table.add_row(d.name, d.title["zh-CN"], d.title["en"], d.period, ", ".join(s.kind for s in d.sections))
    console.print(table)


@report_app.command("run")
def run_cmd(
    name: Annotated[str, typer.Argument(help="report name (see `channelscope report list`)")],
    project: ProjectOpt = Path("."),
    period: Annotated[
        str | None, typer.Option(help="yesterday, last_week, last_month, 2025-11, 2025-W46, A..B")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="issue date (default: the day after the data)")] = None,
    channel: Annotated[list[str] | None, typer.Option("--channel", help="only these channels (repeat)")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="zh-CN or en")] = None,
    fmt: Annotated[str, typer.Option("--format", help="comma-separated: html,pdf,xlsx")] = "html,pdf,xlsx",
    out: Annotated[Path | None, typer.Option("--out", help="folder (default: the project's reports/archive)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Compose a report for a period and write it; prints the findings and the files."""
    from channelscope.cli.app import _project
    from channelscope.errors import QueryError
    from channelscope.report import issue_report

    if lang not in (None, "zh-CN", "en"):
        raise QueryError(f"--lang '{lang}': use zh-CN or en")
    try:
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise QueryError(f"--as-of '{as_of}' is not a date (YYYY-MM-DD)") from exc
    with _project(project, read_only=True) as p:
        issued = issue_report(
            p,
            name,
            period=period,
            as_of=day,
            channels=list(channel) if channel else None,
            language=lang,
            formats=tuple(f.strip() for f in fmt.split(",") if f.strip()),
            out_dir=out,
        )
    r = issued.report
    if as_json:
        print(
            json.dumps(
                {
                    "name": r.name,
                    "period": [r.start.isoformat(), r.end.isoformat()],
                    "data_as_of": r.data_as_of.isoformat() if r.data_as_of else None,
                    "findings": [
                        {
                            "kind": f.kind,
                            "severity": f.severity,
                            "channel": f.channel,
                            "text": f.text,
                            "recommendation": f.recommendation,
                            "expected": f.expected,
                        }
                        for f in r.findings
                    ],
                    "files": {k: str(v) for k, v in issued.files.items()},
                },
                ensure_ascii=False,
                default=str,
            )
        )
        return
    lang_ = r.language
    console.print(
        f"[bold]{r.title[lang_]}[/bold]  {r.period_label()}  ({'数据截至' if lang_ == 'zh-CN' else 'data as of'} {r.data_as_of})"
    )
    if not r.findings:
        console.print("本期没有需要关注的发现。" if lang_ == "zh-CN" else "Nothing in this period needs attention.")
    for f in r.findings:
        console.print(f"- [{f.severity}] {f.text[lang_]}")
        if f.recommendation:
            console.print(f"  → {f.recommendation[lang_]}")
    for k, v in issued.files.items():
        console.print(f"{k}: {v}")
