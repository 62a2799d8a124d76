"""Reports: definitions (standard and ``reports/*.yaml``), composed from the KPI layer and the analyses into
findings with recommendations, rendered as self-contained HTML, PDF and Excel, archived in the project."""

from __future__ import annotations

from channelscope.report.archive import issue_report
from channelscope.report.compose import compose, resolve_period
from channelscope.report.content import Finding, Report
from channelscope.report.definitions import STANDARD, ReportDefinition, get_definition, load_definitions

__all__ = [
    "STANDARD",
    "Finding",
    "Report",
    "ReportDefinition",
    "compose",
    "get_definition",
    "issue_report",
    "load_definitions",
    "resolve_period",
]
