"""Forecast and plan routes: a channel manager sees only their channels' forecast rows, never the total,
and is denied the brand-wide inventory plan; the totals add up to the cent."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests.web.test_api import ROLES, api_client, auth, make_shop

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def client(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    folder = make_shop(demo_shop, tmp_path_factory.mktemp("fc") / "shop")
    shutil.copy(folder / "exports" / "canonical" / "lead_times.csv", folder / "lead_times.csv")
    yield from api_client(folder, ROLES)


def test_forecast_rows_by_scope(client) -> None:
    r = client.get("/api/forecasts", params={"metric": "gmv", "horizon": 14}, headers=auth(client, "analyst"))
    assert r.status_code == 200, r.text
    rows = pd.DataFrame(r.json()["rows"])
    assert set(rows["level"]) == {"total", "channel"} and rows["period"].nunique() == 14
    cents = (rows["mean"] * 100).round().astype("int64")
    by = rows.assign(c=cents).pivot_table(index="period", columns="level", values="c", aggfunc="sum")
    assert (by["channel"] == by["total"]).all()
    tm = client.get("/api/forecasts", params={"metric": "gmv", "horizon": 14}, headers=auth(client, "tm"))
    mine = pd.DataFrame(tm.json()["rows"])
    assert set(mine["channel"]) == {"tmall"} and "total" not in set(mine["level"])
    assert tm.json()["scope"]["channels"] == ["tmall"]
    acc = client.get("/api/forecasts/accuracy", params={"horizon": 14}, headers=auth(client, "tm")).json()
    assert {row["channel"] for row in acc["rows"]} == {"tmall"}


def test_bad_metric_is_a_400(client) -> None:
    r = client.get("/api/forecasts", params={"metric": "visitors"}, headers=auth(client, "viewer"))
    assert r.status_code == 400


def test_inventory_plan_route(client) -> None:
    assert client.get("/api/plan/inventory", headers=auth(client, "tm")).status_code == 403
    r = client.get("/api/plan/inventory", headers=auth(client, "admin"))
    assert r.status_code in (200, 400), r.text


def test_stored_accuracy_history_route(client) -> None:
    """Brand-wide (a level's errors are summed over every channel): a channel manager is denied it."""
    assert client.get("/api/forecasts/history", headers=auth(client, "tm")).status_code == 403
    r = client.get("/api/forecasts/history", headers=auth(client, "analyst"))
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["rows"], list)
