"""Send an issued report through the alert notifiers: e-mail carries the PDF and the Excel file; WeCom,
DingTalk, Feishu, Slack and webhooks carry a summary (the period, data as of, the findings) and a link to the
archived report. The scheduler (``schedule.reports``) issues and sends; ``deliver_report`` does one.

A notifier that fails with a retryable error (a 5xx, a timeout, a refused connection) is not given up on: the
delivery goes into the archive's outbox (``reports/archive/outbox.json``) and the scheduler's
``reports:deliver`` job sends it again with capped exponential backoff (``RETRY``) until it is delivered or
``RETRY.max_attempts`` attempts have failed; every attempt and its (redacted) error is recorded there.

Before a scheduled report is composed, the actions whose deadline the data has reached are checked and their
verdicts stored, so the report lists them (PDCA: check, then act).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from channelscope.errors import ConfigError
from channelscope.monitor.dispatch import RetryPolicy
from channelscope.report.archive import Issued, issue_report

if TYPE_CHECKING:
    from channelscope.config.runtime import ReportDelivery
    from channelscope.monitor.notify.message import Message
    from channelscope.project import Project

_MIME = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_WORDS = {
    "zh-CN": {"period": "报告期", "as_of": "数据截至", "none": "本期没有需要关注的发现。", "open": "查看报告",
              "more": "另有 {n} 条发现见报告", "archive": "报告存档编号"},
    "en": {"period": "Period", "as_of": "Data as of", "none": "Nothing in this period needs attention.",
           "open": "Open the report", "more": "{n} more findings in the report", "archive": "archive id"},
}  # fmt: skip
#: findings quoted in a message (the report has all of them)
TOP_FINDINGS = 5
#: how a failed report delivery is retried: a minute, doubling to an hour, five attempts in all
RETRY = RetryPolicy(base=60.0, cap=3600.0, max_attempts=5)
_OUTBOX_LOCK = threading.Lock()


@dataclass
class ReportSent:
    """What one scheduled report did: the issue, and per notifier 'delivered' or the error."""

    issued: Issued
    results: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> dict[str, str]:
        return {k: v for k, v in self.results.items() if v != "delivered"}


def report_link(issued: Issued, base: str | None, fmt: str = "html") -> str | None:
    """The URL of the archived report on the server (None without a public base URL)."""
    if not base or issued.archive_id is None:
        return None
    return f"{base.rstrip('/')}/api/reports/{issued.archive_id}/{fmt}"


def report_message(issued: Issued, *, link: str | None, attach: bool) -> Message:
    """The notification of an issued report in its language; ``attach`` adds the PDF and the Excel file."""
    from channelscope.monitor.notify.message import Message

    r = issued.report
    lang = r.language
    w = _WORDS[lang]
    title = f"{r.title.get(lang) or r.title['en']} · {r.period_label()}"
    lines = [title, f"{w['period']}: {r.period_label()} · {w['as_of']}: {r.data_as_of}"]
    shown = r.findings[:TOP_FINDINGS]
    lines += [f"- {f.text[lang]}" for f in shown] or [w["none"]]
    if len(r.findings) > len(shown):
        lines.append(w["more"].format(n=len(r.findings) - len(shown)))
    if link:
        lines.append(f"{w['open']}: {link}")
    elif issued.archive_id is not None:
        lines.append(f"{w['archive']}: {issued.archive_id}")
    e = html.escape
    page = (
        "<html><body style='font-family:sans-serif'>"
        f"<h2>{e(title)}</h2><p>{e(lines[1])}</p><ul>"
        + "".join(f"<li>{e(f.text[lang])}</li>" for f in shown)
        + "</ul>"
        + (f"<p><a href='{e(link)}'>{e(w['open'])}</a></p>" if link else "")
        + "</body></html>"
    )
    files = (
        tuple((p.name, _MIME[fmt], p.read_bytes()) for fmt, p in issued.files.items() if fmt in _MIME) if attach else ()
    )
    severities = [f.severity for f in r.findings]
    severity = next((s for s in ("critical", "warning") if s in severities), "info")
    return Message(
        key=f"report-{r.name}-{r.start}-{r.end}-{'+'.join(r.channels) or 'all'}-{lang}",
        severity=severity,
        title=title,
        text="\n".join(lines),
        html=page,
        channel_id=r.channels[0] if len(r.channels) == 1 else None,
        data={
            "report": {
                "name": r.name,
                "period": [r.start.isoformat(), r.end.isoformat()],
                "language": lang,
                "channels": r.channels,
                "data_as_of": r.data_as_of.isoformat() if r.data_as_of else None,
                "archive_id": issued.archive_id,
                "link": link,
                "findings": [{"kind": f.kind, "severity": f.severity, "text": f.text} for f in r.findings],
            }
        },
        attachments=files,
    )


def deliver_report(project: Project, spec: ReportDelivery, *, as_of: dt.date | None = None) -> ReportSent:
    """Check the due actions, issue ``spec``'s report into the archive and send it through its notifiers."""
    from channelscope.config.notifiers import EmailNotifier
    from channelscope.monitor.dispatch import alerts_config, secrets_of
    from channelscope.monitor.notify.attempt import send
    from channelscope.monitor.notify.message import DeliveryError

    notifiers = alerts_config(project).notifiers
    unknown = [n for n in spec.notify if n not in notifiers]
    if unknown:
        raise ConfigError(
            f"schedule.reports: {spec.report}: unknown notifier '{unknown[0]}'; known: {', '.join(sorted(notifiers))}"
        )
    if not project.read_only:
        from channelscope.plan.actions import check_due

        check_due(project)
    issued = issue_report(
        project,
        spec.report,
        as_of=as_of,
        channels=spec.channels or None,
        language=spec.language,
        formats=tuple(spec.formats),
    )
    sent = ReportSent(issued)
    link = report_link(issued, spec.link)
    secrets = secrets_of(project)
    for name in spec.notify:
        cfg: Any = notifiers[name]
        message = report_message(issued, link=link, attach=isinstance(cfg, EmailNotifier))
        try:
            send(cfg, message, secrets=secrets)
            sent.results[name] = "delivered"
        except DeliveryError as exc:
            if exc.retryable and issued.archive_id is not None and not project.read_only:
                _enqueue(project, issued, name, message, str(exc))
                sent.results[name] = f"{exc} (retrying)"
            else:
                sent.results[name] = str(exc)
    return sent


# ---- the outbox of failed report deliveries ------------------------------------------------------------


def outbox_path(project: Project) -> Any:
    return project.folder / "reports" / "archive" / "outbox.json"


def read_outbox(project: Project) -> list[dict[str, Any]]:
    """Every report delivery that failed at least once: archive id, notifier, status ('retrying',
    'delivered', 'failed'), attempts (each with its time and error), the next attempt's time."""
    path = outbox_path(project)
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data) if isinstance(data, list) else []


def _write_outbox(project: Project, rows: list[dict[str, Any]]) -> None:
    path = outbox_path(project)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _enqueue(project: Project, issued: Issued, notifier: str, message: Message, error: str) -> None:
    now = _now()
    row = {
        "archive_id": issued.archive_id,
        "notifier": notifier,
        "status": "retrying",
        "message": {
            "key": message.key,
            "severity": message.severity,
            "title": message.title,
            "text": message.text,
            "html": message.html,
            "channel_id": message.channel_id,
            "data": message.data,
            # the archived files, read again at each attempt
            "attachments": [[f.name, _MIME[fmt], str(f)] for fmt, f in issued.files.items() if fmt in _MIME]
            if message.attachments
            else [],
        },
        "attempts": [{"at": now.isoformat(), "error": error}],
        "next_attempt_at": (now + dt.timedelta(seconds=RETRY.delay(1))).isoformat(),
    }
    with _OUTBOX_LOCK, project.write_lock:
        rows = read_outbox(project)
        rows.append(row)
        _write_outbox(project, rows)


def retry_report_deliveries(project: Project, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Send the report deliveries whose next attempt is due again (the scheduler's ``reports:deliver`` job):
    delivered, or retried later with backoff, or failed for good after ``RETRY.max_attempts`` attempts or a
    non-retryable error. Returns the counts."""
    from pathlib import Path

    from channelscope.monitor.dispatch import alerts_config, secrets_of
    from channelscope.monitor.notify.attempt import send
    from channelscope.monitor.notify.message import DeliveryError, Message

    moment = now or _now()
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    with _OUTBOX_LOCK:
        rows = read_outbox(project)
        due = [
            r for r in rows if r["status"] == "retrying" and dt.datetime.fromisoformat(r["next_attempt_at"]) <= moment
        ]
        if not due:
            return counts
        notifiers = alerts_config(project).notifiers
        secrets = secrets_of(project)
        for r in due:
            m = r["message"]
            error: DeliveryError | None = None
            cfg = notifiers.get(r["notifier"])
            if cfg is None:
                error = DeliveryError(f"notifier '{r['notifier']}' is no longer configured", retryable=False)
            else:
                try:
                    files = tuple((n, mime, Path(path).read_bytes()) for n, mime, path in m["attachments"])
                    message = Message(
                        key=m["key"],
                        severity=m["severity"],
                        title=m["title"],
                        text=m["text"],
                        html=m["html"],
                        channel_id=m["channel_id"],
                        data=m["data"],
                        attachments=files,
                    )
                    send(cfg, message, secrets=secrets)
                except DeliveryError as exc:
                    error = exc
                except OSError as exc:  # an archived attachment is gone
                    error = DeliveryError(f"archived file missing: {exc}", retryable=False)
            r["attempts"].append({"at": moment.isoformat(), "error": None if error is None else str(error)})
            n = len(r["attempts"])
            if error is None:
                r["status"], r["next_attempt_at"] = "delivered", None
            elif not error.retryable or n >= RETRY.max_attempts:
                r["status"], r["next_attempt_at"] = "failed", None
            else:
                r["next_attempt_at"] = (moment + dt.timedelta(seconds=RETRY.delay(n))).isoformat()
            counts["delivered" if r["status"] == "delivered" else r["status"]] += 1
        with project.write_lock:
            # rows enqueued meanwhile by another thread are kept: merge on (archive id, notifier)
            latest = read_outbox(project)
            done = {(r["archive_id"], r["notifier"]): r for r in due}
            _write_outbox(project, [done.get((x["archive_id"], x["notifier"]), x) for x in latest])
    return counts
