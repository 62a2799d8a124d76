"""The ``alerts:`` section of channelscope.yaml: rules, notifiers and the routes between them.

Validated with the rest of the file at load, so a misconfigured rule or notifier is reported with
file, line and key before anything runs.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from channelscope.config.notifiers import NotifierConfig, Route
from channelscope.config.rules import RuleConfig

_DURATION = re.compile(r"^\d+[smhd]$")


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    language: Literal["zh-CN", "en"] = Field("zh-CN", description="language of alert texts and notifications")
    cooldown: str = Field(
        "6h", description="no repeat notification of the same open alert within this (e.g. 30m, 6h, 1d)"
    )
    digest: bool = Field(False, description="one message per notifier and run instead of one per alert")
    secrets_file: str | None = Field(
        None, description="KEY=VALUE file (relative to the project) for notifier secrets; environment variables win"
    )
    notifiers: dict[str, NotifierConfig] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)

    @field_validator("cooldown")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError("a number followed by s, m, h or d, e.g. 30m or 6h")
        return value

    @model_validator(mode="after")
    def _references(self) -> AlertsConfig:
        for i, route in enumerate(self.routes):
            for name in route.notify:
                if name not in self.notifiers:
                    known = ", ".join(sorted(self.notifiers)) or "none configured"
                    raise ValueError(f"routes[{i}] names unknown notifier '{name}' (known: {known})")
        names = [r.name for r in self.rules]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rule names must be unique; repeated: {dup}")
        return self


def duration_seconds(value: str) -> int:
    """'30m' -> 1800."""
    return int(value[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[value[-1]]
