"""Notifier secrets: looked up by name, environment first, then the project's ``alerts.secrets_file``.

Every value handed out is remembered so that :func:`redact` can blank it out of any text that is
about to be logged, stored (a delivery's ``last_error``) or shown. A logging filter on the HTTP
client's loggers applies the same redaction, since httpx logs request URLs and robot URLs carry tokens.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from urllib.parse import quote, quote_plus

from channelscope.errors import ConfigError

MASK = "***"
_KNOWN: set[str] = set()
_LOCK = threading.Lock()
_MIN_LEN = 4  # shorter values would blank ordinary words out of messages


class MissingSecret(ConfigError):
    """A notifier names a secret that is neither in the environment nor in the secrets file."""


def _remember(value: str) -> None:
    if len(value) < _MIN_LEN:
        return
    with _LOCK:
        _KNOWN.update({value, quote(value, safe=""), quote_plus(value)})


def redact(text: str) -> str:
    """``text`` with every secret value this process has read replaced by ``***`` (raw and URL-encoded)."""
    with _LOCK:
        known = sorted(_KNOWN, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return text


def parse_secrets_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; ``#`` comments, blank lines, an optional ``export`` and surrounding quotes allowed."""
    values: dict[str, str] = {}
    for n, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            # never echo the line: it may hold a secret
            raise ConfigError("expected KEY=VALUE", file=str(path), line=n)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


class Secrets:
    """Named secrets of one project. ``repr`` lists where they come from, never a value."""

    def __init__(self, file: Path | None = None, environ: dict[str, str] | None = None) -> None:
        self.file = file
        self._environ = environ
        self._file_values: dict[str, str] | None = None

    @classmethod
    def for_project(cls, folder: Path, secrets_file: str | None) -> Secrets:
        """The secrets of a project folder (``secrets_file`` is relative to it)."""
        if secrets_file is None:
            return cls(None)
        path = Path(secrets_file)
        return cls(path if path.is_absolute() else folder / path)

    def _from_file(self) -> dict[str, str]:
        if self._file_values is None:
            values = parse_secrets_file(self.file) if self.file is not None and self.file.exists() else {}
            for v in values.values():
                _remember(v)
            self._file_values = values
        return self._file_values

    def get(self, name: str) -> str:
        """The value of secret ``name``; raises :class:`MissingSecret` (naming it, not its value)."""
        env = os.environ if self._environ is None else self._environ
        value = env.get(name)
        if value is None or value == "":
            value = self._from_file().get(name)
        if value is None or value == "":
            where = f" nor in {self.file}" if self.file is not None else ""
            raise MissingSecret(
                f"secret '{name}' is not set: no environment variable {name}{where}",
                hint="export it, or add NAME=value to the file alerts.secrets_file names",
            )
        _remember(value)
        return value

    def __repr__(self) -> str:
        return f"Secrets(file={str(self.file) if self.file else None!r}, values=hidden)"

    __str__ = __repr__


class RedactingFilter(logging.Filter):
    """Blanks known secret values out of a log record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactingFilter()


def install_log_redaction(*loggers: str) -> None:
    """Attach the redacting filter to the named loggers (idempotent)."""
    for name in loggers or ("httpx", "httpcore", "channelscope"):
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
