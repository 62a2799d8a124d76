"""Evaluate alert rules against the warehouse: one KPI query per rule (by its scope dimensions and grain),
never one per row; Python only compares the aggregates with the rule's bounds and writes the evidence."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from dateutil.relativedelta import relativedelta

from channelscope.config.rules import (
    AnomalyRule,
    ChangeRule,
    FreshnessRule,
    PriceViolationRule,
    QuarantineRateRule,
    RepeatedViolationRule,
    SilenceRule,
    StockoutRiskRule,
    TargetRule,
    ThresholdRule,
    duration_hours,
)
from channelscope.errors import ConfigError
from channelscope.monitor import evidence as E
from channelscope.monitor.findings import Evaluation, Finding
from channelscope.monitor.rules import check_rules

if TYPE_CHECKING:
    from channelscope.project import Project

__all__ = ["base_range", "evaluate_rules", "period_range"]


@dataclass
class _Run:
    project: Project
    as_of: dt.date
    now: dt.datetime  # naive UTC, like the ledger's timestamps


def evaluate_rules(
    project: Project,
    *,
    rules: list[str] | None = None,
    group: str | None = None,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Evaluation:
    """Evaluate the project's alert rules (the named ones, or the enabled ones of ``group``, or all enabled).

    as_of: the business date judged (default: the latest business date with orders). now: the time data
    alerts are judged at (default: now, UTC). A rule that fails to evaluate is listed in ``errors`` and the
    others still run; ``checked`` lists the rules evaluated successfully (only their open alerts may be
    resolved). A rule naming an unknown metric, source or channel raises ConfigError with file, line and key.
    """
    alerts = project.config.alerts
    configured = list(alerts.rules) if alerts else []
    if rules is not None:
        names = {r.name for r in configured}
        unknown = [n for n in rules if n not in names]
        if unknown:
            raise ConfigError(
                f"unknown alert rule(s) {', '.join(unknown)}; configured: {', '.join(sorted(names)) or 'none'}",
                file=str(project.folder / "channelscope.yaml"),
            )
        chosen = [r for r in configured if r.name in rules and (group is None or r.group == group)]
    else:
        chosen = [r for r in configured if r.enabled and (group is None or r.group == group)]
    check_rules(project)
    out = Evaluation()
    if not chosen:
        return out
    day = as_of or project.latest_date() or dt.date.today()
    moment = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    run = _Run(project, day, moment)
    for rule in chosen:
        try:
            found = _EVALUATORS[rule.kind](run, rule)
        except Exception as exc:  # one broken rule must not silence the others
            out.errors.append(f"{rule.name}: {type(exc).__name__}: {exc}")
            continue
        out.findings += found
        out.checked.append(rule.name)
    return out


# ---- periods --------------------------------------------------------------------------------------------


def period_range(grain: str, as_of: dt.date, complete: bool = False) -> tuple[dt.date, dt.date]:
    """The period a rule judges: the day of as_of; or its ISO week / month to date; or (``complete``) the last
    whole week / month that ended on or before as_of."""
    if grain == "day":
        return as_of, as_of
    if grain == "week":
        start = as_of - dt.timedelta(days=as_of.weekday())
        end = start + dt.timedelta(days=6)
    else:
        start = as_of.replace(day=1)
        end = start + relativedelta(months=1) - dt.timedelta(days=1)
    if end <= as_of:
        return start, end
    if not complete:
        return start, as_of
    if grain == "week":
        return start - dt.timedelta(days=7), start - dt.timedelta(days=1)
    return start - relativedelta(months=1), start - dt.timedelta(days=1)


def base_range(grain: str, start: dt.date, end: dt.date, compare: str) -> tuple[dt.date, dt.date]:
    """The range a period is compared with. Whole periods follow ``metrics.periods.comparison_period`` (the
    previous month is the whole previous month, yoy of an ISO week is the same week number); a week or month
    to date is compared with the same days of the earlier week / month / year."""
    from channelscope.metrics.periods import comparison_period

    if grain == "day" or _ends_period(grain, end):
        return comparison_period(start, end, compare)
    if compare == "wow" or (compare == "previous" and grain == "week"):
        return start - dt.timedelta(days=7), end - dt.timedelta(days=7)
    if compare == "previous":
        s = start - relativedelta(months=1)
        last = start - dt.timedelta(days=1)
        return s, min(s + (end - start), last)
    if grain == "week":  # yoy: the same ISO week last year
        s, _ = comparison_period(start, start + dt.timedelta(days=6), "yoy")
        return s, s + (end - start)
    return start - relativedelta(years=1), end - relativedelta(years=1)


def _ends_period(grain: str, day: dt.date) -> bool:
    if grain == "week":
        return day.weekday() == 6
    return (day + dt.timedelta(days=1)).day == 1


# ---- metric rules -----------------------------------------------------------------------------------------


def _explain_compare(rule: ThresholdRule | ChangeRule | AnomalyRule) -> str | None:
    if rule.explain == "none":
        return None
    if rule.explain:
        return rule.explain
    if isinstance(rule, ChangeRule):
        return rule.compare
    return "wow" if rule.grain == "day" else "previous"


def _with_parts(run: _Run, rule: ThresholdRule | ChangeRule | AnomalyRule) -> list[str]:
    """The rule's metric plus, for sales metrics cut by dimensions traffic has, the decomposition's parts."""
    from channelscope.metrics.query import TABLE_DIMENSIONS

    metrics = [rule.metric]
    dims = {*rule.by, *rule.filters}
    if (
        E.decomposes(rule.metric)
        and _explain_compare(rule)
        and all(dims <= TABLE_DIMENSIONS[t] for t in ("traffic", "orders", "refunds"))
    ):
        metrics += [p for p in E.PARTS if p != rule.metric]
    return metrics


def _has_member(rule: ThresholdRule | ChangeRule | AnomalyRule, row: Any) -> bool:
    """False for the rows that lack a value of a ``by`` dimension (sales not via a distributor, orders without a
    campaign or region): they are no member of the dimension, so they are not judged as one called 'nan'."""
    return not any(_missing(row[d]) for d in rule.by)


def _missing(x: Any) -> bool:
    """None, NaN, NaT, pd.NA or ''."""
    if x is None or (isinstance(x, str) and x == ""):
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):  # not a scalar
        return False


def _member_label(x: Any) -> str:
    """A member's value as text: tier ``1``, not ``1.0`` (a column with gaps is float in pandas)."""
    if isinstance(x, float) and x.is_integer():  # numpy floats are floats too
        return str(int(x))
    return str(x)


def _scope(rule: ThresholdRule | ChangeRule | AnomalyRule, row: Any) -> dict[str, str]:
    from channelscope.metrics.query import DIMENSIONS

    scope = {DIMENSIONS[d][0]: _member_label(row[d]) for d in rule.by}
    for d, values in rule.filter_lists().items():
        if len(values) == 1 and d not in rule.by:
            scope[DIMENSIONS[d][0]] = values[0]
    return scope


def _pair(
    run: _Run,
    rule: ThresholdRule | ChangeRule,
    metrics: list[str],
    cur: tuple[dt.date, dt.date],
    base: tuple[dt.date, dt.date],
) -> pd.DataFrame:
    """The metrics of both ranges, one row per member (members of either range), suffix ``_base`` for the base.

    Additive metrics of a member missing from one range are 0 there; ratios stay empty.
    """
    from channelscope.metrics.targets import is_additive

    p = run.project
    kw: dict[str, Any] = {"by": list(rule.by), "filters": rule.filter_lists()}
    now = p.kpis(metrics, start=cur[0], end=cur[1], **kw)
    before = p.kpis(metrics, start=base[0], end=base[1], **kw)
    if rule.by:
        frame = now.merge(before, on=list(rule.by), how="outer", suffixes=("", "_base"))
    else:
        frame = now.join(before.add_suffix("_base"))
    for m in metrics:
        if is_additive(p.catalog, m):
            frame[m] = frame[m].fillna(0.0)
            frame[f"{m}_base"] = frame[f"{m}_base"].fillna(0.0)
    return frame


def _decompose(
    run: _Run, rule: Any, row: Any, metrics: list[str], base: tuple[dt.date, dt.date] | None
) -> dict[str, Any] | None:
    if len(metrics) == 1 or base is None:
        return None
    after = {k: row[k] for k in E.PARTS if k in row}
    before = {k: row[f"{k}_base"] for k in E.PARTS if f"{k}_base" in row}
    return E.decomposition(before, after, rule.metric, run.project.config.project.base_currency)


def _none(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _threshold(run: _Run, rule: ThresholdRule) -> list[Finding]:
    cur = period_range(rule.grain, run.as_of, rule.complete)
    compare = _explain_compare(rule)
    base = base_range(rule.grain, *cur, compare or "previous")
    metrics = _with_parts(run, rule)
    frame = _pair(run, rule, metrics, cur, base)
    cat = run.project.catalog
    period = E.period_label(rule.grain, *cur)
    out = []
    for row in frame.to_dict("records"):
        value = _none(row[rule.metric])
        if value is None or not _has_member(rule, row):
            continue
        low = rule.min is not None and value < rule.min
        high = rule.max is not None and value > rule.max
        if not (low or high):
            continue
        bound = rule.min if low else rule.max
        assert bound is not None
        scope = _scope(rule, row)
        dec = _decompose(run, rule, row, metrics, base if compare else None)
        words = {"en": "below the minimum" if low else "above the maximum", "zh-CN": "低于下限" if low else "高于上限"}
        title = {
            lang: (
                f"{E.label(cat, rule.metric, lang)} {E.scope_label(run.project, scope, lang)} {period}: "
                f"{E.fmt(cat, rule.metric, value)} {words[lang]} {E.fmt(cat, rule.metric, bound)}"
                if lang == "en"
                else f"{E.scope_label(run.project, scope, lang)} {E.label(cat, rule.metric, lang)} {period} 为 "
                f"{E.fmt(cat, rule.metric, value)}，{words[lang]} {E.fmt(cat, rule.metric, bound)}"
            )
            for lang in E.LANGS
        }
        evidence = {
            "value": value,
            "min": rule.min,
            "max": rule.max,
            "period": [cur[0].isoformat(), cur[1].isoformat()],
            "base_period": [base[0].isoformat(), base[1].isoformat()] if dec else None,
            "base_value": _none(row.get(f"{rule.metric}_base")),
            "decomposition": _strip(dec),
        }
        out.append(
            _finding(
                rule,
                scope,
                period,
                value,
                bound,
                rule.min,
                rule.max,
                title,
                E.join_text(title, E.decomposition_line(dec, base)),
                evidence,
                False,
            )
        )
    return out


def _calendar_base(
    run: _Run, grain: str, cur: tuple[dt.date, dt.date], compare: str
) -> tuple[tuple[dt.date, dt.date], str, dict[str, Any] | None]:
    """The base period, the comparison used and, when the calendar changed it, why: a period compared with
    one holding a different planned festival (the week after 双11 vs the week of 双11) is compared with the
    same period last year instead."""
    from channelscope.analysis.planned_events import calendar_mismatch, project_events

    base = base_range(grain, *cur, compare)
    if compare == "yoy":
        return base, compare, None
    mismatch = calendar_mismatch(project_events(run.project), cur, base)
    if mismatch is None:
        return base, compare, None
    yoy = base_range(grain, *cur, "yoy")
    note = {
        "compare_configured": compare,
        "compare_used": "yoy",
        "events_in_period": mismatch["period"],
        "events_in_base": mismatch["base"],
        "festival_share": mismatch["festival_share"],
        "skipped_base_period": [base[0].isoformat(), base[1].isoformat()],
        "reason_en": "the periods hold different planned festivals: compared with the same period last year",
        "reason_zh": "两期所含大促不同，改为与去年同期比较",
    }
    return yoy, "yoy", note


def _change(run: _Run, rule: ChangeRule) -> list[Finding]:
    cur = period_range(rule.grain, run.as_of, rule.complete)
    base, compare, calendar = _calendar_base(run, rule.grain, cur, rule.compare)
    metrics = _with_parts(run, rule)
    frame = _pair(run, rule, metrics, cur, base)
    cat = run.project.catalog
    period = E.period_label(rule.grain, *cur)
    out = []
    for row in frame.to_dict("records"):
        value, before = _none(row[rule.metric]), _none(row[f"{rule.metric}_base"])
        if value is None or before is None or before == 0 or abs(before) < rule.min_base or not _has_member(rule, row):
            continue
        change = (value - before) / abs(before)
        up = rule.above is not None and change > rule.above
        down = rule.below is not None and change < rule.below
        if not (up or down):
            continue
        scope = _scope(rule, row)
        dec = _decompose(run, rule, row, metrics, base)
        lower = before * (1 + rule.below) if rule.below is not None else None
        upper = before * (1 + rule.above) if rule.above is not None else None
        span = base[0].isoformat() if base[0] == base[1] else f"{base[0]}..{base[1]}"
        v, b = E.fmt(cat, rule.metric, value), E.fmt(cat, rule.metric, before)
        en_cmp, zh_cmp = E.COMPARE_LABELS["en"][compare], E.COMPARE_LABELS["zh-CN"][compare]
        moved = E.change_words(cat, rule.metric, value, before)  # a rate moves in percentage points
        title = E.both(
            f"{E.label(cat, rule.metric, 'en')} {E.scope_label(run.project, scope, 'en')} {period}: "
            f"{moved['en']} vs {en_cmp} ({v} vs {b} on {span})" + (f"; {calendar['reason_en']}" if calendar else ""),
            f"{E.scope_label(run.project, scope, 'zh-CN')} {E.label(cat, rule.metric, 'zh-CN')} {period} 较{zh_cmp}"
            f"{moved['zh-CN']}（{v}，{zh_cmp} {span} 为 {b}）" + (f"；{calendar['reason_zh']}" if calendar else ""),
        )
        evidence = {
            "value": value,
            "base_value": before,
            "change": value - before,
            "change_pct": change,
            "compare": compare,
            "calendar": calendar,
            "above": rule.above,
            "below": rule.below,
            "period": [cur[0].isoformat(), cur[1].isoformat()],
            "base_period": [base[0].isoformat(), base[1].isoformat()],
            "decomposition": _strip(dec),
        }
        text = E.join_text(title, E.decomposition_line(dec, base))
        out.append(_finding(rule, scope, period, value, before, lower, upper, title, text, evidence, False))
    return out


def _anomaly_series(
    run: _Run, rule: AnomalyRule, metrics: list[str], drivers: list[str], start: dt.date, end: dt.date
) -> pd.DataFrame:
    """The daily series of the metric (and its decomposition parts) with the drivers, in one query; without
    the drivers when they cannot be cut by the rule's dimensions (ad spend has no distributor)."""
    from channelscope.errors import QueryError

    args: dict[str, Any] = {"by": list(rule.by), "grain": rule.grain, "start": start, "end": end}
    if drivers:
        try:
            return run.project.kpis([*metrics, *drivers], filters=rule.filter_lists(), **args)
        except QueryError:
            pass
    return run.project.kpis(metrics, filters=rule.filter_lists(), **args)


def _anomaly(run: _Run, rule: AnomalyRule) -> list[Finding]:
    from channelscope.metrics.targets import is_additive

    try:
        from channelscope.analysis.planned_events import project_events
        from channelscope.analysis.seasonal import detect_anomalies
    except ImportError as exc:
        raise RuntimeError("the anomaly detector (channelscope.analysis.seasonal) is not available") from exc
    p = run.project
    cur = (run.as_of, run.as_of)
    first = cur[0] - dt.timedelta(days=rule.lookback)
    metrics = _with_parts(run, rule)
    drivers = [d for d in rule.drivers if d in p.catalog and d not in metrics]
    series = _anomaly_series(run, rule, metrics, drivers, first, cur[1])
    drivers = [d for d in drivers if d in series.columns and bool((series[d].astype("float64").fillna(0) > 0).any())]
    series = _complete(series, rule, first, cur[0], [m for m in metrics + drivers if is_additive(p.catalog, m)])
    festivals = project_events(p)  # festivals of the calendar and planned campaigns: expected peaks
    found = detect_anomalies(
        series,
        value=rule.metric,
        by=list(rule.by),
        date="period",
        festivals=festivals,
        sensitivity=rule.sensitivity,
        min_history=rule.min_history,
        evaluate_from=cur[0],
        drivers=drivers,
    )
    found = found[(pd.to_datetime(found["period"]).dt.date == cur[0]) & found["is_anomaly"].astype(bool)]
    if rule.direction != "both":
        found = found[found["direction"] == rule.direction]
    compare = _explain_compare(rule)
    base = base_range(rule.grain, *cur, compare) if compare else None
    indexed = series.set_index(["period", *rule.by]) if len(metrics) > 1 else None
    cat = p.catalog
    period = E.period_label(rule.grain, *cur)
    out = []
    for row in found.to_dict("records"):
        if not _has_member(rule, row):
            continue
        scope = _scope(rule, row)
        value, expected = _none(row["value"]), _none(row["expected"])
        lower, upper = _none(row["lower"]), _none(row["upper"])
        dec = None
        if indexed is not None and base is not None:
            member = tuple(row[d] for d in rule.by)
            try:
                after = indexed.loc[(cur[0], *member)]
                before = indexed.loc[(base[0], *member)]
                dec = E.decomposition(
                    before.to_dict(), after.to_dict(), rule.metric, run.project.config.project.base_currency
                )
            except KeyError:
                dec = None
        high = row.get("direction") == "high" or (value is not None and expected is not None and value > expected)
        f = lambda x: E.fmt(cat, rule.metric, x)  # noqa: E731
        title = E.both(
            f"{E.label(cat, rule.metric, 'en')} {E.scope_label(p, scope, 'en')} {period}: {f(value)} unusually "
            f"{'high' if high else 'low'} (expected {f(expected)}, normal {f(lower)} to {f(upper)})",
            f"{E.scope_label(p, scope, 'zh-CN')} {E.label(cat, rule.metric, 'zh-CN')} {period} 为 {f(value)}，"
            f"异常偏{'高' if high else '低'}（预期 {f(expected)}，正常范围 {f(lower)} 至 {f(upper)}）",
        )
        evidence = {
            "value": value,
            "expected": expected,
            "lower": lower,
            "upper": upper,
            "score": _none(row.get("score")),
            "direction": "high" if high else "low",
            "sensitivity": rule.sensitivity,
            "period": [cur[0].isoformat(), cur[1].isoformat()],
            "base_period": [base[0].isoformat(), base[1].isoformat()] if dec and base else None,
            "decomposition": _strip(dec),
        }
        text = E.join_text(title, E.decomposition_line(dec, base))
        out.append(_finding(rule, scope, period, value, expected, lower, upper, title, text, evidence, False))
    return out


def _complete(
    series: pd.DataFrame, rule: AnomalyRule, first: dt.date, last: dt.date, additive: list[str]
) -> pd.DataFrame:
    """Every day of each member from its first row to ``last``, with 0 where nothing happened (the detector
    needs the quiet days), and nothing before a member's first row (a channel that opened later has no history
    of zeros)."""
    keys = ["period", *rule.by]
    days = pd.DataFrame({"period": [d.date() for d in pd.date_range(first, last, freq="D")]})
    if series.empty:
        return series
    if rule.by:
        starts = series.groupby(list(rule.by), as_index=False)["period"].min().rename(columns={"period": "_first"})
        grid = starts.merge(days, how="cross")
        grid = grid[grid["period"] >= grid["_first"]].drop(columns="_first")
    else:
        grid = days[days["period"] >= series["period"].min()]
    out = grid.merge(series, on=keys, how="left")
    for m in additive:
        out[m] = out[m].fillna(0.0)
    return out[[*keys, *[c for c in series.columns if c not in keys]]].reset_index(drop=True)


def _text(x: Any) -> str | None:
    """A text cell of a pandas row, None for empty (None, NaN, '')."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) or x == "" else str(x)


def _strip(dec: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if dec is None else {k: v for k, v in dec.items() if k != "text"}


def _finding(
    rule: Any,
    scope: dict[str, str],
    period: str,
    value: float | None,
    expected: float | None,
    lower: float | None,
    upper: float | None,
    title: dict[str, str],
    text: dict[str, str],
    evidence: dict[str, Any],
    auto_resolve: bool,
) -> Finding:
    return Finding(
        rule=rule.name,
        kind=rule.kind,
        severity=rule.severity,
        scope=scope,
        period=period,
        metric=getattr(rule, "metric", None),
        value=value,
        expected=expected,
        lower=lower,
        upper=upper,
        title=title,
        text=text,
        evidence=evidence,
        auto_resolve=auto_resolve,
    )


# ---- targets ----------------------------------------------------------------------------------------------


def _target(run: _Run, rule: TargetRule) -> list[Finding]:
    from channelscope.metrics.periods import parse_period

    p = run.project
    table = p.targets(run.as_of)
    if table.empty:
        return []
    cat = p.catalog
    out = []
    for row in table.to_dict("records"):
        start, end = parse_period(str(row["period"]))
        if not start <= run.as_of <= end:
            continue
        if rule.metric and row["metric"] != rule.metric:
            continue
        if rule.channel and row["channel"] != rule.channel:
            continue
        if rule.distributor and row["distributor"] != rule.distributor:
            continue
        actual, expected = float(row["actual"]), float(row["expected_to_date"])
        pace = actual / expected - 1 if expected else None
        projected = _none(row["projected_attainment"])
        behind = pace is not None and pace < rule.below
        missing = rule.projected_below is not None and projected is not None and projected - 1 < rule.projected_below
        if not (behind or missing):
            continue
        scope = {
            k: str(row[c]) for k, c in (("channel_id", "channel"), ("distributor_id", "distributor")) if _text(row[c])
        }
        metric = str(row["metric"])
        f = functools.partial(E.fmt, cat, metric)
        gap = f"{pace:+.1%}" if pace is not None else "-"
        proj = f" (projection {projected:.0%} of target)" if projected is not None else ""
        proj_zh = f"（预计完成 {projected:.0%}）" if projected is not None else ""
        title = E.both(
            f"{E.label(cat, metric, 'en')} target {row['period']} {E.scope_label(p, scope, 'en')}: {f(actual)} "
            f"by {row['as_of']}, {gap} vs pace {f(expected)} (target {f(row['target'])}){proj}",
            f"{E.scope_label(p, scope, 'zh-CN')} {E.label(cat, metric, 'zh-CN')} {row['period']} 目标进度落后："
            f"截至 {row['as_of']} 完成 {f(actual)}，应完成 {f(expected)}（{gap}），目标 {f(row['target'])}{proj_zh}",
        )
        evidence = {
            "value": actual,
            "expected_to_date": expected,
            "target": float(row["target"]),
            "attainment": _none(row["attainment"]),
            "pace": pace,
            "pacing": row["pacing"],
            "elapsed_share": _none(row["elapsed_share"]),
            "projection": _none(row["projection"]),
            "projected_attainment": projected,
            "as_of": str(row["as_of"]),
            "owner": _text(row.get("owner")),
        }
        lower = expected * (1 + rule.below)
        out.append(
            Finding(
                rule=rule.name,
                kind=rule.kind,
                severity=rule.severity,
                # the metric is part of the condition: GMV and orders targets of one channel and period are
                # two alerts (the key is rule | scope | period); routes look only at channel and distributor
                scope={**scope, "metric": metric},
                period=str(row["period"]),
                metric=metric,
                value=actual,
                expected=expected,
                lower=lower,
                upper=None,
                title=title,
                text=E.join_text(title),
                evidence=evidence,
                auto_resolve=True,
            )
        )
    return out


# ---- data alerts ------------------------------------------------------------------------------------------


def _freshness(run: _Run, rule: FreshnessRule) -> list[Finding]:
    p = run.project
    b = p.table("batches")
    b = b.filter(b.status == "loaded")
    last = b.group_by("source").aggregate(last_loaded=b.finished_at.max()).to_pandas()
    loaded = {
        r.source: pd.Timestamp(r.last_loaded).to_pydatetime() for r in last.itertuples() if pd.notna(r.last_loaded)
    }
    chosen = [s for s in p.config.sources if (s.name in rule.sources if rule.sources else True)]
    out = []
    for s in chosen:
        limit = rule.max_age or s.expect_every
        if not limit:
            continue
        limit_h = duration_hours(limit)
        at = loaded.get(s.name)
        age = None if at is None else (run.now - at).total_seconds() / 3600
        if age is not None and age <= limit_h:
            continue
        scope = {"source": s.name, **({"channel_id": s.channel_id} if s.channel_id else {})}
        if age is None:
            title = E.both(
                f"Source {s.name} has never loaded (expected every {limit})",
                f"数据源 {s.name} 从未加载（应每 {limit} 更新）",
            )
        else:
            title = E.both(
                f"Source {s.name} not refreshed for {age:.1f} h (expected every {limit}; last load {at:%Y-%m-%d %H:%M} UTC)",
                f"数据源 {s.name} 已 {age:.1f} 小时未更新（应每 {limit} 更新；最后加载 {at:%Y-%m-%d %H:%M} UTC）",
            )
        evidence = {
            "age_hours": age,
            "max_age_hours": limit_h,
            "last_loaded": at.isoformat() if at else None,
            "now": run.now.isoformat(),
        }
        out.append(_finding(rule, scope, "now", age, limit_h, None, limit_h, title, E.join_text(title), evidence, True))
    return out


def _quarantine_rate(run: _Run, rule: QuarantineRateRule) -> list[Finding]:
    p = run.project
    since = run.now - dt.timedelta(hours=duration_hours(rule.window))
    b = p.table("batches")
    b = b.filter((b.started_at >= since) & (b.started_at <= run.now))
    if rule.sources:
        b = b.filter(b.source.isin(rule.sources))
    agg = b.group_by("source").aggregate(rows_in=b.rows_in.sum(), quarantined=b.quarantined.sum(), batches=b.count())
    df = agg.to_pandas()
    channel_of = {s.name: s.channel_id for s in p.config.sources}
    out = []
    for r in df.itertuples():
        rows_in, quarantined = int(r.rows_in or 0), int(r.quarantined or 0)
        if rows_in < rule.min_rows:
            continue
        rate = quarantined / rows_in
        if rate <= rule.max_rate:
            continue
        source = str(r.source)
        cid = channel_of.get(source)
        scope = {"source": source, **({"channel_id": cid} if cid else {})}
        title = E.both(
            f"Source {source}: {rate:.1%} of input rows quarantined in the last {rule.window} "
            f"({quarantined:,} of {rows_in:,}; max {rule.max_rate:.1%})",
            f"数据源 {source} 最近 {rule.window} 隔离率 {rate:.1%}（{rows_in:,} 行中 {quarantined:,} 行；上限 {rule.max_rate:.1%}）",
        )
        evidence = {
            "rate": rate,
            "max_rate": rule.max_rate,
            "rows_in": rows_in,
            "quarantined": quarantined,
            "batches": int(r.batches),
            "window": rule.window,
            "since": since.isoformat(),
        }
        out.append(
            _finding(
                rule, scope, "now", rate, rule.max_rate, None, rule.max_rate, title, E.join_text(title), evidence, True
            )
        )
    return out


def _silence(run: _Run, rule: SilenceRule) -> list[Finding]:
    p = run.project
    t = p.table(rule.table)
    col = t.business_date if rule.table == "orders" else t.date
    quiet_from = run.as_of - dt.timedelta(days=rule.days - 1)
    first = quiet_from - dt.timedelta(days=rule.history)
    t = t.filter((col >= first) & (col <= run.as_of) & t.channel_id.notnull())
    if rule.channels:
        t = t.filter(t.channel_id.isin(rule.channels))
    col = t.business_date if rule.table == "orders" else t.date
    agg = t.group_by("channel_id").aggregate(
        recent=col.count(where=col >= quiet_from),
        before=col.count(where=col < quiet_from),
        last=col.max(),
    )
    df = agg.to_pandas()
    what = {"orders": ("orders", "订单"), "traffic": ("traffic", "流量")}[rule.table]
    out = []
    for r in df.itertuples():
        if int(r.recent or 0) > 0 or int(r.before or 0) == 0:
            continue
        last = pd.Timestamp(r.last).date()
        quiet = (run.as_of - last).days
        scope = {"channel_id": str(r.channel_id)}
        title = E.both(
            f"Channel {E.scope_label(p, scope, 'en')}: no {what[0]} for {quiet} days up to {run.as_of} (last on {last})",
            f"渠道 {E.scope_label(p, scope, 'zh-CN')} 截至 {run.as_of} 已 {quiet} 天无{what[1]}数据（最后一次 {last}）",
        )
        evidence = {
            "days_without_rows": quiet,
            "days": rule.days,
            "last_date": last.isoformat(),
            "as_of": run.as_of.isoformat(),
            "rows_before": int(r.before),
            "table": rule.table,
        }
        out.append(
            _finding(
                rule,
                scope,
                "now",
                float(quiet),
                float(rule.days),
                None,
                float(rule.days),
                title,
                E.join_text(title),
                evidence,
                True,
            )
        )
    return out


def _violation_groups(run: _Run) -> pd.DataFrame:
    v = run.project.analysis.compliance.violations()
    if v.empty:
        return v
    v = v.assign(last_seen=pd.to_datetime(v["last_seen"]).dt.date, first_seen=pd.to_datetime(v["first_seen"]).dt.date)
    return v[v["first_seen"] <= run.as_of]


def _violation_finding(run: _Run, rule: Any, r: Any, title: dict[str, str], value: float) -> Finding:
    scope = {"distributor_id": str(r.distributor_id), "sku": str(r.sku)}
    evidence = {
        "lines": int(r.lines),
        "units": int(r.units),
        "depth_worst": float(r.depth_worst),
        "worst_order": str(r.worst_order),
        "first_seen": r.first_seen.isoformat(),
        "last_seen": r.last_seen.isoformat(),
        "repeat_days": int(r.repeat_days),
        "first_warning": None if pd.isna(r.first_warning) else str(r.first_warning)[:10],
        "as_of": run.as_of.isoformat(),
    }
    return _finding(
        rule, scope, r.last_seen.isoformat(), value, None, None, None, title, E.join_text(title), evidence, False
    )


def _price_violation(run: _Run, rule: PriceViolationRule) -> list[Finding]:
    """New violations: distributor x SKU groups whose last violation lies in the last ``days`` days."""
    v = _violation_groups(run)
    if v.empty:
        return []
    since = run.as_of - dt.timedelta(days=rule.days - 1)
    v = v[(v["last_seen"] >= since) & (v["depth_worst"] >= rule.min_depth)]
    out = []
    for r in v.itertuples():  # one row per distributor x SKU (aggregates)
        title = E.both(
            f"Distributor {r.distributor_id} sold {r.sku} under MAP: {int(r.lines)} lines, worst {r.depth_worst:.1%} "
            f"under (last {r.last_seen})",
            f"经销商 {r.distributor_id} 低于最低限价销售 {r.sku}：{int(r.lines)} 行，最深低 {r.depth_worst:.1%}（最近 {r.last_seen}）",
        )
        out.append(_violation_finding(run, rule, r, title, float(r.depth_worst)))
    return out


def _repeated_violation(run: _Run, rule: RepeatedViolationRule) -> list[Finding]:
    """Violations that go on after a warning."""
    v = _violation_groups(run)
    if v.empty:
        return []
    v = v[v["repeat_days"] >= rule.min_repeat_days]
    out = []
    for r in v.itertuples():  # one row per distributor x SKU (aggregates)
        warned = str(r.first_warning)[:10]
        title = E.both(
            f"Distributor {r.distributor_id} repeats selling {r.sku} under MAP after the warning of {warned}: "
            f"{int(r.repeat_days)} days",
            f"经销商 {r.distributor_id} 在 {warned} 警告后仍低于最低限价销售 {r.sku}：{int(r.repeat_days)} 天",
        )
        out.append(_violation_finding(run, rule, r, title, float(r.repeat_days)))
    return out


# ---- inventory ------------------------------------------------------------------------------------------


def _stockout_risk(run: _Run, rule: StockoutRiskRule) -> list[Finding]:
    """SKUs whose stock runs out before a replenishment ordered now arrives (the inventory plan on the
    latest stock and the units forecast from the data's last day)."""
    from channelscope.plan.inventory import inventory_plan

    plan = inventory_plan(run.project, service_level=rule.service_level)
    risky = plan[plan["at_risk"].astype(bool)]
    if rule.skus:
        risky = risky[risky["sku"].isin(rule.skus)]
    out = []
    for r in risky.itertuples(index=False):  # one row per SKU (the plan's aggregates)
        out_on, lead, order = r.stockout_date, int(r.lead_time_days), int(r.suggested_order)
        title = E.both(
            f"SKU {r.sku} runs out on {out_on} ({r.on_hand:,.0f} on hand, {r.days_of_cover} days of cover), before "
            f"a replenishment ordered now arrives (lead time {lead} days): order {order:,} units",
            f"SKU {r.sku} 预计 {out_on} 断货（在库 {r.on_hand:,.0f}，可售 {r.days_of_cover} 天），"
            f"早于现在下单的补货到货（交期 {lead} 天）：建议采购 {order:,} 件",
        )
        evidence = {
            "on_hand": float(r.on_hand),
            "on_order": float(r.on_order),
            "lead_time_days": lead,
            "daily_demand": float(r.daily_demand),
            "days_of_cover": None if r.days_of_cover is None else float(r.days_of_cover),
            "stockout_date": str(out_on),
            "reorder_point": float(r.reorder_point),
            "suggested_order": order,
            "service_level": rule.service_level,
            "as_of": run.as_of.isoformat(),
        }
        cover = None if r.days_of_cover is None or pd.isna(r.days_of_cover) else float(r.days_of_cover)
        out.append(
            _finding(
                rule, {"sku": str(r.sku)}, "now", cover, float(lead), None, float(lead), title,
                E.join_text(title), evidence, True,
            )
        )  # fmt: skip
    return out


_EVALUATORS: dict[str, Callable[[_Run, Any], list[Finding]]] = {
    "threshold": _threshold,
    "target": _target,
    "change": _change,
    "anomaly": _anomaly,
    "freshness": _freshness,
    "quarantine_rate": _quarantine_rate,
    "silence": _silence,
    "price_violation": _price_violation,
    "repeated_violation": _repeated_violation,
    "stockout_risk": _stockout_risk,
}
