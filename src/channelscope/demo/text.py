"""Text as platforms write it: money in yuan with two decimals, wall-clock timestamps."""

from __future__ import annotations

import numpy as np
import pandas as pd


def money(cents: np.ndarray | pd.Series) -> np.ndarray:
    """Integer fen as '1234.50' (exact, no float)."""
    c = np.asarray(cents, dtype=np.int64)
    a = np.abs(c)
    text = np.strings.add(np.strings.add((a // 100).astype(str), "."), np.strings.zfill((a % 100).astype(str), 2))
    return np.where(c < 0, np.strings.add("-", text), text)


def ts(at: np.ndarray | pd.Series, suffix: str = "") -> np.ndarray:
    """Wall time as 'YYYY-MM-DD HH:MM:SS' (+ suffix); NaT as ''."""
    a = np.asarray(at, dtype="datetime64[s]")
    text = np.strings.replace(np.datetime_as_string(a, unit="s"), "T", " ")
    if suffix:
        text = np.strings.add(text, suffix)
    return np.where(np.isnat(a), "", text)


def ts_mixed(at: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Tmall dates after a round trip through Excel and WPS: three styles, chosen per order."""
    a = np.asarray(at, dtype="datetime64[s]")
    idx = pd.DatetimeIndex(np.where(np.isnat(a), np.datetime64("2000-01-01T00:00:00"), a))
    y, mo, d = idx.year.astype(str), idx.month.astype(str), idx.day.astype(str)
    hh = idx.hour.astype(str)
    mm = pd.Index(idx.minute.astype(str)).str.zfill(2)
    slash = y + "/" + mo + "/" + d + " " + hh + ":" + mm
    chinese = y + "年" + mo + "月" + d + "日 " + pd.Index(hh).str.zfill(2) + ":" + mm
    out = np.where(style == 1, np.asarray(slash), np.where(style == 2, np.asarray(chinese), ts(a)))
    return np.where(np.isnat(a), "", out)
