"""``compliance:`` of channelscope.yaml: festival exemptions, commission rules, the score's weights and the
graded enforcement policy (warning -> fine -> suspended commission -> termination)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = Literal["warning", "fine", "suspend_commission", "terminate"]
ACTIONS: tuple[str, ...] = ("warning", "fine", "suspend_commission", "terminate")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Exemption(_Strict):
    """A window (business dates) where prices may go up to ``allowed_depth`` under MAP (e.g. 0.15 = 15%)."""

    name: str
    start: dt.date
    end: dt.date
    allowed_depth: float = Field(1.0, ge=0, le=1, description="1.0 = any price is allowed in the window")

    @model_validator(mode="after")
    def _ordered(self) -> Exemption:
        if self.end < self.start:
            raise ValueError(f"exemption '{self.name}': end {self.end} is before start {self.start}")
        return self


class CommissionRules(_Strict):
    """How commission owed is computed: the distributor's own rate on its paid sales (by payment month) plus
    ``override_rate`` of its direct children's paid sales."""

    override_rate: float = Field(0.0, ge=0, le=1)
    tolerance: float = Field(1.0, ge=0, description="yuan; smaller differences are rounding")


class ScoreWeights(_Strict):
    """Points (of 100) each component can take away from a distributor's compliance score."""

    violations: float = 30.0  # share of lines below MAP
    depth: float = 25.0  # worst depth under MAP
    recency: float = 15.0  # how recent the last violation is
    repeats: float = 15.0  # violation days after a warning
    out_of_region: float = 15.0  # share of paid value shipped out of the authorized regions

    @model_validator(mode="after")
    def _hundred(self) -> ScoreWeights:
        total = self.violations + self.depth + self.recency + self.repeats + self.out_of_region
        if abs(total - 100) > 1e-9:
            raise ValueError(f"compliance score weights must add up to 100 (they add up to {total:g})")
        return self


class PolicyStep(_Strict):
    """One rung of the ladder: applies when the case's depth and repeats reach these (the highest rung wins)."""

    action: Action
    min_depth: float = Field(0.0, ge=0, le=1)
    min_repeats: int = Field(0, ge=0)
    fine: float | None = Field(None, ge=0, description="yuan, for action fine")


DEFAULT_POLICY = [
    PolicyStep(action="warning"),
    PolicyStep(action="fine", min_depth=0.10, fine=2000),
    PolicyStep(action="fine", min_repeats=1, fine=5000),
    PolicyStep(action="suspend_commission", min_depth=0.30),
    PolicyStep(action="suspend_commission", min_repeats=3),
    PolicyStep(action="terminate", min_depth=0.30, min_repeats=3),
]


class ComplianceConfig(_Strict):
    exemptions: list[Exemption] = Field(default_factory=list)
    commission: CommissionRules = Field(default_factory=CommissionRules)
    score: ScoreWeights = Field(default_factory=ScoreWeights)
    recency_days: int = Field(90, ge=1, description="a violation older than this no longer lowers recency")
    policy: list[PolicyStep] = Field(default_factory=lambda: list(DEFAULT_POLICY))
    managers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="channel manager (a user of role channel_manager) -> the notifiers (alerts.notifiers) that "
        "reach them; a case goes to the manager whose scope holds its distributor most closely",
    )
