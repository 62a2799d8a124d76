"""The scheduler: cron ticks in the schedule's time zone, no overlap, one catch-up run, every run in ``runs``."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from tests.conftest import write_project
from typer.testing import CliRunner

from channelscope import Project
from channelscope.errors import ConfigError
from channelscope.monitor.schedule import Job, Scheduler, due_ticks, jobs_from_config

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 18, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai

CONFIG = """
channels:
  - {id: miniprogram, name: 小程序, kind: own_store, platform: wechat_miniprogram}
sources:
  - {name: orders, path: orders.csv, preset: canonical_orders}
  - {name: more_orders, path: more.csv, preset: canonical_orders}
  - {name: live, kind: events, preset: canonical_orders}
schedule:
  sources: {orders: "0 * * * *", "*": "30 2 * * *"}
  alerts: {daily: "0 9 * * *"}
alerts: {language: en}
"""

ORDERS = (
    "source_order_id,channel_id,customer_key,ordered_at,paid_at,status,currency,net_amount\n"
    "MP1,miniprogram,13800000001,2025-03-17 10:00:00,2025-03-17 10:01:00,paid,CNY,100.00\n"
    "MP2,miniprogram,13800000002,2025-03-17 11:00:00,2025-03-17 11:01:00,paid,CNY,50.50\n"
)


def _project(folder: Path, url: str = "duckdb:///warehouse.duckdb") -> Path:
    write_project(folder, CONFIG, url)
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (folder / "more.csv").write_text(ORDERS.replace("MP", "MQ"), encoding="utf-8")
    return folder


def _runs(project: Project, job: str) -> list[tuple]:
    return project.warehouse.execute(
        "SELECT scheduled_for, status, message FROM runs WHERE job = ? ORDER BY scheduled_for, started_at", [job]
    )


def test_due_ticks_in_the_schedule_time_zone() -> None:
    sh = ZoneInfo("Asia/Shanghai")
    assert due_ticks("0 * * * *", T0, T0 + dt.timedelta(hours=4, minutes=30), sh) == (T0 + dt.timedelta(hours=4), 4)
    assert due_ticks("0 * * * *", T0, T0 + dt.timedelta(minutes=59), sh) == (None, 0)
    # 09:00 Shanghai is 01:00 UTC: due exactly at the tick, not a second before
    last = T0 - dt.timedelta(days=1)
    assert due_ticks("0 9 * * *", last, T0 - dt.timedelta(seconds=1), sh) == (None, 0)
    assert due_ticks("0 9 * * *", last, T0, sh) == (T0, 1)
    # across a DST change: 09:00 in Berlin is 08:00 UTC in winter, 07:00 UTC from 30 March 2025
    berlin = ZoneInfo("Europe/Berlin")
    last = dt.datetime(2025, 3, 29, 8, 0, tzinfo=UTC)
    assert due_ticks("0 9 * * *", last, dt.datetime(2025, 3, 31, 12, 0, tzinfo=UTC), berlin) == (
        dt.datetime(2025, 3, 31, 7, 0, tzinfo=UTC),
        2,
    )


def test_jobs_from_config(tmp_path: Path) -> None:
    with Project(_project(tmp_path / "p")) as project:
        jobs = {j.name: j for j in jobs_from_config(project)}
    # events sources are fed by the server, never polled; '*' means the sources not named
    assert set(jobs) == {"ingest:orders", "ingest:*", "alerts:daily"}
    assert jobs["ingest:orders"].cron == "0 * * * *"


def test_schedule_config_errors_name_the_key(tmp_path: Path) -> None:
    folder = _project(tmp_path / "bad")
    text = (folder / "channelscope.yaml").read_text()
    (folder / "channelscope.yaml").write_text(text.replace('"0 9 * * *"', '"every morning"'))
    with pytest.raises(ConfigError, match=r"schedule.alerts.*cron"):
        Project(folder)
    (folder / "channelscope.yaml").write_text(text.replace("orders: ", "nosuch: "))
    with pytest.raises(ConfigError, match="unknown source 'nosuch'"):
        Project(folder)


def test_runs_are_logged_and_downtime_is_caught_up_once(tmp_path: Path, warehouse_url: str) -> None:
    folder = _project(tmp_path / "p", warehouse_url)
    with Project(folder) as project:
        sched = Scheduler(project, now=T0)
        assert sched.run_pending(T0 + dt.timedelta(minutes=30)) == []  # a first start has nothing to catch up
        runs = sched.run_pending(T0 + dt.timedelta(hours=1, seconds=5))
        assert [(r.job, r.status) for r in runs] == [("ingest:orders", "ok")]
        assert runs[0].message.startswith("1 batches loaded (2 rows, 0 quarantined, 0 duplicates)")
        gmv = project.kpis(["gmv"]).iloc[0]["gmv"]
        assert float(gmv) == 150.50
    # the process stops for five hours; a new one reads its state from the runs table
    later = T0 + dt.timedelta(hours=6, minutes=10)
    with Project(folder) as project:
        sched = Scheduler(project, now=later)
        runs = sched.run_pending(later)
        assert [(r.job, r.status) for r in runs] == [("ingest:orders", "ok")]
        assert runs[0].message.startswith("catch-up run for 5 missed tick(s); 0 batches loaded")
        assert sched.run_pending(later + dt.timedelta(seconds=30)) == []
        rows = _runs(project, "ingest:orders")
        assert [(r[0], r[1]) for r in rows] == [
            (dt.datetime(2025, 3, 18, 2, 0), "ok"),
            (dt.datetime(2025, 3, 18, 7, 0), "ok"),
        ]
        # catch_up: false records the missed ticks as one skipped row instead of running
        sched.catch_up = False
        runs = sched.run_pending(later + dt.timedelta(hours=3))
        assert [(r.status, r.message) for r in runs] == [
            ("skipped", "3 tick(s) missed while the scheduler was stopped (catch_up: false)")
        ]
        assert len(_runs(project, "ingest:orders")) == 3


def _slow_job(release: threading.Event, ran: list[str]) -> Job:
    def action() -> str:
        ran.append("start")
        release.wait(10)
        return "slow work done"

    return Job("slow", "*/5 * * * *", action)


def test_runs_never_overlap(tmp_path: Path) -> None:
    with Project(_project(tmp_path / "p")) as project:
        release, ran = threading.Event(), []
        sched = Scheduler(project, jobs=[_slow_job(release, ran)], now=T0)
        assert sched.run_pending(T0 + dt.timedelta(minutes=5), wait=False) == []
        for _ in range(100):
            if ran:
                break
            time.sleep(0.02)
        skipped = sched.run_pending(T0 + dt.timedelta(minutes=10))
        assert [(r.status, r.message) for r in skipped] == [
            ("skipped", "the previous run is still going (runs never overlap)")
        ]
        release.set()
        sched.wait_idle()
        assert ran == ["start"]
        assert [(r[1], r[2]) for r in _runs(project, "slow")] == [
            ("ok", "slow work done"),
            ("skipped", "the previous run is still going (runs never overlap)"),
        ]


def test_a_run_of_another_live_process_is_not_overlapped(tmp_path: Path) -> None:
    with Project(_project(tmp_path / "p")) as project:
        sched = Scheduler(project, jobs=[Job("x", "0 * * * *", lambda: "done")], now=T0)
        started = dt.datetime(2025, 3, 18, 1, 59)
        project.warehouse.execute(
            "INSERT INTO runs VALUES ('other', 'x', ?, ?, NULL, 'running', '4242@elsewhere')", [started, started]
        )
        runs = sched.run_pending(T0 + dt.timedelta(hours=1))
        assert [(r.status, r.message) for r in runs] == [
            ("skipped", "a run is still going in another process (4242@elsewhere)")
        ]
        # a 'running' row left by a process of this host that died: abandoned, the job runs
        dead = subprocess.Popen(["true"])
        dead.wait()
        project.warehouse.execute(
            "UPDATE runs SET message = ? WHERE run_id = 'other'", [f"{dead.pid}@{socket.gethostname()}"]
        )
        runs = sched.run_pending(T0 + dt.timedelta(hours=2))
        assert [(r.status, r.message) for r in runs] == [("ok", "done")]
        assert project.warehouse.execute("SELECT status FROM runs WHERE run_id = 'other'") == [("abandoned",)]


def test_ingest_runs_before_alerts_in_one_tick_and_failures_are_logged(tmp_path: Path) -> None:
    with Project(_project(tmp_path / "p")) as project:
        order: list[str] = []

        def boom() -> str:
            order.append("alerts")
            raise RuntimeError("rule store unreachable")

        jobs = [
            Job("alerts:x", "0 * * * *", boom, order=1),
            Job("ingest:y", "0 * * * *", lambda: order.append("ingest") or "ok", order=0),
        ]
        sched = Scheduler(project, jobs=jobs, now=T0)
        runs = sched.run_pending(T0 + dt.timedelta(hours=1))
        assert order == ["ingest", "alerts"]
        assert [(r.job, r.status, r.message) for r in runs] == [
            ("ingest:y", "ok", "ok"),
            ("alerts:x", "failed", "RuntimeError: rule store unreachable"),
        ]


def test_background_scheduler_stops_cleanly(tmp_path: Path) -> None:
    with Project(_project(tmp_path / "p")) as project:
        seen: list[str] = []
        sched = Scheduler(
            project, jobs=[Job("tick", "* * * * *", lambda: "tick")], on_run=lambda r: seen.append(r.status)
        )
        sched._last["tick"] = dt.datetime.now(UTC) - dt.timedelta(minutes=1)  # one tick due right away
        handle = sched.start_background()
        for _ in range(100):
            if seen:
                break
            time.sleep(0.05)
        handle.stop(10)
        assert not handle.thread.is_alive()
        assert seen == ["ok"]


def test_run_once_cli(tmp_path: Path) -> None:
    from channelscope.cli.app import app

    folder = _project(tmp_path / "p")
    result = CliRunner().invoke(app, ["run", "--once", "-p", str(folder)])
    assert result.exit_code == 0, result.output
    lines = result.output.replace("\n ", " ").splitlines()
    assert [line.split()[2:4] for line in lines if "Z " in line] == [
        ["ingest:orders", "ok"],
        ["ingest:*", "ok"],
        ["alerts:daily", "ok"],
    ]
    with Project(folder) as project:
        assert float(project.kpis(["gmv"]).iloc[0]["gmv"]) == 301.00  # both order files, 2 x 150.50
        assert {r[1] for r in _runs(project, "ingest:*")} == {"ok"}
