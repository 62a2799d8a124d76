"""The canonical model: one definition of every warehouse table (DESIGN.md, 'The canonical model')."""

from channelscope.model.tables import (
    BOOKKEEPING,
    ORDER_STATUSES,
    TABLES,
    Column,
    Table,
    table,
)

__all__ = ["BOOKKEEPING", "ORDER_STATUSES", "TABLES", "Column", "Table", "table"]
