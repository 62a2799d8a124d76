"""Users, passwords (argon2), API tokens, sessions, CSRF, the login rate limit and the access log: the store on
DuckDB and PostgreSQL, the `users` commands, and a real `channelscope serve` on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from tests.conftest import _free_port, write_project

from channelscope.project import Project

CLI = [sys.executable, "-m", "channelscope.cli"]
CONFIG = """
channels:
  - {id: tmall, name: 天猫, kind: marketplace, platform: tmall}
  - {id: jd, name: 京东, kind: marketplace, platform: jd}
sources: [{name: orders, path: "exports/*.csv", preset: canonical_orders, channel_id: tmall}]
"""


@pytest.fixture
def store(tmp_path: Path, warehouse_url: str) -> Iterator[object]:
    from channelscope.web.auth import AuthStore
    from channelscope.web.service import reader

    project = Project(write_project(tmp_path / "shop", CONFIG, warehouse_url))
    s = AuthStore(project, reader=reader)
    s.ensure_tables()
    s.ensure_tables()  # idempotent
    yield s
    project.close()


def test_users_passwords_tokens_sessions(store: object) -> None:
    from channelscope.web.auth import AuthStore, User, digest

    assert isinstance(store, AuthStore)
    wh = store.project.warehouse
    made = store.add_user("li", "channel_manager", "s3cret-pass", channels=["tmall"])
    assert made == User("li", "channel_manager", ("tmall",), (), "zh-CN")
    stored = wh.execute("SELECT password_hash FROM users WHERE username = 'li'")[0][0]
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    assert store.authenticate("li", "s3cret-pass") == made
    assert store.authenticate("li", "wrong-pass") is None
    assert store.authenticate("nobody", "s3cret-pass") is None
    assert [u["username"] for u in store.list_users()] == ["li"]
    assert "password_hash" not in store.list_users()[0]

    token = store.create_token("li", "bi tool")
    assert token.startswith("cs_") and len(token) > 40
    rows = wh.execute("SELECT token_hash, label FROM api_tokens")
    assert rows == [(digest(token), "bi tool")]  # only the digest is kept
    assert store.token_user(token) == made
    assert store.token_user(token + "x") is None

    sid, csrf = store.create_session(made)
    assert store.session_user(sid) == (made, csrf)
    assert wh.execute("SELECT count(*) FROM web_sessions WHERE session_hash = ?", [digest(sid)])[0][0] == 1
    store.end_session(sid)
    assert store.session_user(sid) is None

    sid2, _ = store.create_session(made)
    store.disable_user("li")
    assert store.token_user(token) is None
    assert store.session_user(sid2) is None
    assert store.authenticate("li", "s3cret-pass") is None
    assert store.list_users()[0]["disabled"] is True


def test_bad_users_are_refused_with_the_field(store: object) -> None:
    from channelscope.web.auth import AuthError, AuthStore

    assert isinstance(store, AuthStore)
    cases = [
        (("x", "god", "longenough"), {}, "role"),
        (("x", "viewer", "short"), {}, "password"),
        (("x", "channel_manager", "longenough"), {}, "channel"),
        (("x", "channel_manager", "longenough"), {"channels": ["taobao"]}, "channel"),
        (("x", "channel_manager", "longenough"), {"distributors": ["nobody"]}, "distributor"),
        (("x", "analyst", "longenough"), {"channels": ["tmall"]}, "channel"),
        (("a b", "viewer", "longenough"), {}, "username"),
    ]
    for args, kw, field in cases:
        with pytest.raises(AuthError) as exc:
            store.add_user(*args, **kw)  # type: ignore[arg-type]
        assert exc.value.field == field, args
    with pytest.raises(AuthError, match="no user"):
        store.disable_user("ghost")


def test_access_log(store: object) -> None:
    from channelscope.web.auth import AuthStore

    assert isinstance(store, AuthStore)
    store.log_access("li", "GET", "/api/kpis", 403, "denied", "filter channel=jd is outside the scope", "127.0.0.1")
    (entry,) = store.access_log(decision="denied")
    assert entry["username"] == "li" and entry["status"] == 403 and "outside the scope" in entry["reason"]


def test_login_limiter_window() -> None:
    from channelscope.web.auth import LoginLimiter

    lim = LoginLimiter(per_user=3, per_client=5, window_s=60)
    for _ in range(3):
        assert lim.retry_after("li", "1.2.3.4") == 0
        lim.failed("li", "1.2.3.4")
    assert 0 < lim.retry_after("li", "1.2.3.4") <= 61
    assert lim.retry_after("wang", "5.6.7.8") == 0  # another user from another address is not slowed
    lim.failed("wang", "1.2.3.4")
    lim.failed("zhao", "1.2.3.4")
    assert lim.retry_after("zhou", "1.2.3.4") > 0  # but the address that tried five times is


# ---- the real server -----------------------------------------------------------------------------


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """`channelscope serve` in its own process on a free port, with an admin and a viewer made by the CLI."""
    from channelscope.web.auth import AuthStore

    folder = write_project(tmp_path_factory.mktemp("serve") / "shop", CONFIG)
    with Project(folder) as p:  # the users commands are tested in-process below (test_users_cli)
        store = AuthStore(p)
        store.ensure_tables()
        store.add_user("boss", "admin", "boss-pass-1")
        store.add_user("vic", "viewer", "vic-pass-12", lang="en")
        token = store.create_token("boss")
    port = _free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "-p", str(folder), "--port", str(port), "--no-scheduler", "--no-events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"serve exited: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("serve did not answer in 60 s")
    yield base, folder, token
    proc.terminate()
    proc.wait(20)


def _login_form(c: httpx.Client, base: str, user: str, password: str, nxt: str = "/") -> httpx.Response:
    page = c.get(base + "/login", params={"next": nxt})
    csrf = c.cookies.get("_csrf_token")
    assert csrf and f'value="{csrf}"' in page.text
    return c.post(base + "/api/auth/login", data={"username": user, "password": password, "csrf": csrf, "next": nxt})


def test_server_binds_loopback_only(server: tuple[str, Path, str]) -> None:
    base, _, _ = server
    port = int(base.rsplit(":", 1)[1])
    listeners = [c for p in psutil.process_iter() for c in _conns(p) if c.status == "LISTEN" and c.laddr.port == port]
    assert listeners and {c.laddr.ip for c in listeners} == {"127.0.0.1"}


def _conns(p: psutil.Process) -> list:
    try:
        return p.net_connections(kind="tcp")
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return []


def test_login_page_in_both_languages(server: tuple[str, Path, str]) -> None:
    base, _, _ = server
    zh = httpx.get(base + "/login")
    assert zh.status_code == 200 and "登录" in zh.text
    assert "<script" not in zh.text and "://" not in zh.text  # no CDN, nothing from elsewhere
    en = httpx.get(base + "/login", headers={"Accept-Language": "en-US,en"})
    assert "Sign in" in en.text
    assert httpx.get(base + "/login.css").headers["content-type"].startswith("text/css")


def test_session_cookie_flags_and_csrf(server: tuple[str, Path, str]) -> None:
    base, _, _ = server
    with httpx.Client() as c:
        r = _login_form(c, base, "vic", "vic-pass-12", nxt="/api/auth/me")
        assert r.status_code == 303 and r.headers["location"] == "/api/auth/me"
        cookies = {h.split("=", 1)[0]: h for h in r.headers.get_list("set-cookie")}
        session = cookies["cs_session"].lower()
        assert "httponly" in session and "samesite=lax" in session and "path=/" in session
        assert "httponly" not in cookies["_csrf_token"].lower() and "samesite=lax" in cookies["_csrf_token"].lower()
        me = c.get(base + "/api/auth/me")
        assert me.status_code == 200 and me.json()["user"] == {
            "username": "vic",
            "role": "viewer",
            "channels": [],
            "distributors": [],
            "lang": "en",
        }
        if importlib.util.find_spec("channelscope.web.dashboard"):
            assert c.get(base + "/").status_code == 200  # the dashboard, behind the same login
        # a write with the session cookie but without the CSRF token (what a forged cross-site post sends)
        assert c.post(base + "/api/auth/logout").status_code == 403
        assert c.post(base + "/api/auth/logout", headers={"X-CSRF-Token": "guess"}).status_code == 403
        assert c.get(base + "/api/auth/me").status_code == 200  # still logged in
        ok = c.post(base + "/api/auth/logout", headers={"X-CSRFToken": c.cookies["_csrf_token"]})
        assert ok.status_code == 200
        assert c.get(base + "/api/auth/me").status_code == 401


def test_form_login_needs_its_csrf_token_and_no_open_redirect(server: tuple[str, Path, str]) -> None:
    base, _, _ = server
    with httpx.Client() as c:
        forged = c.post(base + "/api/auth/login", data={"username": "vic", "password": "vic-pass-12"})
        assert forged.status_code == 403
        r = _login_form(c, base, "vic", "vic-pass-12", nxt="//evil.example/x")
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_json_login_and_bearer_token(server: tuple[str, Path, str]) -> None:
    base, _, token = server
    r = httpx.post(base + "/api/auth/login", json={"username": "boss", "password": "boss-pass-1"})
    assert r.status_code == 200 and r.json()["user"]["role"] == "admin" and r.json()["csrf_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    # a token is not a cookie: no CSRF token needed for its writes
    made = httpx.post(
        base + "/api/users", json={"username": "ana", "role": "analyst", "password": "ana-pass-12"}, headers=bearer
    )
    assert made.status_code == 201, made.text
    assert httpx.get(base + "/api/kpis", params={"metric": "gmv"}, headers=bearer).json()["rows"] == [{"gmv": 0.0}]


def test_unauthenticated_requests(server: tuple[str, Path, str]) -> None:
    base, _folder, _ = server
    page = httpx.get(base + "/trends?x=1", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/trends%3Fx%3D1"
    api = httpx.get(base + "/api/kpis", params={"metric": "gmv"}, headers={"Accept": "text/html"})
    assert api.status_code == 401 and api.json()["error"]["message"].startswith("log in first")
    assert httpx.get(base + "/_dash-layout").status_code == 401
    assert httpx.post(base + "/_dash-update-component", json={}).status_code == 401
    assert httpx.get(base + "/docs").status_code == 401
    assert httpx.get(base + "/api/kpis", headers={"Authorization": "Bearer cs_forged"}).status_code == 401


def test_login_rate_limit(server: tuple[str, Path, str]) -> None:
    base, _, _ = server
    codes = [
        httpx.post(base + "/api/auth/login", json={"username": "boss", "password": f"wrong-{i}"}).status_code
        for i in range(5)
    ]
    assert codes == [401] * 5
    blocked = httpx.post(base + "/api/auth/login", json={"username": "boss", "password": "boss-pass-1"})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert httpx.post(base + "/api/auth/login", json={"username": "vic", "password": "vic-pass-12"}).status_code == 200


def test_cli_while_serving_names_the_server(server: tuple[str, Path, str]) -> None:
    _base, folder, _ = server
    r = run("users", "list", "-p", str(folder))
    assert r.returncode == 2
    assert "channelscope serve" in r.stderr and "Traceback" not in r.stderr
    # a command that must write (DESIGN rule 8) names the server that owns the warehouse and where to reach it
    r = run("ingest", "-p", str(folder))
    text = " ".join(r.stderr.split())  # Rich wraps long lines
    assert r.returncode == 2 and "'channelscope serve' (PID" in text and _base.rstrip("/") in text, r.stderr


def test_access_log_records_denials(server: tuple[str, Path, str]) -> None:
    base, _, token = server
    admin = {"Authorization": f"Bearer {token}"}
    assert httpx.get(base + "/api/users", headers={"Authorization": "Bearer cs_nope"}).status_code == 401
    with httpx.Client() as c:
        _login_form(c, base, "vic", "vic-pass-12")
        assert c.get(base + "/api/users").status_code == 403  # a viewer is not an admin
    assert httpx.get(base + "/api/access_log", headers={"Authorization": "Bearer cs_nope"}).status_code == 401
    log = httpx.get(base + "/api/access_log", params={"limit": 100}, headers=admin).json()["rows"]
    assert any(e["decision"] == "unauthenticated" and e["reason"] == "invalid API token" for e in log)
    assert any(e["decision"] == "denied" and e["username"] == "vic" and e["path"] == "/api/users" for e in log)
    assert any(e["decision"] == "login" and e["username"] == "vic" for e in log)


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> tuple:
    """The real command line (``channelscope.cli.app.main``) in this process: (exit code, stdout, stderr)."""
    from channelscope.cli.app import main

    monkeypatch.setattr(sys, "argv", ["channelscope", *args])
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_users_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(write_project(tmp_path / "shop", CONFIG))
    code, out, err = cli(
        monkeypatch,
        capsys,
        "users",
        "add",
        "li",
        "--role",
        "channel_manager",
        "-c",
        "tmall",
        "--password-stdin",
        "--json",
        "-p",
        folder,
        stdin="li-pass-123\n",
    )
    assert code == 0, err
    assert json.loads(out) == {
        "username": "li",
        "role": "channel_manager",
        "channels": ["tmall"],
        "distributors": [],
        "lang": "zh-CN",
    }
    code, _, err = cli(
        monkeypatch,
        capsys,
        "users",
        "add",
        "x",
        "--role",
        "god",
        "--password-stdin",
        "-p",
        folder,
        stdin="longenough\n",
    )
    assert code == 2 and "unknown role 'god'" in err and "Traceback" not in err
    code, token, err = cli(monkeypatch, capsys, "users", "token", "li", "-p", folder)
    assert code == 0 and token.strip().startswith("cs_") and "shown once" in err
    code, listed, _ = cli(monkeypatch, capsys, "users", "list", "--json", "-p", folder)
    assert [u["username"] for u in json.loads(listed)] == ["li"]
    assert "argon2" not in listed and token.strip() not in listed
    assert cli(monkeypatch, capsys, "users", "disable", "li", "-p", folder)[0] == 0
    assert json.loads(cli(monkeypatch, capsys, "users", "list", "--json", "-p", folder)[1])[0]["disabled"] is True
    assert cli(monkeypatch, capsys, "users", "disable", "ghost", "-p", folder)[0] == 2
    code, out, _ = cli(monkeypatch, capsys, "users", "list", "-p", folder)
    assert code == 0 and "channel_manager" in out


def test_serve_binds_loopback_by_default() -> None:
    import inspect

    from channelscope.cli.serve import serve

    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
