"""Issue a report: compose it, render the asked formats and keep every issued file in the project's archive
(``reports/archive/<name>/<period>-<language>.<ext>``, with an ``index.jsonl`` line per issue)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from channelscope.errors import QueryError
from channelscope.report.compose import compose
from channelscope.report.content import Report
from channelscope.report.definitions import get_definition

if TYPE_CHECKING:
    from channelscope.project import Project

FORMATS = ("html", "pdf", "xlsx")
_INDEX_LOCK = threading.Lock()


@dataclass
class Issued:
    """An issued report: the composed content and the files written (format -> path)."""

    report: Report
    files: dict[str, Path] = field(default_factory=dict)
    #: its id in the archive (the line of ``index.jsonl``); None when written elsewhere (``out_dir``)
    archive_id: int | None = None


def write_format(report: Report, fmt: str, path: Path) -> Path:
    """Render ``report`` as ``fmt`` (html, pdf or xlsx) into ``path``."""
    if fmt == "html":
        from channelscope.report.html import render_html

        path.write_text(render_html(report), encoding="utf-8")
    elif fmt == "pdf":
        from channelscope.report.pdf import render_pdf

        path.write_bytes(render_pdf(report))
    else:
        from channelscope.report.excel import render_xlsx

        path.write_bytes(render_xlsx(report))
    return path


def issue_report(
    project: Project,
    name: str,
    *,
    period: str | None = None,
    as_of: dt.date | None = None,
    channels: list[str] | None = None,
    language: str | None = None,
    formats: tuple[str, ...] = FORMATS,
    out_dir: Path | None = None,
) -> Issued:
    """Compose report ``name`` and write it in ``formats`` to ``out_dir`` (default: the project's archive)."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise QueryError(f"unknown report format '{bad[0]}'; valid: {', '.join(FORMATS)}")
    definition = get_definition(project.folder, name)
    report = compose(project, definition, period=period, as_of=as_of, channels=channels, language=language)
    folder = out_dir or project.folder / "reports" / "archive" / name
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{report.start}" if report.start == report.end else f"{report.start}_{report.end}"
    scope = "" if not report.channels else "-" + "+".join(report.channels)
    stem = f"{stem}{scope}-{report.language}"
    issued = Issued(report)
    for fmt in formats:
        issued.files[fmt] = write_format(report, fmt, folder / f"{stem}.{fmt}")
    index = {
        "name": name,
        "period": [report.start.isoformat(), report.end.isoformat()],
        "language": report.language,
        "channels": report.channels,
        "data_as_of": report.data_as_of.isoformat() if report.data_as_of else None,
        "generated_at": report.generated_at.isoformat(),
        "findings": len(report.findings),
        "files": {k: str(v) for k, v in issued.files.items()},
    }
    if out_dir is None:
        path = folder.parent / "index.jsonl"
        with _INDEX_LOCK, path.open("a+", encoding="utf-8") as fh:
            fh.write(json.dumps(index, ensure_ascii=False) + "\n")
            fh.seek(0)
            issued.archive_id = sum(1 for _ in fh)
    return issued


def read_index(folder: Path) -> list[dict]:
    """The archive's index (``reports/archive/index.jsonl``), oldest first; each entry gets an ``id`` (its
    1-based line number). A line that is not JSON is skipped."""
    path = folder / "reports" / "archive" / "index.jsonl"
    if not path.exists():
        return []
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and "files" in entry and "period" in entry:
            out.append({**entry, "id": i})
    return out
