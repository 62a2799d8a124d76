"""Media mix model: daily GMV against spend per ad platform, with adstock and saturation.

GMV(t) = controls(t) @ gamma + sum_p beta_p * hill(adstock_p(spend_p)(t); k_p, s_p) + noise, where the
controls are an intercept, trend, weekdays, every festival key of the calendar, every promotion window
and its hangover (the days after), and the discount rate when given. Adstock is geometric (``decay``)
or Weibull (``shape``, ``scale`` in days); ``k_p`` is in multiples of the platform's mean adstocked spend.

Fitting is variable projection with scipy: for given adstock and Hill parameters the linear part is
ordinary least squares, and ``scipy.optimize.least_squares`` searches the nonlinear parameters (from a
few starts, inside bounds). Uncertainty of contributions and ROAS is the OLS covariance of the betas,
conditional on the fitted nonlinear parameters (it does not include their uncertainty).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import least_squares, lsq_linear, nnls

from channelscope.analysis.adstock import geometric_adstock, hill, weibull_adstock
from channelscope.analysis.planned_events import PlannedEvent
from channelscope.errors import QueryError

ADSTOCKS = ("geometric", "weibull")
HANGOVER_DAYS = 3
#: days before a promotion window whose dip (buyers waiting for it) the model measures
PRE_DAYS = 3
Z95 = 1.959963984540054
#: below this R^2 or above this out-of-sample MAPE the fit is flagged unreliable (fit["reliable"] = 0)
RELIABLE_R2 = 0.8
RELIABLE_MAPE = 0.15


def calendar_controls(
    dates: pd.DatetimeIndex,
    events: Sequence[PlannedEvent] = (),
    *,
    discount_rate: pd.Series | None = None,
    hangover_days: int = HANGOVER_DAYS,
    pre_days: int = PRE_DAYS,
) -> pd.DataFrame:
    """The control columns of the model, one row per day: intercept, trend (0..1), weekday dummies
    (Tuesday..Sunday), one dummy per festival key (``event:<key>``; with the commerce calendar's phases
    the key names the phase: ``event:双11:presale``, ``event:双11:balance``, ``event:双11:main_day``...),
    one per promotion window (``promo:<start>``), the days before it (``before:<start>``: the dip of
    buyers waiting for it) and after it (``after:<start>``: the hangover), and the day's discount rate
    (fraction) when given."""
    n = len(dates)
    out = {"intercept": np.ones(n), "trend": np.arange(n) / max(n - 1, 1)}
    dow = np.asarray(dates.dayofweek)
    for d in range(1, 7):
        out[f"weekday_{d}"] = (dow == d).astype(float)
    for e in events:
        mask = np.asarray((dates >= pd.Timestamp(e.start)) & (dates <= pd.Timestamp(e.end))).astype(float)
        if not mask.any():
            continue
        if e.kind == "promotion":
            out[f"promo:{e.start}"] = mask
            first = pd.Timestamp(e.start)
            before = (dates < first) & (dates >= first - pd.Timedelta(days=pre_days))
            if pre_days > 0:
                out[f"before:{e.start}"] = np.asarray(before).astype(float)
            end = pd.Timestamp(e.end)
            after = (dates > end) & (dates <= end + pd.Timedelta(days=hangover_days))
            out[f"after:{e.start}"] = np.asarray(after).astype(float)
        else:
            name = f"event:{e.key}"
            out[name] = np.maximum(out.get(name, np.zeros(n)), mask)
    if discount_rate is not None:
        out["discount_rate"] = discount_rate.reindex(dates).fillna(discount_rate.mean()).to_numpy(dtype=float)
    frame = pd.DataFrame(out, index=dates)
    return frame.loc[:, frame.std(ddof=0).gt(0) | (frame.columns == "intercept")]


@dataclass
class MediaMixFit:
    """A fitted media mix model: ``platforms`` (one row per platform: spend, contribution, ROAS with its
    95% interval, marginal ROAS, adstock and Hill parameters), ``fit`` (R^2, MAPE in and out of sample,
    fit seconds) and what the allocator and uplift analyses reuse."""

    platforms: pd.DataFrame
    fit: dict[str, float]
    dates: pd.DatetimeIndex
    actual: np.ndarray
    fitted: np.ndarray
    spend: pd.DataFrame
    controls: pd.DataFrame
    media: np.ndarray  # transformed spend (n x P)
    beta: np.ndarray  # linear coefficients: controls then platforms
    cov: np.ndarray
    sigma: float
    params: dict[str, dict[str, float]]
    adstock: str
    basis: dict[str, object] = field(default_factory=dict)
    theta: np.ndarray | None = None  # the nonlinear parameters as the optimizer sees them (a warm start)

    def transform(self, platform: str, spend: np.ndarray) -> np.ndarray:
        """The Hill(adstock) feature of ``spend`` (yuan per day) with the fitted parameters."""
        return _feature(spend, self.params[platform], self.adstock)

    def response(self, platform: str, scale: float | np.ndarray) -> np.ndarray:
        """Contribution (yuan over the period) if the platform's daily spend were ``scale`` x history."""
        j = list(self.spend.columns).index(platform)
        b = self.beta[self.controls.shape[1] + j]
        scales = np.atleast_1d(np.asarray(scale, dtype=float))
        hist = self.spend[platform].to_numpy()
        return np.array([b * self.transform(platform, hist * s).sum() for s in scales])

    def response_curves(self, scales: Sequence[float] = tuple(np.linspace(0, 2, 21))) -> pd.DataFrame:
        """platform, scale, spend (yuan), contribution (yuan) on a grid of spend multipliers."""
        rows = []
        for p in self.spend.columns:
            total = float(self.spend[p].sum())
            for s, c in zip(scales, self.response(p, np.asarray(scales)), strict=True):
                rows.append({"platform": p, "scale": float(s), "spend": total * s, "contribution": float(c)})
        return pd.DataFrame(rows)


def _feature(spend: np.ndarray, prm: Mapping[str, float], adstock: str) -> np.ndarray:
    if adstock == "weibull":
        ad = weibull_adstock(spend, prm["shape"], prm["scale"])
    else:
        ad = geometric_adstock(spend, prm["decay"])
    return hill(ad, prm["half_sat"], prm["hill_shape"])


def _unpack(theta: np.ndarray, spend: np.ndarray, adstock: str) -> tuple[np.ndarray, list[dict[str, float]]]:
    per = 4 if adstock == "weibull" else 3
    feats, params = [], []
    for j in range(spend.shape[1]):
        t = theta[j * per : (j + 1) * per]
        if adstock == "weibull":
            prm = {"shape": t[0], "scale": t[1]}
            ad = weibull_adstock(spend[:, j], t[0], t[1])
        else:
            prm = {"decay": t[0]}
            ad = geometric_adstock(spend[:, j], t[0])
        mean = float(ad.mean()) or 1.0
        prm.update({"half_sat": float(np.exp(t[-2])) * mean, "hill_shape": float(t[-1])})
        feats.append(hill(ad, prm["half_sat"], prm["hill_shape"]))
        params.append({k: float(v) for k, v in prm.items()})
    return np.column_stack(feats), params


def _bounds(adstock: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    if adstock == "weibull":
        lo, hi = [0.5, 0.5, np.log(0.1), 0.5], [5.0, 10.0, np.log(5.0), 3.0]
    else:
        lo, hi = [0.0, np.log(0.1), 0.5], [0.95, np.log(5.0), 3.0]
    return np.tile(lo, n), np.tile(hi, n)


def _starts(adstock: str, n: int) -> list[np.ndarray]:
    if adstock == "weibull":
        return [np.tile([s, c, 0.0, 1.2], n) for s, c in ((1.5, 2.0), (2.5, 5.0))]
    return [np.tile([d, 0.0, 1.2], n) for d in (0.2, 0.6)]


def fit_media_mix(
    gmv: pd.Series,
    spend: pd.DataFrame,
    controls: pd.DataFrame,
    *,
    adstock: str = "geometric",
    holdout: float = 0.15,
    basis: Mapping[str, object] | None = None,
    warm_start: MediaMixFit | None = None,
) -> MediaMixFit:
    """Fit the model on daily ``gmv`` (yuan), ``spend`` (yuan per day, one column per platform) and
    ``controls`` (``calendar_controls``), all on the same dates; ``holdout``: the last share of days
    kept out for the out-of-sample error (the model is refitted without them). ``warm_start``: a fit of
    the same platforms and adstock (e.g. the brand's total when fitting each channel) whose nonlinear
    parameters start the search, instead of the default starts."""
    if adstock not in ADSTOCKS:
        raise QueryError(f"adstock must be one of {', '.join(ADSTOCKS)} (got {adstock!r})")
    if len(gmv) < 60:
        raise QueryError(f"the media mix model needs at least 60 days of data (got {len(gmv)})")
    if spend.shape[1] == 0:
        raise QueryError("the media mix model needs ad spend of at least one platform")
    started = time.perf_counter()
    y = gmv.to_numpy(dtype=float)
    s = spend.to_numpy(dtype=float)
    c = controls.to_numpy(dtype=float)
    x0 = None
    same = warm_start is not None and warm_start.adstock == adstock
    if same and warm_start is not None and list(warm_start.spend.columns) == list(spend.columns):
        x0 = warm_start.theta
    theta, beta, cov, sigma, feats, params = _fit(y, s, c, adstock, x0)
    seconds = time.perf_counter() - started
    fitted = np.column_stack([c, feats]) @ beta
    cut = int(len(y) * (1 - holdout))
    oos = float("nan")
    if holdout > 0 and cut >= 60:
        keep = controls.iloc[:cut].std(ddof=0).gt(0).to_numpy() | (controls.columns == "intercept")
        th, b2, _, _, _, _ = _fit(y[:cut], s[:cut], c[:cut, keep], adstock, theta)
        f_all, _ = _unpack(th, s, adstock)
        pred = np.column_stack([c[cut:, keep], f_all[cut:]]) @ b2
        oos = float(np.mean(np.abs(pred - y[cut:]) / np.abs(y[cut:])))
    k = c.shape[1]
    rows = []
    for j, p in enumerate(spend.columns):
        total = float(s[:, j].sum())
        contrib = float(beta[k + j] * feats[:, j].sum())
        se = float(np.sqrt(cov[k + j, k + j]) * feats[:, j].sum())
        bumped = _feature(s[:, j] * 1.01, params[j], adstock).sum() * beta[k + j]
        roas = contrib / total if total > 0 else float("nan")
        rows.append(
            {
                "platform": p,
                "spend": total,
                "contribution": contrib,
                "contribution_low": contrib - Z95 * se,
                "contribution_high": contrib + Z95 * se,
                "roas": roas,
                "roas_low": (contrib - Z95 * se) / total if total > 0 else float("nan"),
                "roas_high": (contrib + Z95 * se) / total if total > 0 else float("nan"),
                "marginal_roas": (bumped - contrib) / (0.01 * total) if total > 0 else float("nan"),
                **params[j],
            }
        )
    ss_res = float(((y - fitted) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    fit = {
        "r2": 1 - ss_res / ss_tot,
        "mape": float(np.mean(np.abs(fitted - y) / np.abs(y))),
        "mape_out_of_sample": oos,
        "holdout_days": float(len(y) - cut),
        "days": float(len(y)),
        "fit_seconds": seconds,
    }
    # a model that explains little is not a basis for budget decisions: say so wherever it is shown
    fit["reliable"] = float(fit["r2"] >= RELIABLE_R2 and not (oos > RELIABLE_MAPE))
    return MediaMixFit(
        pd.DataFrame(rows),
        fit,
        pd.DatetimeIndex(gmv.index),
        y,
        fitted,
        spend,
        controls,
        feats,
        beta,
        cov,
        sigma,
        {p: params[j] for j, p in enumerate(spend.columns)},
        adstock,
        dict(basis or {}),
        theta,
    )


#: residual evaluations of the nonlinear search: from the default starts, and from a warm start (the holdout
#: refit, or a channel's model started from the brand's), which begins near its optimum
MAX_NFEV = 400
MAX_NFEV_WARM = 120


def _fit(
    y: np.ndarray, s: np.ndarray, c: np.ndarray, adstock: str, start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, list[dict[str, float]]]:
    lo, hi = _bounds(adstock, s.shape[1])
    scale = float(np.std(y)) or 1.0

    # the controls are fixed: project them out once, so each step solves only for the platform betas
    q, _ = np.linalg.qr(c)
    y_r = y - q @ (q.T @ y)

    def residuals(theta: np.ndarray) -> np.ndarray:
        feats, _ = _unpack(theta, s, adstock)
        f_r = feats - q @ (q.T @ feats)
        b, _ = nnls(f_r, y_r)  # spend never lowers GMV: media betas are 0 or more
        return (y_r - f_r @ b) / scale

    best = None
    for x0 in [start] if start is not None else _starts(adstock, s.shape[1]):
        nfev = MAX_NFEV if start is None else MAX_NFEV_WARM
        sol = least_squares(residuals, np.clip(x0, lo, hi), bounds=(lo, hi), x_scale="jac", max_nfev=nfev)
        if best is None or sol.cost < best.cost:
            best = sol
    assert best is not None
    feats, params = _unpack(best.x, s, adstock)
    x = np.column_stack([c, feats])
    lower = np.r_[np.full(c.shape[1], -np.inf), np.zeros(feats.shape[1])]
    beta = lsq_linear(x, y, bounds=(lower, np.full(x.shape[1], np.inf))).x
    r = y - x @ beta
    dof = max(len(y) - x.shape[1] - len(best.x), 1)
    sigma2 = float(r @ r) / dof
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    return best.x, beta, cov, float(np.sqrt(sigma2)), feats, params
