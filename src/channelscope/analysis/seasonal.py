"""Seasonal anomaly detection on daily KPI series: flag a day outside the prediction interval of a robust model.

The model of one series, on the log scale ``z = log(y + c)`` (``c`` = half the series' median, so a
zero is a big drop but a quiet day of a small channel is not), is a robust regression (statsmodels
RLM, Huber weights, so past anomalies barely move it) of

    z_t = local trend + day of week + planned events (window, main day, hangover) + drivers + [yearly] + e_t

* the local trend is piecewise linear with a knot every 4 weeks back from the fit's last day, and is
  held flat beyond it;
* planned events (festivals, promotions, live sessions: ``planned_events``) recur by key, so last
  year's 双11 tells what this year's 双11 does; an event never seen before widens the interval by the
  largest event effect the series has shown (a first occurrence cannot be measured in advance);
* drivers (e.g. ``ad_spend``) enter as ``sqrt(x / median x)``, diminishing returns, so traffic that
  falls because ads were paused is expected;
* yearly Fourier terms join once two years of history exist.

Each day is predicted by a model fitted only on the days before it (refitted every ``refit_every``
days), so an anomaly cannot hide itself in its own fit. The interval is the prediction plus or
minus ``sensitivity`` robust standard deviations: the MAD scale of the residuals combined with the
standard error of the prediction. ``score`` is that distance in standard deviations.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.robust.norms import HuberT
from statsmodels.robust.scale import mad

from channelscope.analysis.planned_events import PlannedEvent, planned_events
from channelscope.errors import QueryError

COLUMNS = ("period", "value", "expected", "lower", "upper", "score", "window", "is_anomaly", "direction")
#: days between trend knots, and days of hangover after a multi-day festival window
KNOT_DAYS = 42
HANGOVER_DAYS = 3
#: the interval's widening for an event never seen before is at least this (log scale: x2 either way)
MIN_UNSEEN_ALLOWANCE = math.log(2.0)
#: ridge penalty on event coefficients, in weighted days: only enough to separate overlapping windows
#: seen on the same few days (their split is then uncertain, and the interval says so)
EVENT_RIDGE = 1e-3
#: z = log(y + OFFSET x median): a log scale that does not explode near zero for small counts
OFFSET = 0.5
#: extra standard deviation (log scale) of a day inside a planned event: effects vary between occurrences
EVENT_SD = 0.1
#: a day counts at most CLIP sd in a multi-day window; CLIP_VARIANCE = E[clip(Z, -CLIP, CLIP)^2], Z ~ N(0, 1)
CLIP = 3.0
CLIP_VARIANCE = (
    math.erf(CLIP / math.sqrt(2))
    - 2 * CLIP * math.exp(-(CLIP**2) / 2) / math.sqrt(2 * math.pi)
    + CLIP**2 * math.erfc(CLIP / math.sqrt(2))
)
_CHANNEL_COLUMNS = ("channel", "channel_id")


def detect_anomalies(
    series: pd.DataFrame,
    *,
    value: str,
    by: Sequence[str] | str,
    date: str = "period",
    festivals: Any = None,
    sensitivity: float = 3.0,
    min_history: int = 56,
    evaluate_from: dt.date | str | None = None,
    drivers: Sequence[str] = (),
    refit_every: int = 7,
    windows: Sequence[int] = (1, 3, 7),
) -> pd.DataFrame:
    """Flag the days of each series (one per ``by`` group) that fall outside the model's prediction interval.

    ``series`` holds one row per group and day (``date`` column: day; ``value``: the KPI, e.g. a
    ``Project.kpis(..., grain='day')`` frame). ``festivals``: planned events (see
    ``planned_events``; ``project_events(project)`` gives a project's calendar and campaigns); an
    event with a ``channel_id`` applies only to the group whose ``channel``/``channel_id`` matches.
    ``sensitivity``: the interval's half-width in robust standard deviations (higher = fewer
    alerts; see docs/anomaly-detection.md for what 3, 4 and 5 flag on the demo). ``min_history``:
    days of history needed before a day is judged. ``evaluate_from``: first day to report
    (default: the first day of the series; days with less history come back unjudged).
    ``drivers``: numeric columns of ``series`` that explain the value (e.g. ``ad_spend``).
    ``refit_every``: days between refits. ``windows``: day counts over which a sustained shift is
    also scored (1 = the day alone).

    Returns one row per group and day with a value from ``evaluate_from`` on: the ``by`` columns,
    period (date), value, expected, lower, upper (the day's interval, in the value's units), score
    (signed, in standard deviations beyond the expectation; the strongest of the day and the
    windows ending on it; events never seen before are discounted), window (the days behind the
    score), is_anomaly (abs(score) > sensitivity), direction ('high', 'low' or None). A day with
    too little history has empty expected/lower/upper/score and is not an anomaly.
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by, date, value, *drivers] if c not in series.columns]
    if missing:
        raise QueryError(f"detect_anomalies: the series has no column {', '.join(missing)}")
    if sensitivity <= 0 or min_history < 7 or refit_every < 1:
        raise QueryError("detect_anomalies: sensitivity must be > 0, min_history >= 7 days, refit_every >= 1")
    events = planned_events(festivals)
    start = None if evaluate_from is None else pd.Timestamp(evaluate_from)
    frames = []
    groups = series.groupby(by, sort=True, dropna=False) if by else [((), series)]
    for key, group in groups:
        keys = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        channel = next((str(keys[c]) for c in _CHANNEL_COLUMNS if c in keys), None)
        mine = [e for e in events if e.channel_id is None or channel is None or e.channel_id == channel]
        out = _detect_one(
            group, value, date, mine, sensitivity, min_history, start, list(drivers), refit_every, windows
        )
        for col, v in reversed(keys.items()):
            out.insert(0, col, v)
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=[*by, *COLUMNS])
    return pd.concat(frames, ignore_index=True)


def _detect_one(
    group: pd.DataFrame,
    value: str,
    date: str,
    events: list[PlannedEvent],
    sensitivity: float,
    min_history: int,
    start: pd.Timestamp | None,
    drivers: list[str],
    refit_every: int,
    windows: Sequence[int],
) -> pd.DataFrame:
    frame = group.assign(_day=pd.to_datetime(group[date])).groupby("_day")[[value, *drivers]].sum(min_count=1)
    days = pd.date_range(frame.index.min(), frame.index.max(), freq="D")
    frame = frame.reindex(days)
    y = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=float)
    first_judged = days[0] + pd.Timedelta(days=min_history)
    judged = days >= (first_judged if start is None else max(start, first_judged))
    report = days >= (days[0] if start is None else start)
    out = pd.DataFrame(
        {
            "period": days.date,
            "value": y,
            "expected": np.nan,
            "lower": np.nan,
            "upper": np.nan,
            "score": np.nan,
            "window": np.nan,
        }
    )
    positive = y[np.isfinite(y) & (y > 0)]
    if positive.size and judged.any():
        offset = OFFSET * float(np.median(positive))
        z = np.log(np.where(np.isfinite(y), np.maximum(y, 0.0), np.nan) + offset)
        design, event_cols = _design(days, events, frame[drivers])
        fitted = _predict(z, design, event_cols, np.flatnonzero(judged), min_history, refit_every)
        mu, sd, shared, allowance = fitted
        ok = np.isfinite(mu) & np.isfinite(z)
        dev = np.where(ok, z - mu, np.nan)
        excess = np.sign(dev) * np.maximum(np.abs(dev) - allowance, 0.0)
        out["expected"] = _back(mu, offset)
        out["lower"] = _back(mu - sensitivity * sd - allowance, offset)
        out["upper"] = _back(mu + sensitivity * sd + allowance, offset)
        out["score"], out["window"] = _evidence(excess, sd, shared, windows)
    flagged = out["score"].abs() > sensitivity
    out["is_anomaly"] = flagged.fillna(False).astype(bool)
    direction = pd.Series(np.where(out["score"] > 0, "high", "low"), dtype=object)
    out["direction"] = direction.where(out["is_anomaly"], None)
    return out.loc[report & np.isfinite(y)].reset_index(drop=True)


def _evidence(
    excess: np.ndarray, sd: np.ndarray, se: np.ndarray, windows: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The strongest standardized deviation over the last w days (w in ``windows``), and its w.

    A day's deviation counts at most CLIP standard deviations in a window, so one spike does not
    make the days after it look anomalous; the sum of w days is compared with its standard
    deviation: the independent day-to-day noise adds up in variance, the uncertainty of the fit
    (shared by the days of one window) adds up in standard deviation. A drop of 2 sd a day over 3
    days scores -3.6; over a week, 1.5 sd a day scores -4.
    """
    z = excess / sd
    best, width = z.copy(), np.where(np.isfinite(z), 1.0, np.nan)
    shared = np.clip(se / sd, 0.0, 1.0)
    independent = np.sqrt(1.0 - shared**2)
    for w in sorted(set(windows) - {1}):
        total = pd.Series(np.clip(z, -CLIP, CLIP)).rolling(w, min_periods=w).sum().to_numpy()
        var_indep = CLIP_VARIANCE * pd.Series(independent**2).rolling(w, min_periods=w).sum().to_numpy()
        var_shared = pd.Series(shared).rolling(w, min_periods=w).sum().to_numpy() ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            score = total / np.sqrt(var_indep + var_shared)
        better = np.isfinite(score) & ~(np.abs(best) >= np.abs(score))
        best = np.where(better, score, best)
        width = np.where(better, w, width)
    return best, width


def _back(z: np.ndarray, offset: float) -> np.ndarray:
    """From the log scale back to the value's units (never below zero)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.maximum(np.exp(z) - offset, 0.0)


def _design(
    days: pd.DatetimeIndex, events: list[PlannedEvent], drivers: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """Day-of-week, planned-event and driver columns for every day (the trend is added per fit)."""
    cols: dict[str, np.ndarray] = {"const": np.ones(len(days))}
    dow = np.asarray(days.dayofweek)
    for d in range(1, 7):
        cols[f"dow{d}"] = (dow == d).astype(float)
    event_cols: list[str] = []
    for name, col in _event_columns(days, events).items():
        if col.any() and not any(np.array_equal(col, cols[c]) for c in event_cols):
            cols[name] = col
            event_cols.append(name)
    for name in drivers:
        x = pd.to_numeric(drivers[name], errors="coerce").fillna(0.0).clip(lower=0).to_numpy(dtype=float)
        scale = float(np.median(x[x > 0])) if (x > 0).any() else 1.0
        cols[f"driver:{name}"] = np.sqrt(x / scale)
    return pd.DataFrame(cols, index=days), event_cols


def _event_columns(days: pd.DatetimeIndex, events: list[PlannedEvent]) -> dict[str, np.ndarray]:
    """Per event key: its windows, its main days (a window's last day: 11.11, 6.18) and the hangover after."""
    out: dict[str, np.ndarray] = {}
    by_key: dict[str, list[PlannedEvent]] = {}
    for e in events:
        # a calendar festival and a campaign of the same name are different windows (618 vs 618 presale+618)
        by_key.setdefault(f"{e.kind}:{e.key}", []).append(e)
    for key, occurrences in sorted(by_key.items()):
        window = np.zeros(len(days), dtype=bool)
        main = np.zeros(len(days), dtype=bool)
        after = np.zeros(len(days), dtype=bool)
        for e in occurrences:
            s, t = pd.Timestamp(e.start), pd.Timestamp(e.end)
            window |= np.asarray((days >= s) & (days <= t))
            main |= np.asarray(days == t)
            if e.kind != "live_session" and e.end > e.start:
                after |= np.asarray((days > t) & (days <= t + pd.Timedelta(days=HANGOVER_DAYS)))
        after &= ~window
        out[f"{key}"] = window.astype(float)
        out[f"{key}:main"] = main.astype(float)
        out[f"{key}:after"] = after.astype(float)
    return out


def _predict(
    z: np.ndarray,
    design: pd.DataFrame,
    event_cols: list[str],
    judged: np.ndarray,
    min_history: int,
    refit_every: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-step-ahead predictions: each judged day from a fit on the days before it.

    The model is refitted every ``refit_every`` days, and also on each of the first days of an event
    window not seen before, so that its effect is learned as soon as one day of it has been observed.
    """
    n = len(z)
    mu, sd, shared, allowance = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan), np.zeros(n)
    x_events = design[event_cols].to_numpy(dtype=float) != 0
    names = list(design.columns)
    is_event = np.array([c in event_cols for c in names])
    fixed = design.to_numpy(dtype=float)
    fit: _Fit | None = None
    weights = np.ones(n)
    for day in judged:
        stale = fit is None or day - fit.day >= refit_every
        if fit is not None and not stale:
            # an event active today that the fit had not seen, but which has been observed since
            news = x_events[day] & ~fit.seen_events & x_events[fit.day : day].any(axis=0)
            stale = bool(news.any())
        if stale:
            new = _fit_before(z, fixed, is_event, int(day), min_history, weights)
            fit = new if new is not None else fit
        if fit is None:
            continue
        x = fit.columns(fixed, int(day))
        mu[day] = float(x @ fit.params)
        se2 = max(float(x @ fit.cov @ x), 0.0)
        # a planned event never repeats exactly: its days carry the between-occurrence variation
        sd[day] = math.sqrt(fit.scale**2 + se2 + EVENT_SD**2 * x_events[day].any())
        shared[day] = math.sqrt(se2)
        if (x_events[day] & ~fit.seen_events).any():
            allowance[day] = fit.allowance
    return mu, sd, shared, allowance


class _Fit:
    """A robust fit on the days before ``day``: which columns it kept, and how to predict a later day."""

    def __init__(
        self, day: int, first: int, keep: np.ndarray, seen_events: np.ndarray, yearly: bool, result: tuple
    ) -> None:
        self.day, self.first, self.keep, self.seen_events, self.yearly = day, first, keep, seen_events, yearly
        self.params, self.cov, self.scale, self.allowance = result

    def columns(self, fixed: np.ndarray, day: int) -> np.ndarray:
        return _full_design(fixed, self.day, self.first, self.yearly, np.array([day]))[0, self.keep]


def _full_design(fixed: np.ndarray, b: int, first: int, yearly: bool, rows: np.ndarray) -> np.ndarray:
    """The fixed columns plus the trend (and yearly terms) of a fit that ends the day before ``b``."""
    parts = [fixed[rows], _trend(rows, b, first)]
    if yearly:
        angle = 2 * np.pi * rows / 365.25
        parts.append(np.column_stack([f(k * angle) for k in (1, 2) for f in (np.sin, np.cos)]))
    return np.column_stack(parts)


def _fit_before(
    z: np.ndarray, fixed: np.ndarray, is_event_fixed: np.ndarray, b: int, min_history: int, weights: np.ndarray
) -> _Fit | None:
    train = np.flatnonzero(np.isfinite(z[:b]))
    if train.size < min_history * 0.8:
        return None
    first = int(train[0])
    yearly = b - first >= 730
    x = _full_design(fixed, b, first, yearly, train)
    is_event = np.concatenate([is_event_fixed, np.zeros(x.shape[1] - fixed.shape[1], dtype=bool)])
    seen = np.abs(x).sum(axis=0) > 0
    keep = seen & _independent(x, seen)
    if train.size < int(keep.sum()) + 7:  # too few days to estimate the noise beyond the coefficients
        return None
    # a light ridge on event effects: overlapping windows seen on few days are not separable
    ridge = np.where(is_event[keep], EVENT_RIDGE, 1e-8)
    result = _robust_fit(z[train], x[:, keep], weights[train], ridge)
    if result is None:
        return None
    params, cov, scale, w = result
    weights[train] = w
    learned = np.abs(params[is_event[keep]])
    allowance = max(MIN_UNSEEN_ALLOWANCE, float(learned.max()) if learned.size else 0.0)
    seen_events = seen[: fixed.shape[1]][is_event_fixed]
    return _Fit(b, first, keep, seen_events, yearly, (params, cov, scale, allowance))


def _trend(rows: np.ndarray, b: int, first: int) -> np.ndarray:
    """Linear trend with knots every KNOT_DAYS back from day ``b``, flat from ``b`` on (extrapolation)."""
    t = np.minimum(rows, b - 1).astype(float)
    cols = [t - (b - 1)]
    knot = b - 1 - KNOT_DAYS
    while knot > first + KNOT_DAYS // 2:
        cols.append(np.minimum(t - knot, 0.0))
        knot -= KNOT_DAYS
    return np.column_stack(cols)


def _independent(x: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Drop columns that repeat an earlier one on the training days (a live session that is its own main day)."""
    keep = seen.copy()
    first: dict[bytes, Any] = {}
    for j in np.flatnonzero(seen):
        column = x[:, j].tobytes()
        if column in first:
            keep[j] = False
        else:
            first[column] = j
    return keep


def _robust_fit(
    z: np.ndarray, x: np.ndarray, start: np.ndarray, ridge: np.ndarray, max_iter: int = 30, tol: float = 5e-3
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray] | None:
    """Huber M-estimate by iteratively reweighted least squares, from warm-start weights.

    The same estimator as statsmodels' ``RLM(M=HuberT())`` with the MAD scale, written as a short
    loop with einsum because the BLAS threads of a matrix product cost more than the product on
    matrices this small. Returns coefficients, their covariance, the MAD scale of the residuals
    (log units) and the final weights.
    """
    norm = HuberT()
    w = start.copy()
    for _ in range(max_iter):
        xw = x * w[:, None]
        gram = np.einsum("ji,jk->ik", xw, x) + np.diag(ridge)
        params = np.linalg.solve(gram, np.einsum("ji,j->i", xw, z))
        resid = z - np.einsum("ij,j->i", x, params)
        scale = float(mad(resid, center=0.0))
        if not np.isfinite(scale) or scale <= 1e-9:
            scale = max(float(np.std(resid)), 1e-6)
        new = norm.weights(resid / scale)
        done = float(np.max(np.abs(new - w))) < tol
        w = new
        if done:
            break
    if not np.isfinite(params).all():
        return None
    # residuals of a fit with k coefficients are smaller than the noise: the usual n / (n - k) correction
    n, k = x.shape
    scale *= math.sqrt(n / max(n - k, 1))
    cov = scale**2 * np.linalg.inv(np.einsum("ji,jk->ik", x * w[:, None], x) + np.diag(ridge))
    return params, cov, max(scale, 1e-6), w
