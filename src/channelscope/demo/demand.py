"""Daily demand of every channel: trend, weekdays, festivals, advertising with known response
curves, traffic, and the KPI shocks injected for anomaly detection.

Expected orders of channel c on day t are ``organic_c(t) + ad_gmv_c(spend_c(t)) / aov_c``, times
any injected shock; visitors are expected orders over the day's conversion rate, so
GMV = visitors x conversion x AOV holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from channelscope.demo import world as W

#: (name, first day, last day, multiplier): festival windows and their effect on demand.
FESTIVAL_EFFECTS = (
    ("双11 预售", "2024-10-14", "2024-10-31", 1.35),
    ("双11", "2024-11-01", "2024-11-10", 1.7),
    ("双11 当天", "2024-11-11", "2024-11-11", 5.0),
    ("双11 之后", "2024-11-12", "2024-11-14", 0.75),
    ("双12", "2024-12-10", "2024-12-11", 1.4),
    ("双12 当天", "2024-12-12", "2024-12-12", 2.2),
    ("年货节", "2025-01-06", "2025-01-22", 1.3),
    ("春节 停运", "2025-01-23", "2025-02-04", 0.45),
    ("女王节", "2025-03-01", "2025-03-07", 1.3),
    ("女王节 当天", "2025-03-08", "2025-03-08", 2.5),
    ("618 预售", "2025-05-13", "2025-05-30", 1.3),
    ("618", "2025-05-31", "2025-06-17", 1.6),
    ("618 当天", "2025-06-18", "2025-06-18", 3.5),
    ("618 之后", "2025-06-19", "2025-06-20", 0.8),
    ("双11 预售", "2025-10-07", "2025-10-31", 1.35),
    ("双11", "2025-11-01", "2025-11-10", 1.7),
    ("双11 当天", "2025-11-11", "2025-11-11", 5.0),
    ("双11 之后", "2025-11-12", "2025-11-14", 0.75),
)
#: Black Friday (own store only) and Douyin mega live sessions: (channel, first, last, multiplier).
CHANNEL_EVENTS = (
    ("own_store", "2024-11-29", "2024-12-02", 1.6),
    ("own_store", "2025-11-28", "2025-11-30", 1.6),
    ("douyin", "2025-04-19", "2025-04-19", 2.5),
    ("douyin", "2025-08-08", "2025-08-08", 2.5),
    ("douyin", "2025-10-20", "2025-10-20", 3.0),
)


@dataclass(frozen=True)
class Shock:
    """A KPI anomaly injected on purpose: multipliers of visitors, orders and prices."""

    channel_id: str
    start: str
    end: str
    kind: str
    visitors: float
    orders: float
    price: float
    description: str


SHOCKS = (
    Shock(
        "tmall",
        "2025-03-18",
        "2025-03-19",
        "traffic_drop",
        0.45,
        0.45,
        1.0,
        "search ranking penalty: visitors and orders fall together",
    ),
    Shock(
        "jd",
        "2025-05-06",
        "2025-05-08",
        "conversion_drop",
        1.0,
        0.40,
        1.0,
        "checkout outage: visitors normal, orders fall",
    ),
    Shock(
        "douyin",
        "2025-09-13",
        "2025-09-13",
        "sales_spike",
        3.0,
        3.5,
        1.0,
        "viral short video: visitors and orders jump",
    ),
    Shock(
        "own_store",
        "2025-08-21",
        "2025-08-23",
        "bot_traffic",
        4.0,
        1.0,
        1.0,
        "bot traffic: visitors x4, orders unchanged (conversion collapses)",
    ),
    Shock(
        "miniprogram", "2025-07-10", "2025-07-10", "outage", 0.2, 0.2, 1.0, "mini-program outage for most of the day"
    ),
    Shock(
        "wechat_resellers",
        "2025-09-01",
        "2025-09-07",
        "sales_drop",
        1.0,
        0.5,
        1.0,
        "reseller network paused after a policy change: orders halve",
    ),
    Shock(
        "tmall",
        "2025-02-20",
        "2025-02-20",
        "price_error",
        1.0,
        1.6,
        0.6,
        "pricing error: 40% off all day, orders up, average order value down",
    ),
)

#: Response curve of each advertised channel: GMV per day (yuan) as a function of spend per day.
#: power: beta * spend**alpha; hill: vmax * spend**n / (k**n + spend**n).
CURVES = {
    "tmall": ("power", {"alpha": 0.6}, 3.0, 1.6),
    "jd": ("power", {"alpha": 0.7}, 2.5, 1.3),
    "douyin": ("hill", {"n": 1.5, "k_over_median": 1.0}, 2.0, 2.0),
    "own_store": ("power", {"alpha": 0.5}, 3.5, 1.2),
    "miniprogram": ("hill", {"n": 1.2, "k_over_median": 1.5}, 4.0, 1.1),
}


@dataclass
class Demand:
    """Daily expectations per channel (rows: days, one frame per channel) and true parameters."""

    days: pd.DatetimeIndex
    frames: dict[str, pd.DataFrame]
    curves: list[dict] = field(default_factory=list)


def _window_mask(days: pd.DatetimeIndex, start: str, end: str) -> np.ndarray:
    return np.asarray((days >= pd.Timestamp(start)) & (days <= pd.Timestamp(end)))


def festival_multiplier(days: pd.DatetimeIndex) -> np.ndarray:
    """The festival multiplier of each day (1 outside festivals)."""
    out = np.ones(len(days))
    for _, s, e, m in FESTIVAL_EFFECTS:
        out[_window_mask(days, s, e)] = m
    return out


def _shape(spec: W.ChannelSpec, days: pd.DatetimeIndex, fest: np.ndarray) -> np.ndarray:
    t = np.arange(len(days)) / max(len(days) - 1, 1)
    dow = np.asarray(days.dayofweek)
    weekly = np.where(dow >= 5, spec.weekend, 1.0)
    if spec.id == "douyin":
        weekly = np.where(dow == 4, 1.1, weekly)
    shape = (1 + spec.growth * t) * weekly * fest**spec.festival_power
    for ch, s, e, m in CHANNEL_EVENTS:
        if ch == spec.id:
            shape[_window_mask(days, s, e)] *= m
    return shape


def _spend_pattern(rng: np.random.Generator, days: pd.DatetimeIndex, fest: np.ndarray) -> np.ndarray:
    """Relative daily ad spend: festival pushes, noise, two dark weeks and a budget step."""
    n = len(days)
    pattern = np.exp(rng.normal(0, 0.25, n)) * np.where(fest > 1, fest**0.6, 1.0)
    quiet = np.flatnonzero(fest == 1)
    for _ in range(2):
        start = int(rng.choice(quiet[quiet < n - 10]))
        pattern[start : start + 7] = 0.0
    step = int(rng.integers(n // 4, 3 * n // 4))
    pattern[step:] *= rng.uniform(1.2, 1.6)
    return pattern


def _response(kind: str, params: dict, spend: np.ndarray) -> np.ndarray:
    if kind == "power":
        return params["beta"] * spend ** params["alpha"]
    s = spend ** params["n"]
    return params["vmax"] * s / (params["k"] ** params["n"] + s)


def demand(rng: np.random.Generator, total_orders: int, aov_cents: dict[str, float]) -> Demand:
    """Expected orders, traffic and ad spend per channel and day for about ``total_orders``."""
    days = W.days()
    fest = festival_multiplier(days)
    frames: dict[str, pd.DataFrame] = {}
    curves: list[dict] = []
    for spec in W.CHANNELS:
        target = total_orders * spec.share
        shape = _shape(spec, days, fest)
        organic = shape * target * (1 - spec.ad_share) / shape.sum()
        frame = pd.DataFrame({"date": days, "organic": organic, "festival": fest})
        frame["ad_orders"] = 0.0
        frame["spend_cents"] = 0
        aov = aov_cents[spec.id] / 100
        if spec.id in CURVES:
            kind, params, roas, over = CURVES[spec.id]
            pattern = _spend_pattern(rng, days, fest)
            ad_gmv_total = target * spec.ad_share * aov
            spend = np.round(pattern * ad_gmv_total / roas / pattern.sum(), 2)
            params = dict(params)
            if kind == "power":
                params["beta"] = ad_gmv_total / float((spend ** params["alpha"]).sum())
            else:
                params["k"] = float(np.median(spend[spend > 0])) * params.pop("k_over_median")
                unit = _response(kind, {**params, "vmax": 1.0}, spend).sum()
                params["vmax"] = ad_gmv_total / float(unit)
            frame["ad_orders"] = _response(kind, params, spend) / aov
            frame["spend_cents"] = np.round(spend * 100).astype(np.int64)
            campaign = next(c for c in W.AD_CAMPAIGNS if c[2] == spec.id)
            curves.append(
                {
                    "channel_id": spec.id,
                    "campaign_id": campaign[0],
                    "platform": campaign[3],
                    "curve": kind,
                    "params": {k: round(float(v), 8) for k, v in params.items()},
                    "formula": (
                        "gmv = beta * spend ** alpha"
                        if kind == "power"
                        else "gmv = vmax * spend ** n / (k ** n + spend ** n)"
                    ),
                    "units": "gmv and spend in yuan per day; no adstock (the effect is same-day)",
                    "aov_yuan": round(aov, 2),
                    "true_roas": roas,
                    "reported_revenue_factor": over,
                }
            )
        frame["price"] = 1.0
        frame["visitor_shock"] = 1.0
        frame["order_shock"] = 1.0
        for shock in SHOCKS:
            if shock.channel_id == spec.id:
                mask = _window_mask(days, shock.start, shock.end)
                frame.loc[mask, "visitor_shock"] = shock.visitors
                frame.loc[mask, "order_shock"] = shock.orders
                frame.loc[mask, "price"] = shock.price
        expected = frame["organic"] + frame["ad_orders"]
        frame["lam"] = expected * frame["order_shock"]
        conversion = spec.conversion * fest**0.25 if spec.conversion else None
        if conversion is not None:
            noise = np.exp(rng.normal(0, 0.05, len(days)))
            visitors = expected / conversion * noise * frame["visitor_shock"]
            frame["visitors"] = np.round(visitors).astype(np.int64)
            frame["impressions"] = np.round(visitors * rng.uniform(25, 35, len(days))).astype(np.int64)
            frame["page_views"] = np.round(visitors * rng.uniform(3.0, 4.2, len(days))).astype(np.int64)
            frame["add_to_cart"] = np.round(visitors * spec.conversion * rng.uniform(2.6, 3.4, len(days))).astype(
                np.int64
            )
        frames[spec.id] = frame
    return Demand(days, frames, curves)


def shocks_as_records() -> list[dict]:
    return [
        {
            "channel_id": s.channel_id,
            "start": s.start,
            "end": s.end,
            "kind": s.kind,
            "multipliers": {"visitors": s.visitors, "orders": s.orders, "price": s.price},
            "description": s.description,
        }
        for s in SHOCKS
    ]


def festivals_as_records() -> list[dict]:
    out = [{"name": n, "start": s, "end": e, "multiplier": m, "channel_id": None} for n, s, e, m in FESTIVAL_EFFECTS]
    out += [
        {"name": "channel event", "start": s, "end": e, "multiplier": m, "channel_id": ch}
        for ch, s, e, m in CHANNEL_EVENTS
    ]
    return out


def festival_power() -> dict[str, float]:
    return {c.id: c.festival_power for c in W.CHANNELS}
