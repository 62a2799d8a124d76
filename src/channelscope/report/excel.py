"""A report as an Excel workbook (XlsxWriter): a findings sheet, then one sheet per section with numbers as
numbers (formats per unit), frozen headers, native charts; text cells that look like formulas are neutralized."""

from __future__ import annotations

import io
import math
from typing import Any

import pandas as pd

from channelscope.report.cells import cell_unit, cell_value
from channelscope.report.content import Report, SectionResult

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_SHEET_NAMES = {
    "zh-CN": {"findings": "发现与建议", "about": "说明"},
    "en": {"findings": "Findings", "about": "About"},
}


def neutralize(text: str) -> str:
    """A text cell that Excel would read as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(_DANGEROUS) else text


def render_xlsx(report: Report) -> bytes:
    """The workbook's bytes."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    lang = report.language
    sym = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£"}.get(report.currency, report.currency + " ")
    fmts = {
        "money": wb.add_format({"num_format": f'"{sym}"#,##0.00'}),
        "count": wb.add_format({"num_format": "#,##0"}),
        "percent": wb.add_format({"num_format": "0.0%"}),
        "ratio": wb.add_format({"num_format": "#,##0.00"}),
        "pp": wb.add_format({"num_format": '+0.0" pp";-0.0" pp"'}),
        "head": wb.add_format({"bold": True, "bg_color": "#F1F3F5", "bottom": 1}),
        "title": wb.add_format({"bold": True, "font_size": 14}),
    }
    names = _SHEET_NAMES[lang]
    ws = wb.add_worksheet(names["findings"])
    title = report.title.get(lang) or report.title["en"]
    ws.write(0, 0, neutralize(title), fmts["title"])
    ws.write(
        1,
        0,
        f"{report.period_label()} · data as of {report.data_as_of}"
        if lang == "en"
        else f"{report.period_label()} · 数据截至 {report.data_as_of}",
    )
    heads = ["severity", "kind", "channel", "finding", "recommendation", "expected effect", "metric", "size", "by"]
    if lang == "zh-CN":
        heads = ["级别", "类型", "渠道", "发现", "建议", "预期效果", "指标", "幅度", "期限"]
    for j, h in enumerate(heads):
        ws.write(3, j, h, fmts["head"])
    for i, f in enumerate(report.findings, start=4):
        exp = f.expected or {}
        row = [
            f.severity,
            f.kind,
            f.channel or "",
            f.text[lang],
            (f.recommendation or {}).get(lang, ""),
            (exp.get("text") or {}).get(lang, ""),
            exp.get("metric") or "",
            exp.get("size"),
            exp.get("by") or "",
        ]
        for j, v in enumerate(row):
            _write(ws, i, j, v, None)
    ws.set_column(0, 2, 12)
    ws.set_column(3, 5, 60)
    ws.freeze_panes(4, 0)
    used: set[str] = {names["findings"]}
    for index, s in enumerate(report.sections):
        _section(wb, report, s, index, fmts, used)
    wb.close()
    return buf.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "Sheet"
    name, n = base, 2
    while name in used:
        name, n = f"{base[:26]}~{n}", n + 1
    used.add(name)
    return name


def _write(ws: Any, r: int, c: int, value: Any, fmt: Any) -> None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        ws.write_blank(r, c, None, fmt)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        ws.write_number(r, c, float(value), fmt)
    else:
        ws.write_string(r, c, neutralize(str(value)), fmt)


def _section(wb: Any, report: Report, s: SectionResult, index: int, fmts: dict[str, Any], used: set[str]) -> None:
    lang = report.language
    ws = wb.add_worksheet(_sheet_name(f"{index + 1} {s.title[lang]}", used))
    ws.write(0, 0, neutralize(s.title[lang]), fmts["title"])
    r = 1
    for note in s.notes:
        ws.write_string(r, 0, neutralize(note[lang]))
        r += 1
    start = r + 1
    if s.table is not None and len(s.table) and s.columns:
        for j, c in enumerate(s.columns):
            ws.write(start, j, c.label[lang], fmts["head"])
            ws.set_column(j, j, 14 if c.unit not in ("text", "lang") else 22)
        for i, (_, row) in enumerate(s.table.iterrows(), start=start + 1):
            for j, c in enumerate(s.columns):
                unit = cell_unit(row, c)
                value = cell_value(row, c, lang)
                if isinstance(value, pd.Timestamp):
                    value = value.date().isoformat()
                if c.unit == "row_change" and unit == "percent":
                    fmt = fmts["pp"]
                    value = None if value is None or pd.isna(value) else float(value) * 100
                else:
                    fmt = fmts.get(unit)
                if not isinstance(value, int | float) and value is not None and not isinstance(value, str):
                    value = str(value)
                _write(ws, i, j, value, fmt)
        ws.freeze_panes(start + 1, 0)
        end = start + len(s.table)
        if s.chart is not None and s.chart.kind == "bar" and s.chart.series[0] in [c.key for c in s.columns]:
            col = [c.key for c in s.columns].index(s.chart.series[0])
            chart = wb.add_chart({"type": "column"})
            chart.add_series(
                {
                    "categories": [ws.name, start + 1, 0, end, 0],
                    "values": [ws.name, start + 1, col, end, col],
                    "name": s.title[lang],
                }
            )
            chart.set_legend({"none": True})
            ws.insert_chart(end + 2, 0, chart, {"x_scale": 1.4})
    elif s.chart is not None and len(s.chart.frame):
        df = s.chart.frame
        ws.write(start, 0, s.chart.x, fmts["head"])
        for j, name in enumerate(s.chart.series, start=1):
            ws.write(start, j, neutralize(str(name)), fmts["head"])
        for i, (_, row) in enumerate(df.iterrows(), start=start + 1):
            ws.write_string(i, 0, str(row[s.chart.x]))
            for j, name in enumerate(s.chart.series, start=1):
                _write(ws, i, j, None if pd.isna(row[name]) else float(row[name]), fmts.get(s.chart.unit))
        ws.freeze_panes(start + 1, 1)
        end = start + len(df)
        chart = wb.add_chart({"type": "line"})
        for j in range(1, len(s.chart.series) + 1):
            chart.add_series(
                {
                    "name": [ws.name, start, j],
                    "categories": [ws.name, start + 1, 0, end, 0],
                    "values": [ws.name, start + 1, j, end, j],
                }
            )
        ws.insert_chart(1, len(s.chart.series) + 2, chart, {"x_scale": 1.6, "y_scale": 1.2})
