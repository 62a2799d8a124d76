"""``channelscope marketing ...`` as a user runs it: real processes on the ingested media scenario, JSON
figures against the scenario's files and truth, exit code 2 and one line for bad options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from tests.web.test_marketing_web import media_project

CLI = [sys.executable, "-m", "channelscope.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=600)


def test_marketing_commands(tmp_path: Path) -> None:
    folder, truth = media_project(tmp_path / "media")
    p = str(folder)
    r = run("marketing", "roi", "-p", p, "--no-models", "--json")
    assert r.returncode == 0, r.stderr
    every = pd.DataFrame(json.loads(r.stdout)).set_index("campaign_id")
    roi = every[every["kind"] == "ad"]
    # promotions are rows too: their cost is the coupons and 红包 of the orders carrying their code
    orders = pd.read_csv(folder / "exports/canonical/orders.csv", dtype=str)
    coded = orders[orders["campaign_id"].notna()]
    disc = coded.assign(d=coded["discount_amount"].astype(float)).groupby("campaign_id")["d"].sum()
    promos = every[every["kind"] == "promotion"]
    assert promos["discount_cost"].to_dict() == pytest.approx(disc.to_dict(), abs=0.01)
    assert promos["cost"].to_dict() == pytest.approx(disc.to_dict(), abs=0.01)
    ads = pd.read_csv(folder / "exports/canonical/ad_spend.csv", dtype=str)
    rep = ads.assign(x=ads["reported_revenue"].astype(float), s=ads["spend"].astype(float)).groupby("campaign_id")
    assert roi["roas_platform"].to_dict() == pytest.approx((rep["x"].sum() / rep["s"].sum()).to_dict())
    assert roi["roas_incremental"].isna().all()  # no model asked for: empty, not 0

    r = run("marketing", "mmm", "-p", p, "--json")
    assert r.returncode == 0, r.stderr
    rows = pd.DataFrame(json.loads(r.stdout)["platforms"]).set_index("platform")
    true = pd.Series({x["platform"]: x["true_roas"] for x in truth["platforms"]})
    assert ((rows["roas"] / true - 1).abs() < 0.2).all()

    r = run("marketing", "allocate", "-p", p, "--fixed", "alimama", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["split"]["alimama"] == pytest.approx(1.0) and plan["expected_gain"] > 0

    r = run("marketing", "uplift", "-p", p, "--lang", "en")
    assert r.returncode == 0 and "Promotion uplift" in r.stdout

    for bad in (["allocate", "--min", "baidu"], ["attribution", "--by", "region"], ["mmm", "--lang", "fr"]):
        r = run("marketing", *bad, "-p", p)
        assert r.returncode == 2, (bad, r.stdout, r.stderr)
        assert r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
