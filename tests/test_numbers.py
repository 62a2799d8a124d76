"""channelscope.numbers: the one place numbers are written. Examples a person can check, then properties
(hypothesis): a written amount reads back to the value within half its last digit, a view's amounts share one
scale and none reads as zero, a rate's change is in percentage points, a missing value is never a number."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channelscope.numbers import MISSING, NumberFormat, Scale, change_value, currency_symbol, view_scale

ZH = NumberFormat("zh-CN", "CNY")
EN = NumberFormat("en", "USD")


def test_examples_from_the_issue() -> None:
    # a rate change of 3.3% -> 6.7% is +3.4 pp, never +105.1%
    assert ZH.change(0.067, 0.033, "percent") == "+3.4个百分点"
    assert EN.change(0.067, 0.033, "percent") == "+3.4 pp"
    assert EN.change(200.0, 100.0, "money") == "+100.0%"
    # no ¥10.0万 next to ¥93,753.61: one scale for the view
    nf = ZH.scaled([100_000.0, 93_753.61])
    assert nf.scale == Scale()  # 93,753.61 is under 10万: the whole view is written in full
    assert [nf.value(v, "money", scaled=True) for v in (100_000.0, 93_753.61)] == ["¥100,000.00", "¥93,753.61"]
    nf = ZH.scaled([710_538.35, 193_060.80])
    assert [nf.value(v, "money", scaled=True) for v in (710_538.35, 193_060.80)] == ["¥71.05万", "¥19.31万"]
    # an amount below the scale's ten keeps the whole view unscaled
    nf = ZH.scaled([681_821.55, 5_000.0])
    assert nf.value(681_821.55, "money", scaled=True) == "¥681,821.55"
    # the project's currency, not a hard-coded ¥
    assert EN.value(1234.5, "money") == "$1,234.50"
    assert NumberFormat("en", "EUR").value(-12, "money") == "-€12.00"
    assert NumberFormat("en", "CHF").value(3, "money") == "CHF 3.00"
    assert EN.scaled([25_000_000.0]).value(25_000_000.0, "money", scaled=True) == "$25.00M"
    assert EN.scaled([2_500_000.0]).value(2_500_000.0, "money", scaled=True) == "$2,500.00K"
    assert ZH.value(0.0281, "percent") == "2.8%"
    assert ZH.value(1234, "count") == "1,234"
    assert ZH.value(None, "money") == MISSING
    assert ZH.value(float("nan"), "percent") == MISSING
    assert ZH.change(5, 0, "money") == MISSING  # no base: no relative change
    assert ZH.change(0.05, 0.0, "percent") == "+5.0个百分点"  # a rate from zero still has a change in pp


def _read_back(text: str, symbol: str, scale: Scale) -> float:
    body = text.replace(symbol, "", 1).removesuffix(scale.suffix).replace(",", "")
    return float(body) * scale.divisor


money = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(money, st.sampled_from(["CNY", "USD", "EUR", "JPY"]))
def test_money_reads_back_to_the_cent(value: float, currency: str) -> None:
    nf = NumberFormat("zh-CN", currency)
    text = nf.value(value, "money")
    assert text.count(nf.symbol) == 1
    assert (text.startswith("-") and value < 0) or not text.startswith("-")
    assert abs(_read_back(text, nf.symbol, Scale()) - value) <= 0.005 + abs(value) * 1e-15


@given(st.lists(money.filter(lambda x: abs(x) >= 0.01), min_size=1, max_size=12), st.sampled_from(["zh-CN", "en"]))
def test_one_scale_per_view_and_no_amount_reads_as_zero(amounts: list[float], lang: str) -> None:
    nf = NumberFormat(lang, "CNY").scaled(amounts)
    texts = [nf.value(a, "money", scaled=True) for a in amounts]
    suffixes = {re.sub(r"[-¥0-9.,]", "", t) for t in texts}
    assert len(suffixes) == 1  # every amount of the view in the same unit (万, 亿, K, M, B or none)
    for a, text in zip(amounts, texts, strict=True):
        back = _read_back(text.lstrip("-"), "¥", nf.scale)
        assert abs(back - abs(a)) <= 0.005 * nf.scale.divisor + abs(a) * 1e-12
        if nf.scale.divisor > 1:
            assert abs(a) >= 10 * nf.scale.divisor  # a scaled amount shows at least 10.00 of its unit


@given(st.floats(0, 1), st.floats(0, 1), st.sampled_from(["zh-CN", "en"]))
def test_a_rate_changes_in_percentage_points(after: float, before: float, lang: str) -> None:
    nf = NumberFormat(lang, "CNY")
    text = nf.change(after, before, "percent")
    number = float(re.match(r"[+-]\d+\.\d", text).group(0))  # type: ignore[union-attr]
    assert number == pytest.approx((after - before) * 100, abs=0.051)
    assert text.endswith(" pp" if lang == "en" else "个百分点")
    assert change_value(after, before, "percent") == pytest.approx(after - before)


@given(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9).filter(lambda b: abs(b) >= 0.01))  # a base of at least a cent
def test_an_amount_changes_relative_to_its_base(after: float, before: float) -> None:
    c = change_value(after, before, "money")
    assert c is not None and c == pytest.approx((after - before) / abs(before))
    assert ZH.change(after, before, "money").endswith("%")


@given(st.sampled_from([None, float("nan"), float("inf"), -math.inf]), st.sampled_from(["money", "percent", "count"]))
def test_missing_is_never_a_number(value: object, unit: str) -> None:
    assert ZH.value(value, unit) == MISSING
    assert ZH.change(value, 1.0, unit) == MISSING
    assert view_scale([value], "zh-CN") == Scale()


def test_currency_symbols() -> None:
    assert currency_symbol("CNY") == "¥"
    assert currency_symbol("usd") == "$"
    assert currency_symbol(None) == ""
