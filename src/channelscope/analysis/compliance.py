"""Channel order: 到手价 (price actually paid) per order line, price violations (乱价) against the price list,
cross-region orders (窜货), commission owed vs paid, and a compliance score per distributor.

Everything is an Ibis expression computed in the engine; Python receives aggregates (or the few lines of
one case). Money is handled in integer fen inside the engine, so allocation and sums are exact on every
engine, and returned as DECIMAL yuan.

Allocation rule (到手价): a line's paid amount is its amount (unit_price x quantity where no amount is
given) minus its own line discount, minus its share of the order-level discounts. The order-level
discounts are everything between the lines' net total and what the buyer paid for the goods
(``net_amount - shipping_amount``): coupons, 红包, full-reduction and platform subsidies, stacked. The
share is pro rata to the line's amount after line discounts, rounded half up to the fen; the line with
the highest line_no takes what rounding leaves, so the lines sum back to the order's goods paid amount
exactly. Shipping is not allocated. Non-base currencies convert at the order's own rate
(net_amount_base / net_amount), rounded to the fen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pandas as pd

from channelscope.config.compliance import ComplianceConfig, Exemption, PolicyStep
from channelscope.model.semantic import is_paid
from channelscope.model.tables import MONEY

FAR_FUTURE = dt.date(9999, 12, 31)
#: score scales: a component takes all its points at these levels
FULL_PENALTY = {"violations": 0.10, "depth": 0.30, "repeats": 3, "out_of_region": 0.10}


def _cents(value: ir.NumericValue) -> ir.IntegerValue:
    return (value * 100).round(0).cast("int64")


def _yuan(cents: ir.IntegerValue) -> ir.DecimalValue:
    """Integer fen as DECIMAL yuan, exactly (no float on the way)."""
    return (cents.cast("decimal(18,0)") * ibis.literal("0.01", type="decimal(18,2)")).cast(MONEY)


def _optional(tables: Any, name: str) -> ir.Table:
    """A channel-order table (price_list, distributor_regions, distributor_warnings), or an empty table of its
    schema in a warehouse made before these tables existed (opened read-only, it cannot create them): no price
    list means the products' own minimum prices, no regions means nobody is restricted."""
    try:
        return tables.table(name)
    except Exception:  # the engine's "no such table" differs per backend
        from channelscope.model.tables import TABLES

        schema = TABLES[name].schema()
        return ibis.memtable(pd.DataFrame({c: pd.Series(dtype="object") for c in schema.names}), schema=schema)


def _scoped_orders(
    tables: Any, distributors: Sequence[str] | None, channels: Sequence[str] | None, end: dt.date | None = None
) -> ir.Table:
    o = tables.table("orders")
    # paid as GMV counts it (支付金额): a payment time, whatever the status became after (metrics.query)
    o = o.filter(o.paid_at.notnull() | is_paid(o.status), o.distributor_id.notnull())
    if distributors is not None:
        o = o.filter(o.distributor_id.isin(list(distributors)))
    if channels is not None:
        o = o.filter(o.channel_id.isin(list(channels)))
    if end is not None:
        o = o.filter(o.business_date <= ibis.date(str(end)))
    return o


def paid_lines(
    tables: Any,
    *,
    base_currency: str = "CNY",
    distributors: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    all_orders: bool = False,
    end: dt.date | None = None,
    paid_only: bool = False,
) -> ir.Table:
    """One row per order line of paid distributor orders (every order with ``all_orders``, every paid order
    with ``all_orders`` and ``paid_only``): order_id,
    line_no, channel_id, distributor_id, sku, business_date, region, quantity, line_amount (after line
    discounts), order_discount_share, paid (yuan, base currency), paid_cents, unit_paid (yuan, rounded
    half up). See the module docstring for the allocation rule."""
    o = tables.table("orders") if all_orders else _scoped_orders(tables, distributors, channels, end)
    if all_orders and paid_only:
        o = o.filter(o.paid_at.notnull() | is_paid(o.status))
    o = o.select(
        "order_id",
        "channel_id",
        "distributor_id",
        "business_date",
        "region",
        "currency",
        "net_amount",
        "net_amount_base",
        "shipping_amount",
    )
    lines = tables.table("order_lines")
    j = lines.select("order_id", "line_no", "sku", "quantity", "unit_price", "discount_amount", "amount").join(
        o, "order_id"
    )
    amount = j.amount.fill_null(j.unit_price * j.quantity)
    base_c = _cents(amount) - _cents(j.discount_amount.fill_null(0))
    goods_c = _cents(j.net_amount) - _cents(j.shipping_amount.fill_null(0))
    j = j.mutate(_base_c=base_c, _goods_c=goods_c)
    w = ibis.window(group_by=j.order_id)
    j = j.mutate(_total_c=j._base_c.sum().over(w), _last=j.line_no.max().over(w))
    disc_c = j._total_c - j._goods_c
    share_c = ibis.ifelse(j._total_c > 0, (disc_c * j._base_c * 2 + j._total_c) // (j._total_c * 2), 0)
    j = j.mutate(_share_c=share_c.cast("int64"), _disc_c=disc_c)
    j = j.mutate(_shares=j._share_c.sum().over(ibis.window(group_by=j.order_id)))
    alloc_c = ibis.ifelse(j.line_no == j._last, j._disc_c - (j._shares - j._share_c), j._share_c)
    paid_c = j._base_c - alloc_c
    rate = j.net_amount_base.cast("float64") / j.net_amount.cast("float64")
    paid_c = ibis.ifelse(
        (j.currency == base_currency) | j.net_amount.isnull() | (j.net_amount == 0),
        paid_c,
        (paid_c.cast("float64") * rate).round(0).cast("int64"),
    )
    j = j.mutate(_alloc_c=alloc_c, paid_cents=paid_c.cast("int64"))
    return j.select(
        "order_id",
        "line_no",
        "channel_id",
        "distributor_id",
        "sku",
        "business_date",
        "region",
        "quantity",
        line_amount=_yuan(j._base_c),
        order_discount_share=_yuan(j._alloc_c),
        paid=_yuan(j.paid_cents),
        paid_cents=j.paid_cents,
        unit_paid=_yuan((j.paid_cents * 2 + j.quantity) // (j.quantity * 2)),
    )


def _price_periods(tables: Any) -> ir.Table:
    """The price list as non-overlapping periods per SKU: a row holds from its valid_from until its valid_to or
    the day before the SKU's next valid_from, whichever comes first (the later list wins an overlap). Computed
    over the price list only, so the lines need one range join and no window."""
    pl = _optional(tables, "price_list")
    nxt = pl.valid_from.lead().over(ibis.window(group_by=pl.sku, order_by=pl.valid_from))
    far = ibis.date(FAR_FUTURE.isoformat())
    until = pl.valid_to.fill_null(far)
    next_day = ibis.ifelse(nxt.isnull(), far, nxt - ibis.interval(days=1))
    return pl.select(
        _sku=pl.sku,
        _from=pl.valid_from,
        _to=ibis.ifelse(next_day < until, next_day, until),
        _map=pl.min_advertised_price,
        _msrp=pl.msrp,
    )


def _price_at(tables: Any, lines: ir.Table) -> ir.Table:
    """``lines`` with the MAP and MSRP (fen) valid on each line's business date (``_price_periods``); the
    product's own minimum price and list price where the price list has none."""
    pl = _price_periods(tables)
    j = lines.left_join(pl, [lines.sku == pl._sku, lines.business_date >= pl._from, lines.business_date <= pl._to])
    prod = tables.table("products").select(_psku="sku", _pmap="min_advertised_price", _plist="list_price")
    j = j.left_join(prod, j.sku == prod._psku)
    return j.mutate(map_cents=_cents(j._map.fill_null(j._pmap)), msrp_cents=_cents(j._msrp.fill_null(j._plist))).drop(
        "_sku", "_from", "_to", "_map", "_msrp", "_psku", "_pmap", "_plist"
    )


def _allowance(day: ir.DateValue, exemptions: Sequence[Exemption]) -> ir.FloatingValue:
    """The depth under MAP allowed on each business date (0 outside every exemption window)."""
    allowed: ir.FloatingValue = ibis.literal(0.0)
    for e in exemptions:
        inside = day.between(ibis.date(e.start.isoformat()), ibis.date(e.end.isoformat()))
        allowed = ibis.ifelse(
            inside & (ibis.literal(e.allowed_depth) > allowed), ibis.literal(e.allowed_depth), allowed
        )
    return allowed


def priced_lines(tables: Any, config: ComplianceConfig, *, base_currency: str = "CNY", **scope: Any) -> ir.Table:
    """``paid_lines`` with map (unit, yuan), msrp, map_total (MAP x quantity), depth (1 - paid / map_total,
    a fraction), allowed_depth (exemption of the date) and ``violation`` (paid under MAP x quantity, and
    deeper than the exemption allows)."""
    lines = _price_at(tables, paid_lines(tables, base_currency=base_currency, **scope))
    map_total = lines.map_cents * lines.quantity
    depth = ibis.ifelse(map_total > 0, 1 - lines.paid_cents.cast("float64") / map_total.cast("float64"), None)
    allowed = _allowance(lines.business_date, config.exemptions)
    violation = (lines.paid_cents < map_total) & ((allowed == 0) | (depth > allowed))
    return lines.mutate(
        map=_yuan(lines.map_cents),
        msrp=_yuan(lines.msrp_cents),
        map_total=_yuan(map_total),
        depth=depth,
        allowed_depth=allowed,
        violation=violation.fill_null(False),
    )


def violation_lines(tables: Any, config: ComplianceConfig, **kw: Any) -> ir.Table:
    """The lines priced under MAP (see ``priced_lines``)."""
    t = priced_lines(tables, config, **kw)
    return t.filter(t.violation)


#: the columns of ``case_warnings`` (a warning per notified compliance case)
WARNING_COLUMNS = ("distributor_id", "sku", "kind", "warned_at")


def case_warnings(project: Any) -> pd.DataFrame:
    """The notified compliance cases as warnings: distributor_id, sku (None for a region case), kind (price or
    region) and warned_at, the business date (project timezone) of the case's first move to ``notified``. A
    case that was notified counts as a warning from then on, whatever its status became later (acknowledged,
    resolved, appealed). Read from the ``compliance_cases`` table (an operational table of the warehouse);
    empty when it does not exist yet. One row per case, not per order line."""
    import json

    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in WARNING_COLUMNS})
    wh = getattr(project, "warehouse", None)
    if wh is None or not wh.has_tables("compliance_cases"):
        return empty
    rows = wh.execute(
        "SELECT distributor_id, sku, kind, history_json FROM compliance_cases WHERE history_json LIKE ?",
        ['%"notified"%'],
    )
    tz = ZoneInfo(project.config.project.timezone)
    out = []
    for did, sku, kind, history in rows:  # one row per case
        times = [h["at"] for h in json.loads(history or "[]") if h.get("status") == "notified" and h.get("at")]
        if not times:
            continue
        at = dt.datetime.fromisoformat(min(times))
        local = (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(tz).date()
        out.append((did, sku, kind, local))
    return pd.DataFrame(out, columns=list(WARNING_COLUMNS)) if out else empty


def _warnings(tables: Any, extra: pd.DataFrame | None) -> ir.Table:
    """The price warnings: distributor_warnings (loaded as data) and the notified price cases of ``extra``
    (see ``case_warnings``): _d, _s (None = every SKU), _at."""
    w = _optional(tables, "distributor_warnings").select(_d="distributor_id", _s="sku", _at="warned_at")
    mine = extra[extra["kind"] == "price"] if extra is not None and not extra.empty else None
    if mine is None or mine.empty:
        return w
    frame = pd.DataFrame(
        {
            "_d": mine["distributor_id"].astype(str).tolist(),
            "_s": [None if s is None or pd.isna(s) else str(s) for s in mine["sku"]],
            "_at": pd.to_datetime(mine["warned_at"]).dt.date.tolist(),
        }
    )
    cases = ibis.memtable(frame, schema={"_d": "string", "_s": "string", "_at": "date"})
    return w.cast({"_d": "string", "_s": "string", "_at": "date"}).union(cases)


def _first_warning(tables: Any, groups: ir.Table, extra: pd.DataFrame | None = None) -> ir.Table:
    """Per (distributor_id, sku) of ``groups``: the first warning that names the SKU or every SKU (loaded
    warnings and notified price cases)."""
    w = _warnings(tables, extra)
    j = groups.join(w, [groups.distributor_id == w._d, w._s.isnull() | (w._s == groups.sku)])
    return j.group_by(["distributor_id", "sku"]).aggregate(first_warning=j._at.min())


def violations(
    tables: Any, config: ComplianceConfig, *, warnings: pd.DataFrame | None = None, **kw: Any
) -> pd.DataFrame:
    """Per distributor x SKU: lines and units under MAP, depth (mean, median, worst), the worst line,
    first and last seen (business dates), duration (days), the first warning and the violation days after
    it (repeats). A warning is a row of ``distributor_warnings`` or a notified price case of ``warnings``
    (``case_warnings``). Sorted by worst depth."""
    v = violation_lines(tables, config, **kw)
    keys = ["distributor_id", "sku"]
    worst_rank = ibis.row_number().over(ibis.window(group_by=keys, order_by=[ibis.desc(v.depth), v.order_id]))
    v = v.mutate(_wr=worst_rank)
    agg = v.group_by(keys).aggregate(
        lines=v.count(),
        units=v.quantity.sum(),
        depth_mean=v.depth.mean(),
        depth_median=v.depth.median(),
        depth_worst=v.depth.max(),
        worst_order=v.order_id.max(where=v._wr == 0),
        worst_unit_paid=v.unit_paid.max(where=v._wr == 0),
        first_seen=v.business_date.min(),
        last_seen=v.business_date.max(),
        value_under_map=(v.map_total - v.paid).sum(),
    )
    warned = _first_warning(tables, agg.select(*keys), warnings)
    agg = agg.left_join(warned, keys).drop("distributor_id_right", "sku_right")
    after = v.join(warned, keys)
    after = after.filter(after.business_date > after.first_warning)
    rep = after.group_by(keys).aggregate(repeat_days=after.business_date.nunique(), repeat_lines=after.count())
    agg = agg.left_join(rep, keys).drop("distributor_id_right", "sku_right")
    out = agg.to_pandas()
    if out.empty:
        return out.assign(duration_days=pd.Series(dtype="int64"))
    for c in ("repeat_days", "repeat_lines"):
        out[c] = out[c].fillna(0).astype("int64")
    out["duration_days"] = (pd.to_datetime(out["last_seen"]) - pd.to_datetime(out["first_seen"])).dt.days + 1
    return out.sort_values(["depth_worst", "distributor_id", "sku"], ascending=[False, True, True], ignore_index=True)


def cross_region_orders(tables: Any, **scope: Any) -> ir.Table:
    """Paid orders of distributors that have authorized regions, shipped to a region without an authorization
    valid on the order's business date. Orders without a region are not judged. A distributor without any
    row in ``distributor_regions`` is not restricted."""
    o = _scoped_orders(tables, scope.get("distributors"), scope.get("channels"), scope.get("end"))
    o = o.filter(o.region.notnull())
    r = _optional(tables, "distributor_regions")
    restricted = r.select("distributor_id").distinct()
    o = o.filter(o.distributor_id.isin(restricted.distributor_id))
    a = r.select(_d="distributor_id", _r="region", _f="valid_from", _t="valid_to")
    ok = [
        o.distributor_id == a._d,
        o.region == a._r,
        o.business_date >= a._f,
        o.business_date <= a._t.fill_null(ibis.date(FAR_FUTURE.isoformat())),
    ]
    out = o.anti_join(a, ok)
    return out.select("order_id", "channel_id", "distributor_id", "region", "business_date", "net_amount_base")


def regions(tables: Any, **scope: Any) -> pd.DataFrame:
    """Per distributor x destination region: out-of-region orders and value (base currency), with the
    distributor's paid total for the share."""
    x = cross_region_orders(tables, **scope)
    agg = x.group_by(["distributor_id", "region"]).aggregate(
        orders=x.count(),
        value=x.net_amount_base.sum(),
        first_seen=x.business_date.min(),
        last_seen=x.business_date.max(),
    )
    return agg.order_by([ibis.desc("value"), "distributor_id", "region"]).to_pandas()


def region_repeats(tables: Any, warnings: pd.DataFrame | None, **scope: Any) -> pd.DataFrame:
    """Per distributor with a notified region case (``case_warnings``): first_warning (the notification's
    business date), repeat_days (days with cross-region orders after it) and repeat_orders; the graded policy
    escalates a region case by these repeats. Empty when no region case was notified."""
    cols = ["distributor_id", "first_warning", "repeat_days", "repeat_orders"]
    mine = warnings[warnings["kind"] == "region"] if warnings is not None and not warnings.empty else None
    if mine is None or mine.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    first = (
        pd.DataFrame({"_d": mine["distributor_id"].astype(str), "_at": pd.to_datetime(mine["warned_at"]).dt.date})
        .groupby("_d", as_index=False)["_at"]
        .min()
    )
    w = ibis.memtable(first, schema={"_d": "string", "_at": "date"})
    x = cross_region_orders(tables, **scope)
    j = w.left_join(x, [w._d == x.distributor_id, x.business_date > w._at])
    agg = j.group_by([j._d, j._at]).aggregate(repeat_days=j.business_date.nunique(), repeat_orders=j.order_id.count())
    out = agg.rename(distributor_id="_d", first_warning="_at").to_pandas()
    for c in ("repeat_days", "repeat_orders"):
        out[c] = out[c].fillna(0).astype("int64")
    return out[cols].sort_values("distributor_id", ignore_index=True)


def _utc_offset_hours(timezone: str) -> float:
    """The zone's offset from UTC (hours) in the middle of the year; zones with DST shift payment months by
    at most an hour around the change."""
    off = dt.datetime(2025, 7, 1, tzinfo=ZoneInfo(timezone)).utcoffset()
    return off.total_seconds() / 3600 if off else 0.0


def commissions(
    tables: Any, config: ComplianceConfig, *, timezone: str = "Asia/Shanghai", **scope: Any
) -> pd.DataFrame:
    """Per distributor x month (of the payment, local time): sales (paid net, base currency), own commission
    (rate x sales), override on the direct children's sales, owed, paid (fees of type commission) and the
    difference (paid - owed); ``flagged`` where |difference| > the tolerance."""
    o = tables.table("orders")
    o = o.filter(o.paid_at.notnull(), o.distributor_id.notnull())
    if scope.get("channels") is not None:
        o = o.filter(o.channel_id.isin(list(scope["channels"])))
    offset = _utc_offset_hours(timezone)
    month = (o.paid_at + ibis.interval(minutes=round(offset * 60))).date().strftime("%Y-%m")
    d = tables.table("distributors").select("distributor_id", "commission_rate", "parent_id")
    sales = o.mutate(month=month).group_by(["distributor_id", "month"]).aggregate(sales=o.net_amount_base.sum())
    sales = sales.left_join(d, "distributor_id").drop("distributor_id_right")
    exact = "decimal(38,10)"  # one DECIMAL type for both factors (engines and Ibis disagree on mixed ones)
    rate = sales.commission_rate.fill_null(0).cast(exact)
    own = sales.mutate(own=sales.sales.cast(exact) * rate)
    override_rate = ibis.literal(str(config.commission.override_rate), type=exact)
    child = own.filter(own.parent_id.notnull())
    over = child.group_by([child.parent_id.name("distributor_id"), "month"]).aggregate(
        override=(child.sales.cast(exact) * override_rate).sum()
    )
    f = tables.table("fees")
    f = f.filter(f.fee_type == "commission", f.distributor_id.notnull())
    if scope.get("channels") is not None:
        f = f.filter(f.channel_id.isin(list(scope["channels"])))
    paid = (
        f.mutate(month=f.date.strftime("%Y-%m"))
        .group_by(["distributor_id", "month"])
        .aggregate(paid=f.amount_base.sum())
    )
    keys = ["distributor_id", "month"]
    allk = own.select(*keys).union(over.select(*keys)).union(paid.select(*keys)).distinct()
    t = allk.left_join(own.select(*keys, "sales", "own"), keys).drop("distributor_id_right", "month_right")
    t = t.left_join(over, keys).drop("distributor_id_right", "month_right")
    t = t.left_join(paid, keys).drop("distributor_id_right", "month_right")
    if scope.get("distributors") is not None:
        t = t.filter(t.distributor_id.isin(list(scope["distributors"])))
    # rounded half up to the fen in the engine (exact DECIMAL), returned as integer fen: no DECIMAL objects
    # cross into Python per value
    t = t.select(*keys, **{c: _cents(t[c].fill_null(0)) for c in ("sales", "own", "override", "paid")})
    out = t.to_pandas()
    from decimal import Decimal

    for c in ("sales", "own", "override", "paid"):
        out[c] = [Decimal(int(x)).scaleb(-2) for x in out[c]]  # aggregates: one value per distributor-month
    out["owed"] = [a + b for a, b in zip(out["own"], out["override"], strict=True)]
    out["difference"] = [p - w for p, w in zip(out["paid"], out["owed"], strict=True)]
    tol = Decimal(str(config.commission.tolerance))
    out["flagged"] = [abs(x) > tol for x in out["difference"]]
    return out.sort_values(keys, ignore_index=True)[
        ["distributor_id", "month", "sales", "own", "override", "owed", "paid", "difference", "flagged"]
    ]


def score(
    tables: Any,
    config: ComplianceConfig,
    *,
    as_of: dt.date | None = None,
    groups: pd.DataFrame | None = None,
    **kw: Any,
) -> pd.DataFrame:
    """Compliance score (0-100) per distributor with paid orders, and the points each component takes:
    violations (share of lines under MAP), depth (worst depth), recency (days since the last violation
    against ``recency_days``), repeats (violation days after a warning) and out_of_region (share of paid
    value shipped outside the authorized regions). Weights from ``compliance.score``."""
    o = _scoped_orders(tables, kw.get("distributors"), kw.get("channels"), kw.get("end"))
    ol = tables.table("order_lines").select("order_id").join(o.select("order_id", "distributor_id"), "order_id")
    counts = ol.group_by("distributor_id").aggregate(lines=ol.count())
    value = o.group_by("distributor_id").aggregate(paid_value=o.net_amount_base.sum(), last_order=o.business_date.max())
    x = cross_region_orders(tables, distributors=kw.get("distributors"), channels=kw.get("channels"), end=kw.get("end"))
    out_v = x.group_by("distributor_id").aggregate(
        out_of_region_value=x.net_amount_base.sum(), out_of_region_orders=x.count()
    )
    frame = value.left_join(counts, "distributor_id").drop("distributor_id_right")
    frame = frame.left_join(out_v, "distributor_id").drop("distributor_id_right").to_pandas()
    # the violation figures per distributor, from the per-SKU aggregates (one priced pass over the lines)
    v = violations(tables, config, **kw) if groups is None else groups
    if v.empty:
        # no violation in the scope: an empty frame keyed like the distributors (a RangeIndex would not merge)
        per = pd.DataFrame(
            columns=["violation_lines", "depth_worst", "last_violation", "repeat_days"],
            index=pd.Index([], dtype=frame["distributor_id"].dtype, name="distributor_id"),
        )
    else:
        g = v.groupby("distributor_id")
        per = pd.DataFrame(
            {
                "violation_lines": g["lines"].sum(),
                "depth_worst": g["depth_worst"].max(),
                "last_violation": g["last_seen"].max(),
                "repeat_days": g["repeat_days"].sum(),
            }
        )
    frame = frame.merge(per, left_on="distributor_id", right_index=True, how="left")
    reps = frame.set_index("distributor_id")["repeat_days"].fillna(0)
    frame = frame.drop(columns=["repeat_days"])
    if as_of is None:
        as_of = pd.to_datetime(frame["last_order"]).max().date() if not frame.empty else dt.date.today()
    return score_frame(frame, reps, config, as_of)


def score_trend(
    tables: Any, config: ComplianceConfig, *, months: int = 6, as_of: dt.date | None = None, **kw: Any
) -> pd.DataFrame:
    """``score`` at each of the last ``months`` month ends up to ``as_of`` (default: the latest order day),
    each over the data up to that day."""
    if as_of is None:
        o = _scoped_orders(tables, kw.get("distributors"), kw.get("channels"))
        last = o.business_date.max().execute()
        if last is None or pd.isna(last):
            return pd.DataFrame(columns=["month", "distributor_id", "score"])
        as_of = pd.Timestamp(last).date()
    ends = [(pd.Timestamp(as_of) - pd.offsets.MonthEnd(k)).date() for k in range(months - 1, 0, -1)] + [as_of]
    ends = [e for e in ends if e <= as_of]
    parts = []
    for end in ends:  # one query per month (aggregates)
        s = score(tables, config, as_of=end, **{**kw, "end": end})
        parts.append(s.assign(month=end.strftime("%Y-%m")))
    out = pd.concat(parts, ignore_index=True)
    return out[["month", *[c for c in out.columns if c != "month"]]]


def score_frame(frame: pd.DataFrame, repeats: pd.Series, config: ComplianceConfig, as_of: dt.date) -> pd.DataFrame:
    """The score's arithmetic over per-distributor aggregates (one row per distributor)."""
    w = config.score
    f = frame.copy()
    f["lines"] = f["lines"].fillna(0).astype("int64")
    f["violation_lines"] = f["violation_lines"].fillna(0).astype("int64")
    f["out_of_region_orders"] = f["out_of_region_orders"].fillna(0).astype("int64")
    paid = f["paid_value"].astype(float)
    out_value = f["out_of_region_value"].fillna(0).astype(float)
    f["repeat_days"] = f["distributor_id"].map(repeats).fillna(0).astype("int64")
    share = (f["violation_lines"] / f["lines"].where(f["lines"] > 0)).fillna(0.0)
    out_share = (out_value / paid.where(paid > 0)).fillna(0.0)
    last = pd.to_datetime(f["last_violation"])
    days = (pd.Timestamp(as_of) - last).dt.days
    recency = (1 - days / config.recency_days).clip(0, 1).where(last.notna(), 0.0)
    comp = {
        "violations": w.violations * (share / FULL_PENALTY["violations"]).clip(0, 1),
        "depth": w.depth * (f["depth_worst"].fillna(0).astype(float) / FULL_PENALTY["depth"]).clip(0, 1),
        "recency": w.recency * recency.astype(float),
        "repeats": w.repeats * (f["repeat_days"] / FULL_PENALTY["repeats"]).clip(0, 1),
        "out_of_region": w.out_of_region * (out_share / FULL_PENALTY["out_of_region"]).clip(0, 1),
    }
    for name, points in comp.items():
        f[f"minus_{name}"] = points.round(2)
    f["violation_share"] = share
    f["out_of_region_share"] = out_share
    f["score"] = (100 - sum(comp.values())).clip(0, 100).round(1)
    cols = [
        "distributor_id",
        "score",
        *[f"minus_{n}" for n in comp],
        "lines",
        "violation_lines",
        "violation_share",
        "depth_worst",
        "last_violation",
        "repeat_days",
        "out_of_region_orders",
        "out_of_region_share",
        "paid_value",
    ]
    return f[cols].sort_values(["score", "distributor_id"], ignore_index=True)


class ComplianceAnalyses:
    """``Project.analysis.compliance``: the channel-order analyses of one project, scoped to distributors
    and channels when given (a distributor-scoped user sees its node and children only)."""

    def __init__(
        self, project: Any, *, distributors: Sequence[str] | None = None, channels: Sequence[str] | None = None
    ):
        self._p = project
        self.config: ComplianceConfig = project.config.compliance
        self.scope: dict[str, Any] = {"distributors": distributors, "channels": channels}

    def scoped(
        self, *, distributors: Sequence[str] | None = None, channels: Sequence[str] | None = None
    ) -> ComplianceAnalyses:
        return ComplianceAnalyses(self._p, distributors=distributors, channels=channels)

    @property
    def _base(self) -> str:
        return self._p.config.project.base_currency

    def paid_lines(self) -> ir.Table:
        """到手价 per order line (Ibis table; see ``paid_lines``)."""
        return paid_lines(self._p, base_currency=self._base, **self.scope)

    def priced_lines(self) -> ir.Table:
        return priced_lines(self._p, self.config, base_currency=self._base, **self.scope)

    def violation_lines(self) -> pd.DataFrame:
        t = violation_lines(self._p, self.config, base_currency=self._base, **self.scope)
        return t.order_by(["distributor_id", "sku", "business_date", "order_id", "line_no"]).to_pandas()

    def case_warnings(self) -> pd.DataFrame:
        """The notified compliance cases, which count as warnings (``case_warnings``)."""
        return case_warnings(self._p)

    def violations(self, warnings: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per distributor x SKU (``violations``); repeats count after loaded warnings and notified cases."""
        w = self.case_warnings() if warnings is None else warnings
        return violations(self._p, self.config, warnings=w, base_currency=self._base, **self.scope)

    def region_repeats(self, warnings: pd.DataFrame | None = None) -> pd.DataFrame:
        """Cross-region order days after a notified region case, per distributor (``region_repeats``)."""
        w = self.case_warnings() if warnings is None else warnings
        return region_repeats(self._p, w, **self.scope)

    def cross_region_orders(self) -> pd.DataFrame:
        t = cross_region_orders(self._p, **self.scope)
        return t.order_by(["distributor_id", "business_date", "order_id"]).to_pandas()

    def regions(self) -> pd.DataFrame:
        return regions(self._p, **self.scope)

    def commissions(self) -> pd.DataFrame:
        return commissions(self._p, self.config, timezone=self._p.config.project.timezone, **self.scope)

    def score_trend(self, months: int = 6, as_of: dt.date | None = None) -> pd.DataFrame:
        """The score at the end of each of the last ``months`` months (data up to that day): month, distributor,
        score and its components; one engine query per month."""
        return score_trend(
            self._p,
            self.config,
            months=months,
            as_of=as_of,
            warnings=self.case_warnings(),
            base_currency=self._base,
            **self.scope,
        )

    def score(self, as_of: dt.date | None = None, groups: pd.DataFrame | None = None) -> pd.DataFrame:
        return score(
            self._p,
            self.config,
            as_of=as_of,
            groups=groups,
            warnings=self.case_warnings(),
            base_currency=self._base,
            **self.scope,
        )


SEVERITY = {"warning": "info", "fine": "warning", "suspend_commission": "critical", "terminate": "critical"}


def policy_step(depth_worst: float, repeat_days: int, config: ComplianceConfig) -> PolicyStep:
    """The rung of the enforcement ladder a case reaches: the most severe step whose minimum depth and
    repeats the case meets (ties: the later step of the policy)."""
    from channelscope.config.compliance import ACTIONS

    met = [s for s in config.policy if depth_worst >= s.min_depth and repeat_days >= s.min_repeats]
    if not met:
        return PolicyStep(action="warning")
    return max(enumerate(met), key=lambda p: (ACTIONS.index(p[1].action), p[0]))[1]
