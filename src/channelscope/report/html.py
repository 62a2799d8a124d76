"""A report as one self-contained HTML page (inline CSS and SVG charts; no external request)."""

from __future__ import annotations

import html
from typing import Any

from channelscope.report.cells import cell_text, cell_unit
from channelscope.report.charts import chart_svg
from channelscope.report.content import Report, SectionResult

_LABELS: dict[str, dict[str, Any]] = {
    "zh-CN": {
        "period": "报告期",
        "vs": "对比期",
        "as_of": "数据截至",
        "generated": "生成时间 (UTC)",
        "scope": "范围",
        "all": "全部渠道",
        "findings": "发现与建议",
        "none": "本期没有需要关注的发现。",
        "do": "建议",
        "effect": "预期效果",
        "currency": "货币",
        "severity": {"critical": "严重", "warning": "关注", "info": "提示"},
    },
    "en": {
        "period": "Period",
        "vs": "Compared with",
        "as_of": "Data as of",
        "generated": "Generated (UTC)",
        "scope": "Scope",
        "all": "all channels",
        "findings": "Findings and recommendations",
        "none": "Nothing in this period needs attention.",
        "do": "Recommendation",
        "effect": "Expected effect",
        "currency": "Currency",
        "severity": {"critical": "critical", "warning": "attention", "info": "note"},
    },
}

CSS = """
@page { size: A4; margin: 16mm 12mm 16mm 12mm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #868e96; }
  @top-right { content: string(asof); font-size: 8pt; color: #868e96; } }
body { font-family: "Noto Sans CJK SC", "Noto Sans CJK JP", "PingFang SC", "Microsoft YaHei", sans-serif;
  color: #212529; font-size: 10pt; line-height: 1.45; max-width: 1000px; margin: 0 auto; padding: 8px; }
h1 { font-size: 18pt; margin: 0 0 4px 0; }
h2 { font-size: 12.5pt; margin: 18px 0 6px 0; border-bottom: 2px solid #1f6feb; padding-bottom: 2px;
  page-break-after: avoid; }
.meta { color: #495057; font-size: 9pt; }
.asof { string-set: asof content(); }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px 0; font-size: 8.5pt; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th { background: #f1f3f5; text-align: left; padding: 3px 5px; border-bottom: 1px solid #adb5bd; }
td { padding: 3px 5px; border-bottom: 1px solid #e9ecef; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #495057; font-size: 9pt; margin: 2px 0; }
.finding { border-left: 4px solid #adb5bd; padding: 4px 8px; margin: 6px 0; background: #f8f9fa;
  page-break-inside: avoid; }
.finding.warning { border-color: #f59f00; } .finding.critical { border-color: #e03131; }
.finding.info { border-color: #1f6feb; }
.tag { font-size: 8pt; color: #fff; background: #868e96; border-radius: 3px; padding: 0 4px; margin-right: 4px; }
.warning .tag { background: #f59f00; } .critical .tag { background: #e03131; } .info .tag { background: #1f6feb; }
.chart svg { max-width: 100%; height: auto; }
"""


def render_html(report: Report) -> str:
    """The report as a self-contained HTML document in its language."""
    lang = report.language
    L = _LABELS[lang]
    e = html.escape
    title = report.title.get(lang) or report.title["en"]
    scope = ", ".join(report.channels) if report.channels else L["all"]
    parts = [
        f'<!DOCTYPE html><html lang="{e(lang)}"><head><meta charset="utf-8"><title>{e(title)}</title>',
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<div class="meta">{L["period"]}: <b>{e(report.period_label())}</b>'
        + (f" · {L['vs']}: {report.compare_start} – {report.compare_end}" if report.compare_start else "")
        + f" · {L['scope']}: {e(scope)} · {L['currency']}: {e(report.currency)}</div>",
        f'<div class="meta"><span class="asof" id="data-as-of">{L["as_of"]}: {report.data_as_of or "—"}</span>'
        f" · {L['generated']}: {report.generated_at:%Y-%m-%d %H:%M}</div>",
        f'<h2 id="findings">{L["findings"]}</h2>',
    ]
    if not report.findings:
        parts.append(f'<p class="note">{L["none"]}</p>')
    for f in report.findings:
        parts.append(
            f'<div class="finding {e(f.severity)}" data-kind="{e(f.kind)}" data-channel="{e(f.channel or "")}">'
        )
        parts.append(f'<span class="tag">{e(L["severity"].get(f.severity, f.severity))}</span>{e(f.text[lang])}')
        if f.recommendation:
            parts.append(f'<div class="note"><b>{L["do"]}:</b> {e(f.recommendation[lang])}</div>')
        if f.expected and f.expected.get("text"):
            parts.append(f'<div class="note"><b>{L["effect"]}:</b> {e(f.expected["text"][lang])}</div>')
        parts.append("</div>")
    for i, s in enumerate(report.sections):
        parts.append(_section(report, s, i))
    parts.append("</body></html>")
    return "\n".join(parts)


def _section(report: Report, s: SectionResult, index: int) -> str:
    lang = report.language
    e = html.escape
    out = [f'<section id="section-{index}" data-kind="{e(s.kind)}"><h2>{e(s.title[lang])}</h2>']
    for note in s.notes:
        out.append(f'<p class="note">{e(note[lang])}</p>')
    if s.chart is not None and len(s.chart.frame):
        out.append(f'<div class="chart">{chart_svg(s.chart)}</div>')
    if s.table is not None and len(s.table) and s.columns:
        out.append("<table><thead><tr>")
        for c in s.columns:
            numeric = c.unit not in ("text", "lang", "date")
            out.append(f'<th class="{"num" if numeric else ""}">{e(c.label[lang])}</th>')
        out.append("</tr></thead><tbody>")
        for _, row in s.table.iterrows():
            out.append("<tr>")
            for c in s.columns:
                unit = cell_unit(row, c)
                numeric = unit not in ("text", "lang", "date")
                raw = row.get(c.key)
                data = (
                    f' data-key="{e(c.key)}" data-value="{e(repr(float(raw)))}"'
                    if numeric and raw is not None and raw == raw
                    else ""
                )
                out.append(f'<td class="{"num" if numeric else ""}"{data}>{e(cell_text(row, c, report))}</td>')
            out.append("</tr>")
        out.append("</tbody></table>")
    out.append("</section>")
    return "\n".join(out)
