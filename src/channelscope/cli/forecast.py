"""``channelscope forecast ...`` and ``channelscope plan ...``: forecasts, their accuracy, suggested
targets and the inventory plan (zh-CN or en by the project's locale)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from channelscope.cli.alerts import JsonOpt, ProjectOpt, _dump, _project
from channelscope.cli.render import console as make_console

forecast_app = typer.Typer(help="Forecasts: run (backtest, choose, reconcile, store), accuracy, targets.")
plan_app = typer.Typer(help="Plans from the forecasts: inventory (reorder points, stock-out risk, purchases).")
console = make_console()

T = {
    "series": ("序列", "Series"),
    "level": ("层级", "Level"),
    "model": ("模型", "Model"),
    "mean": ("预测", "Forecast"),
    "interval80": ("80% 区间", "80% interval"),
    "period": ("日期", "Period"),
    "mase": ("MASE", "MASE"),
    "coverage_80": ("80% 覆盖率", "80% coverage"),
    "coverage_95": ("95% 覆盖率", "95% coverage"),
    "festival_mae": ("大促日误差(MAE)", "Festival-day MAE"),
    "bias": ("偏差", "Bias"),
    "horizon": ("预测步长(天/周)", "Steps ahead"),
    "by_horizon": ("按预测步长的回测(最后窗口)", "Backtest by steps ahead (last window)"),
    "p50": ("建议目标 P50", "Suggested P50"),
    "p80": ("挑战目标 P80", "Stretch P80"),
    "channel": ("渠道", "Channel"),
    "sku": ("SKU", "SKU"),
    "on_hand": ("在库", "On hand"),
    "reorder_point": ("再订货点", "Reorder point"),
    "days_of_cover": ("可售天数", "Days of cover"),
    "stockout_date": ("预计断货日", "Stock-out date"),
    "suggested_order": ("建议采购量", "Suggested order"),
    "risk": ("风险", "Risk"),
    "at_risk": ("断货风险", "stock-out risk"),
    "overstock": ("积压", "overstock"),
    "stored": ("已保存预测", "Stored forecast run"),
    "saved": ("目标已写入", "Targets written to"),
}


def _t(key: str, lang: str) -> str:
    zh, en = T[key]
    return zh if lang == "zh-CN" else en


def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):,.{digits}f}"


ModelsOpt = Annotated[
    str | None,
    typer.Option(
        "--models",
        help="comma-separated: seasonal_naive,calendar_regression (default), auto_ets,auto_arima,auto_theta,mstl "
        "(statsforecast, series by series), or all",
    ),
]


def _models(option: str | None) -> tuple[str, ...] | None:
    from channelscope.analysis.forecast.models import MODELS

    if not option:
        return None
    return MODELS if option.strip() == "all" else tuple(m.strip() for m in option.split(","))


@forecast_app.command("run")
def run_cmd(
    project: ProjectOpt = Path("."),
    metric: Annotated[str, typer.Option("--metric", "-m", help="gmv, paid_orders or units")] = "gmv",
    hierarchy: Annotated[str, typer.Option("--hierarchy", help="channel, distributor or product")] = "channel",
    horizon: Annotated[int, typer.Option("--horizon", "-h", help="periods ahead (1-90)")] = 28,
    grain: Annotated[str, typer.Option("--grain", help="day or week")] = "day",
    models: ModelsOpt = None,
    windows: Annotated[int, typer.Option("--windows", help="backtest windows")] = 3,
    choose: Annotated[
        str, typer.Option("--choose", help="level: one model per hierarchy level (default); series: one per series")
    ] = "level",
    store: Annotated[bool, typer.Option("--store/--no-store", help="save the run in the warehouse")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Backtest the models, choose one per series, forecast and reconcile; print totals and accuracy."""
    from channelscope.plan.forecasts import save_run

    with _project(project, read_only=not store) as p:
        lang = p.config.project.locale
        run = p.analysis.forecast(
            metric,
            hierarchy=hierarchy,
            horizon=horizon,
            grain=grain,
            models=_models(models),
            windows=windows,
            choose=choose,
        )
        if store:
            save_run(p, run)
    if as_json:
        _dump(
            {
                "run_id": run.run_id,
                "metric": run.metric,
                "hierarchy": run.hierarchy,
                "reconciliation": run.reconciliation,
                "history_end": run.history_end,
                "forecast": run.forecast.drop(columns=["cents"]),
                "accuracy": run.accuracy,
                "horizon_accuracy": run.horizon_accuracy,
            }
        )
        return
    top = run.forecast[run.forecast["level"].isin(["total", "channel"])]
    table = Table(title=f"{run.metric} · {run.hierarchy} · {run.history_end} + {run.horizon} {run.grain}")
    for key in ("series", "model", "mean", "interval80"):
        table.add_column(_t(key, lang), justify="right" if key in ("mean", "interval80") else "left")
    for series, g in top.groupby("series", sort=True):
        table.add_row(
            str(series),
            str(g["model"].iloc[0]),
            _num(g["mean"].sum()),
            f"{_num(g['p10'].mean())} – {_num(g['p90'].mean())} / {run.grain}",
        )
    console.print(table)
    _accuracy_table(run.accuracy, lang)
    _horizon_table(run.horizon_accuracy, lang)
    if store:
        console.print(f"{_t('stored', lang)}: {run.run_id}")


def _accuracy_table(acc: pd.DataFrame, lang: str, title: str | None = None) -> None:
    table = Table(title=title or ("backtest" if lang != "zh-CN" else "回测"))
    with_horizon = "horizon" in acc.columns
    keys = ("level", "horizon") if with_horizon else ("level",)
    for key in (*keys, "model", "mase", "bias", "coverage_80", "coverage_95", "festival_mae"):
        table.add_column(_t(key, lang))
    for r in acc.to_dict("records"):
        table.add_row(
            str(r["level"]),
            *([str(r["horizon"]) if isinstance(r["horizon"], str) else "all"] if with_horizon else []),
            str(r["model"]),
            _num(r.get("mase"), 3),
            _num(r.get("bias"), 3),
            _num(r.get("coverage_80"), 3),
            _num(r.get("coverage_95"), 3),
            _num(r.get("festival_mae")),
        )
    console.print(table)


def _horizon_table(acc: pd.DataFrame, lang: str) -> None:
    """MASE and 80% coverage of the chosen models and of seasonal naive, per level and steps ahead."""
    if acc.empty:
        return
    table = Table(title=_t("by_horizon", lang))
    for key in ("level", "horizon"):
        table.add_column(_t(key, lang))
    table.add_column(f"MASE ({'所选' if lang == 'zh-CN' else 'selected'})", justify="right")
    table.add_column(f"MASE ({'季节性朴素' if lang == 'zh-CN' else 'seasonal naive'})", justify="right")
    table.add_column(_t("coverage_80", lang), justify="right")
    key = acc.set_index(["level", "horizon", "model"])
    pairs = [(lv, hz) for lv in acc["level"].unique() for hz in acc["horizon"].unique()]
    for level, horizon in pairs:
        sel, naive = key.loc[(level, horizon, "selected")], key.loc[(level, horizon, "seasonal_naive")]
        table.add_row(
            str(level), str(horizon), _num(sel["mase"], 3), _num(naive["mase"], 3), _num(sel["coverage_80"], 3)
        )
    console.print(table)


@forecast_app.command("accuracy")
def accuracy_cmd(
    project: ProjectOpt = Path("."),
    run_id: Annotated[str | None, typer.Option("--run", help="a stored run (default: the newest)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a stored run against the actuals that arrived since, and list past accuracy."""
    from channelscope.plan.forecasts import accuracy_history, track_accuracy

    with _project(project) as p:
        lang = p.config.project.locale
        tracked = track_accuracy(p, run_id)
        history = accuracy_history(p)
    if as_json:
        _dump({"tracked": tracked, "history": history})
        return
    if tracked.empty:
        console.print("no actuals yet for this run" if lang != "zh-CN" else "该预测期内尚无实际数据")
    else:
        _accuracy_table(tracked, lang, "tracked against actuals" if lang != "zh-CN" else "与实际值对比")
    past = history[history["horizon"].isna() | (history["horizon"] == "all")] if len(history) else history
    _accuracy_table(
        past.head(30).rename(columns={"series_count": "series"}).drop(columns=["horizon"], errors="ignore"),
        lang,
        "stored accuracy (whole windows), newest first" if lang != "zh-CN" else "历史准确率(整个窗口),最新在前",
    )


@forecast_app.command("targets")
def targets_cmd(
    project: ProjectOpt = Path("."),
    metric: Annotated[str, typer.Option("--metric", "-m")] = "gmv",
    horizon: Annotated[int, typer.Option("--horizon", "-h", help="days ahead (up to 90)")] = 90,
    accept: Annotated[str | None, typer.Option("--accept", help="write p50 or p80 into the targets CSV")] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Suggested monthly targets per channel: P50 (expected) and stretch P80, from a daily forecast."""
    from channelscope.plan.targets import accept_targets, suggest_targets

    with _project(project, read_only=accept is None) as p:
        lang = p.config.project.locale
        run = p.analysis.forecast(metric, hierarchy="channel", horizon=horizon)
        sug = suggest_targets(run)
        path = accept_targets(p, sug, level=accept, owner=owner) if accept else None
    if as_json:
        _dump({"suggestions": sug, "written_to": str(path) if path else None})
        return
    table = Table(title=f"{metric}")
    for key in ("channel", "period", "p50", "p80"):
        table.add_column(_t(key, lang))
    for r in sug.to_dict("records"):
        table.add_row(r["channel"] or "total", r["period"], _num(r["p50"]), _num(r["p80"]))
    console.print(table)
    if path:
        console.print(f"{_t('saved', lang)}: {path}")


@plan_app.command("inventory")
def inventory_cmd(
    project: ProjectOpt = Path("."),
    on_hand: Annotated[
        Path | None, typer.Option("--on-hand", help="CSV date,sku,location,on_hand (default: the inventory table)")
    ] = None,
    lead_times: Annotated[
        Path | None,
        typer.Option(
            "--lead-times", help="CSV sku,lead_time_days[,case_pack,on_order] (default: the lead_times table)"
        ),
    ] = None,
    service_level: Annotated[float, typer.Option("--service-level")] = 0.95,
    review_days: Annotated[int, typer.Option("--review-days")] = 7,
    overstock_days: Annotated[float, typer.Option("--overstock-days")] = 120.0,
    excel: Annotated[Path | None, typer.Option("--excel", help="write the purchase suggestion here (.xlsx)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Reorder points, days of cover, SKUs at risk of stock-out and a purchase suggestion."""
    from channelscope.plan.inventory import inventory_plan, to_excel

    with _project(project, read_only=True) as p:
        lang = p.config.project.locale
        frame = inventory_plan(
            p,
            on_hand=on_hand,
            lead_times=lead_times,
            service_level=service_level,
            review_days=review_days,
            overstock_days=overstock_days,
        )
    if excel:
        to_excel(frame, excel)
    if as_json:
        _dump({"plan": frame})
        return
    table = Table(title="inventory plan" if lang != "zh-CN" else "库存计划")
    for key in ("sku", "on_hand", "reorder_point", "days_of_cover", "stockout_date", "suggested_order", "risk"):
        table.add_column(_t(key, lang))
    for r in frame.sort_values(["at_risk", "suggested_order"], ascending=False).to_dict("records"):
        risk = ", ".join(_t(k, lang) for k in ("at_risk", "overstock") if r[k])
        table.add_row(
            r["sku"],
            _num(r["on_hand"], 0),
            _num(r["reorder_point"], 1),
            _num(r["days_of_cover"], 1),
            str(r["stockout_date"] or "—"),
            _num(r["suggested_order"], 0),
            f"[red]{risk}[/]" if r["at_risk"] else risk,
        )
    console.print(table)
