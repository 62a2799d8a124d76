"""Forecasts: the demo's channel-level accuracy against seasonal naive, interval coverage, festival-day
error, coherence to the cent at every level; CDNOW weekly against seasonal naive; both engines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import shared_data, write_project

from channelscope import Project
from channelscope.analysis.forecast import ForecastRun, forecast_frame
from channelscope.analysis.forecast.engine import scores
from channelscope.analysis.forecast.models import MODELS, STATSFORECAST, statsforecast_model
from channelscope.analysis.forecast.reconcile import reconcile, summing_matrix, to_cents
from channelscope.config.commerce_calendar import CommerceCalendarConfig

FAST = ("seasonal_naive", "calendar_regression")


# ---- reconciliation against the formula ---------------------------------------------------------


def test_summing_matrix_and_mint_against_the_formula() -> None:
    bottom = [("a", "x"), ("a", "y"), ("b", "z")]
    nodes, s = summing_matrix(bottom)
    assert nodes == [(), ("a",), ("b",), ("a", "x"), ("a", "y"), ("b", "z")]
    assert s.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    base = np.array([[100.0], [70.0], [25.0], [30.0], [45.0], [22.0]])  # incoherent: 70 != 30 + 45 ...
    rng = np.random.default_rng(1)
    errors = rng.normal(size=(40, 6)) * np.array([6, 4, 3, 2, 2, 2])
    got, used = reconcile(base, s, errors=errors, method="wls")
    w_inv = np.diag(1 / errors.var(axis=0))
    hand = np.linalg.inv(s.T @ w_inv @ s) @ s.T @ w_inv @ base  # (S' W^-1 S)^-1 S' W^-1 y
    assert used == "wls_var" and np.allclose(got, hand)
    got, used = reconcile(base, s, errors=errors, method="mint_shrink")
    assert used == "mint_shrink"
    coherent = s @ got
    assert np.allclose(coherent[0], coherent[1] + coherent[2]) and np.allclose(coherent[1], coherent[3] + coherent[4])
    bu, used = reconcile(base, s, method="bottom_up")
    assert used == "bottom_up" and bu[:, 0].tolist() == [30.0, 45.0, 22.0]
    cents = to_cents(np.array([[10.004], [0.333], [1.0]]), s)
    assert cents[:, 0].tolist() == [1133, 1033, 100, 1000, 33, 100]  # every node is the sum of rounded bottoms


# ---- the demo: known demand with weekday, festival and trend effects ----------------------------


@pytest.fixture(scope="module")
def demo_runs(demo_shop: Path) -> dict[str, ForecastRun]:
    with Project(demo_shop, read_only=True) as p:
        return {
            "gmv": p.analysis.forecast("gmv", hierarchy="distributor", horizon=28, models=FAST),
            "paid_orders": p.analysis.forecast("paid_orders", hierarchy="channel", horizon=28, models=FAST),
            "units": p.analysis.forecast("units", hierarchy="product", horizon=28, models=FAST),
            "sku_gmv": p.analysis.forecast("gmv", hierarchy="product", horizon=28, models=FAST),
        }


def _acc(run: ForecastRun, level: str, model: str) -> pd.Series:
    a = run.accuracy
    return a[(a["level"] == level) & (a["model"] == model)].iloc[0]


def test_demo_channel_mase_beats_seasonal_naive_by_20_percent(demo_runs: dict[str, ForecastRun]) -> None:
    run = demo_runs["paid_orders"]
    chosen, naive = _acc(run, "channel", "selected"), _acc(run, "channel", "seasonal_naive")
    print("paid orders channel MASE selected", round(chosen["mase"], 3), "seasonal naive", round(naive["mase"], 3))
    assert chosen["mase"] <= 0.8 * naive["mase"]  # 0.823 vs 1.171 measured (-30%)


def test_demo_units_channel_mase(demo_runs: dict[str, ForecastRun]) -> None:
    run = demo_runs["units"]
    reg, naive, chosen = (_acc(run, "channel", m) for m in ("calendar_regression", "seasonal_naive", "selected"))
    print("units channel MASE", round(reg["mase"], 3), round(naive["mase"], 3), round(chosen["mase"], 3))
    # units per channel (product hierarchy): the level's model (the calendar regression) 21.8% below
    # seasonal naive (0.940 vs 1.202 measured)
    assert reg["mase"] <= 0.8 * naive["mase"] and chosen["mase"] <= 0.8 * naive["mase"]


def test_demo_gmv_channel_accuracy(demo_runs: dict[str, ForecastRun]) -> None:
    run = demo_runs["gmv"]
    reg, naive, chosen = (_acc(run, "channel", m) for m in ("calendar_regression", "seasonal_naive", "selected"))
    print(
        "gmv channel MASE",
        {m: round(a["mase"], 3) for m, a in zip(("reg", "naive", "sel"), (reg, naive, chosen), strict=True)},
    )
    assert reg["mase"] <= 0.8 * naive["mase"]  # the calendar model: 0.939 vs 1.227 measured
    assert chosen["mase"] <= 0.8 * naive["mase"]  # one model per level: the same 0.939 (-23.5%)


@pytest.mark.parametrize("metric", ["gmv", "units"])
def test_demo_interval_coverage_within_5_points(demo_runs: dict[str, ForecastRun], metric: str) -> None:
    chosen = _acc(demo_runs[metric], "channel", "selected")
    print(metric, "coverage", round(chosen["coverage_80"], 3), round(chosen["coverage_95"], 3), int(chosen["n"]))
    assert abs(chosen["coverage_80"] - 0.80) <= 0.05
    assert abs(chosen["coverage_95"] - 0.95) <= 0.05


def test_demo_festival_day_error_is_reported(demo_runs: dict[str, ForecastRun]) -> None:
    run = demo_runs["gmv"]
    chosen, naive = _acc(run, "channel", "selected"), _acc(run, "channel", "seasonal_naive")
    # the last window (2025-11-03..11-30) holds 双11's balance, main day and after, and Black Friday
    assert chosen["festival_days"] >= 12
    print("festival-day MAE", round(chosen["festival_mae"], 1), "seasonal naive", round(naive["festival_mae"], 1))
    assert chosen["festival_mae"] < naive["festival_mae"]


@pytest.mark.parametrize(
    ("metric", "dims"),
    [
        ("gmv", ("channel", "distributor")),
        ("units", ("channel", "category", "sku")),
        ("sku_gmv", ("channel", "category", "sku")),
    ],
)
def test_demo_reconciled_forecasts_add_up_to_the_cent(
    demo_runs: dict[str, ForecastRun], metric: str, dims: tuple[str, ...]
) -> None:
    fc = demo_runs[metric].forecast
    assert len(fc["period"].unique()) == 28
    for depth in range(len(dims)):
        parent_level = "total" if depth == 0 else dims[depth - 1]
        child = fc[fc["level"] == dims[depth]]
        parents = fc[fc["level"] == parent_level]
        keys = ["period", *dims[:depth]]
        sums = child.groupby(keys)["cents"].sum()
        mine = parents.set_index(keys)["cents"]
        assert sums.reindex(mine.index).tolist() == mine.tolist(), (metric, dims[depth])
    assert (fc["mean"] * 100).round().astype("int64").tolist() == fc["cents"].tolist()
    assert (fc["p10"] <= fc["p90"]).all() and (fc["p2_5"] <= fc["p97_5"]).all()


def test_demo_backtest_actuals_equal_plain_sql(demo_shop: Path, demo_runs: dict[str, ForecastRun]) -> None:
    bt = demo_runs["gmv"].backtest
    total = bt[(bt["series"] == "total") & (bt["model"] == "seasonal_naive")].set_index("period")["actual"]
    with Project(demo_shop, read_only=True) as p:
        rows = p.warehouse.execute(
            "SELECT business_date, SUM(net_amount_base) FROM orders "
            "WHERE (paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded')) "  # 支付金额
            f"AND business_date BETWEEN DATE '{total.index.min().date()}' AND DATE '{total.index.max().date()}' "
            "GROUP BY 1"
        )
    sql = {pd.Timestamp(d): float(v) for d, v in rows}
    assert {k: round(v, 2) for k, v in total.items()} == {k: round(v, 2) for k, v in sql.items()}


def test_demo_gmv_by_sku_is_what_buyers_paid_for_the_goods(demo_shop: Path) -> None:
    """GMV by SKU (the product hierarchy's) summed per channel and day equals what the paid orders with lines
    paid for their goods (net amount less shipping), in plain SQL: the 到手价 allocation loses no fen."""
    from channelscope.analysis.forecast import line_gmv

    with Project(demo_shop, read_only=True) as p:
        got = line_gmv(p)
        rows = p.warehouse.execute(
            "SELECT o.channel_id, o.business_date, SUM(o.net_amount_base * (o.net_amount - COALESCE(o.shipping_amount, 0)) "
            "/ o.net_amount), COUNT(*) FROM orders o "
            "WHERE (o.paid_at IS NOT NULL OR o.status IN ('paid', 'shipped', 'completed', 'refunded')) "
            "AND o.net_amount <> 0 AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id) GROUP BY 1, 2"
        )
        lines = p.warehouse.execute("SELECT COUNT(*) FROM order_lines")[0][0]
    sql = pd.DataFrame(rows, columns=["channel", "period", "sql", "orders"])
    sql["period"] = pd.to_datetime(sql["period"])
    sql["sql"] = sql["sql"].astype(float)
    mine = got.assign(period=pd.to_datetime(got["period"])).groupby(["channel", "period"], as_index=False)["gmv"].sum()
    both = mine.merge(sql, on=["channel", "period"], how="outer")
    assert both["gmv"].notna().all() and both["sql"].notna().all()
    assert len(got["sku"].unique()) > 10 and lines > 0
    # to the fen in the base currency; a foreign-currency line converts at its order's rate, rounded per line
    assert (both["gmv"] - both["sql"]).abs().max() <= 0.01 * both["orders"].max() * 3
    assert abs(both["gmv"].sum() - both["sql"].sum()) < 0.005 * len(got)
    print("GMV by SKU", len(got), "rows,", both["channel"].nunique(), "channels, total", round(both["gmv"].sum(), 2))


# ---- CDNOW: real weekly sales -------------------------------------------------------------------


def test_cdnow_weekly_forecasts_beat_seasonal_naive() -> None:
    raw = pd.read_csv(shared_data("cdnow", "CDNOW_master.txt"), sep=r"\s+", dtype=str)
    raw = raw.drop_duplicates(subset=["customer_id", "date", "number_of_cds", "dollar_value"])
    day = pd.to_datetime(raw["date"], format="%Y%m%d")
    weekly = raw["dollar_value"].astype(float).groupby(day.dt.to_period("W-SUN").dt.start_time).sum()
    weekly = weekly[weekly.index < "1998-06-29"]  # the last week is cut off on 30 June
    history = pd.DataFrame({"period": weekly.index, "gmv": weekly.to_numpy(), "channel": "cdnow"})
    no_china = CommerceCalendarConfig(events=[], statutory_holidays=False)
    _, _, _, bt, _, choice, _ = forecast_frame(
        history, metric="gmv", dims=("channel",), horizon=8, grain="week", windows=5, calendar=no_china, models=MODELS
    )
    mine = bt[bt["series"] == "cdnow"]
    mae = {m: scores(mine[mine["model"] == m])["mae"] for m in mine["model"].unique()}
    print("CDNOW weekly 8-week-ahead MAE over 5 windows", {k: round(v) for k, v in mae.items()}, choice)
    assert mae[choice["cdnow"]] < mae["seasonal_naive"]
    assert mae["calendar_regression"] < 0.9 * mae["seasonal_naive"]  # 4,414 vs 5,356 USD a week measured


# ---- statsforecast's models --------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(STATSFORECAST))
def test_statsforecast_models_keep_each_series_in_its_column(kind: str) -> None:
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta

    rng = np.random.default_rng(3)
    index = pd.date_range("2025-01-01", periods=120, freq="D")
    future = pd.date_range("2025-05-01", periods=14, freq="D")
    week = np.array([1.0, 1.0, 1.1, 1.0, 1.2, 1.6, 1.7])
    levels = [5.0, 50.0, 500.0]  # three series far apart: a column swap would show at once
    y = np.column_stack([lv * week[index.dayofweek] * rng.lognormal(0, 0.1, len(index)) for lv in levels])
    got = statsforecast_model(kind, y, index, future)
    model = {
        "auto_ets": AutoETS(season_length=7),
        "auto_arima": AutoARIMA(season_length=7),
        "auto_theta": AutoTheta(season_length=7),
        "mstl": MSTL(season_length=[7], trend_forecaster=AutoETS(model="ZZN")),
    }[kind]
    for j, lv in enumerate(levels):  # statsforecast on one series alone, by hand
        frame = pd.DataFrame({"unique_id": "x", "ds": np.arange(len(index)), "y": np.log1p(y[:, j])})
        alone = StatsForecast(models=[model], freq=1).forecast(h=14, df=frame, level=[80, 95])
        alias = STATSFORECAST[kind]
        assert np.allclose(got.quantiles[0.5][:, j], np.expm1(alone[alias].to_numpy()), rtol=1e-6)
        assert np.allclose(got.quantiles[0.975][:, j], np.expm1(alone[f"{alias}-hi-95"].to_numpy()), rtol=1e-6)
        assert 0.5 * lv < got.mean[:, j].mean() < 2.5 * lv
    q = got.quantiles
    assert (q[0.025] <= q[0.1]).all() and (q[0.1] <= q[0.5]).all() and (q[0.5] <= q[0.9]).all()
    assert (q[0.9] <= q[0.975]).all() and (got.mean >= q[0.5]).all()


# ---- both engines ---------------------------------------------------------------------------------

BODY = """
channels:
  - {id: a, name: A, kind: marketplace, platform: tmall}
  - {id: b, name: B, kind: own_store, platform: shopify}
sources:
  - {name: orders, path: exports/orders.csv, preset: canonical_orders}
"""


def test_forecast_on_both_engines(tmp_path: Path, warehouse_url: str) -> None:
    folder = write_project(tmp_path / "shop", BODY, warehouse_url)
    (folder / "exports").mkdir()
    rows = ["source_order_id,channel_id,customer_key,ordered_at,paid_at,status,net_amount"]
    start = dt.date(2025, 1, 1)
    for i in range(120):
        day = start + dt.timedelta(days=i)
        for ch, n in (("a", 2 + (day.weekday() >= 5)), ("b", 1)):
            rows += [f"{ch}{i}-{k},{ch},c{k},{day} 12:00:00,{day} 12:00:00,paid,{10 + k}.50" for k in range(n)]
    (folder / "exports" / "orders.csv").write_text("\n".join(rows) + "\n")
    with Project(folder) as p:
        p.ingest()
        run = p.analysis.forecast("gmv", horizon=14, models=FAST, windows=2)
    fc = run.forecast
    assert run.history_start == start and run.history_end == start + dt.timedelta(days=119)
    assert fc["period"].min() == pd.Timestamp(start + dt.timedelta(days=120))
    by = fc.pivot(index="period", columns="series", values="cents")
    assert (by["a"] + by["b"] == by["total"]).all()
    # weekends in channel a: 3 orders of 10.50 + 11.50 + 12.50, weekdays 2: the forecast knows
    a = fc[fc["series"] == "a"].set_index("period")["mean"]
    weekend = a[a.index.dayofweek >= 5].mean()
    weekday = a[a.index.dayofweek < 5].mean()
    assert abs(weekend - 34.5) < 1.0 and abs(weekday - 22.0) < 1.0


def test_a_festival_seen_only_last_year_is_learned_in_full() -> None:
    """The ridge on a calendar phase is in the weight its days carry: a phase seen once, a year back
    (where each day weighs 0.5 ** (365 / HALF_LIFE) of today's), is not shrunk towards no effect."""
    from channelscope.analysis.forecast.models import calendar_regression

    rng = np.random.default_rng(3)
    index = pd.date_range("2024-11-01", periods=400, freq="D")
    future = pd.date_range(index[-1] + pd.Timedelta(days=1), periods=14, freq="D")
    days = index.append(future)
    fest = pd.DataFrame({"festival": 0.0}, index=days)
    fest.loc["2024-11-10":"2024-11-12", "festival"] = 1.0  # seen once, a year before its next days
    fest.loc[future[5] : future[7], "festival"] = 1.0
    level = np.where(fest.loc[index, "festival"].to_numpy() > 0, 300.0, 100.0)
    y = (level * np.exp(rng.normal(0, 0.05, len(index))))[:, None]
    fc = calendar_regression(y, index, future, fest)
    print("festival days", fc.mean[5:8, 0].round(1), "ordinary days", fc.mean[:5, 0].round(1))
    assert np.all(fc.mean[5:8, 0] > 0.85 * 300) and np.all(np.abs(fc.mean[:5, 0] - 100) < 10)


def test_accuracy_per_level_and_horizon(demo_runs: dict[str, ForecastRun]) -> None:
    """Per level, model and horizon bucket (1-7, 8-14, 15-28 days ahead): computed again from the last
    backtest window's rows by hand; the buckets' errors weigh up to the whole window's."""
    run = demo_runs["paid_orders"]
    h = run.horizon_accuracy
    assert sorted(h["horizon"].unique()) == ["1-7", "15-28", "8-14"]
    bt = run.backtest[run.backtest["origin"] == run.backtest["origin"].max()]
    ch = bt[(bt["level"] == "channel") & (bt["model"] == "seasonal_naive")]
    for name, (a, b) in {"1-7": (1, 7), "8-14": (8, 14), "15-28": (15, 28)}.items():
        part = ch[ch["step"].between(a, b)]
        row = h[(h["level"] == "channel") & (h["model"] == "seasonal_naive") & (h["horizon"] == name)].iloc[0]
        assert row["n"] == len(part) and abs(row["mae"] - (part["mean"] - part["actual"]).abs().mean()) < 1e-9
    whole = _acc(run, "channel", "selected")
    sel = h[(h["level"] == "channel") & (h["model"] == "selected")]
    assert abs((sel["mae"] * sel["n"]).sum() / sel["n"].sum() - whole["mae"]) < 1e-9
    # per-series MASE on a bucket: the bucket's MAE over the same denominator as the whole window's
    sa = run.series_accuracy
    naive = sa[(sa["level"] == "channel") & (sa["model"] == "seasonal_naive")].set_index("series")
    denom = naive["mae"] / naive["mase"]
    part = ch[ch["step"].between(1, 7)]
    hand = ((part["mean"] - part["actual"]).abs().groupby(part["series"]).mean() / denom).mean()
    got = h[(h["level"] == "channel") & (h["model"] == "seasonal_naive") & (h["horizon"] == "1-7")].iloc[0]["mase"]
    assert abs(got - hand) < 1e-9
