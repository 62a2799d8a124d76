"""Channel order in the demo: the brand's price list (MAP, MSRP with dates), the distributors' authorized
regions, and the breaches planted in the data with their truth.

Planted (with an own random stream, so every other figure of the demo stays as it was):

- **price violations**: a line of a distributor's multi-line order is priced under the SKU's minimum
  advertised price (MAP) while another line of the same order is priced up by the same amount, so the
  order's totals (and every total of ``ground_truth.json``) are unchanged. Some are deep, some recur
  after a warning (``distributor_warnings.csv``), one lies inside a festival exemption and is allowed.
- **cross-region orders (窜货)**: a WeChat reseller sells to buyers in its own province (its authorized
  region); planted orders ship to other provinces, and one reseller is authorized a second province
  from a date, so its orders there are breaches before that date and allowed after it.
- **commission under-payments**: the commission paid to a distributor for a month is cut; the same sum
  is paid to another distributor of the channel (an over-payment), so channel totals are unchanged.

``truth`` recomputes every breach from the generator's own records (integer fen, pandas), independently
of the engine: what ``analysis.compliance`` must find, and nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from channelscope.demo import world as W
from channelscope.demo.canonical import base_cents
from channelscope.demo.orders import Sales
from channelscope.demo.text import money

#: MAP = share of list price, rounded to 10 fen; from PRICE_CHANGE the serums and sets get a higher MAP.
MAP_SHARE = 0.60
MAP_SHARE_RAISED = 0.65
PRICE_CHANGE = dt.date(2025, 7, 1)
RAISED_CATEGORIES = ("精华", "套装")
#: Festival windows where the demo brand allows prices up to 15% under MAP (channelscope.yaml: compliance).
EXEMPTIONS = (
    ("2024 双11", dt.date(2024, 10, 14), dt.date(2024, 11, 11), 0.15),
    ("2025 618", dt.date(2025, 5, 13), dt.date(2025, 6, 18), 0.15),
    ("2025 双11", dt.date(2025, 10, 7), dt.date(2025, 11, 11), 0.15),
)
#: Commission differences up to this (yuan) are rounding, not under-payments.
COMMISSION_TOLERANCE = 1.0
#: The second province one reseller is authorized for, from this date.
SECOND_REGION_FROM = dt.date(2025, 5, 1)


@dataclass
class Planted:
    """What ``inject`` changed, for the truth."""

    price: list[dict] = field(default_factory=list)  # one per planted line
    regions: list[dict] = field(default_factory=list)  # one per planted order
    commissions: list[dict] = field(default_factory=list)  # one per adjusted (distributor, month)
    warnings: pd.DataFrame | None = None
    authorized: pd.DataFrame | None = None
    price_list: pd.DataFrame | None = None


def price_list(products: pd.DataFrame) -> pd.DataFrame:
    """Two price lists: MAP 60% of list until PRICE_CHANGE, then 65% for serums and sets (in fen)."""
    rows: list[tuple] = []
    for r in products.itertuples():  # the catalogue: 22 SKUs
        first = round(r.list_cents * MAP_SHARE / 10) * 10
        share = MAP_SHARE_RAISED if r.category in RAISED_CATEGORIES else MAP_SHARE
        rows.append((r.sku, dt.date(2024, 1, 1), PRICE_CHANGE - dt.timedelta(days=1), first, r.list_cents))
        rows.append((r.sku, PRICE_CHANGE, None, round(r.list_cents * share / 10) * 10, r.list_cents))
    return pd.DataFrame(rows, columns=["sku", "valid_from", "valid_to", "map_cents", "msrp_cents"])


def _local_day(at: pd.Series) -> np.ndarray:
    return np.asarray(at, dtype="datetime64[D]")


def _map_at(plist: pd.DataFrame, sku: np.ndarray, day: np.ndarray) -> np.ndarray:
    """MAP (fen) of each (sku, day); -1 where the price list has none."""
    out = np.full(len(sku), -1, dtype=np.int64)
    for r in plist.itertuples():  # price-list rows (44), not fact rows
        hit = (sku == r.sku) & (day >= np.datetime64(r.valid_from))
        if r.valid_to is not None:
            hit &= day <= np.datetime64(r.valid_to)
        out[hit] = r.map_cents
    return out


def _exemption_allowance(day: np.ndarray) -> np.ndarray:
    allowed = np.zeros(len(day))
    for _, start, end, depth in EXEMPTIONS:
        inside = (day >= np.datetime64(start)) & (day <= np.datetime64(end))
        allowed = np.where(inside, np.maximum(allowed, depth), allowed)
    return allowed


def inject(seed: int, sales: Sales) -> Planted:
    """Plant the breaches into ``sales`` (in place) before any file is written."""
    rng = np.random.default_rng([seed, 17])
    planted = Planted()
    planted.price_list = price_list(sales.products)
    _home_regions(sales, planted)
    _plant_regions(rng, sales, planted)
    _plant_prices(rng, sales, planted)
    return planted


# ---- regions ------------------------------------------------------------------------------------


def _home_regions(sales: Sales, planted: Planted) -> None:
    """A WeChat reseller sells in its own province: its orders carry it, and it is authorized there."""
    o = sales.orders
    region_of = {d.id: d.region for d in sales.distributors if d.channel_id == "wechat_resellers"}
    dist = o["distributor_id"]
    mine = dist.isin(list(region_of))
    o.loc[mine, "region"] = dist[mine].map(region_of)
    rows = [
        (d.id, d.region, min(d.joined_at, W.START), None)
        for d in sales.distributors
        if d.channel_id == "wechat_resellers"
    ]
    planted.authorized = pd.DataFrame(rows, columns=["distributor_id", "region", "valid_from", "valid_to"])


def _plant_regions(rng: np.random.Generator, sales: Sales, planted: Planted) -> None:
    o = sales.orders
    auth = planted.authorized
    assert auth is not None
    provinces = [p[0] for p in W.PROVINCES]
    first = next(d for d in sales.distributors if d.id == "wx-r01")
    second = next(p for p in provinces if p != first.region)
    auth.loc[len(auth)] = (first.id, second, SECOND_REGION_FROM, None)
    paid = o["paid_at"].notna() & o["distributor_id"].notna() & (o["channel_id"] == "wechat_resellers")
    day = _local_day(o["ordered_at"])
    # wx-r01 sells into its second province: three orders before it is authorized there, three after
    mine = np.flatnonzero(paid & (o["distributor_id"] == first.id))
    before = mine[day[mine] < np.datetime64(SECOND_REGION_FROM)]
    after = mine[day[mine] >= np.datetime64(SECOND_REGION_FROM)]
    for pool, breach in ((before, True), (after, False)):
        for i in rng.choice(pool, size=min(3, len(pool)), replace=False):
            o.iloc[i, o.columns.get_loc("region")] = second
            planted.regions.append({"oid": int(o.index[i]), "region": second, "breach": breach})
    # twelve orders of other resellers shipped to a province they are not authorized for
    taken = {r["oid"] for r in planted.regions}
    others = np.flatnonzero(paid & (o["distributor_id"] != first.id))
    others = np.array([i for i in others if int(o.index[i]) not in taken])
    for i in rng.choice(others, size=min(12, len(others)), replace=False):
        own = o.iloc[i]["region"]
        dest = str(rng.choice([p for p in provinces if p not in (own, second)]))
        o.iloc[i, o.columns.get_loc("region")] = dest
        planted.regions.append({"oid": int(o.index[i]), "region": dest, "breach": True})


# ---- prices -------------------------------------------------------------------------------------

#: (case, distributor, window start, window end, orders, depth low, depth high, kind)
_CASES = (
    ("deep-wechat", "wx-r03", "2025-02-10", "2025-04-30", 3, 0.35, 0.45, "deep"),
    ("deep-douyin", "7012345606", "2025-01-25", "2025-04-30", 3, 0.30, 0.40, "deep"),
    ("shallow-wechat", "wx-r05", "2025-07-01", "2025-09-30", 2, 0.02, 0.05, "shallow"),
    ("repeat-wechat", "wx-r02", "2024-11-20", "2025-09-30", 5, 0.10, 0.20, "repeat"),
    ("repeat-douyin", "7012345602", "2024-11-20", "2025-09-30", 5, 0.10, 0.20, "repeat"),
    ("exempt-douyin", "7012345604", "2024-10-14", "2024-11-11", 1, 0.06, 0.08, "exempt"),
)


def _candidates(sales: Sales, distributor: str, start: str, end: str, exempt: bool) -> pd.DataFrame:
    """Lines that can be priced down: paid multi-line orders of the distributor without an order discount,
    with another line of quantity 1 to carry the difference."""
    o = sales.orders
    lines = sales.lines
    ok = o["paid_at"].notna() & (o["distributor_id"] == distributor) & (o["discount_cents"] == 0)
    day = pd.Series(_local_day(o["ordered_at"]), index=o.index)
    ok &= (day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))
    oids = o.index[ok]
    lines = lines[lines["oid"].isin(oids)]
    n = lines.groupby("oid").size()
    lines = lines[lines["oid"].isin(n.index[n >= 2])]
    singles = (lines["quantity"] == 1).groupby(lines["oid"]).transform("sum") - (lines["quantity"] == 1)
    lines = lines[singles >= 1]
    lines = lines.assign(day=day.reindex(lines["oid"]).to_numpy())
    inside = _exemption_allowance(lines["day"].to_numpy().astype("datetime64[D]")) > 0
    return lines[inside if exempt else ~inside]


def _plant_prices(rng: np.random.Generator, sales: Sales, planted: Planted) -> None:
    assert planted.price_list is not None
    warnings: list[tuple] = []
    used: set[int] = set()
    for case, distributor, start, end, count, lo, hi, kind in _CASES:
        cand = _candidates(sales, distributor, start, end, kind == "exempt")
        cand = cand[~cand["oid"].isin(list(used))]
        if cand.empty:
            continue
        sku = cand["sku"].value_counts().sort_index(kind="stable").idxmax()
        pick = cand[cand["sku"] == sku].sort_values("day", kind="stable")
        if len(pick) > count:
            pick = pick.iloc[np.sort(rng.choice(len(pick), size=count, replace=False))]
        if kind == "repeat" and len(pick) >= 2:
            split = max(1, len(pick) // 2)
            warned = pd.Timestamp(pick["day"].iloc[split - 1]) + pd.Timedelta(days=1)
            named = sku if distributor.startswith("wx-") else None
            warnings.append((distributor, named, warned.date(), f"QH-WARN-{len(warnings) + 1:03d}"))
        for idx, line in pick.iterrows():
            _price_down(sales, planted, int(idx), line, float(rng.uniform(lo, hi)), case, kind)
            used.add(int(line["oid"]))
    planted.warnings = pd.DataFrame(warnings, columns=["distributor_id", "sku", "warned_at", "reference"])


def _price_down(sales: Sales, planted: Planted, idx: int, line: pd.Series, depth: float, case: str, kind: str) -> None:
    """Price line ``idx`` at ``depth`` under MAP; a quantity-1 line of the same order takes the difference."""
    lines = sales.lines
    assert planted.price_list is not None
    day = np.datetime64(line["day"], "D")
    map_cents = int(_map_at(planted.price_list, np.array([line["sku"]]), np.array([day]))[0])
    unit = int(map_cents * (1 - depth) // 10 * 10)
    qty = int(line["quantity"])
    delta = (int(line["unit_cents"]) - unit) * qty
    if delta <= 0:
        return
    partner = lines.index[(lines["oid"] == line["oid"]) & (lines.index != idx) & (lines["quantity"] == 1)][0]
    lines.loc[idx, ["unit_cents", "amount_cents"]] = [unit, unit * qty]
    lines.loc[partner, ["unit_cents", "amount_cents"]] = lines.loc[partner, "unit_cents"] + delta
    planted.price.append(
        {"oid": int(line["oid"]), "line_no": int(line["line_no"]), "case": case, "kind": kind, "sku": line["sku"]}
    )


# ---- commissions --------------------------------------------------------------------------------

#: (under-paid distributor, month, share cut, over-paid distributor, month)
_COMMISSION_CUTS = (
    ("wx-r01", "2025-03", 0.30, "wx-r04", "2025-03"),
    ("wx-r06", "2025-08", 0.50, "wx-r06", "2025-09"),
    ("7012345603", "2025-05", 0.25, "7012345605", "2025-06"),
)


def adjust_commissions(fees: pd.DataFrame, planted: Planted) -> pd.DataFrame:
    """Cut a month's commission of a distributor; pay the same sum to another (distributor, month)."""
    fees = fees.copy()
    month = fees["date"].str.slice(0, 7)
    com = fees["fee_type"] == "commission"
    for under, m_under, share, over, m_over in _COMMISSION_CUTS:
        rows = fees.index[com & (fees["distributor_id"] == under) & (month == m_under)]
        if len(rows) == 0:
            continue
        total = int(fees.loc[rows, "cents"].sum())
        cut = round(total * share / 100) * 100  # whole yuan
        biggest = fees.loc[rows, "cents"].sort_values(kind="stable").index[::-1]
        left = cut
        for i in biggest:  # take the cut from the largest days first
            take = min(left, int(fees.loc[i, "cents"]) - 1)
            fees.loc[i, "cents"] -= take
            left -= take
            if left == 0:
                break
        target = fees.index[com & (fees["distributor_id"] == over) & (month == m_over)]
        fees.loc[target[0], "cents"] += cut - left
        planted.commissions.append({"distributor_id": under, "month": m_under, "difference": -(cut - left)})
        planted.commissions.append({"distributor_id": over, "month": m_over, "difference": cut - left})
    fees["amount"] = money(fees["cents"].to_numpy())
    return fees


# ---- files --------------------------------------------------------------------------------------


def frames(planted: Planted) -> dict[str, pd.DataFrame]:
    """The canonical CSVs of the price list, the authorized regions and the warnings."""
    assert planted.price_list is not None and planted.authorized is not None and planted.warnings is not None
    pl = planted.price_list
    iso = lambda s: pd.Series(s).map(lambda d: "" if d is None or pd.isna(d) else str(d))  # noqa: E731
    return {
        "price_list": pd.DataFrame(
            {
                "sku": pl["sku"],
                "valid_from": iso(pl["valid_from"]),
                "valid_to": iso(pl["valid_to"]),
                "min_advertised_price": money(pl["map_cents"]),
                "msrp": money(pl["msrp_cents"]),
            }
        ),
        "distributor_regions": planted.authorized.assign(
            valid_from=iso(planted.authorized["valid_from"]), valid_to=iso(planted.authorized["valid_to"])
        ),
        "distributor_warnings": planted.warnings.assign(warned_at=iso(planted.warnings["warned_at"])),
    }


# ---- truth --------------------------------------------------------------------------------------


def allocate_discount(lines: pd.DataFrame, orders: pd.DataFrame) -> np.ndarray:
    """The order discount (fen) spread over its lines pro rata to line amount, rounded half up; the last
    line (highest line_no) takes what rounding leaves, so lines sum back to the order."""
    disc = orders["discount_cents"].reindex(lines["oid"]).to_numpy().astype(np.int64)
    base = lines["amount_cents"].to_numpy().astype(np.int64)
    total = lines.groupby("oid")["amount_cents"].transform("sum").to_numpy().astype(np.int64)
    share = np.where(total > 0, (disc * base * 2 + total) // np.maximum(2 * total, 1), 0)
    last = lines.groupby("oid")["line_no"].transform("max").to_numpy() == lines["line_no"].to_numpy()
    others = pd.Series(np.where(last, 0, share)).groupby(lines["oid"].to_numpy()).transform("sum").to_numpy()
    return np.where(last, disc - others, share)


def _cents_text(v: int) -> str:
    return str(money(np.array([v]))[0])


def truth(
    sales: Sales,
    valid: pd.Index,
    planted: Planted,
    fees: pd.DataFrame,
    original_fees: pd.DataFrame,
    viewers: dict[str, int] | None = None,
) -> dict:
    """Every breach of the demo, recomputed from the generator's records (see the module docstring), and the
    Douyin live sessions with their viewers (``viewers``: per session, as the traffic export carries them)."""
    return {
        "rules": {
            "paid_price": "line amount minus line discount minus its share of the order discount (pro rata to "
            "line amount after line discounts, rounded half up to the fen; the last line takes the remainder); "
            "shipping is not allocated. Unit paid price = line paid / quantity.",
            "violation": "paid orders of a distributor; line paid < MAP x quantity, MAP valid on the business "
            "date; inside an exemption window only when depth > allowed_depth",
            "depth": "1 - line paid / (MAP x quantity)",
            "cross_region": "paid orders of a distributor with authorized regions whose region has no authorization "
            "valid on the business date",
            "commission": f"owed = rate x net paid (by payment month) + override on children; |paid - owed| > "
            f"{COMMISSION_TOLERANCE:.2f} yuan",
        },
        "exemptions": [
            {"name": n, "start": s.isoformat(), "end": e.isoformat(), "allowed_depth": d} for n, s, e, d in EXEMPTIONS
        ],
        "commission_tolerance": COMMISSION_TOLERANCE,
        "price_violations": _price_truth(sales, valid, planted),
        "price_violation_groups": _groups(_price_truth(sales, valid, planted), planted),
        "planted_price_lines": _planted_lines(sales, planted),
        "cross_region_orders": _region_truth(sales, valid, planted),
        "commission_differences": _commission_truth(fees, original_fees),
        "live_sessions": _live_truth(sales, valid, viewers or {}),
    }


def _live_truth(sales: Sales, valid: pd.Index, viewers: dict[str, int]) -> list[dict]:
    """Per live session (campaigns of kind live_session) and host (distributors of kind live_host or kol): the
    paid orders of the session's channel ordered during the session (local time, ends included), their GMV
    (net, CNY), the session's viewers, GPM = GMV / viewers x 1000 and conversion = orders / viewers."""
    hosts = {d.id for d in sales.distributors if d.kind in ("live_host", "kol")}
    o = sales.orders.loc[valid]
    o = o[o["paid_at"].notna() & o["distributor_id"].isin(hosts)]
    out = []
    for c in W.campaigns():
        if c.kind != "live_session":
            continue
        mine = o[
            (o["channel_id"] == c.channel_id)
            & (o["ordered_at"] >= pd.Timestamp(c.starts_at))
            & (o["ordered_at"] <= pd.Timestamp(c.ends_at))
        ]
        gmv = pd.Series(base_cents(mine), index=mine.index).groupby(mine["distributor_id"]).sum()
        n = viewers.get(c.id)
        for host, orders in mine.groupby("distributor_id").size().items():
            cents = int(gmv[host])
            out.append(
                {
                    "session": c.id,
                    "distributor_id": str(host),
                    "orders": int(orders),
                    "gmv": _cents_text(cents),
                    "viewers": n,
                    "gpm": None if not n else round(cents / 100 / n * 1000, 6),
                    "conversion": None if not n else round(int(orders) / n, 8),
                }
            )
    return sorted(out, key=lambda r: (r["session"], r["distributor_id"]))


def _order_ref(orders: pd.DataFrame) -> pd.Series:
    return orders["channel_id"] + ":" + orders["source_order_id"].astype(str)


def _price_truth(sales: Sales, valid: pd.Index, planted: Planted) -> list[dict]:
    assert planted.price_list is not None and planted.warnings is not None
    o = sales.orders.loc[valid]
    o = o[o["paid_at"].notna() & o["distributor_id"].notna()]
    lines = sales.lines[sales.lines["oid"].isin(o.index)].reset_index(drop=True)
    paid = lines["amount_cents"].to_numpy() - allocate_discount(lines, o)
    day = _local_day(o["ordered_at"].reindex(lines["oid"]))
    map_cents = _map_at(planted.price_list, lines["sku"].to_numpy(), day)
    floor = map_cents * lines["quantity"].to_numpy()
    depth = np.where(floor > 0, 1 - paid / np.maximum(floor, 1), 0.0)
    below = (map_cents > 0) & (paid < floor) & (depth > _exemption_allowance(day) + 1e-12)
    hit = lines[below].assign(paid=paid[below], floor=floor[below], depth=depth[below], day=day[below].astype(str))
    od = o.loc[hit["oid"]]
    return [
        {
            "order_id": ref,
            "line_no": int(r.line_no),
            "distributor_id": dist,
            "sku": r.sku,
            "business_date": r.day,
            "quantity": int(r.quantity),
            "paid": _cents_text(int(r.paid)),
            "map_total": _cents_text(int(r.floor)),
            "depth": round(float(r.depth), 6),
        }
        for ref, dist, r in zip(_order_ref(od), od["distributor_id"], hit.itertuples(), strict=True)
    ]


def _groups(lines: list[dict], planted: Planted) -> list[dict]:
    """Per distributor x SKU: lines, units, worst depth, first and last day, violation days after the first
    warning that names the SKU or every SKU."""
    assert planted.warnings is not None
    if not lines:
        return []
    f = pd.DataFrame(lines)
    w = planted.warnings
    out = []
    for (did, sku), g in f.groupby(["distributor_id", "sku"], sort=True):  # groups of the truth (a few dozen)
        named = w[(w["distributor_id"] == did) & (w["sku"].isna() | (w["sku"] == sku))]
        first = min(named["warned_at"]) if len(named) else None
        after = g[g["business_date"] > str(first)] if first else g.iloc[0:0]
        out.append(
            {
                "distributor_id": did,
                "sku": sku,
                "lines": len(g),
                "units": int(g["quantity"].sum()),
                "depth_worst": float(g["depth"].max()),
                "first_seen": g["business_date"].min(),
                "last_seen": g["business_date"].max(),
                "first_warning": str(first) if first else None,
                "repeat_days": int(after["business_date"].nunique()),
            }
        )
    return out


def _planted_lines(sales: Sales, planted: Planted) -> list[dict]:
    o = sales.orders
    return [
        {
            "order_id": f"{o.loc[p['oid'], 'channel_id']}:{o.loc[p['oid'], 'source_order_id']}",
            "line_no": p["line_no"],
            "case": p["case"],
            "kind": p["kind"],
            "sku": p["sku"],
            "distributor_id": o.loc[p["oid"], "distributor_id"],
        }
        for p in planted.price
    ]


def _region_truth(sales: Sales, valid: pd.Index, planted: Planted) -> list[dict]:
    assert planted.authorized is not None
    o = sales.orders.loc[valid]
    o = o[o["paid_at"].notna() & o["distributor_id"].isin(planted.authorized["distributor_id"])]
    o = o[o["region"].notna()]
    day = _local_day(o["ordered_at"])
    ok = np.zeros(len(o), dtype=bool)
    for a in planted.authorized.itertuples():  # authorization rows (a few dozen)
        hit = (o["distributor_id"].to_numpy() == a.distributor_id) & (o["region"].to_numpy() == a.region)
        hit &= day >= np.datetime64(a.valid_from)
        if a.valid_to is not None and not pd.isna(a.valid_to):
            hit &= day <= np.datetime64(a.valid_to)
        ok |= hit
    out = o[~ok]
    net = base_cents(out)
    return [
        {
            "order_id": ref,
            "distributor_id": r.distributor_id,
            "region": r.region,
            "business_date": str(d),
            "net_amount_base": _cents_text(int(n)),
        }
        for ref, r, d, n in zip(_order_ref(out), out.itertuples(), day[~ok], net, strict=True)
    ]


def _commission_truth(fees: pd.DataFrame, original: pd.DataFrame) -> list[dict]:
    def by_month(f: pd.DataFrame) -> pd.Series:
        c = f[f["fee_type"] == "commission"]
        return c.groupby([c["distributor_id"], c["date"].str.slice(0, 7)])["cents"].sum()

    owed, paid = by_month(original), by_month(fees)
    diff = (paid - owed).fillna(0)
    out = []
    for (did, month), d in diff[diff.abs() > COMMISSION_TOLERANCE * 100].sort_index().items():
        out.append(
            {
                "distributor_id": did,
                "month": month,
                "owed": _cents_text(int(owed[(did, month)])),
                "paid": _cents_text(int(paid[(did, month)])),
                "difference": _cents_text(int(d)),
                "kind": "under_paid" if d < 0 else "over_paid",
            }
        )
    return out
