"""The calendar dimension: one row a day with week, month, weekend and festival windows."""

from __future__ import annotations

import datetime as dt

from channelscope.config.schema import CalendarConfig, Festival

#: 春节 (Lunar New Year's Day), from the published Chinese calendar.
SPRING_FESTIVAL = {
    2016: "02-08",
    2017: "01-28",
    2018: "02-16",
    2019: "02-05",
    2020: "01-25",
    2021: "02-12",
    2022: "02-01",
    2023: "01-22",
    2024: "02-10",
    2025: "01-29",
    2026: "02-17",
    2027: "02-06",
    2028: "01-26",
    2029: "02-13",
    2030: "02-03",
}
#: Amazon Prime Day (first day of the event), as announced each year.
PRIME_DAY = {
    2018: ("07-16", "07-17"),
    2019: ("07-15", "07-16"),
    2020: ("10-13", "10-14"),
    2021: ("06-21", "06-22"),
    2022: ("07-12", "07-13"),
    2023: ("07-11", "07-12"),
    2024: ("07-16", "07-17"),
    2025: ("07-08", "07-11"),
    2026: ("07-14", "07-17"),
}


def default_festivals(first: int, last: int) -> list[Festival]:
    """Shopping festivals of a multi-channel brand in China and abroad, year by year."""
    out: list[Festival] = []
    for year in range(first, last + 1):
        if year in SPRING_FESTIVAL:
            day = dt.date.fromisoformat(f"{year}-{SPRING_FESTIVAL[year]}")
            out.append(
                Festival(
                    name="春节",
                    name_en="Spring Festival",
                    start=(day - dt.timedelta(days=7)).isoformat(),
                    end=(day + dt.timedelta(days=6)).isoformat(),
                )
            )
        out.append(Festival(name="618", name_en="618", start=f"{year}-06-01", end=f"{year}-06-18"))
        out.append(Festival(name="双11", name_en="Singles' Day", start=f"{year}-11-01", end=f"{year}-11-11"))
        out.append(Festival(name="双12", name_en="Double 12", start=f"{year}-12-10", end=f"{year}-12-12"))
        # Black Friday: the day after the fourth Thursday of November, through Cyber Monday
        nov1 = dt.date(year, 11, 1)
        thanksgiving = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
        bf = thanksgiving + dt.timedelta(days=1)
        out.append(
            Festival(
                name="黑五", name_en="Black Friday", start=bf.isoformat(), end=(bf + dt.timedelta(days=3)).isoformat()
            )
        )
        if year in PRIME_DAY:
            s, e = PRIME_DAY[year]
            out.append(Festival(name="Prime Day", name_en="Prime Day", start=f"{year}-{s}", end=f"{year}-{e}"))
    return out


def festival_windows(cfg: CalendarConfig) -> list[tuple[dt.date, dt.date, str, str]]:
    """Every festival as (start, end, zh name, en name), expanding MM-DD rules to each year."""
    festivals = (
        cfg.festivals if cfg.festivals is not None else default_festivals(cfg.first_date.year, cfg.last_date.year)
    )
    out = []
    for f in festivals:
        years = [None] if len(f.start) == 10 else list(range(cfg.first_date.year, cfg.last_date.year + 1))
        for y in years:
            start = dt.date.fromisoformat(f.start if y is None else f"{y}-{f.start}")
            end = dt.date.fromisoformat(f.end if y is None else f"{y}-{f.end}")
            out.append((start, end, f.name, f.name_en))
    return out


def calendar_sql(cfg: CalendarConfig) -> str:
    """SELECT producing the calendar rows (festival names joined with '/' where windows overlap)."""
    windows = festival_windows(cfg)
    values = (
        ", ".join(f"(DATE '{s}', DATE '{e}', '{zh}', '{en.replace(chr(39), chr(39) * 2)}')" for s, e, zh, en in windows)
        or "(NULL::DATE, NULL::DATE, NULL, NULL)"
    )
    dow = "isodow(d)" if cfg.week_starts == "monday" else "dayofweek(d) + 1"
    return (
        "WITH days AS (SELECT CAST(range AS DATE) AS d FROM range("
        f"DATE '{cfg.first_date}', DATE '{cfg.last_date}' + INTERVAL 1 DAY, INTERVAL 1 DAY)), "
        f"fest(s, e, zh, en) AS (VALUES {values}) "
        "SELECT d AS date, CAST(year(d) AS INTEGER) AS year, CAST(quarter(d) AS INTEGER) AS quarter, "
        "CAST(month(d) AS INTEGER) AS month, strftime(d, '%G-W%V') AS iso_week, "
        f"CAST({dow} AS INTEGER) AS weekday, isodow(d) >= 6 AS is_weekend, "
        "string_agg(f.zh, '/' ORDER BY f.s) AS festival, string_agg(f.en, '/' ORDER BY f.s) AS festival_en "
        "FROM days LEFT JOIN fest f ON d BETWEEN f.s AND f.e GROUP BY d ORDER BY d"
    )
