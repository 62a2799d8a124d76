"""Spreadsheet formula injection: cells a spreadsheet would run as formulas, and the guard that stops it.

A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is a formula to Excel, LibreOffice
and Numbers (``=HYPERLINK(...)``, ``=1+2``). Files channelscope writes for people to open (the quarantine export,
KPI exports) prefix such cells with an apostrophe, which shows the text as it was; ``clean.parse.clean_text``
removes that apostrophe again when the fixed file is loaded, so a value survives the round trip unchanged.
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")


def neutralize_text(value: object) -> object:
    """``value`` with an apostrophe in front if a spreadsheet would run it; a plain number ('-5') stays."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralize_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every text cell (and column name) neutralized; numbers stay numbers."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralize_text)
    out.columns = [neutralize_text(c) for c in out.columns]
    return out
