"""钉钉 (DingTalk) custom robot with its signature (加签).

The signature, as DingTalk documents it: ``sign = base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))``
with ``timestamp`` in milliseconds, both sent as query parameters (``&timestamp=...&sign=...``, URL-encoded).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

from channelscope.config.notifiers import DingTalkNotifier
from channelscope.monitor.notify._http import json_answer, post, truncate_bytes
from channelscope.monitor.notify.message import DeliveryError, Message
from channelscope.monitor.secrets import Secrets

LIMIT = 18000


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value (base64, not yet URL-encoded)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def send_dingtalk(cfg: DingTalkNotifier, message: Message, *, secrets: Secrets, timeout: float) -> None:
    """One attempt; the robot answers ``{"errcode": 0}`` on success (errors come with HTTP 200 too)."""
    url = secrets.get(cfg.url_env)
    if cfg.secret_env:
        secret = secrets.get(cfg.secret_env)
        ts = int(time.time() * 1000)
        url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={quote_plus(dingtalk_sign(secret, ts))}"
    body = {"msgtype": "text", "text": {"content": truncate_bytes(message.text, LIMIT)}}
    answer = json_answer(post(url, what="dingtalk robot", timeout=timeout, payload=body), "dingtalk robot")
    code = answer.get("errcode", 0)
    if code != 0:
        raise DeliveryError(f"dingtalk robot refused the message: errcode {code} {answer.get('errmsg', '')}".strip())
