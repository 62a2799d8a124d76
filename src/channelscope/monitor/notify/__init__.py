"""Notifiers: e-mail, Slack, WeCom, DingTalk, Feishu and signed JSON webhooks.

Kept light on import (the config models are read at every config load): ``Message``, ``send`` and
``DeliveryError`` load their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channelscope.monitor.notify.attempt import send
    from channelscope.monitor.notify.message import DeliveryError, Message

__all__ = ["DeliveryError", "Message", "send"]


def __getattr__(name: str) -> Any:
    if name in ("DeliveryError", "Message"):
        from channelscope.monitor.notify import message

        return getattr(message, name)
    if name == "send":
        from channelscope.monitor.notify.attempt import send

        return send
    raise AttributeError(name)
