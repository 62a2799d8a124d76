"""Planned events the anomaly detector must expect: festivals, promotions and live-stream sessions.

A planned event moves sales on purpose (双11, 618, Black Friday, a mega live session), so a peak on
its day is news to nobody and must not raise an alert. The detector learns each event's effect from
its earlier occurrences; occurrences share a *key* (the name without its year, so "2024 双11" and
"2025 双11" are one event; every live session shares the key ``live_session``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from channelscope.project import Project

#: campaign kinds that are planned events (an `ad` campaign is an always-on budget, not an event)
EVENT_KINDS = ("festival", "promotion", "live_session")
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")


@dataclass(frozen=True)
class PlannedEvent:
    """One occurrence of a planned event, in business dates (both ends included).

    ``key`` groups occurrences whose effect is the same thing year after year; ``channel_id`` None
    means every channel; ``kind`` is 'calendar' for the festival calendar, else the campaign kind
    (festival, promotion, live_session: a live session is a one-day push without a hangover).
    """

    key: str
    start: dt.date
    end: dt.date
    channel_id: str | None = None
    kind: str = "festival"

    def days(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, self.end, freq="D")


def event_key(name: str) -> str:
    """The name without its year: "2025 双11" -> "双11"."""
    return " ".join(_YEAR.sub(" ", str(name)).split()) or str(name)


def planned_events(festivals: Any) -> list[PlannedEvent]:
    """Normalize what a caller passes as ``festivals``.

    Accepts None, PlannedEvent objects, mappings or DataFrame rows with ``name`` (or ``key``),
    ``start``, ``end`` and optionally ``channel_id`` and ``kind``, or (start, end, name[, name_en])
    tuples as ``clean.calendar.festival_windows`` returns them.
    """
    if festivals is None:
        return []
    if isinstance(festivals, pd.DataFrame):
        festivals = festivals.to_dict("records")
    out: list[PlannedEvent] = []
    for item in festivals:
        if isinstance(item, PlannedEvent):
            out.append(item)
        elif isinstance(item, Mapping):
            channel = item.get("channel_id")
            out.append(
                PlannedEvent(
                    key=event_key(item.get("key") or item["name"]),
                    start=_as_date(item["start"]),
                    end=_as_date(item["end"]),
                    channel_id=None if channel is None or pd.isna(channel) else str(channel),
                    kind=str(item.get("kind") or "festival"),
                )
            )
        else:
            start, end, name = item[0], item[1], item[2]
            out.append(PlannedEvent(event_key(name), _as_date(start), _as_date(end)))
    return [e for e in out if e.end >= e.start]


def calendar_events(project: Project) -> list[PlannedEvent]:
    """The project's festival calendar as planned events.

    With ``calendar.festivals`` set in channelscope.yaml, those windows (the key is the name); else the
    commerce calendar (``analysis.commerce_calendar``): one window per festival occurrence, from its
    first phase (the pre-sale) to its main day, keyed by the festival's name ("双11"); its "after"
    phase is left to the seasonal model's own hangover. Black Friday and Prime Day only on the
    overseas channels.
    """
    from channelscope.analysis.commerce_calendar import commerce_events, overseas_channels_of
    from channelscope.clean.calendar import festival_windows

    cal = project.config.calendar
    if cal.festivals is not None:
        return [PlannedEvent(event_key(zh), s, e, None, "calendar") for s, e, zh, _ in festival_windows(cal)]
    overseas = overseas_channels_of((c.id, c.platform) for c in project.config.channels)
    spans: dict[tuple[str, int, tuple[str, ...] | None], list[dt.date]] = {}
    for ev in commerce_events(cal.first_date, cal.last_date, cal.commerce, overseas_channels=overseas):
        if ev.phase == "after":
            continue
        span = spans.setdefault((ev.name, ev.start.year, ev.channels), [ev.start, ev.end])
        span[0], span[1] = min(span[0], ev.start), max(span[1], ev.end)
    out: list[PlannedEvent] = []
    for (name, _, channels), (start, end) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        for channel in channels if channels is not None else (None,):
            out.append(PlannedEvent(event_key(name), start, end, channel, "calendar"))
    return out


def calendar_phase_events(project: Project) -> list[PlannedEvent]:
    """The project's festival calendar phase by phase, for models that give each phase its own effect (the
    media mix model and promotion uplift): one event per festival occurrence and phase of the commerce
    calendar, keyed ``<festival>:<phase>`` ("双11:presale", "双11:balance", "双11:main_day", "双11:after"),
    kind 'calendar'. With ``calendar.festivals`` set in channelscope.yaml (windows without phases), those
    windows as ``calendar_events`` gives them."""
    from channelscope.analysis.commerce_calendar import commerce_events, overseas_channels_of

    cal = project.config.calendar
    if cal.festivals is not None:
        return calendar_events(project)
    overseas = overseas_channels_of((c.id, c.platform) for c in project.config.channels)
    out: list[PlannedEvent] = []
    for ev in commerce_events(cal.first_date, cal.last_date, cal.commerce, overseas_channels=overseas):
        key = f"{event_key(ev.name)}:{ev.phase}"
        for channel in ev.channels if ev.channels is not None else (None,):
            out.append(PlannedEvent(key, ev.start, ev.end, channel, "calendar"))
    return out


def campaign_events(project: Project) -> list[PlannedEvent]:
    """The festival, promotion and live-session campaigns of the warehouse table ``campaigns`` as planned
    events (see ``project_events``)."""
    return [e for e in project_events(project) if e.kind != "calendar"]


def project_events(project: Project) -> list[PlannedEvent]:
    """The project's planned events: its festival calendar and its festival, promotion and live campaigns.

    The calendar is ``calendar_events``: ``calendar.festivals`` of channelscope.yaml, or the commerce
    calendar's festival phases; campaigns come from the warehouse table ``campaigns`` (times in UTC,
    turned into business dates in the project's time zone; a campaign ending at midnight ends the
    day before).
    """
    events = calendar_events(project)
    try:
        table = project.warehouse.ibis.table("campaigns")
    except Exception:  # a warehouse without campaigns has only the calendar
        return events
    rows = table.filter(table.kind.isin(EVENT_KINDS)).execute()
    tz = project.config.project.timezone
    for row in rows.itertuples(index=False):
        if pd.isna(row.starts_at) or pd.isna(row.ends_at):
            continue
        start = pd.Timestamp(row.starts_at).tz_localize("UTC").tz_convert(tz)
        end = pd.Timestamp(row.ends_at).tz_localize("UTC").tz_convert(tz) - pd.Timedelta(microseconds=1)
        kind = str(row.kind)
        key = "live_session" if kind == "live_session" else event_key(row.name)
        channel = None if row.channel_id is None or pd.isna(row.channel_id) else str(row.channel_id)
        events.append(PlannedEvent(key, start.date(), end.date(), channel, kind))
    return events


def _as_date(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


#: the kinds of planned event that make two periods unlike: the festival calendar and festival campaigns
#: (a channel's live session or promotion is its own business, judged by the seasonal model)
CALENDAR_KINDS = ("calendar", "festival")


def overlapping(events: list[PlannedEvent], start: dt.date, end: dt.date) -> list[PlannedEvent]:
    """The calendar events (CALENDAR_KINDS) that share at least one day with [start, end]."""
    return [e for e in events if e.kind in CALENDAR_KINDS and e.start <= end and e.end >= start]


def calendar_mismatch(
    events: list[PlannedEvent], period: tuple[dt.date, dt.date], base: tuple[dt.date, dt.date]
) -> dict[str, Any] | None:
    """Whether a period and the base it is compared with hold different planned festivals, or the same ones
    over a different share of their days (the week after 双11 against the week of 双11, or the reverse):
    then ``{"period": keys, "base": keys, "festival_share": [period, base]}``, else None."""
    a, b = overlapping(events, *period), overlapping(events, *base)
    keys_a, keys_b = sorted({e.key for e in a}), sorted({e.key for e in b})
    share_a, share_b = _festival_share(a, *period), _festival_share(b, *base)
    if keys_a == keys_b and abs(share_a - share_b) < 1e-9:
        return None
    return {"period": keys_a, "base": keys_b, "festival_share": [round(share_a, 4), round(share_b, 4)]}


def _festival_share(events: list[PlannedEvent], start: dt.date, end: dt.date) -> float:
    """The fraction of the days of [start, end] inside one of ``events``."""
    days = {start + dt.timedelta(days=i) for i in range((end - start).days + 1)}
    inside = {d for d in days for e in events if e.start <= d <= e.end}
    return len(inside) / len(days)
