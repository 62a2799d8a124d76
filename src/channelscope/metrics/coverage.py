"""Coverage: which channels provide the inputs a KPI needs, and why a KPI is empty for a channel.

How coverage is known: a channel provides an input (order lines, refunds, traffic) when the warehouse
holds at least one row of that table for it, at any date (``metrics.query.channel_coverage``). A channel
that never sent one does not provide it: its KPIs over it are empty (never 0) and it is left out of
like-for-like totals. A channel with a refund feed and no refund this month has a real 0.
"""

from __future__ import annotations

import pandas as pd

from channelscope.metrics.definitions import Catalog
from channelscope.metrics.query import DIMENSIONS, TABLE_DIMENSIONS, Coverage
from channelscope.warehouse import Warehouse

#: reason code, zh-CN, en, per input a channel may not provide
REASONS: dict[str, tuple[str, str, str]] = {
    "order_lines": ("no_order_lines", "该渠道没有订单明细（无商品成本）", "the channel sends no order lines (no COGS)"),
    "refunds": ("no_refunds", "该渠道没有退款数据（退款未知）", "the channel sends no refunds (refunds unknown)"),
    "traffic": ("no_traffic", "该渠道没有流量数据（无访客数）", "the channel sends no traffic (no visitors)"),
}
#: a cut traffic is not reported by (traffic comes per channel and day): reason code, zh-CN, en
CUT_REASON = (
    "no_traffic_by_{dim}",
    "该渠道的流量数据不按{dim}细分（无访客数）",
    "the channel's traffic is not broken down by {dim} (no visitors)",
)
_CUT_NAMES = {
    "distributor": ("分销商", "distributor"),
    "distributor_tier": ("分销商层级", "distributor tier"),
    "distributor_parent": ("上级分销商", "parent distributor"),
    "campaign": ("活动", "campaign"),
    "region": ("地区", "region"),
}
COLUMNS = ["metric", "channel", "reason", "reason_zh", "reason_en", "left_out_of_total"]


def coverage_rows(catalog: Catalog, metrics: list[str], channels: list[str], coverage: Coverage) -> pd.DataFrame:
    """One row per metric, channel in view and input the channel does not provide (see COLUMNS).

    ``left_out_of_total`` is True: the channel's value is empty and every total of the metric is computed
    over the other channels (like for like)."""
    rows = []
    for name in metrics:
        basis = catalog.get(name).basis
        for table in basis.needs if basis else ():
            have = coverage.get(table)
            if have is None:
                continue
            code, zh, en = REASONS[table]
            for ch in channels:
                if ch not in have:
                    rows.append([name, ch, code, zh, en, True])
    return pd.DataFrame(rows, columns=COLUMNS)


def _needs(catalog: Catalog, name: str) -> tuple[str, ...]:
    basis = catalog.get(name).basis
    return basis.needs if basis else ()


def traffic_cut_rows(
    wh: Warehouse, catalog: Catalog, metrics: list[str], by: list[str], cut_channels: dict[str, list[str]]
) -> pd.DataFrame:
    """Why a traffic KPI is empty in a cut other than the channel (distributor, campaign...): one row per
    metric over traffic, cut and channel that has members of the cut in view (``cut_channels``: dimension ->
    channels) and sends traffic, but never by that dimension. Small aggregates, pulled once."""
    names = [m for m in metrics if "traffic" in _needs(catalog, m)]
    rows = []
    for dim in by:
        column, lookup = DIMENSIONS[dim]
        if dim == "channel" or lookup == "channels" or dim not in TABLE_DIMENSIONS["traffic"] or not names:
            continue  # a channel's attribute: traffic has it whenever the channel has traffic
        base = "distributor_id" if lookup == "distributors" else column
        t = wh.ibis.table("traffic")
        if base not in t.columns:
            continue
        per = t.group_by("channel_id").aggregate(n=t[base].count()).to_pandas()
        sends = {str(c) for c in per["channel_id"]}
        broken_down = {str(c) for c, n in zip(per["channel_id"], per["n"], strict=True) if n}
        zh_dim, en_dim = _CUT_NAMES.get(dim, (dim, dim))
        code = CUT_REASON[0].format(dim=dim)
        zh, en = CUT_REASON[1].format(dim=zh_dim), CUT_REASON[2].format(dim=en_dim)
        for ch in cut_channels.get(dim, []):
            if ch in sends and ch not in broken_down:
                rows += [[name, ch, code, zh, en, True] for name in names]
    return pd.DataFrame(rows, columns=COLUMNS)
