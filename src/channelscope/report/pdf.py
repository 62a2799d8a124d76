"""A report as PDF: the HTML rendered by WeasyPrint (A4, CJK font embedded, page numbers, data-as-of stamp)."""

from __future__ import annotations

from channelscope.report.content import Report
from channelscope.report.html import render_html


def render_pdf(report: Report) -> bytes:
    """The PDF bytes of the report."""
    from weasyprint import HTML

    return bytes(HTML(string=render_html(report)).write_pdf())
