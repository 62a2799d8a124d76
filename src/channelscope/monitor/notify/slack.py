"""Slack incoming webhook: ``{"text": ...}``; the token is the URL (``url_env``)."""

from __future__ import annotations

from channelscope.config.notifiers import SlackNotifier
from channelscope.monitor.notify._http import post
from channelscope.monitor.notify.message import DeliveryError, Message
from channelscope.monitor.secrets import Secrets


def _escape(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send_slack(cfg: SlackNotifier, message: Message, *, secrets: Secrets, timeout: float) -> None:
    """One attempt; Slack answers the text ``ok`` on success."""
    url = secrets.get(cfg.url_env)
    resp = post(url, what="slack webhook", timeout=timeout, payload={"text": _escape(message.text)})
    if resp.text.strip() not in ("ok", ""):
        raise DeliveryError(f"slack webhook answered '{resp.text[:100]}'")
