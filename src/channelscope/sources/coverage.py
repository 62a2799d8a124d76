"""Why a figure is empty: fact tables with no rows, and the sources that should fill them.

A KPI summed over a table with no rows prints 0 (Olist before ``olist_sales``: orders landed
nowhere, so GMV was 0 with exit 0). ``empty_tables`` names each such table and what to do: the
sources whose mapping fills it (their batches say why nothing loaded), or the fact that no
source fills it at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from channelscope.sources.mapping import Mapping

#: fact tables that KPIs read, and what a user reads from them
WATCHED = {
    "orders": ("sales KPIs (gmv, paid_orders, aov, buyers)", "销售指标 (GMV、支付订单数、客单价、买家数)"),
    "order_lines": ("units and product KPIs", "件数与商品指标"),
    "refunds": ("refunds and net_sales", "退款与净销售额"),
    "traffic": ("visitors and conversion_rate", "访客数与转化率"),
    "ad_spend": ("ad_spend and ROAS", "广告花费与 ROAS"),
}


@dataclass(frozen=True)
class EmptyTable:
    """A watched fact table with no rows."""

    table: str
    sources: tuple[str, ...]  # configured sources whose mapping fills it (primary or also)

    def message(self, language: str = "en") -> str:
        what_en, what_zh = WATCHED[self.table]
        if language.startswith("zh"):
            if self.sources:
                return (
                    f"表 {self.table} 没有数据, 但数据源 {', '.join(self.sources)} 应当填充它: "
                    f"{what_zh}为空。请用 `channelscope status` 查看这些数据源的批次与隔离原因。"
                )
            return f"表 {self.table} 没有数据, 也没有数据源填充它: {what_zh}为空。"
        if self.sources:
            return (
                f"table {self.table} has no rows although source {', '.join(self.sources)} fills it: "
                f"{what_en} are empty; see that source's batches and quarantine reasons in `channelscope status`"
            )
        hint = (
            " (Olist: the preset olist_sales makes orders from the export's orders, items and payments files)"
            if self.table == "orders"
            else ""
        )
        return f"table {self.table} has no rows and no source fills it: {what_en} are empty{hint}"


def fills(mappings: dict[str, Mapping]) -> dict[str, list[str]]:
    """Canonical table -> the sources whose mapping fills it (as primary or ``also`` table)."""
    out: dict[str, list[str]] = {}
    for source, mapping in mappings.items():
        for target in mapping.targets():
            out.setdefault(target.table, [])
            if source not in out[target.table]:
                out[target.table].append(source)
    return out


def empty_tables(counts: dict[str, int], mappings: dict[str, Mapping]) -> list[EmptyTable]:
    """The watched fact tables with no rows that a source fills, and orders when no source fills it
    (every sales KPI then reads nothing); other tables nobody fills are a channel's choice, not a gap."""
    filled = fills(mappings)
    out = []
    for table in WATCHED:
        if counts.get(table, 0):
            continue
        sources = tuple(filled.get(table, []))
        if sources or (table == "orders" and mappings):
            out.append(EmptyTable(table, sources))
    return out
