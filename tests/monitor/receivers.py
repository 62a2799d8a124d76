"""Real receivers on 127.0.0.1 for the notifier tests: one HTTP server per robot kind that checks the
signature exactly as the platform documents it (re-implemented here, independently of channelscope), and an
SMTP server (aiosmtpd) with STARTTLS and AUTH over a self-signed certificate made by the openssl CLI.

A receiver's ``mode`` simulates trouble: ``ok``, ``error`` (HTTP 500), ``slow`` (answers after
``delay`` seconds; such a late request is not counted as received: the sender gave up on it), or
``stop()`` for a receiver that is down (nothing listens on its port) and ``start()`` to bring it back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import subprocess
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "tok-3b9f0c2d7e1a"  # robot access token / WeCom key / Slack path token
SECRET = "SECa1b2c3d4e5f60718293a4b5c6d7e8f9"  # DingTalk / Feishu / webhook signing secret
SMTP_USER = "alerts-bot"
SMTP_PASSWORD = "pw-Zq8!r4Tt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _b64_hmac(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


def check_request(kind: str, path: str, query: dict[str, list[str]], headers: Any, raw: bytes) -> tuple[bool, str]:
    """(accepted, why not) for one request, by the rules of the platform ``kind``."""
    body = json.loads(raw.decode("utf-8"))
    if kind == "slack":
        ok = path == f"/services/T0/B0/{TOKEN}" and isinstance(body.get("text"), str)
        return ok, "invalid_token"
    if kind == "wecom":
        ok = path == "/cgi-bin/webhook/send" and query.get("key") == [TOKEN] and body["msgtype"] == "text"
        return ok and bool(body["text"]["content"]), "invalid webhook url"
    if kind == "dingtalk":
        # https://open.dingtalk.com/document/robots/customize-robot-security-settings: sign over ts+"\n"+secret
        if query.get("access_token") != [TOKEN]:
            return False, "token is not exist"
        ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        fresh = ts.isdigit() and abs(int(ts) - time.time() * 1000) < 3600 * 1000
        want = _b64_hmac(SECRET.encode(), f"{ts}\n{SECRET}".encode())
        return fresh and hmac.compare_digest(sign, want) and body["msgtype"] == "text", "sign not match"
    if kind == "feishu":
        # https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot: key = ts+"\n"+secret, message empty
        if path != f"/open-apis/bot/v2/hook/{TOKEN}":
            return False, "incoming webhook access token invalid"
        ts, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
        fresh = ts.isdigit() and abs(int(ts) - time.time()) < 3600
        want = _b64_hmac(f"{ts}\n{SECRET}".encode(), b"")
        return fresh and hmac.compare_digest(sign, want) and body["msg_type"] == "text", "sign match fail"
    if kind == "webhook":
        want = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        got = headers.get("X-Channelscope-Signature", "")
        ts = headers.get("X-Channelscope-Timestamp", "")
        ok = hmac.compare_digest(got, want) and ts.isdigit() and int(ts) == body.get("sent_at")
        return ok and headers.get("X-Channelscope-Key") == body.get("key"), "bad signature"
    raise AssertionError(kind)


def _answer(kind: str, ok: bool, why: str) -> tuple[int, bytes]:
    if kind == "slack":
        return (200, b"ok") if ok else (403, why.encode())
    if kind in ("wecom", "dingtalk"):
        code = 0 if ok else (93000 if kind == "wecom" else 310000)
        return 200, json.dumps({"errcode": code, "errmsg": "ok" if ok else why}).encode()
    if kind == "feishu":
        return 200, json.dumps({"code": 0 if ok else 19021, "msg": "success" if ok else why}).encode()
    return (200, b"{}") if ok else (401, why.encode())


class Receiver:
    """An HTTP receiver of one webhook kind on 127.0.0.1."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = free_port()
        self.mode = "ok"
        self.delay = 3.0
        self.accepted: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        base = f"http://127.0.0.1:{self.port}"
        return {
            "slack": f"{base}/services/T0/B0/{TOKEN}",
            "wecom": f"{base}/cgi-bin/webhook/send?key={TOKEN}",
            "dingtalk": f"{base}/robot/send?access_token={TOKEN}",
            "feishu": f"{base}/open-apis/bot/v2/hook/{TOKEN}",
            "webhook": f"{base}/hooks/alerts",
        }[self.kind]

    def start(self) -> Receiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests += 1
                if outer.mode == "error":
                    self._reply(500, b"internal error")
                    return
                if outer.mode == "slow":
                    time.sleep(outer.delay)
                    self._reply(200, b"late")
                    return
                parts = urlsplit(self.path)
                ok, why = check_request(outer.kind, parts.path, parse_qs(parts.query), self.headers, raw)
                if ok:
                    outer.accepted.append(json.loads(raw))
                else:
                    outer.rejected.append(why)
                self._reply(*_answer(outer.kind, ok, why))

            def _reply(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the sender gave up (timeout) and closed the connection
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem), made with the openssl CLI."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 requiring STARTTLS and AUTH (user SMTP_USER, password SMTP_PASSWORD)."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.cert, self.key = cert, key
        self.port = free_port()
        self.password = SMTP_PASSWORD
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.auth_failures = 0
        self._controller: Any = None

    def start(self) -> SmtpReceiver:
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        outer = self
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert), str(self.key))

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                msg = message_from_bytes(envelope.content, policy=policy.default)
                outer.messages.append(msg)  # type: ignore[arg-type]
                outer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login.decode() == SMTP_USER
                and data.password.decode() == outer.password
            )
            if not ok:
                outer.auth_failures += 1
            return AuthResult(success=ok, handled=False)

        self._controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=ctx,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=authenticator,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
