"""Customer lifetime value: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma spend, by maximum likelihood.

Both models are fitted with scipy on their closed-form log-likelihoods, with the parameters in log space
(so they stay positive), from several starting points, Nelder-Mead then L-BFGS-B; the best converged
optimum wins. A fit never crashes or hangs: when the data cannot identify the model (too few repeat
buyers, or the optimum runs to the edge of the parameter space), the result says so in ``reason`` and
carries no parameters.

Time is in weeks (the unit of the published CDNOW figures): a customer's summary is x (repeat purchase
days), t_x (weeks from the first to the last purchase day) and T (weeks from the first purchase day to
the end of calibration); the spend model takes the mean value of the repeat purchase days. The per
customer summary is computed in the engine (``customer_summary``); the fits run on the pulled arrays.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
from scipy import optimize, special

from channelscope.metrics.customers import FRAME_DIMENSIONS, acquisition_frame, paid_orders

#: fewer repeat buyers than this (or than MIN_REPEAT_SHARE of the customers) do not identify the models
MIN_REPEAT_BUYERS = 30
MIN_REPEAT_SHARE = 0.02
#: a log-parameter beyond this is the edge of the space (a parameter tending to 0 or infinity)
_LOG_EDGE = 12.0
HORIZONS_DAYS: tuple[int, ...] = (90, 180, 365)


@dataclass(frozen=True)
class Fit:
    """A model fit: parameters (empty when not identified), log-likelihood, and why not, if not."""

    model: str
    params: dict[str, float] = field(default_factory=dict)
    log_likelihood: float | None = None
    n: int = 0
    converged: bool = False
    reason: str | None = None
    #: a remark on a converged fit (a limit of the parameter space that is still a proper model)
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.converged and bool(self.params)


# ---- BG/NBD ----------------------------------------------------------------------------------


def bgnbd_loglik(params: Sequence[float] | np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood (FHL 2005, eq. 6) for params (r, alpha, a, b)."""
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4))


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> Fit:
    """BG/NBD by maximum likelihood; ``reason`` says why not when the data does not identify it."""
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    n = len(x)
    reason = _repeat_reason(x)
    if reason:
        return Fit("bgnbd", n=n, reason=reason)
    scale = float(np.mean(T)) or 1.0
    # customers with the same (x, t_x, T) share a likelihood term: fit on the distinct rows, weighted
    rows, w = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    ux, ut, uT = rows[:, 0], rows[:, 1], rows[:, 2]
    starts = [
        (0.0, math.log(scale), 0.0, 0.0),
        (-1.0, math.log(scale / 4), -0.5, 1.0),
        (0.5, math.log(scale * 2), 1.0, 2.0),
    ]
    return _fit("bgnbd", ("r", "alpha", "a", "b"), _bgnbd_nll(ux, ut, uT, w), starts, n)


def _bgnbd_nll(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> Callable[[np.ndarray], float]:
    """The weighted negative log-likelihood of ``bgnbd_loglik``, with the gamma functions evaluated once per
    distinct count and the logarithms once per distinct t_x and T (a few hundred, whatever the customers):
    the same sum, several times faster."""
    xs, ix = np.unique(x, return_inverse=True)
    ts, it = np.unique(t_x, return_inverse=True)
    Ts, iT = np.unique(T, return_inverse=True)
    pos = xs > 0

    def nll(params: np.ndarray) -> float:
        r, alpha, a, b = params
        per_x = (
            special.gammaln(r + xs)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.gammaln(a + b)
            + special.gammaln(b + xs)
            - special.gammaln(b)
            - special.gammaln(a + b + xs)
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ab = np.where(pos, np.log(a) - np.log(np.maximum(b + xs - 1, 1e-300)), -np.inf)
        rx = r + x
        a3 = -rx * np.log(alpha + Ts)[iT]
        a4 = log_ab[ix] - rx * np.log(alpha + ts)[it]
        return -float(w @ (per_x[ix] + np.logaddexp(a3, a4)))

    return nll


def bgnbd_p_alive(params: dict[str, float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive at T | x, t_x, T)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x = np.asarray(x, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            x > 0,
            a / np.maximum(b + x - 1, 1e-300) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x))),
            0.0,
        )
    return np.asarray(1.0 / (1.0 + ratio))


def bgnbd_expected(params: dict[str, float], t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Expected purchases in the next ``t`` weeks (FHL 2005, eq. 10)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    first = (a + b + x - 1) / (a - 1) * (1 - np.exp((r + x) * np.log((alpha + T) / (alpha + T + t))) * hyp)
    return np.asarray(first * bgnbd_p_alive(params, x, t_x, T))


def bgnbd_expected_new(params: dict[str, float], t: float) -> float:
    """Expected purchases of a new customer in ``t`` weeks (FHL 2005, eq. 9)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))


# ---- Gamma-Gamma -------------------------------------------------------------------------------


def gamma_gamma_loglik(params: Sequence[float] | np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each repeat buyer's Gamma-Gamma log-likelihood for params (p, q, v); m = mean spend of x purchases."""
    p, q, v = params
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> Fit:
    """Gamma-Gamma on the customers with x > 0 and a positive mean spend."""
    x, m = np.asarray(x, dtype="float64"), np.asarray(m, dtype="float64")
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) < MIN_REPEAT_BUYERS:
        return Fit(
            "gamma_gamma",
            n=len(x),
            reason=f"only {len(x)} repeat buyers with a positive spend "
            f"(at least {MIN_REPEAT_BUYERS} are needed to estimate the spread of spend)",
        )
    scale = float(np.mean(m))
    starts = [(0.0, 0.0, math.log(scale)), (1.0, 1.0, math.log(scale)), (2.0, 0.5, math.log(scale * 3))]
    return _fit("gamma_gamma", ("p", "q", "v"), _gamma_gamma_nll(x, m), starts, len(x))


def _gamma_gamma_nll(x: np.ndarray, m: np.ndarray) -> Callable[[np.ndarray], float]:
    """The negative sum of ``gamma_gamma_loglik``, with the gamma functions once per distinct count and the
    logarithms of the data computed once."""
    xs, ix = np.unique(x, return_inverse=True)
    log_m, log_x, xm = np.log(m), np.log(x), x * m

    def nll(params: np.ndarray) -> float:
        p, q, v = params
        pxs = p * xs
        per_x = (special.gammaln(pxs + q) - special.gammaln(pxs))[ix]
        px = p * x
        ll = per_x - special.gammaln(q) + q * np.log(v) + (px - 1) * log_m + px * log_x - (px + q) * np.log(xm + v)
        return -float(ll.sum())

    return nll


def gamma_gamma_expected_spend(params: dict[str, float], x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """E[mean spend | x, m]; customers with x = 0 get the population mean v p / (q - 1)."""
    p, q, v = params["p"], params["q"], params["v"]
    x, m = np.asarray(x, dtype="float64"), np.asarray(m, dtype="float64")
    pop = v * p / (q - 1) if q > 1 else float("nan")
    w = p * x / (p * x + q - 1)
    return np.asarray(np.where(x > 0, (1 - w) * pop + w * m, pop))


# ---- fitting machinery -------------------------------------------------------------------------


def _repeat_reason(x: np.ndarray) -> str | None:
    n = len(x)
    repeat = int((x > 0).sum())
    if n == 0:
        return "no customers in the calibration period"
    if repeat < MIN_REPEAT_BUYERS or repeat < MIN_REPEAT_SHARE * n:
        return (
            f"not identifiable: only {repeat} of {n} customers ({repeat / n:.1%}) bought again in the calibration "
            f"period; the dropout and purchase-rate parameters need at least {MIN_REPEAT_BUYERS} repeat buyers "
            f"and {MIN_REPEAT_SHARE:.0%} of the customers"
        )
    return None


def _fit(
    model: str, names: tuple[str, ...], nll: Callable[[np.ndarray], float], starts: Sequence[tuple[float, ...]], n: int
) -> Fit:
    def objective(logp: np.ndarray) -> float:
        if np.any(np.abs(logp) > _LOG_EDGE + 5):  # beyond, gammaln loses the digits the likelihood needs
            return 1e300
        with np.errstate(all="ignore"):
            value = nll(np.exp(logp))
        return value if math.isfinite(value) else 1e300

    best: optimize.OptimizeResult | None = None
    bounds = [(-_LOG_EDGE - 5, _LOG_EDGE + 5)] * len(names)
    for s in starts:  # quasi-Newton from each start (a few hundred evaluations each)
        try:
            res = optimize.minimize(objective, np.array(s), method="L-BFGS-B", bounds=bounds)
        except (ValueError, FloatingPointError, OverflowError):
            continue
        if best is None or res.fun < best.fun:
            best = res
    if best is not None and math.isfinite(best.fun):  # a derivative-free polish of the best optimum
        nm = optimize.minimize(
            objective,
            best.x,
            method="Nelder-Mead",
            # tolerances relative to the likelihood's size: 1e-7 absolute kept a 3M-customer sum polishing noise
            # (a polish: at most 400 evaluations; on a flat ridge it would otherwise walk for thousands)
            options={"maxfev": 400, "xatol": 1e-7, "fatol": 1e-10 * max(1.0, abs(float(best.fun)))},
        )
        if nm.fun < best.fun:
            best = nm
    if best is None or not math.isfinite(best.fun) or best.fun >= 1e299:
        return Fit(model, n=n, reason="the likelihood could not be evaluated from any starting point")
    note = None
    if model == "bgnbd" and best.x[2] > _LOG_EDGE and best.x[3] > _LOG_EDGE and np.all(np.abs(best.x[:2]) <= _LOG_EDGE):
        # a, b -> infinity with a / (a + b) fixed: every customer has the same dropout probability (the beta
        # distribution of p degenerates to a point); the limit is a proper model, kept, and said
        a, b = math.exp(best.x[2]), math.exp(best.x[3])
        note = f"the dropout probability is the same for every customer: p = a / (a + b) = {a / (a + b):.4f}"
    elif np.any(np.abs(best.x) > _LOG_EDGE):
        edge = [f"{k}={math.exp(v):.3g}" for k, v in zip(names, best.x, strict=True) if abs(v) > _LOG_EDGE]
        return Fit(
            model,
            n=n,
            log_likelihood=-float(best.fun),
            reason=f"not identifiable: the optimum runs to the edge of the parameter space ({', '.join(edge)})",
        )
    params = {k: float(math.exp(v)) for k, v in zip(names, best.x, strict=True)}
    return Fit(model, params=params, log_likelihood=-float(best.fun), n=n, converged=True, note=note)


# ---- from the warehouse ------------------------------------------------------------------------


def customer_summary(
    con: ibis.BaseBackend,
    *,
    calibration_end: dt.date,
    holdout_end: dt.date | None = None,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per customer acquired up to ``calibration_end`` (computed in the engine): customer_key, acquisition
    channel/distributor/campaign, x, t_x, T (weeks), m (mean value of the repeat purchase days, base
    currency) and, with ``holdout_end``, x_holdout (purchase days in (calibration_end, holdout_end])."""
    o = paid_orders(con, as_of=holdout_end or calibration_end, channels=channels)
    d = o.group_by(["customer_key", "day"]).aggregate(value=o.value.sum())
    cal = d.filter(d.day <= calibration_end)
    f = acquisition_frame(con, as_of=calibration_end, channels=channels).select(
        _ck="customer_key",
        first_day="first_day",
        **{k: v for k, v in FRAME_DIMENSIONS.items() if k.startswith("acquisition")},
    )
    c = cal.join(f, cal.customer_key == f._ck)
    c = c.mutate(_first=ibis.ifelse(c.day == c.first_day, 1, 0))
    end = ibis.literal(calibration_end, type="date")
    per = c.group_by(["customer_key", "first_day", *[k for k in FRAME_DIMENSIONS if k.startswith("acquisition")]])
    s = per.aggregate(
        days=c.count(),
        last_day=c.day.max(),
        repeat_value=(c.value * (1 - c._first)).sum().cast("float64"),  # a model input: no Decimal objects
    )
    s = s.mutate(
        x=s.days - 1,
        t_x=s.last_day.delta(s.first_day, unit="day").cast("float64") / 7.0,
        T=end.delta(s.first_day, unit="day").cast("float64") / 7.0,
    )
    cols = [
        "customer_key",
        *[k for k in FRAME_DIMENSIONS if k.startswith("acquisition")],
        "x",
        "t_x",
        "T",
        "repeat_value",
    ]
    s = s.select(*cols)
    if holdout_end is not None:
        h = d.filter(d.day > calibration_end)
        h = h.group_by("customer_key").aggregate(x_holdout=h.count())
        h = h.rename(_hk="customer_key")
        s = s.left_join(h, s.customer_key == h._hk).drop("_hk")
        s = s.mutate(x_holdout=s.x_holdout.fill_null(0))
    df = s.to_pandas()
    df["x"] = df["x"].astype("int64")
    rv = df.pop("repeat_value").astype("float64")
    df["m"] = np.where(df["x"] > 0, rv / df["x"].where(df["x"] > 0, 1), 0.0)
    return df.sort_values("customer_key").reset_index(drop=True)


@dataclass
class ClvResult:
    """A CLV run: both fits, per-customer scores, the rollup and the holdout check."""

    bgnbd: Fit
    gamma_gamma: Fit
    calibration_end: dt.date
    customers: pd.DataFrame
    rollup: pd.DataFrame
    holdout: pd.DataFrame | None = None
    holdout_end: dt.date | None = None

    @property
    def reason(self) -> str | None:
        return self.bgnbd.reason or self.gamma_gamma.reason


def score(summary: pd.DataFrame, bg: Fit, gg: Fit, horizons_days: Sequence[int] = HORIZONS_DAYS) -> pd.DataFrame:
    """Per customer: p_alive, expected purchases and (with a spend fit) expected value per horizon in days."""
    out = summary.copy()
    if not bg.ok:
        return out
    x, t_x, T = (out[c].to_numpy("float64") for c in ("x", "t_x", "T"))
    out["p_alive"] = bgnbd_p_alive(bg.params, x, t_x, T)
    spend = gamma_gamma_expected_spend(gg.params, x, out["m"].to_numpy("float64")) if gg.ok else None
    if spend is not None:
        out["expected_spend"] = spend
    for h in horizons_days:
        out[f"purchases_{h}d"] = bgnbd_expected(bg.params, h / 7.0, x, t_x, T)
        if spend is not None:
            out[f"value_{h}d"] = out[f"purchases_{h}d"] * spend
    return out


def rollup(scored: pd.DataFrame, by: str = "acquisition_channel") -> pd.DataFrame:
    """Sum of the per-customer predictions by an acquisition dimension, with customers and per-customer means."""
    cols = [c for c in scored.columns if c.startswith(("purchases_", "value_", "x_holdout"))]
    g = scored.groupby(scored[by].fillna("(none)"))
    out = g[cols].sum()
    out.insert(0, "customers", g.size())
    for c in cols:
        if c.startswith("value_"):
            out[f"{c}_per_customer"] = out[c] / out["customers"]
    return out.reset_index()


def holdout_table(scored: pd.DataFrame, holdout_weeks: float, bg: Fit, max_bucket: int = 7) -> pd.DataFrame:
    """Predicted vs actual purchases in the holdout period per calibration frequency bucket (x = 0..max, max+)."""
    x = scored["x"].to_numpy("int64")
    pred = bgnbd_expected(
        bg.params, holdout_weeks, x, scored["t_x"].to_numpy("float64"), scored["T"].to_numpy("float64")
    )
    bucket = np.minimum(x, max_bucket)
    df = pd.DataFrame({"bucket": bucket, "predicted": pred, "actual": scored["x_holdout"].to_numpy("float64")})
    out = df.groupby("bucket").agg(
        customers=("actual", "size"), predicted=("predicted", "sum"), actual=("actual", "sum")
    )
    out["predicted_per_customer"] = out["predicted"] / out["customers"]
    out["actual_per_customer"] = out["actual"] / out["customers"]
    out = out.reset_index()
    out["bucket"] = [f"{b}+" if b == max_bucket else str(b) for b in out["bucket"]]
    return out


def clv(
    con: ibis.BaseBackend,
    *,
    calibration_end: dt.date,
    holdout_end: dt.date | None = None,
    by: str = "acquisition_channel",
    channels: Sequence[str] | None = None,
    horizons_days: Sequence[int] = HORIZONS_DAYS,
) -> ClvResult:
    """Fit on the calibration period, score every customer, roll up by ``by``, and check on the holdout."""
    summary = customer_summary(con, calibration_end=calibration_end, holdout_end=holdout_end, channels=channels)
    x, t_x, T = (summary[c].to_numpy("float64") for c in ("x", "t_x", "T"))
    bg = fit_bgnbd(x, t_x, T)
    gg = (
        fit_gamma_gamma(x, summary["m"].to_numpy("float64"))
        if bg.ok
        else Fit("gamma_gamma", reason="BG/NBD not fitted")
    )
    scored = score(summary, bg, gg, horizons_days)
    roll = rollup(scored, by) if bg.ok else pd.DataFrame()
    hold = None
    if holdout_end is not None and bg.ok:
        hold = holdout_table(scored, (holdout_end - calibration_end).days / 7.0, bg)
    return ClvResult(bg, gg, calibration_end, scored, roll, hold, holdout_end)
