"""E-mail over SMTP: STARTTLS (587) or implicit TLS (465), login, a plain-text and an HTML part.

A password is never sent over an unencrypted connection: a notifier with a username but neither
``starttls`` nor ``ssl`` is refused.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from channelscope.config.notifiers import EmailNotifier
from channelscope.monitor.notify.message import DeliveryError, Message
from channelscope.monitor.secrets import Secrets


def build_email(cfg: EmailNotifier, message: Message) -> EmailMessage:
    """The MIME message: text/plain with an text/html alternative, UTF-8 subject, and the message's files
    (a report's PDF and Excel) as attachments."""
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = cfg.sender
    mail["To"] = ", ".join(cfg.to)
    mail["Date"] = formatdate(localtime=False)
    domain = cfg.sender.rpartition("@")[2] or None
    mail["Message-ID"] = make_msgid(idstring=message.key[:32], domain=domain)
    mail["X-Channelscope-Key"] = message.key
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    for name, mime, content in message.attachments:
        maintype, _, subtype = mime.partition("/")
        mail.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return mail


def _context(cfg: EmailNotifier) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cfg.ca_file) if cfg.ca_file else ssl.create_default_context()


def send_email(cfg: EmailNotifier, message: Message, *, secrets: Secrets, timeout: float) -> None:
    """One attempt: connect, TLS, login, send to every recipient."""
    password = secrets.get(cfg.password_env) if cfg.username and cfg.password_env else None
    if password is not None and not (cfg.ssl or cfg.starttls):
        raise DeliveryError(
            "refusing to send the SMTP password without TLS: set starttls: true or ssl: true", retryable=False
        )
    mail = build_email(cfg, message)
    what = f"SMTP server {cfg.host}:{cfg.port}"
    try:
        if cfg.ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout, context=_context(cfg))
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
        with smtp:
            if cfg.starttls and not cfg.ssl:
                smtp.starttls(context=_context(cfg))
            if cfg.username and password is not None:
                smtp.login(cfg.username, password)
            refused = smtp.send_message(mail)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{what} refused the login of '{cfg.username}': {exc.smtp_code} {_text(exc.smtp_error)}",
            hint=f"check the password in {cfg.password_env}",
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"{what} refused every recipient: {', '.join(exc.recipients)}", retryable=False) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"{what} answered {exc.smtp_code} {_text(exc.smtp_error)}", retryable=exc.smtp_code < 500
        ) from None
    except TimeoutError:
        raise DeliveryError(f"{what}: no answer within {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise DeliveryError(f"{what}: TLS failed ({exc.reason or type(exc).__name__})") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__} (server down or unreachable)") from None
    if refused:
        raise DeliveryError(f"{what} refused some recipients: {', '.join(refused)}", retryable=False)


def _text(raw: bytes | str) -> str:
    return (raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw).strip()
