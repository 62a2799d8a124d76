"""Media mix model, promotion uplift and the budget allocator against the media scenario's ground truth
(demo/media.py: adstock, Hill saturation, promotions with a known effect)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from channelscope.analysis.adstock import geometric_adstock, hill, weibull_adstock
from channelscope.analysis.allocator import allocate
from channelscope.analysis.commerce_calendar import commerce_events
from channelscope.analysis.media_mix import MediaMixFit, calendar_controls, fit_media_mix
from channelscope.analysis.planned_events import PlannedEvent, event_key
from channelscope.analysis.uplift import cannibalization, promotion_channels, promotion_uplift
from channelscope.demo.media import PROMOTIONS, MediaScenario, calendar_config, simulate_media
from channelscope.errors import QueryError


def scenario_events(sc: MediaScenario) -> list[PlannedEvent]:
    """The scenario's festival phases (618 and 双11: pre-sale, balance, main day, after) and promotions."""
    events = [
        PlannedEvent(f"{ev.name}:{ev.phase}", ev.start, ev.end, None, "calendar")
        for ev in commerce_events(sc.days[0], sc.days[-1], calendar_config())
    ]
    events += [
        PlannedEvent(
            event_key(p.name), pd.Timestamp(p.start).date(), pd.Timestamp(p.end).date(), p.channel_id, "promotion"
        )
        for p in PROMOTIONS
    ]
    return events


def fit_scenario(sc: MediaScenario, **kw) -> MediaMixFit:
    total = sc.total()
    controls = calendar_controls(sc.days, scenario_events(sc), discount_rate=total["discount_rate"])
    return fit_media_mix(total["gmv"], sc.spend, controls, **kw)


@pytest.fixture(scope="module")
def scenario() -> MediaScenario:
    return simulate_media(7)


@pytest.fixture(scope="module")
def fitted(scenario: MediaScenario) -> MediaMixFit:
    return fit_scenario(scenario)


def test_transforms_by_hand() -> None:
    assert geometric_adstock(np.array([100.0, 0, 0]), 0.5).tolist() == [100.0, 50.0, 25.0]
    assert hill(np.array([0.0, 2.0, 4.0]), 2.0, 2.0).tolist() == [0.0, 0.5, 0.8]
    w = weibull_adstock(np.r_[100.0, np.zeros(40)], 2.0, 3.0)
    assert w.sum() == pytest.approx(100.0)  # carry-over moves spend in time, it does not create any
    assert int(np.argmax(w)) > 0  # a Weibull kernel with shape > 1 peaks after the spend day


def test_scenario_truth_is_additive(scenario: MediaScenario) -> None:
    """A platform's true ROAS is what removing its spend removes (same seed, same draws)."""
    without = simulate_media(7, split={"oceanengine": 0.0})
    lost = scenario.daily["gmv"].sum() - without.daily["gmv"].sum()
    p = next(p for p in scenario.truth["platforms"] if p["platform"] == "oceanengine")
    assert lost == pytest.approx(p["incremental_gmv"], abs=0.01 * len(scenario.daily))
    assert lost / p["spend"] == pytest.approx(p["true_roas"], rel=1e-4)
    with pytest.raises(ValueError, match="unknown platform"):
        simulate_media(7, split={"weibo": 1.0})


def test_media_mix_recovers_every_platform_roas_within_20_percent_and_their_order(fitted, scenario) -> None:
    truth = pd.Series({p["platform"]: p["true_roas"] for p in scenario.truth["platforms"]})
    got = fitted.platforms.set_index("platform")["roas"]
    error = (got / truth - 1).abs()
    assert error.max() < 0.2, error.to_dict()
    assert list(got.sort_values().index) == list(truth.sort_values().index)
    assert fitted.fit["r2"] > 0.98
    assert fitted.fit["mape_out_of_sample"] < 0.03
    assert fitted.fit["fit_seconds"] < 60
    # decays are recovered too (geometric adstock of the scenario)
    decay = pd.Series({p["platform"]: p["decay"] for p in scenario.truth["platforms"]})
    assert (fitted.platforms.set_index("platform")["decay"] - decay).abs().max() < 0.1
    # marginal ROAS is below average ROAS on a saturating curve
    assert (fitted.platforms["marginal_roas"] < fitted.platforms["roas"]).all()


def test_response_curves_start_at_zero_and_pass_through_today(fitted) -> None:
    curves = fitted.response_curves()
    today = curves[curves.scale == 1.0].set_index("platform")["contribution"]
    assert curves[curves.scale == 0.0]["contribution"].abs().max() == 0.0
    assert today.to_dict() == pytest.approx(fitted.platforms.set_index("platform")["contribution"].to_dict())


def test_promotion_uplift_within_15_percent_with_an_interval_covering_the_truth(fitted, scenario) -> None:
    table, daily = promotion_uplift(fitted)
    truth = pd.DataFrame(scenario.truth["promotions"]).set_index("start")
    table = table.set_index("start")
    assert list(table.index) == list(truth.index)
    for start, row in table.iterrows():
        true = truth.loc[start, "true_uplift_gmv"]
        assert abs(row["uplift"] / true - 1) < 0.15, start
        assert row["uplift_low"] <= true <= row["uplift_high"], start
        # the pull-forward after the window is found, negative, and so is the dip before it
        assert row["hangover_high"] < 0
        assert row["dip_high"] < 0
        assert truth.loc[start, "true_hangover_gmv"] == pytest.approx(row["hangover"], rel=0.2)
        assert row["hangover_low"] <= truth.loc[start, "true_hangover_gmv"] <= row["hangover_high"], start
    # the dips (3 days each, a few percent of a day's GMV): one in twenty intervals may miss, the total is close
    dip_cover = (table["dip_low"] <= truth["true_dip_gmv"]) & (truth["true_dip_gmv"] <= table["dip_high"])
    assert dip_cover.sum() >= len(table) - 1
    assert table["dip"].sum() == pytest.approx(truth["true_dip_gmv"].sum(), rel=0.1)
    # net uplift: window, dip and hangover together, against the sum of the three truths
    net_truth = truth[["true_uplift_gmv", "true_dip_gmv", "true_hangover_gmv"]].sum(axis=1)
    net_cover = (table["net_uplift_low"] <= net_truth) & (net_truth <= table["net_uplift_high"])
    assert net_cover.sum() >= len(table) - 1
    assert ((table["net_uplift"] / net_truth - 1).abs() < 0.15).sum() >= len(table) - 1  # as the dips
    assert set(daily.columns) == {"date", "promotion", "start", "actual", "counterfactual", "low", "high"}
    # without a discount cost the margin is empty, never 0
    assert table["incremental_margin"].isna().all()
    costs = {s: 1000.0 for s in table.index}
    with_cost, _ = promotion_uplift(fitted, discount_cost=costs, margin_rate=0.4)
    assert with_cost["incremental_margin"].tolist() == pytest.approx((with_cost["net_uplift"] * 0.4 - 1000).tolist())


def test_festival_phases_are_controls_of_their_own(fitted, scenario) -> None:
    """618 and 双11 enter the model phase by phase (pre-sale 定金, balance 尾款, main day, after): each phase's
    coefficient is its true lift (share of the base level x the level, yuan per day)."""
    cols = [c for c in fitted.controls.columns if c.startswith("event:")]
    for key in ("618", "双11"):
        assert {f"event:{key}:{p}" for p in ("presale", "balance", "main_day", "after")} <= set(cols)
    level = 60_000.0
    beta = pd.Series(fitted.beta[: fitted.controls.shape[1]], index=fitted.controls.columns)
    names = {"618": "618", "double11": "双11", "double12": "双12", "spring_festival": "春节"}
    for feature, lift in scenario.truth["festival_lift"].items():
        key, phase = feature.split(":")
        got = beta[f"event:{names[key]}:{phase}"]
        # the base grows 30% over the two years: the coefficient is the lift at the mean level
        assert got == pytest.approx(lift * level * 1.15, rel=0.25, abs=2500), feature


def test_cannibalization_of_other_channels_is_recovered(fitted, scenario) -> None:
    """The scenario's douyin-only promotion takes sales from the other channels during its window."""
    wide = scenario.daily.pivot(index="date", columns="channel_id", values="gmv")
    channels = promotion_channels(scenario_events(scenario))
    assert list(channels.values()) == ["douyin"]
    table = cannibalization(fitted, wide, channels).set_index("start")
    truth = pd.DataFrame(scenario.truth["promotions"]).set_index("start")
    (start,) = table.index
    row, true = table.loc[start], truth.loc[start, "true_cannibalization_gmv"]
    assert true < 0 and row["cannibalization_high"] < 0
    assert row["cannibalization"] == pytest.approx(true, rel=0.15)
    assert row["cannibalization_low"] <= true <= row["cannibalization_high"]
    # the promoted channel's own gain less what the others lose is the brand-wide uplift
    assert row["channel_uplift"] + row["cannibalization"] == pytest.approx(truth.loc[start, "true_uplift_gmv"], rel=0.1)
    assert row["cannibalized_share"] == pytest.approx(0.3, abs=0.06)


def test_allocator_gain_is_realised_when_the_scenario_is_rerun(fitted, scenario) -> None:
    plan = allocate(fitted)
    assert plan.platforms["recommended_spend"].sum() == pytest.approx(plan.platforms["current_spend"].sum())
    assert plan.expected_gain > 0
    rerun = simulate_media(7, split=plan.split)
    realised = rerun.daily["gmv"].sum() - scenario.daily["gmv"].sum()
    assert rerun.spend.to_numpy().sum() == pytest.approx(scenario.spend.to_numpy().sum(), rel=1e-6)
    assert plan.gain_low <= realised <= plan.gain_high
    assert realised == pytest.approx(plan.expected_gain, rel=0.15)


def test_allocator_limits(fitted) -> None:
    spend = fitted.spend.sum()
    plan = allocate(fitted, fixed=["alimama"], minimum={"baidu": float(spend["baidu"])})
    rows = plan.platforms.set_index("platform")
    assert rows.loc["alimama", "scale"] == pytest.approx(1.0)
    assert rows.loc["baidu", "recommended_spend"] >= spend["baidu"] * (1 - 1e-6)
    bigger = allocate(fitted, total=float(spend.sum()) * 1.1)
    assert bigger.platforms["recommended_spend"].sum() == pytest.approx(float(spend.sum()) * 1.1)
    margin = allocate(fitted, objective="margin", margin_rate=0.5)
    assert margin.expected_gain >= 0
    with pytest.raises(QueryError, match="unknown platform"):
        allocate(fitted, fixed=["weibo"])
    with pytest.raises(QueryError, match="outside what the limits allow"):
        allocate(fitted, total=float(spend.sum()) * 10)
    with pytest.raises(QueryError, match="margin_rate"):
        allocate(fitted, objective="margin")


def test_weibull_adstock_fits() -> None:
    sc = simulate_media(7, days=400)
    fit = fit_scenario(sc, adstock="weibull", holdout=0)
    assert fit.fit["r2"] > 0.95
    assert {"shape", "scale", "half_sat", "hill_shape"} <= set(fit.platforms.columns)
    with pytest.raises(QueryError, match="adstock"):
        fit_scenario(sc, adstock="exponential")
