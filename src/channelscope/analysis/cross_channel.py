"""Cross-channel customers: overlap of channels, the channel of the first and second order, the value of
multi-channel customers, and distributor customers who bought in the own store before (cannibalization).

All counts are computed in the engine over paid orders (``metrics.customers.paid_orders``); a customer
is one pseudonymous ``customer_key`` across channels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import pandas as pd

from channelscope.metrics.customers import paid_orders


def overlap(
    con: ibis.BaseBackend, *, as_of: dt.date | None = None, channels: Sequence[str] | None = None
) -> pd.DataFrame:
    """The overlap matrix: customers who bought (paid) in both the row and the column channel; the diagonal
    is each channel's customers."""
    o = paid_orders(con, as_of=as_of, channels=channels)
    cc = o.group_by(["customer_key", "channel_id"]).aggregate()
    other = cc.rename(_ck="customer_key", _ch="channel_id")
    j = cc.join(other, cc.customer_key == other._ck)
    df = j.group_by(["channel_id", "_ch"]).aggregate(customers=j.count()).to_pandas()
    m = df.pivot_table(index="channel_id", columns="_ch", values="customers", aggfunc="sum", fill_value=0)
    names = sorted(set(m.index) | set(m.columns))
    m = m.reindex(index=names, columns=names, fill_value=0).astype("int64")
    m.index.name, m.columns.name = "channel", "also_bought_in"
    return m


def first_second_channel(
    con: ibis.BaseBackend, *, as_of: dt.date | None = None, channels: Sequence[str] | None = None
) -> pd.DataFrame:
    """Customers by the channel of their first paid order (rows) and of their second (columns; ``(none)``
    for customers with one order so far)."""
    o = paid_orders(con, as_of=as_of, channels=channels)
    r = o.mutate(_n=ibis.row_number().over(group_by=o.customer_key, order_by=[o.ordered_at, o.order_id]))
    first = r.filter(r._n == 0).select("customer_key", first="channel_id")
    second = r.filter(r._n == 1).select(_ck="customer_key", second="channel_id")
    j = first.left_join(second, first.customer_key == second._ck)
    j = j.mutate(second=ibis.coalesce(j.second, ibis.literal("(none)")))
    df = j.group_by(["first", "second"]).aggregate(customers=j.count()).to_pandas()
    m = df.pivot_table(index="first", columns="second", values="customers", aggfunc="sum", fill_value=0)
    return m.astype("int64")


def multi_channel_value(
    con: ibis.BaseBackend, *, as_of: dt.date | None = None, channels: Sequence[str] | None = None
) -> pd.DataFrame:
    """Single- vs multi-channel customers: customers, orders and value per customer (base currency)."""
    o = paid_orders(con, as_of=as_of, channels=channels)
    per = o.group_by("customer_key").aggregate(n_channels=o.channel_id.nunique(), orders=o.count(), value=o.value.sum())
    per = per.mutate(kind=ibis.ifelse(per.n_channels > 1, "multi_channel", "single_channel"))
    df = (
        per.group_by("kind")
        .aggregate(customers=per.count(), orders=per.orders.sum(), value=per.value.sum())
        .to_pandas()
    )
    df["value"] = df["value"].astype("float64").round(2)
    df["orders_per_customer"] = df["orders"] / df["customers"]
    df["value_per_customer"] = df["value"] / df["customers"]
    return df.sort_values("kind").reset_index(drop=True)


def cannibalization(
    con: ibis.BaseBackend, *, as_of: dt.date | None = None, channels: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per distributor: its customers (paid orders through it) and those of them who had bought in an own
    store (channel kind ``own_store``) before their first order through the distributor, with the share."""
    o = paid_orders(con, as_of=as_of, channels=channels)
    ch = con.table("channels").select(_cid="channel_id", _kind="kind")
    o = o.left_join(ch, o.channel_id == ch._cid)
    d = o.filter(o.distributor_id.notnull())
    d = d.group_by(["distributor_id", "customer_key"]).aggregate(first_via=d.ordered_at.min())
    own = o.filter(o._kind == "own_store")
    own = own.group_by("customer_key").aggregate(first_own=own.ordered_at.min()).rename(_ok="customer_key")
    j = d.left_join(own, d.customer_key == own._ok)
    j = j.mutate(_before=ibis.ifelse(j.first_own.notnull() & (j.first_own < j.first_via), 1, 0))
    df = j.group_by("distributor_id").aggregate(customers=j.count(), bought_own_store_before=j._before.sum())
    df = df.to_pandas()
    df["share"] = df["bought_own_store_before"] / df["customers"]
    return df.sort_values("distributor_id").reset_index(drop=True)
