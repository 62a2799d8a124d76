"""``channelscope marketing``: ROI on every basis, attribution, media mix model, promotion uplift, the
budget allocator, and the media scenario demo. Exit codes: 0 ok, 2 errors (bad option, no data)."""

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

marketing_app = typer.Typer(help="Marketing ROI: roi, attribution, mmm, uplift, allocate, demo.", no_args_is_help=True)
console = make_console()

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="project folder", envvar="CHANNELSCOPE_PROJECT")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="zh-CN or en (default: the project's locale)")]
StartOpt = Annotated[str | None, typer.Option("--start", help="first business date (YYYY-MM-DD)")]
EndOpt = Annotated[str | None, typer.Option("--end", help="last business date (YYYY-MM-DD)")]

#: column labels of the tables, zh-CN and en
LABELS: dict[str, tuple[str, str]] = {
    "campaign_id": ("活动", "Campaign"),
    "platform": ("广告平台", "Ad platform"),
    "label": ("渠道/活动", "Channel/campaign"),
    "spend": ("花费(元)", "Spend (yuan)"),
    "reported_revenue": ("平台报告GMV", "Platform-reported GMV"),
    "orders_revenue": ("订单口径GMV", "Order-basis GMV"),
    "attributed_revenue": ("归因GMV", "Attributed GMV"),
    "incremental_revenue": ("增量GMV", "Incremental GMV"),
    "roas_platform": ("ROAS 平台口径", "ROAS platform"),
    "roas_orders": ("ROAS 订单口径", "ROAS orders"),
    "roas_attributed": ("ROAS 归因口径", "ROAS attributed"),
    "roas_incremental": ("ROAS 增量口径", "ROAS incremental"),
    "marginal_roas": ("边际ROAS", "Marginal ROAS"),
    "roi_incremental": ("ROI 增量口径(含券成本)", "ROI incremental (on cost)"),
    "discount_cost": ("券/红包成本", "Coupons & 红包"),
    "cost": ("总成本", "Cost"),
    "roas_cost": ("ROAS 总成本口径", "ROAS on cost"),
    "contribution": ("贡献GMV", "Contribution"),
    "roas": ("ROAS", "ROAS"),
    "roas_low": ("ROAS 下限", "ROAS low"),
    "roas_high": ("ROAS 上限", "ROAS high"),
    "decay": ("衰减", "Decay"),
    "promotion": ("促销", "Promotion"),
    "start": ("开始", "Start"),
    "days": ("天数", "Days"),
    "uplift": ("增量GMV", "Uplift"),
    "uplift_low": ("下限", "Low"),
    "uplift_high": ("上限", "High"),
    "uplift_pct": ("增幅", "Uplift %"),
    "hangover": ("透支(之后)", "Hangover"),
    "dip": ("观望(之前)", "Dip before"),
    "cannibalization": ("蚕食其他渠道", "Cannibalized"),
    "net_uplift": ("净增量", "Net uplift"),
    "current_spend": ("当前花费", "Current spend"),
    "recommended_spend": ("建议花费", "Recommended spend"),
    "scale": ("倍数", "Scale"),
    "current_contribution": ("当前贡献", "Current contribution"),
    "expected_contribution": ("预期贡献", "Expected contribution"),
    "missing": ("缺失原因", "Missing"),
}
MODEL_LABELS = {
    "first": ("首次触点", "First touch"),
    "last": ("末次触点", "Last touch"),
    "last_non_direct": ("末次非直接", "Last non-direct"),
    "linear": ("线性", "Linear"),
    "time_decay": ("时间衰减", "Time decay"),
    "position": ("位置(U型)", "Position based"),
    "markov": ("马尔可夫", "Markov"),
    "shapley": ("Shapley", "Shapley"),
}


def _open(path: Path) -> Any:
    from channelscope.project import Project

    return Project(path, read_only=True)


def _lang(project: Any, lang: str | None) -> str:
    out = lang or project.config.project.locale or "zh-CN"
    if out not in ("zh-CN", "en"):
        raise ChannelscopeError(f"--lang must be zh-CN or en, not '{out}'")
    return out


def _table(df: pd.DataFrame, title: str, lang: str, labels: dict[str, tuple[str, str]] = LABELS) -> Table:
    t = Table(title=title)
    i = 0 if lang == "zh-CN" else 1
    for c in df.columns:
        t.add_column(labels.get(str(c), (str(c), str(c)))[i], justify="right" if df[c].dtype.kind in "fiu" else "left")
    for row in df.itertuples(index=False):
        t.add_row(*["" if pd.isna(v) else f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row])
    return t


def _dump(obj: Any) -> None:
    def default(o: Any) -> Any:
        if isinstance(o, pd.DataFrame):
            return json.loads(o.to_json(orient="records", date_format="iso"))
        return str(o)

    sys.stdout.write(json.dumps(obj, default=default, ensure_ascii=False, indent=2) + "\n")


@marketing_app.command("attribution")
def attribution_cmd(
    project: ProjectOpt = Path("."),
    by: Annotated[str, typer.Option(help="channel or campaign")] = "channel",
    start: StartOpt = None,
    end: EndOpt = None,
    lookback_days: Annotated[int, typer.Option(help="touches this many days before an order")] = 30,
    markov_order: Annotated[int, typer.Option(help="Markov chain order, 1-3")] = 1,
    value: Annotated[str, typer.Option(help="conversions or revenue")] = "conversions",
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Conversions (or GMV) credited per channel or campaign by every model, side by side."""
    if value not in ("conversions", "revenue"):
        raise ChannelscopeError(f"--value must be conversions or revenue, not '{value}'")
    with _open(project) as p:
        lg = _lang(p, lang)
        result = p.analysis.attribution(
            by=by, start=start, end=end, lookback_days=lookback_days, markov_order=markov_order
        )
    if as_json:
        _dump({"basis": result.basis, "credits": result.credits})
        return
    wide = result.table(value).reset_index()
    title = "归因对比" if lg == "zh-CN" else "Attribution models"
    console.print(_table(wide, f"{title} ({value}; {result.conversions} orders)", lg, {**LABELS, **MODEL_LABELS}))


@marketing_app.command("mmm")
def mmm_cmd(
    project: ProjectOpt = Path("."),
    start: StartOpt = None,
    end: EndOpt = None,
    adstock: Annotated[str, typer.Option(help="geometric or weibull")] = "geometric",
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The media mix model: contribution, ROAS (95% interval) and marginal ROAS per ad platform."""
    with _open(project) as p:
        lg = _lang(p, lang)
        fit = p.analysis.media_mix(start=start, end=end, adstock=adstock)
    cols = ["platform", "spend", "contribution", "roas", "roas_low", "roas_high", "marginal_roas"]
    if as_json:
        _dump({"fit": fit.fit, "basis": fit.basis, "platforms": fit.platforms})
        return
    console.print(_table(fit.platforms[cols], "媒体组合模型" if lg == "zh-CN" else "Media mix model", lg))
    f = fit.fit
    console.print(
        f"R² {f['r2']:.3f}  MAPE {f['mape']:.2%}  out-of-sample MAPE {f['mape_out_of_sample']:.2%} "
        f"({int(f['holdout_days'])} days)  fit {f['fit_seconds']:.1f} s"
    )
    if not f["reliable"]:
        console.print(
            "[yellow]模型解释力不足，ROAS 不可作为预算依据[/]"
            if lg == "zh-CN"
            else "[yellow]the model explains too little: do not base budgets on these ROAS[/]"
        )


@marketing_app.command("uplift")
def uplift_cmd(
    project: ProjectOpt = Path("."),
    margin_rate: Annotated[float | None, typer.Option(help="contribution margin per yuan of GMV")] = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Each promotion's incremental GMV against its counterfactual, with a 95% interval, the dip before, the
    hangover after and what a promotion of one channel took from the others."""
    with _open(project) as p:
        lg = _lang(p, lang)
        table, daily = p.analysis.promotion_uplift(margin_rate=margin_rate)
    if as_json:
        _dump({"promotions": table, "daily": daily})
        return
    cols = ["promotion", "start", "days", "uplift", "uplift_low", "uplift_high", "uplift_pct", "dip", "hangover"]
    cols += ["net_uplift", "cannibalization"]
    console.print(_table(table[cols], "促销增量" if lg == "zh-CN" else "Promotion uplift", lg))


@marketing_app.command("allocate")
def allocate_cmd(
    project: ProjectOpt = Path("."),
    total: Annotated[float | None, typer.Option(help="budget over the period (yuan); default: keep today's")] = None,
    fixed: Annotated[list[str] | None, typer.Option("--fixed", help="platforms whose spend stays")] = None,
    minimum: Annotated[list[str] | None, typer.Option("--min", help="platform=yuan")] = None,
    maximum: Annotated[list[str] | None, typer.Option("--max", help="platform=yuan")] = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The split of ad spend that maximises incremental GMV, with the expected gain and its interval."""
    with _open(project) as p:
        lg = _lang(p, lang)
        plan = p.analysis.allocate_budget(
            total=total, fixed=fixed or [], minimum=_pairs(minimum, "--min"), maximum=_pairs(maximum, "--max")
        )
    if as_json:
        _dump({k: getattr(plan, k) for k in ("total", "objective", "expected_gain", "gain_low", "gain_high", "split")})
        return
    console.print(_table(plan.platforms, "预算分配建议" if lg == "zh-CN" else "Budget allocation", lg))
    label = "预期增量GMV" if lg == "zh-CN" else "Expected gain"
    console.print(f"{label}: {plan.expected_gain:,.2f} ({plan.gain_low:,.2f} .. {plan.gain_high:,.2f}, 95%)")


def _pairs(items: list[str] | None, option: str) -> dict[str, float]:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ChannelscopeError(f"{option} takes platform=yuan (got '{item}')")
    return out


@marketing_app.command("roi")
def roi_cmd(
    project: ProjectOpt = Path("."),
    start: StartOpt = None,
    end: EndOpt = None,
    margin_rate: Annotated[float | None, typer.Option(help="contribution margin per yuan of GMV")] = None,
    with_models: Annotated[bool, typer.Option("--models/--no-models", help="fit the MMM and attribution")] = True,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """ROI per campaign (ads and promotions) on every basis (platform-reported, orders, attributed, incremental),
    with coupons and 红包 given on the campaign's orders counted as cost."""
    with _open(project) as p:
        lg = _lang(p, lang)
        fit = p.analysis.media_mix(start=start, end=end) if with_models else None
        attributed = p.analysis.attribution(by="campaign", start=start, end=end) if with_models else None
        promotions = p.analysis.promotion_uplift(fit)[0] if fit is not None else None
        roi = p.analysis.marketing_roi(
            start=start, end=end, fit=fit, attributed=attributed, margin_rate=margin_rate, uplift=promotions
        )
    if as_json:
        _dump(roi)
        return
    cols = [
        "campaign_id",
        "platform",
        "spend",
        "discount_cost",
        "cost",
        "roas_platform",
        "roas_orders",
        "roas_attributed",
        "roas_incremental",
        "marginal_roas",
        "roi_incremental",
    ]
    console.print(_table(roi[cols], "营销ROI(各口径)" if lg == "zh-CN" else "Marketing ROI by basis", lg))


@marketing_app.command("demo")
def demo_cmd(
    folder: Annotated[Path, typer.Argument(help="where to create the media scenario project")] = Path("media-demo"),
    seed: int = 7,
    aov_scale: Annotated[float, typer.Option(help="larger = fewer, bigger orders (same GMV)")] = 10.0,
) -> None:
    """Generate and ingest the media scenario (ad spend with adstock and saturation, promotions, touchpoints)."""
    from channelscope.clean.pseudonymize import write_new_key
    from channelscope.demo.media import generate_media_demo
    from channelscope.project import Project

    truth = generate_media_demo(folder, seed=seed, aov_scale=aov_scale)
    key = folder / "secrets" / "pseudonym.key"
    if not key.exists():
        write_new_key(key)
    with Project(folder) as p:
        p.ingest()
    console.print(f"[green]generated and ingested[/] {folder}: {truth['orders']} orders; truth in ground_truth.json")
    console.print(f"next: channelscope marketing roi -p {folder}")
