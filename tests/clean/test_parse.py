"""Property tests: the engine's date and amount parsers read what platforms write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channelscope.clean import parse as P

CON = duckdb.connect()


def one(sql: str):  # type: ignore[no-untyped-def]
    return CON.execute("SELECT " + sql).fetchone()[0]  # type: ignore[index]


def ts_utc(text: str, tz: str = "Asia/Shanghai") -> dt.datetime | None:
    return one(P.parse_timestamp_utc(P.clean_text(P.lit(text)), tz, None))


STAMPS = st.datetimes(min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2035, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
ZONES = st.sampled_from(["Asia/Shanghai", "America/Sao_Paulo", "Europe/Berlin", "UTC", "America/New_York"])
LAYOUTS = [
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S"),
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%S"),
    lambda d: f"{d.year}/{d.month}/{d.day} {d.hour}:{d.minute:02d}:{d.second:02d}",
    lambda d: f"{d.year}年{d.month}月{d.day}日 {d.hour:02d}:{d.minute:02d}:{d.second:02d}",
]


@settings(max_examples=150, deadline=None)
@given(STAMPS, ZONES, st.sampled_from(LAYOUTS))
def test_local_formats_become_utc(stamp: dt.datetime, zone: str, layout) -> None:  # type: ignore[no-untyped-def]
    expected = stamp.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC).replace(tzinfo=None)
    got = ts_utc(layout(stamp), zone)
    # a wall time that does not exist or repeats at a DST change may land an hour apart
    assert got is not None and abs((got - expected).total_seconds()) in (0, 3600)
    if zone in ("Asia/Shanghai", "UTC"):
        assert got == expected


@settings(max_examples=100, deadline=None)
@given(STAMPS)
def test_epoch_and_offsets_ignore_the_declared_zone(stamp: dt.datetime) -> None:
    aware = stamp.replace(tzinfo=dt.UTC)
    secs = int(aware.timestamp())
    assert ts_utc(str(secs), "Asia/Shanghai") == stamp
    assert ts_utc(str(secs * 1000), "Asia/Shanghai") == stamp
    assert ts_utc(stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "Asia/Shanghai") == stamp
    assert ts_utc(aware.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(), "UTC") == stamp


def test_excel_serials_and_junk() -> None:
    assert ts_utc("45296.5", "UTC") == dt.datetime(2024, 1, 5, 12, 0)
    assert one(P.parse_date(P.lit("45296"), None)) == dt.date(2024, 1, 5)
    for junk in ["junk", "2024-02-30 10:00", "13/13/2024", "", "   "]:
        assert ts_utc(junk) is None


AMOUNTS = st.decimals(
    min_value=Decimal("-99999999.99"), max_value=Decimal("99999999.99"), places=2, allow_nan=False, allow_infinity=False
)


@settings(max_examples=200, deadline=None)
@given(AMOUNTS, st.sampled_from(["{:.2f}", "{:,.2f}", "¥{:,.2f}", "￥{:.2f}", "{:.2f}元", " {:.2f} ", "${:,.2f}"]))
def test_amounts_are_exact(amount: Decimal, layout: str) -> None:
    text = layout.format(amount)
    assert one(P.parse_decimal(P.clean_text(P.lit(text)))) == amount


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10**12))
def test_fen_become_yuan(fen: int) -> None:
    assert one(P.parse_decimal(P.lit(str(fen)), 2, 100)) == Decimal(fen) / 100


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_gives_null_never_an_error(text: str) -> None:
    t = P.clean_text("$t")  # bound as a parameter, as rows arrive from a table
    for sql in (
        P.parse_decimal(t),
        P.parse_int(t),
        P.parse_bool(t),
        P.parse_date(t, None),
        P.parse_timestamp_utc(t, "Asia/Shanghai", None),
    ):
        CON.execute("SELECT " + sql, {"t": text}).fetchone()  # must not raise


@pytest.mark.parametrize(
    ("raw", "kind", "normalized"),
    [
        ("+86 138-0013-8000", "phone", "13800138000"),
        ("008613800138000", "phone", "13800138000"),
        ("  Foo@Example.COM ", "email", "foo@example.com"),
        ("Zhang   San", "name", "zhang san"),
    ],
)
def test_personal_fields_are_normalized_before_hashing(raw: str, kind: str, normalized: str) -> None:
    assert one(P.normalize_pii(P.clean_text(P.lit(raw)), kind)) == normalized


def test_shopify_offsets_with_a_space() -> None:
    assert ts_utc("2024-10-01 19:53:13 +0800", "UTC") == dt.datetime(2024, 10, 1, 11, 53, 13)
