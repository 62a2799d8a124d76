"""企业微信 (WeCom) group robot: ``{"msgtype": "text", "text": {"content": ...}}``, key in the URL."""

from __future__ import annotations

from channelscope.config.notifiers import WeComNotifier
from channelscope.monitor.notify._http import json_answer, post, truncate_bytes
from channelscope.monitor.notify.message import DeliveryError, Message
from channelscope.monitor.secrets import Secrets

#: text content limit of the robot (bytes, UTF-8)
LIMIT = 2048
#: 45009: more than 20 messages a minute; worth retrying later
_RATE_LIMITED = {45009}


def send_wecom(cfg: WeComNotifier, message: Message, *, secrets: Secrets, timeout: float) -> None:
    """One attempt; the robot answers ``{"errcode": 0}`` on success, an error code otherwise (HTTP 200)."""
    url = secrets.get(cfg.url_env)
    body = {"msgtype": "text", "text": {"content": truncate_bytes(message.text, LIMIT)}}
    answer = json_answer(post(url, what="wecom robot", timeout=timeout, payload=body), "wecom robot")
    code = answer.get("errcode", 0)
    if code != 0:
        raise DeliveryError(f"wecom robot refused the message: errcode {code} {answer.get('errmsg', '')}".strip())
