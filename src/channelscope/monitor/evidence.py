"""The evidence an alert carries: the value, the expectation, and for sales metrics the visitors x conversion x
AOV decomposition of the change (metrics/decompose.py), as numbers and as sentences in zh-CN and en."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.numbers import NumberFormat, change_value, is_rate

if TYPE_CHECKING:
    from channelscope.metrics.definitions import Catalog
    from channelscope.project import Project

LANGS = ("en", "zh-CN")
#: metrics whose change is explained by GMV = visitors x conversion rate x AOV
SALES_METRICS = frozenset({"gmv", "net_sales", "paid_orders", "visitors", "conversion_rate", "aov", "visitor_value"})
#: the additive parts the decomposition is computed from (one KPI query gets them with the rule's metric)
PARTS = ("visitors", "paid_orders", "gmv", "refunds")
COMPARE_LABELS = {
    "en": {"previous": "the previous period", "wow": "the same day last week", "yoy": "last year"},
    "zh-CN": {"previous": "上期", "wow": "上周同期", "yoy": "去年同期"},
}


def decomposes(metric: str) -> bool:
    """Whether a change of this metric is explained by the sales identity."""
    return metric in SALES_METRICS


def measure_of(metric: str) -> str:
    """The measure whose change is decomposed: net sales for net sales, GMV for the rest."""
    return "net_sales" if metric == "net_sales" else "gmv"


def decomposition(
    before: Mapping[str, Any], after: Mapping[str, Any], metric: str, currency: str | None = None
) -> dict[str, Any] | None:
    """The change of GMV (or net sales) of one scope between two periods, split into visitors, conversion rate
    and AOV (x keep rate) contributions, in the base currency; the parts add up to the change to the cent.

    Returns ``{"measure", "value_before", "value_after", "change", "parts": {...}, "text": {"en", "zh-CN"}}``,
    or None when the parts are missing.
    """
    from channelscope.metrics.decompose import gmv_change_by_factor

    measure = measure_of(metric)
    need = ("visitors", "paid_orders", "gmv", *(("refunds",) if measure == "net_sales" else ()))
    if any(k not in before or k not in after for k in need):
        return None
    b = pd.DataFrame([{k: _num(before[k]) for k in need}])
    a = pd.DataFrame([{k: _num(after[k]) for k in need}])
    d = gmv_change_by_factor(b, a, by=None, measure=measure, currency=currency)
    parts = {k: d.total[k] for k in d.total_parts if k != "channel_mix"}  # one member: no mix
    return {
        "measure": measure,
        "value_before": d.total["value_before"],
        "value_after": d.total["value_after"],
        "change": d.total["change"],
        "parts": parts,
        "text": {"en": d.explain("en")[0], "zh-CN": d.explain("zh-CN")[0]},
    }


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(v) else v


def label(catalog: Catalog, metric: str, lang: str) -> str:
    """The metric's name in the language (支付金额(GMV) / Paid GMV)."""
    m = catalog.get(metric)
    return m.label_zh if lang == "zh-CN" else m.label_en


def fmt(catalog: Catalog, metric: str, value: float | None) -> str:
    """A value in the metric's unit (``channelscope.numbers``): money with 2 decimals in the base currency
    (no symbol: the texts are stored once for every reader), rates as % with 2 decimals, counts whole."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    unit = catalog.get(metric).unit
    nf = NumberFormat("en", None)
    if unit == "percent":
        return nf.value(value, unit, decimals=2)
    if unit in ("count", "quantity"):
        return nf.value(value, unit, decimals=None if float(value).is_integer() else 2)
    return nf.value(value, unit if unit in ("money", "money_per_count") else "ratio")


def change_words(catalog: Catalog, metric: str, value: float, before: float) -> dict[str, str]:
    """The change of ``metric`` from ``before`` to ``value`` in both languages: relative for amounts
    (``+12.3%`` / ``增长 12.3%``), in percentage points for rates (``+3.4 pp`` / ``上升 3.4个百分点``)."""
    unit = catalog.get(metric).unit
    change = change_value(value, before, unit)
    if change is None:
        return both("-", "-")
    en = NumberFormat("en", None).change_text(change, unit)
    if is_rate(unit):
        zh = f"{'上升' if change > 0 else '下降'} {abs(change) * 100:.1f}个百分点"
    else:
        zh = f"{'增长' if change > 0 else '下降'} {abs(change):.1%}"
    return both(en, zh)


def scope_label(project: Project, scope: Mapping[str, str], lang: str) -> str:
    """``天猫旗舰店`` / ``tmall`` for a channel scope; ``全部`` / ``all channels`` for the whole business."""
    if not scope:
        return "全部" if lang == "zh-CN" else "all channels"
    names = {c.id: c.name for c in project.config.channels}
    out = []
    for k, v in scope.items():
        if k == "channel_id":
            out.append(names.get(v, v) if lang == "zh-CN" else v)
        else:
            out.append(f"{k.removesuffix('_id')} {v}")
    return " / ".join(out)


def period_label(grain: str, start: dt.date, end: dt.date) -> str:
    """``2025-03-18`` (day), ``2025-W12`` (ISO week), ``2025-03`` (month); a to-date range keeps the name of the
    period it belongs to."""
    if grain == "day":
        return start.isoformat()
    if grain == "week":
        iso = start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return f"{start:%Y-%m}"


def both(en: str, zh: str) -> dict[str, str]:
    return {"en": en, "zh-CN": zh}


def join_text(title: dict[str, str], *more: dict[str, str] | None) -> dict[str, str]:
    """The explanation: the title line, then each further line present in both languages."""
    return {lang: "\n".join([title[lang], *(m[lang] for m in more if m)]) for lang in LANGS}


def decomposition_line(dec: dict[str, Any] | None, base: tuple[dt.date, dt.date] | None) -> dict[str, str] | None:
    """``Decomposition vs 2025-03-11: GMV -55.0% (-12,345.00): visitors -10,000.00, ...`` in both languages."""
    if not dec or base is None:
        return None
    span = base[0].isoformat() if base[0] == base[1] else f"{base[0]}..{base[1]}"
    return both(f"Decomposition vs {span}: {dec['text']['en']}", f"分解（对比 {span}）：{dec['text']['zh-CN']}")


def pct(x: float) -> str:
    return f"{x:+.1%}"
