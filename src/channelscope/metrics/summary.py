"""A first KPI table: orders, buyers, paid GMV, AOV and refunds by channel (and month)."""

from __future__ import annotations

import ibis
import pandas as pd

from channelscope.warehouse import Warehouse

PAID_STATUSES = ("paid", "shipped", "completed", "refunded")


def channel_summary(wh: Warehouse, *, by_month: bool = False) -> pd.DataFrame:
    """KPIs by channel computed in the engine; ratios from summed parts, never averaged.

    gmv: paid orders' net_amount_base (base currency); aov = gmv / paid_orders;
    refund_rate = refunds / gmv.
    """
    o = wh.ibis.table("orders")
    r = wh.ibis.table("refunds")
    keys = ["channel_id"]
    if by_month:
        o = o.mutate(month=o.business_date.truncate("M"))
        r = r.mutate(month=r.business_date.truncate("M"))
        keys.append("month")
    paid = o.paid_at.notnull() | o.status.isin(
        PAID_STATUSES
    )  # 支付金额: every order with a payment time, whatever its status became
    sales = o.group_by(keys).aggregate(
        orders=o.count(),
        paid_orders=paid.sum(),
        buyers=o.customer_key.nunique(),
        gmv=ibis.ifelse(paid, o.net_amount_base, 0).sum(),
    )
    ref = r.group_by(keys).aggregate(refunds=r.amount_base.sum())
    joined = sales.left_join(ref, keys).select(
        *[sales[k] for k in keys],
        "orders",
        "paid_orders",
        "buyers",
        "gmv",
        refunds=ref.refunds.fill_null(0),
    )
    df = joined.order_by(keys).to_pandas()
    df["gmv"] = df["gmv"].astype("float64").round(2)
    df["refunds"] = df["refunds"].astype("float64").round(2)
    df["aov"] = (df["gmv"] / df["paid_orders"].where(df["paid_orders"] > 0)).round(2)
    df["refund_rate"] = (df["refunds"] / df["gmv"].where(df["gmv"] > 0)).round(4)
    return df
