"""A bounded corpus of hostile files (tests/corpus/hostile/, plus a very wide line written at test time) loaded
by the real command line in one run: no traceback, a file that cannot be read fails alone with a ledger row
naming it, and in every other file each input row is accounted (rows_in = loaded + quarantined + duplicates)
and equals the records a person counts in the file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_project

CORPUS = Path(__file__).parent.parent / "corpus" / "hostile"
CONFIG = """
channels:
  - {id: tmall, name: 天猫, kind: marketplace, platform: tmall}
sources:
  - {name: orders, path: "exports/*", preset: canonical_orders, channel_id: tmall}
"""
HEAD = "source_order_id,customer_key,ordered_at,paid_at,updated_at,status,net_amount,gross_amount\n"
#: file -> records in it (None: the file cannot be read and must fail alone, with a reason naming it)
EXPECTED: dict[str, int | None] = {
    "truncated.csv.gz": None,  # half a gzip stream
    "bom_then_gbk.csv": 1,  # a UTF-8 byte-order mark, then GBK bytes: the line is quarantined as malformed
    "nul_bytes.csv": None,  # a NUL byte: binary, not a text export
    "empty.csv": None,
    "header_only.csv": 0,
    "quoted_line_breaks.csv": 4,  # RFC 4180 LF and CRLF inside quotes, and "\r=1+1"
    "formula_cells.csv": 4,  # =1+2, =HYPERLINK(...), @SUM(A1), +cmd
    "duplicate_headers.csv": 2,  # status and net_amount twice
    "unbalanced_quote.csv": 2,  # a quote never closed swallows the rest of the file into one record
    "short_and_long_rows.csv": 3,
    "wide_line.csv": 4,  # generated: 3 rows and a line of 200,000 fields
}


def _wide_file(path: Path) -> None:
    rows = [f"{i},13800138000,2024-01-05 13:00:00,,,created,{i},{i}\n" for i in range(1, 4)]
    path.write_text(HEAD + rows[0] + ",".join(["x"] * 200_000) + "\n" + "".join(rows[1:]), encoding="utf-8")


def test_every_hostile_file_is_accounted_or_fails_alone(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "shop", CONFIG)
    exports = folder / "exports"
    shutil.copytree(CORPUS, exports)
    _wide_file(exports / "wide_line.csv")
    assert {p.name for p in exports.iterdir()} == set(EXPECTED), "a corpus file without an expectation"
    env = {**os.environ, "COLUMNS": "200"}
    cli = [sys.executable, "-m", "channelscope.cli", "ingest", "-p", str(folder), "--json"]
    r = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=600)
    assert "Traceback" not in r.stdout + r.stderr, r.stderr[-3000:]
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])  # some files failed, the others loaded
    batches = {Path(b["file"]).name: b for b in json.loads(r.stdout)}
    assert set(batches) == set(EXPECTED)
    for name, records in EXPECTED.items():
        b = batches[name]
        if records is None:
            assert b["status"] == "failed" and name in b["message"], (name, b)
            continue
        assert b["status"] == "loaded", (name, b)
        assert b["rows_in"] == b["loaded"] + b["quarantined"] + b["duplicates"], (name, b)
        assert b["rows_in"] == records, (name, b)
    # the ledger has every file, failed ones included, each with its reason
    import duckdb

    con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    ledger = {Path(f).name: (s, m) for f, s, m in con.execute("SELECT file, status, message FROM batches").fetchall()}
    con.close()
    assert set(ledger) == set(EXPECTED)
    assert all(ledger[n][0] == "failed" and ledger[n][1] for n, rec in EXPECTED.items() if rec is None)
