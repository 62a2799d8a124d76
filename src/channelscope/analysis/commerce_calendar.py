"""The commerce calendar: China's statutory holidays with 调休 make-up working days, and the shopping
festivals split into their phases (pre-sale 定金, balance payment 尾款, main day, after).

One calendar serves forecasts (``analysis.forecast``), the alerts' seasonal model (through
``analysis.planned_events``) and the media-mix model. Its API, all pure functions:

* ``commerce_events(start, end, cfg)`` -> list of ``CommerceEvent`` (one per event, year and phase);
* ``commerce_calendar(start, end, cfg)`` -> DataFrame, one row per day: ``is_holiday``, ``holiday``,
  ``is_makeup_workday``, ``is_off_day`` and ``events`` ("double11:main_day", '/'-joined);
* ``calendar_features(days, cfg, channel=None)`` -> 0/1 DataFrame, one column per event phase key
  (``double11:presale``...) plus ``holiday`` and ``makeup_workday``: the regressors of a model.

Statutory holidays and make-up days come from the ``chinese-calendar`` package (the State Council's
published arrangements, 2004 through 2026 in version 1.11.0); for a year it does not know, no day is a
holiday and ``holiday_years()`` says which years are covered. Festival dates are built in (see
``BUILT_IN``) and configurable in channelscope.yaml under ``calendar.commerce`` (``events`` replaces
the list, ``extra_events`` adds to it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import chinese_calendar
import pandas as pd

from channelscope.clean.calendar import PRIME_DAY, SPRING_FESTIVAL
from channelscope.config.commerce_calendar import CommerceCalendarConfig, CommerceEventConfig, EventPhaseConfig

# 春节 and Prime Day dates: the one table each in clean/calendar.py (SPRING_FESTIVAL, PRIME_DAY, imported above)
#: platforms whose channels sell abroad (Black Friday and Prime Day apply to them by default)
OVERSEAS_PLATFORMS = ("shopify", "amazon", "shopee", "lazada", "aliexpress", "tiktok_shop")


def _ev(key: str, name: str, name_en: str, *phases: tuple[str, str, str], years: list[int] | None = None) -> dict:
    return {
        "key": key,
        "name": name,
        "name_en": name_en,
        "years": years,
        "phases": [{"phase": p, "start": s, "end": e} for p, s, e in phases],
    }


#: The built-in festivals (dates as most platforms ran them; a brand's own dates go in channelscope.yaml).
BUILT_IN: list[CommerceEventConfig] = [
    CommerceEventConfig.model_validate(e)
    for e in (
        _ev("nianhuo", "年货节", "New Year Goods Festival", ("main", "spring_festival-23", "spring_festival-7")),
        _ev(
            "spring_festival", "春节", "Spring Festival", ("logistics_pause", "spring_festival-6", "spring_festival+6")
        ),
        _ev("queens_day", "女王节", "Queen's Day", ("warmup", "03-01", "03-07"), ("main_day", "03-08", "03-08")),
        _ev(
            "618",
            "618",
            "618",
            ("presale", "05-13", "05-30"),
            ("balance", "05-31", "06-17"),
            ("main_day", "06-18", "06-18"),
            ("after", "06-19", "06-20"),
        ),
        # 双11's pre-sale (定金) opened on 14 October up to 2024 and on 7 October in 2025
        _ev("double11", "双11", "Singles' Day", ("presale", "10-14", "10-31"), years=list(range(2016, 2025))),
        _ev("double11", "双11", "Singles' Day", ("presale", "10-07", "10-31"), years=list(range(2025, 2031))),
        _ev(
            "double11",
            "双11",
            "Singles' Day",
            ("balance", "11-01", "11-10"),
            ("main_day", "11-11", "11-11"),
            ("after", "11-12", "11-14"),
        ),
        _ev("double12", "双12", "Double 12", ("warmup", "12-10", "12-11"), ("main_day", "12-12", "12-12")),
    )
]


@dataclass(frozen=True)
class CommerceEvent:
    """One phase of one year's occurrence of an event, both ends included (business dates).

    ``key`` is shared by every year's occurrence ("double11"), ``phase`` names the part
    ("presale", "balance", "main_day", "after"...); ``channels`` None means every channel.
    """

    key: str
    phase: str
    name: str
    name_en: str
    start: dt.date
    end: dt.date
    channels: tuple[str, ...] | None = None

    @property
    def feature(self) -> str:
        """The regressor's name: ``key:phase``."""
        return f"{self.key}:{self.phase}"


def holiday_years() -> range:
    """The years whose statutory holidays and make-up days the installed chinese-calendar knows."""
    years = sorted({d.year for d in chinese_calendar.constants.holidays})
    return range(years[0], years[-1] + 1)


def _resolve(text: str, year: int) -> dt.date | None:
    if text.startswith("spring_festival"):
        if year not in SPRING_FESTIVAL:
            return None
        base = dt.date.fromisoformat(f"{year}-{SPRING_FESTIVAL[year]}")
        return base + dt.timedelta(days=int(text[len("spring_festival") :]))
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        return day if day.year == year else None
    return dt.date.fromisoformat(f"{year}-{text}")


def _black_friday(year: int) -> dt.date:
    nov1 = dt.date(year, 11, 1)
    return nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 22)


def _overseas(year: int, channels: tuple[str, ...] | None) -> list[CommerceEvent]:
    bf = _black_friday(year)
    out = [CommerceEvent("black_friday", "main", "黑五", "Black Friday", bf, bf + dt.timedelta(days=3), channels)]
    if year in PRIME_DAY:
        s, e = PRIME_DAY[year]
        out.append(
            CommerceEvent(
                "prime_day",
                "main",
                "Prime Day",
                "Prime Day",
                dt.date.fromisoformat(f"{year}-{s}"),
                dt.date.fromisoformat(f"{year}-{e}"),
                channels,
            )
        )
    return out


def commerce_events(
    start: dt.date | str,
    end: dt.date | str,
    cfg: CommerceCalendarConfig | None = None,
    *,
    overseas_channels: Sequence[str] | None = None,
) -> list[CommerceEvent]:
    """Every event phase overlapping [start, end], sorted by start.

    ``overseas_channels``: channels Black Friday and Prime Day apply to when the config does not
    name them (``cfg.overseas_channels``); None there and here means every channel.
    """
    cfg = cfg or CommerceCalendarConfig()
    first, last = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    events = [*(cfg.events if cfg.events is not None else BUILT_IN), *cfg.extra_events]
    named = cfg.overseas_channels if cfg.overseas_channels is not None else overseas_channels
    overseas = tuple(named) if named is not None else None
    out: list[CommerceEvent] = []
    for year in range(first.year - 1, last.year + 2):
        for ev in events:
            if ev.years is not None and year not in ev.years:
                continue
            chans = tuple(ev.channels) if ev.channels is not None else None
            for ph in ev.phases:
                out.extend(_phase(ev, ph, year, chans))
        if cfg.events is None:
            out.extend(_overseas(year, overseas))
    return sorted((e for e in out if e.end >= first and e.start <= last), key=lambda e: (e.start, e.key, e.phase))


def _phase(
    ev: CommerceEventConfig, ph: EventPhaseConfig, year: int, chans: tuple[str, ...] | None
) -> list[CommerceEvent]:
    s, e = _resolve(ph.start, year), _resolve(ph.end, year)
    if s is None or e is None or e < s:
        return []
    return [CommerceEvent(ev.key, ph.phase, ev.name, ev.name_en, s, e, chans)]


def commerce_calendar(
    start: dt.date | str,
    end: dt.date | str,
    cfg: CommerceCalendarConfig | None = None,
    *,
    overseas_channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per day of [start, end]: date, weekday (1 = Monday), is_weekend, is_holiday (statutory),
    holiday (its English name, e.g. "Spring Festival"), is_makeup_workday (a weekend day worked under
    调休), is_off_day (holiday, or weekend not worked) and events ('/'-joined ``key:phase``)."""
    cfg = cfg or CommerceCalendarConfig()
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    rows = [_day(d.date(), cfg.statutory_holidays) for d in days]
    frame = pd.DataFrame(rows, columns=["date", "weekday", "is_weekend", "is_holiday", "holiday", "is_makeup_workday"])
    frame["is_off_day"] = frame["is_holiday"] | (frame["is_weekend"] & ~frame["is_makeup_workday"])
    labels: dict[dt.date, list[str]] = {}
    for ev in commerce_events(days[0], days[-1], cfg, overseas_channels=overseas_channels) if len(days) else []:
        for d in pd.date_range(ev.start, ev.end, freq="D"):
            labels.setdefault(d.date(), []).append(ev.feature)
    frame["events"] = [("/".join(labels[d]) if d in labels else None) for d in frame["date"]]
    return frame


def _day(day: dt.date, statutory: bool) -> tuple[dt.date, int, bool, bool, str | None, bool]:
    weekend = day.weekday() >= 5
    known = statutory and day.year in holiday_years()
    is_holiday, name = chinese_calendar.get_holiday_detail(day) if known else (weekend, None)
    holiday = bool(is_holiday and name is not None)
    makeup = bool(known and weekend and not is_holiday)
    return day, day.isoweekday(), weekend, holiday, (str(name) if holiday else None), makeup


def calendar_features(
    days: Iterable[dt.date] | pd.DatetimeIndex,
    cfg: CommerceCalendarConfig | None = None,
    *,
    channel: str | None = None,
    overseas_channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """0/1 regressors for ``days`` (index: the days): one column per event phase (``key:phase``) that
    applies to ``channel`` (None: events of every channel), plus ``holiday`` (a statutory holiday on a
    weekday) and ``makeup_workday``. Columns are sorted, so two calls over the same config agree."""
    index = pd.DatetimeIndex(pd.to_datetime(list(days)))
    cfg = cfg or CommerceCalendarConfig()
    out: dict[str, pd.Series] = {}
    if len(index):
        for ev in commerce_events(index.min(), index.max(), cfg, overseas_channels=overseas_channels):
            if channel is not None and ev.channels is not None and channel not in ev.channels:
                continue
            mask = (index >= pd.Timestamp(ev.start)) & (index <= pd.Timestamp(ev.end))
            col = out.setdefault(ev.feature, pd.Series(0.0, index=index))
            col[mask] = 1.0
        cal = commerce_calendar(index.min(), index.max(), cfg)
        cal.index = pd.DatetimeIndex(pd.to_datetime(cal["date"]))
        cal = cal.reindex(index)
        out["holiday"] = (cal["is_holiday"] & ~cal["is_weekend"]).astype(float)
        out["makeup_workday"] = cal["is_makeup_workday"].astype(float)
    frame = pd.DataFrame(out, index=index)
    return frame[sorted(frame.columns)]


def overseas_channels_of(channels: Iterable[tuple[str, str | None]]) -> list[str]:
    """The channel ids among (channel_id, platform) pairs whose platform sells abroad."""
    return [cid for cid, platform in channels if (platform or "").lower() in OVERSEAS_PLATFORMS]
