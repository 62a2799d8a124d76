"""A generic JSON webhook signed with HMAC-SHA256.

Headers: ``X-Channelscope-Signature: sha256=<hex HMAC-SHA256(key=secret, msg=raw body)>``,
``X-Channelscope-Timestamp`` (Unix seconds, also inside the signed body as ``sent_at``) and
``X-Channelscope-Key`` (the message key: deliveries are at-least-once, receivers de-duplicate on it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from channelscope.config.notifiers import WebhookNotifier
from channelscope.monitor.notify._http import post
from channelscope.monitor.notify.message import Message
from channelscope.monitor.secrets import Secrets


def webhook_signature(secret: str, body: bytes) -> str:
    """The ``X-Channelscope-Signature`` header value."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def send_webhook(cfg: WebhookNotifier, message: Message, *, secrets: Secrets, timeout: float) -> None:
    """One attempt; any 2xx answer is success."""
    url = cfg.url if cfg.url is not None else secrets.get(cfg.url_env or "")
    ts = int(time.time())
    payload = {
        "key": message.key,
        "severity": message.severity,
        "title": message.title,
        "text": message.text,
        "channel_id": message.channel_id,
        "sent_at": ts,
        **message.data,
    }
    body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    headers = {
        "X-Channelscope-Signature": webhook_signature(secrets.get(cfg.secret_env), body),
        "X-Channelscope-Timestamp": str(ts),
        "X-Channelscope-Key": message.key,
    }
    post(url, what="webhook", timeout=timeout, body=body, headers=headers)
