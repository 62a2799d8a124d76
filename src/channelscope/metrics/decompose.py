"""Exact decomposition of a change in sales into its drivers (the identity of sales).

    GMV       = visitors × conversion_rate × aov
    net_sales = visitors × conversion_rate × aov × keep_rate

with conversion_rate = paid_orders / visitors (orders per visitor), aov = gmv / paid_orders (base currency per
order) and keep_rate = net_sales / gmv = 1 − refunds / gmv (share of GMV not refunded).

The change of the measure V between two periods (0 = before, 1 = after) is split with the additive LMDI-I method
(Ang 2004, 2005): with the logarithmic mean L(a, b) = (a − b) / (ln a − ln b), L(a, a) = a, the contribution of a
factor x is L(V1, V0) · ln(x1 / x0). Because ln V = Σ ln x, the contributions add up to V1 − V0 exactly, with no
residual term.

This module is pure: it works on aggregates that are already pulled (pandas frames, one row per member, i.e. per
channel), and touches no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from channelscope.numbers import NumberFormat

__all__ = ["Decomposition", "gmv_change_by_factor"]

MEASURES = ("gmv", "net_sales")
INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "gmv": ("visitors", "paid_orders", "gmv"),
    "net_sales": ("visitors", "paid_orders", "gmv", "refunds"),
}
#: Multiplicative factors of each measure, in the order of the identity.
FACTORS: dict[str, tuple[str, ...]] = {
    "gmv": ("visitors", "conversion_rate", "aov"),
    "net_sales": ("visitors", "conversion_rate", "aov", "keep_rate"),
}
#: Change of members whose measure is 0 in one of the two periods (started, stopped, no orders, no sales).
NEW_OR_LOST = "new_or_lost"
#: Change of members whose measure is non-zero in both periods but a factor is not positive in one of them.
UNDECOMPOSED = "undecomposed"
#: Values of the ``status`` column of :attr:`Decomposition.by_member`.
STATUSES = ("decomposed", "new", "lost", "undecomposed", "zero")

_CENT = Decimal("0.01")

_MEASURE_LABELS = {
    "en": {"gmv": "GMV", "net_sales": "Net sales"},
    "zh": {"gmv": "GMV", "net_sales": "净销售额"},
}
_PART_LABELS = {
    "en": {
        "visitors": "visitors",
        "channel_mix": "channel mix",
        "conversion_rate": "conversion rate",
        "aov": "AOV",
        "keep_rate": "refund rate",
        NEW_OR_LOST: "new or lost",
        UNDECOMPOSED: "not decomposable",
    },
    "zh": {
        "visitors": "访客",
        "channel_mix": "渠道结构",
        "conversion_rate": "转化率",
        "aov": "客单价",
        "keep_rate": "退款率",
        NEW_OR_LOST: "新增或流失",
        UNDECOMPOSED: "无法分解",
    },
}
_GENERIC_MIX = {"en": "mix", "zh": "结构"}


@dataclass(frozen=True)
class Decomposition:
    """The change of a sales measure between two periods, split into the contributions of its factors.

    All money is in the inputs' currency (the project's base currency). Every contribution is an amount of money:
    "how much of the change comes from this factor". Parts always add up to the change:

    - ``by_member`` / ``total``: amounts rounded to cents (2 decimals) so that the rounded parts add up *exactly* to
      the rounded change (``Decimal(str(x))`` of the values add up; equivalently their cents do), and the rounded
      ``value_before + change == value_after``. Rounding remainders (at most a few cents) go to the largest part.
      The total's parts are the column sums of the members' rounded parts (``visitors`` and ``channel_mix``
      together are the sum of the members' ``visitors``), so the member table adds up to the total row too.
    - ``unrounded_by_member`` / ``unrounded_total``: the same quantities as float64, unrounded; parts add up to
      the change to float precision (about 1e-15 relative).

    ``by_member`` columns: the ``by`` key (absent when ``by`` is None), ``status`` (one of :data:`STATUSES`),
    ``value_before``, ``value_after``, ``change``, the factor columns (``visitors``, ``conversion_rate``, ``aov``,
    and ``keep_rate`` for net sales), ``new_or_lost`` and ``undecomposed``.

    ``total`` keys: ``value_before``, ``value_after``, ``change``, ``visitors`` (effect of the change of the total
    visitors of the decomposed members), ``channel_mix`` (effect of the shift of visitor share between them),
    ``conversion_rate``, ``aov`` [, ``keep_rate``], ``new_or_lost``, ``undecomposed``.

    No value is ever NaN or infinite.
    """

    measure: str
    by: str | None
    by_member: pd.DataFrame
    total: dict[str, float]
    unrounded_by_member: pd.DataFrame = field(repr=False)
    unrounded_total: dict[str, float] = field(repr=False)
    #: "visitors", or "orders" when the members have no traffic data: then GMV = orders x AOV, the
    #: ``visitors`` parts are the paid orders' effect and ``conversion_rate`` is 0 (see orders_basis)
    basis: str = "visitors"
    #: the base currency (ISO code) the sentences write money in (¥, $...; ``channelscope.numbers``); None: no symbol
    currency: str | None = None

    @property
    def factors(self) -> tuple[str, ...]:
        """The multiplicative factors of the measure (column names of their contributions)."""
        return FACTORS[self.measure]

    @property
    def member_parts(self) -> tuple[str, ...]:
        """Columns of :attr:`by_member` that add up to ``change``."""
        return (*self.factors, NEW_OR_LOST, UNDECOMPOSED)

    @property
    def total_parts(self) -> tuple[str, ...]:
        """Keys of :attr:`total` that add up to ``change``."""
        return ("visitors", "channel_mix", *self.factors[1:], NEW_OR_LOST, UNDECOMPOSED)

    def explain(self, locale: str = "zh-CN", *, top: int | None = None) -> list[str]:
        """Short sentences that explain the change, total first, then one per member (largest change first).

        Each sentence names the drivers largest first (by absolute amount) and omits parts that round to 0.00, e.g.
        ``GMV +12.3% (+45,600.00): conversion rate +30,200.00, visitors +8,100.00, AOV +7,300.00`` (en) or
        ``GMV 增长 12.3%（+45,600.00）：转化率 +30,200.00，访客 +8,100.00，客单价 +7,300.00`` (zh-CN). Amounts are
        in the base currency with 2 decimals; the percentage is the change over |value_before|.

        locale: ``"zh-CN"`` (or any ``zh*``) or ``"en"`` (or any ``en*``). top: at most this many member sentences
        (None: all members whose rounded change or parts are not all zero).
        """
        lang = _language(locale)
        lines = [self._sentence(lang, self.total, self.total_parts, prefix="", status=None)]
        if self.by is None:
            return lines
        frame = self.by_member
        nonzero = (frame[["change", *self.member_parts]] != 0).any(axis=1)
        rows = frame[nonzero]
        order = np.argsort(-rows["change"].abs().to_numpy(), kind="stable")
        rows = rows.iloc[order]
        if top is not None:
            rows = rows.head(max(top, 0))
        for _, row in rows.iterrows():
            values = {k: float(row[k]) for k in ("value_before", "value_after", "change", *self.member_parts)}
            lines.append(
                self._sentence(lang, values, self.member_parts, prefix=f"[{row[self.by]}] ", status=row["status"])
            )
        return lines

    def _sentence(
        self, lang: str, values: dict[str, float], parts: tuple[str, ...], *, prefix: str, status: str | None
    ) -> str:
        measure = _MEASURE_LABELS[lang][self.measure]
        before, change = values["value_before"], values["change"]
        nf = NumberFormat("en" if lang == "en" else "zh-CN", self.currency)

        def _money(x: float) -> str:
            return _signed(nf, x)

        if status in ("new", "lost"):
            tag = {"en": {"new": "new", "lost": "lost"}, "zh": {"new": "新增", "lost": "流失"}}[lang][status]
            if lang == "en":
                return f"{prefix}{measure} {_money(change)} ({tag})"
            verb = "增长" if change > 0 else "下降"
            return f"{prefix}{measure} {verb} {nf.value(abs(change), 'money')}（{tag}）"
        head = _headline(nf, lang, measure, before, change)
        shown = [(k, values[k]) for k in parts if values[k] != 0]
        shown.sort(key=lambda kv: -abs(kv[1]))  # stable: ties keep the identity's order
        if not shown:
            return prefix + head
        labels = dict(_PART_LABELS[lang])
        if self.basis == "orders":
            labels.update(_ORDER_LABELS[lang])
        if self.by != "channel_id":
            labels["channel_mix"] = _GENERIC_MIX[lang]
        if lang == "en":
            return prefix + head + ": " + ", ".join(f"{labels[k]} {_money(v)}" for k, v in shown)
        return prefix + head + "：" + "，".join(f"{labels[k]} {_money(v)}" for k, v in shown)


_ORDER_LABELS = {
    "en": {"visitors": "paid orders", "channel_mix": "order mix"},
    "zh": {"visitors": "支付订单数", "channel_mix": "订单结构"},
}


def orders_basis(before: pd.DataFrame, after: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Without traffic data (no visitors in either period, but paid orders), the frames with visitors
    replaced by paid orders: the identity becomes GMV = orders x AOV (conversion rate 1, no effect);
    None when there is traffic data or no orders."""
    visitors = pd.to_numeric(pd.concat([before["visitors"], after["visitors"]]), errors="coerce").fillna(0)
    orders = pd.to_numeric(pd.concat([before["paid_orders"], after["paid_orders"]]), errors="coerce").fillna(0)
    if visitors.sum() != 0 or orders.sum() == 0:
        return None
    return before.assign(visitors=before["paid_orders"]), after.assign(visitors=after["paid_orders"])


def gmv_change_by_factor(
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    by: str | None = "channel_id",
    measure: str = "gmv",
    currency: str | None = None,
) -> Decomposition:
    """Split the change of GMV (or net sales) between two periods into visitors, conversion rate and AOV effects.

    before, after: aggregates of the two periods, one row per member of ``by`` (rows with the same key are summed,
    as every input column is additive; with ``by=None`` all rows are summed into one). Columns: ``visitors``
    (count), ``paid_orders`` (count), ``gmv`` (money, base currency) and, for ``measure="net_sales"``, ``refunds``
    (money). Values may be int, float or Decimal; missing values (NaN/None) count as 0; negative or infinite
    values raise ValueError. A member present in only one frame has zeros in the other.

    measure: ``"gmv"`` (V = visitors × conversion_rate × aov) or ``"net_sales"`` (V = gmv − refunds, with the 4th
    factor keep_rate = 1 − refunds / gmv).

    Per member, LMDI-I: contribution of factor x = L(V1, V0) · ln(x1 / x0). In total, the same weights with the
    visitors factor split into total visitors and share (s_c = visitors_c / Σ visitors):
    Σ_c L(V1c, V0c) · [ln(Vt1/Vt0) + ln(s1c/s0c) + ln(cr1c/cr0c) + ln(aov1c/aov0c) (+ ln(keep1c/keep0c))].

    Zeros, where the logarithm is undefined, are handled explicitly and exactly (no small-δ substitution):

    - a member whose measure is 0 in one period and not the other (a channel that started or stopped, a period
      with no visitors, no paid orders or no sales) puts its whole change into ``new_or_lost`` (status ``new`` or
      ``lost``); these members are left out of the totals' visitors/share/rate effects, so ``visitors`` and
      ``channel_mix`` in the total are about the members present in both periods (Vt sums their visitors);
    - a member whose measure is non-zero in both periods but has a factor that is not positive in one of them
      (GMV recorded without visitors, e.g. an offline channel without traffic data; GMV without paid orders; net
      sales ≤ 0 because refunds exceed GMV) puts its whole change into ``undecomposed`` (status ``undecomposed``);
    - a member with measure 0 in both periods has change 0 and all parts 0 (status ``zero``).

    Returns a :class:`Decomposition`; its parts add up to the change per member and in total (see there for the
    rounding to cents). Never returns NaN or infinity.
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, not {measure!r}")
    columns = INPUT_COLUMNS[measure]
    b = _prepare(before, by, columns, "before")
    a = _prepare(after, by, columns, "after")
    keys = b.index.append(a.index).unique()
    b = b.reindex(keys, fill_value=0.0)
    a = a.reindex(keys, fill_value=0.0)

    v0, o0, g0 = (b[c].to_numpy(dtype=float) for c in ("visitors", "paid_orders", "gmv"))
    v1, o1, g1 = (a[c].to_numpy(dtype=float) for c in ("visitors", "paid_orders", "gmv"))
    if measure == "net_sales":
        m0 = g0 - b["refunds"].to_numpy(dtype=float)
        m1 = g1 - a["refunds"].to_numpy(dtype=float)
    else:
        m0, m1 = g0, g1
    change = m1 - m0

    positive = (v0 > 0) & (o0 > 0) & (g0 > 0) & (m0 > 0) & (v1 > 0) & (o1 > 0) & (g1 > 0) & (m1 > 0)
    new = ~positive & (m0 == 0) & (m1 != 0)
    lost = ~positive & (m0 != 0) & (m1 == 0)
    zero = ~positive & (m0 == 0) & (m1 == 0)
    undecomposed = ~positive & ~new & ~lost & ~zero

    # Log-ratios of the factors, only where all are positive (1.0 elsewhere keeps the logs finite and unused).
    def safe(x: np.ndarray) -> np.ndarray:
        return np.where(positive, x, 1.0)

    ln_v = np.log(safe(v1) / safe(v0))
    ln_o = np.log(safe(o1) / safe(o0))
    ln_g = np.log(safe(g1) / safe(g0))
    logs = [ln_v, ln_o - ln_v, ln_g - ln_o]  # visitors, conversion_rate = o/v, aov = g/o
    if measure == "net_sales":
        ln_m = np.log(safe(m1) / safe(m0))
        logs.append(ln_m - ln_g)  # keep_rate = m/g
    weight = np.where(positive, _log_mean(safe(m1), safe(m0)), 0.0)

    factors = FACTORS[measure]
    member_parts = (*factors, NEW_OR_LOST, UNDECOMPOSED)
    parts = np.column_stack(
        [weight * ln for ln in logs] + [np.where(new | lost, change, 0.0)] + [np.where(undecomposed, change, 0.0)]
    )
    parts = _close(parts, change)

    # Total: the visitors factor split into total visitors of the decomposed members and their share.
    ln_vt = math.log(float(v1[positive].sum()) / float(v0[positive].sum())) if positive.any() else 0.0
    visitors_total = float(np.sum(weight * np.where(positive, ln_vt, 0.0)))
    mix_total = float(np.sum(weight * np.where(positive, ln_v - ln_vt, 0.0)))
    total_change = float(m1.sum() - m0.sum())
    total_names = ("visitors", "channel_mix", *factors[1:], NEW_OR_LOST, UNDECOMPOSED)
    total_vec = np.array([visitors_total, mix_total, *parts[:, 1:].sum(axis=0)])
    total_vec = _close(total_vec[None, :], np.array([total_change]))[0]

    # Unrounded results.
    status = np.select([positive, new, lost, undecomposed], ["decomposed", "new", "lost", "undecomposed"], "zero")
    head: dict[str, Any] = {} if by is None else {by: keys.to_numpy()}
    head["status"] = status
    raw = pd.DataFrame(
        {
            **head,
            "value_before": m0,
            "value_after": m1,
            "change": change,
            **{name: parts[:, j] for j, name in enumerate(member_parts)},
        }
    )
    raw_total = {"value_before": float(m0.sum()), "value_after": float(m1.sum()), "change": total_change}
    raw_total.update({name: float(x) for name, x in zip(total_names, total_vec, strict=True)})

    # Rounded to cents, adding up exactly.
    cents_before = np.array([_cents(x) for x in m0], dtype=np.int64)
    cents_after = np.array([_cents(x) for x in m1], dtype=np.int64)
    cents_parts = np.array(
        [_round_parts(list(parts[i]), int(cents_after[i] - cents_before[i])) for i in range(len(keys))],
        dtype=np.int64,
    ).reshape(len(keys), len(member_parts))
    rounded = pd.DataFrame(
        {
            **head,
            "value_before": cents_before / 100,
            "value_after": cents_after / 100,
            "change": (cents_after - cents_before) / 100,
            **{name: cents_parts[:, j] / 100 for j, name in enumerate(member_parts)},
        }
    )

    column_cents = [int(x) for x in cents_parts.sum(axis=0)]
    visitors_and_mix = _round_parts([visitors_total, mix_total], column_cents[0])
    total_cents = {
        "value_before": int(cents_before.sum()),
        "value_after": int(cents_after.sum()),
        "change": int(cents_after.sum() - cents_before.sum()),
        "visitors": visitors_and_mix[0],
        "channel_mix": visitors_and_mix[1],
    }
    total_cents.update({name: column_cents[j] for j, name in enumerate(member_parts) if j > 0})
    total = {name: total_cents[name] / 100 for name in ("value_before", "value_after", "change", *total_names)}

    return Decomposition(
        measure=measure,
        by=by,
        by_member=rounded,
        total=total,
        unrounded_by_member=raw,
        unrounded_total=raw_total,
        currency=currency,
    )


def _prepare(frame: pd.DataFrame, by: str | None, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    """The frame's additive columns as float64, summed per key (one row if ``by`` is None); index = key."""
    needed = [*columns] if by is None else [by, *columns]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; needs {needed}")
    data: dict[str, np.ndarray] = {}
    for column in columns:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
        values = np.where(np.isnan(values), 0.0, values)
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"{name}.{column} must be finite and not negative")
        data[column] = values
    if by is None:
        return pd.DataFrame({c: [float(data[c].sum())] for c in columns})
    summed = pd.DataFrame(data).groupby(frame[by].to_numpy(), sort=False, dropna=False).sum()
    summed.index.name = by
    return summed


def _log_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logarithmic mean L(a, b) = (a − b) / ln(a / b), L(a, a) = a, for positive a, b (accurate near a = b)."""
    d = a - b
    ln = np.log1p(d / b)
    same = ln == 0
    return np.where(same, a, d / np.where(same, 1.0, ln))


def _close(parts: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Put each row's float residual (change − Σ parts, about 1e-15 relative) on its largest part."""
    parts = parts.copy()
    if parts.size == 0:
        return parts
    residual = change - parts.sum(axis=1)
    largest = np.argmax(np.abs(parts), axis=1)
    parts[np.arange(len(parts)), largest] += residual
    return parts


def _cents(x: Any) -> int:
    """Money to whole cents, half away from zero, from the shortest decimal form of the float."""
    return int(Decimal(str(float(x))).quantize(_CENT, rounding=ROUND_HALF_UP).scaleb(2))


def _round_parts(parts: list[float], target: int) -> list[int]:
    """Round parts to cents so they add up to ``target`` cents; the remainder goes to the largest part."""
    cents = [_cents(p) for p in parts]
    remainder = target - sum(cents)
    if remainder and cents:
        largest = max(range(len(parts)), key=lambda j: abs(parts[j]))
        cents[largest] += remainder
    return cents


def _language(locale: str) -> str:
    lang = locale.lower().split("-")[0].split("_")[0]
    if lang not in _PART_LABELS:
        raise ValueError(f"locale must be zh-CN or en, not {locale!r}")
    return lang


def _signed(nf: NumberFormat, x: float) -> str:
    """An amount with its sign and the currency's symbol (``channelscope.numbers``): +¥1,234.56, -¥12.00, ¥0.00."""
    text = nf.value(x, "money")
    return f"+{text}" if round(x, 2) > 0 else text


def _headline(nf: NumberFormat, lang: str, measure: str, before: float, change: float) -> str:
    """``GMV +12.3% (+¥45,600.00)`` / ``GMV 增长 12.3%（+¥45,600.00）``; without a percentage when before is 0."""
    zero = nf.value(0, "money")
    if change == 0:
        return f"{measure} unchanged ({zero})" if lang == "en" else f"{measure} 持平（{zero}）"
    if before == 0:
        if lang == "en":
            return f"{measure} {_signed(nf, change)} (from 0)"
        return f"{measure} {'增长' if change > 0 else '下降'} {nf.value(abs(change), 'money')}（上期为 0）"
    pct = change / abs(before) * 100
    if lang == "en":
        return f"{measure} {pct:+.1f}% ({_signed(nf, change)})"
    return f"{measure} {'增长' if change > 0 else '下降'} {abs(pct):.1f}%（{_signed(nf, change)}）"
