"""Report definitions: what a report holds (sections), for whom (scope), over which period, in which language.

The standard reports ship with channelscope; a project adds or overrides its own as ``reports/*.yaml`` in the
project folder (one definition per file, the file's stem is its name). A definition is validated once at load;
an error names the file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from channelscope.errors import ConfigError

SectionKind = Literal[
    "kpis",
    "channels",
    "decomposition",
    "movers",
    "targets",
    "anomalies",
    "alerts",
    "trend",
    "actions",
    "uplift",
    "campaign_roi",
    "repurchase",
    "clv",
    "attribution",
    "forecast_targets",
    "compliance_score",
    "compliance_cases",
    "inventory",
    "budget",
]
PERIODS = ("yesterday", "last_week", "last_month", "this_month", "last_campaign")


class Section(BaseModel):
    """One section of a report: a kind and its options."""

    model_config = ConfigDict(extra="forbid")
    kind: SectionKind
    metrics: list[str] = Field(default_factory=lambda: ["gmv", "paid_orders", "aov", "conversion_rate", "refund_rate"])
    compare: Literal["previous", "yoy", "wow"] = "previous"
    top: int = Field(default=5, ge=1, le=50)


class ReportDefinition(BaseModel):
    """A report: a title per language, a period (a name like ``last_week`` or an explicit ``2025-11``,
    ``2025-W46``, ``2025-11-11``), the channels it covers (empty: every channel the reader may see), a
    language and its sections in order."""

    model_config = ConfigDict(extra="forbid")
    name: str
    title: dict[str, str]
    period: str = "last_week"
    channels: list[str] = Field(default_factory=list)
    language: Literal["zh-CN", "en"] = "zh-CN"
    sections: list[Section]

    @field_validator("title")
    @classmethod
    def _both_languages(cls, v: dict[str, str]) -> dict[str, str]:
        if "zh-CN" not in v or "en" not in v:
            raise ValueError("title needs both 'zh-CN' and 'en'")
        return v

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title["en"]


_KPIS = ["gmv", "paid_orders", "aov", "conversion_rate", "visitors", "refund_rate", "net_sales", "ad_spend", "roas"]

STANDARD: dict[str, ReportDefinition] = {
    d.name: d
    for d in (
        ReportDefinition(
            name="daily_brief",
            title={"zh-CN": "经营日报", "en": "Morning brief"},
            period="yesterday",
            sections=[
                Section(
                    kind="kpis", metrics=["gmv", "paid_orders", "aov", "visitors", "conversion_rate"], compare="wow"
                ),
                Section(kind="anomalies"),
                Section(kind="alerts"),
            ],
        ),
        ReportDefinition(
            name="weekly_channel_review",
            title={"zh-CN": "渠道周报", "en": "Weekly channel review"},
            period="last_week",
            sections=[
                Section(kind="kpis", metrics=_KPIS),
                Section(
                    kind="channels", metrics=["gmv", "paid_orders", "aov", "conversion_rate", "refund_rate", "roas"]
                ),
                Section(kind="decomposition"),
                Section(kind="movers"),
                Section(kind="anomalies"),
                Section(kind="targets"),
                Section(kind="trend", metrics=["gmv"]),
                Section(kind="alerts"),
                Section(kind="actions"),
            ],
        ),
        ReportDefinition(
            name="monthly_business_review",
            title={"zh-CN": "月度经营分析", "en": "Monthly business review"},
            period="last_month",
            sections=[
                Section(kind="kpis", metrics=[*_KPIS, "contribution_margin", "cac"]),
                Section(kind="kpis", metrics=["gmv", "paid_orders", "net_sales"], compare="yoy"),
                Section(
                    kind="channels",
                    metrics=["gmv", "net_sales", "paid_orders", "aov", "conversion_rate", "refund_rate", "roas"],
                ),
                Section(kind="decomposition"),
                Section(kind="movers"),
                Section(kind="anomalies"),
                Section(kind="targets"),
                Section(kind="trend", metrics=["gmv"]),
                Section(kind="budget"),
                Section(kind="inventory", top=10),
                Section(kind="alerts"),
                Section(kind="actions"),
            ],
        ),
        ReportDefinition(
            name="distributor_compliance",
            title={"zh-CN": "经销商合规报告", "en": "Distributor compliance report"},
            period="last_month",
            sections=[
                Section(kind="compliance_cases"),
                Section(kind="compliance_score", top=20),
                Section(kind="kpis", metrics=["gmv", "paid_orders", "aov", "refund_rate"]),
                Section(kind="channels", metrics=["gmv", "paid_orders", "aov", "refund_rate"]),
                Section(kind="actions"),
            ],
        ),
        ReportDefinition(
            name="campaign_postmortem",
            title={"zh-CN": "活动复盘", "en": "Campaign post-mortem"},
            period="last_campaign",
            sections=[
                Section(kind="kpis", metrics=["gmv", "paid_orders", "aov", "visitors", "conversion_rate", "ad_spend"]),
                Section(kind="kpis", metrics=["gmv", "paid_orders", "aov"], compare="yoy"),
                Section(kind="uplift"),
                Section(kind="campaign_roi"),
                Section(kind="channels", metrics=["gmv", "paid_orders", "aov", "conversion_rate", "roas"]),
                Section(kind="decomposition"),
                Section(kind="trend", metrics=["gmv"]),
                Section(kind="actions"),
            ],
        ),
    )
}


def load_definitions(folder: Path) -> dict[str, ReportDefinition]:
    """The standard reports, then the project's ``reports/*.yaml`` (a file named like a standard report
    replaces it)."""
    out = dict(STANDARD)
    for path in sorted((folder / "reports").glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: a report definition is a mapping (title, period, sections)")
        doc.setdefault("name", path.stem)
        try:
            out[doc["name"]] = ReportDefinition.model_validate(doc)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(top)"
            raise ConfigError(f"{path}: {where}: {err['msg']}") from exc
    return out


def get_definition(folder: Path, name: str) -> ReportDefinition:
    """One report definition by name; the error lists the known ones."""
    defs = load_definitions(folder)
    if name not in defs:
        raise ConfigError(f"unknown report '{name}'; known: {', '.join(sorted(defs))}")
    return defs[name]
