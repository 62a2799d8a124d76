"""Operational tables, declared once: what the running system records beside the canonical data.

The alert lifecycle and its delivery outbox, scheduler runs, users, API tokens, web sessions, the access
log, the cursors of incremental sources and the action log (PDCA). They are declared here as data; the warehouse creates them
(``Warehouse.ensure_tables``) with its engine's types, so no module outside ``warehouse/`` writes DDL.

Column types are portable names (``string``, ``float64``, ``int32``, ``boolean``, ``timestamp``, ``date``,
``money`` for DECIMAL(18,2)) that each engine maps to its own SQL type.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpColumn:
    name: str
    type: str  # string | float64 | int32 | boolean | timestamp | date | money (DECIMAL(18,2))
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
_D, _M = "date", "money"

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

_OPS += [
    OpTable(
        "forecast_runs",
        (
            _c("run_id", _S, primary=True),
            _c("metric", _S, not_null=True),
            _c("hierarchy", _S, not_null=True),
            _c("grain", _S, not_null=True),
            _c("horizon", _I, not_null=True),
            _c("history_start", _D),
            _c("history_end", _D),
            _c("reconciliation", _S),
            _c("created_at", _T, not_null=True),
        ),
        doc="One row per stored forecast run (plan/forecasts.py).",
    ),
    OpTable(
        "forecasts",
        (
            _c("run_id", _S, not_null=True),
            _c("level", _S, not_null=True),
            _c("series", _S, not_null=True),
            _c("channel_id", _S),
            _c("period", _D, not_null=True),
            _c("step", _I, not_null=True),
            _c("model", _S, not_null=True),
            _c("mean", _M, not_null=True),
            _c("p2_5", _M),
            _c("p10", _M),
            _c("p50", _M),
            _c("p90", _M),
            _c("p97_5", _M),
        ),
        doc="Per run, series and future period: the reconciled mean and its intervals (base currency; counts "
        "with two decimals).",
        indexes=(("run_id",),),
    ),
    OpTable(
        "forecast_accuracy",
        (
            _c("run_id", _S, not_null=True),
            _c("kind", _S, not_null=True),  # backtest | tracked
            _c("level", _S, not_null=True),
            _c("model", _S, not_null=True),
            _c("series_count", _I),
            _c("n", _I),
            _c("mae", _F),
            _c("mase", _F),
            _c("smape", _F),
            _c("bias", _F),
            _c("coverage_80", _F),
            _c("coverage_95", _F),
            _c("festival_mae", _F),
            _c("festival_days", _I),
            _c("measured_at", _T, not_null=True),
            _c("horizon", _S),  # "all", or the steps ahead scored: "1-7", "8-14", ... (NULL: written before 0.3)
        ),
        doc="Per run, level, model and horizon: the backtest's scores on the last window (MASE, sMAPE, bias as "
        "fractions; coverage as the share of actuals inside the interval), and rows of kind 'tracked' as actuals "
        "arrive.",
    ),
]
_OPS.append(
    OpTable(
        "actions",
        (
            _c("action_id", _S, primary=True),
            _c("what", _S, not_null=True),
            _c("owner", _S, not_null=True),
            _c("scope_kind", _S, not_null=True),  # channel | distributor | campaign
            _c("scope_id", _S, not_null=True),
            _c("channel_id", _S),  # the channel the scope belongs to (what a channel manager's scope checks)
            _c("start_date", _S, not_null=True),  # YYYY-MM-DD, business dates
            _c("deadline", _S, not_null=True),
            _c("metric", _S, not_null=True),
            _c("expected_change", _F),  # relative change of the metric the action should bring (0.1 = +10%)
            _c("status", _S, not_null=True),  # planned | doing | done | cancelled
            _c("origin", _S, not_null=True),  # manual | recommendation
            _c("origin_json", _S),  # the finding an action came from (its text and evidence)
            _c("note", _S),
            _c("created_at", _T, not_null=True),
            _c("created_by", _S),
            _c("updated_at", _T),
            _c("verdict", _S),  # worked | no_effect | worse | not_measurable (set by the check)
            _c("effect", _F),  # measured relative change against the counterfactual
            _c("effect_lower", _F),
            _c("effect_upper", _F),
            _c("checked_at", _T),
            _c("check_json", _S),  # the check's evidence: method, controls, windows, counterfactual
        ),
        doc="The action log (PDCA): plan (what, owner, scope, dates, metric, expected change), do (status), "
        "check (measured effect against comparable untreated channels, interval, verdict).",
        indexes=(("status",), ("channel_id",)),
    )
)

OPERATIONAL: dict[str, OpTable] = {t.name: t for t in _OPS}

#: the groups one component creates together
ALERT_TABLES = ("alerts", "alert_deliveries")
AUTH_TABLES = ("users", "api_tokens", "web_sessions", "access_log")
FORECAST_TABLES = ("forecast_runs", "forecasts", "forecast_accuracy")
ACTION_TABLES = ("actions",)
CASE_TABLES = ("compliance_cases",)
