"""Numbers in report texts: thin helpers over the one formatter (``channelscope.numbers``), so a report writes a
number exactly as the CLI, the dashboard and the notifications do."""

from __future__ import annotations

from channelscope.numbers import NumberFormat, is_missing


def money(value: float | None, currency: str) -> str:
    """``¥1,234.56`` in the project's base currency (``–`` when missing)."""
    return NumberFormat(currency=currency).value(value, "money")


def signed_money(value: float, currency: str) -> str:
    text = money(value, currency)
    return text if is_missing(value) or value < 0 else "+" + text


def count(value: float | None) -> str:
    return NumberFormat().value(value, "count")


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percent: 0.123 -> '12.3%'."""
    return NumberFormat().value(value, "percent", decimals=digits)


def signed_percent(value: float | None, digits: int = 1) -> str:
    """A relative change: 0.123 -> '+12.3%'."""
    return NumberFormat().change_text(value, "count")


def points(value: float | None, lang: str) -> str:
    """A change of a fraction in percentage points: 0.034 -> '+3.4 pp' / '+3.4个百分点'."""
    return NumberFormat(lang=lang).change_text(value, "percent")


def by_unit(value: float | None, unit: str, currency: str, lang: str, *, change: bool = False) -> str:
    """A value in its unit ('money', 'count', 'percent', 'ratio'); ``change`` signs it, and a change of a
    percent is in percentage points."""
    if is_missing(value):
        return NumberFormat().value(None, unit)
    assert value is not None
    if change and unit == "percent":
        return points(value, lang)
    text = NumberFormat(lang=lang, currency=currency).value(value, unit)
    return ("+" + text) if change and value >= 0 else text
