"""A section table's cells as text in the report's language (HTML and PDF); Excel writes the raw numbers."""

from __future__ import annotations

from typing import Any

import pandas as pd

from channelscope.report import format as F
from channelscope.report.content import Column, Report


def cell_value(row: pd.Series, col: Column, lang: str) -> Any:
    """The value of a cell: for 'lang' columns the text in ``lang``; for 'row' units the row's own unit."""
    if col.unit == "lang":
        return row.get(f"{col.key}_{lang}", row.get(col.key))
    if col.key == "label" and f"label_{lang}" in row:
        return row[f"label_{lang}"]
    return row.get(col.key)


def cell_unit(row: pd.Series, col: Column) -> str:
    if col.unit in ("row", "row_change"):
        return str(row.get("_unit", "count"))
    return col.unit


def cell_text(row: pd.Series, col: Column, report: Report) -> str:
    value = cell_value(row, col, report.language)
    unit = cell_unit(row, col)
    if unit in ("text", "lang", "date"):
        return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    if value is None or pd.isna(value):
        return "–"
    if col.unit == "percent" and col.key.endswith(("change_pct", "deviation")):
        return F.signed_percent(float(value))
    return F.by_unit(float(value), unit, report.currency, report.language, change=col.unit == "row_change")
