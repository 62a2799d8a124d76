"""What an evaluation finds: one ``Finding`` per rule, scope and period that broke its rule."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One alert condition with its evidence (texts in zh-CN and en, numbers JSON-able).

    ``value``/``expected``/``lower``/``upper`` are in the metric's unit (yuan for money, a fraction for rates,
    hours for freshness, a fraction of input rows for quarantine rate, days for silence).
    """

    rule: str
    kind: str
    severity: str
    scope: dict[str, str]  # e.g. {"channel_id": "tmall"}; {} = whole business
    period: str  # "2025-03-18", "2025-W12", "2025-03", or "now" for data alerts
    metric: str | None
    value: float | None
    expected: float | None
    lower: float | None
    upper: float | None
    title: dict[str, str]  # {"en": ..., "zh-CN": ...}, one line
    text: dict[str, str]  # explanation incl. the visitors x conversion x AOV decomposition for sales metrics
    evidence: dict[str, Any]  # numbers behind the text
    auto_resolve: bool  # data/state alerts resolve themselves when the condition clears
    notify: tuple[str, ...] = ()  # notifiers the finding names itself (a compliance case's manager), beside routes

    @property
    def key(self) -> str:
        """Stable id of the condition: the same rule, scope and period give the same key on every run."""
        scope = ",".join(f"{k}={v}" for k, v in sorted(self.scope.items()))
        return hashlib.sha1(f"{self.rule}|{scope}|{self.period}".encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for ``--json`` and the API), with the key."""
        return {"key": self.key, **asdict(self)}


@dataclass
class Evaluation:
    """The result of one evaluation run."""

    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # names of the rules evaluated
    errors: list[str] = field(default_factory=list)  # a rule that failed to evaluate (others still ran)
