"""Send an issued report through the alert notifiers: e-mail carries the PDF and the Excel file; WeCom,
DingTalk, Feishu, Slack and webhooks carry a summary (the period, data as of, the findings) and a link to the
archived report. The scheduler (``schedule.reports``) issues and sends; ``deliver_report`` does one.

Before a scheduled report is composed, the actions whose deadline the data has reached are checked and their
verdicts stored, so the report lists them (PDCA: check, then act).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from channelscope.errors import ConfigError
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
            sent.results[name] = str(exc)
    return sent
