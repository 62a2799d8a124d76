"""Compliance cases (乱价, 窜货) with a lifecycle like alerts: open -> notified -> acknowledged -> resolved, or
appealed. ``refresh_cases`` opens one case per distributor x SKU with price violations and one per distributor
with cross-region orders, applies the enforcement policy of ``compliance`` in channelscope.yaml, and keeps the
order lines it holds so its evidence pack can be rebuilt from the warehouse at any later date."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from channelscope.analysis.compliance import SEVERITY, policy_step
from channelscope.errors import ChannelscopeError
from channelscope.model.operational import CASE_TABLES
from channelscope.warehouse import Warehouse
from channelscope.warehouse.base import Tx

STATUSES = ("open", "notified", "acknowledged", "resolved", "appealed")
#: allowed transitions
MOVES: dict[str, tuple[str, ...]] = {
    "open": ("notified", "resolved"),
    "notified": ("acknowledged", "appealed", "resolved"),
    "acknowledged": ("resolved", "appealed"),
    "appealed": ("notified", "resolved"),
    "resolved": ("open",),
}


class CaseNotFound(ChannelscopeError):
    """No case has this id."""


class CaseTransitionError(ChannelscopeError):
    """The requested status change is not allowed from the case's status."""


def _lock(project: Any) -> Any:
    lock = getattr(project, "write_lock", None)
    return lock if lock is not None else contextlib.nullcontext()


@contextlib.contextmanager
def _tx(project: Any) -> Iterator[Tx]:
    with _lock(project):
        wh: Warehouse = project.warehouse
        wh.ensure_tables(*CASE_TABLES)
        with wh.transaction() as tx:
            yield tx


def case_id(kind: str, distributor: str, sku: str | None, first_seen: str) -> str:
    return hashlib.sha1(f"{kind}|{distributor}|{sku or ''}|{first_seen}".encode()).hexdigest()[:12]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _rows(tx: Tx, where: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    from channelscope.model.operational import OPERATIONAL

    cols = OPERATIONAL["compliance_cases"].names
    rows = tx.execute(f"SELECT {', '.join(cols)} FROM compliance_cases {where}", list(params))
    return [dict(zip(cols, r, strict=True)) for r in rows]


def refresh_cases(project: Any, *, now: dt.datetime | None = None) -> dict[str, list[str]]:
    """Open or update the cases from today's violations and cross-region orders; returns the ids of the new
    cases, the updated ones, and the cases whose violations recur after they were notified (repeats).

    A notified case is a warning (``analysis.compliance.case_warnings``): violations after its notification
    day count as repeats, and the policy escalates the case by them (a price case by depth and repeats, a
    region case by repeats)."""
    c = project.analysis.compliance
    cfg = c.config
    now = now or _now()
    warned = c.case_warnings()  # a notified case is a warning: what follows it is a repeat
    groups = c.violations(warned)
    lines = c.violation_lines()
    regions = c.cross_region_orders()
    region_reps = c.region_repeats(warned).set_index("distributor_id")["repeat_days"]
    wanted: list[dict[str, Any]] = []
    for g in groups.itertuples():  # aggregates: one row per distributor x SKU
        step = policy_step(float(g.depth_worst), int(g.repeat_days), cfg)
        mine = lines[(lines["distributor_id"] == g.distributor_id) & (lines["sku"] == g.sku)]
        wanted.append(
            {
                "case_id": case_id("price", g.distributor_id, g.sku, str(g.first_seen)[:10]),
                "kind": "price",
                "distributor_id": g.distributor_id,
                "sku": g.sku,
                "severity": SEVERITY[step.action],
                "action": step.action,
                "fine": step.fine,
                "lines": int(g.lines),
                "units": int(g.units),
                "depth_worst": float(g.depth_worst),
                "repeat_days": int(g.repeat_days),
                "value": float(g.value_under_map),
                "first_seen": str(g.first_seen)[:10],
                "last_seen": str(g.last_seen)[:10],
                "evidence_json": json.dumps(
                    [[o, int(n)] for o, n in zip(mine["order_id"], mine["line_no"], strict=True)]
                ),
                "rule_json": json.dumps(
                    {
                        "rule": "price_below_map",
                        "exemptions": [e.model_dump(mode="json") for e in cfg.exemptions],
                        "policy": [s.model_dump(mode="json") for s in cfg.policy],
                        "applied": step.model_dump(mode="json"),
                    },
                    ensure_ascii=False,
                ),
            }
        )
    for did, g in regions.groupby("distributor_id", sort=True):  # one case per distributor
        reps = int(region_reps.get(str(did), 0))
        step = policy_step(0.0, reps, cfg)  # no depth: a region case escalates by its repeats only
        wanted.append(
            {
                "case_id": case_id("region", str(did), None, str(g["business_date"].min())[:10]),
                "kind": "region",
                "distributor_id": str(did),
                "sku": None,
                "severity": SEVERITY[step.action],
                "action": step.action,
                "fine": step.fine,
                "lines": len(g),
                "units": None,
                "depth_worst": None,
                "repeat_days": reps,
                "value": float(pd.to_numeric(g["net_amount_base"]).sum()),
                "first_seen": str(g["business_date"].min())[:10],
                "last_seen": str(g["business_date"].max())[:10],
                "evidence_json": json.dumps([[o, None] for o in g["order_id"]]),
                "rule_json": json.dumps(
                    {
                        "rule": "outside_authorized_regions",
                        "policy": [s.model_dump(mode="json") for s in cfg.policy],
                        "applied": step.model_dump(mode="json"),
                    },
                    ensure_ascii=False,
                ),
            }
        )
    out: dict[str, list[str]] = {"opened": [], "updated": [], "repeated": []}
    with _tx(project) as tx:
        have = {r["case_id"]: r for r in _rows(tx)}
        for w in wanted:
            old = have.get(w["case_id"])
            if old is None:
                row = {
                    **w,
                    "status": "open",
                    "history_json": json.dumps([{"status": "open", "at": now.isoformat()}]),
                    "opened_at": now,
                    "updated_at": now,
                }
                cols = list(row)
                tx.execute(
                    f"INSERT INTO compliance_cases ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                    list(row.values()),
                )
                out["opened"].append(w["case_id"])
            elif (old["lines"], old["last_seen"], old["repeat_days"], old["action"]) != (
                w["lines"],
                w["last_seen"],
                w["repeat_days"],
                w["action"],
            ):
                changes = {k: v for k, v in w.items() if k != "case_id"} | {"updated_at": now}
                sets = ", ".join(f"{k} = ?" for k in changes)
                tx.execute(f"UPDATE compliance_cases SET {sets} WHERE case_id = ?", [*changes.values(), w["case_id"]])
                out["updated"].append(w["case_id"])
                # a repeat: the case was notified (or went further) and its breaches go on
                more = int(w["repeat_days"] or 0) > int(0 if pd.isna(old["repeat_days"]) else old["repeat_days"] or 0)
                if old["status"] != "open" or more:
                    out["repeated"].append(w["case_id"])
    return out


def list_cases(
    project: Any, *, status: str | None = None, distributors: Sequence[str] | None = None, managers: bool = False
) -> pd.DataFrame:
    """The cases, newest first; ``distributors`` limits them (a scoped user's node and children); ``managers``
    adds the channel manager each case is routed to (``case_managers``; empty when nobody holds it)."""
    with _lock(project):
        wh: Warehouse = project.warehouse
        if not wh.has_tables(*CASE_TABLES):
            return pd.DataFrame(columns=["case_id", "kind", "distributor_id", "sku", "status"])
        with wh.reading() as tx:
            rows = _rows(tx)
    f = pd.DataFrame(rows)
    if f.empty:
        return f
    if status:
        f = f[f["status"] == status]
    if distributors is not None:
        f = f[f["distributor_id"].isin(list(distributors))]
    if managers and not f.empty:
        named = case_managers(project, f["distributor_id"].astype(str).tolist())
        f = f.assign(manager=[", ".join(named.get(d, [])) or None for d in f["distributor_id"].astype(str)])
    return f.sort_values(["opened_at", "case_id"], ascending=[False, True], ignore_index=True)


def get_case(project: Any, cid: str) -> dict[str, Any]:
    f = list_cases(project)
    hit = f[f["case_id"].str.startswith(cid)] if not f.empty else f
    if len(hit) != 1:
        raise CaseNotFound(f"no compliance case '{cid}'" if hit.empty else f"case id '{cid}' is ambiguous")
    return dict(hit.iloc[0])


def move_case(project: Any, cid: str, to: str, *, by: str = "", note: str = "", now: dt.datetime | None = None) -> dict:
    """Change a case's status (notify, acknowledge, resolve, appeal), recording who, when and why."""
    if to not in STATUSES:
        raise CaseTransitionError(f"unknown case status '{to}'; valid: {', '.join(STATUSES)}")
    case = get_case(project, cid)
    if to not in MOVES[case["status"]]:
        raise CaseTransitionError(
            f"case {case['case_id']} is {case['status']}: it can become {', '.join(MOVES[case['status']])}, not {to}"
        )
    now = now or _now()
    history = [*json.loads(case["history_json"] or "[]"), {"status": to, "at": now.isoformat(), "by": by, "note": note}]
    with _tx(project) as tx:
        tx.execute(
            "UPDATE compliance_cases SET status = ?, history_json = ?, updated_at = ? WHERE case_id = ?",
            [to, json.dumps(history, ensure_ascii=False), now, case["case_id"]],
        )
    return {**case, "status": to, "history_json": json.dumps(history, ensure_ascii=False)}


# ---- routing: the channel manager of a case, notified through the alert notifiers ---------------------------

#: alert kinds (and rule names) of the notifications about cases
NEW_CASE = "compliance_case_new"
REPEATED_CASE = "compliance_case_repeated"


def case_managers(project: Any, distributor_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per distributor: the channel managers (users of role ``channel_manager``, not disabled) whose scope holds
    it most closely. A manager scoped to distributors holds them and every node below; the nearest such
    ancestor (the distributor itself first) wins, and managers of its channel without a distributor list come
    next. Distributors nobody holds map to []. Reads the users and the distributors dimension (one row each)."""
    wanted = sorted(set(distributor_ids))
    out: dict[str, list[str]] = {d: [] for d in wanted}
    wh: Warehouse = project.warehouse
    if not wanted or not wh.has_tables("users"):
        return out
    users = wh.execute(
        "SELECT username, channels, distributors FROM users WHERE role = 'channel_manager' AND NOT disabled "
        "ORDER BY username",
        [],
    )
    if not users:
        return out
    d = project.table("distributors").select("distributor_id", "parent_id", "channel_id").to_pandas()
    parent = {
        str(k): (str(v) if isinstance(v, str) else None)
        for k, v in zip(d["distributor_id"], d["parent_id"], strict=True)
    }
    channel = dict(zip(d["distributor_id"].astype(str), d["channel_id"].astype(str), strict=True))
    for did in wanted:
        chain: list[str] = []  # the distributor, its parent, ... up to the root
        node: str | None = did
        while node is not None and node not in chain:
            chain.append(node)
            node = parent.get(node)
        best: tuple[int, list[str]] = (len(chain) + 1, [])
        for username, chans_json, dists_json in users:
            chans, dists = json.loads(chans_json or "[]"), json.loads(dists_json or "[]")
            if chans and channel.get(did) not in chans:
                continue
            if dists:
                hits = [i for i, n in enumerate(chain) if n in dists]
                if not hits:
                    continue
                rank = hits[0]
            elif chans:
                rank = len(chain)  # the channel's manager: after every distributor-scoped one
            else:
                continue  # a manager of everything names nobody's manager
            if rank < best[0]:
                best = (rank, [str(username)])
            elif rank == best[0]:
                best[1].append(str(username))
        out[did] = best[1]
    return out


def _case_finding(case: dict[str, Any], kind: str, managers: list[str], notifiers: list[str]) -> Any:
    from channelscope.monitor.findings import Finding

    did, sku, what = case["distributor_id"], case.get("sku"), case["kind"]
    action = str(case["action"])
    to = ", ".join(managers) or "-"
    if what == "price":
        en = f"{did} sold {sku} under MAP: {int(case['lines'])} lines, worst {float(case['depth_worst']):.1%} under"
        zh = f"经销商 {did} 低于最低限价销售 {sku}：{int(case['lines'])} 行，最深低 {float(case['depth_worst']):.1%}"
    else:
        en = f"{did} shipped {int(case['lines'])} orders outside its authorized regions"
        zh = f"经销商 {did} 有 {int(case['lines'])} 笔订单发往授权区域之外（窜货）"
    if kind == REPEATED_CASE:
        en = f"Repeated after notification: {en} ({int(case['repeat_days'] or 0)} days after the warning)"
        zh = f"通知后再犯：{zh}（警告后 {int(case['repeat_days'] or 0)} 天）"
    else:
        en, zh = f"New compliance case: {en}", f"新合规案件：{zh}"
    title = {"en": en, "zh-CN": zh}
    text = {
        "en": f"{en}. Policy: {action}. Case {case['case_id']}, {case['first_seen']} to {case['last_seen']}; "
        f"manager: {to}.",
        "zh-CN": f"{zh}。处理：{action}。案件 {case['case_id']}，{case['first_seen']} 至 {case['last_seen']}；"
        f"渠道经理：{to}。",
    }
    scope = {"distributor_id": str(did), "case_id": str(case["case_id"])}
    if sku:
        scope["sku"] = str(sku)
    return Finding(
        rule=kind,
        kind=kind,
        severity=str(case["severity"]),
        scope=scope,
        period=str(case["last_seen"]),  # a later breach is a new alert
        metric=None,
        value=float(case["repeat_days"] or 0) if kind == REPEATED_CASE else float(case["lines"] or 0),
        expected=None,
        lower=None,
        upper=None,
        title=title,
        text=text,
        evidence={
            "case_id": str(case["case_id"]),
            "case_kind": str(what),
            "action": action,
            "fine": None if case.get("fine") is None or pd.isna(case.get("fine")) else float(case["fine"]),
            "lines": int(case["lines"] or 0),
            "repeat_days": int(case["repeat_days"] or 0),
            "first_seen": str(case["first_seen"]),
            "last_seen": str(case["last_seen"]),
            "managers": managers,
        },
        auto_resolve=False,
        notify=tuple(notifiers),
    )


def notify_cases(
    project: Any, changes: dict[str, list[str]], *, now: dt.datetime | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Route the cases ``refresh_cases`` opened (alert kind ``compliance_case_new``) and the repeated ones
    (``compliance_case_repeated``) to their channel managers (``case_managers``), through the notifiers
    ``compliance.managers`` gives each, and through every matching route of ``alerts.routes``: recorded as
    alerts (their lifecycle, cooldown and outbox), then delivered. Returns per case its kind, managers and
    notifiers, and the delivery report."""
    from channelscope.monitor.dispatch import deliver_due, record_findings
    from channelscope.monitor.findings import Evaluation

    now = now or _now()
    ids = [(c, NEW_CASE) for c in changes.get("opened", [])] + [(c, REPEATED_CASE) for c in changes.get("repeated", [])]
    cases = list_cases(project)
    if not ids or cases.empty:
        return {"routed": {}, "queued": 0, "delivery": None}
    by_id = {str(r["case_id"]): dict(r) for _, r in cases.iterrows()}  # the cases (one row each)
    managers = case_managers(project, [by_id[c]["distributor_id"] for c, _ in ids if c in by_id])
    config = project.config.compliance.managers
    findings, routed = [], {}
    for cid, kind in ids:
        case = by_id.get(cid)
        if case is None:
            continue
        names = managers.get(case["distributor_id"], [])
        notifiers = [n for m in names for n in config.get(m, [])]
        findings.append(_case_finding(case, kind, names, notifiers))
        routed[cid] = {"kind": kind, "managers": names, "notifiers": list(dict.fromkeys(notifiers))}
    report = record_findings(project, Evaluation(findings=findings, checked=[]), now=now)
    delivery = deliver_due(project, now=now, timeout=timeout)
    return {"routed": routed, "queued": report.queued, "delivery": delivery.to_dict()}
