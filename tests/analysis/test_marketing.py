"""Marketing ROI on a warehouse (DuckDB and PostgreSQL): the media scenario ingested, its aggregates
pulled once, and every figure against the scenario's files and ground_truth.json."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import KEY

from channelscope import Project
from channelscope.analysis.marketing import media_data
from channelscope.demo.media import generate_media_demo


def _build(folder: Path, warehouse_url: str) -> dict:
    truth = generate_media_demo(folder, seed=7, aov_scale=20)
    (folder / "secrets").mkdir(exist_ok=True)
    (folder / "secrets" / "pseudonym.key").write_text(KEY + "\n")
    cfg = (folder / "channelscope.yaml").read_text(encoding="utf-8")
    (folder / "channelscope.yaml").write_text(
        cfg.replace("url: duckdb:///warehouse.duckdb", f"url: '{warehouse_url}'"), encoding="utf-8"
    )
    return truth


def test_media_scenario_files_are_reproducible(tmp_path: Path) -> None:
    a = generate_media_demo(tmp_path / "a", seed=7, aov_scale=20)
    b = generate_media_demo(tmp_path / "b", seed=7, aov_scale=20)
    assert a == b
    for f in sorted((tmp_path / "a").rglob("*.*")):
        assert f.read_bytes() == (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes(), f.name
    assert json.loads((tmp_path / "a" / "ground_truth.json").read_text(encoding="utf-8")) == a


def test_marketing_roi_on_the_warehouse(tmp_path: Path, warehouse_url: str) -> None:
    folder = tmp_path / "media"
    truth = _build(folder, warehouse_url)
    orders = pd.read_csv(folder / "exports/canonical/orders.csv", dtype=str)
    ads = pd.read_csv(folder / "exports/canonical/ad_spend.csv", dtype=str)
    net = orders["net_amount"].astype(float)
    with Project(folder) as p:
        p.ingest()
        # the aggregates the models see are the files' totals
        gmv, spend, controls = media_data(p)
        assert gmv.sum() == pytest.approx(net.sum(), abs=0.01)
        assert gmv.sum() == pytest.approx(sum(truth["gmv_by_channel"].values()), abs=0.01)
        by_platform = ads.assign(spend=ads["spend"].astype(float)).groupby("platform")["spend"].sum()
        assert spend.sum().to_dict() == pytest.approx(by_platform.to_dict(), abs=0.01)
        assert {f"promo:{pr['start']}" for pr in truth["promotions"]} <= set(controls.columns)
        assert "discount_rate" in controls.columns and "event:双11:presale" in controls.columns
        # 618 and 双11 by phase: pre-sale (定金), balance (尾款), main day, the days after
        assert {
            f"event:{k}:{ph}" for k in ("618", "双11") for ph in ("presale", "balance", "main_day", "after")
        } <= set(controls.columns)
        assert {f"before:{pr['start']}" for pr in truth["promotions"]} <= set(controls.columns)

        # attribution: every model's credits add up to the paid orders and their GMV
        result = p.analysis.attribution(by="campaign", markov_order=2)
        assert result.table("conversions").sum().to_dict() == pytest.approx(
            {m: float(len(orders)) for m in result.table().columns}
        )
        assert result.table("revenue").sum().to_dict() == pytest.approx(
            {m: float(net.sum()) for m in result.table().columns}, rel=1e-9
        )
        # last touch is the order itself: its campaign code, else direct of its channel
        last = result.table("conversions")["last"]
        coded = orders["campaign_id"].fillna("direct:" + orders["channel_id"]).value_counts()
        assert last[last > 0].to_dict() == pytest.approx(coded.astype(float).to_dict())

        # the media mix model on the pulled aggregates recovers the truth
        fit = p.analysis.media_mix()
        true_roas = pd.Series({x["platform"]: x["true_roas"] for x in truth["platforms"]})
        got = fit.platforms.set_index("platform")["roas"]
        assert ((got / true_roas - 1).abs() < 0.2).all(), (got / true_roas - 1).to_dict()
        assert list(got.sort_values().index) == list(true_roas.sort_values().index)

        uplift, _ = p.analysis.promotion_uplift(fit, margin_rate=0.5)
        # the promotion's cost: the discount of the orders carrying its code, from the file
        coded = orders[orders["campaign_id"].notna()]
        disc = coded.assign(d=coded["discount_amount"].astype(float)).groupby("campaign_id")["d"].sum()
        starts = {pr["start"]: pr["campaign_id"] for pr in truth["promotions"]}
        for row in uplift.itertuples():
            cost = disc[starts[row.start]]
            assert row.incremental_margin == pytest.approx(row.net_uplift * 0.5 - cost, abs=0.05)
        t = pd.DataFrame(truth["promotions"]).set_index("start")["true_uplift_gmv"]
        u = uplift.set_index("start")
        t = t.reindex(u.index)
        assert t.notna().all()
        assert ((u["uplift"] / t - 1).abs() < 0.15).all()
        assert ((u["uplift_low"] <= t) & (t <= u["uplift_high"])).all()
        # the pull-forward either side of each window, and what the douyin-only promotion took from the others
        assert (u["dip_high"] < 0).all() and (u["hangover_high"] < 0).all()
        truth_p = pd.DataFrame(truth["promotions"]).set_index("start").reindex(u.index)
        one = truth_p[truth_p["channel_id"].notna()]
        assert list(u.loc[u["channel_id"].notna(), "channel_id"]) == list(one["channel_id"]) == ["douyin"]
        can, true_can = u.loc[one.index, "cannibalization"], one["true_cannibalization_gmv"]
        assert ((can / true_can - 1).abs() < 0.15).all()
        assert (
            (u.loc[one.index, "cannibalization_low"] <= true_can)
            & (true_can <= u.loc[one.index, "cannibalization_high"])
        ).all()
        assert u.loc[truth_p["channel_id"].isna(), "cannibalization"].isna().all()  # every channel promoted: none

        # ROI on every basis: platform-reported revenue is the file's, ROAS is revenue / spend
        roi = p.analysis.marketing_roi(fit=fit, margin_rate=0.5, uplift=uplift).set_index("campaign_id")
        ad_rows = roi[roi["kind"] == "ad"]
        rep = ads.assign(r=ads["reported_revenue"].astype(float)).groupby("campaign_id")["r"].sum()
        assert ad_rows["reported_revenue"].to_dict() == pytest.approx(rep.to_dict(), abs=0.01)
        assert (ad_rows["roas_platform"] > ad_rows["roas_incremental"]).all()  # every platform over-reports
        # coupons and 红包 are cost: the discount of the paid orders carrying each code, in plain SQL
        sql = p.warehouse.execute(
            "SELECT campaign_id, sum(CAST(discount_amount AS DOUBLE PRECISION) * net_amount_base / net_amount) FROM orders "
            "WHERE campaign_id IS NOT NULL AND net_amount <> 0 "
            "AND (paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded')) GROUP BY campaign_id"
        )
        given = {str(c): float(v) for c, v in sql}
        assert (
            set(roi.index[roi["kind"] == "promotion"])
            == set(given)
            == {pr["campaign_id"] for pr in truth["promotions"]}
        )
        assert roi["discount_cost"].to_dict() == pytest.approx({c: given.get(c, 0.0) for c in roi.index}, abs=0.01)
        assert roi["cost"].tolist() == pytest.approx((roi["spend"] + roi["discount_cost"]).tolist())
        assert roi["roi_incremental"].tolist() == pytest.approx(
            ((roi["incremental_revenue"] * 0.5 - roi["cost"]) / roi["cost"]).tolist()
        )
        # a promotion's incremental revenue is its net uplift; it has no ad spend, so no ROAS on spend
        promo = roi[roi["kind"] == "promotion"]
        net = u["net_uplift"].rename(index={pr["start"]: pr["campaign_id"] for pr in truth["promotions"]})
        assert promo["incremental_revenue"].to_dict() == pytest.approx(net.to_dict())
        assert promo["spend"].eq(0).all() and promo["roas_incremental"].isna().all()
        assert roi["attributed_revenue"].isna().all() and roi["missing"].str.contains("attributed").all()


def test_on_the_shop_demo_credits_add_up_and_a_poor_mmm_is_flagged(demo_shop: Path) -> None:
    """The seed-7 shop demo has no events (every order is one touch of its own channel) and sales with
    multiplicative festivals and injected shocks the additive MMM does not model: the credits still equal
    plain SQL, and the media mix model says it is not reliable instead of passing for a basis."""
    with Project(demo_shop, read_only=True) as p:
        n, gmv = p.warehouse.execute(
            "SELECT count(*), sum(net_amount_base) FROM orders "
            "WHERE paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded')"
        )[0]
        result = p.analysis.attribution(by="channel")
        assert result.table("conversions").sum().to_dict() == pytest.approx({m: float(n) for m in result.table()})
        assert result.table("revenue").sum().to_dict() == pytest.approx({m: float(gmv) for m in result.table()})
        fit = p.analysis.media_mix()
        assert fit.fit["reliable"] == 0.0 and fit.fit["r2"] < 0.8
        assert (fit.platforms["roas"] >= 0).all()  # spend never lowers GMV in the model
