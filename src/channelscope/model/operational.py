"""Operational tables, declared once: what the running system records beside the canonical data.

The alert lifecycle and its delivery outbox, scheduler runs, users, API tokens, web sessions, the access
log and the cursors of incremental sources. They are declared here as data; the warehouse creates them
(``Warehouse.ensure_tables``) with its engine's types, so no module outside ``warehouse/`` writes DDL.

Column types are portable names (``string``, ``float64``, ``int32``, ``boolean``, ``timestamp``) that
each engine maps to its own SQL type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpColumn:
    name: str
    type: str  # string | float64 | int32 | boolean | timestamp
    not_null: bool = False
    primary: bool = False


@dataclass(frozen=True)
class OpTable:
    name: str
    columns: tuple[OpColumn, ...]
    doc: str = ""
    #: secondary indexes (engines that maintain indexes on small tables create them)
    indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, type_: str, *, not_null: bool = False, primary: bool = False) -> OpColumn:
    return OpColumn(name, type_, not_null or primary, primary)


_S, _F, _I, _B, _T = "string", "float64", "int32", "boolean", "timestamp"

_OPS: list[OpTable] = [
    OpTable(
        "alerts",
        (
            _c("alert_id", _S, primary=True),
            _c("rule", _S, not_null=True),
            _c("kind", _S),
            _c("severity", _S, not_null=True),
            _c("status", _S, not_null=True),  # open | acknowledged | resolved
            _c("scope_json", _S),
            _c("channel_id", _S),
            _c("distributor_id", _S),
            _c("period", _S),
            _c("metric", _S),
            _c("value", _F),
            _c("expected", _F),
            _c("lower_bound", _F),
            _c("upper_bound", _F),
            _c("title_json", _S),
            _c("text_json", _S),
            _c("evidence_json", _S),
            _c("auto_resolve", _B),
            _c("occurrences", _I),
            _c("first_seen_at", _T),
            _c("last_seen_at", _T),
            _c("notified_at", _T),  # when notifications were last queued (the cooldown runs from here)
            _c("notified_severity", _S),
            _c("acknowledged_at", _T),
            _c("acknowledged_by", _S),
            _c("resolved_at", _T),
            _c("resolved_by", _S),
        ),
        doc="The alert lifecycle: one row per alert, open -> acknowledged -> resolved.",
        indexes=(("status",),),
    ),
    OpTable(
        "alert_deliveries",
        (
            _c("delivery_id", _S, primary=True),
            _c("message_id", _S, not_null=True),
            _c("alert_id", _S, not_null=True),
            _c("notifier", _S, not_null=True),
            _c("kind", _S),
            _c("digest", _B),
            _c("status", _S, not_null=True),  # pending | delivered | failed | cancelled
            _c("attempts", _I, not_null=True),
            _c("created_at", _T, not_null=True),
            _c("next_attempt_at", _T),
            _c("last_attempt_at", _T),
            _c("delivered_at", _T),
            _c("last_error", _S),
        ),
        doc="The notification outbox: one row per alert and notifier.",
        indexes=(("status", "next_attempt_at"), ("alert_id",)),
    ),
    OpTable(
        "runs",
        (
            _c("run_id", _S, primary=True),
            _c("job", _S, not_null=True),
            _c("scheduled_for", _T),
            _c("started_at", _T),
            _c("finished_at", _T),
            _c("status", _S, not_null=True),
            _c("message", _S),
        ),
        doc="Scheduler runs: one row per job and tick.",
    ),
    OpTable(
        "users",
        (
            _c("username", _S, primary=True),
            _c("password_hash", _S, not_null=True),
            _c("role", _S, not_null=True),
            _c("channels", _S, not_null=True),
            _c("distributors", _S, not_null=True),
            _c("lang", _S, not_null=True),
            _c("disabled", _B, not_null=True),
            _c("created_at", _T, not_null=True),
        ),
        doc="Web and API users with their role and channel scope.",
    ),
    OpTable(
        "api_tokens",
        (
            _c("token_hash", _S, primary=True),
            _c("username", _S, not_null=True),
            _c("label", _S),
            _c("created_at", _T, not_null=True),
            _c("last_used_at", _T),
            _c("revoked", _B, not_null=True),
        ),
        doc="API tokens (hashed).",
    ),
    OpTable(
        "web_sessions",
        (
            _c("session_hash", _S, primary=True),
            _c("username", _S, not_null=True),
            _c("csrf_token", _S, not_null=True),
            _c("created_at", _T, not_null=True),
            _c("expires_at", _T, not_null=True),
        ),
        doc="Dashboard sessions (hashed) with their CSRF token.",
    ),
    OpTable(
        "access_log",
        (
            _c("logged_at", _T, not_null=True),
            _c("username", _S),
            _c("method", _S),
            _c("path", _S),
            _c("status", _I),
            _c("decision", _S, not_null=True),
            _c("reason", _S),
            _c("client", _S),
        ),
        doc="Every authorization decision of the web app.",
    ),
    OpTable(
        "compliance_cases",
        (
            _c("case_id", _S, primary=True),
            _c("kind", _S, not_null=True),  # price | region
            _c("distributor_id", _S, not_null=True),
            _c("sku", _S),
            _c("status", _S, not_null=True),  # open | notified | acknowledged | resolved | appealed
            _c("severity", _S, not_null=True),
            _c("action", _S),  # warning | fine | suspend_commission | terminate (the policy's rung)
            _c("fine", _F),
            _c("lines", _I),
            _c("units", _I),
            _c("depth_worst", _F),
            _c("repeat_days", _I),
            _c("value", _F),  # yuan under MAP (price) or shipped out of region (region)
            _c("first_seen", _S),
            _c("last_seen", _S),
            _c("evidence_json", _S),  # the order lines (order_id, line_no) the case holds: the pack rebuilds from them
            _c("rule_json", _S),  # the rule and policy applied, as they were when the case was opened
            _c("history_json", _S),  # every transition: status, at, by, note
            _c("opened_at", _T, not_null=True),
            _c("updated_at", _T, not_null=True),
        ),
        doc="Compliance cases (乱价, 窜货) with their lifecycle, like alerts.",
        indexes=(("distributor_id",), ("status",)),
    ),
    OpTable(
        "source_state",
        (_c("source", _S, primary=True), _c("cursor", _S), _c("updated_at", _T)),
        doc="The cursor of each incremental source (REST, SQL).",
    ),
]

OPERATIONAL: dict[str, OpTable] = {t.name: t for t in _OPS}

#: the groups one component creates together
ALERT_TABLES = ("alerts", "alert_deliveries")
AUTH_TABLES = ("users", "api_tokens", "web_sessions", "access_log")
CASE_TABLES = ("compliance_cases",)
