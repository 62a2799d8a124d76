"""Shared fixtures: project folders, and the backend matrix (DuckDB file, real PostgreSQL)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
KEY = "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"
PG_ADMIN_URL = os.environ.get("CHANNELSCOPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_alive(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_own_server(tmp: Path) -> tuple[str, subprocess.Popen | None, Path]:
    """Start a throwaway PostgreSQL (initdb + postgres) on a free loopback port."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not bins[-1]:
        raise RuntimeError("PostgreSQL is not installed (no initdb found)")
    bindir = Path(bins[-1]).parent
    data = tmp / "pgdata"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root
        run_as = ["runuser", "-u", "postgres", "--"]
        tmp.chmod(0o777)
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            *run_as,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(tmp),
            "-c",
            "listen_addresses=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    for _ in range(100):
        if _pg_alive(url):
            return url, proc, data
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the test PostgreSQL server did not start")


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: the one on 127.0.0.1:5432, or one the tests start themselves."""
    if _pg_alive(PG_ADMIN_URL):
        yield PG_ADMIN_URL
        return
    try:
        url, proc, _ = _start_own_server(tmp_path_factory.mktemp("pg"))
    except (RuntimeError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and could not be started: {exc}")
        pytest.skip(f"no PostgreSQL server and none could be started here: {exc}")
    yield url
    if proc:
        proc.terminate()
        proc.wait(10)


BACKENDS = ("duckdb", "postgres")
DUCKDB_URL = "duckdb:///warehouse.duckdb"


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (optionally cloned from ``template``), dropped on exit."""
    with _database(admin_url, None) as url:
        yield url


@contextmanager
def _database(admin_url: str, template: str | None) -> Iterator[str]:
    name = f"cs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with scratch_database(pg_admin_url) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def warehouse_url(request: pytest.FixtureRequest) -> str:
    """The warehouse URL of the backend under test (the suite runs once per backend)."""
    if request.param == "duckdb":
        return DUCKDB_URL
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend matrix for a module's shared fixtures (one project per engine and module): pass it with
    ``request`` to ``backend_url`` or ``demo_project``."""
    return str(request.param)


@contextmanager
def backend_url(request: pytest.FixtureRequest, backend: str) -> Iterator[str]:
    """The warehouse URL for ``backend``: the project's DuckDB file, or a scratch PostgreSQL database dropped on
    exit (the suite's server, or one the tests start where none runs)."""
    if backend == "duckdb":
        yield DUCKDB_URL
        return
    with scratch_database(request.getfixturevalue("pg_admin_url")) as url:
        yield url


@contextmanager
def demo_project(request: pytest.FixtureRequest, backend: str, dest: Path) -> Iterator[Path]:
    """A writable copy of the ingested demo (small, seed 7) on ``backend``: the files and DuckDB warehouse
    copied, or a database cloned from the run's PostgreSQL template (dropped on exit)."""
    if backend == "duckdb":
        yield copy_demo(request.getfixturevalue("demo_shop"), dest)
        return
    import yaml

    admin = request.getfixturevalue("pg_admin_url")
    template = request.getfixturevalue("demo_shop_pg")
    url = yaml.safe_load((template / "channelscope.yaml").read_text(encoding="utf-8"))["warehouse"]["url"]
    with _database(admin, url.rsplit("/", 1)[1]) as clone:
        shutil.copytree(template, dest)
        _point_at(dest, clone)
        yield dest


def write_project(folder: Path, body: str, warehouse_url: str = "duckdb:///warehouse.duckdb") -> Path:
    """A project folder with a config (``body`` holds channels and sources) and a key file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secrets").mkdir(exist_ok=True)
    (folder / "secrets" / "pseudonym.key").write_text(KEY + "\n")
    (folder / "channelscope.yaml").write_text(
        "project: {name: test, base_currency: CNY, timezone: Asia/Shanghai}\n"
        f"warehouse: {{url: '{warehouse_url}'}}\n" + body,
        encoding="utf-8",
    )
    return folder


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: the public data sets live in ../shared/data beside the repository")
    return path


def _build_demo_shop(root: Path) -> Path:
    """The small demo (seed 7), generated and ingested into DuckDB once per test run."""
    import fcntl

    from channelscope import Project
    from channelscope.demo import generate_demo

    done = root / "demo-shop.ready"
    folder = root / "demo-shop"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "demo-shop.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers share the base temp; one builds, the others wait
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            generate_demo(folder, "small", seed=7)
            (folder / "secrets").mkdir(exist_ok=True)
            (folder / "secrets" / "pseudonym.key").write_text(KEY + "\n")
            with Project(folder) as p:
                p.ingest()
            done.write_text("ok")
    return folder


@pytest.fixture(scope="session")
def demo_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only ingested demo project (small, seed 7). Copy it with ``copy_demo`` before writing to it.
    Under xdist the workers share one (built under a lock); without xdist (``-p no:xdist``) the run has its own."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return _build_demo_shop(root / "shared-demo")


def copy_demo(demo_shop: Path, dest: Path) -> Path:
    """A private, writable copy of the ingested demo project (files and DuckDB warehouse)."""
    shutil.copytree(demo_shop, dest)
    return dest


@pytest.fixture(scope="session")
def demo_shop_pg(demo_shop: Path, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The small demo ingested into a PostgreSQL database once per run: a template that ``demo_project``
    clones (``CREATE DATABASE ... TEMPLATE``) for each test that needs it."""
    from channelscope import Project

    folder = tmp_path_factory.mktemp("demo-pg") / "shop"
    shutil.copytree(demo_shop, folder, ignore=shutil.ignore_patterns("warehouse.duckdb*", "reports"))
    with scratch_database(pg_admin_url) as url:
        _point_at(folder, url)
        with Project(folder) as p:
            p.ingest()
        yield folder


def _point_at(folder: Path, url: str) -> None:
    import re

    cfg = folder / "channelscope.yaml"
    text = cfg.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(\s*url:\s*).*$", lambda m: f"{m.group(1)}'{url}'", text, count=1)
    cfg.write_text(text, encoding="utf-8")


@pytest.fixture(params=BACKENDS)
def demo_on(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """The ingested demo on each backend, writable: a copy on DuckDB, a database cloned from the template on
    PostgreSQL (dropped after the test)."""
    with demo_project(request, str(request.param), tmp_path / "shop") as folder:
        yield folder
