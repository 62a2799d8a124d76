"""The ``calendar.commerce`` section of channelscope.yaml: phased shopping festivals and holidays.

A phase date is ``MM-DD`` (every year), ``YYYY-MM-DD`` (one year), or relative to 春节 (Lunar New
Year's Day): ``spring_festival-23`` / ``spring_festival+6`` (days).
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_DATE = re.compile(r"(\d{4}-)?\d{2}-\d{2}|spring_festival[+-]\d{1,3}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EventPhaseConfig(_Strict):
    """One phase of an event (pre-sale 定金, balance payment 尾款, main day...): both ends included."""

    phase: str = Field(description="presale | balance | main_day | after | warmup | main ... (free text key)")
    start: str
    end: str

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, value: object) -> str:
        if isinstance(value, dt.date):  # YAML reads 2025-09-01 as a date
            value = value.isoformat()
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise ValueError("MM-DD, YYYY-MM-DD or spring_festival+N / spring_festival-N")
        return value


class CommerceEventConfig(_Strict):
    """An event recurring every year (or only in ``years``), split into phases."""

    key: str = Field(description="stable key shared by every year's occurrence, e.g. 'double11'")
    name: str = Field(description="name in Chinese, e.g. 双11")
    name_en: str
    phases: list[EventPhaseConfig]
    channels: list[str] | None = Field(None, description="channel ids it applies to; None = every channel")
    years: list[int] | None = Field(None, description="only these years; None = every year")


class CommerceCalendarConfig(_Strict):
    """The commerce calendar shared by forecasts, alerts and the media-mix model."""

    events: list[CommerceEventConfig] | None = Field(
        None, description="replaces the built-in festival list (None = built-in 年货节, 女王节, 618, 双11, 双12...)"
    )
    extra_events: list[CommerceEventConfig] = Field(default_factory=list, description="added to the list")
    statutory_holidays: bool = Field(True, description="mark China's statutory holidays and 调休 make-up days")
    overseas_channels: list[str] | None = Field(
        None, description="channels Black Friday and Prime Day apply to (None: channels on shopify/amazon)"
    )
