"""``channelscope customers ...`` as a user runs it on the ingested demo: JSON equal to the Python API, tables in
zh-CN and en, a CRM export, and exit code 2 with one line for a bad argument."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from tests.cli.test_cli import run

from channelscope import Project


def test_customers_commands(demo_shop: Path, tmp_path: Path) -> None:
    p = str(demo_shop)
    with Project(demo_shop, read_only=True) as project:
        want = project.analysis.customers.repurchase(as_of="2025-11-30")
        segs = project.analysis.customers.rfm(as_of="2025-11-30")
    r = run("customers", "repurchase", "-p", p, "--as-of", "2025-11-30", "--json")
    assert r.returncode == 0, r.stderr
    got = pd.DataFrame(json.loads(r.stdout))
    assert got["customers"].tolist() == want["customers"].tolist()
    assert got["repurchase_90d"].tolist() == want["repurchase_90d"].tolist()
    zh = run("customers", "rfm", "-p", p, "--as-of", "2025-11-30", "--lang", "zh-CN")
    assert zh.returncode == 0 and "重要价值" in zh.stdout and "客户数" in zh.stdout
    en = run("customers", "rfm", "-p", p, "--as-of", "2025-11-30", "--lang", "en")
    assert "Important value" in en.stdout and "Customers" in en.stdout
    out = tmp_path / "winback.csv"
    ex = run("customers", "export", str(out), "-p", p, "-s", "important_winback", "--as-of", "2025-11-30")
    assert ex.returncode == 0, ex.stderr
    rows = pd.read_csv(out)
    assert len(rows) == int(segs.set_index("segment").loc["important_winback", "customers"])
    clv = run("customers", "clv", "-p", p, "--json")
    assert clv.returncode == 0, clv.stderr
    body = json.loads(clv.stdout)
    assert body["bgnbd"]["converged"] and body["holdout"]
    bad = run("customers", "rfm", "-p", p, "--as-of", "yesterday")
    assert bad.returncode == 2 and "as_of 'yesterday' is not a date" in bad.stderr
    assert "Traceback" not in bad.stderr
    bad = run("customers", "export", str(out), "-p", p, "-s", "vip")
    assert bad.returncode == 2 and "unknown RFM segment 'vip'" in bad.stderr


def test_funnel_and_paths_commands(demo_shop: Path) -> None:
    p = str(demo_shop)
    truth = json.loads((demo_shop / "ground_truth.json").read_text(encoding="utf-8"))["behaviour"]
    r = run("customers", "funnel", "-p", p, "--by", "channel", "--json")
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    got = {row["channel_id"]: row["purchased"] for row in body["funnel"]}
    assert got == {c: v["purchased"] for c, v in truth["funnel_by_channel"].items()}
    assert sum(row["sessions"] for row in body["sessions"]) == truth["sessions"]
    zh = run("customers", "funnel", "-p", p, "--by", "category", "-c", "tmall", "--lang", "zh-CN")
    assert zh.returncode == 0 and "加购或收藏" in zh.stdout and "套装" in zh.stdout, zh.stderr
    paths = run("customers", "paths", "-p", p, "--json")
    assert {row["path"]: row["sessions"] for row in json.loads(paths.stdout)} == truth["paths"]
    en = run("customers", "paths", "-p", p, "--lang", "en")
    assert en.returncode == 0 and "Paths to purchase" in en.stdout and "View → Cart → Purchase" in en.stdout
    bad = run("customers", "funnel", "-p", p, "--by", "region")
    assert bad.returncode == 2 and "channel, category" in bad.stderr and "Traceback" not in bad.stderr
    bad = run("customers", "paths", "-p", p, "--start", "soon")
    assert bad.returncode == 2 and "start 'soon' is not a date" in bad.stderr
