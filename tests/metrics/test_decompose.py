"""The identity of sales: exact LMDI decomposition of a change in GMV / net sales (pure, no database)."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channelscope.metrics.decompose import Decomposition, gmv_change_by_factor

COLUMNS = ["visitors", "paid_orders", "gmv", "refunds"]


def frame(rows: dict[str, tuple[float, ...]]) -> pd.DataFrame:
    """{channel: (visitors, paid_orders, gmv[, refunds])} -> an aggregate frame."""
    records = [{"channel_id": k, **dict(zip(COLUMNS, v, strict=False))} for k, v in rows.items()]
    return pd.DataFrame(records, columns=["channel_id", *COLUMNS]).fillna(0)


def dec(x: float) -> Decimal:
    return Decimal(str(float(x)))


# --- hand-checkable example --------------------------------------------------------------------------------------
#
#            before: visitors  orders  gmv      CR     AOV  |  after: visitors  orders  gmv     CR     AOV
#   A                  1,000      50   5,000    5%     100  |           1,000      60   6,000   6%     100
#   B                  2,000      40   8,000    2%     200  |           3,000      60  12,000   2%     200
#
# A: only the conversion rate moves, so LMDI gives it the whole change: L(6000,5000)·ln(0.06/0.05) = 6000 − 5000,
#    because L(a,b)·ln(a/b) = a − b.  conversion_rate = +1,000.00, visitors = aov = 0.
# B: only visitors move: visitors = L(12000,8000)·ln(3000/2000) = +4,000.00, the others 0.
# Total change = 18,000 − 13,000 = +5,000 (+38.46%). Weights:
#    wA = L(6000,5000)  = 1000 / ln 1.2 = 1000 / 0.1823215568 = 5484.8149
#    wB = L(12000,8000) = 4000 / ln 1.5 = 4000 / 0.4054651081 = 9865.2138
# Total visitors 3,000 -> 4,000; shares A 1/3 -> 1/4, B 2/3 -> 3/4:
#    visitors    = (wA + wB)·ln(4/3) = 15350.0288 × 0.2876820725 = +4,415.93
#    channel_mix = wA·ln(3/4) + wB·ln(9/8) = −5484.8149 × 0.2876820725 + 9865.2138 × 0.1177830357
#                = −1577.8839 + 1161.9547 = −415.93
#    visitors + channel_mix = wB·ln 1.5 = +4,000 (B's own visitors effect); conversion_rate = +1,000; aov = 0.
BEFORE = frame({"A": (1000, 50, 5000), "B": (2000, 40, 8000)})
AFTER = frame({"A": (1000, 60, 6000), "B": (3000, 60, 12000)})


def test_identity_holds_on_the_inputs() -> None:
    for df in (BEFORE, AFTER):
        cr = df["paid_orders"] / df["visitors"]
        aov = df["gmv"] / df["paid_orders"]
        assert np.allclose(df["visitors"] * cr * aov, df["gmv"], rtol=1e-12)


def test_hand_example() -> None:
    d = gmv_change_by_factor(BEFORE, AFTER)
    m = d.by_member.set_index("channel_id")
    assert list(d.by_member.columns) == [
        "channel_id",
        "status",
        "value_before",
        "value_after",
        "change",
        "visitors",
        "conversion_rate",
        "aov",
        "new_or_lost",
        "undecomposed",
    ]
    assert m.loc["A", ["change", "visitors", "conversion_rate", "aov"]].tolist() == [1000.0, 0.0, 1000.0, 0.0]
    assert m.loc["B", ["change", "visitors", "conversion_rate", "aov"]].tolist() == [4000.0, 4000.0, 0.0, 0.0]
    assert (m["status"] == "decomposed").all()
    assert d.total == {
        "value_before": 13000.0,
        "value_after": 18000.0,
        "change": 5000.0,
        "visitors": 4415.93,
        "channel_mix": -415.93,
        "conversion_rate": 1000.0,
        "aov": 0.0,
        "new_or_lost": 0.0,
        "undecomposed": 0.0,
    }
    raw = d.unrounded_total
    assert raw["visitors"] == pytest.approx(15350.0288 * 0.2876820725, rel=1e-8)
    assert raw["channel_mix"] == pytest.approx(-5484.8149 * 0.2876820725 + 9865.2138 * 0.1177830357, rel=1e-6)


def test_two_factors_with_equal_log_changes_share_equally() -> None:
    # visitors ×1.1, CR unchanged (5%), AOV ×1.1: V 5,000 -> 6,050, change 1,050.
    # L(6050,5000) = 1050 / ln 1.21 = 1050 / (2 ln 1.1); visitors = aov = L·ln 1.1 = 1050 / 2 = 525.
    d = gmv_change_by_factor(frame({"A": (1000, 50, 5000)}), frame({"A": (1100, 55, 6050)}))
    row = d.by_member.iloc[0]
    assert (row["visitors"], row["conversion_rate"], row["aov"]) == (525.0, 0.0, 525.0)


def test_net_sales_keep_rate() -> None:
    # GMV flat at 5,000 with the same visitors and orders; refunds 500 -> 1,000: keep rate 0.9 -> 0.8,
    # net sales 4,500 -> 4,000: the whole −500 is the keep-rate (refund rate) effect.
    d = gmv_change_by_factor(
        frame({"A": (1000, 50, 5000, 500)}), frame({"A": (1000, 50, 5000, 1000)}), measure="net_sales"
    )
    row = d.by_member.iloc[0]
    assert row["change"] == -500.0
    assert row[["visitors", "conversion_rate", "aov", "keep_rate"]].tolist() == [0.0, 0.0, 0.0, -500.0]
    assert d.total["keep_rate"] == -500.0
    assert d.explain("en")[0] == "Net sales -11.1% (-500.00): refund rate -500.00"
    assert d.explain("zh-CN")[0] == "净销售额 下降 11.1%（-500.00）：退款率 -500.00"


def test_explain_both_locales() -> None:
    d = gmv_change_by_factor(BEFORE, AFTER)
    assert d.explain("en") == [
        "GMV +38.5% (+5,000.00): visitors +4,415.93, conversion rate +1,000.00, channel mix -415.93",
        "[B] GMV +50.0% (+4,000.00): visitors +4,000.00",
        "[A] GMV +20.0% (+1,000.00): conversion rate +1,000.00",
    ]
    assert d.explain("zh-CN") == [
        "GMV 增长 38.5%（+5,000.00）：访客 +4,415.93，转化率 +1,000.00，渠道结构 -415.93",
        "[B] GMV 增长 50.0%（+4,000.00）：访客 +4,000.00",
        "[A] GMV 增长 20.0%（+1,000.00）：转化率 +1,000.00",
    ]
    assert d.explain() == d.explain("zh-CN")
    assert d.explain("en", top=1) == d.explain("en")[:2]
    with pytest.raises(ValueError, match="locale"):
        d.explain("fr")


def test_explain_decrease_new_lost_and_unchanged() -> None:
    before = frame({"A": (1000, 60, 6000), "gone": (10, 1, 300)})
    after = frame({"A": (1000, 50, 5000), "fresh": (100, 5, 500)})
    d = gmv_change_by_factor(before, after)
    # total 6,300 -> 5,500: A −1,000 (conversion rate), gone −300, fresh +500 => new_or_lost +200.
    assert d.explain("en") == [
        "GMV -12.7% (-800.00): conversion rate -1,000.00, new or lost +200.00",
        "[A] GMV -16.7% (-1,000.00): conversion rate -1,000.00",
        "[fresh] GMV +500.00 (new)",
        "[gone] GMV -300.00 (lost)",
    ]
    assert d.explain("zh-CN") == [
        "GMV 下降 12.7%（-800.00）：转化率 -1,000.00，新增或流失 +200.00",
        "[A] GMV 下降 16.7%（-1,000.00）：转化率 -1,000.00",
        "[fresh] GMV 增长 500.00（新增）",
        "[gone] GMV 下降 300.00（流失）",
    ]
    flat = gmv_change_by_factor(frame({"A": (1000, 50, 5000)}), frame({"A": (2000, 50, 5000)}))
    assert flat.explain("en")[0] == "GMV unchanged (0.00): visitors +3,465.74, conversion rate -3,465.74"
    assert flat.explain("zh-CN")[0] == "GMV 持平（0.00）：访客 +3,465.74，转化率 -3,465.74"
    start = gmv_change_by_factor(frame({}), frame({"A": (10, 1, 99.5)}))
    assert start.explain("en")[0] == "GMV +99.50 (from 0): new or lost +99.50"
    assert start.explain("zh-CN")[0] == "GMV 增长 99.50（上期为 0）：新增或流失 +99.50"


def test_zeros_and_members_in_one_period() -> None:
    before = frame({"A": (1000, 50, 5000), "lost": (10, 1, 300), "offline": (0, 20, 1000), "noorders": (500, 0, 0)})
    after = frame({"A": (1100, 50, 5500), "new": (100, 5, 500), "offline": (0, 25, 1200), "noorders": (400, 4, 80)})
    d = gmv_change_by_factor(before, after)
    m = d.by_member.set_index("channel_id")
    assert m["status"].to_dict() == {
        "A": "decomposed",
        "lost": "lost",
        "offline": "undecomposed",
        "noorders": "new",
        "new": "new",
    }
    assert m.loc["lost", "new_or_lost"] == -300.0
    assert m.loc["new", "new_or_lost"] == 500.0
    assert m.loc["noorders", "new_or_lost"] == 80.0
    assert m.loc["offline", "undecomposed"] == 200.0
    assert m.loc["A", "visitors"] == 500.0
    assert d.total["new_or_lost"] == 280.0
    assert d.total["undecomposed"] == 200.0
    # Only A is present (and decomposable) in both periods: no share shift among the decomposed members.
    assert d.total["visitors"] == 500.0
    assert d.total["channel_mix"] == 0.0
    assert_adds_up(d)


def test_net_sales_negative_is_undecomposed() -> None:
    # Refunds of earlier orders exceed this period's GMV: net sales −200 -> 900, not a product of positive factors.
    before = frame({"A": (1000, 1, 100, 300)})
    after = frame({"A": (1000, 10, 1000, 100)})
    d = gmv_change_by_factor(before, after, measure="net_sales")
    row = d.by_member.iloc[0]
    assert (row["status"], row["change"], row["undecomposed"]) == ("undecomposed", 1100.0, 1100.0)
    assert d.explain("en")[0] == "Net sales +550.0% (+1,100.00): not decomposable +1,100.00"


def test_inputs_decimal_duplicates_none_and_errors() -> None:
    before = pd.DataFrame(
        {
            "channel_id": ["A", "A"],
            "visitors": [600, 400],
            "paid_orders": [30, 20],
            "gmv": [Decimal("3000.10"), Decimal("1999.90")],
        }
    )
    after = pd.DataFrame({"channel_id": ["A"], "visitors": [1000], "paid_orders": [60], "gmv": [Decimal("6000.00")]})
    d = gmv_change_by_factor(before, after)
    assert d.by_member[["channel_id", "change", "conversion_rate"]].to_dict("records") == [
        {"channel_id": "A", "change": 1000.0, "conversion_rate": 1000.0}
    ]
    whole = gmv_change_by_factor(before, after, by=None)
    assert "channel_id" not in whole.by_member.columns
    assert whole.total["conversion_rate"] == 1000.0
    assert whole.total["channel_mix"] == 0.0
    with pytest.raises(ValueError, match="negative"):
        gmv_change_by_factor(before, after.assign(visitors=[-1]))
    with pytest.raises(ValueError, match="refunds"):
        gmv_change_by_factor(before, after, measure="net_sales")
    with pytest.raises(ValueError, match="measure"):
        gmv_change_by_factor(before, after, measure="profit")
    empty = gmv_change_by_factor(frame({}), frame({}))
    assert empty.by_member.empty
    assert set(empty.total.values()) == {0.0}


# --- properties --------------------------------------------------------------------------------------------------


def measure_of(row: pd.Series, measure: str) -> float:
    return float(row["gmv"]) - (float(row["refunds"]) if measure == "net_sales" else 0.0)


def log_mean(a: float, b: float) -> float:
    """L(a, b) = (a − b) / ln(a / b); ln(a / b) as log1p((a − b) / b), as ln a − ln b cancels when a ≈ b."""
    return a if a == b else (a - b) / math.log1p((a - b) / b)


def assert_adds_up(d: Decomposition, before: pd.DataFrame | None = None, after: pd.DataFrame | None = None) -> None:
    """Parts add up to the change: unrounded (to float precision) and rounded to cents (exactly)."""
    member_parts, total_parts = list(d.member_parts), list(d.total_parts)
    for df in (d.by_member, d.unrounded_by_member):
        numbers = df[["value_before", "value_after", "change", *member_parts]].to_numpy(dtype=float)
        assert np.isfinite(numbers).all()
    for t in (d.total, d.unrounded_total):
        assert all(math.isfinite(v) for v in t.values())
        assert set(t) == {"value_before", "value_after", "change", *total_parts}

    raw = d.unrounded_by_member
    for row in raw.to_dict("records"):
        scale = max(1.0, abs(row["value_before"]), abs(row["value_after"]))
        assert math.fsum(row[p] for p in member_parts) == pytest.approx(row["change"], rel=1e-9, abs=1e-6)
        assert row["change"] == pytest.approx(row["value_after"] - row["value_before"], abs=1e-9 * scale)
        if row["status"] != "decomposed":
            expected = {"new": "new_or_lost", "lost": "new_or_lost", "undecomposed": "undecomposed", "zero": None}
            for part in member_parts:
                assert row[part] == (row["change"] if part == expected[row["status"]] else 0.0)
    rt = d.unrounded_total
    assert math.fsum(rt[p] for p in total_parts) == pytest.approx(rt["change"], rel=1e-9, abs=1e-6)
    assert rt["change"] == pytest.approx(raw["change"].sum(), rel=1e-9, abs=1e-6)

    # Rounded: exact in decimal arithmetic, members and total; the member table adds up to the total row.
    rounded = d.by_member
    for row in rounded.to_dict("records"):
        assert sum(dec(row[p]) for p in member_parts) == dec(row["change"])
        assert dec(row["value_before"]) + dec(row["change"]) == dec(row["value_after"])
        for p in ("value_before", "value_after", "change", *member_parts):
            assert dec(row[p]) == dec(row[p]).quantize(Decimal("0.01"))
        assert abs(dec(row["value_after"]) - dec(row["value_before"]) - dec(row["change"])) == 0
    t = d.total
    assert sum(dec(t[p]) for p in total_parts) == dec(t["change"])
    assert dec(t["value_before"]) + dec(t["change"]) == dec(t["value_after"])
    for p in member_parts[1:]:
        assert sum(dec(x) for x in rounded[p]) == dec(t[p])
    assert sum(dec(x) for x in rounded["visitors"]) == dec(t["visitors"]) + dec(t["channel_mix"])
    # Rounding moves no part by more than a few cents per member.
    for p in member_parts:
        assert np.max(np.abs(rounded[p].to_numpy() - raw[p].to_numpy()), initial=0.0) <= 0.01 * (len(member_parts) + 2)

    if before is None or after is None:
        return
    # Independent LMDI-I on the inputs for the members decomposed.
    measure = d.measure
    b = before.set_index("channel_id")
    a = after.set_index("channel_id")
    weights, v0s, v1s, ln_v = [], [], [], []
    for row in raw.to_dict("records"):
        key = row["channel_id"]
        v0 = measure_of(b.loc[key], measure) if key in b.index else 0.0
        v1 = measure_of(a.loc[key], measure) if key in a.index else 0.0
        assert row["value_before"] == pytest.approx(v0) and row["value_after"] == pytest.approx(v1)
        if row["status"] != "decomposed":
            continue
        x0, x1 = b.loc[key, COLUMNS].astype(float), a.loc[key, COLUMNS].astype(float)
        w = log_mean(v1, v0)
        expected = {
            "visitors": w * math.log(x1["visitors"] / x0["visitors"]),
            "conversion_rate": w
            * math.log((x1["paid_orders"] / x1["visitors"]) / (x0["paid_orders"] / x0["visitors"])),
            "aov": w * math.log((x1["gmv"] / x1["paid_orders"]) / (x0["gmv"] / x0["paid_orders"])),
        }
        if measure == "net_sales":
            expected["keep_rate"] = w * math.log((v1 / x1["gmv"]) / (v0 / x0["gmv"]))
        scale = max(abs(v0), abs(v1))
        for part, value in expected.items():
            assert row[part] == pytest.approx(value, rel=1e-7, abs=1e-9 * scale)
        weights.append(w)
        v0s.append(float(x0["visitors"]))
        v1s.append(float(x1["visitors"]))
        ln_v.append(math.log(x1["visitors"] / x0["visitors"]))
    if weights:
        vt0, vt1 = sum(v0s), sum(v1s)
        visitors = sum(w * math.log(vt1 / vt0) for w in weights)
        mix = sum(w * math.log((s1 / vt1) / (s0 / vt0)) for w, s0, s1 in zip(weights, v0s, v1s, strict=True))
        scale = sum(weights) * 20
        assert rt["visitors"] == pytest.approx(visitors, rel=1e-7, abs=1e-9 * scale)
        assert rt["channel_mix"] == pytest.approx(mix, rel=1e-7, abs=1e-9 * scale)


def period_row(*, positive: bool) -> st.SearchStrategy[tuple[int, int, Decimal, Decimal]]:
    """(visitors, paid_orders, gmv, refunds) with money in cents; zeros allowed unless positive."""
    low = 1 if positive else 0
    counts = st.integers(low, 1_000_000)
    orders = st.integers(low, 100_000)
    cents = st.integers(max(low, 1) if positive else 0, 10**9)

    def build(v: int, o: int, g: int, refund_share: int) -> tuple[int, int, Decimal, Decimal]:
        gmv = Decimal(g) / 100
        # positive: refunds < gmv (keep rate > 0); otherwise refunds may exceed GMV.
        r = (g * refund_share) // (100 if positive else 60)
        return v, o, gmv, Decimal(min(r, g - 1) if positive else r) / 100

    shares = st.integers(0, 99)
    if not positive:
        counts = st.one_of(st.just(0), counts)
        orders = st.one_of(st.just(0), orders)
        cents = st.one_of(st.just(0), cents)
    return st.builds(build, counts, orders, cents, shares)


@st.composite
def periods(draw: st.DrawFn, *, positive: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = draw(st.integers(1, 6))
    rows0, rows1 = {}, {}
    for i in range(n):
        key = f"c{i}"
        presence = "both" if positive else draw(st.sampled_from(["both", "both", "before", "after"]))
        if presence in ("both", "before"):
            rows0[key] = draw(period_row(positive=positive))
        if presence in ("both", "after"):
            rows1[key] = draw(period_row(positive=positive))
    return frame(rows0), frame(rows1)


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(data=periods(positive=True), measure=st.sampled_from(["gmv", "net_sales"]))
def test_positive_inputs_add_up(data: tuple[pd.DataFrame, pd.DataFrame], measure: str) -> None:
    before, after = data
    d = gmv_change_by_factor(before, after, measure=measure)
    assert (d.by_member["status"] == "decomposed").all()
    assert_adds_up(d, before, after)


@PROPERTY
@given(data=periods(positive=False), measure=st.sampled_from(["gmv", "net_sales"]))
def test_zeros_and_missing_members_add_up(data: tuple[pd.DataFrame, pd.DataFrame], measure: str) -> None:
    before, after = data
    d = gmv_change_by_factor(before, after, measure=measure)
    assert_adds_up(d, before, after)
    whole = gmv_change_by_factor(before, after, by=None, measure=measure)
    assert whole.total["change"] == d.total["change"]
    assert_adds_up(whole)
    for locale in ("en", "zh-CN"):
        lines = d.explain(locale)
        assert lines and all("nan" not in line and "inf" not in line for line in lines)


def test_other_grain_names_the_mix_generically() -> None:
    before = BEFORE.rename(columns={"channel_id": "distributor_id"})
    after = AFTER.rename(columns={"channel_id": "distributor_id"})
    d = gmv_change_by_factor(before, after, by="distributor_id")
    assert d.by_member["distributor_id"].tolist() == ["A", "B"]
    assert d.explain("en")[0] == "GMV +38.5% (+5,000.00): visitors +4,415.93, conversion rate +1,000.00, mix -415.93"
    assert d.explain("zh-CN")[0] == "GMV 增长 38.5%（+5,000.00）：访客 +4,415.93，转化率 +1,000.00，结构 -415.93"


def test_sentences_write_money_with_the_currency_symbol() -> None:
    """Decomposition sentences write money through channelscope.numbers: the base currency's symbol, the sign
    before it (+¥5,000.00, -$415.93), the same text as every other number of the product."""
    before = BEFORE.rename(columns={"channel_id": "distributor_id"})
    after = AFTER.rename(columns={"channel_id": "distributor_id"})
    cny = gmv_change_by_factor(before, after, by="distributor_id", currency="CNY")
    assert cny.explain("zh-CN")[0] == "GMV 增长 38.5%（+¥5,000.00）：访客 +¥4,415.93，转化率 +¥1,000.00，结构 -¥415.93"
    usd = gmv_change_by_factor(before, after, by="distributor_id", currency="USD")
    assert (
        usd.explain("en")[0] == "GMV +38.5% (+$5,000.00): visitors +$4,415.93, conversion rate +$1,000.00, mix -$415.93"
    )
    flat = gmv_change_by_factor(before, before, by="distributor_id", currency="CNY")
    assert flat.explain("en")[0].startswith("GMV unchanged (¥0.00)")
