"""Coverage: which channels provide the inputs a KPI needs, and why a KPI is empty for a channel.

How coverage is known: a channel provides an input (order lines, refunds, traffic) when the warehouse
holds at least one row of that table for it, at any date (``metrics.query.channel_coverage``). A channel
that never sent one does not provide it: its KPIs over it are empty (never 0) and it is left out of
like-for-like totals. A channel with a refund feed and no refund this month has a real 0.
"""

from __future__ import annotations

import pandas as pd

from channelscope.metrics.definitions import Catalog
from channelscope.metrics.query import Coverage

#: reason code, zh-CN, en, per input a channel may not provide
REASONS: dict[str, tuple[str, str, str]] = {
    "order_lines": ("no_order_lines", "该渠道没有订单明细（无商品成本）", "the channel sends no order lines (no COGS)"),
    "refunds": ("no_refunds", "该渠道没有退款数据（退款未知）", "the channel sends no refunds (refunds unknown)"),
    "traffic": ("no_traffic", "该渠道没有流量数据（无访客数）", "the channel sends no traffic (no visitors)"),
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
