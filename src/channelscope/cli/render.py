"""Rich tables of KPIs with the metrics' labels, units and formats, in zh-CN or en."""

from __future__ import annotations

import os
import re
import sys

import pandas as pd
from rich.console import Console
from rich.table import Table

from channelscope.metrics.definitions import Catalog
from channelscope.numbers import NumberFormat, change_value, is_missing

TITLE = {"zh-CN": "关键指标", "en": "KPIs"}
CHANGE = {"zh-CN": "变化", "en": "change"}
PERIOD = {"zh-CN": "周期", "en": "period"}


def fmt_value(value: object, unit: str, nf: NumberFormat, fmt: str = "") -> str:
    """A number as people read it (``channelscope.numbers``: money with the currency's symbol, rates in %);
    empty for a missing value. The decimals of a percent or ratio follow the metric's declared format."""
    if is_missing(value):
        return ""
    digits = re.search(r"\.(\d+)", fmt)
    decimals = int(digits.group(1)) if digits and unit in ("percent", "ratio") else None
    return nf.value(value, unit, decimals=decimals)


def kpi_table(df: pd.DataFrame, catalog: Catalog, metrics: list[str], locale: str, currency: str) -> Table:
    """KPIs as a Rich table; a change column per metric when compared: relative for amounts (+12.3%),
    in percentage points for rates (+3.4 pp / +3.4个百分点)."""
    zh = locale == "zh-CN"
    nf = NumberFormat("zh-CN" if zh else "en", currency)
    table = Table(title=f"{TITLE.get(locale, 'KPIs')} ({currency})")
    dims = [c for c in df.columns if c not in metrics and not any(c.startswith(f"{m}_") for m in metrics)]
    for d in dims:
        table.add_column(PERIOD[locale] if d == "period" and locale in PERIOD else d)
    has_change = any(f"{m}_change_pct" in df.columns for m in metrics)
    for m in metrics:
        meta = catalog.get(m)
        table.add_column(meta.label_zh if zh else meta.label_en, justify="right")
        if has_change:
            table.add_column(CHANGE.get(locale, "change"), justify="right")
    for row in df.itertuples(index=False):
        rec = row._asdict()
        cells = ["" if pd.isna(rec[d]) else str(rec[d]) for d in dims]
        for m in metrics:
            meta = catalog.get(m)
            cells.append(fmt_value(rec[m], meta.unit, nf, meta.format))
            if has_change:
                pct = rec.get(f"{m}_change_pct")
                if meta.unit == "percent" and f"{m}_prev" in rec:
                    pct = change_value(rec[m], rec[f"{m}_prev"], meta.unit)
                text = "" if is_missing(pct) else nf.change_text(pct, meta.unit)
                if text and pct:
                    color = "green" if (float(pct) > 0) == meta.up_is_good else "red"
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
