"""The command line against hostile arguments (issue 12): hypothesis picks a command (ingest, status, kpi,
explain, targets, metrics, quarantine show and export) and fills its options with hostile text (NUL, 5,000
digits, years 0001 and 9999, -infinity, SQL and script text, non-ASCII digits, formulas, random text). Every run
ends with exit code 0, 1 or 2, never an exception escaping the command (a traceback), and an exit code 2 names
the error in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.conftest import write_project

from channelscope.cli.app import main

CONFIG = """
channels: [{id: tmall, name: 天猫, kind: marketplace, platform: tmall}]
sources: [{name: orders, path: "exports/*.csv", preset: canonical_orders, channel_id: tmall}]
"""
HOSTILE = [
    "",
    "\x00",
    "gmv\x00",
    "9" * 5000,
    "0001-01-01",
    "9999-12-31",
    "0001",
    "2025-13-45",
    "2025-01-01..9999-12-31",
    "-infinity",
    "infinity",
    "epoch",
    "'; DROP TABLE orders; --",
    "<script>alert(1)</script>",
    "١٢٣",
    "²",
    "=1+2",
    "channel=jd",
    "channel=",
    "=",
    "..",
    "2025-W99",
    "2025-Q9",
    "-1",
    "1e309",
    "NaN",
    "gmv,gmv",
    "天猫",
]
VALUE = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20))
#: command templates: {} is replaced by a hostile value
COMMANDS = [
    ["kpi", "--metric", "{}"],
    ["kpi", "--grain", "{}"],
    ["kpi", "--by", "{}"],
    ["kpi", "--start", "{}", "--end", "2024-01-31"],
    ["kpi", "--start", "2024-01-01", "--end", "{}"],
    ["kpi", "--filter", "{}"],
    ["kpi", "--grain", "month", "--compare", "{}"],
    ["kpi", "--to-date", "{}", "--end", "2024-01-31"],
    ["kpi", "--format", "{}"],
    ["kpi", "--lang", "{}"],
    ["explain", "--period", "{}"],
    ["explain", "--period", "2024-01", "--vs", "{}"],
    ["explain", "--period", "2024-01", "--by", "{}"],
    ["explain", "--period", "2024-01", "--metric", "{}"],
    ["targets", "--as-of", "{}"],
    ["status", "--batches", "{}"],
    ["metrics", "--lang", "{}"],
    ["ingest", "--source", "{}"],
    ["quarantine", "show", "--source", "{}"],
    ["quarantine", "show", "--reason", "{}"],
    ["quarantine", "show", "--limit", "{}"],
    ["quarantine", "export", "OUT{}"],
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_project(tmp_path_factory.mktemp("clifuzz") / "shop", CONFIG)
    (folder / "exports").mkdir()
    (folder / "exports" / "a.csv").write_text(
        "source_order_id,ordered_at,status,net_amount\n1,2024-01-05 10:00:00,paid,10\n2,-infinity,paid,5\n"
        '3,2024-01-06 10:00:00,"=HYPERLINK(""http://evil.example/"")",7\n',
        encoding="utf-8",
    )
    assert run_cli(["ingest", "-p", str(folder)]) == 0
    return folder


def run_cli(args: list[str]) -> int:
    """``channelscope <args>`` in this process, as ``python -m channelscope.cli`` runs it; its exit code."""
    saved = sys.argv
    sys.argv = ["channelscope", *args]
    try:
        main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.argv = saved
    return 0


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(template=st.sampled_from(COMMANDS), value=VALUE)
@example(template=["status", "--batches", "{}"], value="-1")  # a negative LIMIT reached the engine (found by this fuzz)
@example(template=["quarantine", "show", "--limit", "{}"], value="-5")
@example(template=["quarantine", "show", "--source", "{}"], value="\x00")  # a NUL reached DuckDB's parser
def test_no_command_ends_in_a_traceback(
    shop: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str], template: list[str], value: str
) -> None:
    args = [a.replace("{}", value) for a in template]
    if args[:2] == ["quarantine", "export"]:
        args[2] = str(tmp_path / ("fix" + value.replace("/", "_")[:40] + ".csv"))
    code = run_cli([*args, "-p", str(shop)])  # any exception other than SystemExit fails the test here
    out, err = capfd.readouterr()
    assert code in (0, 1, 2), (args, code, err[-500:])
    assert "Traceback" not in out + err, (args, err[-2000:])
    if code == 2:
        assert err.strip(), (args, "an error exit without a message")
