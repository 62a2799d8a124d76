"""Coherent forecasts across a hierarchy: MinT (shrinkage) reconciliation, and sums to the cent.

A hierarchy is given by its bottom series' keys (tuples over dimensions, e.g. (channel, sku));
every prefix is a node: () is the total, (channel,) a channel, (channel, sku) a bottom series. The
summing matrix S maps bottom series to every node. Base forecasts ŷ of every node are reconciled to

    ỹ = S (Sᵀ W⁻¹ S)⁻¹ Sᵀ W⁻¹ ŷ        (Wickramasuriya, Athanasopoulos & Hyndman 2019)

with W the covariance of the base forecasts' errors: ``mint_shrink`` shrinks the sample covariance
of the backtest errors toward its diagonal (Schäfer & Strimmer's intensity), ``wls`` keeps only the
diagonal (used above ``MINT_LIMIT`` nodes, where a full covariance is not estimable), ``bottom_up``
takes W⁻¹ = 0 except on the bottom. Negative reconciled bottom values are set to 0.

To the cent: the reconciled bottom forecasts are rounded to 0.01 and every node is the sum of its
rounded bottom values, in integers of cents, so a channel equals the sum of its SKUs exactly.
Intervals are the base quantiles moved by the change of the mean (reconciliation moves the centre,
not the spread).

hierarchicalforecast was not used: the same formulas in numpy keep channelscope's dependencies small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MINT_LIMIT = 400

Node = tuple[str, ...]


def nodes_of(bottom: Sequence[Node]) -> list[Node]:
    """Every node of the hierarchy (total first, then by depth and key)."""
    out: set[Node] = set()
    for key in bottom:
        for depth in range(len(key) + 1):
            out.add(tuple(key[:depth]))
    return sorted(out, key=lambda k: (len(k), k))


def summing_matrix(bottom: Sequence[Node]) -> tuple[list[Node], np.ndarray]:
    """(nodes, S): S[i, j] = 1 when bottom series j belongs to node i."""
    nodes = nodes_of(bottom)
    where = {n: i for i, n in enumerate(nodes)}
    s = np.zeros((len(nodes), len(bottom)))
    for j, key in enumerate(bottom):
        for depth in range(len(key) + 1):
            s[where[tuple(key[:depth])], j] = 1.0
    return nodes, s


def shrunk_covariance(errors: np.ndarray) -> np.ndarray:
    """Schäfer-Strimmer shrinkage of the error covariance (rows: observations, columns: nodes)."""
    e = errors - errors.mean(axis=0)
    n = e.shape[0]
    cov = e.T @ e / max(n, 1)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-12, None))
    corr = cov / np.outer(sd, sd)
    x = e / sd
    w = np.einsum("ti,tj->tij", x, x) if e.shape[1] <= MINT_LIMIT else None
    if w is None or n < 2:
        return np.diag(np.diag(cov))
    var_r = w.var(axis=0) * n / (n - 1) ** 2
    off = ~np.eye(e.shape[1], dtype=bool)
    denom = float((corr[off] ** 2).sum())
    lam = float(np.clip(var_r[off].sum() / denom, 0, 1)) if denom > 0 else 1.0
    shrunk = corr * (1 - lam)
    np.fill_diagonal(shrunk, 1.0)
    return shrunk * np.outer(sd, sd)


def reconcile(
    base: np.ndarray, s: np.ndarray, *, errors: np.ndarray | None = None, method: str = "mint_shrink"
) -> tuple[np.ndarray, str]:
    """Reconciled bottom forecasts (n_bottom, h) from base forecasts of every node (n_nodes, h).

    ``errors``: backtest errors (observations, n_nodes) for W. Returns (bottom, method used).
    """
    n_nodes, n_bottom = s.shape
    if method == "bottom_up" or n_bottom == 1:
        bottom = base[n_nodes - n_bottom :] if _bottom_last(s) else np.linalg.pinv(s) @ base
        return np.clip(bottom, 0, None), "bottom_up"
    if errors is None or errors.shape[0] < 2:
        var = s.sum(axis=1)  # structural scaling: a node's variance grows with its bottom count
        w_inv = np.diag(1.0 / var)
        used = "wls_struct"
    elif method == "mint_shrink" and n_nodes <= MINT_LIMIT:
        w = shrunk_covariance(errors)
        w_inv = np.linalg.pinv(w)
        used = "mint_shrink"
    else:
        var = np.clip(errors.var(axis=0), 1e-9, None)
        w_inv = np.diag(1.0 / var)
        used = "wls_var"
    g = np.linalg.solve(s.T @ w_inv @ s, s.T @ w_inv)
    return np.clip(g @ base, 0, None), used


def _bottom_last(s: np.ndarray) -> bool:
    n_nodes, n_bottom = s.shape
    return bool(np.array_equal(s[n_nodes - n_bottom :], np.eye(n_bottom)))


def to_cents(bottom: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Every node's forecast in integer cents: bottom values rounded, aggregates summed (exact)."""
    cents = np.rint(bottom * 100).astype(np.int64)
    return s.astype(np.int64) @ cents
