"""Period names people write: 2025-06-18, 2025-W23, 2025-06, 2025-Q2, 2025, or 2025-06-01..2025-06-18."""

from __future__ import annotations

import calendar
import datetime as dt
import re

from dateutil.relativedelta import relativedelta

from channelscope.errors import QueryError

HELP = "YYYY-MM-DD, YYYY-Www (ISO week), YYYY-MM, YYYY-Qn, YYYY, or START..END"
#: years a period may name: a business calendar, not the whole of ``datetime`` (0001 or 9999 overflow the
#: comparison period's arithmetic)
YEARS = (1900, 2999)


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """The first and last day (inclusive) of a named period."""
    t = text.strip()
    try:
        if ".." in t:
            a, b = t.split("..", 1)
            start, end = parse_period(a)[0], parse_period(b)[1]
            if start > end:
                raise QueryError(f"period '{text}': start is after end")
            return start, end
        if m := re.fullmatch(r"(\d{4})-W(\d{1,2})", t):
            start = dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return _plausible(text, start, start + dt.timedelta(days=6))
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", t):
            y, q = int(m[1]), int(m[2])
            start = dt.date(y, 3 * q - 2, 1)
            return _plausible(text, start, start + relativedelta(months=3) - dt.timedelta(days=1))
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", t):
            y, mo = int(m[1]), int(m[2])
            return _plausible(text, dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1]))
        if re.fullmatch(r"\d{4}", t):
            return _plausible(text, dt.date(int(t), 1, 1), dt.date(int(t), 12, 31))
        day = dt.date.fromisoformat(t)
        return _plausible(text, day, day)
    except (ValueError, OverflowError) as exc:
        raise QueryError(f"period '{text}' is not understood; use {HELP}") from exc


def _plausible(text: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    if not (YEARS[0] <= start.year and end.year <= YEARS[1]):
        raise QueryError(f"period '{text}' is outside the years {YEARS[0]}..{YEARS[1]}")
    return start, end


def comparison_period(start: dt.date, end: dt.date, vs: str) -> tuple[dt.date, dt.date]:
    """The period to compare with: 'previous' (same length, just before), 'yoy', 'wow', or a named period."""
    if vs == "previous":
        n = (end - start).days + 1
        # whole months stay whole months (June -> May), weeks stay weeks
        if start.day == 1 and end == start + relativedelta(months=1) - dt.timedelta(days=1):
            s = start - relativedelta(months=1)
            return s, start - dt.timedelta(days=1)
        return start - dt.timedelta(days=n), start - dt.timedelta(days=1)
    if vs == "yoy":
        if (end - start).days == 6 and start.weekday() == 0:  # an ISO week: the same week number
            iso = start.isocalendar()
            try:
                s = dt.date.fromisocalendar(iso.year - 1, iso.week, 1)
            except ValueError:
                s = start - dt.timedelta(weeks=52)
            return s, s + dt.timedelta(days=6)
        return start - relativedelta(years=1), end + dt.timedelta(days=1) - relativedelta(years=1) - dt.timedelta(
            days=1
        )
    if vs == "wow":
        return start - dt.timedelta(days=7), end - dt.timedelta(days=7)
    return parse_period(vs)
