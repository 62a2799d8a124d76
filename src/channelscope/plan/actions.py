"""The action log (PDCA): what was decided, whether it was done, and whether it worked.

- **Plan**: an action (by hand, or from a report's recommendation) names what, an owner, a scope (a channel,
  a distributor or a campaign), a start and a deadline, the metric it should move and by how much.
- **Do**: its status, planned -> doing -> done (or cancelled), as it is carried out.
- **Check**: once the data reaches the deadline, the metric's change over start..deadline is measured
  against a counterfactual: difference-in-differences against comparable untreated units (the other
  channels; for a distributor, the other distributors of its channel), with a 95% interval and a verdict
  (worked / no effect / worse / not measurable). The daily aggregates come from the KPI layer (in the engine).
- **Act**: reports list the verdicts and propose the next step (``next_step``).

The table ``actions`` is declared in ``model/operational.py``; every write holds ``project.write_lock`` and
runs in one warehouse transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.errors import ChannelscopeError, QueryError
from channelscope.model.operational import ACTION_TABLES, OPERATIONAL
from channelscope.plan.effect import WEEKDAY_PRE_DAYS, Effect, did_effect, verdict

if TYPE_CHECKING:
    from channelscope.project import Project
    from channelscope.warehouse.base import Tx

SCOPES = ("channel", "distributor", "campaign")
STATUSES = ("planned", "doing", "done", "cancelled")
VERDICTS = ("worked", "no_effect", "worse", "not_measurable")
COLUMNS = [c.name for c in OPERATIONAL["actions"].columns]
#: the pre-period of a check (days before the start)
PRE_DAYS = WEEKDAY_PRE_DAYS

VERDICT_TEXT: dict[str, dict[str, str]] = {
    "worked": {"zh-CN": "有效", "en": "worked"},
    "no_effect": {"zh-CN": "无明显效果", "en": "no effect"},
    "worse": {"zh-CN": "变差", "en": "worse"},
    "not_measurable": {"zh-CN": "无法衡量", "en": "not measurable"},
}
STATUS_TEXT: dict[str, dict[str, str]] = {
    "planned": {"zh-CN": "计划中", "en": "planned"},
    "doing": {"zh-CN": "执行中", "en": "doing"},
    "done": {"zh-CN": "已完成", "en": "done"},
    "cancelled": {"zh-CN": "已取消", "en": "cancelled"},
}
REASON_TEXT: dict[str, dict[str, str]] = {
    "deadline_not_reached": {"zh-CN": "数据尚未覆盖截止日", "en": "the data does not reach the deadline yet"},
    "too_little_history": {
        "zh-CN": "开始前的历史不足 28 天",
        "en": "fewer than 28 days of history before the start",
    },
    "no_data_in_window": {"zh-CN": "行动期间没有数据", "en": "no data in the action's window"},
    "no_activity_before": {"zh-CN": "开始前该范围没有数值", "en": "the scope had no value before the start"},
    "no_controls": {
        "zh-CN": "没有可比的未受影响对象（对照组）",
        "en": "no comparable untreated unit to compare with",
    },
    "campaign_without_channel": {
        "zh-CN": "活动覆盖所有渠道，没有未受影响的渠道可比",
        "en": "the campaign covers every channel: no untreated channel to compare with",
    },
    "cancelled": {"zh-CN": "行动已取消", "en": "the action was cancelled"},
}


class ActionNotFound(ChannelscopeError):
    """No action has this id (or the prefix is ambiguous)."""


@dataclass
class Check:
    """The check of one action: the verdict, the measured effect and its evidence."""

    action_id: str
    verdict: str
    effect: Effect
    reason: str | None
    evidence: dict[str, Any]


# ---- storage -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _writing(project: Project) -> Iterator[Tx]:
    if project.read_only:
        raise QueryError("the project is open read-only: the action log cannot be written")
    with project.write_lock:
        wh = project.warehouse
        wh.ensure_tables(*ACTION_TABLES)
        with wh.transaction() as tx:
            yield tx


def _rows(project: Project, where: str = "", params: list[Any] | None = None) -> pd.DataFrame:
    wh = project.warehouse
    with project.write_lock:
        if not wh.has_tables(*ACTION_TABLES):
            return pd.DataFrame(columns=COLUMNS)
        with wh.reading() as tx:
            df = tx.query(f"SELECT * FROM actions {where} ORDER BY created_at, action_id", params or [])
    return df[COLUMNS] if len(df.columns) else pd.DataFrame(columns=COLUMNS)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _date(value: dt.date | str, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise QueryError(f"{name} '{value}' is not a date (YYYY-MM-DD)", field=name) from exc


def scope_channel(project: Project, scope_kind: str, scope_id: str) -> str | None:
    """The channel a scope belongs to (None for a campaign over every channel); an unknown id is an error."""
    channels = {c.id for c in project.config.channels}
    if scope_kind == "channel":
        if scope_id not in channels:
            raise QueryError(f"unknown channel '{scope_id}'; valid: {', '.join(sorted(channels))}", field="scope_id")
        return scope_id
    table = {"distributor": "distributors", "campaign": "campaigns"}[scope_kind]
    key = f"{scope_kind}_id"
    with project.write_lock, project.warehouse.reading() as tx:
        rows = tx.execute(f"SELECT channel_id FROM {table} WHERE {key} = ?", [scope_id])
    if not rows:
        raise QueryError(f"unknown {scope_kind} '{scope_id}'", field="scope_id")
    return rows[0][0]


def add_action(
    project: Project,
    *,
    what: str,
    owner: str,
    scope_kind: str,
    scope_id: str,
    start: dt.date | str,
    deadline: dt.date | str,
    metric: str = "gmv",
    expected_change: float | None = None,
    status: str = "planned",
    origin: str = "manual",
    origin_detail: dict[str, Any] | None = None,
    note: str | None = None,
    created_by: str | None = None,
) -> dict[str, Any]:
    """Record an action (plan); returns it as stored. ``expected_change`` is relative (0.1 = +10%)."""
    what, owner = (what or "").strip(), (owner or "").strip()
    if not what:
        raise QueryError("an action needs a description (what)", field="what")
    if not owner:
        raise QueryError("an action needs an owner", field="owner")
    if scope_kind not in SCOPES:
        raise QueryError(f"unknown scope '{scope_kind}'; valid: {', '.join(SCOPES)}", field="scope_kind")
    if status not in STATUSES:
        raise QueryError(f"unknown status '{status}'; valid: {', '.join(STATUSES)}", field="status")
    if metric not in project.catalog:
        raise QueryError(f"unknown metric '{metric}'", field="metric", hint="see `channelscope metrics`")
    s, e = _date(start, "start"), _date(deadline, "deadline")
    if e < s:
        raise QueryError(f"the deadline {e} is before the start {s}", field="deadline")
    if expected_change is not None and not -1 <= float(expected_change) <= 100:
        raise QueryError("expected_change is a relative change (0.1 = +10%), above -1", field="expected_change")
    channel = scope_channel(project, scope_kind, scope_id)
    row = {
        "action_id": uuid.uuid4().hex[:12],
        "what": what,
        "owner": owner,
        "scope_kind": scope_kind,
        "scope_id": scope_id,
        "channel_id": channel,
        "start_date": s.isoformat(),
        "deadline": e.isoformat(),
        "metric": metric,
        "expected_change": None if expected_change is None else float(expected_change),
        "status": status,
        "origin": origin,
        "origin_json": json.dumps(origin_detail, ensure_ascii=False, default=str) if origin_detail else None,
        "note": note,
        "created_at": _now(),
        "created_by": created_by,
        "updated_at": None,
        "verdict": None,
        "effect": None,
        "effect_lower": None,
        "effect_upper": None,
        "checked_at": None,
        "check_json": None,
    }
    with _writing(project) as tx:
        marks = ", ".join("?" for _ in COLUMNS)
        tx.execute(f"INSERT INTO actions ({', '.join(COLUMNS)}) VALUES ({marks})", [row[c] for c in COLUMNS])
    return row


def action_from_finding(
    project: Project,
    finding: Any,
    *,
    owner: str,
    start: dt.date | str,
    deadline: dt.date | str | None = None,
    created_by: str | None = None,
    language: str = "zh-CN",
) -> dict[str, Any]:
    """An action from a report finding's recommendation: its channel, its expected effect's metric and size
    (as a share of the metric's value the finding names) and its check date become the plan."""
    if not finding.recommendation or not finding.channel:
        raise QueryError("this finding has no recommendation for a channel to act on")
    exp = finding.expected or {}
    metric = exp.get("metric") or "gmv"
    ev = finding.evidence
    base = ev.get("gmv_expected") if metric == "gmv" else None
    base = base or ev.get("expected") or ev.get("value_before")
    change = None
    if exp.get("size") is not None and base:
        change = float(exp["size"]) / float(base)
    return add_action(
        project,
        what=finding.recommendation[language],
        owner=owner,
        scope_kind="channel",
        scope_id=finding.channel,
        start=start,
        deadline=deadline or exp.get("by") or start,
        metric=metric,
        expected_change=change,
        origin="recommendation",
        origin_detail={"kind": finding.kind, "text": finding.text, "evidence": finding.evidence},
        created_by=created_by,
    )


def list_actions(project: Project, *, channels: list[str] | None = None, status: str | None = None) -> pd.DataFrame:
    """The action log, oldest first; ``channels`` limits it to actions of those channels (a reader's scope)."""
    if status is not None and status not in STATUSES:
        raise QueryError(f"unknown status '{status}'; valid: {', '.join(STATUSES)}", field="status")
    df = _rows(project, "WHERE status = ?" if status else "", [status] if status else [])
    if channels is not None:
        df = df[df["channel_id"].isin(channels)]
    return df.reset_index(drop=True)


def get_action(project: Project, action_id: str) -> dict[str, Any]:
    """One action by id or by a unique prefix (at least 6 characters)."""
    needle = str(action_id).strip().lower()
    df = _rows(project)
    hit = df[df["action_id"] == needle]
    if hit.empty and len(needle) >= 6:
        hit = df[df["action_id"].str.startswith(needle)]
    if len(hit) != 1:
        raise ActionNotFound(
            f"no action '{action_id}'" if hit.empty else f"'{action_id}' matches several actions", field="action_id"
        )
    return _clean(hit.iloc[0].to_dict())


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if not isinstance(v, str | dict | list) and pd.isna(v) else v) for k, v in row.items()}


def update_action(
    project: Project,
    action_id: str,
    *,
    status: str | None = None,
    note: str | None = None,
    deadline: dt.date | str | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """Record progress (do): a new status, a note, a moved deadline or a new owner."""
    row = get_action(project, action_id)
    changes: dict[str, Any] = {}
    if status is not None:
        if status not in STATUSES:
            raise QueryError(f"unknown status '{status}'; valid: {', '.join(STATUSES)}", field="status")
        changes["status"] = status
    if note is not None:
        changes["note"] = note
    if owner is not None:
        if not owner.strip():
            raise QueryError("an action needs an owner", field="owner")
        changes["owner"] = owner.strip()
    if deadline is not None:
        e = _date(deadline, "deadline")
        if e < _date(row["start_date"], "start"):
            raise QueryError(f"the deadline {e} is before the start {row['start_date']}", field="deadline")
        changes["deadline"] = e.isoformat()
    if not changes:
        return row
    changes["updated_at"] = _now()
    sets = ", ".join(f"{k} = ?" for k in changes)
    with _writing(project) as tx:
        tx.execute(f"UPDATE actions SET {sets} WHERE action_id = ?", [*changes.values(), row["action_id"]])
    return {**row, **changes}


# ---- check ---------------------------------------------------------------------------------------


def _controls(project: Project, action: dict[str, Any], others: pd.DataFrame) -> tuple[str, list[str]]:
    """The untreated units a check compares with: the filter key and its values. Channels (or the channel's
    other distributors) that have their own action overlapping the window are treated too, so left out."""
    s, e = action["start_date"], action["deadline"]
    overlapping = others[
        (others["action_id"] != action["action_id"])
        & (others["status"] != "cancelled")
        & (others["start_date"] <= e)
        & (others["deadline"] >= s)
    ]
    if action["scope_kind"] == "distributor":
        with project.write_lock, project.warehouse.reading() as tx:
            ids = [
                r[0]
                for r in tx.execute(
                    "SELECT distributor_id FROM distributors WHERE channel_id = ? AND distributor_id <> ?",
                    [action["channel_id"], action["scope_id"]],
                )
            ]
        busy = set(overlapping.loc[overlapping["scope_kind"] == "distributor", "scope_id"])
        return "distributor", sorted(i for i in ids if i not in busy)
    busy = set(overlapping["channel_id"].dropna())
    return "channel", sorted(c.id for c in project.config.channels if c.id != action["channel_id"] and c.id not in busy)


def measure(project: Project, action: dict[str, Any], *, log: pd.DataFrame | None = None) -> Check:
    """Measure an action's effect (no write): difference-in-differences of its metric, treated scope against
    the untreated units, over start..deadline with the 56 days before as the pre-period."""
    aid = action["action_id"]
    latest = project.latest_date()
    start, deadline = _date(action["start_date"], "start"), _date(action["deadline"], "deadline")

    def nothing(reason: str, **extra: Any) -> Check:
        return Check(aid, "not_measurable", Effect(None, None, None, reason=reason), reason, extra)

    if action.get("status") == "cancelled":
        return nothing("cancelled")
    if latest is None or latest < deadline:
        return nothing("deadline_not_reached", data_until=latest.isoformat() if latest else None)
    if action["scope_kind"] == "campaign" and not action.get("channel_id"):
        return nothing("campaign_without_channel")
    treated_key = "distributor" if action["scope_kind"] == "distributor" else "channel"
    treated_id = action["scope_id"] if action["scope_kind"] == "distributor" else action["channel_id"]
    key, controls = _controls(project, action, log if log is not None else _rows(project))
    if not controls:
        return nothing("no_controls")
    pre_start = start - dt.timedelta(days=PRE_DAYS)
    metric = action["metric"]
    # two engine-side aggregations: the treated scope per day, and the untreated units together per day
    # (a ratio metric of the controls is computed from their summed parts, like for like)
    t = project.kpis([metric], grain="day", start=pre_start, end=deadline, filters={treated_key: [treated_id]})
    c = project.kpis([metric], grain="day", start=pre_start, end=deadline, filters={key: controls})
    daily = pd.merge(
        t[["period", metric]].rename(columns={metric: "treated"}),
        c[["period", metric]].rename(columns={metric: "control"}),
        on="period",
        how="outer",
    ).rename(columns={"period": "date"})
    days = pd.DataFrame({"date": pd.date_range(pre_start, deadline)})
    daily["date"] = pd.to_datetime(daily["date"])
    daily = days.merge(daily, on="date", how="left")
    if project.catalog.get(metric).unit != "percent":
        # an additive metric of a day without a row is zero, not missing (no order that day)
        daily[["treated", "control"]] = daily[["treated", "control"]].astype(float).fillna(0.0)
    eff = did_effect(daily, start, deadline)
    evidence = {
        **eff.evidence,
        "treated": {treated_key: treated_id},
        "controls": {key: controls},
        "window": [start.isoformat(), deadline.isoformat()],
        "actual": eff.actual,
        "counterfactual": eff.counterfactual,
    }
    if not eff.measurable:
        return Check(aid, "not_measurable", eff, eff.reason, evidence)
    return Check(aid, verdict(eff, action.get("expected_change")), eff, None, evidence)


def check_action(project: Project, action_id: str) -> Check:
    """Check one action and store the verdict (a deadline the data has not reached stores nothing)."""
    action = get_action(project, action_id)
    chk = measure(project, action)
    if chk.reason == "deadline_not_reached":
        return chk
    _store(project, action["action_id"], chk)
    return chk


def check_due(project: Project) -> list[Check]:
    """Check every action whose deadline the data has reached and that has no verdict yet."""
    log = _rows(project)
    latest = project.latest_date()
    if latest is None or log.empty:
        return []
    due = log[log["verdict"].isna() & (log["deadline"] <= latest.isoformat())]
    out = []
    for row in due.to_dict("records"):
        chk = measure(project, _clean(row), log=log)
        _store(project, row["action_id"], chk)
        out.append(chk)
    return out


def _store(project: Project, action_id: str, chk: Check) -> None:
    e = chk.effect
    with _writing(project) as tx:
        tx.execute(
            "UPDATE actions SET verdict = ?, effect = ?, effect_lower = ?, effect_upper = ?, checked_at = ?, "
            "check_json = ? WHERE action_id = ?",
            [
                chk.verdict,
                e.effect,
                e.lower,
                e.upper,
                _now(),
                json.dumps({"reason": chk.reason, **chk.evidence}, ensure_ascii=False, default=str),
                action_id,
            ],
        )


# ---- act -----------------------------------------------------------------------------------------


def next_step(action: dict[str, Any], verdict_: str, effect: float | None) -> dict[str, str]:
    """The next step a verdict proposes (act), in zh-CN and en."""
    what = action["what"]
    if verdict_ == "worked":
        return {
            "zh-CN": f"保持「{what}」，并在可比渠道试行推广；把效果（{_pct(effect)}）计入下期计划。",
            "en": f"Keep '{what}' and try it on comparable channels; plan the next period with its effect "
            f"({_pct(effect)}).",
        }
    if verdict_ == "worse":
        return {
            "zh-CN": f"回滚「{what}」，查明原因后再决定是否重试。",
            "en": f"Roll back '{what}' and find the cause before trying again.",
        }
    if verdict_ == "no_effect":
        return {
            "zh-CN": f"「{what}」没有可测的效果：停止或重新设计，把资源投向有效的行动。",
            "en": f"'{what}' had no measurable effect: stop or redesign it and move its resources to actions "
            "that worked.",
        }
    return {
        "zh-CN": f"「{what}」无法衡量：延长观察期或补充数据后再检查。",
        "en": f"'{what}' could not be measured: extend the window or add the missing data, then check again.",
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f}%"
