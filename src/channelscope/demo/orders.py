"""Orders, their lines and their life (paid, shipped, completed, refunded), vectorized.

The result is the demo's truth in canonical terms: one row per order with every timestamp of its
life (local Asia/Shanghai wall time) and money in integer fen of the order's currency, plus one
row per line. ``state_at`` tells what an export taken at a given time shows of each order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from channelscope.demo import world as W
from channelscope.demo.demand import Demand

S = np.timedelta64(1, "s")
#: Relative weight of each hour of the day, by channel (live commerce peaks in the evening).
_HOURS = np.array([2, 1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 8, 7, 7, 7, 8, 9, 11, 13, 14, 12, 6], float)
_HOURS_LIVE = np.array([3, 2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 5, 5, 5, 6, 7, 9, 14, 18, 20, 18, 9], float)
#: Share of USD orders at the own store (overseas buyers), converted with the daily FX rate.
USD_SHARE = 0.06


@dataclass
class Sales:
    """The demo's orders and lines (truth), FX rates and the customer pool."""

    orders: pd.DataFrame
    lines: pd.DataFrame
    fx: pd.DataFrame  # date, rate4 (CNY per USD x 10^4)
    customers: pd.DataFrame
    products: pd.DataFrame
    distributors: list[W.DistributorSpec]


def fx_rates(rng: np.random.Generator) -> pd.DataFrame:
    """USD->CNY daily rates (4 decimals), a random walk around 7.15, from a week before START."""
    days = pd.date_range(W.START - dt.timedelta(days=7), W.AS_OF.date(), freq="D")
    walk = 7.15 + np.cumsum(rng.normal(0, 0.008, len(days)))
    rate4 = np.round(np.clip(walk, 6.95, 7.35) * 10_000).astype(np.int64)
    return pd.DataFrame({"date": days, "rate4": rate4})


def expected_aov_cents(products: pd.DataFrame) -> dict[str, float]:
    """Rough expected net order value per channel (for turning ad GMV into orders)."""
    out = {}
    for spec in W.CHANNELS:
        w = _sku_weights(products, spec.id)
        price = float((products["list_cents"] * w).sum()) * spec.price_factor
        lines = spec.one_line + 2 * (1 - spec.one_line) * 2 / 3 + 3 * (1 - spec.one_line) / 3
        out[spec.id] = price * lines * 1.30 * 0.97
    return out


def _sku_weights(products: pd.DataFrame, channel_id: str) -> np.ndarray:
    w = products["weight"].to_numpy().copy()
    if channel_id == "douyin":
        w = w * np.where(products["category"].isin(["套装", "面膜"]), 3.0, 1.0)
    if channel_id == "wechat_resellers":
        w = w * np.where(products["category"].isin(["套装", "精华"]), 2.0, 1.0)
    return w / w.sum()


def _order_times(rng: np.random.Generator, demand: Demand) -> pd.DataFrame:
    parts = []
    for spec in W.CHANNELS:
        frame = demand.frames[spec.id]
        counts = rng.poisson(frame["lam"].to_numpy())
        day = np.repeat(np.arange(len(frame)), counts)
        hours = _HOURS_LIVE if spec.id == "douyin" else _HOURS
        hour = rng.choice(24, size=len(day), p=hours / hours.sum())
        secs = hour * 3600 + rng.integers(0, 3600, len(day))
        at = demand.days.values[day].astype("datetime64[s]") + secs * S
        parts.append(pd.DataFrame({"channel_id": spec.id, "day": day, "ordered_at": at}))
    out = pd.concat(parts, ignore_index=True).sort_values("ordered_at", kind="stable", ignore_index=True)
    out["seq"] = out.groupby("channel_id").cumcount()
    out.index.name = "oid"
    return out


def _assign_customers(rng: np.random.Generator, orders: pd.DataFrame) -> np.ndarray:
    """New buyers arrive over time; repeat orders come from earlier buyers, mostly of the same
    channel (home channel), sometimes from any channel (the cross-channel shoppers)."""
    n = len(orders)
    t = orders["day"].to_numpy() / max(int(orders["day"].max()), 1)
    is_new = rng.random(n) < 0.75 - 0.25 * t
    is_new[0] = True
    new_ids = np.cumsum(is_new) - 1
    n_customers = int(is_new.sum())
    prop = rng.gamma(0.6, 1.0, n_customers) + 0.05
    home = orders["channel_id"].to_numpy()[is_new]
    cust = np.where(is_new, new_ids, -1)
    avail = new_ids + 1 - is_new  # customers acquired strictly before this order
    rep = np.flatnonzero(~is_new)
    cw = np.cumsum(prop)
    u = rng.random(len(rep))
    pick = np.searchsorted(cw, u * cw[avail[rep] - 1], side="right")
    same = rng.random(len(rep)) < 0.7
    chan = orders["channel_id"].to_numpy()
    for cid in W.CHANNEL_IDS:
        ids_c = np.flatnonzero(home == cid)
        if not len(ids_c):
            continue
        sel = np.flatnonzero(same & (chan[rep] == cid))
        n_av = np.searchsorted(ids_c, avail[rep[sel]])
        ok = n_av > 0
        sel, n_av = sel[ok], n_av[ok]
        cw_c = np.cumsum(prop[ids_c])
        pos = np.searchsorted(cw_c, rng.random(len(sel)) * cw_c[n_av - 1], side="right")
        pick[sel] = ids_c[np.minimum(pos, n_av - 1)]
    cust[rep] = np.minimum(pick, avail[rep] - 1)
    return cust


def _lines(
    rng: np.random.Generator, orders: pd.DataFrame, products: pd.DataFrame, demand: Demand, fx: pd.DataFrame
) -> pd.DataFrame:
    n_lines = np.ones(len(orders), dtype=np.int64)
    chan = orders["channel_id"].to_numpy()
    for spec in W.CHANNELS:
        idx = np.flatnonzero(chan == spec.id)
        u = rng.random(len(idx))
        n_lines[idx] = np.where(u < spec.one_line, 1, np.where(u < spec.one_line + (1 - spec.one_line) * 2 / 3, 2, 3))
    oid = np.repeat(orders.index.to_numpy(), n_lines)
    line_no = np.arange(len(oid)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    sku = np.empty(len(oid), dtype=np.int64)
    lchan = chan[oid]
    for spec in W.CHANNELS:
        m = lchan == spec.id
        sku[m] = rng.choice(len(products), size=int(m.sum()), p=_sku_weights(products, spec.id))
    for _ in range(8):  # one line per SKU within an order, as platforms merge equal items
        again = pd.DataFrame({"o": oid, "s": sku}).duplicated().to_numpy()
        if not again.any():
            break
        sku[again] = (sku[again] + rng.integers(1, len(products), int(again.sum()))) % len(products)
    qty = rng.choice([1, 2, 3], size=len(oid), p=[0.76, 0.18, 0.06])
    factor = np.array([W.channel(c).price_factor for c in W.CHANNEL_IDS])[
        pd.Categorical(lchan, categories=W.CHANNEL_IDS).codes
    ]
    day = orders["day"].to_numpy()[oid]
    fest = demand.frames["tmall"]["festival"].to_numpy()[day]
    shock = np.ones(len(oid))
    for spec in W.CHANNELS:
        m = lchan == spec.id
        shock[m] = demand.frames[spec.id]["price"].to_numpy()[day[m]]
    factor = factor * np.where(fest > 1, 0.88, 1.0) * shock * rng.uniform(0.97, 1.0, len(oid))
    unit = np.round(products["list_cents"].to_numpy()[sku] * factor / 10).astype(np.int64) * 10
    usd = orders["currency"].to_numpy()[oid] == "USD"
    if usd.any():
        rate4 = _rate4_on(fx, orders["ordered_at"].to_numpy()[oid[usd]])
        unit[usd] = np.round(unit[usd] * 10_000 / rate4).astype(np.int64)
    return pd.DataFrame(
        {
            "oid": oid,
            "line_no": line_no,
            "sku": products["sku"].to_numpy()[sku],
            "quantity": qty,
            "unit_cents": unit,
            "amount_cents": unit * qty,
        }
    )


def _rate4_on(fx: pd.DataFrame, at: np.ndarray) -> np.ndarray:
    dates = at.astype("datetime64[D]")
    pos = np.searchsorted(fx["date"].to_numpy().astype("datetime64[D]"), dates, side="right") - 1
    return fx["rate4"].to_numpy()[pos]


def _money(rng: np.random.Generator, orders: pd.DataFrame, lines: pd.DataFrame, fest: np.ndarray) -> None:
    gross = np.bincount(lines["oid"], weights=lines["amount_cents"], minlength=len(orders)).astype(np.int64)
    chan = orders["channel_id"].to_numpy()
    festive = fest[orders["day"].to_numpy()] > 1
    coupon = rng.random(len(orders)) < np.where(festive, 0.6, 0.25)
    threshold = np.where(orders["currency"] == "USD", 4_000, 30_000)
    step = np.where(orders["currency"] == "USD", 500, 3_000)
    full_reduction = (gross // threshold) * step
    small = rng.choice([500, 1_000, 2_000], size=len(orders))
    discount = np.where(full_reduction > 0, full_reduction, np.minimum(small, gross // 5))
    discount = np.where(coupon & (chan != "wechat_resellers"), discount, 0)
    free_from = np.where(chan == "own_store", 19_900, 9_900)
    fee = np.where(chan == "douyin", 0, np.where(chan == "own_store", 1_000, 800))
    shipping = np.where(orders["currency"] == "USD", 1_500, np.where(gross < free_from, fee, 0))
    orders["gross_cents"] = gross
    orders["discount_cents"] = discount.astype(np.int64)
    orders["shipping_cents"] = shipping.astype(np.int64)
    orders["net_cents"] = gross - orders["discount_cents"] + orders["shipping_cents"]


def _life(rng: np.random.Generator, orders: pd.DataFrame) -> None:
    n = len(orders)
    chan = orders["channel_id"].to_numpy()
    unpaid_p = np.zeros(n)
    refund_p = np.zeros(n)
    for spec in W.CHANNELS:
        m = chan == spec.id
        unpaid_p[m] = spec.unpaid
        refund_p[m] = spec.refund
    at = orders["ordered_at"].to_numpy()
    paid = rng.random(n) >= unpaid_p
    secs = lambda lo, hi: rng.integers(lo, hi, n) * S  # noqa: E731
    orders["paid_at"] = np.where(paid, at + (5 + rng.exponential(120, n).astype(np.int64)) * S, np.datetime64("NaT"))
    orders["close_at"] = np.where(paid, np.datetime64("NaT"), at + np.where(chan == "douyin", 1800, 86_400) * S)
    orders["ship_at"] = np.where(paid, orders["paid_at"].to_numpy() + secs(6 * 3600, 48 * 3600), np.datetime64("NaT"))
    orders["complete_at"] = np.where(
        paid, orders["ship_at"].to_numpy() + secs(3 * 86_400, 10 * 86_400), np.datetime64("NaT")
    )
    refund = paid & (rng.random(n) < refund_p)
    full = refund & (rng.random(n) < 0.7)
    delay = (3600 + rng.exponential(5 * 86_400, n).astype(np.int64)) * S
    orders["refund_at"] = np.where(refund, orders["paid_at"].to_numpy() + delay, np.datetime64("NaT"))
    partial = np.round(orders["net_cents"].to_numpy() * rng.uniform(0.15, 0.5, n)).astype(np.int64)
    orders["refund_cents"] = np.where(full, orders["net_cents"], np.where(refund, partial, 0))
    orders["refund_full"] = full


def _distributors(rng: np.random.Generator, orders: pd.DataFrame, dists: list[W.DistributorSpec]) -> None:
    out = np.full(len(orders), None, dtype=object)
    chan = orders["channel_id"].to_numpy()
    day = orders["ordered_at"].to_numpy().astype("datetime64[D]")
    for cid, share in (("douyin", 0.6), ("wechat_resellers", 1.0)):
        pool = [d for d in dists if d.channel_id == cid]
        idx = np.flatnonzero((chan == cid) & (rng.random(len(orders)) < share))
        w = np.array([d.weight for d in pool])
        pick = rng.choice(len(pool), size=len(idx), p=w / w.sum())
        joined = np.array([np.datetime64(d.joined_at) for d in pool])[pick]
        left = np.array(
            [
                np.datetime64(W.START + dt.timedelta(days=200))
                if d.status == "inactive"
                else np.datetime64("2100-01-01")
                for d in pool
            ]
        )[pick]
        early = [i for i, d in enumerate(pool) if d.tier == 1 and d.joined_at < W.START]
        bad = (day[idx] < joined) | (day[idx] >= left)
        pick[bad] = rng.choice(early, size=int(bad.sum()))
        out[idx] = np.array([d.id for d in pool], dtype=object)[pick]
    orders["distributor_id"] = out


def _source_ids(orders: pd.DataFrame, rng: np.random.Generator) -> None:
    seq = orders["seq"].to_numpy().astype(np.int64)
    chan = orders["channel_id"].to_numpy()
    jitter = rng.integers(0, 1000, len(orders))
    ids = np.empty(len(orders), dtype=object)
    fmt = {
        "tmall": lambda s, j: (3_912_000_000_000_000_000 + s * 10_007_000 + j * 1_009).astype(str),
        "jd": lambda s, j: (301_000_000_000 + s * 1_000 + j).astype(str),
        "douyin": lambda s, j: (6_924_000_000_000_000_000 + s * 7_000_000 + j * 3_001).astype(str),
        "own_store": lambda s, j: np.char.add("#", (10_001 + s).astype(str)),
        "miniprogram": lambda s, j: np.char.add("MP", (50_000_000 + s * 13 + j % 13).astype(str)),
        "wechat_resellers": lambda s, j: np.char.add("WX", (20_000_000 + s * 17 + j % 17).astype(str)),
    }
    for cid, f in fmt.items():
        m = chan == cid
        ids[m] = f(seq[m], jitter[m])
    orders["source_order_id"] = ids


def _attribution(rng: np.random.Generator, orders: pd.DataFrame) -> None:
    """utm and campaign codes, carried only by the mini-program's own (canonical) export."""
    n = len(orders)
    mini = orders["channel_id"].to_numpy() == "miniprogram"
    src = rng.choice(["wechat", "moments", "official_account", "search"], size=n, p=[0.4, 0.25, 0.2, 0.15])
    med = np.where(src == "moments", "cpc", np.where(src == "search", "organic", "social"))
    orders["utm_source"] = pd.Series(src).where(mini).to_numpy()
    orders["utm_medium"] = pd.Series(med).where(mini).to_numpy()
    code = np.full(n, None, dtype=object)
    at = orders["ordered_at"].to_numpy()
    for c in W.campaigns():
        if c.code is None:
            continue
        inside = mini & (at >= np.datetime64(c.starts_at)) & (at <= np.datetime64(c.ends_at))
        code[inside & (rng.random(n) < 0.5)] = c.code
    code[mini & (med == "cpc") & (code == None)] = "mini-gdt"  # noqa: E711
    orders["campaign_id"] = code


def simulate(
    rng: np.random.Generator, demand: Demand, products: pd.DataFrame, fx: pd.DataFrame, dists: list[W.DistributorSpec]
) -> Sales:
    """Every order of the window, with lines, life events, buyers and distributors."""
    orders = _order_times(rng, demand)
    own = orders["channel_id"].to_numpy() == "own_store"
    orders["currency"] = np.where(own & (rng.random(len(orders)) < USD_SHARE), "USD", "CNY")
    lines = _lines(rng, orders, products, demand, fx)
    _money(rng, orders, lines, demand.frames["tmall"]["festival"].to_numpy())
    _life(rng, orders)
    orders["customer"] = _assign_customers(rng, orders)
    people = W.customers(rng, int(orders["customer"].max()) + 1)
    orders["region"] = people["province"].to_numpy()[orders["customer"].to_numpy()]
    _distributors(rng, orders, dists)
    _source_ids(orders, rng)
    _attribution(rng, orders)
    orders["rate4"] = np.where(orders["currency"] == "USD", _rate4_on(fx, orders["ordered_at"].to_numpy()), 10_000)
    return Sales(orders, lines, fx, people, products, dists)


def state_at(orders: pd.DataFrame, when: dt.datetime | np.ndarray) -> pd.DataFrame:
    """What an export taken at ``when`` (one time, or one per order) shows: canonical life status
    (``refunded`` = full refund done), refund visible so far (fen), and the time of the latest
    event (updated_at)."""
    t = np.asarray(when, dtype="datetime64[s]")
    paid = orders["paid_at"].notna().to_numpy()
    refund_seen = orders["refund_at"].notna().to_numpy() & (orders["refund_at"].to_numpy() <= t)
    status = np.select(
        [
            ~paid & (orders["close_at"].to_numpy() > t),
            ~paid,
            refund_seen & orders["refund_full"].to_numpy(),
            orders["ship_at"].to_numpy() > t,
            orders["complete_at"].to_numpy() > t,
        ],
        ["created", "cancelled", "refunded", "paid", "shipped"],
        default="completed",
    )
    events = orders[["ordered_at", "paid_at", "close_at", "ship_at", "complete_at", "refund_at"]].to_numpy()
    events = np.where(events <= (t[:, None] if t.ndim == 1 else t), events, np.datetime64("NaT"))
    updated = events.astype("datetime64[s]").view(np.int64).max(axis=1).view("datetime64[s]")  # NaT is the minimum
    return pd.DataFrame(
        {"status": status, "refund_cents": np.where(refund_seen, orders["refund_cents"], 0), "updated_at": updated},
        index=orders.index,
    )
