"""Change alerts that know the calendar: a week compared with one holding a different share of a planned
festival (the week after 双11 vs the week of 双11) is compared with the same week last year instead, and
the evidence says so. On the demo, no week-over-week alert in the weeks after 双11 or 618 that the
ground truth does not contain."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from tests.conftest import copy_demo

from channelscope import Project
from channelscope.analysis.planned_events import PlannedEvent, calendar_mismatch
from channelscope.monitor.evaluate import evaluate_rules

D = dt.date


def test_calendar_mismatch_by_festival_share() -> None:
    events = [PlannedEvent("618", D(2025, 6, 1), D(2025, 6, 18), kind="calendar")]
    # W25 (06-16..22) has 3 festival days, W24 (06-09..15) all 7: unlike
    assert calendar_mismatch(events, (D(2025, 6, 16), D(2025, 6, 22)), (D(2025, 6, 9), D(2025, 6, 15))) == {
        "period": ["618"],
        "base": ["618"],
        "festival_share": [round(3 / 7, 4), 1.0],
    }
    assert calendar_mismatch(events, (D(2025, 6, 30), D(2025, 7, 6)), (D(2025, 6, 23), D(2025, 6, 29))) is None
    live = [PlannedEvent("live_session", D(2025, 7, 1), D(2025, 7, 1), kind="live_session")]
    assert calendar_mismatch(live, (D(2025, 6, 30), D(2025, 7, 6)), (D(2025, 6, 23), D(2025, 6, 29))) is None


RULE = (
    "alerts:\n  rules:\n"
    "    - {name: gmv_week_drop, kind: change, metric: gmv, by: [channel], grain: week, complete: true,"
    " compare: previous, below: -0.3, min_base: 5000}\n"
    "    - {name: gmv_week_any, kind: change, metric: gmv, grain: week, complete: true,"
    " compare: previous, below: -0.0001, above: 0.0001}\n"
)


@pytest.fixture(scope="module")
def shop(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_demo(demo_shop, tmp_path_factory.mktemp("cal") / "shop")
    text = (folder / "channelscope.yaml").read_text(encoding="utf-8")
    head = text.split("\nalerts:\n", 1)[0]
    tail = text.split("\nalerts:\n", 1)[1].split("\nschedule:\n", 1)[1]
    (folder / "channelscope.yaml").write_text(head + "\n" + RULE + "schedule:\n" + tail, encoding="utf-8")
    return folder


def test_no_alert_after_festivals_that_truth_does_not_hold(shop: Path) -> None:
    truth = json.loads((shop / "ground_truth.json").read_text(encoding="utf-8"))
    shocks = [(D.fromisoformat(a["start"]), D.fromisoformat(a["end"]), a["channel_id"]) for a in truth["anomalies"]]
    mondays = [D(2024, 11, 11) + dt.timedelta(days=7 * i) for i in range(1, 4)]
    mondays += [D(2025, 6, 16) + dt.timedelta(days=7 * i) for i in range(0, 3)]
    mondays += [D(2025, 11, 10) + dt.timedelta(days=7 * i) for i in range(1, 4)]
    with Project(shop) as p:
        for monday in mondays:
            ev = evaluate_rules(p, rules=["gmv_week_drop"], as_of=monday)
            assert ev.errors == []
            week = (monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
            for f in ev.findings:
                channel = f.scope.get("channel_id")
                known = any(c == channel and s <= week[1] and e >= week[0] for s, e, c in shocks)
                assert known, (monday, f.title)


def test_evidence_says_the_calendar_changed_the_comparison(shop: Path) -> None:
    with Project(shop) as p:
        # judges W46 (11-10..16: two days of 双11) whose previous week (11-03..09) is all 双11
        ev = evaluate_rules(p, rules=["gmv_week_any"], as_of=D(2025, 11, 17))
        (f,) = ev.findings
        cal = f.evidence["calendar"]
        assert cal["compare_configured"] == "previous" and cal["compare_used"] == "yoy"
        assert cal["skipped_base_period"] == ["2025-11-03", "2025-11-09"]
        assert f.evidence["compare"] == "yoy"
        start, end = (D.fromisoformat(x) for x in f.evidence["base_period"])
        assert (start.isocalendar().week, start.year, (end - start).days) == (46, 2024, 6)
        base = p.kpis(["gmv"], start=start, end=end).gmv.iloc[0]
        assert f.evidence["base_value"] == pytest.approx(base)
        assert "去年同期" in f.title["zh-CN"] and "last year" in f.title["en"]
        # an ordinary week keeps the configured comparison
        ev = evaluate_rules(p, rules=["gmv_week_any"], as_of=D(2025, 9, 22))
        assert all(x.evidence["calendar"] is None and x.evidence["compare"] == "previous" for x in ev.findings)


def test_the_demos_own_rules_raise_nothing_after_festivals(demo_shop: Path, tmp_path: Path) -> None:
    """The demo's own rules as it ships them (the seasonal anomaly detectors on GMV and visitors per channel,
    which know the festivals, and the week-over-week drop) on the days right after 双11 and 618: no alert
    that ground_truth.json does not hold (it holds no shock in those weeks)."""
    shop = copy_demo(demo_shop, tmp_path / "shop")
    truth = json.loads((shop / "ground_truth.json").read_text(encoding="utf-8"))
    shocks = [(D.fromisoformat(a["start"]), D.fromisoformat(a["end"]), a["channel_id"]) for a in truth["anomalies"]]
    days = [D(2025, 11, 12) + dt.timedelta(days=i) for i in range(7)]  # the week after 双11 (11-11)
    days += [D(2025, 6, 19) + dt.timedelta(days=i) for i in range(7)]  # the week after 618 (06-18)
    days += [D(2025, 11, 17), D(2025, 11, 24), D(2025, 6, 23), D(2025, 6, 30)]  # Mondays: the weekly rule judges
    rules = ["gmv_anomaly", "visitors_anomaly", "gmv_week_drop"]
    with Project(shop) as p:
        assert {r.name for r in p.config.alerts.rules} >= set(rules)
        assert {r.kind for r in p.config.alerts.rules if r.name in rules} == {"anomaly", "change"}
        for day in days:
            ev = evaluate_rules(p, rules=rules, as_of=day)
            assert ev.errors == []
            for f in ev.findings:
                channel = f.scope.get("channel_id")
                known = any(c == channel and s <= day <= e + dt.timedelta(days=7) for s, e, c in shocks)
                assert known, (day, f.title["en"])
