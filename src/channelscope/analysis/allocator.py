"""Budget allocator: the split of ad spend across platforms that maximises incremental GMV (or
contribution margin) under the fitted media mix model.

A recommendation scales each platform's historical daily spend pattern by a factor (so flights and
festival pushes keep their timing); the model's response of the period gives the expected outcome.
Constraints: the total (default: today's total, "keep the total, reallocate"), per-platform minimum
and maximum spend (yuan over the period), fixed platforms, and at most ``max_scale`` x today's spend
(the model has not seen spend far beyond history). Solved with scipy.optimize (SLSQP).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from channelscope.analysis.media_mix import Z95, MediaMixFit
from channelscope.errors import QueryError

OBJECTIVES = ("gmv", "margin")


@dataclass(frozen=True)
class Allocation:
    """``platforms``: platform, current_spend, recommended_spend, scale, current_contribution,
    expected_contribution (yuan over the period); ``expected_gain`` with its 95% interval (yuan of GMV,
    or of margin for objective='margin'); ``split``: platform -> scale of today's spend."""

    platforms: pd.DataFrame
    total: float
    objective: str
    expected_gain: float
    gain_low: float
    gain_high: float
    split: dict[str, float]


def allocate(
    fit: MediaMixFit,
    *,
    total: float | None = None,
    minimum: Mapping[str, float] | None = None,
    maximum: Mapping[str, float] | None = None,
    fixed: Sequence[str] = (),
    objective: str = "gmv",
    margin_rate: float | None = None,
    max_scale: float = 2.0,
) -> Allocation:
    """The recommended split of ``total`` yuan (over the model's period) across the fitted platforms."""
    if objective not in OBJECTIVES:
        raise QueryError(f"objective must be one of {', '.join(OBJECTIVES)} (got {objective!r})")
    if objective == "margin" and margin_rate is None:
        raise QueryError("objective 'margin' needs margin_rate (contribution margin per yuan of GMV, before ads)")
    names = list(fit.spend.columns)
    unknown = (set(minimum or {}) | set(maximum or {}) | set(fixed)) - set(names)
    if unknown:
        raise QueryError(f"unknown platform(s): {', '.join(sorted(unknown))}; the model has {', '.join(names)}")
    current = fit.spend.sum().to_numpy(dtype=float)
    total = float(current.sum()) if total is None else float(total)
    lo = np.array([(minimum or {}).get(p, 0.0) / current[i] if current[i] > 0 else 0 for i, p in enumerate(names)])
    hi = np.array([(maximum or {}).get(p, max_scale * current[i]) / current[i] for i, p in enumerate(names)])
    hi = np.minimum(hi, max_scale)
    for p in fixed:
        i = names.index(p)
        lo[i] = hi[i] = 1.0
    if (lo > hi + 1e-12).any():
        bad = [names[i] for i in np.flatnonzero(lo > hi + 1e-12)]
        raise QueryError(f"minimum above maximum for {', '.join(bad)}")
    if not (lo @ current - 1e-6 <= total <= hi @ current + 1e-6):
        raise QueryError(
            f"a total of {total:,.2f} yuan is outside what the limits allow "
            f"({lo @ current:,.2f} .. {hi @ current:,.2f})"
        )
    k = fit.controls.shape[1]
    betas = fit.beta[k:]
    hist = fit.spend.to_numpy(dtype=float)

    def feature_sums(r: np.ndarray) -> np.ndarray:
        return np.array([fit.transform(p, hist[:, i] * r[i]).sum() for i, p in enumerate(names)])

    def value(r: np.ndarray) -> float:
        gmv = float(betas @ feature_sums(r))
        return gmv * margin_rate - float(r @ current) if objective == "margin" else gmv  # type: ignore[operator]

    x0 = np.clip(np.full(len(names), total / current.sum()), lo, hi)
    res = minimize(
        lambda r: -value(r) / max(total, 1.0),
        x0,
        method="SLSQP",
        bounds=list(zip(lo, hi, strict=True)),
        constraints=[{"type": "eq", "fun": lambda r: (r @ current - total) / max(total, 1.0)}],
        options={"maxiter": 300, "ftol": 1e-12},
    )
    r = np.clip(res.x, lo, hi)
    now, new = feature_sums(np.ones(len(names))), feature_sums(r)
    g = new - now
    cov = fit.cov[k:, k:]
    gain = float(betas @ g)
    sd = float(np.sqrt(max(g @ cov @ g, 0.0)))
    if objective == "margin":
        gain, sd = gain * margin_rate - float((r - 1) @ current), sd * margin_rate  # type: ignore[operator]
    table = pd.DataFrame(
        {
            "platform": names,
            "current_spend": current,
            "recommended_spend": r * current,
            "scale": r,
            "current_contribution": betas * now,
            "expected_contribution": betas * new,
        }
    )
    split = {p: float(r[i]) for i, p in enumerate(names)}
    return Allocation(table, total, objective, gain, gain - Z95 * sd, gain + Z95 * sd, split)
