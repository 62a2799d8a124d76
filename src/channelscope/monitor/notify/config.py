"""PLACEHOLDER: replaced by the notifier work (NotifierConfig union on 'kind', Route)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NotifierConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notify: list[str]
    severity: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
