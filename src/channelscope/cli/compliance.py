"""``channelscope compliance``: price violations (乱价), cross-region orders (窜货), commissions owed vs paid,
the dealer compliance score, cases (open, notify, acknowledge, resolve, appeal) and evidence packs.
Exit codes: 0 ok, 2 errors (bad option, unknown case)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from channelscope.cli.render import console as make_console
from channelscope.errors import ChannelscopeError

compliance_app = typer.Typer(
    help="Channel order: violations, regions, commissions, score, cases, evidence.", no_args_is_help=True
)
console = make_console()

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="project folder", envvar="CHANNELSCOPE_PROJECT")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh-CN or en (default: the project's locale)")]
DistOpt = Annotated[list[str] | None, typer.Option("--distributor", "-d", help="a distributor and its children")]

LABELS: dict[str, tuple[str, str]] = {
    "distributor_id": ("经销商", "Distributor"),
    "sku": ("SKU", "SKU"),
    "lines": ("行数", "Lines"),
    "units": ("件数", "Units"),
    "depth_mean": ("平均低于限价", "Mean depth"),
    "depth_worst": ("最深", "Worst depth"),
    "worst_order": ("最低价订单", "Worst order"),
    "worst_unit_paid": ("最低到手价", "Lowest unit paid"),
    "first_seen": ("首次", "First seen"),
    "last_seen": ("最近", "Last seen"),
    "duration_days": ("持续天数", "Days"),
    "repeat_days": ("警告后重复天数", "Repeat days"),
    "region": ("地区", "Region"),
    "orders": ("订单数", "Orders"),
    "value": ("金额", "Value"),
    "month": ("月份", "Month"),
    "owed": ("应付佣金", "Owed"),
    "paid": ("已付佣金", "Paid"),
    "difference": ("差额", "Difference"),
    "score": ("合规分", "Score"),
    "sales": ("销售额", "Sales"),
    "minus_violations": ("扣分:违规占比", "- violations"),
    "minus_depth": ("扣分:深度", "- depth"),
    "minus_recency": ("扣分:近期", "- recency"),
    "minus_repeats": ("扣分:重复", "- repeats"),
    "minus_out_of_region": ("扣分:跨区", "- out of region"),
    "violation_lines": ("违规行", "Violation lines"),
    "out_of_region_orders": ("跨区订单", "Out-of-region orders"),
    "case_id": ("案件", "Case"),
    "kind": ("类型", "Kind"),
    "status": ("状态", "Status"),
    "action": ("处理", "Action"),
    "severity": ("级别", "Severity"),
}


def _open(path: Path, *, write: bool = False) -> Any:
    from channelscope.project import Project

    return Project(path, read_only=not write)


def _lang(project: Any, lang: str | None) -> str:
    out = lang or project.config.project.locale or "zh-CN"
    if out not in ("zh-CN", "en"):
        raise ChannelscopeError(f"--lang must be zh-CN or en, not '{out}'")
    return out


def _scoped(p: Any, distributors: list[str] | None) -> Any:
    from channelscope.web.compliance_api import subtree

    c = p.analysis.compliance
    return c.scoped(distributors=subtree(p, distributors)) if distributors else c


def _show(df: pd.DataFrame, title: str, lang: str, as_json: bool) -> None:
    if as_json:
        rows = json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False, default_handler=str))
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    i = 0 if lang == "zh-CN" else 1
    t = Table(title=title)
    for c in df.columns:
        t.add_column(LABELS.get(str(c), (str(c), str(c)))[i], justify="right" if df[c].dtype.kind in "fiu" else "left")
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append("")
            elif isinstance(v, float):
                cells.append(f"{v:,.3f}" if abs(v) < 1 else f"{v:,.2f}")
            else:
                cells.append(str(v)[:10] if isinstance(v, pd.Timestamp) else str(v))
        t.add_row(*cells)
    console.print(t)


@compliance_app.command("violations")
def violations_cmd(
    project: ProjectOpt = Path("."), distributor: DistOpt = None, lang: LangOpt = None, as_json: JsonOpt = False
) -> None:
    """Price violations (乱价) per distributor x SKU: lines and units under MAP, depth, first/last seen, repeats."""
    with _open(project) as p:
        lg = _lang(p, lang)
        df = _scoped(p, distributor).violations()
    cols = [
        "distributor_id",
        "sku",
        "lines",
        "units",
        "depth_mean",
        "depth_worst",
        "worst_order",
        "worst_unit_paid",
        "first_seen",
        "last_seen",
        "duration_days",
        "repeat_days",
    ]
    _show(
        df[cols] if not df.empty else df, "低于最低限价（乱价）" if lg == "zh-CN" else "Price violations", lg, as_json
    )


@compliance_app.command("regions")
def regions_cmd(
    project: ProjectOpt = Path("."), distributor: DistOpt = None, lang: LangOpt = None, as_json: JsonOpt = False
) -> None:
    """Cross-region orders (窜货) per distributor x destination region."""
    with _open(project) as p:
        lg = _lang(p, lang)
        df = _scoped(p, distributor).regions()
    _show(df, "跨区销售（窜货）" if lg == "zh-CN" else "Cross-region orders", lg, as_json)


@compliance_app.command("commissions")
def commissions_cmd(
    project: ProjectOpt = Path("."),
    distributor: DistOpt = None,
    all_months: Annotated[bool, typer.Option("--all", help="every month, not only the differences")] = False,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Commission owed (rates and tier override) vs paid (fees) per distributor and month."""
    with _open(project) as p:
        lg = _lang(p, lang)
        df = _scoped(p, distributor).commissions()
    if not all_months:
        df = df[df["flagged"]]
    cols = ["distributor_id", "month", "sales", "owed", "paid", "difference"]
    _show(df[cols], "佣金 应付 vs 已付" if lg == "zh-CN" else "Commission owed vs paid", lg, as_json)


@compliance_app.command("score")
def score_cmd(
    project: ProjectOpt = Path("."), distributor: DistOpt = None, lang: LangOpt = None, as_json: JsonOpt = False
) -> None:
    """Dealer compliance score (0-100) per distributor and the points each component takes."""
    with _open(project) as p:
        lg = _lang(p, lang)
        df = _scoped(p, distributor).score()
    cols = [
        "distributor_id",
        "score",
        "minus_violations",
        "minus_depth",
        "minus_recency",
        "minus_repeats",
        "minus_out_of_region",
        "violation_lines",
        "repeat_days",
        "out_of_region_orders",
    ]
    _show(df[cols], "经销商合规分" if lg == "zh-CN" else "Dealer compliance score", lg, as_json)


@compliance_app.command("cases")
def cases_cmd(
    project: ProjectOpt = Path("."),
    refresh: Annotated[bool, typer.Option("--refresh", help="open and update cases from today's data")] = False,
    notify: Annotated[
        bool, typer.Option("--notify/--no-notify", help="with --refresh: alert the new and repeated cases' managers")
    ] = True,
    move: Annotated[str | None, typer.Option("--case", help="case id (or prefix) to move")] = None,
    to: Annotated[str | None, typer.Option("--to", help="notified, acknowledged, resolved, appealed")] = None,
    note: Annotated[str, typer.Option(help="why (kept in the case's history)")] = "",
    status: Annotated[str | None, typer.Option(help="only cases in this status")] = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The cases inbox; --refresh opens cases from the data, --case ID --to STATUS moves one."""
    from channelscope.monitor.compliance_cases import list_cases, move_case, notify_cases, refresh_cases

    with _open(project, write=refresh or move is not None) as p:
        lg = _lang(p, lang)
        if refresh:
            out = refresh_cases(p)
            console.print(
                f"opened {len(out['opened'])}, updated {len(out['updated'])}, repeated {len(out['repeated'])}"
            )
            if notify:
                sent = notify_cases(p, out)
                names = sorted({m for r in sent["routed"].values() for m in r["managers"]})
                console.print(f"routed to {', '.join(names) or '-'}; notifications queued {sent['queued']}")
        if move is not None:
            if not to:
                raise ChannelscopeError("--case needs --to (notified, acknowledged, resolved, appealed)")
            case = move_case(p, move, to, by="cli", note=note)
            console.print(f"{case['case_id']} -> {case['status']}")
        df = list_cases(p, status=status, managers=True)
    cols = [
        "case_id",
        "kind",
        "distributor_id",
        "sku",
        "status",
        "action",
        "severity",
        "manager",
        "lines",
        "first_seen",
        "last_seen",
    ]
    _show(df[cols] if not df.empty else df, "合规案件" if lg == "zh-CN" else "Compliance cases", lg, as_json)


@compliance_app.command("evidence")
def evidence_cmd(
    case: Annotated[str, typer.Argument(help="case id (or a unique prefix)")],
    project: ProjectOpt = Path("."),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file to write (.pdf or .xlsx)")] = None,
    lang: LangOpt = None,
) -> None:
    """Write the evidence pack of a case as PDF or Excel (by the --out suffix; default <case>.pdf)."""
    from channelscope.monitor.compliance_cases import get_case
    from channelscope.report.evidence_pack import render_evidence

    with _open(project) as p:
        lg = _lang(p, lang)
        c = get_case(p, case)
        target = out or Path(f"evidence-{c['case_id']}.pdf")
        fmt = target.suffix.lstrip(".").lower()
        if fmt not in ("pdf", "xlsx"):
            raise ChannelscopeError(f"--out must end in .pdf or .xlsx, not '{target.name}'")
        target.write_bytes(render_evidence(p, c, fmt, lg))
    console.print(str(target))
