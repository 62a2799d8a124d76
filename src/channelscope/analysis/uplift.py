"""Promotion uplift against a counterfactual: what GMV would have been without the promotion.

For each promotion window the media mix model's design (calendar, discount rate, other promotions and
the transformed ad spend) is refitted by ordinary least squares *without* the window and its hangover
days; its prediction on those days is the counterfactual. Uplift = actual - counterfactual over the
window (yuan), with a 95% interval from the OLS prediction variance (parameters, and the day noise of
the 45 days either side, as noise grows with the level of sales); the
hangover (pull-forward) is the same over the days after the window; net uplift adds both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from channelscope.analysis.media_mix import Z95, MediaMixFit

#: days either side of a window whose residuals give the day noise of its interval
NEIGHBOURHOOD_DAYS = 45


def promotion_uplift(
    fit: MediaMixFit,
    *,
    names: Mapping[str, str] | None = None,
    discount_cost: Mapping[str, float] | None = None,
    margin_rate: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per promotion: uplift, its interval, hangover and net uplift in yuan; the daily
    counterfactual: date, promotion, start, actual, counterfactual, low, high).

    ``names``: promotion start (ISO date) -> display name; ``discount_cost``: start -> discount given in the
    window (yuan), with ``margin_rate`` (fraction of GMV) giving the incremental contribution margin
    = net uplift x margin_rate - discount cost. Without them the margin is empty (NaN), never 0.
    """
    c = fit.controls
    promos = [col for col in c.columns if col.startswith("promo:")]
    rows, series = [], []
    x_all = np.column_stack([c.to_numpy(dtype=float), fit.media])
    for col in promos:
        start = col.split(":", 1)[1]
        window = c[col].to_numpy() > 0
        after_col = f"after:{start}"
        after = c[after_col].to_numpy() > 0 if after_col in c else np.zeros(len(c), dtype=bool)
        keep_cols = [i for i, name in enumerate(c.columns) if name not in (col, after_col)]
        keep_cols += list(range(c.shape[1], x_all.shape[1]))
        x = x_all[:, keep_cols]
        train = ~(window | after)
        xt, yt = x[train], fit.actual[train]
        beta, *_ = np.linalg.lstsq(xt, yt, rcond=None)
        resid = yt - xt @ beta
        dof = max(int(train.sum()) - x.shape[1], 1)
        # noise grows with the level of sales: the day noise is that of the training days around the window
        near = np.abs(np.arange(len(c)) - np.flatnonzero(window).mean())[train] <= NEIGHBOURHOOD_DAYS
        sigma2 = float((resid[near] ** 2).mean()) * len(yt) / dof
        inv = np.linalg.pinv(xt.T @ xt)
        pred = x @ beta
        out = {"promotion": (names or {}).get(start, start), "start": start, "days": int(window.sum())}
        for label, mask in (("uplift", window), ("hangover", after)):
            if not mask.any():
                out.update({label: np.nan, f"{label}_low": np.nan, f"{label}_high": np.nan})
                continue
            xs = x[mask].sum(axis=0)
            value = float((fit.actual[mask] - pred[mask]).sum())
            sd = float(np.sqrt(sigma2 * (mask.sum() + xs @ inv @ xs)))
            out.update({label: value, f"{label}_low": value - Z95 * sd, f"{label}_high": value + Z95 * sd})
            if label == "uplift":
                out["actual"] = float(fit.actual[mask].sum())
                out["counterfactual"] = float(pred[mask].sum())
                out["uplift_pct"] = value / out["counterfactual"]
        out["net_uplift"] = out["uplift"] + (0.0 if np.isnan(out["hangover"]) else out["hangover"])
        cost = (discount_cost or {}).get(start)
        out["incremental_margin"] = (
            out["net_uplift"] * margin_rate - cost if cost is not None and margin_rate is not None else np.nan
        )
        rows.append(out)
        shown = window | after
        band = Z95 * np.sqrt(sigma2 * (1 + np.einsum("ij,jk,ik->i", x[shown], inv, x[shown])))
        series.append(
            pd.DataFrame(
                {
                    "date": fit.dates[shown],
                    "promotion": out["promotion"],
                    "start": start,
                    "actual": fit.actual[shown],
                    "counterfactual": pred[shown],
                    "low": pred[shown] - band,
                    "high": pred[shown] + band,
                }
            )
        )
    table = pd.DataFrame(rows)
    daily = pd.concat(series, ignore_index=True) if series else pd.DataFrame()
    return table, daily


def promotion_names(events: Sequence[object]) -> dict[str, str]:
    """start (ISO) -> key of every promotion among planned events."""
    return {str(e.start): str(e.key) for e in events if getattr(e, "kind", "") == "promotion"}  # type: ignore[attr-defined]
