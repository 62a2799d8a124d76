"""Forecasting models over many daily (or weekly) series at once.

Every model takes ``Y`` (history: rows = periods, columns = series, non-negative floats), the
history's period index and the future's, and returns a ``ModelForecast``: the point forecast
(the mean) and the quantiles of each future period, arrays of shape (horizon, n_series).

* ``seasonal_naive``: the value one season earlier (7 days, or 52 weeks for weekly series when the
  history allows, else 1): the benchmark. Quantiles: the in-sample seasonal differences' quantiles,
  widened by sqrt(seasons ahead).
* ``calendar_regression``: least squares on ``log1p(y)`` of intercept, linear trend, day of week,
  the commerce calendar's festival phases, statutory holidays and 调休 make-up days (and yearly
  Fourier terms once two years of history exist), with a small ridge penalty so a phase seen once
  is learned but not over-fitted. One design matrix serves every series (one ``lstsq`` for all), so
  10,000 series fit in a second. The mean is back-transformed with Duan's smearing; the quantiles
  are the prediction plus the in-sample residuals' quantiles (on the log scale).
* ``auto_ets``, ``auto_arima``, ``auto_theta`` and ``mstl`` (statsforecast's AutoETS, AutoARIMA,
  AutoTheta and MSTL with an AutoETS trend; weekly season for daily series, plus a yearly one for MSTL
  once three years of history exist), on ``log1p(y)``: fitted series by series (statsforecast's
  compiled code), so only used up to ``PER_SERIES_LIMIT`` series. Their 80% and 95% intervals are
  statsforecast's, back-transformed (quantiles survive a monotone transform); the mean is the
  log-normal mean ``expm1(mu + s^2/2)`` with ``s`` read off the 95% interval.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: quantile levels every model returns (80% and 95% intervals and the median)
LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)
#: series fitted one by one (the statsforecast models) only up to this many series
PER_SERIES_LIMIT = 300
#: ridge penalty (in days of data) on the calendar and weekday coefficients
RIDGE = 0.3
#: iterations of Huber reweighting of the calendar regression, and its threshold (robust sds)
ROBUST_STEPS = 2
#: observations lose half their weight every HALF_LIFE days (0: all weigh the same)
HALF_LIFE = 120.0
HUBER = 2.0


@dataclass
class ModelForecast:
    """Point forecast (the mean) and quantiles (LEVELS) per future period and series."""

    model: str
    mean: np.ndarray  # (h, n)
    quantiles: dict[float, np.ndarray]  # level -> (h, n)


def season_of(index: pd.DatetimeIndex, n: int) -> int:
    """7 for daily series, 52 for weekly ones with two years of history (else 1)."""
    step = (index[1] - index[0]).days if len(index) > 1 else 1
    if step >= 7:
        return 52 if n >= 104 else 1
    return 7


def seasonal_naive(y: np.ndarray, index: pd.DatetimeIndex, future: pd.DatetimeIndex) -> ModelForecast:
    """The value one season back, repeated; quantiles from the seasonal differences."""
    t, n = y.shape
    m = min(season_of(index, t), max(t - 1, 1))
    h = len(future)
    last = y[t - m :]
    reps = math.ceil(h / m)
    mean = np.tile(last, (reps, 1))[:h]
    diffs = y[m:] - y[:-m] if t > m else np.zeros((1, n))
    steps = (np.arange(h) // m + 1)[:, None].astype(float)
    quantiles = {}
    for q in LEVELS:
        qq = np.quantile(diffs, q, axis=0)[None, :]
        quantiles[q] = np.clip(mean + qq * np.sqrt(steps), 0, None)
    quantiles[0.5] = mean.copy()
    return ModelForecast("seasonal_naive", mean, quantiles)


def _design(
    index: pd.DatetimeIndex, origin: pd.Timestamp, features: pd.DataFrame | None, yearly: bool, daily: bool
) -> np.ndarray:
    t = ((index - origin).days / 365.25).to_numpy(dtype=float)
    cols = [np.ones(len(index)), t]
    if daily:
        dow = index.dayofweek.to_numpy()
        cols += [(dow == d).astype(float) for d in range(1, 7)]
    if yearly:
        doy = 2 * np.pi * index.dayofyear.to_numpy(dtype=float) / 365.25
        for k in (1, 2, 3):
            cols += [np.sin(k * doy), np.cos(k * doy)]
    if features is not None and features.shape[1]:
        cols += [features[c].to_numpy(dtype=float) for c in features.columns]
    return np.column_stack(cols)


def calendar_regression(
    y: np.ndarray,
    index: pd.DatetimeIndex,
    future: pd.DatetimeIndex,
    features: pd.DataFrame | None = None,
) -> ModelForecast:
    """Log-linear regression on trend, weekday and the commerce calendar (``features``: 0/1 columns
    indexed by history + future periods)."""
    daily = season_of(index, len(index)) == 7
    yearly = (index[-1] - index[0]).days >= 730
    feats_hist = feats_fut = None
    if features is not None and features.shape[1]:
        f = features.reindex(index.append(future)).fillna(0.0)
        seen = f.loc[index].to_numpy().sum(axis=0) > 0
        f = f.loc[:, seen]
        feats_hist, feats_fut = f.loc[index], f.loc[future]
    origin = index[0]
    x = _design(index, origin, feats_hist, yearly, daily)
    xf = _design(future, origin, feats_fut, yearly, daily)
    z = np.log1p(np.clip(y, 0, None))
    span = (index[-1] - index).days.to_numpy(dtype=float)
    recency = 0.5 ** (span / HALF_LIFE) if HALF_LIFE else np.ones(len(index))
    # the ridge is RIDGE days of data on each coefficient, in the weight those days carry: a festival
    # phase seen only last year (each of its days weighing 0.5 ** (365 / HALF_LIFE)) is shrunk as much
    # as one seen last month, not halved because it lies a year back
    active = np.abs(x) > 0
    seen_weight = (recency[:, None] * active).sum(axis=0) / np.maximum(active.sum(axis=0), 1)
    penalty = RIDGE * np.where(active.any(axis=0), seen_weight, 1.0)
    penalty[:2] = 1e-6  # intercept and trend are not shrunk
    a = (x * recency[:, None]).T @ x + np.diag(penalty)
    beta = np.linalg.solve(a, (x * recency[:, None]).T @ z)  # (p, n)
    resid = z - x @ beta
    for _ in range(ROBUST_STEPS):  # Huber weights, all series at once: past shocks barely move the fit
        scale = 1.4826 * np.median(np.abs(resid - np.median(resid, axis=0)), axis=0) + 1e-9
        w = recency[:, None] * np.minimum(1.0, HUBER * scale / (np.abs(resid) + 1e-12))  # (t, n)
        outer = (x[:, :, None] * x[:, None, :]).reshape(len(x), -1)  # (t, p*p)
        aw = (w.T @ outer).reshape(-1, x.shape[1], x.shape[1]) + np.diag(penalty)[None]
        bw = (w * z).T @ x
        beta = np.linalg.solve(aw, bw[..., None])[..., 0].T
        resid = z - x @ beta
    mu = xf @ beta
    smear = np.exp(resid).mean(axis=0)[None, :]
    mean = np.clip(np.exp(mu) * smear - 1.0, 0, None)
    # prediction variance grows with the distance from the fit (parameter uncertainty of the trend)
    lever = np.einsum("ij,jk,ik->i", xf, np.linalg.inv(a), xf)[:, None]
    widen = np.sqrt(1.0 + lever)
    quantiles = {}
    for q in LEVELS:
        rq = np.quantile(resid, q, axis=0)[None, :]
        quantiles[q] = np.clip(np.expm1(mu + rq * widen), 0, None)
    return ModelForecast("calendar_regression", mean, quantiles)


#: statsforecast models by name, and the alias statsforecast names their columns with
STATSFORECAST = {"auto_ets": "AutoETS", "auto_arima": "AutoARIMA", "auto_theta": "AutoTheta", "mstl": "MSTL"}


def _sf_model(kind: str, m: int, t: int) -> Any:
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta

    if kind == "auto_ets":
        return AutoETS(season_length=m)
    if kind == "auto_arima":
        return AutoARIMA(season_length=m)
    if kind == "auto_theta":
        return AutoTheta(season_length=m)
    seasons = [m, 365] if m == 7 and t >= 3 * 365 else [m]
    return MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"))


def statsforecast_model(kind: str, y: np.ndarray, index: pd.DatetimeIndex, future: pd.DatetimeIndex) -> ModelForecast:
    """One of statsforecast's models (``STATSFORECAST``) on ``log1p(y)`` of every series."""
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    t, n = y.shape
    h = len(future)
    m = season_of(index, t)
    if m > 1 and t < 2 * m + 2:
        m = 1
    z = np.log1p(np.clip(y, 0, None))
    frame = pd.DataFrame(
        {"unique_id": np.repeat(np.arange(n), t), "ds": np.tile(np.arange(t), n), "y": z.T.reshape(-1)}
    )
    sf = StatsForecast(models=[_sf_model(kind, m, t)], freq=1, n_jobs=1, fallback_model=SeasonalNaive(m))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = sf.forecast(h=h, df=frame, level=[80, 95])
    out = out.sort_values(["unique_id", "ds"])
    alias = STATSFORECAST[kind]

    def grid(col: str) -> np.ndarray:
        return out[col].to_numpy(dtype=float).reshape(n, h).T

    mu = grid(alias)
    lo95, lo80, hi80, hi95 = (grid(f"{alias}-{b}") for b in ("lo-95", "lo-80", "hi-80", "hi-95"))
    sd = np.clip((hi95 - lo95) / (2 * 1.959963984540054), 0, None)
    mean = np.clip(np.expm1(mu + sd**2 / 2), 0, None)
    bands = {0.025: lo95, 0.1: lo80, 0.5: mu, 0.9: hi80, 0.975: hi95}
    quantiles = {q: np.clip(np.expm1(bands[q]), 0, None) for q in LEVELS}
    return ModelForecast(kind, mean, quantiles)


MODELS = ("seasonal_naive", "calendar_regression", *STATSFORECAST)


def run_model(
    name: str,
    y: np.ndarray,
    index: pd.DatetimeIndex,
    future: pd.DatetimeIndex,
    features: pd.DataFrame | None = None,
) -> ModelForecast:
    """Fit model ``name`` on the history and forecast ``future``."""
    if name == "seasonal_naive":
        return seasonal_naive(y, index, future)
    if name == "calendar_regression":
        return calendar_regression(y, index, future, features)
    if name in STATSFORECAST:
        return statsforecast_model(name, y, index, future)
    raise ValueError(f"unknown model '{name}'; valid: {', '.join(MODELS)}")
