"""Carry-over (adstock) and saturation (Hill) of ad spend: the transforms of the media mix model
(and of the media scenario that tests it)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter


def geometric_adstock(x: np.ndarray, decay: float) -> np.ndarray:
    """y_t = x_t + decay * y_(t-1) (yuan of adstocked spend)."""
    return np.asarray(lfilter([1.0], [1.0, -decay], x, axis=0))


def weibull_adstock(x: np.ndarray, shape: float, scale: float, max_lag: int = 21) -> np.ndarray:
    """Carry-over with a Weibull-shaped lag kernel (pdf at lags 0..max_lag-1, scale in days), normalized
    to sum 1 (Robyn's weibull_pdf): a spend's effect can peak days later."""
    lags = np.arange(max_lag, dtype=float) + 0.5
    k = (shape / scale) * (lags / scale) ** (shape - 1) * np.exp(-((lags / scale) ** shape))
    k = k / k.sum()
    return np.convolve(x, k)[: len(x)]


def hill(x: np.ndarray, half_sat: float, shape: float) -> np.ndarray:
    """x^s / (k^s + x^s): 0 at no spend, 1/2 at the half-saturation point k, towards 1 beyond."""
    xs = np.power(np.maximum(x, 0.0), shape)
    return xs / (half_sat**shape + xs)
