"""What a report says, before it is rendered: sections of figures and the findings drawn from them.

``Report`` is a plain data object (tables as DataFrames, texts per language) so HTML, PDF and Excel render the
same numbers. Every figure comes from ``Project.kpis`` / ``Project.explain`` / ``Project.analysis`` for the
report's period and scope: the same queries the API answers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

Text = dict[str, str]  # language ('zh-CN', 'en') -> text


@dataclass
class Column:
    """A column of a section table: its key in the frame, its header per language, and its unit
    ('money', 'count', 'percent' as a fraction, 'ratio', 'pp' for a change of a percent, 'text', 'date')."""

    key: str
    label: Text
    unit: str = "text"


@dataclass
class Chart:
    """A chart of a section: ``kind`` 'line' or 'bar'; ``frame`` holds x and one column per series."""

    kind: str
    frame: pd.DataFrame
    x: str
    series: list[str]
    unit: str = "money"


@dataclass
class SectionResult:
    """One rendered section: a title, a table (or none), notes (texts per language), an optional chart."""

    kind: str
    title: Text
    table: pd.DataFrame | None = None
    columns: list[Column] = field(default_factory=list)
    notes: list[Text] = field(default_factory=list)
    chart: Chart | None = None


@dataclass
class Finding:
    """Something the data shows, with its evidence, and what to do about it.

    ``kind``: 'anomaly', 'mover', 'target_at_risk', 'not_supported' (the data cannot support a finding: the
    reason is the text). ``recommendation`` states an action; ``expected`` its effect: metric, size (in the
    metric's unit), by (a date)."""

    kind: str
    severity: str
    text: Text
    channel: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    recommendation: Text | None = None
    expected: dict[str, Any] | None = None


@dataclass
class Report:
    """A composed report: its definition's name and title, period, comparison period, scope and content."""

    name: str
    title: Text
    language: str
    start: dt.date
    end: dt.date
    compare_start: dt.date | None
    compare_end: dt.date | None
    data_as_of: dt.date | None
    generated_at: dt.datetime
    channels: list[str]
    currency: str
    sections: list[SectionResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    #: results several sections read (the decomposition, the first date with data), computed once per report
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def period_label(self) -> str:
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} – {self.end.isoformat()}"
