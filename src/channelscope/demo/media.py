"""The media scenario: a seeded demo whose sales respond to ad spend with carry-over (adstock) and
saturation (Hill), and to promotions with a known incremental effect, for the marketing analyses.

It is separate from the seed-7 shop demo (``generate_demo``), which stays byte-for-byte as it was.
``simulate_media`` returns the daily truth in memory; ``generate_media_demo`` writes a project folder
(canonical orders, ad spend, campaigns and touchpoint events, channelscope.yaml, ground_truth.json).

Daily GMV of the brand (yuan) is additive:
``base(t) + sum_p beta_p * hill(adstock_p(spend_p)(t)) + promotion(t) + discount effect``, where the base
holds level, trend, weekdays and the festivals of the built-in calendar, each channel gets a fixed share
of every part, and every channel-day has lognormal noise. A platform's true incremental ROAS is its
contribution summed over the days divided by its spend: removing its spend removes exactly that.
Rerunning with the same seed and another ``split`` (spend multipliers per platform) reuses every random
draw, so the change of GMV is the true effect of the new split.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from channelscope.analysis.adstock import geometric_adstock, hill, weibull_adstock
from channelscope.analysis.commerce_calendar import commerce_events
from channelscope.config.commerce_calendar import CommerceCalendarConfig
from channelscope.demo import exports as X
from channelscope.demo.text import money, ts
from channelscope.model.tables import TABLES

START = dt.date(2024, 1, 1)
DAYS = 730
CHANNELS = ("tmall", "jd", "douyin", "own_store", "miniprogram", "wechat_resellers")
CHANNEL_SHARE = np.array([0.32, 0.2, 0.2, 0.1, 0.1, 0.08])
AOV = {
    "tmall": 260.0,
    "jd": 300.0,
    "douyin": 180.0,
    "own_store": 350.0,
    "miniprogram": 220.0,
    "wechat_resellers": 400.0,
}


@dataclass(frozen=True)
class Platform:
    """An ad platform: its campaign, home channel, mean daily spend (yuan), adstock and Hill parameters
    (``half_sat`` in multiples of its mean adstocked spend), the true incremental ROAS at the base split
    and the factor by which it over-reports revenue."""

    id: str
    campaign_id: str
    channel_id: str
    mean_spend: float
    adstock: str  # geometric | weibull
    decay: float  # geometric: share carried to the next day; weibull: (shape, scale) in ``weibull``
    weibull: tuple[float, float]
    half_sat: float
    shape: float
    true_roas: float
    reported_factor: float


PLATFORMS = (
    Platform("alimama", "ali-wxt", "tmall", 9000, "geometric", 0.5, (0, 0), 1.0, 1.2, 2.2, 1.6),
    Platform("jingzhuntong", "jd-jzt", "jd", 6000, "geometric", 0.3, (0, 0), 0.8, 1.5, 1.6, 1.3),
    Platform("oceanengine", "dy-qc", "douyin", 8000, "geometric", 0.2, (0, 0), 1.2, 1.0, 3.0, 1.8),
    Platform("baidu", "own-sem", "own_store", 3000, "geometric", 0.1, (0, 0), 0.7, 1.3, 1.1, 1.2),
    Platform("tencent_ads", "mini-gdt", "miniprogram", 4000, "geometric", 0.4, (0, 0), 1.0, 1.1, 2.6, 1.4),
    Platform("xiaohongshu", "xhs-seed", "douyin", 3500, "geometric", 0.6, (0, 0), 1.2, 1.0, 1.9, 2.0),
)
#: the scenario's festival calendar, written to channelscope.yaml as ``calendar.commerce.events``: 618 and
#: 双11 split into pre-sale (定金), balance payment (尾款), main day and the days after, as the platforms ran them
CALENDAR: list[dict] = [
    {
        "key": "spring_festival",
        "name": "春节",
        "name_en": "Spring Festival",
        "phases": [{"phase": "logistics_pause", "start": "spring_festival-6", "end": "spring_festival+6"}],
    },
    {
        "key": "618",
        "name": "618",
        "name_en": "618",
        "phases": [
            {"phase": "presale", "start": "05-20", "end": "05-31"},
            {"phase": "balance", "start": "06-01", "end": "06-03"},
            {"phase": "main_day", "start": "06-18", "end": "06-18"},
            {"phase": "after", "start": "06-19", "end": "06-21"},
        ],
    },
    {
        "key": "double11",
        "name": "双11",
        "name_en": "Singles' Day",
        "phases": [
            {"phase": "presale", "start": "10-14", "end": "10-31"},
            {"phase": "balance", "start": "11-01", "end": "11-03"},
            {"phase": "main_day", "start": "11-11", "end": "11-11"},
            {"phase": "after", "start": "11-12", "end": "11-14"},
        ],
    },
    {
        "key": "double12",
        "name": "双12",
        "name_en": "Double 12",
        "phases": [{"phase": "main_day", "start": "12-12", "end": "12-12"}],
    },
]
#: base GMV effect of each festival phase (``key:phase``), as a share of the base level: deposits (定金) lift
#: sales a little, the balance payment (尾款) days and the main day a lot, the days after fall below the base
FESTIVAL_LIFT = {
    "spring_festival:logistics_pause": -0.3,
    "618:presale": 0.1,
    "618:balance": 0.5,
    "618:main_day": 0.9,
    "618:after": -0.12,
    "double11:presale": 0.15,
    "double11:balance": 0.8,
    "double11:main_day": 1.6,
    "double11:after": -0.2,
    "double12:main_day": 0.3,
}


@dataclass(frozen=True)
class Promotion:
    """A promotion with a known effect, as shares of the base level per day: ``lift`` in the window, the
    pre-promotion dip (``dip`` x the window's uplift lost over the ``PRE_DAYS`` before: buyers wait) and the
    hangover (``hangover`` x uplift lost over the ``HANGOVER_DAYS`` after: demand pulled forward). A promotion
    of one channel (``channel_id``) lifts that channel only and takes ``cannibalization`` x its uplift from the
    other channels during the window (shared by their size)."""

    campaign_id: str
    name: str
    start: str
    end: str
    lift: float
    dip: float
    hangover: float
    channel_id: str | None = None
    cannibalization: float = 0.0


PROMOTIONS = (
    Promotion("promo-2024-spring", "2024 春季焕新", "2024-04-10", "2024-04-14", 0.35, 0.1, 0.2),
    Promotion("promo-2024-summer", "2024 夏日囤货", "2024-08-20", "2024-08-25", 0.25, 0.12, 0.2),
    Promotion("promo-dy-2024-11", "2024 抖音超品日", "2024-11-26", "2024-11-29", 0.6, 0.1, 0.15, "douyin", 0.3),
    Promotion("promo-2025-38", "2025 女王节", "2025-03-05", "2025-03-08", 0.5, 0.1, 0.3),
    Promotion("promo-2025-summer", "2025 夏日囤货", "2025-07-15", "2025-07-21", 0.3, 0.1, 0.2),
    Promotion("promo-2025-autumn", "2025 秋季会员日", "2025-09-09", "2025-09-12", 0.4, 0.15, 0.25),
)
PRE_DAYS = 3
HANGOVER_DAYS = 3
LEVEL = 60_000.0  # base GMV per day (yuan) at the start
TREND = 0.3  # base growth over the two years
WEEKDAY = np.array([0.0, -0.02, -0.02, 0.0, 0.05, 0.12, 0.1])  # Monday..Sunday, share of level
DISCOUNT_LIFT = 0.8  # GMV lift per unit of discount rate, share of level
NOISE = 0.04  # lognormal sd of each channel-day


@dataclass
class MediaScenario:
    """The daily truth: ``daily`` (date, channel_id, gmv, base, media, promotion, discount_rate),
    ``spend`` (date x platform, yuan), ``contribution`` (date x platform, yuan) and the ground truth."""

    days: pd.DatetimeIndex
    daily: pd.DataFrame
    spend: pd.DataFrame
    contribution: pd.DataFrame
    truth: dict = field(default_factory=dict)

    def total(self) -> pd.DataFrame:
        """GMV and the discount rate per day, over every channel."""
        t = self.daily.groupby("date", as_index=False).agg(gmv=("gmv", "sum"), discount_rate=("discount_rate", "mean"))
        return t.set_index("date")


def calendar_config() -> CommerceCalendarConfig:
    """The scenario's commerce calendar (``CALENDAR``) as channelscope.yaml's ``calendar.commerce`` reads it."""
    return CommerceCalendarConfig.model_validate({"events": CALENDAR})


def _calendar_days(days: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Festival phase (``key:phase``) -> its days."""
    out: dict[str, np.ndarray] = {}
    for ev in commerce_events(days[0], days[-1], calendar_config()):
        mask = np.asarray((days >= pd.Timestamp(ev.start)) & (days <= pd.Timestamp(ev.end)))
        out[ev.feature] = out.get(ev.feature, np.zeros(len(days), dtype=bool)) | mask
    return out


def _spend(rng: np.random.Generator, days: pd.DatetimeIndex, festival: np.ndarray) -> np.ndarray:
    n = len(days)
    out = np.zeros((n, len(PLATFORMS)))
    for j, p in enumerate(PLATFORMS):
        pattern = np.exp(rng.normal(0, 0.45, n)) * np.where(festival, 1.5, 1.0)
        # a slow budget wave and dark flights (7-14 days) make every platform vary on its own
        pattern *= 1 + 0.35 * np.sin(2 * np.pi * (np.arange(n) / rng.uniform(60, 200) + rng.uniform()))
        for _ in range(3):
            start = int(rng.integers(0, n - 26))
            pattern[start : start + int(rng.integers(10, 26))] = 0.0
        out[:, j] = np.round(pattern * p.mean_spend / pattern.mean(), 2)
    return out


def _transform(p: Platform, spend: np.ndarray) -> np.ndarray:
    if p.adstock == "weibull":
        return weibull_adstock(spend, *p.weibull)
    return geometric_adstock(spend, p.decay)


def simulate_media(seed: int = 7, split: Mapping[str, float] | None = None, days: int = DAYS) -> MediaScenario:
    """The media scenario's daily truth. ``split``: spend multiplier per platform id (1 = as generated);
    every random draw is the same for the same seed, so two splits differ only by the spend's effect."""
    unknown = set(split or {}) - {p.id for p in PLATFORMS}
    if unknown:
        raise ValueError(f"unknown platform(s) in split: {', '.join(sorted(unknown))}")
    rng = np.random.default_rng(seed)
    idx = pd.date_range(START, periods=days, freq="D")
    fest_days = _calendar_days(idx)
    any_fest = np.zeros(days, dtype=bool)
    fest = np.zeros(days)
    for key, mask in fest_days.items():
        fest += FESTIVAL_LIFT.get(key, 0.0) * mask
        any_fest |= mask
    spend = _spend(rng, idx, any_fest)
    noise = rng.normal(0, NOISE, (days, len(CHANNELS)))
    discount = np.clip(0.08 + np.cumsum(rng.normal(0, 0.004, days)), 0.02, 0.2)
    # the betas make each platform's ROAS at the base split its true_roas
    contribution = np.zeros_like(spend)
    truth_platforms = []
    for j, p in enumerate(PLATFORMS):
        ad = _transform(p, spend[:, j])
        k = p.half_sat * float(ad.mean())
        unit = hill(ad, k, p.shape)
        beta = p.true_roas * spend[:, j].sum() / unit.sum()
        factor = float((split or {}).get(p.id, 1.0))
        ad_new = _transform(p, spend[:, j] * factor)
        contribution[:, j] = beta * hill(ad_new, k, p.shape)
        spend[:, j] = np.round(spend[:, j] * factor, 2)
        truth_platforms.append(
            {
                "platform": p.id,
                "campaign_id": p.campaign_id,
                "channel_id": p.channel_id,
                "adstock": p.adstock,
                "decay": p.decay,
                "half_saturation_yuan": round(k, 2),
                "hill_shape": p.shape,
                "beta_yuan_per_day": round(beta, 2),
                "spend": round(float(spend[:, j].sum()), 2),
                "incremental_gmv": round(float(contribution[:, j].sum()), 2),
                "true_roas": round(float(contribution[:, j].sum() / max(spend[:, j].sum(), 1e-9)), 6),
                "reported_revenue_factor": p.reported_factor,
            }
        )
    t = np.arange(days) / (days - 1)
    base = LEVEL * (1 + TREND * t + WEEKDAY[np.asarray(idx.dayofweek)] + fest)
    base = base + LEVEL * DISCOUNT_LIFT * (discount - 0.08)
    # each promotion's effect per channel-day (yuan): its lift, the dip before, the hangover after and what a
    # channel's own promotion takes from the other channels
    promo = np.zeros((days, len(CHANNELS)))
    parts_of: list[dict[str, np.ndarray]] = []
    for pr in PROMOTIONS:
        window = np.asarray((idx >= pd.Timestamp(pr.start)) & (idx <= pd.Timestamp(pr.end)))
        if not window.any():
            parts_of.append({})
            continue
        first, last = int(np.flatnonzero(window)[0]), int(np.flatnonzero(window)[-1])
        before = np.zeros(days, dtype=bool)
        before[max(first - PRE_DAYS, 0) : first] = True
        after = np.zeros(days, dtype=bool)
        after[last + 1 : last + 1 + HANGOVER_DAYS] = True
        own = np.array([pr.channel_id is None or c == pr.channel_id for c in CHANNELS])
        share = np.where(own, CHANNEL_SHARE, 0.0) / CHANNEL_SHARE[own].sum()
        others = np.where(own, 0.0, CHANNEL_SHARE)
        uplift = LEVEL * pr.lift * int(window.sum())
        lift = np.zeros((days, len(CHANNELS)))
        lift[window] = LEVEL * pr.lift * share
        dip = np.zeros_like(lift)
        dip[before] = -uplift * pr.dip / PRE_DAYS * share
        hang = np.zeros_like(lift)
        hang[after] = -uplift * pr.hangover / HANGOVER_DAYS * share
        cannibal = np.zeros_like(lift)
        if others.sum() > 0:
            cannibal[window] = -LEVEL * pr.lift * pr.cannibalization * others / others.sum()
        promo += lift + dip + hang + cannibal
        parts_of.append(
            {
                "window": window,
                "before": before,
                "after": after,
                "lift": lift,
                "dip": dip,
                "hang": hang,
                "can": cannibal,
            }
        )
    # the realised effect: a promotion's part of each channel-day carries that day's noise, as the rest does
    wiggle = np.exp(noise)
    truth_promos = []
    for pr, part in zip(PROMOTIONS, parts_of, strict=True):
        if not part:
            continue
        w = part["window"]
        truth_promos.append(
            {
                "campaign_id": pr.campaign_id,
                "name": pr.name,
                "start": pr.start,
                "end": pr.end,
                "channel_id": pr.channel_id,
                "days": int(w.sum()),
                # over every channel: the promoted channels' gain net of what the others lose in the window
                "true_uplift_gmv": round(float(((part["lift"] + part["can"]) * wiggle)[w].sum()), 2),
                "pre_days": int(part["before"].sum()),
                "true_dip_gmv": round(float((part["dip"] * wiggle)[part["before"]].sum()), 2),
                "hangover_days": int(part["after"].sum()),
                "true_hangover_gmv": round(float((part["hang"] * wiggle)[part["after"]].sum()), 2),
                "true_cannibalization_gmv": round(float((part["can"] * wiggle)[w].sum()), 2),
            }
        )
    media_channel = np.zeros((days, len(CHANNELS)))
    home = {c: i for i, c in enumerate(CHANNELS)}
    for j, p in enumerate(PLATFORMS):
        media_channel[:, home[p.channel_id]] += contribution[:, j]
    parts = []
    for i, c in enumerate(CHANNELS):
        b = base * CHANNEL_SHARE[i]
        effect = promo[:, i]
        # noise on the organic part only keeps the truth additive in spend (a removed platform removes its part)
        organic = (b + effect) * np.exp(noise[:, i])
        gmv = organic + media_channel[:, i]
        parts.append(
            pd.DataFrame(
                {
                    "date": idx,
                    "channel_id": c,
                    "gmv": np.round(gmv, 2),
                    "base": b,
                    "media": media_channel[:, i],
                    "promotion": effect,
                    "discount_rate": discount,
                }
            )
        )
    daily = pd.concat(parts, ignore_index=True)
    names = [p.id for p in PLATFORMS]
    truth = {
        "scenario": "media",
        "seed": seed,
        "start": idx[0].date().isoformat(),
        "end": idx[-1].date().isoformat(),
        "split": {p.id: float((split or {}).get(p.id, 1.0)) for p in PLATFORMS},
        "gmv": round(float(daily["gmv"].sum()), 2),
        "platforms": truth_platforms,
        "promotions": truth_promos,
        "festival_lift": dict(FESTIVAL_LIFT),
        "definitions": {
            "true_roas": "incremental GMV of the platform over the period (GMV with its spend minus GMV "
            "without it) / its spend; yuan per yuan",
            "true_uplift_gmv": "GMV the promotion adds during its window (yuan), over every channel: GMV "
            "of the run minus GMV of the same run without the promotion (designed lift x the days' noise)",
            "true_hangover_gmv": "GMV lost in the days after the window (pull-forward), negative, same basis",
            "true_dip_gmv": "GMV lost in the days before the window (buyers waiting for it), negative, same basis",
            "true_cannibalization_gmv": "GMV the other channels lose during the window of a promotion of one "
            "channel (negative; included in true_uplift_gmv, which is net over every channel)",
            "festival_lift": "GMV effect of each festival phase of calendar.commerce (key:phase), share of the "
            "base level per day",
        },
    }
    return MediaScenario(
        idx,
        daily,
        pd.DataFrame(spend, index=idx, columns=names),
        pd.DataFrame(contribution, index=idx, columns=names),
        truth,
    )


# ---- the project folder ---------------------------------------------------------------------------------


def _orders(sc: MediaScenario, rng: np.random.Generator, aov_scale: float) -> pd.DataFrame:
    """Each channel-day's GMV split into orders of about the channel's AOV x ``aov_scale`` (exact cents)."""
    d = sc.daily
    cents = np.round(d["gmv"].to_numpy() * 100).astype(np.int64)
    aov = d["channel_id"].map(AOV).to_numpy() * aov_scale * 100
    n = np.maximum(1, np.round(cents / aov)).astype(np.int64)
    row = np.repeat(np.arange(len(d)), n)
    k = np.arange(len(row)) - np.repeat(np.cumsum(n) - n, n)
    each = cents[row] // n[row]
    net = each + np.where(k == 0, cents[row] - each * n[row], 0)
    rate = d["discount_rate"].to_numpy()[row]
    gross = np.round(net / (1 - rate)).astype(np.int64)
    seconds = rng.integers(8 * 3600, 23 * 3600, len(row))
    ordered = d["date"].to_numpy()[row] + seconds.astype("timedelta64[s]")
    paid = ordered + rng.integers(30, 900, len(row)).astype("timedelta64[s]")
    channel = d["channel_id"].to_numpy()[row]
    customers = rng.integers(0, max(1000, len(row) // 3), len(row))
    promo_of = np.full(len(row), None, dtype=object)
    dates = pd.DatetimeIndex(d["date"].to_numpy()[row])
    for pr in PROMOTIONS:
        inside = (dates >= pd.Timestamp(pr.start)) & (dates <= pd.Timestamp(pr.end))
        promo_of[inside & ((channel == pr.channel_id) if pr.channel_id else True)] = pr.campaign_id
    return pd.DataFrame(
        {
            "source_order_id": [f"M{i:08d}" for i in range(len(row))],
            "channel_id": channel,
            "customer_key": [f"buyer-{c:06d}" for c in customers],
            "campaign_id": promo_of,
            "ordered_at": ordered,
            "paid_at": paid,
            "status": "completed",
            "currency": "CNY",
            "gross_cents": gross,
            "discount_cents": gross - net,
            "net_cents": net,
        }
    )


def _events(orders: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Touchpoints: 0-3 visits or ad clicks in the 20 days before each order (a platform's campaign, or
    direct), plus journeys of visitors who did not buy."""
    n = len(orders)
    k = rng.integers(0, 4, n)
    row = np.repeat(np.arange(n), k)
    plat = rng.integers(-2, len(PLATFORMS), len(row))  # negative: a direct visit
    back = rng.uniform(0.01, 20, len(row))
    at = orders["ordered_at"].to_numpy()[row] - (back * 86400).astype("timedelta64[s]")
    campaign = np.array([PLATFORMS[i].campaign_id if i >= 0 else None for i in plat], dtype=object)
    channel = np.where(
        plat >= 0,
        np.array([PLATFORMS[max(i, 0)].channel_id for i in plat], dtype=object),
        orders["channel_id"].to_numpy()[row],
    )
    buyer = orders["customer_key"].to_numpy()[row]
    touched = pd.DataFrame(
        {"ts": at, "visitor_key": buyer, "customer_key": buyer, "channel_id": channel, "campaign_id": campaign}
    )
    m = n // 2
    plat = rng.integers(-2, len(PLATFORMS), m)
    lost = pd.DataFrame(
        {
            "ts": orders["ordered_at"].to_numpy()[rng.integers(0, n, m)],
            "visitor_key": [f"visitor-{v:06d}" for v in rng.integers(0, max(1, m // 2), m)],
            "customer_key": None,
            "channel_id": np.array([PLATFORMS[max(i, 0)].channel_id for i in plat], dtype=object),
            "campaign_id": np.array([PLATFORMS[i].campaign_id if i >= 0 else None for i in plat], dtype=object),
        }
    )
    ev = pd.concat([touched, lost], ignore_index=True)
    ev["event_type"] = "view"
    ev["sku"] = None
    return ev.drop_duplicates(["ts", "visitor_key"]).sort_values("ts", kind="stable").reset_index(drop=True)


def _write(frame: pd.DataFrame, folder: Path, rel: str, table: str) -> None:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    X.write_table(X.to_table(frame[TABLES[table].mappable]), path, "utf-8")


def generate_media_demo(folder: Path | str, seed: int = 7, *, aov_scale: float = 1.0, days: int = DAYS) -> dict:
    """Write the media scenario as a project folder; returns its ground truth (also ground_truth.json).

    ``aov_scale`` > 1 makes fewer, larger orders (the daily GMV stays exactly the same).
    """
    folder = Path(folder)
    sc = simulate_media(seed, days=days)
    rng = np.random.default_rng([seed, 1])  # a separate stream: the truth above does not depend on it
    o = _orders(sc, rng, aov_scale)
    canonical = "exports/canonical"
    orders = pd.DataFrame(
        {
            "source_order_id": o["source_order_id"],
            "channel_id": o["channel_id"],
            "customer_key": o["customer_key"],
            "campaign_id": o["campaign_id"],
            "ordered_at": ts(o["ordered_at"]),
            "paid_at": ts(o["paid_at"]),
            "status": o["status"],
            "currency": o["currency"],
            "gross_amount": money(o["gross_cents"]),
            "discount_amount": money(o["discount_cents"]),
            "shipping_amount": money(np.zeros(len(o), dtype=np.int64)),
            "net_amount": money(o["net_cents"]),
        }
    )
    for col in TABLES["orders"].mappable:
        if col not in orders:
            orders[col] = None
    _write(orders, folder, f"{canonical}/orders.csv", "orders")
    ads = []
    for p in PLATFORMS:
        spend = sc.spend[p.id].to_numpy()
        contrib = sc.contribution[p.id].to_numpy()
        reported = np.round(contrib * p.reported_factor * np.exp(rng.normal(0, 0.1, len(spend))) * 100)
        clicks = np.round(spend / 1.5).astype(np.int64)
        ads.append(
            pd.DataFrame(
                {
                    "date": sc.days.strftime("%Y-%m-%d"),
                    "channel_id": p.channel_id,
                    "campaign_id": p.campaign_id,
                    "platform": p.id,
                    "currency": "CNY",
                    "spend": money(np.round(spend * 100)),
                    "impressions": clicks * 40,
                    "clicks": clicks,
                    "reported_conversions": np.round(reported / (AOV[p.channel_id] * 100)).astype(np.int64),
                    "reported_revenue": money(reported),
                }
            )
        )
    _write(pd.concat(ads, ignore_index=True), folder, f"{canonical}/ad_spend.csv", "ad_spend")
    end = sc.days[-1].strftime("%Y-%m-%d 23:59:59")
    camps = [
        {"campaign_id": p.campaign_id, "name": p.id, "kind": "ad", "channel_id": p.channel_id}
        | {"starts_at": sc.days[0].strftime("%Y-%m-%d 00:00:00"), "ends_at": end}
        for p in PLATFORMS
    ]
    camps += [
        {"campaign_id": pr.campaign_id, "name": pr.name, "kind": "promotion", "channel_id": pr.channel_id}
        | {"starts_at": f"{pr.start} 00:00:00", "ends_at": f"{pr.end} 23:59:59"}
        for pr in PROMOTIONS
    ]
    cframe = pd.DataFrame(camps)
    for col in TABLES["campaigns"].mappable:
        if col not in cframe:
            cframe[col] = None
    _write(cframe, folder, f"{canonical}/campaigns.csv", "campaigns")
    ev = _events(o, rng)
    ev["ts"] = ts(ev["ts"])
    _write(ev, folder, f"{canonical}/events.csv", "events")
    config = {
        "project": {"name": "media scenario", "base_currency": "CNY", "timezone": "Asia/Shanghai", "locale": "zh-CN"},
        "warehouse": {"url": "duckdb:///warehouse.duckdb"},
        "channels": [{"id": c, "name": c, "kind": "marketplace", "platform": c, "currency": "CNY"} for c in CHANNELS],
        "sources": [
            {"name": t, "path": f"{canonical}/{t}.csv", "preset": f"canonical_{t}"}
            for t in ("campaigns", "orders", "ad_spend", "events")
        ],
        # the festival phases the scenario's sales follow (618 and 双11 with pre-sale, balance and main day),
        # declared as the brand's calendar: the models' controls are then the phases the truth was made with
        "calendar": {"commerce": {"events": CALENDAR, "statutory_holidays": False}},
    }
    head = f"# channelscope media scenario (seed {seed}): sales respond to ad spend with adstock and saturation.\n"
    (folder / "channelscope.yaml").write_text(
        head + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    truth = dict(sc.truth)
    truth["orders"] = len(o)
    truth["gmv_by_channel"] = {
        c: round(float(v), 2) for c, v in (o.groupby("channel_id")["net_cents"].sum() / 100).items()
    }
    (folder / "ground_truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth
