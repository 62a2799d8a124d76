"""How a number reads: the one place that turns a value, its unit, the project's currency and the reader's
language into text. The CLI tables, the dashboard, notifications and alert evidence (and later reports) all
call it, so the same number reads the same everywhere.

Rules (issue 10):

- money carries the symbol of the project's ``base_currency`` (CNY ¥, USD $, EUR €...; an unknown code is
  written before the number: ``CHF 12.00``), two decimals, thousands separators, the sign before the symbol;
- one scale per view: a page picks :func:`view_scale` once from the amounts it shows, and every amount of
  that view uses it (no ``¥10.0万`` next to ``¥93,753.61``); the scale is the largest of 万/亿 (zh-CN) or
  K/M/B (en) that the *smallest* amount still reaches, so no amount reads as 0.00万;
- a change of an amount is relative (+12.3%); a change of a rate is a difference in percentage points
  (3.3% -> 6.7% is ``+3.4 pp`` / ``+3.4个百分点``, never +105.1%);
- a missing value (None, NaN, inf) is ``–``, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "MISSING",
    "NumberFormat",
    "Scale",
    "change_value",
    "currency_symbol",
    "is_missing",
    "is_rate",
    "view_scale",
]

#: what a missing value shows (an en dash: never a 0 that reads as a good number)
MISSING = "–"
CURRENCY_SYMBOLS = {
    "CNY": "¥",
    "RMB": "¥",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "JP¥",
    "HKD": "HK$",
    "TWD": "NT$",
    "SGD": "S$",
    "AUD": "A$",
    "CAD": "C$",
    "KRW": "₩",
    "INR": "₹",
}
#: units whose change is a difference in percentage points, not a relative change
RATE_UNITS = frozenset({"percent"})
MONEY_UNITS = frozenset({"money", "money_per_count"})


@dataclass(frozen=True)
class Scale:
    """Amounts divided by ``divisor`` and followed by ``suffix`` (万, 亿, K, M, B); divisor 1: as they are."""

    divisor: float = 1.0
    suffix: str = ""


NO_SCALE = Scale()
#: the scales of each language, largest first
SCALES = {
    "zh-CN": (Scale(1e8, "亿"), Scale(1e4, "万")),
    "en": (Scale(1e9, "B"), Scale(1e6, "M"), Scale(1e3, "K")),
}


def is_missing(value: Any) -> bool:
    """None, NaN, inf, pandas' NA/NaT: a value that is not there (shown as ``–``)."""
    if value is None:
        return True
    try:
        x = float(value)
    except (TypeError, ValueError):
        return True
    return math.isnan(x) or math.isinf(x)


def is_rate(unit: str) -> bool:
    """Whether a change of this unit is told in percentage points (a rate: conversion, refund, margin rate)."""
    return unit in RATE_UNITS


def currency_symbol(code: str | None) -> str:
    """¥ for CNY, $ for USD...; an unknown ISO code followed by a space (``CHF ``); none for no currency."""
    if not code:
        return ""
    return CURRENCY_SYMBOLS.get(code.upper(), f"{code.upper()} ")


def view_scale(amounts: Iterable[Any], lang: str) -> Scale:
    """The one scale of a view: the largest scale of ``lang`` that every non-zero amount reaches (by absolute
    value), at least ten of it for the smallest. Missing and zero amounts do not count; none left: no scale."""
    sizes = [abs(float(a)) for a in amounts if not is_missing(a) and float(a) != 0]
    if not sizes:
        return NO_SCALE
    smallest = min(sizes)
    for scale in SCALES["en" if lang == "en" else "zh-CN"]:
        if smallest >= 10 * scale.divisor:
            return scale
    return NO_SCALE


def change_value(after: Any, before: Any, unit: str) -> float | None:
    """The change shown for a value: for a rate, after - before (a fraction: 0.034 is 3.4 pp); otherwise
    (after - before) / |before|. None when either is missing or a relative change has a zero base."""
    if is_missing(after) or is_missing(before):
        return None
    a, b = float(after), float(before)
    if is_rate(unit):
        return a - b
    if b == 0:
        return None
    return (a - b) / abs(b)


@dataclass(frozen=True)
class NumberFormat:
    """How one view writes numbers: its language, the project's currency and the view's scale of amounts.

    ``NumberFormat("en", "USD").value(1234.5, "money")`` is ``$1,234.50``; with ``.scaled([...])`` the
    amounts of the view share one scale."""

    lang: str = "zh-CN"
    currency: str | None = "CNY"
    scale: Scale = field(default=NO_SCALE)

    @property
    def symbol(self) -> str:
        return currency_symbol(self.currency)

    def scaled(self, amounts: Iterable[Any]) -> NumberFormat:
        """This format with the view's one scale chosen from ``amounts`` (the amounts the view shows)."""
        return replace(self, scale=view_scale(amounts, self.lang))

    def value(self, value: Any, unit: str, *, scaled: bool = False, decimals: int | None = None) -> str:
        """A value in its unit: money ¥1,234.56 (-¥12.00; with ``scaled`` ¥68.18万), counts 1,234, percent
        12.3%, ratio 1.23. ``decimals`` overrides the unit's (percent 1, money 2, ratio 2, count 0)."""
        if is_missing(value):
            return MISSING
        x = float(value)
        if unit == "percent":
            return f"{x * 100:.{1 if decimals is None else decimals}f}%"
        if unit in MONEY_UNITS:
            sign, a = ("-" if x < 0 and round(abs(x), 2 if decimals is None else decimals) else ""), abs(x)
            scale = self.scale if scaled else NO_SCALE
            d = 2 if decimals is None else decimals
            return f"{sign}{self.symbol}{a / scale.divisor:,.{d}f}{scale.suffix}"
        if unit == "ratio":
            return f"{x:,.{2 if decimals is None else decimals}f}"
        if scaled and self.scale.divisor != 1:
            return f"{x / self.scale.divisor:,.{2 if decimals is None else decimals}f}{self.scale.suffix}"
        return f"{x:,.{0 if decimals is None else decimals}f}"

    def full(self, value: Any, unit: str) -> str:
        """The exact value, never scaled (a tooltip behind a scaled one, a table cell)."""
        return self.value(value, unit)

    def change(self, after: Any, before: Any, unit: str) -> str:
        """The change from ``before`` to ``after``: +12.3% for amounts, +3.4 pp / +3.4个百分点 for rates."""
        return self.change_text(change_value(after, before, unit), unit)

    def change_text(self, change: Any, unit: str) -> str:
        """A change already computed (:func:`change_value`): relative ``+12.3%`` or, for a rate, ``+3.4 pp``."""
        if is_missing(change):
            return MISSING
        c = round(float(change) * 100, 1) + 0.0  # -0.04 reads +0.0, not -0.0
        if is_rate(unit):
            word = " pp" if self.lang == "en" else "个百分点"
            return f"{c:+.1f}{word}"
        return f"{c:+.1f}%"
