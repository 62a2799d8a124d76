"""/api/compliance/... and ``channelscope compliance`` on the ingested demo: the numbers equal the analysis, a
distributor-scoped user sees its node and children only, a channel manager only its channels, evidence packs
and case moves are authorized."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.conftest import copy_demo
from typer.testing import CliRunner

from channelscope import Project
from channelscope.cli.app import app as cli
from channelscope.monitor.compliance_cases import refresh_cases

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "compliance pass 1"
USERS: dict[str, dict[str, Any]] = {
    "analyst": {"role": "analyst"},
    "viewer": {"role": "viewer"},
    "r01": {"role": "channel_manager", "distributors": ("wx-r01",)},
    "dy": {"role": "channel_manager", "channels": ("douyin",)},
}


@pytest.fixture(scope="module")
def shop(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_demo(demo_shop, tmp_path_factory.mktemp("compliance-web") / "shop")
    with Project(folder) as p:
        refresh_cases(p)
    return folder


def test_compliance_api_scopes_and_numbers(shop: Path) -> None:
    from channelscope.web.app import create_app

    app = create_app(shop, scheduler=False, events=False, dashboard=False)
    for name, spec in USERS.items():
        app.state.store.add_user(
            name, spec["role"], PASSWORD, channels=spec.get("channels", ()), distributors=spec.get("distributors", ())
        )
    family = {"wx-r01", *(f"wx-r01-{i:02d}" for i in range(1, 10))}
    with TestClient(app) as c:
        tokens = {u: app.state.store.create_token(u) for u in USERS}

        def get(path: str, user: str = "analyst", **params: Any) -> Any:
            return c.get(f"/api/compliance/{path}", params=params, headers={"Authorization": f"Bearer {tokens[user]}"})

        full = pd.DataFrame(get("violations").json()["rows"])
        truth = json.loads((shop / "ground_truth.json").read_text(encoding="utf-8"))["channel_order"]
        assert len(full) == len(truth["price_violation_groups"]) and full["lines"].sum() == len(
            truth["price_violations"]
        )

        score = pd.DataFrame(get("score", "r01").json()["rows"])
        assert set(score["distributor_id"]) <= family and "wx-r01" in set(score["distributor_id"]) and len(score) > 1
        regions = pd.DataFrame(get("regions", "r01").json()["rows"])
        assert set(regions["distributor_id"]) <= family and len(regions) >= 3
        assert get("violations", "r01").json()["rows"] == []  # the wx-r01 family has no price violations

        dy = pd.DataFrame(get("violations", "dy").json()["rows"])
        assert set(dy["distributor_id"]) == {d for d in full["distributor_id"] if d.isdigit()}
        assert get("regions", "dy").json()["rows"] == []  # live hosts are not restricted to regions

        com = pd.DataFrame(get("commissions").json()["rows"])
        assert {(r.distributor_id, r.month) for r in com[com["flagged"]].itertuples()} == {
            (t["distributor_id"], t["month"]) for t in truth["commission_differences"]
        }

        cases = pd.DataFrame(get("cases").json()["rows"])
        mine = pd.DataFrame(get("cases", "r01").json()["rows"])
        assert set(mine["distributor_id"]) <= family and len(mine) < len(cases)
        other = str(cases[cases["distributor_id"] == "wx-r02"].iloc[0]["case_id"])
        assert get(f"cases/{other}/evidence.pdf", "r01").status_code == 403
        r = get(f"cases/{other}/evidence.pdf")
        assert r.status_code == 200 and r.content[:4] == b"%PDF"
        r = get(f"cases/{other}/evidence.xlsx")
        assert r.status_code == 200 and r.content[:2] == b"PK"
        assert get(f"cases/{other}/evidence.doc").status_code == 400
        assert get("cases/nosuchcase/evidence.pdf").status_code == 404

        def post(case: str, user: str, status: str) -> Any:
            return c.post(
                f"/api/compliance/cases/{case}/status",
                json={"status": status, "note": "test"},
                headers={"Authorization": f"Bearer {tokens[user]}"},
            )

        assert post(other, "viewer", "notified").status_code == 403
        assert post(other, "r01", "notified").status_code == 403
        assert post(other, "analyst", "notified").json()["status"] == "notified"
        assert post(other, "analyst", "open").status_code == 409
        assert get("cases", status="notified").json()["rows"][0]["case_id"] == other


def test_compliance_cli(shop: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["compliance", "violations", "-p", str(shop), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert {"wx-r02", "wx-r03", "7012345602"} <= {x["distributor_id"] for x in rows}
    r = runner.invoke(cli, ["compliance", "score", "-p", str(shop), "-d", "wx-r01", "--json"])
    assert r.exit_code == 0 and {x["distributor_id"] for x in json.loads(r.output)} <= {
        "wx-r01",
        *(f"wx-r01-{i:02d}" for i in range(1, 10)),
    }
    r = runner.invoke(cli, ["compliance", "commissions", "-p", str(shop), "--lang", "en"])
    assert r.exit_code == 0 and "wx-r06" in r.output
    r = runner.invoke(cli, ["compliance", "cases", "-p", str(shop), "--json"])
    case = json.loads(r.output)[0]["case_id"]
    out = tmp_path / "pack.xlsx"
    r = runner.invoke(cli, ["compliance", "evidence", case, "-p", str(shop), "-o", str(out)])
    assert r.exit_code == 0 and out.read_bytes()[:2] == b"PK"
    import os
    import subprocess
    import sys

    r2 = subprocess.run(
        [sys.executable, "-m", "channelscope.cli", "compliance", "evidence", "zzzz", "-p", str(shop)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )
    assert r2.returncode == 2 and "zzzz" in r2.stderr + r2.stdout


def test_network_api_scopes(shop: Path) -> None:
    from channelscope.web.app import create_app

    app = create_app(shop, scheduler=False, events=False, dashboard=False)
    for name, spec in USERS.items():
        app.state.store.add_user(
            name, spec["role"], PASSWORD, channels=spec.get("channels", ()), distributors=spec.get("distributors", ())
        )
    family = {"wx-r01", *(f"wx-r01-{i:02d}" for i in range(1, 10))}
    with TestClient(app) as c:
        tokens = {u: app.state.store.create_token(u) for u in USERS}

        def get(path: str, user: str = "analyst") -> Any:
            r = c.get(f"/api/network/{path}", headers={"Authorization": f"Bearer {tokens[user]}"})
            assert r.status_code == 200, r.text
            return r.json()

        tree = pd.DataFrame(get("tree")["rows"]).set_index("distributor_id")
        assert len(tree) == 52 and tree.loc["wx-r01", "level"] == 1
        kids = tree[tree["parent_id"] == "wx-r01"]
        assert tree.loc["wx-r01", "subtree_sales"] == pytest.approx(
            tree.loc["wx-r01", "sales"] + kids["sales"].sum(), abs=0.02
        )
        mine = pd.DataFrame(get("tree", "r01")["rows"])
        assert set(mine["distributor_id"]) == family & set(tree.index) and "wx-r02" not in set(mine["distributor_id"])
        hosts = pd.DataFrame(get("live-hosts", "dy")["rows"])
        assert len(hosts) == 6 and hosts["distributor_id"].str.isdigit().all()
        assert get("live-hosts", "r01")["rows"] == []
        act = get("activity")
        assert act["funnel"][0]["distributors"] == 52 and get("activity", "r01")["funnel"] == []
        assert len(get("live-sessions")["rows"]) >= 5
