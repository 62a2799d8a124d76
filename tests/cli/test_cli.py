"""The command line as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_project

CLI = [sys.executable, "-m", "channelscope.cli"]
CONFIG = """
channels: [{id: tmall, name: 天猫, kind: marketplace, platform: tmall}]
sources: [{name: orders, path: "exports/*.csv", preset: canonical_orders, channel_id: tmall, expect_every: 1d}]
"""


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_init_ingest_status_quarantine_roundtrip(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "shop", CONFIG)
    (folder / "exports").mkdir()
    (folder / "exports" / "a.csv").write_text(
        "source_order_id,ordered_at,status,net_amount\n1,2024-01-05 10:00:00,paid,10\n"
        "2,not a date,paid,5\n1,2024-01-05 10:00:00,paid,10\n",
        encoding="utf-8",
    )
    r = run("ingest", "-p", str(folder), "--json")
    assert r.returncode == 0, r.stderr
    (batch,) = json.loads(r.stdout)
    assert (batch["rows_in"], batch["loaded"], batch["quarantined"], batch["duplicates"]) == (3, 1, 1, 1)
    st = json.loads(run("status", "-p", str(folder), "--json").stdout)
    assert st["counts"]["orders"] == 1
    assert st["freshness"][0]["state"] == "fresh"
    assert st["quarantine_by_reason"][0]["reason"] == "ordered_at: cannot read '…' as timestamp"
    text = run("status", "-p", str(folder)).stdout
    assert "Ledger" in text and "Quarantine by reason" in text
    fix = tmp_path / "fix.csv"
    assert run("quarantine", "export", str(fix), "-p", str(folder)).returncode == 0
    fix.write_text(fix.read_text(encoding="utf-8-sig").replace("not a date", "2024-01-06 09:00:00"), encoding="utf-8")
    r = run("ingest", "-p", str(folder), "--source", "orders", "--file", str(fix), "--json")
    assert json.loads(r.stdout)[0]["loaded"] == 1
    kpi = json.loads(run("kpi", "-p", str(folder), "--format", "json").stdout)["rows"]
    assert kpi[0]["gmv"] == 15.0 and kpi[0]["paid_orders"] == 2


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "channelscope.yaml").write_text("project:\n  timezon: x\n", encoding="utf-8")
    r = run("status", "-p", str(tmp_path))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "channelscope.yaml, line 2: key 'project.timezon'" in " ".join(r.stderr.split())


def test_a_failed_file_gives_exit_code_1(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "shop", CONFIG)
    (folder / "exports").mkdir()
    (folder / "exports" / "empty.csv").write_bytes(b"")
    r = run("ingest", "-p", str(folder))
    assert r.returncode == 1
    assert "empty.csv" in r.stderr and "is empty" in r.stderr and "Traceback" not in r.stderr


def test_init_scaffolds(tmp_path: Path) -> None:
    r = run("init", str(tmp_path / "new"))
    assert r.returncode == 0
    assert (tmp_path / "new" / "channelscope.yaml").exists()
