"""Live events benchmark: signed order events over HTTP into DuckDB, and how soon a KPI query sees them.

    python bench/events.py [--senders 8] [--events 4000] [--per-request 1] [--max-batch 500]
                           [--max-wait-ms 250] [--demo PATH] [--json]

A child process owns the project (DESIGN rule 8: one writer per DuckDB file): uvicorn serving
``events_router`` on a free 127.0.0.1 port, the micro-batcher, and a poller that every ``--poll-ms``
runs a KPI query (``project.kpis(["orders", "gmv"])``) and, under the same lock, reads which orders
the warehouse now holds. The parent runs N concurrent senders (threads, one ``httpx.Client`` each)
posting canonical orders signed like any client (``sign_generic``), and notes each POST's start.

Figures:
- accepted/s: events / seconds from the first POST to the last 202 (the HTTP side alone);
- sustained/s: events / seconds from the first POST until the KPI query counts the last one
  (through the endpoint, the durable JSONL, the clean path and the DuckDB merge);
- latency p50/p95/max: per event, from its POST's start until the first KPI query that counts it;
- KPI query ms p50: the poller's query time (on ``--demo``, a copy of a loaded demo warehouse);
- ledger: rows_in = loaded + quarantined + duplicates over the run's batches, and loaded = events.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SECRET = "bench-events-secret"
ENV = "CHANNELSCOPE_BENCH_EVENTS_SECRET"
KEY = "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"
SOURCE = "bench_live"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_project(work: Path, demo: Path | None, max_batch: int, max_wait_ms: int) -> Path:
    """A fresh small project, or a copy of an ingested demo, with an events source and section."""
    import yaml

    folder = work / "project"
    if demo is not None:
        shutil.copytree(demo, folder)
        cfg = yaml.safe_load((folder / "channelscope.yaml").read_text(encoding="utf-8"))
    else:
        folder.mkdir(parents=True)
        (folder / "secrets").mkdir()
        (folder / "secrets" / "pseudonym.key").write_text(KEY + "\n")
        cfg = {
            "project": {"name": "events bench", "base_currency": "CNY", "timezone": "Asia/Shanghai"},
            "channels": [{"id": "miniprogram", "name": "小程序", "kind": "own_store", "platform": "wechat"}],
            "sources": [],
        }
    cfg["sources"].append({"name": SOURCE, "kind": "events", "preset": "canonical_orders"})
    cfg["events"] = {"source": SOURCE, "secret_env": ENV, "max_batch": max_batch, "max_wait_ms": max_wait_ms}
    (folder / "channelscope.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False))
    return folder


def serve_child(folder: str, port: int, poll_ms: int, out: str, ready: Any, stop: Any, count: Any) -> None:
    """The writer process: server, micro-batches, and the KPI poller that notes when orders show."""
    import logging
    import os

    import uvicorn
    from fastapi import FastAPI

    from channelscope import Project
    from channelscope.monitor.events import events_router

    logging.basicConfig(level=logging.WARNING)
    os.environ[ENV] = SECRET
    project = Project(folder)
    app = FastAPI()
    app.include_router(events_router(project))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    with project.write_lock:
        first = project.kpis(["orders"])
    base = int(first.iloc[0]["orders"]) if len(first) else 0
    ready.set()
    seen_batches: set[str] = set()
    visible: dict[str, float] = {}
    query_ms: list[float] = []
    mismatches = 0
    while not stop.is_set():
        time.sleep(poll_ms / 1000)
        with project.write_lock:
            # a cheap look at the ledger first; the KPI query (Ibis compile + DuckDB, ~0.1-0.3 s of CPU)
            # only when a batch landed, so the poller does not starve the server it measures
            landed = project.warehouse.execute("SELECT count(*) FROM batches WHERE source = ?", [SOURCE])[0][0]
            if landed == len(seen_batches):
                continue
            t = time.perf_counter()
            kpi = project.kpis(["orders", "gmv"])
            query_ms.append((time.perf_counter() - t) * 1000)
            seen_at = time.time()
            batches = [
                b
                for (b,) in project.warehouse.execute("SELECT batch_id FROM batches WHERE source = ?", [SOURCE])
                if b not in seen_batches
            ]
            ids = []
            for b in batches:
                ids += [
                    r[0]
                    for r in project.warehouse.execute("SELECT source_order_id FROM orders WHERE batch_id = ?", [b])
                ]
        seen_batches.update(batches)
        for i in ids:
            visible.setdefault(i, seen_at)
        count.value = len(visible)
        orders = int(kpi.iloc[0]["orders"]) if len(kpi) else 0
        mismatches += orders - base != len(visible)  # the KPI must count exactly what landed
    server.should_exit = True
    thread.join(30)
    ledger = project.warehouse.execute(
        "SELECT count(*), sum(rows_in), sum(loaded), sum(quarantined), sum(duplicates) FROM batches WHERE source = ?",
        [SOURCE],
    )[0]
    project.close()
    Path(out).write_text(
        json.dumps({"visible": visible, "query_ms": query_ms, "mismatches": mismatches, "ledger": ledger}, default=int)
    )


def send_all(port: int, senders: int, events: int, per_request: int) -> tuple[dict[str, float], float, int]:
    """N threads posting signed orders; returns each order's POST start, the last 202's time, failures."""
    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from channelscope.monitor.events import sign_generic

    posted: dict[str, float] = {}
    failures = 0
    lock = threading.Lock()
    last_ok = [0.0]

    def sender(k: int) -> None:
        nonlocal failures
        mine = range(k, events, senders)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            chunk: list[int] = []
            for n in mine:
                chunk.append(n)
                if len(chunk) < per_request and n != mine[-1]:
                    continue
                orders = [_order(i) for i in chunk]
                body = json.dumps(orders if per_request > 1 else orders[0]).encode()
                start = time.time()
                resp = client.post("/events/orders", content=body, headers=sign_generic(SECRET, body))
                with lock:
                    if resp.status_code == 202:
                        for o in orders:
                            posted[o["source_order_id"]] = start
                        last_ok[0] = max(last_ok[0], time.time())
                    else:
                        failures += 1
                chunk = []

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return posted, last_ok[0], failures


def _order(i: int) -> dict[str, Any]:
    cents = 1000 + (i * 7919) % 90000
    return {
        "source_order_id": f"BENCH{i:08d}",
        "channel_id": "miniprogram",
        "customer_key": f"139{i % 50000:08d}",
        "ordered_at": f"2025-03-18 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
        "paid_at": f"2025-03-18 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
        "status": "paid",
        "currency": "CNY",
        "net_amount": f"{cents // 100}.{cents % 100:02d}",
    }


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else float("nan")


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="channelscope-events-bench-"))
    try:
        folder = make_project(work, args.demo, args.max_batch, args.max_wait_ms)
        port = _free_port()
        ctx = mp.get_context("spawn")
        ready, stop, count = ctx.Event(), ctx.Event(), ctx.Value("q", 0)
        out = work / "child.json"
        child = ctx.Process(target=serve_child, args=(str(folder), port, args.poll_ms, str(out), ready, stop, count))
        child.start()
        if not ready.wait(300):
            raise SystemExit("the server did not start")
        posted, last_ok, failures = send_all(port, args.senders, args.events, args.per_request)
        # from the first POST (not from before send_all: its imports took ~3 s of the old figures)
        t0 = min(posted.values(), default=time.time())
        # wait until the poller has seen every accepted order (or give up after --timeout seconds)
        deadline = time.time() + args.timeout
        while time.time() < deadline and child.is_alive() and count.value < len(posted):
            time.sleep(0.05)
        stop.set()
        child.join(120)
        data = json.loads(out.read_text())
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    visible: dict[str, float] = data["visible"]
    lat = [(visible[o] - t) * 1000 for o, t in posted.items() if o in visible]
    seen = [visible[o] for o in posted if o in visible]
    batches, rows_in, loaded, quarantined, duplicates = data["ledger"]
    return {
        "senders": args.senders,
        "events": args.events,
        "per_request": args.per_request,
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
        "warehouse": "demo copy" if args.demo else "fresh",
        "accepted": len(posted),
        "http_failures": failures,
        "visible": len(seen),
        "accepted_per_s": len(posted) / max(1e-9, last_ok - t0),
        "sustained_per_s": len(seen) / max(1e-9, max(seen) - t0) if seen else 0.0,
        "latency_ms_p50": _pct(lat, 0.50),
        "latency_ms_p95": _pct(lat, 0.95),
        "latency_ms_max": max(lat) if lat else float("nan"),
        "kpi_query_ms_p50": statistics.median(data["query_ms"]) if data["query_ms"] else float("nan"),
        "kpi_mismatches": data["mismatches"],
        "batches": batches,
        "ledger_balanced": rows_in == loaded + quarantined + duplicates,
        "loaded": loaded,
    }


def render(res: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Live order events: HTTP -> JSONL micro-batch -> clean path -> DuckDB -> KPI query")
    t.add_column("figure")
    t.add_column("value", justify="right")
    ok = res["ledger_balanced"] and res["loaded"] == res["accepted"] and not res["kpi_mismatches"]
    rows = [
        ("senders x events (orders per POST)", f"{res['senders']} x {res['events']:,} ({res['per_request']})"),
        ("max_batch / max_wait_ms", f"{res['max_batch']} / {res['max_wait_ms']}"),
        ("warehouse", res["warehouse"]),
        ("accepted events/s (HTTP 202)", f"{res['accepted_per_s']:,.0f}"),
        ("sustained events/s (into DuckDB, seen by a KPI query)", f"{res['sustained_per_s']:,.0f}"),
        ("latency POST -> KPI p50 / p95 / max (ms)",
         f"{res['latency_ms_p50']:,.0f} / {res['latency_ms_p95']:,.0f} / {res['latency_ms_max']:,.0f}"),
        ("KPI query p50 (ms)", f"{res['kpi_query_ms_p50']:,.1f}"),
        ("micro-batches", str(res["batches"])),
        ("HTTP failures", str(res["http_failures"])),
        ("ledger", "balanced, loaded = accepted" if ok else f"[red]{res['loaded']} loaded / {res['accepted']}[/]"),
    ]  # fmt: skip
    for name, value in rows:
        t.add_row(name, value)
    Console().print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--senders", type=int, default=8, help="concurrent HTTP senders")
    ap.add_argument("--events", type=int, default=4000, help="order events in all")
    ap.add_argument("--per-request", type=int, default=1, help="orders per POST (a JSON list when > 1)")
    ap.add_argument("--max-batch", type=int, default=500)
    ap.add_argument("--max-wait-ms", type=int, default=250)
    ap.add_argument("--poll-ms", type=int, default=20, help="pause between KPI queries of the poller")
    ap.add_argument("--demo", type=Path, help="copy this ingested project and post into it (bigger warehouse)")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = run(args)
    if args.json:
        sys.stdout.write(json.dumps(res, indent=2) + "\n")
    else:
        render(res)
    ok = res["ledger_balanced"] and res["loaded"] == res["accepted"] and not res["kpi_mismatches"]
    return 0 if ok and not res["http_failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
