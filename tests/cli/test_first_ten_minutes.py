"""The README's first ten minutes, run as written: init, one Tmall export, ingest, status, kpi.

The export is one the demo generator wrote (a real seller-center layout, GBK or UTF-8 as the platform
gives). The sources of the scaffolded config whose files are not there yet are reported as "no file yet"
and the command exits 0 because everything present loaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_commands() -> list[str]:
    """The first-ten-minutes block's commands up to ``status``, then ``kpi -p shop``, as the README has them."""
    text = README.read_text(encoding="utf-8")
    block = text.split("## Your first ten minutes", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines()]
    wanted = [line for line in lines if re.match(r"channelscope (init|ingest|status) |cp ", line)][:4]
    assert [w.split()[1] for w in wanted] == ["init", "~/Downloads/ExportOrderList*.csv", "ingest", "status"], wanted
    return [*wanted, "channelscope kpi -p shop"]


def test_readme_first_ten_minutes_as_written(tmp_path: Path, demo_shop: Path) -> None:
    downloads = tmp_path / "home" / "Downloads"
    downloads.mkdir(parents=True)
    export = sorted((demo_shop / "exports" / "tmall").glob("ExportOrderList*.csv"))[-1]
    (downloads / export.name).write_bytes(export.read_bytes())
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    shim = f'channelscope() {{ "{sys.executable}" -m channelscope.cli "$@"; }}'
    outputs = {}
    for cmd in readme_commands():
        r = subprocess.run(
            ["bash", "-c", f"{shim}\n{cmd}"], cwd=work, env=env, capture_output=True, text=True, timeout=300
        )
        assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        outputs[cmd.split()[1]] = r
    ingest = outputs["ingest"]
    assert "no file yet products: exports/products*.csv" in ingest.stderr
    assert "no file yet own_store_orders: exports/shopify/*.csv" in ingest.stderr
    assert "loaded" in ingest.stdout and "tmall_orders" in ingest.stdout
    assert "数据新鲜度" in outputs["status"].stdout
    kpi = outputs["kpi"].stdout
    assert "数据截至" in kpi and "口径" in kpi
    con = duckdb.connect(str(work / "shop" / "warehouse.duckdb"), read_only=True)
    (gmv,) = con.execute(
        "SELECT sum(net_amount_base) FROM orders WHERE paid_at IS NOT NULL "
        "OR status IN ('paid', 'shipped', 'completed', 'refunded')"
    ).fetchone()
    con.close()
    r = subprocess.run(
        ["bash", "-c", f"{shim}\nchannelscope kpi -p shop -m gmv --format json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert json.loads(r.stdout)["rows"][0]["gmv"] == round(float(gmv), 2) > 0
