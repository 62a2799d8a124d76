"""飞书/Lark custom bot with its signature (签名校验).

The signature, as Feishu documents it: ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``
with ``timestamp`` in seconds; both go in the JSON body next to the message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from channelscope.config.notifiers import FeishuNotifier
from channelscope.monitor.notify._http import json_answer, post, truncate_bytes
from channelscope.monitor.notify.message import DeliveryError, Message
from channelscope.monitor.secrets import Secrets

LIMIT = 18000


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The ``sign`` body field."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def send_feishu(cfg: FeishuNotifier, message: Message, *, secrets: Secrets, timeout: float) -> None:
    """One attempt; the bot answers ``{"code": 0}`` (older: ``{"StatusCode": 0}``) on success."""
    url = secrets.get(cfg.url_env)
    body: dict[str, Any] = {"msg_type": "text", "content": {"text": truncate_bytes(message.text, LIMIT)}}
    if cfg.secret_env:
        ts = int(time.time())
        body = {"timestamp": str(ts), "sign": feishu_sign(secrets.get(cfg.secret_env), ts), **body}
    answer = json_answer(post(url, what="feishu bot", timeout=timeout, payload=body), "feishu bot")
    code = answer.get("code", answer.get("StatusCode", 0))
    if code != 0:
        raise DeliveryError(f"feishu bot refused the message: code {code} {answer.get('msg', '')}".strip())
