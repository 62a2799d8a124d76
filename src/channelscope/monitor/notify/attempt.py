"""``send``: one delivery attempt of a message through one notifier, whatever its kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channelscope.config.notifiers import (
    DingTalkNotifier,
    EmailNotifier,
    FeishuNotifier,
    SlackNotifier,
    WebhookNotifier,
    WeComNotifier,
)
from channelscope.monitor.notify.message import DeliveryError, Message
from channelscope.monitor.secrets import MissingSecret, Secrets, install_log_redaction, redact

install_log_redaction("httpx", "httpcore")


def _sender(cfg: Any) -> Callable[..., None]:
    if isinstance(cfg, EmailNotifier):
        from channelscope.monitor.notify.email import send_email

        return send_email
    if isinstance(cfg, SlackNotifier):
        from channelscope.monitor.notify.slack import send_slack

        return send_slack
    if isinstance(cfg, WeComNotifier):
        from channelscope.monitor.notify.wecom import send_wecom

        return send_wecom
    if isinstance(cfg, DingTalkNotifier):
        from channelscope.monitor.notify.dingtalk import send_dingtalk

        return send_dingtalk
    if isinstance(cfg, FeishuNotifier):
        from channelscope.monitor.notify.feishu import send_feishu

        return send_feishu
    if isinstance(cfg, WebhookNotifier):
        from channelscope.monitor.notify.webhook import send_webhook

        return send_webhook
    raise DeliveryError(f"unknown notifier kind '{getattr(cfg, 'kind', cfg)}'", retryable=False)


def send(cfg: Any, message: Message, *, secrets: Secrets, timeout: float | None = None) -> None:
    """Deliver ``message`` once through notifier ``cfg`` (a NotifierConfig member).

    ``timeout`` (seconds) overrides the notifier's own. Raises :class:`DeliveryError` with
    ``retryable`` set; its text has every known secret value redacted."""
    fn = _sender(cfg)
    try:
        fn(cfg, message, secrets=secrets, timeout=float(timeout if timeout is not None else cfg.timeout))
    except MissingSecret as exc:
        raise DeliveryError(str(exc), retryable=True) from None
    except DeliveryError as exc:
        raise DeliveryError(redact(exc.message), retryable=exc.retryable, hint=exc.hint) from None
