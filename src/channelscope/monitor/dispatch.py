"""From findings to delivered notifications: the alert lifecycle, routing, cooldown, digests and the outbox.

``check_and_notify`` evaluates the rules, records what they found (open -> acknowledged -> resolved),
queues one delivery per alert and notifier (or one digest per notifier) unless the alert was notified
within the cooldown, and then delivers what is due. ``deliver_due`` is the outbox worker: each message is
sent in a small thread pool with a timeout, so a slow receiver cannot stall the others; a failure is
recorded (redacted) and retried with capped exponential backoff until it succeeds or gives up as
``failed`` -- still listed by ``channelscope alerts``. Deliveries are at-least-once: a receiver that
answers after the timeout may see the message twice (each message carries its key for de-duplication).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from channelscope.config.alerts import AlertsConfig, duration_seconds
from channelscope.monitor.findings import Evaluation, Finding
from channelscope.monitor.notify.message import SEVERITY_RANK, DeliveryError, Message, Units, render_digest
from channelscope.monitor.secrets import Secrets, install_log_redaction, redact
from channelscope.monitor.store import (
    LifecycleError,
    Tx,
    alerts_by_id,
    decode_alert,
    deliveries_of,
    find_alert,
    insert_row,
    reading,
    transaction,
    update_row,
)

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())  # the CLI reports failures itself; a server's logging config gets them
install_log_redaction(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the outbox tries: delays in seconds, doubling from ``base`` up to ``cap``."""

    base: float = 60.0
    cap: float = 3600.0
    max_attempts: int = 8
    max_age: float = 24 * 3600.0  # a delivery older than this gives up after its next failure
    lease: float = 600.0  # a claimed message whose sender crashed is retried after this

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return min(self.cap, self.base * 2 ** max(0, attempts - 1))


DEFAULT_POLICY = RetryPolicy()
MAX_WORKERS = 4


@dataclass
class DeliveryReport:
    """What one outbox pass did (counts of messages, not rows)."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # "notifier: error" (redacted)

    def to_dict(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "retrying": self.retrying, "failed": self.failed, "errors": self.errors}


@dataclass
class CheckReport:
    """What one check did: the evaluation, the lifecycle changes and the deliveries."""

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    queued: int = 0  # delivery rows queued (alert x notifier)
    suppressed: int = 0  # alerts not notified again because of the cooldown or an acknowledgement
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    dry_run: bool = False

    @property
    def critical(self) -> int:
        return sum(1 for f in self.findings if f.severity == "critical")

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "checked": self.checked,
            "errors": self.errors,
            "opened": self.opened,
            "reopened": self.reopened,
            "updated": self.updated,
            "resolved": self.resolved,
            "queued": self.queued,
            "suppressed": self.suppressed,
            "critical": self.critical,
            "delivery": self.delivery.to_dict(),
            "dry_run": self.dry_run,
        }


def utc(now: dt.datetime | None) -> dt.datetime:
    """Naive UTC (how the warehouse stores time)."""
    if now is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now


def alerts_config(project: Any) -> AlertsConfig:
    return project.config.alerts or AlertsConfig()


def secrets_of(project: Any) -> Secrets:
    return Secrets.for_project(project.folder, alerts_config(project).secrets_file)


# ---- the check ------------------------------------------------------------------------------------------


def check_and_notify(
    project: Any,
    *,
    group: str | None = None,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    timeout: float | None = None,
) -> CheckReport:
    """Evaluate the rules (of ``group``), record the lifecycle, queue notifications and deliver what is due.

    ``dry_run`` evaluates only: nothing is written or sent. ``timeout`` (seconds) overrides every notifier's."""
    from channelscope.monitor.evaluate import evaluate_rules

    moment = utc(now)
    evaluation = evaluate_rules(project, group=group, as_of=as_of, now=moment)
    if dry_run:
        return CheckReport(evaluation.findings, evaluation.checked, evaluation.errors, dry_run=True)
    report = record_findings(project, evaluation, now=moment)
    report.delivery = deliver_due(project, now=moment, timeout=timeout)
    return report


def _routes_for(cfg: AlertsConfig, f: Finding) -> list[str]:
    """The notifiers the finding names itself (its manager's), then those of every matching route."""
    names: list[str] = [n for n in dict.fromkeys(f.notify) if n in cfg.notifiers]
    for route in cfg.routes:
        if route.matches(severity=f.severity, rule=f.rule, scope=f.scope):
            names += [n for n in route.notify if n not in names]
    return names


def _content(f: Finding, now: dt.datetime) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "kind": f.kind,
        "severity": f.severity,
        "scope_json": json.dumps(f.scope, ensure_ascii=False, sort_keys=True),
        "channel_id": f.scope.get("channel_id"),
        "distributor_id": f.scope.get("distributor_id"),
        "period": f.period,
        "metric": f.metric,
        "value": _finite(f.value),
        "expected": _finite(f.expected),
        "lower_bound": _finite(f.lower),
        "upper_bound": _finite(f.upper),
        "title_json": json.dumps(f.title, ensure_ascii=False),
        "text_json": json.dumps(f.text, ensure_ascii=False),
        "evidence_json": json.dumps(f.evidence, ensure_ascii=False, default=str),
        "auto_resolve": bool(f.auto_resolve),
        "last_seen_at": now,
    }


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def record_findings(project: Any, evaluation: Evaluation, *, now: dt.datetime | None = None) -> CheckReport:
    """Record an evaluation in the lifecycle and queue its notifications (no sending).

    New keys open alerts; a resolved alert found again re-opens; an open or acknowledged one is updated.
    Open alerts of rules that were checked, resolve themselves (``auto_resolve``) and were not found again
    are resolved by 'auto'. Notifications are queued for open alerts whose routes name notifiers, unless the
    alert was notified within the cooldown at the same or a higher severity."""
    moment = utc(now)
    cfg = alerts_config(project)
    cooldown = dt.timedelta(seconds=duration_seconds(cfg.cooldown))
    report = CheckReport(list(evaluation.findings), list(evaluation.checked), list(evaluation.errors))
    findings = {f.key: f for f in evaluation.findings}  # one finding per key (the last wins)
    digest_ids: dict[str, str] = {}
    with transaction(project) as tx:
        stored = alerts_by_id(tx, list(findings))
        for key, f in findings.items():
            row = stored.get(key)
            content = _content(f, moment)
            if row is None:
                insert_row(
                    tx,
                    "alerts",
                    {"alert_id": key, "status": "open", "occurrences": 1, "first_seen_at": moment, **content},
                )
                report.opened.append(key)
                row = {"status": "open", "notified_at": None, "notified_severity": None}
            elif row["status"] == "resolved":
                reopen = {"status": "open", "resolved_at": None, "resolved_by": None, "acknowledged_at": None}
                reopen["acknowledged_by"] = None
                update_row(
                    tx, "alerts", "alert_id", key, {**content, **reopen, "occurrences": int(row["occurrences"]) + 1}
                )
                report.reopened.append(key)
                row = {**row, "status": "open"}
            else:
                update_row(tx, "alerts", "alert_id", key, {**content, "occurrences": int(row["occurrences"]) + 1})
                report.updated.append(key)
            report.queued += _queue(tx, cfg, f, row, moment, cooldown, digest_ids, report)
        report.resolved = _auto_resolve(tx, evaluation, set(findings), moment)
    return report


def _queue(
    tx: Tx,
    cfg: AlertsConfig,
    f: Finding,
    row: dict[str, Any],
    now: dt.datetime,
    cooldown: dt.timedelta,
    digest_ids: dict[str, str],
    report: CheckReport,
) -> int:
    notifiers = _routes_for(cfg, f)
    if not notifiers:
        return 0
    if row["status"] != "open":  # acknowledged: someone is on it
        report.suppressed += 1
        return 0
    last = row.get("notified_at")
    last = None if last is None or pd.isna(last) else pd.Timestamp(last).to_pydatetime()
    escalated = SEVERITY_RANK.get(f.severity, 0) > SEVERITY_RANK.get(str(row.get("notified_severity") or ""), -1)
    if last is not None and now - last < cooldown and not escalated:
        report.suppressed += 1
        return 0
    for name in notifiers:
        if cfg.digest:
            message_id = digest_ids.setdefault(name, f"digest-{uuid.uuid4().hex[:12]}")
        else:
            message_id = f"{f.key}-{uuid.uuid4().hex[:8]}"
        notifier = cfg.notifiers[name]
        insert_row(
            tx,
            "alert_deliveries",
            {
                "delivery_id": uuid.uuid4().hex,
                "message_id": message_id,
                "alert_id": f.key,
                "notifier": name,
                "kind": notifier.kind,
                "digest": cfg.digest,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "next_attempt_at": now,
            },
        )
    update_row(tx, "alerts", "alert_id", f.key, {"notified_at": now, "notified_severity": f.severity})
    return len(notifiers)


def _auto_resolve(tx: Tx, evaluation: Evaluation, found: set[str], now: dt.datetime) -> list[str]:
    if not evaluation.checked:
        return []
    marks = ", ".join("?" for _ in evaluation.checked)
    rows = tx.execute(
        f"SELECT alert_id FROM alerts WHERE status IN ('open', 'acknowledged') AND auto_resolve AND rule IN ({marks})",
        list(evaluation.checked),
    )
    gone = sorted(r[0] for r in rows if r[0] not in found)
    for alert_id in gone:
        _close(tx, alert_id, "resolved", "auto", now)
    return gone


def _close(tx: Tx, alert_id: str, status: str, by: str, now: dt.datetime) -> None:
    prefix = "acknowledged" if status == "acknowledged" else "resolved"
    update_row(tx, "alerts", "alert_id", alert_id, {"status": status, f"{prefix}_at": now, f"{prefix}_by": by})
    # a message nobody has received yet about an alert someone is on (or that is over) is not sent
    tx.execute(
        "UPDATE alert_deliveries SET status = 'cancelled', next_attempt_at = NULL WHERE alert_id = ? AND status = 'pending'",
        [alert_id],
    )


# ---- the outbox -----------------------------------------------------------------------------------------


@dataclass
class _Outgoing:
    message_id: str
    notifier: str
    attempts: int  # including the one about to be made
    created_at: dt.datetime
    message: Message | None = None
    error: DeliveryError | None = None


def deliver_due(
    project: Any, *, now: dt.datetime | None = None, timeout: float | None = None, policy: RetryPolicy | None = None
) -> DeliveryReport:
    """Send every pending message whose next attempt is due, in parallel, each within its timeout (seconds).

    Success marks its rows delivered; a failure records the redacted error and schedules the next attempt
    (``policy``: capped exponential backoff), or marks the rows failed after ``max_attempts``, ``max_age``
    or a permanent error. Returns counts of messages."""
    moment = utc(now)
    policy = policy or DEFAULT_POLICY
    cfg = alerts_config(project)
    out = _claim(project, moment, policy)
    report = DeliveryReport()
    if not out:
        return report
    _render(project, cfg, out)
    _send_all(project, cfg, [o for o in out if o.error is None], timeout)
    with transaction(project) as tx:
        for o in out:
            _settle(tx, o, moment, policy, report)
    return report


def _claim(project: Any, now: dt.datetime, policy: RetryPolicy) -> list[_Outgoing]:
    lease_until = now + dt.timedelta(seconds=policy.lease)
    with transaction(project) as tx:
        due = tx.query(
            "SELECT message_id, notifier, max(attempts) AS attempts, min(created_at) AS created_at "
            "FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= ? "
            "GROUP BY message_id, notifier ORDER BY min(created_at), message_id",
            [now],
        )
        out = []
        for r in due.itertuples(index=False):
            # the lease keeps a concurrent worker (or a crashed run) from sending the same message twice
            claimed = tx.execute(
                "UPDATE alert_deliveries SET attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ? "
                "WHERE message_id = ? AND status = 'pending' AND next_attempt_at <= ? RETURNING delivery_id",
                [now, lease_until, r.message_id, now],
            )
            if not claimed:
                continue
            created = pd.Timestamp(r.created_at).to_pydatetime()
            out.append(_Outgoing(str(r.message_id), str(r.notifier), int(r.attempts) + 1, created))
    return out


def _units(project: Any) -> Units | None:
    """The metrics' units and the base currency, so a message writes numbers like the dashboard."""
    try:
        units = {name: str(m.unit) for name, m in project.catalog.metrics.items()}
        return Units(units, project.config.project.base_currency)
    except AttributeError:  # a bare store without a project's catalog: plain numbers
        return None


def _render(project: Any, cfg: AlertsConfig, out: list[_Outgoing]) -> None:
    with reading(project) as tx:
        assert tx is not None
        for o in out:
            notifier = cfg.notifiers.get(o.notifier)
            if notifier is None:
                o.error = DeliveryError(f"notifier '{o.notifier}' is no longer configured", retryable=False)
                continue
            ids = [
                r[0]
                for r in tx.execute(
                    "SELECT alert_id FROM alert_deliveries WHERE message_id = ? AND status = 'pending' ORDER BY alert_id",
                    [o.message_id],
                )
            ]
            rows = [decode_alert(r) for r in alerts_by_id(tx, ids).values()]
            if not rows:
                o.error = DeliveryError("the alert of this delivery is gone", retryable=False)
                continue
            lang = notifier.language or cfg.language
            o.message = render_digest(
                o.message_id if len(rows) > 1 else rows[0]["alert_id"], rows, lang, _units(project)
            )


def _send_one(cfg: AlertsConfig, o: _Outgoing, secrets: Secrets, timeout: float | None) -> None:
    from channelscope.monitor.notify.attempt import send

    assert o.message is not None
    send(cfg.notifiers[o.notifier], o.message, secrets=secrets, timeout=timeout)


def _send_all(project: Any, cfg: AlertsConfig, out: list[_Outgoing], timeout: float | None) -> None:
    if not out:
        return
    secrets = secrets_of(project)
    workers = min(MAX_WORKERS, len(out))
    longest = max(timeout if timeout is not None else cfg.notifiers[o.notifier].timeout for o in out)
    # each send has its own socket timeout; the wall clock catches a receiver that trickles bytes forever
    deadline = (longest + 5.0) * math.ceil(len(out) / workers)
    pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="channelscope-notify")
    try:
        futures = {pool.submit(_send_one, cfg, o, secrets, timeout): o for o in out}
        done, _ = cf.wait(futures, timeout=deadline)
        for fut, o in futures.items():
            if fut not in done:
                o.error = DeliveryError(f"{o.notifier}: no answer within {longest:g} s (send abandoned)")
                continue
            exc = fut.exception()
            if isinstance(exc, DeliveryError):
                o.error = exc
            elif exc is not None:  # a bug in a sender must not lose the alert
                o.error = DeliveryError(f"{type(exc).__name__}: {redact(str(exc))}")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _settle(tx: Tx, o: _Outgoing, now: dt.datetime, policy: RetryPolicy, report: DeliveryReport) -> None:
    if o.error is None:
        tx.execute(
            "UPDATE alert_deliveries SET status = 'delivered', delivered_at = ?, next_attempt_at = NULL, last_error = NULL "
            "WHERE message_id = ? AND status = 'pending'",
            [now, o.message_id],
        )
        report.delivered += 1
        return
    error = redact(str(o.error))[:1000]
    too_old = (now - o.created_at).total_seconds() >= policy.max_age
    give_up = not o.error.retryable or o.attempts >= policy.max_attempts or too_old
    if give_up:
        tx.execute(
            "UPDATE alert_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = ? "
            "WHERE message_id = ? AND status = 'pending'",
            [error, o.message_id],
        )
        report.failed += 1
        log.error("alert delivery via %s failed for good after %d attempt(s): %s", o.notifier, o.attempts, error)
    else:
        retry_at = now + dt.timedelta(seconds=policy.delay(o.attempts))
        tx.execute(
            "UPDATE alert_deliveries SET next_attempt_at = ?, last_error = ? WHERE message_id = ? AND status = 'pending'",
            [retry_at, error, o.message_id],
        )
        report.retrying += 1
        log.warning(
            "alert delivery via %s failed (attempt %d), retry at %s UTC: %s",
            o.notifier,
            o.attempts,
            f"{retry_at:%Y-%m-%d %H:%M:%S}",
            error,
        )
    report.errors.append(f"{o.notifier}: {error}")


def retry_failed(project: Any, *, now: dt.datetime | None = None) -> int:
    """Put every failed delivery back in the outbox (after the receiver or its secret was fixed)."""
    moment = utc(now)
    with transaction(project) as tx:
        rows = tx.execute(
            "UPDATE alert_deliveries SET status = 'pending', attempts = 0, created_at = ?, next_attempt_at = ? "
            "WHERE status = 'failed' RETURNING delivery_id",
            [moment, moment],
        )
    return len(rows)


# ---- reading and the human side of the lifecycle --------------------------------------------------------

LIST_COLUMNS = [
    "alert_id",
    "status",
    "severity",
    "rule",
    "channel_id",
    "distributor_id",
    "period",
    "metric",
    "value",
    "expected",
    "title",
    "occurrences",
    "first_seen_at",
    "last_seen_at",
    "acknowledged_by",
    "resolved_by",
    "delivered",
    "pending",
    "failed",
    "last_error",
]


def list_alerts(
    project: Any,
    *,
    status: str | None = None,
    channels: Sequence[str] | None = None,
    limit: int | None = 50,
    offset: int = 0,
    lang: str | None = None,
) -> pd.DataFrame:
    """Alerts with their delivery state: open first, then by severity and recency.

    ``channels`` keeps only alerts scoped to those channels (a channel manager's view); ``limit`` 0 or
    None means all. ``title`` is in ``lang`` (default: alerts.language). ``delivered``/``pending``/``failed``
    count delivery rows; ``last_error`` is the latest failure (redacted at write time)."""
    lang = lang or alerts_config(project).language
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if channels is not None:
        if not channels:
            return pd.DataFrame(columns=LIST_COLUMNS)
        where.append(f"channel_id IN ({', '.join('?' for _ in channels)})")
        params += list(channels)
    sql = (
        "SELECT * FROM alerts"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY CASE status WHEN 'open' THEN 0 WHEN 'acknowledged' THEN 1 ELSE 2 END, "
        "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, last_seen_at DESC, alert_id"
    )
    if limit:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    elif offset:
        sql += f" OFFSET {int(offset)}"
    with reading(project) as tx:
        if tx is None:
            return pd.DataFrame(columns=LIST_COLUMNS)
        rows = [decode_alert(r) for r in tx.query(sql, params).to_dict("records")]
        deliveries = deliveries_of(tx, [r["alert_id"] for r in rows])
    states = _delivery_state(deliveries)
    out = []
    for r in rows:
        title = r["title"].get(lang) or r["title"].get("en") or ""
        out.append({**{c: r.get(c) for c in LIST_COLUMNS}, "title": title, **states.get(r["alert_id"], {})})
    df = pd.DataFrame(out, columns=LIST_COLUMNS)
    for c in ("delivered", "pending", "failed"):
        df[c] = df[c].fillna(0).astype(int)
    return df


def _delivery_state(deliveries: pd.DataFrame) -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = {}
    for alert_id, rows in deliveries.groupby("alert_id", sort=False):
        counts = rows["status"].value_counts()
        errors = rows[rows["last_error"].notna() & rows["status"].isin(["pending", "failed"])]
        last = errors.sort_values("last_attempt_at")["last_error"].iloc[-1] if len(errors) else None
        states[str(alert_id)] = {
            "delivered": int(counts.get("delivered", 0)),
            "pending": int(counts.get("pending", 0)),
            "failed": int(counts.get("failed", 0)),
            "last_error": last,
        }
    return states


def alert_detail(project: Any, alert_id: str) -> dict[str, Any]:
    """One alert (id or unique prefix) with all its fields and its deliveries."""
    with reading(project) as tx:
        row = decode_alert(find_alert(tx, alert_id))
        assert tx is not None
        deliveries = deliveries_of(tx, [row["alert_id"]])
    row["deliveries"] = [
        {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in d.items()}
        for d in deliveries.to_dict("records")
    ]
    return row


def _transition(project: Any, alert_id: str, status: str, by: str, now: dt.datetime | None) -> dict[str, Any]:
    with transaction(project) as tx:
        row = find_alert(tx, alert_id)
        current = row["status"]
        if current == status:
            return decode_alert(row)
        if current == "resolved" and status == "acknowledged":
            raise LifecycleError(
                f"alert {row['alert_id']} is already resolved", hint="only open alerts can be acknowledged"
            )
        _close(tx, row["alert_id"], status, by, utc(now))
        return decode_alert(alerts_by_id(tx, [row["alert_id"]])[row["alert_id"]])


def acknowledge(project: Any, alert_id: str, *, by: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """open -> acknowledged: no more notifications about it until it resolves and comes back."""
    return _transition(project, alert_id, "acknowledged", by, now)


def resolve(project: Any, alert_id: str, *, by: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """open or acknowledged -> resolved. Found again later, it re-opens."""
    return _transition(project, alert_id, "resolved", by, now)
