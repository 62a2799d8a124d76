"""Every CLI export carries the basis (口径) of each metric it holds, as the web exports do: ``kpi --format
json`` (an envelope like the API's answer), ``kpi --format csv`` (a ``<metric>_basis`` column), ``explain
--json``, ``targets --json`` and ``export parquet`` (metrics.json beside the tables)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import copy_demo

CLI = [sys.executable, "-m", "channelscope.cli"]
NOV = ["--start", "2025-11-01", "--end", "2025-11-30"]


@pytest.fixture(scope="module")
def shop(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the demo: the CLI opens a project for writing, and DuckDB allows one writing process per
    file (the shared demo is read by other workers meanwhile)."""
    return copy_demo(demo_shop, tmp_path_factory.mktemp("exports-basis") / "shop")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def test_kpi_json_is_an_envelope_with_basis_coverage_and_data_as_of(shop: Path) -> None:
    """The three coverage cases through the CLI: Tmall sends no order lines (no margin), JD no refunds, the
    WeChat resellers no traffic: empty values (null), each with its reason, in JSON and under the table."""
    metrics = ["-m", "gmv", "-m", "refund_rate", "-m", "conversion_rate", "-m", "contribution_margin_rate"]
    out = run("kpi", "-p", str(shop), *metrics, "-b", "channel", *NOV, "--format", "json")
    body = json.loads(out.stdout)
    rows = {r["channel"]: r for r in body["rows"]}
    assert rows["jd"]["refund_rate"] is None  # no refund feed: empty, never 0
    assert rows["tmall"]["contribution_margin_rate"] is None and rows["wechat_resellers"]["conversion_rate"] is None
    reasons = {(c["metric"], c["channel"], c["reason"]) for c in body["coverage"]}
    assert {
        ("contribution_margin_rate", "tmall", "no_order_lines"),
        ("refund_rate", "jd", "no_refunds"),
        ("conversion_rate", "wechat_resellers", "no_traffic"),
    } <= reasons
    table = run("kpi", "-p", str(shop), *metrics, "-b", "channel", *NOV, "--lang", "en").stdout
    assert "no data (never 0; left out of totals)" in table
    for why in ("no COGS", "refunds unknown", "no visitors"):
        assert why in table
    assert "支付金额" in body["basis"]["gmv"]["zh-CN"] and "payment time" in body["basis"]["gmv"]["en"]
    assert body["basis"]["refund_rate"]["fields"]["needs"] == ["refunds"]
    assert ("refund_rate", "jd", "no_refunds") in {(c["metric"], c["channel"], c["reason"]) for c in body["coverage"]}
    assert body["data_as_of"] == "2025-11-30" and body["timezone"] == "Asia/Shanghai"
    assert body["currency"] == "CNY"


def test_kpi_csv_has_a_basis_column_per_metric_in_the_language(shop: Path) -> None:
    zh = pd.read_csv(io.StringIO(run("kpi", "-p", str(shop), "-m", "gmv", *NOV, "--format", "csv").stdout))
    assert list(zh.columns) == ["gmv", "gmv_basis"]
    assert zh["gmv_basis"][0].startswith("口径：") and "支付金额" in zh["gmv_basis"][0]
    args = ["kpi", "-p", str(shop), "-m", "gmv", "-m", "aov", "-b", "channel", *NOV, "--format", "csv"]
    en = pd.read_csv(io.StringIO(run(*args, "--lang", "en").stdout))
    assert list(en.columns) == ["channel", "gmv", "aov", "gmv_basis", "aov_basis"]
    assert en["gmv_basis"].str.contains("payment time").all() and en["aov_basis"].str.contains("CNY").all()


def test_explain_and_targets_json_carry_the_basis(shop: Path, tmp_path: Path) -> None:
    ex = json.loads(run("explain", "-p", str(shop), "--period", "2025-11", "--json").stdout)
    assert "支付金额" in ex["basis"]["gmv"]["zh-CN"] and ex["currency"] == "CNY"
    assert all("¥" in line for line in ex["sentences"])  # money through channelscope.numbers, with its symbol
    mine = copy_demo(shop, tmp_path / "shop")
    with (mine / "channelscope.yaml").open("a", encoding="utf-8") as f:
        f.write("targets:\n  - {metric: gmv, period: 2025-11, value: 900000}\n")
    (target,) = json.loads(run("targets", "-p", str(mine), "--as-of", "2025-11-30", "--json").stdout)
    assert target["metric"] == "gmv" and target["basis"].startswith("口径：") and "支付金额" in target["basis"]


def test_export_parquet_writes_the_metric_catalog_with_basis(shop: Path, tmp_path: Path) -> None:
    run("export", "parquet", str(tmp_path / "lake"), "-p", str(shop))
    catalog = {m["name"]: m for m in json.loads((tmp_path / "lake" / "metrics.json").read_text(encoding="utf-8"))}
    assert "支付金额" in catalog["gmv"]["basis"]["zh-CN"] and catalog["gmv"]["basis"]["fields"]["rows"] == [
        "paid_orders"
    ]
    assert catalog["visitors"]["basis"]["fields"]["needs"] == ["traffic"]
    assert catalog["gmv"]["unit"] == "money" and catalog["gmv"]["currency"] == "CNY"
