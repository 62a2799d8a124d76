"""Rich tables of KPIs with the metrics' labels, units and formats, in zh-CN or en."""

from __future__ import annotations

import math
import os
import sys

import pandas as pd
from rich.console import Console
from rich.table import Table

from channelscope.metrics.definitions import Catalog

TITLE = {"zh-CN": "关键指标", "en": "KPIs"}
CHANGE = {"zh-CN": "变化", "en": "change"}
PERIOD = {"zh-CN": "周期", "en": "period"}


def fmt_value(value: object, fmt: str) -> str:
    """A number as people read it; empty for a missing ratio (zero denominator)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def kpi_table(df: pd.DataFrame, catalog: Catalog, metrics: list[str], locale: str, currency: str) -> Table:
    zh = locale == "zh-CN"
    table = Table(title=f"{TITLE.get(locale, 'KPIs')} ({currency})")
    dims = [c for c in df.columns if c not in metrics and not any(c.startswith(f"{m}_") for m in metrics)]
    for d in dims:
        table.add_column(PERIOD[locale] if d == "period" and locale in PERIOD else d)
    has_change = any(f"{m}_change_pct" in df.columns for m in metrics)
    for m in metrics:
        meta = catalog.get(m)
        table.add_column(meta.label_zh if zh else meta.label_en, justify="right")
        if has_change:
            table.add_column(f"{CHANGE[locale]} %", justify="right")
    for row in df.itertuples(index=False):
        rec = row._asdict()
        cells = ["" if pd.isna(rec[d]) else str(rec[d]) for d in dims]
        for m in metrics:
            cells.append(fmt_value(rec[m], catalog.get(m).format))
            if has_change:
                pct = rec.get(f"{m}_change_pct")
                text = fmt_value(pct, "+.1%")
                good = catalog.get(m).up_is_good
                if text and pct:
                    color = "green" if (pct > 0) == good else "red"
                    text = f"[{color}]{text}[/]"
                cells.append(text)
        table.add_row(*cells)
    return table


_CONSOLES: list[tuple[Console, bool]] = []


def _width(stderr: bool) -> int | None:
    stream = sys.stderr if stderr else sys.stdout
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return None if stream.isatty() else 160


def console(*, stderr: bool = False) -> Console:
    """A Rich console; piped output (a file, a test, another program) is 160 columns wide, not Rich's 80,
    so table cells are not cut to '…'. COLUMNS, when set, wins."""
    made = Console(stderr=stderr, width=_width(stderr))
    _CONSOLES.append((made, stderr))
    return made


def refit_consoles() -> None:
    """Width again at each command (the consoles are made at import, maybe under another stdout or COLUMNS)."""
    for made, stderr in _CONSOLES:
        width = _width(stderr)
        if width is not None:
            made.width = width
