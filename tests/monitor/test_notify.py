"""Notifiers against real receivers on 127.0.0.1: signatures checked as each platform documents them,
SMTP with STARTTLS and AUTH, failure paths (down, 500, slow, bad credentials), secrets and config errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import write_project
from tests.monitor.receivers import SECRET, SMTP_PASSWORD, SMTP_USER, TOKEN, Receiver, SmtpReceiver, make_certificate

from channelscope.config import load_config
from channelscope.config.notifiers import EmailNotifier
from channelscope.errors import ConfigError
from channelscope.monitor.notify import DeliveryError, send
from channelscope.monitor.notify.message import render_alert, render_digest
from channelscope.monitor.secrets import MissingSecret, Secrets, redact

ALERT: dict[str, Any] = {
    "alert_id": "0123456789abcdef",
    "rule": "gmv_wow",
    "kind": "change",
    "severity": "critical",
    "status": "open",
    "scope": {"channel_id": "tmall"},
    "period": "2025-W12",
    "metric": "gmv",
    "value": 6500.0,
    "expected": 10000.0,
    "lower": None,
    "upper": None,
    "title": {"en": "GMV of <tmall> fell 35% week over week", "zh-CN": "天猫 GMV 环比下降 35%"},
    "text": {"en": "visitors -20%, conversion -10%, AOV -9%", "zh-CN": "访客 -20%，转化率 -10%，客单价 -9%"},
    "evidence": {"gmv": 6500.0},
    "occurrences": 1,
}


def robot_config(kind: str, *, timeout: float = 2.0) -> Any:
    from pydantic import TypeAdapter

    from channelscope.config.notifiers import NotifierConfig

    data: dict[str, Any] = {"kind": kind, "timeout": timeout}
    if kind == "webhook":
        data.update(url_env="HOOK_URL", secret_env="HOOK_SECRET")
    else:
        data["url_env"] = "HOOK_URL"
        if kind in ("dingtalk", "feishu"):
            data["secret_env"] = "HOOK_SECRET"
    return TypeAdapter(NotifierConfig).validate_python(data)


def secrets_for(url: str, secret: str = SECRET) -> Secrets:
    return Secrets(None, environ={"HOOK_URL": url, "HOOK_SECRET": secret})


# ---- robots and webhooks ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receivers() -> Iterator[dict[str, Receiver]]:
    recs = {k: Receiver(k).start() for k in ("slack", "wecom", "dingtalk", "feishu", "webhook")}
    yield recs
    for r in recs.values():
        r.stop()


@pytest.fixture
def fresh(receivers: dict[str, Receiver]) -> dict[str, Receiver]:
    for r in receivers.values():
        r.mode, r.accepted, r.rejected, r.requests = "ok", [], [], 0
    return receivers


KINDS = ["slack", "wecom", "dingtalk", "feishu", "webhook"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_robot_receives_a_signed_message(fresh: dict[str, Receiver], kind: str) -> None:
    rec = fresh[kind]
    msg = render_alert(ALERT, "zh-CN")
    send(robot_config(kind), msg, secrets=secrets_for(rec.url))
    assert len(rec.accepted) == 1 and rec.rejected == []
    body = rec.accepted[0]
    text = {
        "slack": lambda b: b["text"],
        "wecom": lambda b: b["text"]["content"],
        "dingtalk": lambda b: b["text"]["content"],
        "feishu": lambda b: b["content"]["text"],
        "webhook": lambda b: b["text"],
    }[kind](body)
    assert "天猫 GMV 环比下降 35%" in text and "0123456789abcdef" in text
    assert "[严重]" in text and "实际值: 6,500.00" in text
    if kind == "slack":  # Slack's control characters escaped
        assert "&lt;" not in text  # the zh-CN title has none
    if kind == "webhook":
        assert body["key"] == "0123456789abcdef" and body["alerts"][0]["value"] == 6500.0


@pytest.mark.parametrize("kind", ["dingtalk", "feishu", "webhook"])
def test_a_wrong_signing_secret_is_refused_and_not_quoted(fresh: dict[str, Receiver], kind: str) -> None:
    rec = fresh[kind]
    wrong = "SECwrong-0000-1111-2222"
    with pytest.raises(DeliveryError) as info:
        send(robot_config(kind), render_alert(ALERT, "en"), secrets=secrets_for(rec.url, wrong))
    assert rec.accepted == [] and len(rec.rejected) == 1
    text = str(info.value)
    assert {"dingtalk": "errcode 310000", "feishu": "code 19021", "webhook": "HTTP 401"}[kind] in text
    assert wrong not in text and TOKEN not in text and SECRET not in text


@pytest.mark.parametrize("kind", ["slack", "wecom"])
def test_a_wrong_robot_key_is_refused(fresh: dict[str, Receiver], kind: str) -> None:
    rec = fresh[kind]
    bad_url = rec.url.replace(TOKEN, "tok-not-the-right-one")
    with pytest.raises(DeliveryError) as info:
        send(robot_config(kind), render_alert(ALERT, "en"), secrets=secrets_for(bad_url))
    assert rec.accepted == []
    assert "tok-not-the-right-one" not in str(info.value)
    assert ("HTTP 403" if kind == "slack" else "errcode 93000") in str(info.value)


def test_receiver_500_slow_and_down_are_retryable_errors(fresh: dict[str, Receiver]) -> None:
    rec = fresh["dingtalk"]
    cfg, secrets, msg = robot_config("dingtalk", timeout=0.5), secrets_for(rec.url), render_alert(ALERT, "en")
    rec.mode = "error"
    with pytest.raises(DeliveryError) as info:
        send(cfg, msg, secrets=secrets)
    assert info.value.retryable and "HTTP 500" in str(info.value) and TOKEN not in str(info.value)
    rec.mode, rec.delay = "slow", 2.0
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        send(cfg, msg, secrets=secrets)
    assert time.monotonic() - started < 1.5
    assert info.value.retryable and "no answer within 0.5 s" in str(info.value)
    down = Receiver("webhook")  # a port where nothing listens
    with pytest.raises(DeliveryError) as info:
        send(robot_config("webhook"), msg, secrets=secrets_for(f"http://127.0.0.1:{down.port}/hooks/alerts"))
    assert info.value.retryable and "receiver down or unreachable" in str(info.value)
    rec.mode = "ok"
    send(cfg, msg, secrets=secrets)
    assert len(rec.accepted) == 1


def test_a_missing_secret_names_the_variable(fresh: dict[str, Receiver]) -> None:
    with pytest.raises(DeliveryError) as info:
        send(robot_config("slack"), render_alert(ALERT, "en"), secrets=Secrets(None, environ={}))
    assert "HOOK_URL" in str(info.value) and info.value.retryable


# ---- e-mail ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpReceiver]:
    cert, key = make_certificate(tmp_path_factory.mktemp("tls"))
    server = SmtpReceiver(cert, key).start()
    yield server
    server.stop()


def email_config(server: SmtpReceiver, **over: Any) -> EmailNotifier:
    data = {
        "kind": "email",
        "host": "127.0.0.1",
        "port": server.port,
        "starttls": True,
        "ca_file": str(server.cert),
        "username": SMTP_USER,
        "password_env": "SMTP_PASSWORD",
        "sender": "alerts@shop.example",
        "to": ["ops@shop.example", "tmall@shop.example"],
        "timeout": 5,
        **over,
    }
    return EmailNotifier.model_validate(data)


def test_email_over_starttls_with_login_has_text_and_escaped_html(smtp: SmtpReceiver) -> None:
    before = len(smtp.messages)
    send(email_config(smtp), render_alert(ALERT, "en"), secrets=Secrets(None, environ={"SMTP_PASSWORD": SMTP_PASSWORD}))
    assert len(smtp.messages) == before + 1
    mail = smtp.messages[-1]
    assert smtp.envelopes[-1] == ("alerts@shop.example", ["ops@shop.example", "tmall@shop.example"])
    assert mail["Subject"] == "[CRITICAL] GMV of <tmall> fell 35% week over week"
    assert mail["X-Channelscope-Key"] == "0123456789abcdef"
    plain = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "observed: 6,500.00" in plain and "expected: 10,000.00" in plain
    assert "GMV of &lt;tmall&gt; fell 35%" in html and "<tmall>" not in html


def test_email_bad_password_is_a_retryable_error_without_the_password(smtp: SmtpReceiver) -> None:
    failures, wrong = smtp.auth_failures, "not-the-password-9"
    with pytest.raises(DeliveryError) as info:
        send(email_config(smtp), render_alert(ALERT, "en"), secrets=Secrets(None, environ={"SMTP_PASSWORD": wrong}))
    assert smtp.auth_failures > failures  # smtplib tries each offered mechanism (PLAIN, LOGIN)
    assert info.value.retryable and "refused the login of 'alerts-bot': 535" in str(info.value)
    assert wrong not in str(info.value) and SMTP_PASSWORD not in str(info.value)


def test_email_refuses_a_password_without_tls_and_untrusted_certificates(smtp: SmtpReceiver) -> None:
    secrets = Secrets(None, environ={"SMTP_PASSWORD": SMTP_PASSWORD})
    with pytest.raises(DeliveryError) as info:
        send(email_config(smtp, starttls=False), render_alert(ALERT, "en"), secrets=secrets)
    assert not info.value.retryable and "without TLS" in str(info.value)
    with pytest.raises(DeliveryError) as info:
        send(email_config(smtp, ca_file=None), render_alert(ALERT, "en"), secrets=secrets)
    assert "TLS failed" in str(info.value)


def test_email_server_down(smtp: SmtpReceiver) -> None:
    down = Receiver("webhook").port  # a free port: nothing listens
    with pytest.raises(DeliveryError) as info:
        send(
            email_config(smtp, port=down),
            render_alert(ALERT, "en"),
            secrets=Secrets(None, environ={"SMTP_PASSWORD": "x"}),
        )
    assert info.value.retryable and "server down or unreachable" in str(info.value)


# ---- rendering and secrets -------------------------------------------------------------------------------


def test_digest_orders_by_severity_and_counts_in_both_languages() -> None:
    warn = {
        **ALERT,
        "alert_id": "fedcba9876543210",
        "severity": "warning",
        "scope": {},
        "title": {"en": "Stale orders"},
    }
    msg = render_digest("digest-1", [warn, ALERT], "zh-CN")
    assert msg.key == "digest-1" and msg.severity == "critical" and msg.channel_id is None
    assert msg.title == "channelscope: 2 条告警（严重 1，警告 1，提示 0）"
    assert msg.text.index("0123456789abcdef") < msg.text.index("fedcba9876543210")
    assert "范围: 全业务" in msg.text  # whole-business scope; en title used when zh-CN is missing
    assert "Stale orders" in msg.text
    en = render_digest("digest-1", [warn, ALERT], "en")
    assert en.title == "channelscope: 2 alerts (1 critical, 1 warning, 0 info)"
    assert "&lt;tmall&gt;" in en.html and "<tmall>" not in en.html


def test_secrets_environment_first_then_file_and_never_in_repr(tmp_path: Path) -> None:
    f = tmp_path / "alerts.env"
    f.write_text(
        "# robot\nexport ROBOT_URL='http://x/?k=filevalue-123'\nSMTP_PASSWORD=file-pass-456\n", encoding="utf-8"
    )
    s = Secrets(f, environ={"SMTP_PASSWORD": "env-pass-789"})
    assert s.get("SMTP_PASSWORD") == "env-pass-789"
    assert s.get("ROBOT_URL") == "http://x/?k=filevalue-123"
    assert "pass" not in repr(s) and "filevalue" not in str(s)
    assert redact("login with env-pass-789 to http://x/?k=filevalue-123") == "login with *** to ***"
    assert redact("quoted: http%3A%2F%2Fx%2F%3Fk%3Dfilevalue-123") == "quoted: ***"
    with pytest.raises(MissingSecret) as info:
        s.get("NOPE")
    assert "NOPE" in str(info.value) and str(f) in str(info.value)
    (tmp_path / "bad.env").write_text("OK=1\nthis line has a secret-value-xyz\n", encoding="utf-8")
    with pytest.raises(ConfigError) as bad:
        Secrets(tmp_path / "bad.env", environ={}).get("OK")
    assert "line 2" in str(bad.value) and "secret-value-xyz" not in str(bad.value)


# ---- config errors at load ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alerts", "line", "expected"),
    [
        (
            "alerts:\n  notifiers:\n    ops: {kind: email, host: h, password: hunter2hunter, sender: a@x, to: [b@x]}\n",
            5,
            "key 'alerts.notifiers.ops.password': 'password' holds a literal secret",
        ),
        (
            "alerts:\n  notifiers:\n    ops:\n      kind: email\n      host: h\n      sender: a@x\n"
            "      to: [b@x]\n      password: hunter2hunter\n",
            10,
            "key 'alerts.notifiers.ops.password': 'password' holds a literal secret",
        ),
        (
            "alerts:\n  notifiers:\n    ops:\n      kind: slack\n      url_env: U\n      channel: '#ops'\n",
            8,
            "key 'alerts.notifiers.ops.channel': unknown key for a slack notifier; allowed: kind, language, timeout, url_env",
        ),
        (
            "alerts:\n  notifiers:\n    tm: {kind: dingtalk, url: 'https://oapi.dingtalk.com/robot/send?access_token=abc'}\n",
            5,
            "'url' holds a literal secret",
        ),
        (
            "alerts:\n  notifiers:\n    x: {kind: pager, url_env: U}\n",
            5,
            "key 'alerts.notifiers.x.kind': unknown notifier kind 'pager'",
        ),
        ("alerts:\n  notifiers:\n    x: {kind: slack, url_env: 'my url'}\n", 5, "is not an environment variable name"),
        ("alerts:\n  notifiers:\n    x: {kind: webhook, secret_env: S}\n", 5, "give exactly one of url or url_env"),
        (
            "alerts:\n  notifiers:\n    x: {kind: slack, url_env: U}\n  routes:\n    - {notify: [y]}\n",
            3,
            "routes[0] names unknown notifier 'y' (known: x)",
        ),
        (
            "alerts:\n  notifiers:\n    x: {kind: slack, url_env: U}\n  routes:\n    - {notify: [x], severity: [urgent]}\n",
            7,
            "key 'alerts.routes.0.severity.0'",
        ),
        (
            "alerts:\n  notifiers:\n    x: {kind: email, host: h, sender: a, to: [b], username: u}\n",
            5,
            "password_env is missing",
        ),
    ],
)
def test_misconfigured_notifiers_and_routes_are_located(tmp_path: Path, alerts: str, line: int, expected: str) -> None:
    folder = write_project(tmp_path / "p", alerts)
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    text = " ".join(str(info.value).split())
    assert f"channelscope.yaml, line {line}:" in text
    assert expected in text
    assert "hunter2hunter" not in text and "access_token=abc" not in text
