"""Report benchmark: the monthly business review on a generated project of N orders, in HTML, PDF and Excel.

    python bench/reports.py --orders 1000000 [--orders 10000000] [--keep] [--json] [--memory-limit 2GB]

For each size it writes a project with ``bench/kpi.py``'s generator (six channels, one year of orders
2025-01-01..2025-12-31 with lines, refunds, traffic, ad spend and fees, filled with DuckDB SQL; ingest is
not measured), then, in a child process (peak RSS = the child's own ``VmHWM``, CPU from ``wait4``), opens
the project read-only and issues ``monthly_business_review`` for 2025-11 (issue date 2026-01-01) the way
``issue_report`` does: the report's data is composed once (every section's queries, the seasonal model behind
the anomalies, the decomposition: read from the daily rollups where they cover the query) and rendered in each
format from it. A format's figure is the compose plus its own rendering (what a report in that one format
costs); the child's wall and CPU (all three formats) are printed too. The machine's load average is recorded,
since wall time is inflated by other processes.
Target (issue 18): each under 30 s on 2 cores at 10M orders.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kpi as K  # the KPI bench's data generator

FORMATS = ("html", "pdf", "xlsx")
PERIOD, AS_OF = "2025-11", dt.date(2026, 1, 1)


def child(folder: str, out: str) -> dict[str, Any]:
    """Compose the report once and render it in every format (run in its own process)."""
    from channelscope import Project
    from channelscope.report import STANDARD, compose
    from channelscope.report.archive import write_format

    t0, c0 = time.perf_counter(), time.process_time()
    with Project(folder, read_only=True) as p:
        report = compose(p, STANDARD["monthly_business_review"], period=PERIOD, as_of=AS_OF, language="zh-CN")
    composed, composed_cpu = time.perf_counter() - t0, time.process_time() - c0
    runs = []
    for fmt in FORMATS:
        t1, c1 = time.perf_counter(), time.process_time()
        path = write_format(report, fmt, Path(out) / f"review.{fmt}")
        render_s, render_cpu = time.perf_counter() - t1, time.process_time() - c1
        runs.append(
            {
                "format": fmt,
                "wall_s": round(composed + render_s, 2),
                "cpu_s": round(composed_cpu + render_cpu, 2),
                "render_s": round(render_s, 2),
                "render_cpu_s": round(render_cpu, 2),
                "bytes": path.stat().st_size,
            }
        )
    return {
        "compose_s": round(composed, 2),
        "compose_cpu_s": round(composed_cpu, 2),
        "findings": len(report.findings),
        "sections": len(report.sections),
        "peak_rss_mib": _hwm_mib(),
        "runs": runs,
    }


def _hwm_mib() -> float:
    """This process's peak RSS (VmHWM). wait4's ru_maxrss is not used: on Linux a child started with fork+exec
    keeps the parent's high-water mark from before the exec (the parent holds the generated data)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def run_child(folder: Path, out: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    load = os.getloadavg()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(folder), str(out)], stdout=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    stdout = proc.stdout.read() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the report child failed")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_wall_s"] = round(time.perf_counter() - t0, 2)
    result["process_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    result["load_before"] = [round(x, 2) for x in load]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def bench_size(orders: int, root: Path, memory_limit: str, say: Any, existing: Path | None = None) -> dict[str, Any]:
    folder = existing or root / f"reports-{orders}"
    data: dict[str, Any] = {"seconds": None, "file_mib": None}
    if existing is None:
        K.write_project(folder, memory_limit, None)
        say(f"generating {orders:,} orders in {folder}")
        data = K.generate(folder, orders, memory_limit, say)
    out = folder / "out"
    out.mkdir(exist_ok=True)
    say(f"  monthly_business_review {PERIOD}: compose once, render {', '.join(FORMATS)}")
    result = run_child(folder, out)
    say(f"    {result}")
    return {"orders": orders, "generate_s": data["seconds"], "file_mib": data["file_mib"], **result}


def render(results: list[dict[str, Any]]) -> None:
    head = f"{'orders':>12} {'format':>6} {'wall s':>8} {'CPU s':>8} {'render s':>9} {'file KiB':>9}"
    print(head)
    for r in results:
        for run in r["runs"]:
            print(
                f"{r['orders']:>12,} {run['format']:>6} {run['wall_s']:>8.1f} {run['cpu_s']:>8.1f} "
                f"{run['render_s']:>9.1f} {run['bytes'] / 1024:>9.0f}"
            )
        print(
            f"{'':>12} compose {r['compose_s']:.1f} s wall / {r['compose_cpu_s']:.1f} s CPU; the child in all "
            f"{r['process_wall_s']:.1f} s wall / {r['process_cpu_s']:.1f} s CPU, peak {r['peak_rss_mib']:.0f} MiB; "
            f"load {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        folder, out = argv[1:3]
        print(json.dumps(child(folder, out)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, action="append", help="orders to generate (repeat for several sizes)")
    ap.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit while generating and querying")
    ap.add_argument("--workdir", type=Path, help="work folder (default: a new temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--project", type=Path, help="an already generated project (its --orders size) to reuse")
    ap.add_argument("--json", action="store_true", help="figures as JSON on stdout")
    args = ap.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="cs-bench-reports-"))
    root.mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        results = [bench_size(n, root, args.memory_limit, say, args.project) for n in (args.orders or [1_000_000])]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        render(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
