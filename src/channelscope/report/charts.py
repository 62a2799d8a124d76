"""Charts of a report as SVG (matplotlib, CJK font), embedded inline in the HTML and the PDF."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.ticker import FuncFormatter

from channelscope.report.content import Chart

_CJK = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC", "SimHei")
_COLORS = ["#1f6feb", "#e8590c", "#2f9e44", "#ae3ec9", "#f59f00", "#0c8599", "#c2255c", "#5c940d"]


def _font() -> list[str]:
    have = {f.name for f in font_manager.fontManager.ttflist}
    if not any(f in have for f in _CJK):
        # a font installed after matplotlib built its cache (Debian's fonts-noto-cjk) is not in it: add it
        for path in font_manager.findSystemFonts():
            if "CJK" in path or "wqy" in path.lower():
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        have = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in _CJK if f in have] + ["DejaVu Sans"]


def _axis_format(unit: str) -> FuncFormatter:
    def fmt(v: float, _pos: int) -> str:
        if unit == "percent":
            return f"{v * 100:.0f}%"
        if abs(v) >= 1_000_000:
            return f"{v / 1_000_000:.1f}M"
        if abs(v) >= 1_000:
            return f"{v / 1_000:.0f}k"
        return f"{v:.0f}"

    return FuncFormatter(fmt)


def chart_svg(chart: Chart, labels: dict[str, str] | None = None) -> str:
    """The chart as an SVG element (text kept as text, so it stays sharp and searchable)."""
    plt.rcParams["font.family"] = _font()
    plt.rcParams["svg.fonttype"] = "none"
    fig, ax = plt.subplots(figsize=(7.2, 2.8), dpi=100)
    df = chart.frame
    if chart.kind == "line":
        for i, s in enumerate(chart.series):
            ax.plot(df[chart.x], df[s], label=(labels or {}).get(s, s), color=_COLORS[i % len(_COLORS)], linewidth=1.6)
        ax.legend(fontsize=7, ncol=min(4, len(chart.series)), frameon=False, loc="upper left")
        fig.autofmt_xdate()
    else:
        s = chart.series[0]
        values = df[s].astype("float64")
        colors = ["#2f9e44" if v >= 0 else "#e03131" for v in values] if (values < 0).any() else "#1f6feb"
        ax.bar([str((labels or {}).get(x, x)) for x in df[chart.x]], values, color=colors)
        ax.axhline(0, color="#868e96", linewidth=0.8)
        ax.tick_params(axis="x", labelsize=7)
    ax.yaxis.set_major_formatter(_axis_format(chart.unit))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e9ecef")
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    return re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r'\1 width="100%"', svg, count=1)
