"""Marketing ROI of a project: the warehouse side of attribution, the media mix model, uplift and the
allocator, and the ROI table that puts every basis (口径) side by side.

Each function pulls its aggregates once (``Project.kpis`` or one Ibis aggregate in the engine) and
hands them to the pure models in ``attribution``, ``media_mix``, ``uplift`` and ``allocator``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd

from channelscope.analysis.attribution import MODELS, AttributionResult, attribute, path_counts, rule_credits
from channelscope.analysis.media_mix import MediaMixFit, calendar_controls, fit_media_mix
from channelscope.analysis.planned_events import calendar_phase_events, campaign_events
from channelscope.errors import QueryError
from channelscope.model.semantic import paid_order

if TYPE_CHECKING:
    from channelscope.project import Project

#: the bases of the ROI table (口径), with what each revenue means
BASES = {
    "platform": "the ad platform's own reported revenue (its attribution window, as exported)",
    "orders": "GMV of paid orders carrying the campaign's code (order UTM/campaign field, last touch)",
    "attributed": "GMV credited to the campaign by the attribution model over touchpoint paths",
    "incremental": "GMV the media mix model attributes to the platform's spend (what removing it removes); "
    "for a promotion, its net uplift against the counterfactual (window, dip before and hangover after)",
}
#: what the ROI table counts as a campaign's cost (the 成本口径)
COST_BASIS = (
    "cost = ad spend (ad_spend.spend_base) + coupons and 红包 given on the paid orders carrying the campaign's "
    "code (orders.discount_amount in the base currency): a discount is counted as cost, not hidden in GMV; "
    "platform credits have no column in the data model and are not counted"
)


def _dates(start: dt.date | str | None, end: dt.date | str | None) -> tuple[dt.date | None, dt.date | None]:
    s = None if start is None else pd.Timestamp(start).date()
    e = None if end is None else pd.Timestamp(end).date()
    return s, e


def attribution(
    project: Project,
    *,
    by: str = "channel",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    lookback_days: int = 30,
    half_life_days: float = 7.0,
    markov_order: int = 1,
    models: Sequence[str] = MODELS,
) -> AttributionResult:
    """Every attribution model over the project's touchpoint paths (see ``analysis.touchpoints``)."""
    from channelscope.analysis.touchpoints import touch_tables

    s, e = _dates(start, end)
    touches, nulls = touch_tables(project, start=s, end=e, lookback_days=lookback_days, by=by)
    rules = rule_credits(touches, half_life_days=half_life_days).execute()
    paths = path_counts(touches, nulls).execute()
    basis = {
        "by": by,
        "conversion": "paid order (paid, shipped, completed, refunded) by business date of ordered_at",
        "revenue": "net_amount_base (yuan)",
        "lookback_days": lookback_days,
        "half_life_days": half_life_days,
        "markov_order": markov_order,
    }
    return attribute(rules, paths, markov_order=markov_order, models=models, basis=basis)


def campaign_platforms(project: Project) -> dict[str, str]:
    """campaign_id -> ad platform, from the ad spend table (a lookup of distinct pairs)."""
    a = project.warehouse.ibis.table("ad_spend")
    pairs = a.filter(a.campaign_id.notnull() & a.platform.notnull()).select("campaign_id", "platform").distinct()
    frame = pairs.execute()
    return dict(zip(frame["campaign_id"].astype(str), frame["platform"].astype(str), strict=True))


def media_data(
    project: Project, *, start: dt.date | str | None = None, end: dt.date | str | None = None
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """(daily GMV in yuan, daily ad spend per platform in yuan, the model's controls), pulled once."""
    s, e = _dates(start, end)
    gmv = project.kpis(["gmv"], grain="day", start=s, end=e)
    spend = project.kpis(["ad_spend"], by=["campaign"], grain="day", start=s, end=e)
    if gmv.empty or spend.empty:
        raise QueryError("the media mix model needs paid orders and ad spend in the range; there are none")
    platforms = campaign_platforms(project)
    spend["platform"] = spend["campaign"].map(platforms).fillna(spend["campaign"])
    days = pd.date_range(pd.Timestamp(gmv["period"].min()), pd.Timestamp(gmv["period"].max()), freq="D")
    y = gmv.assign(period=pd.to_datetime(gmv["period"])).set_index("period")["gmv"].astype(float)
    y = y.reindex(days, fill_value=0.0)
    wide = spend.assign(period=pd.to_datetime(spend["period"])).pivot_table(
        index="period", columns="platform", values="ad_spend", aggfunc="sum"
    )
    wide = wide.astype(float).reindex(days, fill_value=0.0).fillna(0.0)
    wide.columns = [str(c) for c in wide.columns]
    events = calendar_phase_events(project) + campaign_events(project)
    controls = calendar_controls(days, events, discount_rate=_discount_rate(project, s, e))
    return y, wide, controls


def _discount_rate(project: Project, start: dt.date | None, end: dt.date | None) -> pd.Series:
    """Discount / gross amount of paid orders per business date (a fraction; each order's amounts in
    the base currency through its own net_amount_base / net_amount)."""
    o = project.warehouse.ibis.table("orders")
    o = o.filter(paid_order(o) & (o.net_amount != 0) & o.gross_amount.notnull())
    if start is not None:
        o = o.filter(o.business_date >= start)
    if end is not None:
        o = o.filter(o.business_date <= end)
    rate = o.net_amount_base.cast("float64") / o.net_amount.cast("float64")
    agg = o.group_by("business_date").aggregate(
        disc=(o.discount_amount.cast("float64").fill_null(0) * rate).sum(),
        gross=(o.gross_amount.cast("float64") * rate).sum(),
    )
    frame = agg.execute()
    if frame.empty:
        return pd.Series(dtype=float)
    out = frame["disc"] / frame["gross"].where(frame["gross"] > 0)
    return pd.Series(out.to_numpy(dtype=float), index=pd.to_datetime(frame["business_date"])).sort_index()


def media_mix(
    project: Project,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    adstock: str = "geometric",
    holdout: float = 0.15,
) -> MediaMixFit:
    """The media mix model of the project's daily GMV against its ad spend per platform."""
    y, spend, controls = media_data(project, start=start, end=end)
    basis = {
        "gmv": "paid GMV (yuan, base currency) per business date, every channel",
        "spend": "ad_spend.spend_base per day and ad platform (yuan)",
        "adstock": adstock,
    }
    return fit_media_mix(y, spend, controls, adstock=adstock, holdout=holdout, basis=basis)


def roi_table(
    project: Project,
    *,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    fit: MediaMixFit | None = None,
    attributed: AttributionResult | None = None,
    attribution_model: str = "markov",
    margin_rate: float | None = None,
    uplift: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """ROI per ad campaign and platform, and per promotion, on every basis side by side (see ``BASES``):
    spend (yuan), the coupons and 红包 given on the campaign's orders (``discount_cost``) and the cost of
    both (``cost``, see ``COST_BASIS``), revenue and ROAS (revenue / spend, yuan per yuan) per basis, the
    model's marginal ROAS, and ROI = (incremental revenue x margin_rate - cost) / cost (``margin_rate``:
    contribution per yuan of GMV before the campaign's own discounts). Promotions (campaign kind
    ``promotion``) get their incremental revenue from ``uplift`` (``promotion_uplift``'s table: net
    uplift). A basis whose input is missing is empty (NaN) with its reason in ``missing``, never 0."""
    s, e = _dates(start, end)
    ads = project.kpis(["ad_spend"], by=["campaign"], start=s, end=e)
    promos = _promotions(project)
    if not promos.empty:
        extra = promos[~promos["campaign_id"].isin(ads["campaign"])]
        ads = pd.concat([ads, pd.DataFrame({"campaign": extra["campaign_id"], "ad_spend": 0.0})], ignore_index=True)
    reported = _reported(project, s, e)
    orders = project.kpis(["gmv", "paid_orders"], by=["campaign"], start=s, end=e)
    platforms = campaign_platforms(project)
    t = ads.rename(columns={"campaign": "campaign_id", "ad_spend": "spend"})
    t = t[t["campaign_id"].notna()].copy()
    t["platform"] = t["campaign_id"].map(platforms)
    t["spend"] = t["spend"].astype(float)
    t = t.merge(reported, on="campaign_id", how="left")
    og = orders.rename(columns={"campaign": "campaign_id", "gmv": "orders_revenue"})
    t = t.merge(og[["campaign_id", "orders_revenue", "paid_orders"]], on="campaign_id", how="left")
    t["orders_revenue"] = t["orders_revenue"].astype(float).fillna(0.0)  # no order carries the code: 0 orders
    t["paid_orders"] = t["paid_orders"].fillna(0).astype("int64")
    disc = _discounts(project, s, e)
    t["discount_cost"] = t["campaign_id"].map(disc).astype(float).fillna(0.0)  # no coded order: no coupon given
    t["cost"] = t["spend"] + t["discount_cost"]
    t["kind"] = np.where(t["campaign_id"].isin(promos["campaign_id"]), "promotion", "ad")
    missing: dict[str, list[str]] = {c: [] for c in t["campaign_id"]}
    if attributed is not None:
        credits = attributed.credits[attributed.credits["model"] == attribution_model]
        t = t.merge(
            credits[["label", "revenue"]].rename(columns={"label": "campaign_id", "revenue": "attributed_revenue"}),
            on="campaign_id",
            how="left",
        )
        if attributed.basis.get("by") != "campaign":
            raise QueryError("the ROI table needs attribution by campaign (by='campaign')")
    else:
        t["attributed_revenue"] = math.nan
        for c in missing:
            missing[c].append("attributed: no attribution run")
    if fit is not None:
        per = fit.platforms.set_index("platform")
        t["incremental_revenue"] = t["platform"].map(per["contribution"] * 1.0)
        t["marginal_roas"] = t["platform"].map(per["marginal_roas"])
        # a platform with several campaigns: its contribution is shared by spend
        share = t["spend"] / t.groupby("platform")["spend"].transform("sum")
        t["incremental_revenue"] = t["incremental_revenue"] * share
    else:
        t["incremental_revenue"] = math.nan
        t["marginal_roas"] = math.nan
        for c in t.loc[t["kind"] == "ad", "campaign_id"]:
            missing[c].append("incremental: no media mix model")
    is_promo = t["kind"] == "promotion"
    if uplift is not None and not uplift.empty and not promos.empty:
        start_of = dict(zip(promos["campaign_id"], promos["start"], strict=True))
        net = dict(zip(uplift["start"].astype(str), uplift["net_uplift"].astype(float), strict=True))
        t.loc[is_promo, "incremental_revenue"] = t.loc[is_promo, "campaign_id"].map(start_of).map(net)
    for c in t.loc[is_promo & t["incremental_revenue"].isna(), "campaign_id"]:
        missing[c].append("incremental: no uplift of the promotion")
    for basis in ("platform", "orders", "attributed", "incremental"):
        col = "reported_revenue" if basis == "platform" else f"{basis}_revenue"
        t[f"roas_{basis}"] = t[col] / t["spend"].where(t["spend"] > 0)
    t["roas_cost"] = t["incremental_revenue"] / t["cost"].where(t["cost"] > 0)
    if margin_rate is None:
        t["roi_incremental"] = math.nan
        for c in missing:
            missing[c].append("roi: no margin rate")
    else:
        t["roi_incremental"] = (t["incremental_revenue"] * margin_rate - t["cost"]) / t["cost"].where(t["cost"] > 0)
    t["missing"] = t["campaign_id"].map(lambda c: "; ".join(missing.get(c, [])))
    cols = [
        "campaign_id",
        "kind",
        "platform",
        "spend",
        "discount_cost",
        "cost",
        "reported_conversions",
        "reported_revenue",
        "paid_orders",
        "orders_revenue",
        "attributed_revenue",
        "incremental_revenue",
        "roas_platform",
        "roas_orders",
        "roas_attributed",
        "roas_incremental",
        "roas_cost",
        "marginal_roas",
        "roi_incremental",
        "missing",
    ]
    return t[cols].sort_values(["cost", "campaign_id"], ascending=[False, True]).reset_index(drop=True)


def _promotions(project: Project) -> pd.DataFrame:
    """campaign_id and first business date (ISO) of the promotion campaigns."""
    c = project.warehouse.ibis.table("campaigns")
    frame = c.filter(c.kind == "promotion").select("campaign_id", "starts_at").execute()
    tz = project.config.project.timezone
    starts = [
        None if pd.isna(v) else pd.Timestamp(v).tz_localize("UTC").tz_convert(tz).date().isoformat()
        for v in frame["starts_at"]
    ]
    return pd.DataFrame({"campaign_id": frame["campaign_id"].astype(str), "start": starts})


def _discounts(project: Project, start: dt.date | None, end: dt.date | None) -> dict[str, float]:
    """campaign_id -> discount (coupons, 红包) given on its paid orders, yuan in the base currency (each
    order's discount converted with its own net_amount_base / net_amount); one aggregate."""
    o = project.warehouse.ibis.table("orders")
    o = o.filter(paid_order(o) & o.campaign_id.notnull() & (o.net_amount != 0))
    if start is not None:
        o = o.filter(o.business_date >= start)
    if end is not None:
        o = o.filter(o.business_date <= end)
    rate = o.net_amount_base.cast("float64") / o.net_amount.cast("float64")
    agg = o.group_by("campaign_id").aggregate(discount=(o.discount_amount.cast("float64").fill_null(0) * rate).sum())
    frame = agg.execute()
    return {str(k): float(v) for k, v in zip(frame["campaign_id"], frame["discount"], strict=True)}


def _reported(project: Project, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
    """Platform-reported conversions and revenue per campaign (yuan: reported in the row's currency and
    converted with the row's spend_base / spend)."""
    a = project.warehouse.ibis.table("ad_spend")
    if start is not None:
        a = a.filter(a.date >= start)
    if end is not None:
        a = a.filter(a.date <= end)
    rate = ibis.ifelse(a.spend != 0, a.spend_base.cast("float64") / a.spend.cast("float64"), 1.0).fill_null(1.0)
    agg = a.group_by("campaign_id").aggregate(
        reported_conversions=a.reported_conversions.sum(),
        reported_revenue=(a.reported_revenue.cast("float64") * rate).sum(),
    )
    frame = agg.execute()
    frame["reported_revenue"] = frame["reported_revenue"].astype(float)
    return frame


def promotion_costs(project: Project) -> dict[str, float]:
    """Discount given under each promotion (yuan, base currency), keyed by the promotion's first business
    date: the discount_amount of paid orders carrying the promotion's campaign code (coupons and 红包
    counted as the promotion's cost, not hidden in GMV)."""
    con = project.warehouse.ibis
    c = con.table("campaigns")
    promos = c.filter(c.kind == "promotion").select("campaign_id", "starts_at").execute()
    if promos.empty:
        return {}
    given = _discounts(project, None, None)
    tz = project.config.project.timezone
    out = {}
    for row in promos.itertuples(index=False):
        if pd.isna(row.starts_at):
            continue
        start = pd.Timestamp(row.starts_at).tz_localize("UTC").tz_convert(tz).date().isoformat()
        out[start] = float(given.get(row.campaign_id, 0.0))
    return out


def gmv_by_channel(project: Project, fit: MediaMixFit) -> pd.DataFrame:
    """Daily paid GMV (yuan) per channel over the model's dates, one column per channel (one pull)."""
    first, last = fit.dates[0].date(), fit.dates[-1].date()
    frame = project.kpis(["gmv"], by=["channel"], grain="day", start=first, end=last)
    if frame.empty:
        return pd.DataFrame(index=fit.dates)
    wide = frame.assign(period=pd.to_datetime(frame["period"])).pivot_table(
        index="period", columns="channel", values="gmv", aggfunc="sum"
    )
    wide.columns = [str(c) for c in wide.columns]
    return wide.astype(float).reindex(fit.dates).fillna(0.0)


def promotion_effects(
    project: Project, fit: MediaMixFit, *, margin_rate: float | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each promotion's uplift, the dip before it, its hangover and net uplift (``uplift.promotion_uplift``),
    with the discount it gave as its cost, and for a promotion of one channel what the other channels lost
    in its window (``uplift.cannibalization``: channel_id, channel_uplift, cannibalization and interval;
    empty for a promotion of every channel). Returns (table, daily counterfactual)."""
    from channelscope.analysis.uplift import cannibalization, promotion_channels, promotion_names, promotion_uplift

    events = campaign_events(project)
    names = promotion_names(events)
    table, daily = promotion_uplift(fit, names=names, discount_cost=promotion_costs(project), margin_rate=margin_rate)
    channels = promotion_channels(events)
    cols = ["channel_id", "channel_uplift", "channel_uplift_low", "channel_uplift_high"]
    cols += ["cannibalization", "cannibalization_low", "cannibalization_high", "cannibalized_share"]
    if table.empty:
        return table, daily
    can = cannibalization(fit, gmv_by_channel(project, fit), channels, names=names) if channels else pd.DataFrame()
    if can.empty:
        return table.assign(**{c: (None if c == "channel_id" else math.nan) for c in cols}), daily
    can = can.reindex(columns=["start", *cols])
    return table.merge(can, on="start", how="left"), daily


def spend_totals(fit: MediaMixFit) -> dict[str, float]:
    """Spend per platform over the model's period (yuan)."""
    return {str(k): float(v) for k, v in fit.spend.sum().items()}


def as_records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN -> None, numpy scalars -> Python, dates -> ISO strings."""
    out = frame.astype(object).where(frame.notna(), None)
    rows = out.to_dict("records")
    for r in rows:
        for k, v in r.items():
            if isinstance(v, np.generic):
                r[k] = v.item()
            elif isinstance(v, pd.Timestamp | dt.date):
                r[k] = v.isoformat()[:10]
    return rows
