"""Forecast a panel of series: rolling-origin backtest, model choice per series, final forecast.

``forecast_panel(panel, horizon)``: ``panel`` has one column per series and one row per period
(daily or weekly, no gaps: missing periods are zero sales). The backtest cuts the history at
``windows`` origins ``horizon`` periods apart (the last one ``horizon`` periods before the end),
fits every model on the history before each origin and forecasts the ``horizon`` periods after it.

* model choice: per series, the model with the lowest mean absolute error over every window but the
  last (the last is kept for an honest evaluation; with one window, that window chooses); the
  seasonal naive benchmark must be ``SELECTION_MARGIN`` better than the others to be chosen;
* evaluation on the last window: MASE (mean absolute error / the in-sample mean absolute seasonal
  difference, so seasonal naive's in-sample error is 1), sMAPE (fraction, 0-2), bias (mean error /
  mean actual, fraction), the share of actuals inside the 80% and 95% intervals, per model and for
  the chosen model ("selected"); festival days (any commerce-calendar phase) are scored apart;
* the final forecast: each series' chosen model refitted on the whole history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from channelscope.analysis.forecast.models import (
    LEVELS,
    PER_SERIES_LIMIT,
    STATSFORECAST,
    ModelForecast,
    run_model,
    season_of,
)

#: the models tried by default (ets and theta fit series by series: ask for them with ``models``)
DEFAULT_MODELS = ("seasonal_naive", "calendar_regression")
#: how much better (fraction of its error) seasonal naive must do in the selection windows to be chosen
SELECTION_MARGIN = 0.1


@dataclass
class PanelForecast:
    """What ``forecast_panel`` returns.

    ``forecast``: long frame (series, period, model, mean, p2_5, p10, p50, p90, p97_5);
    ``backtest``: long frame of every window's forecasts against actuals (series, model, origin,
    step, period, actual, mean, p2_5, p10, p90, p97_5, festival); ``accuracy``: one row per series
    and model (incl. ``selected``) on the evaluation window; ``choice``: series -> model.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    accuracy: pd.DataFrame
    choice: dict[str, str]
    models: tuple[str, ...]
    horizon: int
    errors: dict[str, pd.DataFrame] = field(default_factory=dict)


def _q(level: float) -> str:
    return "p" + f"{level * 100:g}".replace(".", "_")


QCOLS = [_q(q) for q in LEVELS]


def _run_groups(
    name: str,
    y: np.ndarray,
    index: pd.DatetimeIndex,
    future: pd.DatetimeIndex,
    groups: np.ndarray,
    features: Mapping[str, pd.DataFrame] | None,
) -> ModelForecast:
    """Run a model per feature group (series whose calendar is the same) and stitch the columns."""
    h, n = len(future), y.shape[1]
    mean = np.zeros((h, n))
    quantiles = {q: np.zeros((h, n)) for q in LEVELS}
    for g in np.unique(groups):
        cols = np.flatnonzero(groups == g)
        feats = features.get(str(g)) if features is not None else None
        fc = run_model(name, y[:, cols], index, future, feats)
        mean[:, cols] = fc.mean
        for q in LEVELS:
            quantiles[q][:, cols] = fc.quantiles[q]
    return ModelForecast(name, mean, quantiles)


def forecast_panel(
    panel: pd.DataFrame,
    horizon: int,
    *,
    models: Sequence[str] | None = None,
    windows: int = 3,
    features: Mapping[str, pd.DataFrame] | None = None,
    groups: Mapping[str, str] | None = None,
    festival_days: pd.DatetimeIndex | None = None,
    pools: Mapping[str, str] | None = None,
) -> PanelForecast:
    """Backtest, choose and forecast every column of ``panel`` ``horizon`` periods ahead.

    ``features``: calendar regressors per group (index: history and future periods); ``groups``:
    series -> group (default: one group ``"all"``); ``festival_days``: the days scored apart.
    Per-series models (statsforecast's) are skipped above ``PER_SERIES_LIMIT`` series.
    """
    panel = panel.sort_index()
    index = pd.DatetimeIndex(panel.index)
    y = panel.to_numpy(dtype=float)
    t, n = y.shape
    names = [str(c) for c in panel.columns]
    chosen_models = tuple(models or DEFAULT_MODELS)
    if n > PER_SERIES_LIMIT:
        chosen_models = tuple(m for m in chosen_models if m not in STATSFORECAST) or DEFAULT_MODELS
    grp = np.array([(groups or {}).get(s, "all") for s in names])
    step = index[1] - index[0] if t > 1 else pd.Timedelta(days=1)
    future = pd.DatetimeIndex([index[-1] + step * (i + 1) for i in range(horizon)])
    m = season_of(index, t)
    windows = max(1, min(windows, (t - 2 * m - 14) // horizon))
    origins = [t - horizon * k for k in range(windows, 0, -1)]
    fest = festival_days if festival_days is not None else pd.DatetimeIndex([])
    rows = []
    mae = {name: np.zeros((windows, n)) for name in chosen_models}
    for w, origin in enumerate(origins):
        hist, fut = index[:origin], index[origin : origin + horizon]
        actual = y[origin : origin + horizon]
        for name in chosen_models:
            fc = _run_groups(name, y[:origin], hist, fut, grp, features)
            mae[name][w] = np.abs(fc.mean - actual).mean(axis=0)
            rows.append(_long(names, fut, fc, name, origin=index[origin - 1], actual=actual, fest=fest))
    backtest = pd.concat(rows, ignore_index=True)
    score_windows = slice(0, windows - 1) if windows > 1 else slice(0, 1)
    err = np.stack([mae[name][score_windows].mean(axis=0) for name in chosen_models])
    err = np.where(np.isnan(err), np.inf, err)
    # the seasonal naive benchmark must beat the others by SELECTION_MARGIN to be chosen: a few quiet
    # selection windows cannot show what the calendar knows about the festivals ahead
    bench = np.array([name == "seasonal_naive" for name in chosen_models])
    err = err * np.where(bench, 1.0 + SELECTION_MARGIN, 1.0)[:, None]
    pick = np.argmin(err, axis=0)
    if pools:
        # one model per pool (a hierarchy level): the lowest mean scaled error over the pool's series. Two
        # short selection windows are a noisy judge of one series, and a level's series share their shape
        # (on the demo, GMV by channel: per-series choice -17.7% MASE vs seasonal naive, per-level -23.5%)
        scaled = err / np.nan_to_num(_mase_scale(y[: origins[0]], m), nan=1.0)[None, :]
        pool_of = np.array([pools.get(s, s) for s in names])
        for pool in np.unique(pool_of):
            members = np.flatnonzero(pool_of == pool)
            part = np.where(np.isfinite(scaled[:, members]), scaled[:, members], np.nan)
            if np.isfinite(part).any():
                pick[members] = int(np.nanargmin(np.nanmean(part, axis=1)))
    best = np.array(chosen_models)[pick]
    choice = dict(zip(names, best.tolist(), strict=True))
    last_origin = index[origins[-1] - 1]
    evaluated = backtest[backtest["origin"] == last_origin]
    scale = _mase_scale(y[: origins[-1]], m)
    accuracy = _accuracy(evaluated, choice, dict(zip(names, scale, strict=True)))
    final = []
    for name in chosen_models:
        cols = [j for j, s in enumerate(names) if choice[s] == name]
        if not cols:
            continue
        fc = _run_groups(name, y[:, cols], index, future, grp[cols], features)
        final.append(_long([names[j] for j in cols], future, fc, name))
    forecast = pd.concat(final, ignore_index=True).sort_values(["series", "period"], ignore_index=True)
    return PanelForecast(forecast, backtest, accuracy, choice, chosen_models, horizon)


def _long(
    names: list[str],
    periods: pd.DatetimeIndex,
    fc: ModelForecast,
    model: str,
    *,
    origin: pd.Timestamp | None = None,
    actual: np.ndarray | None = None,
    fest: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    h, n = fc.mean.shape
    out = pd.DataFrame(
        {
            "series": np.tile(np.array(names, dtype=object), h),
            "period": np.repeat(periods.to_numpy(), n),
            "step": np.repeat(np.arange(1, h + 1), n),
            "model": model,
            "mean": fc.mean.ravel(),
            **{_q(q): fc.quantiles[q].ravel() for q in LEVELS},
        }
    )
    if origin is not None and actual is not None:
        out.insert(0, "origin", origin)
        out["actual"] = actual.ravel()
        out["festival"] = np.repeat(periods.isin(fest if fest is not None else []), n)
    return out


def _mase_scale(y: np.ndarray, m: int) -> np.ndarray:
    """In-sample mean absolute seasonal difference of each series (NaN when it is 0)."""
    if len(y) <= m:
        return np.full(y.shape[1], np.nan)
    d = np.abs(y[m:] - y[:-m]).mean(axis=0)
    return np.where(d > 0, d, np.nan)


def scores(frame: pd.DataFrame, scale: float | pd.Series | None = None) -> dict[str, float]:
    """MAE, MASE, sMAPE, bias and interval coverage of forecast rows with actuals."""
    err = frame["mean"] - frame["actual"]
    denom = (frame["mean"].abs() + frame["actual"].abs()).replace(0, np.nan)
    mean_actual = float(frame["actual"].mean())
    mae = float(err.abs().mean())
    if isinstance(scale, pd.Series):
        mase = float((err.abs() / scale.reindex(frame["series"]).to_numpy()).mean())
    else:
        mase = mae / scale if scale else float("nan")
    return {
        "n": len(frame),
        "mae": mae,
        "mase": mase,
        "smape": float((2 * err.abs() / denom).mean()),
        "bias": float(err.mean() / mean_actual) if mean_actual else float("nan"),
        "coverage_80": float(((frame["actual"] >= frame["p10"]) & (frame["actual"] <= frame["p90"])).mean()),
        "coverage_95": float(((frame["actual"] >= frame["p2_5"]) & (frame["actual"] <= frame["p97_5"])).mean()),
    }


def _accuracy(evaluated: pd.DataFrame, choice: dict[str, str], scale: dict[str, float]) -> pd.DataFrame:
    """Per series and model (and "selected"): the ``scores`` of its rows, computed in one groupby."""
    chosen = evaluated[evaluated["model"] == evaluated["series"].map(choice)].assign(model="selected")
    f = pd.concat([evaluated, chosen], ignore_index=True)
    err = f["mean"] - f["actual"]
    denom = (f["mean"].abs() + f["actual"].abs()).replace(0, np.nan)
    f = f.assign(
        abs_err=err.abs(),
        err=err,
        sape=2 * err.abs() / denom,
        in80=((f["actual"] >= f["p10"]) & (f["actual"] <= f["p90"])).astype(float),
        in95=((f["actual"] >= f["p2_5"]) & (f["actual"] <= f["p97_5"])).astype(float),
        fest_err=err.abs().where(f["festival"]),
        fest=f["festival"].astype(int),
    )
    g = f.groupby(["series", "model"], sort=True).agg(
        n=("abs_err", "size"),
        mae=("abs_err", "mean"),
        smape=("sape", "mean"),
        err=("err", "mean"),
        mean_actual=("actual", "mean"),
        coverage_80=("in80", "mean"),
        coverage_95=("in95", "mean"),
        festival_mae=("fest_err", "mean"),
        festival_days=("fest", "sum"),
    )
    g = g.reset_index()
    g["mase"] = g["mae"] / g["series"].map(scale).astype(float)
    g["bias"] = g["err"] / g["mean_actual"].replace(0, np.nan)
    cols = ["series", "model", "n", "mae", "mase", "smape", "bias", "coverage_80", "coverage_95"]
    return g[[*cols, "festival_mae", "festival_days"]]
