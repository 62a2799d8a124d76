"""The scheduler: ingest sources, refresh marts and check alerts on cron schedules, logged in ``runs``.

Jobs come from the ``schedule:`` section: ``ingest:<source>`` per named source, ``ingest:*`` for every
other polled source (events sources are fed by the server, never polled), ``alerts:<group>`` per alert
group, ``alerts:deliver`` (the outbox's retries, every minute, when alerts are configured),
``forecast:<metric>/<hierarchy>`` per scheduled forecast (the previous run scored against the actuals since,
then a new run stored), ``report:<name>`` per scheduled report (issued into the archive and sent through
the notifiers) and ``reports:deliver`` (failed report deliveries sent again with backoff, every minute,
when reports are scheduled).

Rules:
- **No overlap**: a job still running when its next tick comes is not started again; the tick is
  recorded as ``skipped``. A ``running`` row of another live process (PostgreSQL warehouses can be
  shared) also skips it.
- **Catch up once**: after downtime a job runs once for all the ticks it missed (the message says how
  many), or, with ``catch_up: false``, the missed ticks are recorded as one ``skipped`` row.
- **Every run is logged** in the warehouse table ``runs`` (run_id, job, scheduled_for, started_at,
  finished_at, status ok|failed|skipped|running|abandoned, message; times in UTC), which is also the
  state: the last tick handled per job survives restarts.
- Within one tick, ingest jobs run before alert jobs, so alerts see the fresh data.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from croniter import croniter

if TYPE_CHECKING:
    from channelscope.project import Project

log = logging.getLogger("channelscope.schedule")

#: a tick this much older than now was missed (the scheduler was not running), in seconds
GRACE_S = 120
#: a 'running' row of another process older than this is considered dead, in hours
STALE_RUNNING_H = 12
#: at most this many missed ticks are counted one by one
MAX_COUNT = 100_000


class JobFailed(Exception):
    """A job ran and reports a failure (its message goes into ``runs``)."""


@dataclass
class Job:
    """A named action on a cron schedule. ``action`` returns a one-line message (raise JobFailed on failure)."""

    name: str
    cron: str
    action: Callable[[], str]
    order: int = 1  # lower runs first within a tick (ingest 0, alerts 1, deliveries 2)
    quiet: bool = False  # an uneventful run (empty message) is not written to ``runs``


@dataclass
class Run:
    """One row of ``runs``."""

    run_id: str
    job: str
    scheduled_for: dt.datetime  # UTC, naive
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    message: str

    @property
    def seconds(self) -> float:
        return 0.0 if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


def _utc(moment: dt.datetime | None) -> dt.datetime:
    """An aware UTC datetime; naive input is taken as UTC."""
    if moment is None:
        return dt.datetime.now(dt.UTC)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _naive(moment: dt.datetime) -> dt.datetime:
    return _utc(moment).replace(tzinfo=None)


def due_ticks(cron: str, last: dt.datetime, now: dt.datetime, tz: ZoneInfo) -> tuple[dt.datetime | None, int]:
    """The latest tick of ``cron`` (in ``tz``) after ``last`` and at or before ``now``, and how many
    ticks fell in that interval. ``(None, 0)``: nothing is due."""
    it = croniter(cron, _utc(last).astimezone(tz))
    latest: dt.datetime | None = None
    count = 0
    end = _utc(now)
    while count < MAX_COUNT:
        tick = it.get_next(dt.datetime)
        if tick > end:
            break
        latest, count = tick, count + 1
    else:  # a very long downtime: the latest tick directly
        latest = croniter(cron, end.astimezone(tz) + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    return (None if latest is None else _utc(latest)), count


def _ingest_message(results: list[Any]) -> str:
    loaded = [r for r in results if r.status == "loaded"]
    failed = [r for r in results if r.status == "failed"]
    text = (
        f"{len(loaded)} batches loaded ({sum(r.loaded for r in loaded)} rows, "
        f"{sum(r.quarantined for r in loaded)} quarantined, {sum(r.duplicates for r in loaded)} duplicates), "
        f"{sum(r.status == 'skipped' for r in results)} skipped"
    )
    if failed:
        raise JobFailed(f"{text}, {len(failed)} failed: {failed[0].file}: {failed[0].message}"[:500])
    return text


def _dispatch() -> Any:
    """``monitor.dispatch`` if the alert lifecycle is installed (it is imported lazily: the scheduler
    also runs ingest-only projects)."""
    try:
        from channelscope.monitor import dispatch
    except ImportError:
        return None
    return dispatch


def jobs_from_config(project: Project) -> list[Job]:
    """The jobs the ``schedule:`` section asks for."""
    cfg = project.config.schedule
    if cfg is None:
        return []
    jobs: list[Job] = []
    named = {n for n in cfg.sources if n != "*"}
    for name, cron in cfg.sources.items():
        if name == "*":
            others = [s.name for s in project.config.sources if s.name not in named and s.kind != "events"]
            if others:
                jobs.append(Job("ingest:*", cron, functools.partial(_ingest, project, others), order=0))
        elif project.source(name).kind != "events":
            jobs.append(Job(f"ingest:{name}", cron, functools.partial(_ingest, project, [name]), order=0))
    for group, cron in cfg.alerts.items():
        jobs.append(Job(f"alerts:{group}", cron, functools.partial(_check_alerts, project, group), order=1))
    if cfg.alerts and project.config.alerts is not None and project.config.alerts.notifiers:
        jobs.append(Job("alerts:deliver", "* * * * *", lambda: _deliver(project), order=2, quiet=True))
    for fc in cfg.forecasts:
        name = f"forecast:{fc.metric}/{fc.hierarchy}"
        jobs.append(Job(name, fc.cron, functools.partial(_refresh_forecast, project, fc), order=2))
    for spec in cfg.reports:
        name = f"report:{spec.report}" + (f"@{'+'.join(spec.channels)}" if spec.channels else "")
        jobs.append(Job(name, spec.cron, functools.partial(_send_report, project, spec), order=3))
    if cfg.reports:
        jobs.append(Job("reports:deliver", "* * * * *", lambda: _retry_reports(project), order=4, quiet=True))
    return jobs


def _refresh_forecast(project: Project, spec: Any) -> str:
    """Score the last stored run of this kind against the actuals since (daily channel runs), then forecast
    again and store the new run (plan/forecasts.py)."""
    from channelscope.plan.forecasts import runs, save_run, track_accuracy

    scored = ""
    stored = runs(project)
    same = (
        stored[(stored["metric"] == spec.metric) & (stored["hierarchy"] == spec.hierarchy)] if len(stored) else stored
    )
    if len(same) and spec.hierarchy == "channel":
        acc = track_accuracy(project, str(same.iloc[0]["run_id"]))
        total = acc[acc["level"] == "total"] if len(acc) else acc
        if len(total):
            r = total.iloc[0]
            scored = f"; previous run {same.iloc[0]['run_id']}: total MAE {r['mae']:.2f} over {int(r['n'])} days"
    run = project.analysis.forecast(spec.metric, hierarchy=spec.hierarchy, horizon=spec.horizon)
    save_run(project, run)
    sel = run.accuracy[(run.accuracy["model"] == "selected") & (run.accuracy["level"] == "total")]
    mase = f", backtest MASE {float(sel['mase'].iloc[0]):.3f}" if len(sel) else ""
    return f"run {run.run_id}: {spec.metric} by {spec.hierarchy}, {spec.horizon} days to {run.forecast['period'].max():%Y-%m-%d}{mase}{scored}"


def _send_report(project: Project, spec: Any) -> str:
    """Issue a scheduled report into the archive and send it (report/delivery.py)."""
    from channelscope.report.delivery import deliver_report

    sent = deliver_report(project, spec)
    r = sent.issued.report
    text = (
        f"{r.name} {r.period_label()}: {len(r.findings)} findings, archive id {sent.issued.archive_id}; "
        f"sent to {len(sent.results) - len(sent.failed)} of {len(sent.results)} notifiers"
    )
    if sent.failed:
        raise JobFailed(f"{text}; {'; '.join(f'{k}: {v}' for k, v in sent.failed.items())}"[:500])
    return text


def _retry_reports(project: Project) -> str:
    """Send again the report deliveries that failed and are due (report/delivery.py's outbox)."""
    from channelscope.report.delivery import retry_report_deliveries

    n = retry_report_deliveries(project)
    if not any(n.values()):
        return ""
    text = f"report deliveries: delivered {n['delivered']}, retrying {n['retrying']}, failed {n['failed']}"
    if n["failed"]:
        raise JobFailed(text)
    return text


def _ingest(project: Project, sources: list[str]) -> str:
    """Load the sources (dimensions first), then refresh the marts (``Project.ingest`` does both)."""
    return _ingest_message(project.ingest(sources))


def _check_alerts(project: Project, group: str) -> str:
    dispatch = _dispatch()
    if dispatch is None:
        raise JobFailed("alert checks are not available in this installation (channelscope.monitor.dispatch)")
    report = dispatch.check_and_notify(project, group=group)
    d = report.delivery
    text = (
        f"{len(report.checked)} rules, {len(report.findings)} findings; opened {len(report.opened)}, "
        f"resolved {len(report.resolved)}; delivered {d.delivered}, retrying {d.retrying}, failed {d.failed}"
    )
    if report.errors:
        raise JobFailed(f"{text}; rule errors: {'; '.join(report.errors)}"[:500])
    return text


def _deliver(project: Project) -> str:
    dispatch = _dispatch()
    if dispatch is None:
        return ""
    d = dispatch.deliver_due(project)
    if not (d.delivered or d.retrying or d.failed):
        return ""
    text = f"delivered {d.delivered}, retrying {d.retrying}, failed {d.failed}"
    if d.errors:
        raise JobFailed(f"{text}: {'; '.join(d.errors)}"[:500])
    return text


class RunLog:
    """The ``runs`` table on the project's warehouse (DuckDB or PostgreSQL), written under the write lock."""

    def __init__(self, project: Project) -> None:
        self.project = project
        with project.write_lock:
            project.warehouse.ensure_tables("runs")

    def _exec(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with self.project.write_lock:
            return self.project.warehouse.execute(sql, params)

    def last_ticks(self) -> dict[str, dt.datetime]:
        """The latest tick handled per job (ran, failed or skipped): the scheduler's state."""
        rows = self._exec("SELECT job, max(scheduled_for) FROM runs GROUP BY job")
        return {job: _utc(at) for job, at in rows if at is not None}

    def begin(self, run: Run) -> None:
        self._exec(
            "INSERT INTO runs (run_id, job, scheduled_for, started_at, finished_at, status, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run.run_id, run.job, run.scheduled_for, run.started_at, run.finished_at, run.status, run.message],
        )

    def finish(self, run: Run) -> None:
        self._exec(
            "UPDATE runs SET finished_at = ?, status = ?, message = ? WHERE run_id = ?",
            [run.finished_at, run.status, run.message, run.run_id],
        )

    def forget(self, run: Run) -> None:
        self._exec("DELETE FROM runs WHERE run_id = ?", [run.run_id])

    def running_elsewhere(self, job: str, me: str, now: dt.datetime) -> str | None:
        """The owner ('pid@host') of a live 'running' row of ``job`` in another process, if any.
        Rows of dead processes on this host, and rows older than ``STALE_RUNNING_H``, are marked abandoned."""
        rows = self._exec("SELECT run_id, started_at, message FROM runs WHERE job = ? AND status = 'running'", [job])
        host = socket.gethostname()
        for run_id, started, owner in rows:
            pid, _, where = str(owner or "").partition("@")
            if owner == me:
                continue
            dead = where == host and pid.isdigit() and not _alive(int(pid))
            if dead or _utc(started) < now - dt.timedelta(hours=STALE_RUNNING_H):
                self._exec(
                    "UPDATE runs SET status = 'abandoned', message = ? WHERE run_id = ?",
                    [f"the process {owner} stopped before the run finished", run_id],
                )
                continue
            return str(owner)
        return None

    def recent(self, limit: int = 50) -> list[Run]:
        rows = self._exec(
            "SELECT run_id, job, scheduled_for, started_at, finished_at, status, message FROM runs "
            f"ORDER BY started_at DESC LIMIT {int(limit)}"
        )
        return [Run(*r) for r in rows]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Scheduler:
    """Runs a project's jobs on their cron schedules. ``run_pending(now)`` does one tick;
    ``run_forever(stop)`` ticks every second until ``stop`` is set; ``start_background()`` does that in
    a thread and returns a handle whose ``stop()`` waits for the running jobs."""

    def __init__(
        self,
        project: Project,
        *,
        jobs: list[Job] | None = None,
        now: dt.datetime | None = None,
        on_run: Callable[[Run], None] | None = None,
    ) -> None:
        self.project = project
        cfg = project.config.schedule
        self.tz = ZoneInfo((cfg.timezone if cfg else None) or project.config.project.timezone)
        self.catch_up = cfg.catch_up if cfg else True
        self.jobs = sorted(jobs if jobs is not None else jobs_from_config(project), key=lambda j: j.order)
        self.on_run = on_run
        self.log = RunLog(project)
        self.me = f"{os.getpid()}@{socket.gethostname()}"
        started = _utc(now)
        known = self.log.last_ticks()
        # a job without history starts counting now: a first start never "catches up" from the past
        self._last = {j.name: known.get(j.name, started) for j in self.jobs}
        self._running: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # ---- one tick ------------------------------------------------------------------------------------

    def due(self, now: dt.datetime | None = None) -> list[tuple[Job, dt.datetime, int]]:
        """(job, tick, ticks since its last run) for every job with a tick at or before ``now``."""
        moment = _utc(now)
        out = []
        for job in self.jobs:
            tick, count = due_ticks(job.cron, self._last[job.name], moment, self.tz)
            if tick is not None:
                out.append((job, tick, count))
        return out

    def run_pending(self, now: dt.datetime | None = None, *, wait: bool = True, force: bool = False) -> list[Run]:
        """Start the due jobs (``force``: every job, now). With ``wait`` the runs finish before this
        returns; otherwise they run in a thread and the returned list holds only the skipped ticks."""
        moment = _utc(now)
        tick = moment.replace(second=0, microsecond=0)
        plan = [(job, tick, 1) for job in self.jobs] if force else self.due(moment)
        records: list[Run] = []
        todo: list[tuple[Job, Run]] = []
        with self._lock:
            for job, tick, count in plan:
                self._last[job.name] = max(self._last[job.name], tick)
                skip = self._skip_reason(job, tick, count, moment)
                run = Run(uuid.uuid4().hex, job.name, _naive(tick), _naive(moment), None, "running", self.me)
                if skip:
                    run.status, run.message, run.finished_at = "skipped", skip, run.started_at
                    self.log.begin(run)
                    self._announce(run)
                    records.append(run)
                    continue
                self._running.add(job.name)
                missed = count - 1 if count > 1 else 0
                if missed or moment - tick > dt.timedelta(seconds=GRACE_S):
                    run.message = f"catch-up run for {count} missed tick(s)"
                todo.append((job, run))
        if not todo:
            return records
        if wait:
            return records + self._execute(todo)
        thread = threading.Thread(target=self._execute, args=(todo,), name="scheduler-tick", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return records

    def _skip_reason(self, job: Job, tick: dt.datetime, count: int, now: dt.datetime) -> str | None:
        if job.name in self._running:
            return "the previous run is still going (runs never overlap)"
        other = self.log.running_elsewhere(job.name, self.me, now)
        if other:
            return f"a run is still going in another process ({other})"
        if not self.catch_up and now - tick > dt.timedelta(seconds=GRACE_S):
            return f"{count} tick(s) missed while the scheduler was stopped (catch_up: false)"
        return None

    def _execute(self, todo: list[tuple[Job, Run]]) -> list[Run]:
        done = []
        for job, run in todo:
            try:
                if self._run_one(job, run):
                    done.append(run)
            except Exception:  # the runs table cannot be written (warehouse gone): the next tick retries
                log.exception("scheduler: could not record run %s", job.name)
            finally:
                with self._lock:
                    self._running.discard(job.name)
        return done

    def _run_one(self, job: Job, run: Run) -> bool:
        catch_up = run.message if run.message.startswith("catch-up") else ""
        run.message = self.me  # while running, the owner: other processes see who holds the job
        run.started_at = _naive(dt.datetime.now(dt.UTC))
        if not job.quiet:
            self.log.begin(run)
        try:
            text = job.action()
            run.status = "ok"
        except JobFailed as exc:
            text, run.status = str(exc), "failed"
        except Exception as exc:  # a job's bug or an unreachable source must not stop the scheduler
            log.exception("scheduler: job %s failed", job.name)
            first = str(exc).splitlines()[0] if str(exc) else ""
            text, run.status = f"{type(exc).__name__}: {first}", "failed"
        run.finished_at = _naive(dt.datetime.now(dt.UTC))
        run.message = "; ".join(p for p in (catch_up, text) if p)[:1000]
        if job.quiet and not text and run.status == "ok":
            log.debug("scheduler: %s: nothing to do", job.name)
            return False
        if job.quiet:
            self.log.begin(run)
        else:
            self.log.finish(run)
        self._announce(run)
        return True

    def _announce(self, run: Run) -> None:
        level = logging.WARNING if run.status == "failed" else logging.INFO
        log.log(level, "run %s %s (%.1f s): %s", run.job, run.status, run.seconds, run.message)
        if self.on_run is not None:
            self.on_run(run)

    # ---- loops ---------------------------------------------------------------------------------------

    def wait_idle(self, timeout: float | None = None) -> None:
        """Wait for the runs started in the background."""
        for thread in list(self._threads):
            thread.join(timeout)

    def run_forever(self, stop: threading.Event, *, poll: float = 1.0) -> None:
        """Tick every ``poll`` seconds until ``stop`` is set; then wait for the running jobs."""
        while not stop.is_set():
            try:
                self.run_pending(wait=False)
            except Exception:  # the warehouse went away for a moment: log, keep ticking
                log.exception("scheduler: a tick failed")
            stop.wait(poll)
        self.wait_idle()

    def start_background(self) -> _Handle:
        """Run ``run_forever`` in a daemon thread; ``handle.stop()`` ends it cleanly."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run_forever, args=(stop,), name="scheduler", daemon=True)
        thread.start()
        return _Handle(stop, thread)


@dataclass
class _Handle:
    event: threading.Event
    thread: threading.Thread

    def stop(self, timeout: float | None = None) -> None:
        """Stop ticking and wait for the jobs that are running."""
        self.event.set()
        self.thread.join(timeout)
