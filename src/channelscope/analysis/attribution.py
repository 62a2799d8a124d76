"""Multi-touch attribution: who gets the credit for each paid order.

A *touchpoint* is an event of the customer (``events``: a visit or click, with its sales channel and
campaign) in the lookback window before a paid order, plus the order itself as the last touch (its own
channel and campaign/UTM code). A touch without a campaign is *direct*.

Rules models (first, last, last non-direct, linear, time decay, position based) are computed in the
engine over the touch rows with window functions: each order's weights sum to 1, so every model's
credits sum to the paid orders and their GMV. The data-driven models need the distinct paths
(``a>b>c`` with conversions, revenue and non-converting paths), pulled once as an aggregate:

- Markov (order 1-3): removal effects of the absorbing chain (start -> states -> conversion/null),
  solved exactly; the same state construction as the ChannelAttribution package (sliding windows of
  ``order`` channels, consecutive repeats of a state collapsed), which estimates the same quantity
  by simulation.
- Shapley: the value of a coalition S of channels is the conversions (revenue) of the paths whose
  set of channels lies within S (Zhao, Mahboobi, Bagheri 2018, "Shapley value methods for
  attribution modeling in online advertising"); its Shapley value splits each path's conversions
  equally among the distinct channels on it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import spsolve

from channelscope.errors import QueryError

RULES = ("first", "last", "last_non_direct", "linear", "time_decay", "position")
MODELS = (*RULES, "markov", "shapley")
SEP = ">"
#: position based: the first and the last touch get 40% each, the middle ones share 20%
POSITION_ENDS = 0.4


@dataclass(frozen=True)
class AttributionResult:
    """Credits per label (channel or campaign) and model: ``credits`` has the columns label, model,
    conversions (orders, fractional) and revenue (yuan, base currency); ``paths`` the distinct paths."""

    credits: pd.DataFrame
    paths: pd.DataFrame
    conversions: int
    revenue: float
    basis: dict[str, object]

    def table(self, value: str = "conversions") -> pd.DataFrame:
        """The models side by side: one row per label, one column per model."""
        wide = self.credits.pivot_table(index="label", columns="model", values=value, aggfunc="sum", fill_value=0.0)
        return wide.reindex(columns=[m for m in MODELS if m in wide.columns])


# ---- rules models in the engine ---------------------------------------------------------------


def rule_credits(touches: ir.Table, *, half_life_days: float = 7.0) -> ir.Table:
    """Credits of the rules models, computed in the engine.

    ``touches``: one row per touch with ``conversion_id``, ``label``, ``direct`` (bool), ``ts``
    (timestamp), ``converted_at`` (timestamp) and ``revenue`` (the conversion's revenue, yuan).
    Returns one row per label with ``<model>_conversions`` and ``<model>_revenue`` for each of RULES.
    Time decay halves a touch's weight every ``half_life_days`` before the conversion.
    """
    t = touches
    ordered = ibis.window(group_by=t.conversion_id, order_by=[t.ts, t.label])
    whole = ibis.window(group_by=t.conversion_id)
    t = t.mutate(
        _pos=ibis.row_number().over(ordered) + 1,
        _n=t.label.count().over(whole),
        _age=(t.converted_at.epoch_seconds() - t.ts.epoch_seconds()).cast("float64") / 86400.0,
        _rev=t.revenue.cast("float64"),
    )
    t = t.mutate(_decay=ibis.literal(0.5).pow(t._age.clip(lower=0) / half_life_days))
    t = t.mutate(
        _nd=ibis.cases((~t.direct, t._pos), else_=ibis.null("int64")).max().over(whole),
        _decay_sum=t._decay.sum().over(whole),
    )
    n = t._n.cast("float64")
    weights = {
        "first": ibis.ifelse(t._pos == 1, 1.0, 0.0),
        "last": ibis.ifelse(t._pos == t._n, 1.0, 0.0),
        "last_non_direct": ibis.ifelse(t._pos == t._nd.fill_null(t._n), 1.0, 0.0),
        "linear": 1.0 / n,
        "time_decay": t._decay / t._decay_sum,
        "position": ibis.cases(
            (t._n == 1, 1.0),
            (t._n == 2, 0.5),
            ((t._pos == 1) | (t._pos == t._n), POSITION_ENDS),
            else_=(1.0 - 2 * POSITION_ENDS) / (n - 2),
        ),
    }
    aggs: dict[str, ir.Value] = {}
    for model, w in weights.items():
        aggs[f"{model}_conversions"] = w.sum()
        aggs[f"{model}_revenue"] = (w * t._rev).sum()
    return t.group_by("label").aggregate(**aggs)


def rules_long(wide: pd.DataFrame) -> pd.DataFrame:
    """``rule_credits`` executed -> long rows (label, model, conversions, revenue)."""
    rows = []
    for model in RULES:
        part = wide[["label", f"{model}_conversions", f"{model}_revenue"]].copy()
        part.columns = ["label", "conversions", "revenue"]
        part.insert(1, "model", model)
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


def path_counts(touches: ir.Table, nulls: ir.Table | None = None, *, max_touches: int = 20) -> ir.Table:
    """Distinct paths with conversions, revenue and non-converting paths, computed in the engine.

    ``touches`` as for ``rule_credits``; ``nulls``: touches of journeys without a conversion, with
    ``journey_id``, ``label`` and ``ts``. A path keeps its last ``max_touches`` touches.
    """
    per = _paths(touches.rename(journey_id="conversion_id"), max_touches)
    out = per.group_by("path").aggregate(conversions=per.count(), revenue=per.rev.sum(), nulls=ibis.literal(0))
    if nulls is None:
        return out
    lost = _paths(nulls.mutate(revenue=ibis.literal(0.0)), max_touches)
    lost = lost.group_by("path").aggregate(
        conversions=ibis.literal(0).cast("int64"), revenue=ibis.literal(0.0), nulls=lost.count()
    )
    both = out.mutate(nulls=out.nulls.cast("int64")).union(lost)
    return both.group_by("path").aggregate(
        conversions=both.conversions.sum(), revenue=both.revenue.sum(), nulls=both.nulls.sum()
    )


def _paths(t: ir.Table, max_touches: int) -> ir.Table:
    ordered = ibis.window(group_by=t.journey_id, order_by=[t.ts, t.label])
    whole = ibis.window(group_by=t.journey_id)
    t = t.mutate(_pos=ibis.row_number().over(ordered), _n=t.label.count().over(whole))
    t = t.filter(t._pos >= t._n - max_touches)
    joined = t.group_by("journey_id").aggregate(
        path=t.label.group_concat(SEP, order_by=[t._pos]), rev=t.revenue.cast("float64").max()
    )
    return joined


# ---- data-driven models over distinct paths -----------------------------------------------------


def _split(path: str) -> list[str]:
    return [p.strip() for p in str(path).split(SEP) if p.strip()]


def _states(channels: list[str], order: int) -> list[tuple[str, ...]]:
    """Sliding windows of ``order`` channels (the whole path when shorter); repeats collapsed."""
    windows = [tuple(channels[i : i + order]) for i in range(max(1, len(channels) - order + 1))]
    out: list[tuple[str, ...]] = []
    for w in windows:
        if not out or out[-1] != w:
            out.append(w)
    return out


def markov_removal(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """Removal effects of each channel (conversion and value), from the absorbing Markov chain of order
    ``order`` (1-3) over ``paths`` (path, conversions, revenue, nulls): one row per channel with
    ``removal`` and ``removal_value`` (fraction of conversions / revenue lost without the channel)."""
    if order not in (1, 2, 3):
        raise QueryError(f"Markov order must be 1, 2 or 3 (got {order})")
    index: dict[tuple[str, ...], int] = {(): 0}  # () is the start state
    counts: dict[tuple[int, int], float] = {}
    conv: dict[int, float] = {}
    value: dict[int, float] = {}
    out_total: dict[int, float] = {}
    channels: set[str] = set()
    for path, c, rev, nul in paths[["path", "conversions", "revenue", "nulls"]].itertuples(index=False):
        seq = _split(path)
        if not seq or (c + nul) <= 0:
            continue
        channels.update(seq)
        visited = [index.setdefault(s, len(index)) for s in _states(seq, order)]
        prev = 0
        for s in visited:
            counts[(prev, s)] = counts.get((prev, s), 0.0) + c + nul
            out_total[prev] = out_total.get(prev, 0.0) + c + nul
            prev = s
        conv[prev] = conv.get(prev, 0.0) + c
        value[prev] = value.get(prev, 0.0) + float(rev)
        out_total[prev] = out_total.get(prev, 0.0) + c + nul
    n = len(index)
    rows, cols, probs = [], [], []
    for (i, j), k in counts.items():
        rows.append(i)
        cols.append(j)
        probs.append(k / out_total[i])
    q = sparse.csr_matrix((probs, (rows, cols)), shape=(n, n))
    r = np.zeros(n)
    rv = np.zeros(n)
    for s, k in conv.items():
        r[s] = k / out_total[s]
        rv[s] = value[s] / out_total[s]  # P(convert from s) x mean value of those conversions
    states: list[tuple[str, ...]] = list(index)
    base, base_v = _absorb(q, r, rv, np.ones(n, dtype=bool))
    out = []
    for ch in sorted(channels):
        keep = np.array([ch not in s for s in states])
        p, pv = _absorb(q, r, rv, keep)
        out.append(
            {
                "label": ch,
                "removal": 1 - p / base if base > 0 else math.nan,
                "removal_value": 1 - pv / base_v if base_v > 0 else math.nan,
            }
        )
    return pd.DataFrame(out, columns=["label", "removal", "removal_value"])


def _absorb(q: sparse.csr_matrix, r: np.ndarray, rv: np.ndarray, keep: np.ndarray) -> tuple[float, float]:
    """P(conversion) and expected value from the start state when the states not kept go to null.

    Solves x = r + Q x by iterating (every path ends, so the chain is absorbing and the iteration
    converges geometrically); a direct sparse LU fills in badly on order-3 chains."""
    mask = sparse.diags(keep.astype(float))
    qk = (mask @ q @ mask).tocsr()
    b = np.column_stack([r * keep, rv * keep])
    x = b.copy()
    for _ in range(100_000):
        nxt = b + qk @ x
        if np.abs(nxt - x).max() <= 1e-13 * max(float(np.abs(nxt).max()), 1e-300):
            x = nxt
            break
        x = nxt
    else:
        x = np.asarray(spsolve((sparse.identity(q.shape[0], format="csc") - qk).tocsc(), b)).reshape(-1, 2)
    return float(x[0, 0]), float(x[0, 1])


def markov_credits(paths: pd.DataFrame, order: int = 1) -> pd.DataFrame:
    """Conversions and revenue credited per channel by the Markov removal effect: each channel gets the
    total times its removal effect over the sum of removal effects (as ChannelAttribution does)."""
    re = markov_removal(paths, order)
    total_c = float(paths["conversions"].sum())
    total_v = float(paths["revenue"].sum())
    sc, sv = re["removal"].sum(), re["removal_value"].sum()
    return pd.DataFrame(
        {
            "label": re["label"],
            "model": "markov",
            "conversions": total_c * re["removal"] / sc if sc > 0 else math.nan,
            "revenue": total_v * re["removal_value"] / sv if sv > 0 else math.nan,
        }
    )


def shapley_credits(paths: pd.DataFrame) -> pd.DataFrame:
    """Shapley credits with v(S) = conversions (revenue) of the converting paths whose channels all lie
    in S: each path's conversions and revenue split equally among its distinct channels."""
    conv = paths[paths["conversions"] > 0]
    credit: dict[str, list[float]] = {}
    for path, c, rev in conv[["path", "conversions", "revenue"]].itertuples(index=False):
        members = sorted(set(_split(path)))
        for ch in members:
            acc = credit.setdefault(ch, [0.0, 0.0])
            acc[0] += c / len(members)
            acc[1] += float(rev) / len(members)
    return pd.DataFrame(
        [{"label": k, "model": "shapley", "conversions": v[0], "revenue": v[1]} for k, v in sorted(credit.items())],
        columns=["label", "model", "conversions", "revenue"],
    )


def shapley_brute_force(paths: pd.DataFrame, value: str = "conversions") -> dict[str, float]:
    """The Shapley value by its definition (every coalition), for checking ``shapley_credits`` on small
    sets of channels (exponential: at most 12 channels)."""
    conv = paths[paths["conversions"] > 0]
    sets = [(frozenset(_split(p)), float(v)) for p, v in conv[["path", value]].itertuples(index=False)]
    players = sorted(set().union(*(s for s, _ in sets))) if sets else []
    if len(players) > 12:
        raise QueryError("brute-force Shapley is for at most 12 channels")
    n = len(players)

    def v(coalition: frozenset[str]) -> float:
        return sum(w for s, w in sets if s <= coalition)

    out = {}
    for p in players:
        others = [q for q in players if q != p]
        total = 0.0
        for k in range(n):
            weight = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for combo in itertools.combinations(others, k):
                s = frozenset(combo)
                total += weight * (v(s | {p}) - v(s))
        out[p] = total
    return out


def attribute(
    rules: pd.DataFrame,
    paths: pd.DataFrame,
    *,
    markov_order: int = 1,
    models: Sequence[str] = MODELS,
    basis: dict[str, object] | None = None,
) -> AttributionResult:
    """Assemble every model's credits: ``rules`` is ``rule_credits`` executed, ``paths`` ``path_counts``."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise QueryError(f"unknown attribution model(s): {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    parts = []
    if any(m in RULES for m in models) and not rules.empty:
        long = rules_long(rules)
        parts.append(long[long["model"].isin(models)])
    if "markov" in models and not paths.empty:
        parts.append(markov_credits(paths, markov_order))
    if "shapley" in models and not paths.empty:
        parts.append(shapley_credits(paths))
    columns = ["label", "model", "conversions", "revenue"]
    credits = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    conversions = int(paths["conversions"].sum()) if not paths.empty else 0
    revenue = float(paths["revenue"].sum()) if not paths.empty else 0.0
    return AttributionResult(credits, paths, conversions, revenue, dict(basis or {}))
