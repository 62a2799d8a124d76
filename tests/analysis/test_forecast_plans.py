"""Stored forecast runs (DECIMAL to the cent on DuckDB and PostgreSQL), suggested targets accepted into
the targets file, accuracy tracked as actuals arrive, and the CLI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
from tests.cli.test_cli import run
from tests.conftest import write_project

from channelscope import Project
from channelscope.metrics.targets import Target, attainment, load_targets
from channelscope.plan.forecasts import accuracy_history, runs, save_run, stored_forecast, track_accuracy
from channelscope.plan.targets import accept_targets, forecast_pacing, suggest_targets

BODY = """
channels:
  - {id: a, name: A, kind: marketplace, platform: tmall}
  - {id: b, name: B, kind: own_store, platform: shopify}
sources:
  - {name: orders, path: exports/orders.csv, preset: canonical_orders}
"""
START = dt.date(2025, 6, 1)


def _shop(tmp_path: Path, url: str, days: int = 150) -> Path:
    folder = write_project(tmp_path / "shop", BODY, url)
    (folder / "exports").mkdir(exist_ok=True)
    rows = ["source_order_id,channel_id,customer_key,ordered_at,paid_at,status,net_amount"]
    for i in range(days):
        day = START + dt.timedelta(days=i)
        for ch, n in (("a", 2 + (day.weekday() >= 5)), ("b", 1)):
            rows += [f"{ch}{i}-{k},{ch},c{k},{day} 12:00:00,{day} 12:00:00,paid,{10 + k}.50" for k in range(n)]
    (folder / "exports" / "orders.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_stored_run_targets_and_tracking(tmp_path: Path, warehouse_url: str) -> None:
    folder = _shop(tmp_path, warehouse_url)
    with Project(folder) as p:
        p.ingest()
        run = p.analysis.forecast("gmv", horizon=61, windows=2)  # 2025-10-29 .. 2025-12-28: November whole
        save_run(p, run)
        stored = stored_forecast(p)
        assert list(runs(p)["run_id"]) == [run.run_id]
        sug = suggest_targets(run)
        path = accept_targets(p, sug, level="p80", owner="Li")
        assert track_accuracy(p).empty  # no actual after the data's last day yet
    with (folder / "channelscope.yaml").open("a", encoding="utf-8") as fh:
        fh.write("targets:\n  - {file: targets.csv}\n")  # the accepted file, named in the config
    with Project(folder, read_only=True) as p:
        targets = load_targets(p)
    assert stored["mean"].map(type).eq(Decimal).all() or stored["mean"].dtype == object
    by = stored.assign(mean=stored["mean"].map(Decimal)).pivot_table(
        index="period", columns="series", values="mean", aggfunc="sum"
    )
    assert all(Decimal(str(r["a"])) + Decimal(str(r["b"])) == Decimal(str(r["total"])) for _, r in by.iterrows())
    nov = sug[sug["period"] == "2025-11"].set_index(sug[sug["period"] == "2025-11"]["channel"].fillna("total"))
    assert list(sug["period"].unique()) == ["2025-11"]  # only whole months
    daily = run.forecast[(run.forecast["period"].dt.month == 11)].groupby("series")["mean"].sum()
    for series in ("a", "b", "total"):
        assert nov.at[series, "p50"] == round(daily[series], 2)
        assert nov.at[series, "p80"] >= nov.at[series, "p50"]  # equal here: the synthetic sales have no noise
    written = {(t.metric, t.period, t.channel): t.value for t in targets}
    assert written[("gmv", "2025-11", "a")] == nov.at["a", "p80"] and path.name == "targets.csv"
    pace = forecast_pacing(run, "a", "2025-11")
    assert len(pace) == 30 and abs(pace["cumulative_share"].iloc[-1] - 1) < 1e-9
    # weekends weigh more than weekdays in channel a, so the pacing curve is not a straight line
    assert pace["expected"].max() > 1.3 * pace["expected"].min()
    # target pacing by the stored forecast's shape: the share of November's forecast on 1-10 November
    with Project(folder, read_only=True) as p:
        paced = Target(metric="gmv", period="2025-11", value=1000.0, channel="a", pacing="forecast")
        december = Target(metric="gmv", period="2025-12", value=1000.0, channel="a", pacing="forecast")
        got = attainment(p, [paced], as_of=dt.date(2025, 11, 10)).set_index("period")
        dec = attainment(p, [december], as_of=dt.date(2025, 12, 5)).iloc[0]
        con = p.warehouse.ibis
        hand = con.raw_sql(
            "SELECT SUM(CASE WHEN period <= DATE '2025-11-10' THEN mean END) / SUM(mean) FROM forecasts"
            f" WHERE run_id = '{run.run_id}' AND series = 'a' AND period BETWEEN DATE '2025-11-01' AND DATE '2025-11-30'"
        ).fetchall()[0][0]
    assert abs(got.at["2025-11", "elapsed_share"] - float(hand)) < 1e-9 and got.at["2025-11", "pacing_note"] is None
    assert abs(got.at["2025-11", "elapsed_share"] - pace["cumulative_share"].iloc[9]) < 1e-4
    assert abs(got.at["2025-11", "elapsed_share"] - 10 / 30) > 0.005  # not the straight line
    # December is not covered whole by the stored run (it ends on 28 December): linear, and it says why
    assert dec["elapsed_share"] == 5 / 31 and "covers 2025-12-01..2025-12-31" in dec["pacing_note"]


def test_tracked_accuracy_when_actuals_arrive(tmp_path: Path) -> None:
    folder = _shop(tmp_path, "duckdb:///warehouse.duckdb", days=150)
    with Project(folder) as p:
        p.ingest()
        hist_end = START + dt.timedelta(days=119)
        run = p.analysis.forecast("gmv", horizon=14, windows=2, end=hist_end)
        save_run(p, run)
        tracked = track_accuracy(p)
        stored = accuracy_history(p)
    acc = tracked[tracked["horizon"] == "all"].set_index("level")
    # the next 14 days arrived: channel a sells 22 on weekdays and 34.5 on weekends, b 10.5
    assert acc.at["channel", "n"] == 28 and acc.at["total", "n"] == 14
    assert acc.at["total", "mae"] < 1.5
    # and per horizon: days 1-7 and 8-14 ahead, each stored as a tracked row
    by = tracked[tracked["level"] == "total"].set_index("horizon")
    assert by.loc[["1-7", "8-14"], "n"].tolist() == [7, 7]
    assert abs((by.at["1-7", "mae"] + by.at["8-14", "mae"]) / 2 - by.at["all", "mae"]) < 1e-9
    kept = stored[stored["kind"] == "tracked"]
    assert sorted(kept["horizon"]) == sorted(tracked["horizon"])
    # the backtest is stored per horizon too: the whole window ("all") and 1-7, 8-14
    assert set(stored[stored["kind"] == "backtest"]["horizon"]) == {"all", "1-7", "8-14"}


def test_a_warehouse_from_an_earlier_version_gains_the_horizon_column(tmp_path: Path) -> None:
    """forecast_accuracy made without ``horizon`` (before it was declared): opening and storing a run adds
    the column; the old rows read NULL, the new ones their horizon."""
    folder = _shop(tmp_path, "duckdb:///warehouse.duckdb", days=100)
    with Project(folder) as p:
        p.ingest()
        p.warehouse.execute(
            "CREATE TABLE forecast_accuracy (run_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, level VARCHAR NOT NULL,"
            " model VARCHAR NOT NULL, series_count BIGINT, n BIGINT, mae DOUBLE, mase DOUBLE, smape DOUBLE,"
            " bias DOUBLE, coverage_80 DOUBLE, coverage_95 DOUBLE, festival_mae DOUBLE, festival_days BIGINT,"
            " measured_at TIMESTAMP NOT NULL)"
        )
        p.warehouse.execute(
            "INSERT INTO forecast_accuracy VALUES ('old', 'backtest', 'total', 'selected', 1, 14, 1.0, 0.5, 0.1,"
            " 0.0, 0.8, 0.95, NULL, 0, TIMESTAMP '2025-01-01 00:00:00')"
        )
    with Project(folder) as p:
        save_run(p, p.analysis.forecast("gmv", horizon=14, windows=2))
        rows = accuracy_history(p)
    assert rows[rows["run_id"] == "old"]["horizon"].isna().all()
    assert set(rows[rows["run_id"] != "old"]["horizon"]) == {"all", "1-7", "8-14"}


def test_cli_forecast_and_plan(tmp_path: Path) -> None:
    folder = _shop(tmp_path, "duckdb:///warehouse.duckdb", days=100)
    with Project(folder) as p:
        p.ingest()
    r = run("forecast", "run", "-p", str(folder), "-h", "14", "--windows", "2")
    assert r.returncode == 0, r.stderr
    assert "total" in r.stdout and "MASE" in r.stdout
    assert "1-7" in r.stdout and "8-14" in r.stdout  # the backtest by steps ahead
    bad = run("forecast", "run", "-p", str(folder), "--metric", "visitors")
    assert bad.returncode == 2 and "cannot forecast" in bad.stderr + bad.stdout
    (folder / "stock.csv").write_text("date,sku,location,on_hand\n2025-09-08,X,W,5\n")
    (folder / "lead.csv").write_text("sku,lead_time_days\nX,-3\n")
    r = run("plan", "inventory", "-p", str(folder), "--on-hand", "stock.csv", "--lead-times", "lead.csv", cwd=folder)
    assert r.returncode == 2 and "row 2" in r.stderr + r.stdout, r.stderr


def test_scheduled_refresh_scores_the_last_run_then_stores_a_new_one(tmp_path: Path) -> None:
    from channelscope.monitor.schedule import Scheduler, jobs_from_config
    from channelscope.plan.forecasts import accuracy_history

    folder = _shop(tmp_path, "duckdb:///warehouse.duckdb", days=150)
    with (folder / "channelscope.yaml").open("a", encoding="utf-8") as fh:
        fh.write('schedule:\n  forecasts:\n    - {metric: gmv, hierarchy: channel, horizon: 14, cron: "30 6 * * *"}\n')
    with Project(folder) as p:
        p.ingest()
        old = p.analysis.forecast("gmv", horizon=14, windows=2, end=START + dt.timedelta(days=119))
        save_run(p, old)  # made 30 days ago: its 14 days have arrived since
        jobs = jobs_from_config(p)
        assert [j.name for j in jobs] == ["forecast:gmv/channel"]
        now = dt.datetime(2025, 11, 1, 0, 0, tzinfo=dt.UTC)
        done = Scheduler(p, jobs=jobs, now=now).run_pending(now + dt.timedelta(days=1))
        assert [r.status for r in done] == ["ok"], [r.message for r in done]
        message = done[0].message
        stored = runs(p)
        tracked = accuracy_history(p)
    assert len(stored) == 2 and stored.iloc[0]["run_id"] != old.run_id
    assert f"previous run {old.run_id}: total MAE" in message and "14 days" in message
    assert pd.Timestamp(stored.iloc[0]["history_end"]).date() == START + dt.timedelta(days=149)
    mine = tracked[(tracked["run_id"] == old.run_id) & (tracked["kind"] == "tracked")]
    assert set(mine["level"]) == {"channel", "total"}


def test_a_bad_scheduled_forecast_is_named_at_load(tmp_path: Path) -> None:
    from channelscope.errors import ConfigError

    folder = _shop(tmp_path, "duckdb:///warehouse.duckdb", days=10)
    with (folder / "channelscope.yaml").open("a", encoding="utf-8") as fh:
        fh.write('schedule:\n  forecasts:\n    - {metric: visitors, cron: "30 6 * * *"}\n')
    try:
        Project(folder)
    except ConfigError as exc:
        assert "metric is gmv, paid_orders or units" in str(exc) and "forecasts" in str(exc)
    else:
        raise AssertionError("a scheduled forecast of visitors was accepted")
