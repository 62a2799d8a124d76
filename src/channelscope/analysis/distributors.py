"""Distributor activity: active days and order lines sold below the minimum advertised price.

``distributor_activity`` pulls one aggregate per distributor from the engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import pandas as pd

from channelscope.errors import QueryError
from channelscope.model.semantic import below_min_price, paid_order

#: the dimensions the activity can be filtered by, and their column on orders
FILTER_COLUMNS = {
    "channel": "channel_id",
    "distributor": "distributor_id",
    "campaign": "campaign_id",
    "region": "region",
}


def distributor_activity(
    tables: Any,
    *,
    start: dt.date | str | None,
    end: dt.date | str | None,
    filters: Mapping[str, Sequence[Any]],
) -> pd.DataFrame:
    """Per distributor, over paid orders in [start, end] (business dates): ``active_days`` (distinct days with a
    paid order), ``lines`` (order lines) and ``below_map_lines`` (lines sold below the product's minimum
    advertised price, by ``model.semantic.below_min_price``: DECIMAL unit price vs DECIMAL minimum). ``tables`` answers
    ``table(name)`` with an Ibis table (a Project or a reader). Computed in the engine."""
    o = tables.table("orders")
    o = o.filter(paid_order(o), o.distributor_id.notnull())
    if start is not None:
        o = o.filter(o.business_date >= ibis.date(str(start)))
    if end is not None:
        o = o.filter(o.business_date <= ibis.date(str(end)))
    for dim, values in filters.items():
        if dim not in FILTER_COLUMNS:
            raise QueryError(f"the distributor board filters by {', '.join(FILTER_COLUMNS)}, not '{dim}'")
        o = o.filter(o[FILTER_COLUMNS[dim]].isin([str(v) for v in values]))
    days = o.group_by("distributor_id").aggregate(active_days=o.business_date.nunique())
    lines = tables.table("order_lines")
    products = tables.table("products").select("sku", "min_advertised_price")
    j = lines.join(o.select("order_id", "distributor_id"), "order_id").left_join(products, "sku")
    below = below_min_price(j.unit_price, j.min_advertised_price).ifelse(1, 0)
    sold = j.group_by("distributor_id").aggregate(lines=j.count(), below_map_lines=below.sum())
    out = days.left_join(sold, "distributor_id").select(
        distributor=days.distributor_id,
        active_days=days.active_days,
        lines=sold.lines,
        below_map_lines=sold.below_map_lines,
    )
    return out.to_pandas()
