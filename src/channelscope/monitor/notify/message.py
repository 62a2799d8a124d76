"""What a notifier sends: one :class:`Message` (plain text, HTML, data) rendered from stored alerts.

Rendering happens at delivery time from the ``alerts`` table, in the notifier's language (zh-CN or
en). Every value that came from data (channel names, rule texts) is HTML-escaped in the HTML part.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from channelscope.errors import ChannelscopeError
from channelscope.numbers import NumberFormat

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
_WORDS = {
    "en": {
        "info": "INFO",
        "warning": "WARNING",
        "critical": "CRITICAL",
        "rule": "rule",
        "scope": "scope",
        "whole": "whole business",
        "period": "period",
        "value": "observed",
        "expected": "expected",
        "range": "normal range",
        "alert": "alert",
        "ack": "acknowledge with",
        "digest": "{n} alerts ({c} critical, {w} warning, {i} info)",
        "seen": "seen {n} times",
    },
    "zh-CN": {
        "info": "提示",
        "warning": "警告",
        "critical": "严重",
        "rule": "规则",
        "scope": "范围",
        "whole": "全业务",
        "period": "周期",
        "value": "实际值",
        "expected": "预期值",
        "range": "正常区间",
        "alert": "告警",
        "ack": "确认命令",
        "digest": "{n} 条告警（严重 {c}，警告 {w}，提示 {i}）",
        "seen": "已出现 {n} 次",
    },
}
_COLORS = {"info": "#2f6fbf", "warning": "#c77c00", "critical": "#c62828"}


class DeliveryError(ChannelscopeError):
    """One delivery attempt failed. ``retryable`` says whether a later attempt may succeed.

    The message never holds a secret (URLs with tokens are not quoted); callers redact anyway."""

    def __init__(self, message: str, *, retryable: bool = True, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable


@dataclass(frozen=True)
class Message:
    """One notification: ``key`` identifies it to receivers (alert id, or digest id) for de-duplication."""

    key: str
    severity: str
    title: str
    text: str
    html: str
    channel_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: files sent with the message where the channel carries files (e-mail): (file name, MIME type, bytes)
    attachments: tuple[tuple[str, str, bytes], ...] = ()


@dataclass(frozen=True)
class Units:
    """What the numbers of an alert are: the metrics' units (money, percent...) and the base currency, so a
    message writes ¥6,500.00 and 2.8% like the dashboard (``channelscope.numbers``). Empty: plain numbers."""

    units: Mapping[str, str] = field(default_factory=dict)
    currency: str | None = None


def _number(value: Any, unit: str | None = None, lang: str = "en", currency: str | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit and isinstance(value, int | float):
        return NumberFormat(lang, currency).value(value, unit)
    if isinstance(value, int | float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def _pick(texts: Mapping[str, str] | None, lang: str) -> str:
    if not texts:
        return ""
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), "")


def _scope(scope: Mapping[str, str], w: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(scope.items())) or w["whole"]


def _facts(alert: Mapping[str, Any], w: Mapping[str, str], u: Units | None = None) -> list[tuple[str, str]]:
    facts = [(w["rule"], str(alert["rule"])), (w["scope"], _scope(alert.get("scope") or {}, w))]
    facts.append((w["period"], str(alert.get("period") or "-")))
    u = u or Units()
    unit = u.units.get(str(alert.get("metric") or ""))
    lang = "en" if w is _WORDS["en"] else "zh-CN"

    def num(key: str) -> str:
        return _number(alert.get(key), unit, lang, u.currency)

    if alert.get("value") is not None:
        facts.append((w["value"], num("value")))
    if alert.get("expected") is not None:
        facts.append((w["expected"], num("expected")))
    if alert.get("lower") is not None or alert.get("upper") is not None:
        facts.append((w["range"], f"{num('lower')} .. {num('upper')}"))
    return facts


def _alert_text(alert: Mapping[str, Any], lang: str, u: Units | None = None) -> tuple[str, str]:
    w = _WORDS[lang]
    sev = str(alert["severity"])
    head = f"[{w.get(sev, sev)}] {_pick(alert.get('title'), lang)}"
    lines = [head, " · ".join(f"{k}: {v}" for k, v in _facts(alert, w, u))]
    body = _pick(alert.get("text"), lang)
    if body:
        lines.append(body)
    tail = f"{w['alert']} {alert['alert_id']}"
    if int(alert.get("occurrences") or 1) > 1:
        tail += " · " + w["seen"].format(n=alert["occurrences"])
    lines.append(f"{tail} · {w['ack']}: channelscope alerts ack {alert['alert_id']}")
    return head, "\n".join(lines)


def _alert_html(alert: Mapping[str, Any], lang: str, u: Units | None = None) -> str:
    w = _WORDS[lang]
    e = html.escape
    sev = str(alert["severity"])
    rows = "".join(
        f"<tr><th align='left' style='padding-right:12px'>{e(k)}</th><td>{e(v)}</td></tr>"
        for k, v in _facts(alert, w, u)
    )
    body = e(_pick(alert.get("text"), lang)).replace("\n", "<br>")
    return (
        f"<div style='margin-bottom:16px'>"
        f"<h3 style='color:{_COLORS.get(sev, '#333')};margin:0 0 6px'>[{e(w.get(sev, sev))}] "
        f"{e(_pick(alert.get('title'), lang))}</h3>"
        f"<table style='border-collapse:collapse'>{rows}</table>"
        f"<p>{body}</p>"
        f"<p style='color:#777;font-size:12px'>{e(w['alert'])} <code>{e(str(alert['alert_id']))}</code> · "
        f"{e(w['ack'])} <code>channelscope alerts ack {e(str(alert['alert_id']))}</code></p></div>"
    )


def _data(alert: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("alert_id", "rule", "kind", "severity", "status", "scope", "period", "metric", "value", "expected")
    out = {k: alert.get(k) for k in keys}
    out.update(lower=alert.get("lower"), upper=alert.get("upper"), title=alert.get("title"), text=alert.get("text"))
    out["evidence"] = alert.get("evidence") or {}
    return out


def render_alert(alert: Mapping[str, Any], lang: str, units: Units | None = None) -> Message:
    """One alert (a row of ``alerts`` as a mapping, see ``store.alert_rows``) as a message in ``lang``;
    ``units`` writes its numbers in the metric's unit and the base currency."""
    title, text = _alert_text(alert, lang, units)
    page = f"<html><body style='font-family:sans-serif'>{_alert_html(alert, lang, units)}</body></html>"
    scope = alert.get("scope") or {}
    return Message(
        key=str(alert["alert_id"]),
        severity=str(alert["severity"]),
        title=title,
        text=text,
        html=page,
        channel_id=scope.get("channel_id"),
        data={"alerts": [_data(alert)]},
    )


def render_digest(key: str, alerts: Sequence[Mapping[str, Any]], lang: str, units: Units | None = None) -> Message:
    """Several alerts in one message, the most severe first."""
    if len(alerts) == 1:
        one = render_alert(alerts[0], lang, units)
        return replace(one, key=key or one.key)
    w = _WORDS[lang]
    ordered = sorted(alerts, key=lambda a: -SEVERITY_RANK.get(str(a["severity"]), 0))
    counts = {s: sum(1 for a in alerts if a["severity"] == s) for s in SEVERITY_RANK}
    top = str(ordered[0]["severity"])
    title = "channelscope: " + w["digest"].format(
        n=len(alerts), c=counts["critical"], w=counts["warning"], i=counts["info"]
    )
    text = "\n\n".join([title, *(_alert_text(a, lang, units)[1] for a in ordered)])
    page = (
        f"<html><body style='font-family:sans-serif'><h2>{html.escape(title)}</h2>"
        + "".join(_alert_html(a, lang, units) for a in ordered)
        + "</body></html>"
    )
    channels = {(a.get("scope") or {}).get("channel_id") for a in alerts}
    return Message(
        key=key,
        severity=top,
        title=title,
        text=text,
        html=page,
        channel_id=channels.pop() if len(channels) == 1 else None,
        data={"alerts": [_data(a) for a in ordered]},
    )
