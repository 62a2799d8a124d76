"""Micro-batches of live order events: durable on arrival, landed on the same clean path as files.

An accepted event is appended (and fsync'ed) to ``.channelscope/events/<source>/open-*.jsonl`` before
the HTTP answer, so a process that dies before loading loses nothing: the next start lands what is
there. Every ``max_batch`` events or ``max_wait_ms`` after a batch's first event, the file is closed,
renamed ``ready-*.jsonl`` and loaded by ``Project.ingest_source(src, files=[path])`` under the
project's write lock: one ledger row per micro-batch (rows_in = loaded + quarantined + duplicates),
merge keys make a repeated order a duplicate, and a file with the same bytes as a loaded one is
skipped. Loaded files are deleted; a batch the cleaning rejects as a whole moves to ``failed/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channelscope.warehouse import BatchResult

if TYPE_CHECKING:
    from channelscope.config import SourceConfig
    from channelscope.project import Project

log = logging.getLogger("channelscope.events")

#: how long a delivery id (Shopify's X-Shopify-Webhook-Id, a generic signature) is remembered;
#: Shopify retries a failed webhook for up to 48 hours
DELIVERY_MEMORY_S = 3 * 86400


def events_folder(project: Project) -> Path:
    return project.folder / ".channelscope" / "events"


class DeliveryLog:
    """Delivery ids already accepted, kept in a small append-only file so redeliveries after a
    restart are still recognised. Ids older than ``memory_s`` seconds are forgotten (at start, and in
    memory as new ones arrive); ``persist=False`` keeps them in memory only."""

    def __init__(self, path: Path | None, memory_s: float = DELIVERY_MEMORY_S) -> None:
        self.path = path
        self.memory_s = memory_s
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._fh: Any = None
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - self.memory_s
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                at, _, key = line.partition(" ")
                try:
                    if float(at) >= cutoff and key:
                        self._seen[key] = float(at)
                except ValueError:
                    continue  # a torn last line from a crash
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(f"{at:.0f} {k}\n" for k, at in self._seen.items()), encoding="utf-8")
        tmp.replace(path)
        self._fh = path.open("a", encoding="utf-8")

    def seen(self, key: str) -> bool:
        with self._lock:
            return key in self._seen

    def add(self, key: str) -> None:
        with self._lock:
            now = time.time()
            self._seen[key] = now
            if len(self._seen) % 10_000 == 0:  # forget old ids now and then (dicts keep insertion order)
                cutoff = now - self.memory_s
                for old in [k for k, at in self._seen.items() if at < cutoff]:
                    del self._seen[old]
            if self._fh is not None:
                self._fh.write(f"{now:.0f} {key}\n")
                self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


class MicroBatcher:
    """Collects one events source's rows into durable files and lands them in micro-batches."""

    def __init__(
        self,
        project: Project,
        source: SourceConfig,
        *,
        max_batch: int = 500,
        max_wait_ms: int = 1000,
        on_landed: Callable[[BatchResult, int], None] | None = None,
    ) -> None:
        self.project = project
        self.source = source
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.on_landed = on_landed
        self.folder = events_folder(project) / source.name
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "failed").mkdir(exist_ok=True)
        self._cond = threading.Condition()
        self._landing = threading.Lock()  # the background thread and flush() never land the same file twice
        # group commit: one fsync covers every append written before it (lock order: _sync, then _cond)
        self._sync = threading.Lock()
        self._written = 0
        self._synced = 0
        # appends of the event loop waiting for the next group commit (append_async)
        self._queued_lock = threading.Lock()
        self._queued: list[tuple[bytes, int, asyncio.Future[None], asyncio.AbstractEventLoop]] = []
        self._committing = False
        self._fh: Any = None
        self._path: Path | None = None
        self._events = 0
        self._first = 0.0
        self._stop = False
        self._thread: threading.Thread | None = None
        self.landed: list[BatchResult] = []

    # ---- producer side -------------------------------------------------------------------------

    def append(self, rows: list[dict[str, Any]], events: int = 1) -> None:
        """Write rows durably to the open micro-batch (on disk when this returns); ``events`` counts
        toward max_batch. Concurrent appends share one fsync (group commit). Blocking: for threads;
        an event loop awaits ``append_async``."""
        self._sync_upto(self._write(_lines(rows), events))

    async def append_async(self, rows: list[dict[str, Any]], events: int = 1) -> None:
        """``append`` for the event loop: the rows are on disk when this returns, and the loop never
        touches the disk. The appends queued while a commit runs are written and fsync'ed together by
        the next one, in a worker thread: one thread hand-off and one fsync per group of requests,
        not per request (a hand-off waits for the GIL, up to the interpreter's 5 ms switch interval
        when another thread holds it; 4 single-order senders make groups of ~2.3)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._queued_lock:
            self._queued.append((_lines(rows), events, done, loop))
            start, self._committing = not self._committing, True
        if start:
            try:
                loop.run_in_executor(None, self._commit_queued)
            except RuntimeError:  # the loop's executor is shut down (the server is stopping): a thread of its own
                threading.Thread(target=self._commit_queued, name=f"commit-{self.source.name}", daemon=True).start()
        await done

    def _commit_queued(self) -> None:
        """Worker thread: write and fsync what the loop queued, group after group, then wake the waiters."""
        while True:
            with self._queued_lock:
                group, self._queued = self._queued, []
                if not group:
                    self._committing = False
                    return
            error: BaseException | None = None
            try:
                mine = 0
                for data, events, _, _ in group:
                    mine = self._write(data, events)
                self._sync_upto(mine)
            except BaseException as exc:  # a full disk: every waiter of the group gets the error (a 500)
                error = exc
            for _, _, done, loop in group:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
                    loop.call_soon_threadsafe(_settle, done, error)

    def _write(self, data: bytes, events: int) -> int:
        """Append to the open file (opened on demand), not yet durable; returns the write's number."""
        with self._cond:
            if self._fh is None:
                self._path = self.folder / f"open-{_stamp()}.jsonl"
                self._fh = self._path.open("ab")
                self._first = time.monotonic()
            self._fh.write(data)
            self._fh.flush()
            self._written += 1
            self._events += events
            if self._events >= self.max_batch or self._events == events:
                self._cond.notify_all()  # a full batch, or a new one (the lander starts its clock)
            return self._written

    def _sync_upto(self, mine: int) -> None:
        """Return once write number ``mine`` is on disk; one fsync covers every write before it."""
        with self._sync:
            if self._synced >= mine:
                return  # another append's fsync covered this one (or the batch was closed: closed = synced)
            with self._cond:
                upto, fh = self._written, self._fh
            if fh is not None:
                os.fsync(fh.fileno())
            self._synced = max(self._synced, upto)

    # ---- lander side ---------------------------------------------------------------------------

    def start(self) -> None:
        """Land what a previous process left behind, then keep landing in a background thread."""
        self.recover()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"events-{self.source.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and land the open batch (nothing accepted is left unloaded if loading works)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def flush(self) -> list[BatchResult]:
        """Close the open batch and land every ready file now."""
        self._rotate()
        return self._land_ready()

    def recover(self) -> list[BatchResult]:
        """Files of a process that stopped before loading them: repaired (a torn last line is cut) and landed."""
        for path in sorted(self.folder.glob("open-*.jsonl")):
            if path == self._path:
                continue
            _cut_torn_tail(path)
            path.rename(path.with_name("ready-" + path.name[len("open-") :]))
        return self._land_ready()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and not self._due():
                    wait = None if self._events == 0 else max(0.0, self._first + self.max_wait - time.monotonic())
                    self._cond.wait(wait)
                if self._stop:
                    return
            try:
                self.flush()
            except Exception:  # the warehouse is down, a disk is full: keep the files, retry later
                log.exception("events: landing a micro-batch of %s failed; retrying", self.source.name)
                time.sleep(min(5.0, self.max_wait * 4))

    def _due(self) -> bool:
        if self._events == 0:
            return False
        return self._events >= self.max_batch or time.monotonic() - self._first >= self.max_wait

    def _rotate(self) -> None:
        with self._sync:
            with self._cond:  # held only to swap files: appends go on into the next file at once
                if self._fh is None or self._path is None:
                    return
                fh, path, upto = self._fh, self._path, self._written
                self._fh, self._path, self._events = None, None, 0
            os.fsync(fh.fileno())
            fh.close()
            path.rename(path.with_name("ready-" + path.name[len("open-") :]))
            self._synced = max(self._synced, upto)

    def _land_ready(self) -> list[BatchResult]:
        out = []
        with self._landing:
            for path in sorted(self.folder.glob("ready-*.jsonl")):
                with path.open("rb") as fh:
                    rows = sum(1 for _ in fh)
                for res in self.project.ingest_source(self.source, files=[path]):
                    if res.status == "failed":
                        path.replace(self.folder / "failed" / path.name)
                        log.error("events: batch %s of %s failed: %s", path.name, self.source.name, res.message)
                    else:
                        path.unlink(missing_ok=True)
                    if self.on_landed is not None:
                        self.on_landed(res, rows)
                    out.append(res)
            self.landed.extend(out)
        return out


def _lines(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return  # the request was cancelled (client gone); its events are on disk all the same
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _stamp() -> str:
    # sortable: batches land in arrival order
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"


def _cut_torn_tail(path: Path) -> None:
    """A write cut by a crash leaves a last line without its newline: drop it (never acknowledged)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
