"""Who may see what: users (argon2 password hashes), browser sessions, API tokens, the login rate limit,
CSRF tokens and the access log, stored in the project's warehouse (DuckDB or PostgreSQL).

Secrets never leave this module in clear except once: a new API token is returned to the caller that
created it. Tokens and session ids are stored as SHA-256 digests (they are 256-bit random values, so a
fast digest is enough); passwords as argon2id hashes (a slow KDF, since people choose them).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import json
import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from channelscope.errors import ChannelscopeError
from channelscope.model.operational import AUTH_TABLES

if TYPE_CHECKING:
    from channelscope.project import Project

Role = Literal["admin", "analyst", "channel_manager", "viewer"]
ROLES: tuple[str, ...] = ("admin", "analyst", "channel_manager", "viewer")
SESSION_HOURS = 12
log = logging.getLogger("channelscope.web.access")

#: what each role may do; a channel_manager does what an analyst does, inside its scope
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "analyst": frozenset({"read", "export", "alerts.write", "actions.write", "quarantine"}),
    "channel_manager": frozenset({"read", "export", "alerts.write", "actions.write", "quarantine"}),
    "admin": frozenset({"read", "export", "alerts.write", "actions.write", "quarantine", "users"}),
}


class AuthError(ChannelscopeError):
    """Bad credentials, an unknown user, a bad role or scope."""


class AccessDenied(ChannelscopeError):
    """An authenticated user asked for something outside their role or scope (HTTP 403)."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    channels: tuple[str, ...] = ()  # channel_manager scope
    distributors: tuple[str, ...] = ()  # channel_manager scope
    lang: str = "zh-CN"

    @property
    def scoped(self) -> bool:
        """True when rows must be filtered (a channel manager); others see every row."""
        return self.role == "channel_manager"

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    def scope(self) -> dict[str, Any]:
        """The applied scope, as every API response states it."""
        if not self.scoped:
            return {"role": self.role, "channels": "all", "distributors": "all"}
        return {
            "role": self.role,
            "channels": list(self.channels) if self.channels else "all",
            "distributors": list(self.distributors) if self.distributors else "all",
        }


_current: contextvars.ContextVar[User | None] = contextvars.ContextVar("channelscope_user", default=None)


def request_user() -> User:
    """The authenticated user of the current request (set by the auth middleware, also in Dash callbacks)."""
    user = _current.get()
    if user is None:
        raise AccessDenied("no authenticated user in this request")
    return user


_request: contextvars.ContextVar[tuple[str, str, str | None]] = contextvars.ContextVar(
    "channelscope_request", default=("-", "-", None)
)


def current_request() -> tuple[str, str, str | None]:
    """(method, path, client address) of the current request, for the access log."""
    return _request.get()


def set_request_info(method: str, path: str, client: str | None) -> contextvars.Token:
    return _request.set((method, path, client))


def set_request_user(user: User | None) -> contextvars.Token:
    return _current.set(user)


def reset_request_user(token: contextvars.Token) -> None:
    _current.reset(token)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def write_lock(project: Project) -> Any:
    """The process-wide writer lock of the project (DESIGN rule 8), created if the project has none yet."""
    lock = getattr(project, "write_lock", None)
    if lock is None:
        lock = threading.RLock()
        project.write_lock = lock
    return lock


class AuthStore:
    """Users, tokens, sessions and the access log of one project.

    Reads go through ``reader`` (a per-thread read-only view of the warehouse, so a login never waits
    behind a batch load); writes go through the project's own warehouse under its write lock.
    """

    def __init__(self, project: Project, reader: Any = None) -> None:
        self.project = project
        self._reader = reader
        self._hasher = PasswordHasher()
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()

    # ---- plumbing ----------------------------------------------------------------------------

    def ensure_tables(self) -> None:
        with write_lock(self.project):
            self.project.warehouse.ensure_tables(*AUTH_TABLES)

    def _read(self, sql: str, params: list[Any]) -> list[tuple]:
        wh = self._reader(self.project).warehouse if self._reader else self.project.warehouse
        return wh.execute(sql, params)

    def _write(self, sql: str, params: list[Any]) -> list[tuple]:
        with write_lock(self.project):
            return self.project.warehouse.execute(sql, params)

    def forget(self) -> None:
        """Drop cached session and token lookups (after a user is disabled or a session ends)."""
        with self._cache_lock:
            self._cache.clear()

    # ---- users -------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        role: str,
        password: str,
        *,
        channels: tuple[str, ...] | list[str] = (),
        distributors: tuple[str, ...] | list[str] = (),
        lang: str = "zh-CN",
    ) -> User:
        """Create (or replace, keeping nothing of the old) a user with an argon2id password hash."""
        username = username.strip()
        if not username or len(username) > 64 or any(c.isspace() for c in username):
            raise AuthError(f"user name '{username}' must be 1-64 characters without spaces", field="username")
        if role not in ROLES:
            raise AuthError(f"unknown role '{role}'; valid: {', '.join(ROLES)}", field="role")
        if role == "channel_manager" and not channels and not distributors:
            raise AuthError(
                "a channel_manager needs a scope", field="channel", hint="add --channel C or --distributor D"
            )
        if role != "channel_manager" and (channels or distributors):
            raise AuthError(f"only a channel_manager has a channel scope, not a {role}", field="channel")
        if len(password) < 8:
            raise AuthError("the password needs at least 8 characters", field="password")
        if lang not in ("zh-CN", "en"):
            raise AuthError(f"lang '{lang}' is not supported; valid: zh-CN, en", field="lang")
        self._check_scope_names(tuple(channels), tuple(distributors))
        row = [
            username,
            self._hasher.hash(password),
            role,
            json.dumps(sorted(channels)),
            json.dumps(sorted(distributors)),
            lang,
            False,
            _now(),
        ]
        with write_lock(self.project):
            self.project.warehouse.execute("DELETE FROM users WHERE username = ?", [username])
            self.project.warehouse.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
        self.forget()
        return User(username, role, tuple(sorted(channels)), tuple(sorted(distributors)), lang)  # type: ignore[arg-type]

    def _check_scope_names(self, channels: tuple[str, ...], distributors: tuple[str, ...]) -> None:
        cfg = self.project.config
        known_c = {c.id for c in cfg.channels}
        bad = [c for c in channels if c not in known_c]
        if bad:
            raise AuthError(f"unknown channel {', '.join(bad)}; valid: {', '.join(sorted(known_c))}", field="channel")
        if distributors:
            known_d = {str(r[0]) for r in self._read("SELECT distributor_id FROM distributors", [])}
            bad = [d for d in distributors if d not in known_d]
            if bad:
                raise AuthError(f"unknown distributor {', '.join(bad)}", field="distributor")

    def list_users(self) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT username, role, channels, distributors, lang, disabled, created_at FROM users ORDER BY username", []
        )
        return [
            {
                "username": r[0],
                "role": r[1],
                "channels": json.loads(r[2]),
                "distributors": json.loads(r[3]),
                "lang": r[4],
                "disabled": bool(r[5]),
                "created_at": r[6],
            }
            for r in rows
        ]

    def get_user(self, username: str) -> User | None:
        rows = self._read(
            "SELECT username, role, channels, distributors, lang FROM users WHERE username = ? AND NOT disabled",
            [username],
        )
        return _user(rows[0]) if rows else None

    def disable_user(self, username: str) -> None:
        """Disable a user: their sessions end and their tokens stop working."""
        if not self._read("SELECT 1 FROM users WHERE username = ?", [username]):
            raise AuthError(f"no user '{username}'", field="username")
        with write_lock(self.project):
            self.project.warehouse.execute("UPDATE users SET disabled = TRUE WHERE username = ?", [username])
            self.project.warehouse.execute("DELETE FROM web_sessions WHERE username = ?", [username])
            self.project.warehouse.execute("UPDATE api_tokens SET revoked = TRUE WHERE username = ?", [username])
        self.forget()

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password matches (argon2 verify; the hash is upgraded when parameters change)."""
        rows = self._read(
            "SELECT username, role, channels, distributors, lang, password_hash FROM users "
            "WHERE username = ? AND NOT disabled",
            [username],
        )
        if not rows:
            # spend the same time as a real check, so timing does not tell which names exist
            with contextlib.suppress(VerificationError):
                self._hasher.verify(_DUMMY_HASH, password)
            return None
        stored = rows[0][5]
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if self._hasher.check_needs_rehash(stored):
            self._write(
                "UPDATE users SET password_hash = ? WHERE username = ?", [self._hasher.hash(password), username]
            )
        return _user(rows[0][:5])

    # ---- API tokens --------------------------------------------------------------------------

    def create_token(self, username: str, label: str | None = None) -> str:
        """A new API token for the user: returned once, stored only as its digest."""
        if self.get_user(username) is None:
            raise AuthError(f"no active user '{username}'", field="username")
        token = "cs_" + secrets.token_urlsafe(32)
        self._write("INSERT INTO api_tokens VALUES (?, ?, ?, ?, NULL, FALSE)", [digest(token), username, label, _now()])
        return token

    def token_user(self, token: str) -> User | None:
        return self._cached("t:" + digest(token), self._token_user)

    def _token_user(self, key: str) -> User | None:
        rows = self._read(
            "SELECT u.username, u.role, u.channels, u.distributors, u.lang FROM api_tokens t "
            "JOIN users u ON u.username = t.username WHERE t.token_hash = ? AND NOT t.revoked AND NOT u.disabled",
            [key[2:]],
        )
        return _user(rows[0]) if rows else None

    # ---- sessions ----------------------------------------------------------------------------

    def create_session(self, user: User) -> tuple[str, str]:
        """(session id, CSRF token) of a new browser session; the id is stored as its digest."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = _now()
        self._write(
            "INSERT INTO web_sessions VALUES (?, ?, ?, ?, ?)",
            [digest(sid), user.username, csrf, now, now + dt.timedelta(hours=SESSION_HOURS)],
        )
        return sid, csrf

    def session_user(self, sid: str) -> tuple[User, str] | None:
        """(user, CSRF token) of a live session, or None."""
        return self._cached("s:" + digest(sid), self._session_user)

    def _session_user(self, key: str) -> tuple[User, str] | None:
        rows = self._read(
            "SELECT u.username, u.role, u.channels, u.distributors, u.lang, s.csrf_token FROM web_sessions s "
            "JOIN users u ON u.username = s.username WHERE s.session_hash = ? AND s.expires_at > ? AND NOT u.disabled",
            [key[2:], _now()],
        )
        return (_user(rows[0][:5]), rows[0][5]) if rows else None

    def end_session(self, sid: str) -> None:
        self._write("DELETE FROM web_sessions WHERE session_hash = ? OR expires_at < ?", [digest(sid), _now()])
        self.forget()

    def _cached(self, key: str, load: Any) -> Any:
        """Lookups are cached a few seconds: every request needs one, a login changes rarely."""
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
        value = load(key)
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + 5.0, value)
        return value

    # ---- access log --------------------------------------------------------------------------

    def log_access(
        self,
        user: str | None,
        method: str,
        path: str,
        status: int,
        decision: str,
        reason: str = "",
        client: str | None = None,
    ) -> None:
        """Record a decision (every denial, every login attempt); a failed write never fails the request."""
        log.warning("%s %s %s %s %s: %s", decision, user or "-", method, path, status, reason)
        try:
            self._write(
                "INSERT INTO access_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [_now(), user, method, path[:500], status, decision, reason[:500], client],
            )
        except Exception:
            log.exception("could not write the access log")

    def access_log(self, *, decision: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT logged_at, username, method, path, status, decision, reason, client FROM access_log"
        params: list[Any] = []
        if decision:
            sql += " WHERE decision = ?"
            params.append(decision)
        rows = self._read(sql + f" ORDER BY logged_at DESC LIMIT {int(limit)}", params)
        keys = ("logged_at", "username", "method", "path", "status", "decision", "reason", "client")
        return [dict(zip(keys, r, strict=True)) for r in rows]


_DUMMY_HASH = PasswordHasher().hash("not a password of anybody")


def _user(row: tuple) -> User:
    return User(row[0], row[1], tuple(json.loads(row[2])), tuple(json.loads(row[3])), row[4])


@dataclass
class LoginLimiter:
    """Failed logins per user name and per client address in a sliding window; too many -> HTTP 429."""

    per_user: int = 5
    per_client: int = 20
    window_s: float = 300.0
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        with self._lock:
            return self._wait(username, client, time.monotonic())

    def _wait(self, username: str, client: str, now: float) -> int:
        wait = 0.0
        for key, limit in (("u:" + username.lower(), self.per_user), ("c:" + client, self.per_client)):
            q = self._fails.get(key)
            if not q:
                continue
            while q and q[0] < now - self.window_s:
                q.popleft()
            if len(q) >= limit:
                wait = max(wait, q[0] + self.window_s - now)
        return int(wait) + 1 if wait > 0 else 0

    def attempt(self, username: str, client: str) -> int:
        """Check and count a login attempt in one step (0: go ahead; else seconds to wait, nothing counted).

        The attempt counts as failed until ``succeeded`` says otherwise: checking first and counting after the
        (slow) password check would let many guesses sent at once all pass the check."""
        now = time.monotonic()
        with self._lock:
            wait = self._wait(username, client, now)
            if not wait:
                for key in ("u:" + username.lower(), "c:" + client):
                    self._fails.setdefault(key, deque()).append(now)
        return wait

    def failed(self, username: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in ("u:" + username.lower(), "c:" + client):
                self._fails.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, client: str | None = None) -> None:
        """A good password: forget the user's failures and, after ``attempt``, give the address its try back."""
        with self._lock:
            self._fails.pop("u:" + username.lower(), None)
            q = self._fails.get("c:" + client) if client is not None else None
            if q:
                q.pop()
