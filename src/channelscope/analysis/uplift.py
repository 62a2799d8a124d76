"""Promotion uplift against a counterfactual: what GMV would have been without the promotion.

For each promotion window the media mix model's design (calendar phases, discount rate, other promotions
and the transformed ad spend) is refitted by ordinary least squares *without* the window, the days before
it and its hangover days; its prediction on those days is the counterfactual. Uplift = actual -
counterfactual over the window (yuan); the pre-promotion dip (buyers waiting for it) is the same over the
days before, the hangover (demand pulled forward) over the days after; net uplift adds the three.

Cannibalization: for a promotion of one channel, the same counterfactual of the *other* channels' GMV
over the window (negative when the promotion takes sales from them).

Intervals (95%) are for a sum over consecutive days, so they use the residuals' autocovariance, not only
their variance: the day noise of a sum of m days is sum_{i,j} w(|i-j|) gamma(|i-j|) (Newey-West, Bartlett
weights up to ``HAC_LAGS`` days), with gamma estimated on the training days within ``NEIGHBOURHOOD_DAYS``
of the window (noise grows with the level of sales); the parameters' part is the OLS covariance inflated
by the same long-run factor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from channelscope.analysis.media_mix import Z95, MediaMixFit

#: days either side of a window whose residuals give the day noise of its interval
NEIGHBOURHOOD_DAYS = 45
#: lags of the residuals' autocovariance in the interval of a sum of days (Bartlett weights)
HAC_LAGS = 7


@dataclass
class _Counterfactual:
    pred: np.ndarray
    inv: np.ndarray
    x: np.ndarray
    gamma: np.ndarray  # autocovariance of the day noise at lags 0..HAC_LAGS (dof-corrected)

    def interval(self, actual: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
        """(actual - counterfactual summed over ``mask``, its 95% low, high)."""
        value = float((actual[mask] - self.pred[mask]).sum())
        idx = np.flatnonzero(mask)
        lags = np.abs(idx[:, None] - idx[None, :])
        weights = np.where(lags <= HAC_LAGS, 1 - lags / (HAC_LAGS + 1), 0.0)
        noise = float((weights * self.gamma[np.minimum(lags, HAC_LAGS)]).sum())
        noise = max(noise, float(self.gamma[0]) * len(idx))  # never below the independent-days variance
        long_run = noise / (float(self.gamma[0]) * len(idx))
        xs = self.x[mask].sum(axis=0)
        sd = float(np.sqrt(noise + self.gamma[0] * long_run * (xs @ self.inv @ xs)))
        return value, value - Z95 * sd, value + Z95 * sd

    def band(self, mask: np.ndarray) -> np.ndarray:
        """Half-width of the daily 95% band on the days of ``mask``."""
        xm = self.x[mask]
        return Z95 * np.sqrt(self.gamma[0] * (1 + np.einsum("ij,jk,ik->i", xm, self.inv, xm)))


def _counterfactual(x: np.ndarray, y: np.ndarray, held_out: np.ndarray) -> _Counterfactual:
    """OLS of ``y`` on ``x`` without the ``held_out`` days, its prediction on every day, and the noise."""
    train = ~held_out
    xt, yt = x[train], y[train]
    beta, *_ = np.linalg.lstsq(xt, yt, rcond=None)
    dof = max(int(train.sum()) - x.shape[1], 1)
    resid = np.full(len(y), np.nan)
    resid[train] = yt - xt @ beta
    centre = np.flatnonzero(held_out).mean()
    near = np.abs(np.arange(len(y)) - centre) <= NEIGHBOURHOOD_DAYS
    r = np.where(near, resid, np.nan)
    gamma = np.zeros(HAC_LAGS + 1)
    for k in range(HAC_LAGS + 1):
        prod = r[k:] * r[: len(r) - k]
        gamma[k] = float(np.nanmean(prod)) if np.isfinite(prod).any() else 0.0
    gamma *= len(yt) / dof
    return _Counterfactual(x @ beta, np.linalg.pinv(xt.T @ xt), x, gamma)


def _masks(c: pd.DataFrame, start: str) -> dict[str, np.ndarray]:
    out = {}
    for label, col in (("uplift", f"promo:{start}"), ("dip", f"before:{start}"), ("hangover", f"after:{start}")):
        out[label] = c[col].to_numpy() > 0 if col in c else np.zeros(len(c), dtype=bool)
    return out


def _design(fit: MediaMixFit, start: str) -> np.ndarray:
    """The model's design without the promotion's own columns (window, before, after)."""
    c = fit.controls
    own = {f"promo:{start}", f"before:{start}", f"after:{start}"}
    keep = [name not in own for name in c.columns]
    return np.column_stack([c.to_numpy(dtype=float)[:, keep], fit.media])


def promotion_uplift(
    fit: MediaMixFit,
    *,
    names: Mapping[str, str] | None = None,
    discount_cost: Mapping[str, float] | None = None,
    margin_rate: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per promotion: uplift, the dip before it, the hangover after it and net uplift in yuan, each
    with its 95% interval; the daily counterfactual: date, promotion, start, actual, counterfactual, low, high).

    ``names``: promotion start (ISO date) -> display name; ``discount_cost``: start -> discount given in the
    window (yuan), with ``margin_rate`` (fraction of GMV) giving the incremental contribution margin
    = net uplift x margin_rate - discount cost. Without them the margin is empty (NaN), never 0.
    """
    c = fit.controls
    rows, series = [], []
    for col in [col for col in c.columns if col.startswith("promo:")]:
        start = col.split(":", 1)[1]
        masks = _masks(c, start)
        held = masks["uplift"] | masks["dip"] | masks["hangover"]
        cf = _counterfactual(_design(fit, start), fit.actual, held)
        out: dict[str, object] = {
            "promotion": (names or {}).get(start, start),
            "start": start,
            "days": int(masks["uplift"].sum()),
        }
        for label, mask in masks.items():
            if not mask.any():
                out.update({label: np.nan, f"{label}_low": np.nan, f"{label}_high": np.nan})
                continue
            value, low, high = cf.interval(fit.actual, mask)
            out.update({label: value, f"{label}_low": low, f"{label}_high": high})
            if label == "uplift":
                counterfactual = float(cf.pred[mask].sum())
                out["actual"] = float(fit.actual[mask].sum())
                out["counterfactual"] = counterfactual
                out["uplift_pct"] = value / counterfactual
        net, low, high = cf.interval(fit.actual, held)
        out.update({"net_uplift": net, "net_uplift_low": low, "net_uplift_high": high})
        cost = (discount_cost or {}).get(start)
        out["incremental_margin"] = net * margin_rate - cost if cost is not None and margin_rate is not None else np.nan
        rows.append(out)
        band = cf.band(held)
        series.append(
            pd.DataFrame(
                {
                    "date": fit.dates[held],
                    "promotion": out["promotion"],
                    "start": start,
                    "actual": fit.actual[held],
                    "counterfactual": cf.pred[held],
                    "low": cf.pred[held] - band,
                    "high": cf.pred[held] + band,
                }
            )
        )
    table = pd.DataFrame(rows)
    daily = pd.concat(series, ignore_index=True) if series else pd.DataFrame()
    return table, daily


def cannibalization(
    fit: MediaMixFit,
    gmv_by_channel: pd.DataFrame,
    channels: Mapping[str, str],
    *,
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per promotion of one channel (``channels``: promotion start -> its channel id): what the other
    channels lost during its window against their counterfactual (yuan, negative when taken from them),
    with its 95% interval, and the promoted channel's own uplift. ``gmv_by_channel``: daily GMV (yuan), one
    column per channel, on the model's dates. A promotion of every channel has no row (nothing to take
    from); a channel missing from ``gmv_by_channel`` gives an empty row with its reason."""
    c = fit.controls
    frame = gmv_by_channel.reindex(fit.dates).fillna(0.0).astype(float)
    rows = []
    for col in [col for col in c.columns if col.startswith("promo:")]:
        start = col.split(":", 1)[1]
        channel = channels.get(start)
        if channel is None:
            continue
        out: dict[str, object] = {"promotion": (names or {}).get(start, start), "start": start, "channel_id": channel}
        if channel not in frame.columns:
            out.update({k: np.nan for k in ("channel_uplift", "cannibalization", "cannibalization_low")})
            out.update({"cannibalization_high": np.nan, "missing": f"no GMV of channel {channel} in the range"})
            rows.append(out)
            continue
        masks = _masks(c, start)
        held = masks["uplift"] | masks["dip"] | masks["hangover"]
        x = _design(fit, start)
        others = frame.drop(columns=[channel]).sum(axis=1).to_numpy()
        own = frame[channel].to_numpy()
        value, low, high = _counterfactual(x, others, held).interval(others, masks["uplift"])
        gain, g_low, g_high = _counterfactual(x, own, held).interval(own, masks["uplift"])
        out.update(
            {
                "channel_uplift": gain,
                "channel_uplift_low": g_low,
                "channel_uplift_high": g_high,
                "cannibalization": value,
                "cannibalization_low": low,
                "cannibalization_high": high,
                "cannibalized_share": -value / gain if gain > 0 else np.nan,
                "missing": "",
            }
        )
        rows.append(out)
    return pd.DataFrame(rows)


def promotion_names(events: Sequence[object]) -> dict[str, str]:
    """start (ISO) -> key of every promotion among planned events."""
    return {str(e.start): str(e.key) for e in events if getattr(e, "kind", "") == "promotion"}  # type: ignore[attr-defined]


def promotion_channels(events: Sequence[object]) -> dict[str, str]:
    """start (ISO) -> channel id of every promotion of one channel among planned events."""
    return {
        str(e.start): str(e.channel_id)  # type: ignore[attr-defined]
        for e in events
        if getattr(e, "kind", "") == "promotion" and getattr(e, "channel_id", None) is not None
    }
