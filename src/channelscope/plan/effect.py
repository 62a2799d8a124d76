"""The measured effect of an action: difference-in-differences against comparable untreated units.

Inputs are daily aggregates computed in the engine (the treated unit's metric and the same metric over the
untreated units, per day); this module only does small-n statistics on them (a few hundred numbers).

The counterfactual of a treated day is the controls' value that day times the treated/control ratio of the
pre-period on the same weekday (ratios of sums, so days with no order do not break it). The effect is
``sum(actual) / sum(counterfactual) - 1`` over the action's window.

Its interval: a day's sum of orders is noisier the larger it is, with a variance proportional to its mean
(many orders of random value), so the pre-period's residuals (actual minus counterfactual) give a dispersion
per unit of expected value, inflated by their lag-1 autocorrelation. The window's noise is that dispersion at
the level each candidate effect implies, not at the observed level: a halved channel sums fewer orders and is
relatively noisier than before (judging the observed sum with the counterfactual's noise, as an earlier
version did, made a planted -50% drop look like [-79%, -55%]). The estimation error of the weekday ratios is
added, and a t quantile with the pre-period's degrees of freedom makes it a 95% (Fieller-type) interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

#: the shortest pre-period (days with data) a check accepts
MIN_PRE_DAYS = 28
#: with this many pre days or more, ratios are estimated per weekday (every weekday has 8)
WEEKDAY_PRE_DAYS = 56


@dataclass
class Effect:
    """A measured effect: relative change (0.25 = +25%) with a 95% interval, or the reason there is none."""

    effect: float | None
    lower: float | None
    upper: float | None
    reason: str | None = None
    actual: float | None = None
    counterfactual: float | None = None
    pre_days: int = 0
    post_days: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def measurable(self) -> bool:
        return self.effect is not None


def did_effect(daily: pd.DataFrame, start: Any, end: Any, *, level: float = 0.95) -> Effect:
    """The effect on ``treated`` against ``control`` over the days ``start``..``end``.

    ``daily``: one row per day (``date``, ``treated``, ``control``), the pre-period before ``start``. A day
    where either value is missing is left out; the controls must be positive on every day used."""
    d = daily.copy()
    d["date"] = pd.to_datetime(d["date"])
    d = d.dropna(subset=["treated", "control"])
    d = d[d["control"] > 0]
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    pre = d[d["date"] < s]
    post = d[(d["date"] >= s) & (d["date"] <= e)]
    if len(pre) < MIN_PRE_DAYS:
        return Effect(None, None, None, reason="too_little_history", pre_days=len(pre), post_days=len(post))
    if post.empty:
        return Effect(None, None, None, reason="no_data_in_window", pre_days=len(pre))
    if float(pre["treated"].sum()) <= 0:
        return Effect(None, None, None, reason="no_activity_before", pre_days=len(pre), post_days=len(post))
    by_weekday = len(pre) >= WEEKDAY_PRE_DAYS
    key_pre = pre["date"].dt.weekday if by_weekday else pd.Series(0, index=pre.index)
    key_post = post["date"].dt.weekday if by_weekday else pd.Series(0, index=post.index)
    sums = pre.groupby(key_pre)[["treated", "control"]].sum()
    ratio = sums["treated"] / sums["control"]
    if key_post.map(ratio).isna().any():
        return Effect(None, None, None, reason="too_little_history", pre_days=len(pre), post_days=len(post))
    cf_pre = pre["control"].to_numpy() * key_pre.map(ratio).to_numpy()
    resid = pre["treated"].to_numpy() - cf_pre
    k = len(ratio)
    dof = max(len(pre) - k, 1)
    # the day-to-day noise of a sum of orders grows with its level (variance proportional to the mean, as
    # for counts of orders of random value): the dispersion per unit of the expected value, from the pre-period
    live = cf_pre > 0
    pearson = resid[live] / np.sqrt(cf_pre[live])
    phi = float((pearson**2).sum()) / max(int(live.sum()) - k, 1)
    rho = float(np.corrcoef(pearson[:-1], pearson[1:])[0, 1]) if len(pearson) > 2 and pearson.std() > 0 else 0.0
    rho = min(max(rho, 0.0), 0.9) if math.isfinite(rho) else 0.0
    cf_post = post["control"].to_numpy() * key_post.map(ratio).to_numpy()
    actual, counterfactual = float(post["treated"].sum()), float(cf_post.sum())
    n = len(post)
    inflate = (1 + rho) / (1 - rho) if n > 1 else 1.0
    # the estimation error of each weekday ratio, times the controls it multiplies in the window
    c_post = pd.Series(post["control"].to_numpy(), index=key_post.to_numpy()).groupby(level=0).sum()
    var_cf = 0.0
    for w, c_w in c_post.items():
        in_w = (key_pre == w).to_numpy()
        var_cf += float(c_w) ** 2 * float((resid[in_w] ** 2).sum()) / float(pre["control"][in_w].sum()) ** 2
    q = float(stats.t.ppf(0.5 + level / 2, dof))
    lower, upper = _ratio_interval(actual, counterfactual, phi * inflate, var_cf, q)
    evidence = {
        "method": "difference_in_differences",
        "interval": "quasi_poisson_fieller",
        "ratio_by_weekday": by_weekday,
        "pre_days": len(pre),
        "post_days": n,
        "pre_start": pre["date"].min().date().isoformat(),
        "pre_end": pre["date"].max().date().isoformat(),
        "dispersion": round(phi, 4),
        "autocorrelation": round(rho, 3),
        "level": level,
    }
    return Effect(actual / counterfactual - 1, lower, upper, None, actual, counterfactual, len(pre), n, evidence)


def _ratio_interval(actual: float, cf: float, phi: float, var_cf: float, q: float) -> tuple[float, float | None]:
    """The interval of the effect ``x - 1`` where ``actual`` ~ ``cf * x``: every ``x`` with
    ``(actual - cf x)^2 <= q^2 (phi cf x + x^2 var_cf)``, the window's noise at the level ``cf x`` (variance
    ``phi`` times the mean) plus the counterfactual's own estimation error. Solving at each candidate level,
    not at the observed one, keeps the interval right for a large drop (a noisy small sum) and for a sum of
    zero; an unbounded upper end (the counterfactual itself too uncertain) is None."""
    a = cf * cf - q * q * var_cf
    b = 2 * actual * cf + q * q * phi * cf
    c = actual * actual
    if a <= 0:
        lo = c / b if b > 0 else 0.0
        return lo - 1, None
    disc = max(b * b - 4 * a * c, 0.0)
    root = math.sqrt(disc)
    lo = (b - root) / (2 * a)
    hi = (b + root) / (2 * a)
    return max(lo, 0.0) - 1, hi - 1


def verdict(effect: Effect, expected_change: float | None) -> str:
    """worked (the interval excludes no change and lies on the expected side), worse (it lies on the other
    side), no_effect (it holds no change), not_measurable (no effect could be measured). An interval without
    an upper end (None: unbounded) lies above no change only if its lower end does."""
    if not effect.measurable or effect.lower is None:
        return "not_measurable"
    if effect.lower <= 0 and (effect.upper is None or effect.upper >= 0):
        return "no_effect"
    up = effect.lower > 0
    wanted_up = expected_change is None or expected_change >= 0
    return "worked" if up == wanted_up else "worse"
