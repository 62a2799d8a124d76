"""Alert rules: the ``alerts.rules`` list of channelscope.yaml, a union on ``kind``.

Kinds: ``threshold`` (absolute bounds), ``target`` (attainment vs target pacing), ``change`` (vs the previous
period, week over week, year over year), ``anomaly`` (a seasonal model's expectation), and the data alerts
``freshness``, ``quarantine_rate`` and ``silence``. Validated with the rest of the file at load, so a misconfigured
rule is reported with file, line and key; the names that depend on the project (metrics of the catalog, sources,
channels) are checked by ``monitor.rules.check_rules`` before evaluation, with the same precision.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WrapValidator, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
Grain = Literal["day", "week", "month"]
Compare = Literal["previous", "wow", "yoy"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")
_DURATION = re.compile(r"^\d+[mhd]$")


def duration_hours(value: str) -> float:
    """'30m' -> 0.5, '6h' -> 6, '2d' -> 48."""
    return int(value[:-1]) * {"m": 1 / 60, "h": 1.0, "d": 24.0}[value[-1]]


def _dimension_names() -> tuple[str, ...]:
    # imported when a rule is validated, not when this module is: config loading stays light
    from channelscope.model.semantic import DIMENSIONS

    return tuple(DIMENSIONS)


class _Rule(BaseModel):
    """What every rule has: a unique name, a severity, a schedule group and a switch."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="unique id of the rule; part of every alert's key")
    severity: Severity = "warning"
    group: str = Field("default", description="schedule group: the scheduler evaluates rules group by group")
    enabled: bool = True
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("letters, digits, '_', '-' or '.', e.g. gmv_wow")
        return value


class _MetricRule(_Rule):
    """A rule on one KPI of the catalog, per member of ``by`` (or the whole business), in ``filters``' scope."""

    metric: str = Field(description="a metric of the catalog (built-in or kpis.metrics)")
    by: list[str] = Field(default_factory=list, description="dimensions, e.g. [channel] or [distributor]")
    filters: dict[str, str | list[str]] = Field(default_factory=dict, description="scope, e.g. {channel: tmall}")
    grain: Grain = Field("day", description="the period evaluated: the day, ISO week or month of as_of")
    complete: bool = Field(
        False, description="evaluate the last whole week/month that ended by as_of instead of the one to date"
    )
    explain: Compare | Literal["none"] | None = Field(
        None, description="base period of the visitors x conversion x AOV decomposition (sales metrics)"
    )

    @field_validator("by")
    @classmethod
    def _by(cls, value: list[str]) -> list[str]:
        known = _dimension_names()
        for d in value:
            if d not in known:
                raise ValueError(f"unknown dimension '{d}'; valid: {', '.join(known)}")
        if len(set(value)) != len(value):
            raise ValueError("a dimension is named twice")
        return value

    @field_validator("filters")
    @classmethod
    def _filters(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        known = _dimension_names()
        for d in value:
            if d not in known:
                raise ValueError(f"unknown dimension '{d}'; valid: {', '.join(known)}")
        return value

    def filter_lists(self) -> dict[str, list[str]]:
        """``filters`` with every value as a list."""
        return {k: [str(x) for x in v] if isinstance(v, list) else [str(v)] for k, v in self.filters.items()}


class ThresholdRule(_MetricRule):
    """Fires when the metric of the period is below ``min`` or above ``max`` (the metric's unit: yuan, a
    fraction for rates, a count)."""

    kind: Literal["threshold"]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> ThresholdRule:
        if self.min is None and self.max is None:
            raise ValueError("a threshold rule needs 'min', 'max' or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class TargetRule(_Rule):
    """Fires when a target's actual to date lags its pacing: actual / expected_to_date − 1 < ``below``.

    Targets come from the ``targets:`` section (metrics/targets.py); the rule watches those whose period
    contains as_of, optionally only one metric, channel or distributor.
    """

    kind: Literal["target"]
    metric: str | None = Field(None, description="only targets of this metric (default: all)")
    channel: str | None = None
    distributor: str | None = None
    below: float = Field(-0.1, lt=0, description="fraction, e.g. -0.1: more than 10% behind the pace")
    projected_below: float | None = Field(
        None, lt=0, description="also fire when the run-rate projection misses the target by more than this fraction"
    )


class ChangeRule(_MetricRule):
    """Fires when the change of the metric vs the comparison period is above ``above`` or below ``below``
    (fractions: -0.3 = a fall of more than 30%)."""

    kind: Literal["change"]
    compare: Compare = "previous"
    above: float | None = Field(None, description="fraction, e.g. 0.5 = up more than 50%")
    below: float | None = Field(None, description="fraction, e.g. -0.3 = down more than 30%")
    min_base: float = Field(0.0, ge=0, description="ignore members whose comparison value is below this")

    @model_validator(mode="after")
    def _bounds(self) -> ChangeRule:
        if self.above is None and self.below is None:
            raise ValueError("a change rule needs 'above', 'below' or both")
        if self.below is not None and self.below <= -1:
            raise ValueError("'below' is a fraction above -1 (e.g. -0.3 = down more than 30%)")
        if self.compare == "wow" and self.grain == "month":
            raise ValueError("week over week compares days or weeks, not months")
        return self


class AnomalyRule(_MetricRule):
    """Fires when the detector (weekly and yearly seasonality, festivals) finds the period outside its
    expected band; ``sensitivity`` is the width of the band in robust standard deviations."""

    kind: Literal["anomaly"]
    grain: Literal["day"] = Field("day", description="the detector judges days (weekly and yearly seasonality)")
    sensitivity: float = Field(
        4.0,
        gt=0,
        description="band half-width in robust SDs; 4 measured best on the demo (precision 0.86, recall 0.71)",
    )
    lookback: int = Field(420, ge=14, description="days of history given to the detector (yearly season: 365+)")
    min_history: int = Field(56, ge=7, description="periods of history a member needs before it is judged")
    direction: Literal["both", "high", "low"] = "both"
    drivers: list[str] = Field(
        default_factory=lambda: ["ad_spend"],
        description="metrics that explain the value (ad spend drives traffic and sales), fitted as regressors; "
        "one that cannot be cut by the rule's dimensions or is zero throughout is left out",
    )


class FreshnessRule(_Rule):
    """Fires when a source has not loaded within its expected interval (``expect_every`` of the source, or
    ``max_age`` here) or never loaded."""

    kind: Literal["freshness"]
    sources: list[str] = Field(default_factory=list, description="default: every source with expect_every")
    max_age: str | None = Field(None, description="e.g. 6h or 2d; default: each source's expect_every")

    @field_validator("max_age")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None and not _DURATION.match(value):
            raise ValueError("a number followed by m, h or d, e.g. 6h or 2d")
        return value


class QuarantineRateRule(_Rule):
    """Fires when quarantined rows / input rows of a source's batches within ``window`` exceed ``max_rate``."""

    kind: Literal["quarantine_rate"]
    max_rate: float = Field(gt=0, le=1, description="fraction, e.g. 0.02 = 2% of input rows")
    window: str = Field("7d", description="batches started within this before now")
    sources: list[str] = Field(default_factory=list, description="default: every source")
    min_rows: int = Field(1, ge=1, description="judge a source only with at least this many input rows")

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError("a number followed by m, h or d, e.g. 7d")
        return value


class SilenceRule(_Rule):
    """Fires for a channel with no rows in ``table`` for the last ``days`` days up to as_of although it had
    rows in the ``history`` days before."""

    kind: Literal["silence"]
    days: int = Field(3, ge=1)
    history: int = Field(28, ge=1, description="days before the silent window in which it must have had rows")
    table: Literal["orders", "traffic"] = "orders"
    channels: list[str] = Field(default_factory=list, description="default: every channel")


class PriceViolationRule(_Rule):
    """Fires per distributor x SKU sold under MAP (``analysis.compliance``) with a violation in the last
    ``days`` days up to as_of: one alert per last violation day (a later violation is a new alert)."""

    kind: Literal["price_violation"]
    days: int = Field(7, ge=1)
    min_depth: float = Field(0.0, ge=0, le=1, description="only violations at least this far under MAP")


class RepeatedViolationRule(_Rule):
    """Fires per distributor x SKU still violating after a warning (``distributor_warnings``): the value is
    the number of violation days after the first warning."""

    kind: Literal["repeated_violation"]
    min_repeat_days: int = Field(1, ge=1)


class StockoutRiskRule(_Rule):
    """Fires per SKU the inventory plan (``plan.inventory``) sees running out before a replenishment ordered
    now would arrive: the value is its days of cover, the expected its lead time. A state alert: it resolves
    itself once the SKU is no longer at risk (stock arrived, or demand fell)."""

    kind: Literal["stockout_risk"]
    service_level: float = Field(0.95, ge=0.5, lt=1, description="of the safety stock behind the reorder point")
    skus: list[str] = Field(default_factory=list, description="default: every SKU with stock on hand")


_KINDS: dict[str, type[_Rule]] = {
    "threshold": ThresholdRule,
    "target": TargetRule,
    "change": ChangeRule,
    "anomaly": AnomalyRule,
    "freshness": FreshnessRule,
    "quarantine_rate": QuarantineRateRule,
    "silence": SilenceRule,
    "price_violation": PriceViolationRule,
    "repeated_violation": RepeatedViolationRule,
    "stockout_risk": StockoutRiskRule,
}
#: data alerts: about the state of the warehouse now, resolved when the condition clears
DATA_KINDS = ("freshness", "quarantine_rate", "silence")


def _located(value: Any, handler: Any) -> Any:
    """Drop the union's tag from error locations (``rules.0.below``, not ``rules.0.change.below``) so the
    error points at the key's own line, and name the keys a rule of that kind allows."""
    try:
        return handler(value)
    except ValidationError as exc:
        kind = value.get("kind") if isinstance(value, dict) else None
        errors: list[InitErrorDetails] = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            if loc and kind is not None and loc[0] == kind:
                loc = loc[1:]
            if e["type"] == "extra_forbidden" and kind in _KINDS and len(loc) == 1:
                allowed = ", ".join(sorted(_KINDS[str(kind)].model_fields))
                err: Any = PydanticCustomError(
                    "unknown_rule_key",
                    "unknown key for a {kind} rule; allowed: {allowed}",
                    {"kind": kind, "allowed": allowed},
                )
            elif e["type"] == "union_tag_invalid":
                err = PydanticCustomError(
                    "unknown_rule_kind",
                    "unknown rule kind '{tag}'; valid: {valid}",
                    {"tag": str(kind), "valid": ", ".join(_KINDS)},
                )
                loc = (*loc, "kind")
            elif e["type"] == "union_tag_not_found":
                err = PydanticCustomError(
                    "missing_rule_kind", "a rule needs 'kind' (one of: {valid})", {"valid": ", ".join(_KINDS)}
                )
            else:
                err = PydanticCustomError(e["type"], e["msg"].replace("{", "(").replace("}", ")"))
            errors.append(InitErrorDetails(type=err, loc=loc, input=e.get("input")))
        raise ValidationError.from_exception_data("RuleConfig", errors) from None


RuleConfig = Annotated[
    ThresholdRule
    | TargetRule
    | ChangeRule
    | AnomalyRule
    | FreshnessRule
    | QuarantineRateRule
    | SilenceRule
    | PriceViolationRule
    | RepeatedViolationRule
    | StockoutRiskRule,
    Field(discriminator="kind"),
    WrapValidator(_located),
]
MetricRule = ThresholdRule | ChangeRule | AnomalyRule
