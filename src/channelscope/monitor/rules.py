"""PLACEHOLDER: replaced by the alert-rules work (RuleConfig: a discriminated union of rule kinds)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RuleConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
