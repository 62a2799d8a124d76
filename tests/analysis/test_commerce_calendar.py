"""The commerce calendar: statutory holidays and 调休 make-up days as the State Council published
them for 2024-2026, festival phases as built in and as configured in channelscope.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import write_project

from channelscope import Project
from channelscope.analysis.commerce_calendar import calendar_features, commerce_calendar, commerce_events
from channelscope.config.commerce_calendar import CommerceCalendarConfig

D = dt.date


def _days(year: int, *spans: str) -> set[dt.date]:
    """'02-10..02-17' or '06-10' -> the days, in ``year``."""
    out: set[dt.date] = set()
    for span in spans:
        first, _, last = span.partition("..")
        start, end = D.fromisoformat(f"{year}-{first}"), D.fromisoformat(f"{year}-{last or first}")
        out |= {start + dt.timedelta(days=i) for i in range((end - start).days + 1)}
    return out


#: 国办发明电〔2023〕7号, 〔2024〕12号, 〔2025〕7号: the days off (放假) of each holiday, weekends inside included
HOLIDAYS = {
    2024: _days(2024, "01-01", "02-10..02-17", "04-04..04-06", "05-01..05-05", "06-10", "09-15..09-17", "10-01..10-07"),
    2025: _days(2025, "01-01", "01-28..02-04", "04-04..04-06", "05-01..05-05", "05-31..06-02", "10-01..10-08"),
    2026: _days(
        2026,
        "01-01..01-03",
        "02-15..02-23",
        "04-04..04-06",
        "05-01..05-05",
        "06-19..06-21",
        "09-25..09-27",
        "10-01..10-07",
    ),
}
#: the weekend days worked instead (调休上班)
MAKEUP = {
    2024: _days(2024, "02-04", "02-18", "04-07", "04-28", "05-11", "09-14", "09-29", "10-12"),
    2025: _days(2025, "01-26", "02-08", "04-27", "09-28", "10-11"),
    2026: _days(2026, "01-04", "02-14", "02-28", "05-09", "09-20", "10-10"),
}


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_statutory_holidays_and_makeup_days_as_published(year: int) -> None:
    cal = commerce_calendar(f"{year}-01-01", f"{year}-12-31")
    # the published days off that fall on a weekday are holidays; weekend days inside are off anyway
    published_weekday_holidays = {d for d in HOLIDAYS[year] if d.weekday() < 5}
    holidays = set(cal.loc[cal["is_holiday"] & ~cal["is_weekend"], "date"])
    assert holidays == published_weekday_holidays
    assert set(cal.loc[cal["is_makeup_workday"], "date"]) == MAKEUP[year]
    off = set(cal.loc[cal["is_off_day"], "date"])
    assert HOLIDAYS[year] <= off
    assert not (MAKEUP[year] & off)
    weekends = {d for d in cal["date"] if d.weekday() >= 5}
    assert off == (weekends - MAKEUP[year]) | HOLIDAYS[year]
    assert len(cal) == (366 if year == 2024 else 365)


def test_holiday_names() -> None:
    cal = commerce_calendar("2026-02-16", "2026-02-16").iloc[0]
    assert cal["is_holiday"] and cal["holiday"] == "Spring Festival"


def test_builtin_festival_phases() -> None:
    ev = {(e.feature, e.start, e.end) for e in commerce_events("2025-01-01", "2025-12-31")}
    assert ("double11:presale", D(2025, 10, 7), D(2025, 10, 31)) in ev
    assert ("double11:balance", D(2025, 11, 1), D(2025, 11, 10)) in ev
    assert ("double11:main_day", D(2025, 11, 11), D(2025, 11, 11)) in ev
    assert ("618:presale", D(2025, 5, 13), D(2025, 5, 30)) in ev
    assert ("618:main_day", D(2025, 6, 18), D(2025, 6, 18)) in ev
    assert ("double12:main_day", D(2025, 12, 12), D(2025, 12, 12)) in ev
    assert ("nianhuo:main", D(2025, 1, 6), D(2025, 1, 22)) in ev  # 春节 2025-01-29 minus 23..7 days
    assert ("black_friday:main", D(2025, 11, 28), D(2025, 12, 1)) in ev  # Friday after Thanksgiving to Cyber Monday
    assert ("prime_day:main", D(2025, 7, 8), D(2025, 7, 11)) in ev
    assert ("double11:presale", D(2024, 10, 14), D(2024, 10, 31)) in {
        (e.feature, e.start, e.end) for e in commerce_events("2024-01-01", "2024-12-31")
    }


def test_overseas_events_only_on_overseas_channels() -> None:
    days = pd.date_range("2025-11-25", "2025-12-02")
    shop = calendar_features(days, channel="shop", overseas_channels=["shop"])
    tmall = calendar_features(days, channel="tmall", overseas_channels=["shop"])
    assert shop["black_friday:main"].sum() == 4 and "black_friday:main" not in tmall


CONFIGURED = """
channels:
  - {id: tmall, name: Tmall, kind: marketplace, platform: tmall}
  - {id: shop, name: Shop, kind: own_store, platform: shopify}
calendar:
  commerce:
    extra_events:
      - key: brand_day
        name: 品牌日
        name_en: Brand day
        channels: [tmall]
        phases:
          - {phase: warmup, start: 08-01, end: 08-07}
          - {phase: main_day, start: 08-08, end: 08-08}
      - key: launch
        name: 新品首发
        name_en: Launch
        phases: [{phase: main, start: 2025-09-01, end: 2025-09-03}]
"""


def test_configured_phases(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "p", CONFIGURED)
    with Project(folder) as p:
        cfg = p.config.calendar.commerce
        events = p.analysis.commerce_events("2024-01-01", "2025-12-31")
        cal = p.analysis.commerce_calendar("2025-08-07", "2025-08-08")
    brand = sorted((e.phase, e.start, e.end, e.channels) for e in events if e.key == "brand_day")
    assert brand == [
        ("main_day", D(2024, 8, 8), D(2024, 8, 8), ("tmall",)),
        ("main_day", D(2025, 8, 8), D(2025, 8, 8), ("tmall",)),
        ("warmup", D(2024, 8, 1), D(2024, 8, 7), ("tmall",)),
        ("warmup", D(2025, 8, 1), D(2025, 8, 7), ("tmall",)),
    ]
    assert [(e.start, e.end) for e in events if e.key == "launch"] == [(D(2025, 9, 1), D(2025, 9, 3))]
    assert list(cal["events"]) == ["brand_day:warmup", "brand_day:main_day"]
    shop = calendar_features(pd.date_range("2025-08-01", "2025-08-08"), cfg, channel="shop")
    assert "brand_day:main_day" not in shop  # a tmall-only event
    # Black Friday follows the shopify channel by default
    bf = [e for e in events if e.key == "black_friday"]
    assert bf and all(e.channels == ("shop",) for e in bf)


def test_bad_phase_date_names_the_field(tmp_path: Path) -> None:
    from channelscope import ConfigError

    body = CONFIGURED.replace("end: 08-07", "end: 8th of August")
    folder = write_project(tmp_path / "p", body)
    with pytest.raises(ConfigError, match="end"):
        Project(folder)


def test_no_events_config() -> None:
    cfg = CommerceCalendarConfig(events=[], statutory_holidays=False)
    assert commerce_events("2025-01-01", "2025-12-31", cfg) == []
    assert not commerce_calendar("2025-10-01", "2025-10-07", cfg)["is_holiday"].any()
