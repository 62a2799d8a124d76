"""Notifiers: e-mail, Slack, WeCom, DingTalk, Feishu and signed JSON webhooks."""
