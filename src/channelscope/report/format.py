"""Numbers in report texts: money in the base currency, counts, percents and percentage points, per language."""

from __future__ import annotations

import math

_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$", "BRL": "R$"}


def money(value: float | None, currency: str) -> str:
    """``¥1,234.56`` (the currency's symbol, or its code before the amount)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    sym = _SYMBOLS.get(currency, currency + " ")
    sign = "-" if value < 0 else ""
    return f"{sign}{sym}{abs(value):,.2f}"


def signed_money(value: float, currency: str) -> str:
    return ("+" if value >= 0 else "") + money(value, currency)


def count(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percent: 0.123 -> '12.3%'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * 100:.{digits}f}%"


def signed_percent(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return ("+" if value >= 0 else "") + percent(value, digits)


def points(value: float | None, lang: str) -> str:
    """A change of a fraction in percentage points: 0.034 -> '+3.4 pp' / '+3.4个百分点'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{'+' if value >= 0 else ''}{value * 100:.1f}"
    return f"{text}个百分点" if lang == "zh-CN" else f"{text} pp"


def by_unit(value: float | None, unit: str, currency: str, lang: str, *, change: bool = False) -> str:
    """A value in its unit ('money', 'count', 'percent', 'ratio'); ``change`` signs it, and a change of a
    percent is in percentage points."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "money":
        return signed_money(value, currency) if change else money(value, currency)
    if unit == "percent":
        return points(value, lang) if change else percent(value)
    if unit == "ratio":
        return f"{value:+,.2f}" if change else f"{value:,.2f}"
    return (("+" if value >= 0 else "") + count(value)) if change else count(value)
