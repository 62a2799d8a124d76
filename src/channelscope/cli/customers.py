"""``channelscope customers``: cohorts, repurchase, RFM segments and migration, segment export, CLV,
cross-channel overlap. Tables in zh-CN or en; ``--json`` for machines. Exit codes: 0 ok, 2 errors."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from channelscope.analysis.customer_labels import KINDS, column_label
from channelscope.cli.render import console as make_console

customers_app = typer.Typer(
    help="Customers: cohorts, repurchase, RFM segments and migration, CRM exports, CLV, cross-channel.",
    no_args_is_help=True,
)
console = make_console()

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="project folder", envvar="CHANNELSCOPE_PROJECT")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
LangOpt = Annotated[str | None, typer.Option(help="zh-CN or en (default: the project's locale)")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="business date YYYY-MM-DD (default: the latest)")]
ChannelOpt = Annotated[
    list[str] | None, typer.Option("--channel", "-c", help="only these channels' orders and customers (repeat)")
]


def _project(path: Path) -> Any:
    from channelscope.project import Project

    return Project(path, read_only=True)


def _lang(p: Any, lang: str | None) -> str:
    return lang or p.config.project.locale


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 1 else f"{v:,.2f}"
    if isinstance(v, str) and v in KINDS:
        return v
    return str(v)


def _show(df: pd.DataFrame, title: str, lang: str, as_json: bool, *, index: bool = False) -> None:
    if index:
        df = df.reset_index()
    if as_json:
        sys.stdout.write(
            json.dumps(json.loads(df.to_json(orient="records", date_format="iso")), ensure_ascii=False, indent=2) + "\n"
        )
        return
    t = Table(title=title)
    for c in df.columns:
        t.add_column(column_label(str(c), lang), justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
    for row in df.itertuples(index=False):
        t.add_row(*[_cell(v) for v in row])
    console.print(t)


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang.lower().startswith("zh") else en


@customers_app.command("cohorts")
def cohorts(
    project: ProjectOpt = Path("."),
    grain: Annotated[str, typer.Option(help="week or month")] = "month",
    by: Annotated[
        str | None, typer.Option(help="acquisition_channel, acquisition_distributor, acquisition_campaign")
    ] = None,
    as_of: AsOfOpt = None,
    channel: ChannelOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Acquisition cohorts: customers retained, orders and revenue by period since the first paid order."""
    with _project(project) as p:
        df = p.analysis.customers.cohorts(grain=grain, by=by, as_of=as_of, channels=channel)
        lg = _lang(p, lang)
        _show(df, _t(lg, "获客批次留存", "Acquisition cohorts"), lg, as_json)


@customers_app.command("repurchase")
def repurchase(
    project: ProjectOpt = Path("."),
    as_of: AsOfOpt = None,
    by: Annotated[str, typer.Option(help="acquisition_channel, acquisition_distributor, acquisition_campaign")] = (
        "acquisition_channel"
    ),
    channel: ChannelOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Share of customers buying again within 30/60/90/180 days of their first purchase."""
    with _project(project) as p:
        df = p.analysis.customers.repurchase(as_of=as_of, by=by, channels=channel)
        cols = [by, "customers", "repeat_customers", *(c for c in df.columns if c.startswith("rate_"))]
        lg = _lang(p, lang)
        _show(df if as_json else df[cols], _t(lg, "复购率", "Repurchase"), lg, as_json)


@customers_app.command("rfm")
def rfm(
    project: ProjectOpt = Path("."),
    as_of: AsOfOpt = None,
    recency: Annotated[float | None, typer.Option(help="high R when recency <= this many days (default: mean)")] = None,
    frequency: Annotated[float | None, typer.Option(help="high F when orders >= this (default: mean)")] = None,
    monetary: Annotated[float | None, typer.Option(help="high M when value >= this (default: mean)")] = None,
    channel: ChannelOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Customers in the eight RFM segments (重要价值 ... 一般挽留) as of a date."""
    from channelscope.analysis.rfm import RfmBins

    bins = RfmBins(recency_days=recency, frequency=frequency, monetary=monetary)
    with _project(project) as p:
        lg = _lang(p, lang)
        df = p.analysis.customers.rfm(
            as_of=as_of, bins=bins, channels=channel, lang="zh" if lg.startswith("zh") else "en"
        )
        _show(df, _t(lg, "RFM 客户分群", "RFM segments"), lg, as_json)


@customers_app.command("migration")
def migration(
    start: Annotated[str, typer.Argument(help="first date YYYY-MM-DD")],
    end: Annotated[str | None, typer.Argument(help="second date (default: the latest)")] = None,
    project: ProjectOpt = Path("."),
    channel: ChannelOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Customers moving between RFM segments from one date to another (rows: from; columns: to)."""
    from channelscope.analysis.rfm import segment_label

    with _project(project) as p:
        lg = "zh" if _lang(p, lang).startswith("zh") else "en"
        m = p.analysis.customers.migration(start, end, channels=channel)
        if not as_json:
            m = m.rename(index=lambda s: segment_label(s, lg), columns=lambda s: segment_label(s, lg))
        _show(m, _t(lg, "RFM 分群迁移", "RFM migration"), lg, as_json, index=True)


@customers_app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="CSV file to write")],
    project: ProjectOpt = Path("."),
    segment: Annotated[
        list[str] | None, typer.Option("--segment", "-s", help="segment code (repeat); all when none")
    ] = None,
    as_of: AsOfOpt = None,
    channel: ChannelOpt = None,
) -> None:
    """Write the pseudonymous customers of RFM segments as CSV for a CRM campaign."""
    with _project(project) as p:
        n = p.analysis.customers.export_segment(out, segments=segment, as_of=as_of, channels=channel)
    console.print(f"{n} customers -> {out}")


@customers_app.command("clv")
def clv(
    project: ProjectOpt = Path("."),
    calibration_end: Annotated[str | None, typer.Option(help="last day of the calibration period")] = None,
    holdout_end: Annotated[
        str | None, typer.Option(help="last day of the holdout period (default: the latest)")
    ] = None,
    holdout_days: Annotated[int, typer.Option(help="holdout length when no calibration end is given (0: none)")] = 180,
    by: Annotated[str, typer.Option(help="acquisition_channel, acquisition_distributor, acquisition_campaign")] = (
        "acquisition_channel"
    ),
    channel: ChannelOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """BG/NBD + Gamma-Gamma: expected purchases and value over 90/180/365 days by acquisition channel,
    the holdout check, and CLV / CAC."""
    with _project(project) as p:
        c = p.analysis.customers
        r = c.clv(
            calibration_end=calibration_end,
            holdout_end=holdout_end,
            holdout_days=holdout_days or None,
            by=by,
            channels=channel,
        )
        lg = _lang(p, lang)
        cac = c.clv_cac(r) if by == "acquisition_channel" else pd.DataFrame()
        if as_json:
            sys.stdout.write(json.dumps(_clv_json(r, cac), ensure_ascii=False, indent=2, default=str) + "\n")
            return
        for f in (r.bgnbd, r.gamma_gamma):
            params = ", ".join(f"{k}={v:.4g}" for k, v in f.params.items())
            ll = f"{f.log_likelihood:.2f}" if f.log_likelihood is not None else ""
            state = params if f.ok else f"[yellow]{f.reason}[/]"
            console.print(f"[bold]{f.model}[/] (n={f.n}) {state}  LL={ll}" + (f"  ({f.note})" if f.note else ""))
        if not r.bgnbd.ok:
            return
        _show(
            r.rollup,
            _t(lg, f"预测 (校准期截至 {r.calibration_end})", f"Predictions (calibration to {r.calibration_end})"),
            lg,
            False,
        )
        if r.holdout is not None:
            _show(
                r.holdout,
                _t(
                    lg,
                    f"验证期 {r.calibration_end} 至 {r.holdout_end}",
                    f"Holdout {r.calibration_end} to {r.holdout_end}",
                ),
                lg,
                False,
            )
        if not cac.empty:
            _show(cac, "CLV / CAC", lg, False)


def _clv_json(r: Any, cac: pd.DataFrame) -> dict[str, Any]:
    def records(df: pd.DataFrame | None) -> Any:
        return None if df is None else json.loads(df.to_json(orient="records", date_format="iso"))

    fit = lambda f: {  # noqa: E731
        "params": f.params,
        "log_likelihood": f.log_likelihood,
        "n": f.n,
        "converged": f.converged,
        "reason": f.reason,
        "note": f.note,
    }
    return {
        "calibration_end": str(r.calibration_end),
        "holdout_end": str(r.holdout_end) if r.holdout_end else None,
        "bgnbd": fit(r.bgnbd),
        "gamma_gamma": fit(r.gamma_gamma),
        "rollup": records(r.rollup),
        "holdout": records(r.holdout),
        "clv_cac": records(cac),
    }


@customers_app.command("overlap")
def overlap(
    project: ProjectOpt = Path("."),
    as_of: AsOfOpt = None,
    channel: ChannelOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cross-channel customers: overlap of channels, first -> second order channel, multi-channel value."""
    with _project(project) as p:
        c = p.analysis.customers
        lg = _lang(p, lang)
        frames = {
            "overlap": c.overlap(as_of=as_of, channels=channel),
            "first_second": c.first_second_channel(as_of=as_of, channels=channel),
            "multi_channel": c.multi_channel_value(as_of=as_of, channels=channel),
        }
        if as_json:
            out = {k: json.loads(v.reset_index().to_json(orient="records")) for k, v in frames.items()}
            sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
            return
        _show(frames["overlap"], _t(lg, "渠道客户重叠", "Channel overlap"), lg, False, index=True)
        _show(
            frames["first_second"],
            _t(lg, "首单渠道 -> 第二单渠道", "First -> second order channel"),
            lg,
            False,
            index=True,
        )
        mv = frames["multi_channel"].copy()
        mv["kind"] = [KINDS[k][0 if lg.startswith("zh") else 1] for k in mv["kind"]]
        _show(mv, _t(lg, "多渠道客户价值", "Multi-channel customers"), lg, False)


StartOpt = Annotated[str | None, typer.Option("--start", help="first business date YYYY-MM-DD (default: all)")]
EndOpt = Annotated[str | None, typer.Option("--end", help="last business date YYYY-MM-DD (default: all)")]


@customers_app.command("funnel")
def funnel(
    project: ProjectOpt = Path("."),
    by: Annotated[
        list[str] | None, typer.Option("--by", help="channel and/or category (repeat; default both, 'none': total)")
    ] = None,
    start: StartOpt = None,
    end: EndOpt = None,
    channel: ChannelOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Behaviour funnel from the events: view -> cart/favourite -> purchase per channel and category, with
    conversion and the median seconds between steps. A session ends after 30 minutes without an event."""
    from channelscope.analysis.paths import FUNNEL_BY

    cut = [] if by == ["none"] else (by or list(FUNNEL_BY))
    with _project(project) as p:
        c = p.analysis.customers
        f = c.funnel(by=cut, start=start, end=end, channels=channel)
        s = c.sessions(start=start, end=end, channels=channel)
        lg = _lang(p, lang)
        if as_json:
            out = {k: json.loads(v.to_json(orient="records")) for k, v in (("sessions", s), ("funnel", f))}
            sys.stdout.write(json.dumps(out, ensure_ascii=False, indent=2) + "\n")
            return
        if f.empty:
            console.print(_t(lg, "没有行为数据 (events 表为空或不在所选范围)", "No behaviour events in this range"))
            return
        _show(s, _t(lg, "会话 (间隔超过30分钟即为新会话)", "Sessions (a new one after 30 minutes idle)"), lg, False)
        _show(f, _t(lg, "浏览 → 加购/收藏 → 购买 漏斗", "View → cart/favourite → purchase funnel"), lg, False)


@customers_app.command("paths")
def paths(
    project: ProjectOpt = Path("."),
    top: Annotated[int, typer.Option(min=1, max=1000, help="paths shown per outcome")] = 10,
    by_channel: Annotated[bool, typer.Option("--by-channel", help="the top paths of each channel")] = False,
    start: StartOpt = None,
    end: EndOpt = None,
    channel: ChannelOpt = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The most common behaviour paths to purchase and to drop-off (event types in order, a repeat counted once,
    up to the first purchase)."""
    from channelscope.analysis.customer_labels import path_label

    with _project(project) as p:
        df = p.analysis.customers.paths(start=start, end=end, channels=channel, by_channel=by_channel, top=top)
        lg = _lang(p, lang)
        if as_json:
            _show(df, "", lg, True)
            return
        if df.empty:
            console.print(_t(lg, "没有行为数据 (events 表为空或不在所选范围)", "No behaviour events in this range"))
            return
        for outcome, part in df.groupby("outcome", sort=False):
            shown = part.drop(columns="outcome").assign(path=[path_label(x, lg) for x in part["path"]])
            title = (
                _t(lg, "购买路径", "Paths to purchase")
                if outcome == "purchase"
                else _t(lg, "流失路径", "Paths to drop-off")
            )
            _show(shown, title, lg, False)
