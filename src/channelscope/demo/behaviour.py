"""Behaviour events of the demo (``exports/canonical/events.csv``) with known funnel rates.

Each session belongs to one visitor of one channel and looks at one product category: 1-3 views of SKUs of
that category (10-90 s apart), then with the channel's engagement rate a cart or a favourite (the channel's
cart share) 20-300 s after the last view, then, only after an engagement, a purchase 60-1,200 s later with the
channel's purchase rate times the category's factor. A visitor's sessions fall on different days between 08:00
and 22:00, so the 30-minute session rule finds exactly the generated sessions. The truth (the rates drawn
from, and the realised counts and medians the analysis must reproduce) goes into ground_truth.json under
``behaviour``. Its own random stream: the other demo files do not change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from channelscope.demo import canonical as C
from channelscope.demo import world as W

#: channel -> (engagement rate after a view, cart share of engagements, purchase rate after an engagement)
FUNNEL_RATES: dict[str, tuple[float, float, float]] = {
    "tmall": (0.30, 0.70, 0.40),
    "jd": (0.25, 0.80, 0.45),
    "douyin": (0.15, 0.60, 0.30),
    "own_store": (0.20, 0.75, 0.35),
    "miniprogram": (0.22, 0.70, 0.38),
}
#: product category -> factor on the purchase rate (others 1.0)
CATEGORY_FACTOR: dict[str, float] = {"套装": 1.2, "面膜": 1.1, "眼霜": 0.8}
#: sessions per demo size
SESSIONS: dict[str, int] = {"small": 20_000, "medium": 100_000, "large": 400_000}
VIEW_GAP_S = (10, 90)
ENGAGE_DELAY_S = (20, 300)
PURCHASE_DELAY_S = (60, 1200)


def generate(folder: Path, size: str, seed: int, products: pd.DataFrame) -> dict:
    """Write ``exports/canonical/events.csv``; returns the truth for ground_truth.json."""
    rng = np.random.default_rng([seed, 14])
    n = SESSIONS[size]
    channels = list(FUNNEL_RATES)
    # visitors with 1-4 sessions each, on days at least one apart
    per_visitor = rng.integers(1, 5, n)
    per_visitor = per_visitor[np.cumsum(per_visitor) <= n]
    n = int(per_visitor.sum())
    nv = len(per_visitor)
    visitor = np.repeat(np.arange(nv), per_visitor)
    first = np.cumsum(per_visitor) - per_visitor
    days = (W.END - W.START).days + 1
    start_day = rng.integers(0, days, nv)
    step_days = rng.integers(1, 10, n)
    step_days[first] = 0
    day = np.repeat(start_day, per_visitor) + (
        np.cumsum(step_days) - np.repeat(np.cumsum(step_days)[first], per_visitor)
    )
    keep = day < days  # a visitor's later sessions past the last day are not in the export
    visitor, day, n = visitor[keep], day[keep], int(keep.sum())
    chan_of_visitor = rng.choice(len(channels), nv, p=[0.35, 0.25, 0.2, 0.1, 0.1])
    chan = np.array(channels, dtype=object)[chan_of_visitor[visitor]]
    start = day * 86400 + rng.integers(8 * 3600, 20 * 3600, n)
    cats = sorted(products["category"].unique())
    cat = np.array(cats, dtype=object)[rng.integers(0, len(cats), n)]
    rates = np.array([FUNNEL_RATES[c] for c in chan])
    factor = np.array([CATEGORY_FACTOR.get(c, 1.0) for c in cat])
    n_views = rng.integers(1, 4, n)
    engaged = rng.random(n) < rates[:, 0]
    cart = engaged & (rng.random(n) < rates[:, 1])
    bought = engaged & (rng.random(n) < rates[:, 2] * factor)
    # views
    vs = np.repeat(np.arange(n), n_views)
    vfirst = np.cumsum(n_views) - n_views
    gaps = rng.integers(*VIEW_GAP_S, len(vs))
    gaps[vfirst] = 0
    vt = np.repeat(start, n_views) + np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[vfirst], n_views)
    last_view = vt[vfirst + n_views - 1]
    sku_by_cat = {c: products.loc[products["category"] == c, "sku"].to_numpy() for c in cats}
    pick = rng.random(len(vs))
    vsku = np.array([sku_by_cat[cat[s]][int(u * len(sku_by_cat[cat[s]]))] for s, u in zip(vs, pick, strict=True)])
    engage_at = last_view + rng.integers(*ENGAGE_DELAY_S, n)
    buy_at = engage_at + rng.integers(*PURCHASE_DELAY_S, n)
    last_sku = vsku[vfirst + n_views - 1]
    e_idx = np.flatnonzero(engaged)
    b_idx = np.flatnonzero(bought)
    frames = [
        pd.DataFrame({"s": vs, "t": vt, "event_type": "view", "sku": vsku}),
        pd.DataFrame(
            {
                "s": e_idx,
                "t": engage_at[e_idx],
                "event_type": np.where(cart[e_idx], "cart", "favorite"),
                "sku": last_sku[e_idx],
            }
        ),
        pd.DataFrame({"s": b_idx, "t": buy_at[b_idx], "event_type": "purchase", "sku": last_sku[b_idx]}),
    ]
    ev = pd.concat(frames, ignore_index=True).sort_values(["t", "s"], kind="stable")
    origin = np.datetime64(W.START.isoformat(), "s")
    ev["ts"] = pd.DatetimeIndex(origin + ev["t"].to_numpy().astype("timedelta64[s]")).strftime("%Y-%m-%d %H:%M:%S")
    ev["visitor_key"] = [f"visitor-{v:07d}" for v in visitor[ev["s"].to_numpy()]]
    ev["channel_id"] = chan[ev["s"].to_numpy()]
    for col in C.header("events"):
        if col not in ev:
            ev[col] = None
    C.write(ev, folder, "exports/canonical/events.csv", "events")
    return _truth(chan, cat, engaged, cart, bought, engage_at - vt[vfirst], buy_at - engage_at, len(ev))


def _truth(
    chan: np.ndarray,
    cat: np.ndarray,
    engaged: np.ndarray,
    cart: np.ndarray,
    bought: np.ndarray,
    to_engage: np.ndarray,
    to_buy: np.ndarray,
    events: int,
) -> dict:
    s = pd.DataFrame(
        {
            "channel_id": chan,
            "category": cat,
            "engaged": engaged,
            "carted": cart,
            "favorited": engaged & ~cart,
            "purchased": bought,
            "to_engage": np.where(engaged, to_engage, np.nan),
            "to_buy": np.where(bought, to_buy, np.nan),
        }
    )

    def counts(g: pd.DataFrame) -> dict:
        return {
            "viewed": len(g),
            "engaged": int(g["engaged"].sum()),
            "carted": int(g["carted"].sum()),
            "favorited": int(g["favorited"].sum()),
            "purchased": int(g["purchased"].sum()),
            "median_view_to_engage_s": float(g["to_engage"].median()),
            "median_engage_to_purchase_s": float(g["to_buy"].median()),
        }

    paths = np.where(bought, np.where(cart, "view>cart>purchase", "view>favorite>purchase"), "view")
    paths = np.where(engaged & ~bought, np.where(cart, "view>cart", "view>favorite"), paths)
    return {
        "definition": (
            "one session = one visitor x channel, a new session after 30 minutes without an event; funnel unit ="
            " session x category: viewed -> engaged (cart or favourite after the first view) -> purchased (after"
            " the engagement). rates: engage, cart share of engagements, purchase after engagement (x category"
            " factor); counts and medians (seconds) are the realised ones"
        ),
        "events": events,
        "sessions": len(s),
        "sessions_by_channel": {k: int(v) for k, v in s.groupby("channel_id").size().items()},
        "rates": {c: {"engage": r[0], "cart_share": r[1], "purchase": r[2]} for c, r in FUNNEL_RATES.items()},
        "category_factor": dict(CATEGORY_FACTOR),
        "funnel_by_channel": {str(k): counts(g) for k, g in s.groupby("channel_id")},
        "funnel_by_channel_category": {f"{a}/{b}": counts(g) for (a, b), g in s.groupby(["channel_id", "category"])},
        "paths": {str(k): int(v) for k, v in pd.Series(paths).value_counts().sort_index().items()},
    }
