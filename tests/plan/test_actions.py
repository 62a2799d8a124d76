"""The action log (PDCA) on the demo: a planted effect is judged "worked" with its planted size in the interval,
a planted drop is "worse", a channel with no change is "no effect", an action the data cannot judge says why;
the effect equals an independent computation from plain SQL; the next report lists the verdicts."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import copy_demo

from channelscope import Project
from channelscope.errors import QueryError
from channelscope.plan import actions as A
from channelscope.report import STANDARD, compose


@pytest.fixture(scope="module")
def shop(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_shop, tmp_path_factory.mktemp("actions") / "shop")


def _checked(p: Project, what: str, channel: str, start: str, deadline: str, expected: float) -> tuple[str, A.Check]:
    """Plan an action on one channel (owner 王五) and check it at once: its id and the check."""
    a = A.add_action(
        p,
        what=what,
        owner="王五",
        scope_kind="channel",
        scope_id=channel,
        start=start,
        deadline=deadline,
        expected_change=expected,
    )
    return a["action_id"], A.check_action(p, a["action_id"])


def _truth(demo_shop: Path, kind: str) -> dict:
    truth = json.loads((demo_shop / "ground_truth.json").read_text())
    return next(a for a in truth["anomalies"] if a["kind"] == kind)


def test_planted_spike_is_judged_worked_with_its_size_in_the_interval(shop: Path, demo_shop: Path) -> None:
    spike = _truth(demo_shop, "sales_spike")  # douyin 2025-09-13: orders x3.5, prices unchanged
    planted = spike["multipliers"]["orders"] * spike["multipliers"]["price"] - 1  # +250% GMV
    with Project(shop) as p:
        action_id, chk = _checked(p, "投放爆款短视频", spike["channel_id"], spike["start"], spike["end"], 1.0)
        stored = A.get_action(p, action_id)
    assert chk.verdict == "worked"
    assert chk.effect.lower is not None and chk.effect.upper is not None
    assert chk.effect.lower <= planted <= chk.effect.upper
    assert chk.effect.lower > 0
    assert stored["verdict"] == "worked" and stored["effect"] == pytest.approx(chk.effect.effect)
    assert "douyin" not in json.loads(stored["check_json"])["controls"]["channel"]


def test_planted_drop_is_judged_worse(shop: Path, demo_shop: Path) -> None:
    drop = _truth(demo_shop, "sales_drop")  # wechat_resellers 2025-09-01..07: orders halve
    planted = drop["multipliers"]["orders"] * drop["multipliers"]["price"] - 1  # -50% GMV
    with Project(shop) as p:
        _, chk = _checked(p, "New reseller policy", drop["channel_id"], drop["start"], drop["end"], 0.1)
    assert chk.verdict == "worse"
    assert chk.effect.lower is not None and chk.effect.upper is not None and chk.effect.upper < 0
    # a halved channel sums fewer orders, so its window is relatively noisier: the interval holds the planted size
    assert chk.effect.lower <= planted <= chk.effect.upper


def test_channel_without_change_is_no_effect(shop: Path) -> None:
    with Project(shop) as p:
        _, chk = _checked(p, "jd detail pages", "jd", "2025-09-15", "2025-09-28", 0.1)
    assert chk.verdict == "no_effect"
    assert chk.effect.lower is not None and chk.effect.lower < 0 < (chk.effect.upper or 0)


def test_effect_equals_an_independent_sql_computation(shop: Path) -> None:
    """The effect as sum(actual) / sum(counterfactual) - 1, recomputed from the orders table in plain SQL (GMV:
    every order with a payment time, by business date)."""
    start, end = dt.date(2025, 9, 15), dt.date(2025, 9, 28)
    with Project(shop) as p:
        a = A.add_action(p, what="check", owner="t", scope_kind="channel", scope_id="jd", start=start, deadline=end)
        chk = A.measure(p, a)
        controls = chk.evidence["controls"]["channel"]
        pre = start - dt.timedelta(days=56)
        marks = ", ".join("?" for _ in controls)
        with p.warehouse.reading() as tx:
            df = tx.query(
                "SELECT business_date AS d, "
                "SUM(CASE WHEN channel_id = 'jd' THEN net_amount_base ELSE 0 END) AS t, "
                f"SUM(CASE WHEN channel_id IN ({marks}) THEN net_amount_base ELSE 0 END) AS c "
                "FROM orders WHERE paid_at IS NOT NULL "
                "AND business_date >= ? AND business_date <= ? GROUP BY business_date",
                [*controls, pre, end],
            )
    df["d"] = [dt.date.fromisoformat(str(x)[:10]) for x in df["d"]]
    df["t"], df["c"], df["w"] = df["t"].astype(float), df["c"].astype(float), [x.weekday() for x in df["d"]]
    before, during = df[df["d"] < start], df[df["d"] >= start]
    ratio = {w: g["t"].sum() / g["c"].sum() for w, g in before.groupby("w")}
    counterfactual = sum(r.c * ratio[r.w] for r in during.itertuples())
    assert chk.effect.counterfactual == pytest.approx(counterfactual, rel=1e-9)
    assert chk.effect.effect == pytest.approx(during["t"].sum() / counterfactual - 1, rel=1e-9)


def test_what_the_data_cannot_judge_says_why(shop: Path) -> None:
    with Project(shop) as p:
        late = A.add_action(
            p,
            what="later",
            owner="t",
            scope_kind="channel",
            scope_id="tmall",
            start="2025-11-20",
            deadline="2026-01-31",
        )
        early = A.add_action(
            p,
            what="early",
            owner="t",
            scope_kind="channel",
            scope_id="tmall",
            start="2024-10-05",
            deadline="2024-10-10",
        )
        pending = A.check_action(p, late["action_id"])
        short = A.check_action(p, early["action_id"])
        assert A.get_action(p, late["action_id"])["verdict"] is None  # nothing stored before the deadline
    assert pending.verdict == "not_measurable" and pending.reason == "deadline_not_reached"
    assert short.verdict == "not_measurable" and short.reason == "too_little_history"


def test_bad_input_names_the_field(shop: Path) -> None:
    with Project(shop) as p:
        base = dict(
            what="x", owner="o", scope_kind="channel", scope_id="tmall", start="2025-09-01", deadline="2025-09-07"
        )
        cases = [
            ({"scope_id": "nope"}, "scope_id"),
            ({"deadline": "2025-08-01"}, "deadline"),
            ({"metric": "nope"}, "metric"),
            ({"start": "9/1"}, "start"),
            ({"owner": " "}, "owner"),
            ({"scope_kind": "region"}, "scope_kind"),
        ]
        for change, field in cases:
            with pytest.raises(QueryError) as exc:
                A.add_action(p, **{**base, **change})  # type: ignore[arg-type]
            assert exc.value.field == field
        a = A.add_action(p, **base)  # type: ignore[arg-type]
        with pytest.raises(QueryError):
            A.update_action(p, a["action_id"], status="finished")
        assert A.update_action(p, a["action_id"][:8], status="doing")["status"] == "doing"
        with pytest.raises(A.ActionNotFound):
            A.get_action(p, "zzzzzzzz")


def test_the_next_report_lists_verdicts_and_next_steps(shop: Path) -> None:
    with Project(shop) as p:
        A.add_action(
            p,
            what="直播加场",
            owner="王五",
            scope_kind="channel",
            scope_id="douyin",
            start="2025-09-13",
            deadline="2025-09-13",
        )
        A.add_action(
            p,
            what="tmall banner",
            owner="Li",
            scope_kind="channel",
            scope_id="tmall",
            start="2025-09-10",
            deadline="2025-09-14",
        )
    with Project(shop, read_only=True) as p:
        full = compose(p, STANDARD["weekly_channel_review"], period="2025-W37", as_of=dt.date(2025, 12, 1))
        mine = compose(
            p, STANDARD["weekly_channel_review"], period="2025-W37", as_of=dt.date(2025, 12, 1), channels=["douyin"]
        )
    verdicts = [f for f in full.findings if f.kind == "action_verdict"]
    by_what = {f.evidence["action_id"]: f for f in verdicts}
    assert {f.channel for f in by_what.values()} >= {"douyin", "tmall"}
    live = next(f for f in verdicts if "直播加场" in f.text["zh-CN"])
    assert live.evidence["verdict"] == "worked" and live.recommendation and "Keep" in live.recommendation["en"]
    section = next(s for s in full.sections if s.kind == "actions")
    assert section.table is not None and {"worked"} <= set(section.table["verdict"].dropna())
    own = next(s for s in mine.sections if s.kind == "actions")
    assert own.table is not None and set(own.table["channel"]) == {"douyin"}
    assert all(f.channel == "douyin" for f in mine.findings if f.kind == "action_verdict")


def test_cli_action_add_update_check_list(shop: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "channelscope.cli", "action", *args, "-p", str(shop)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    added = run(
        "add", "own_store coupons", "--owner", "Sun", "--start", "2025-10-13", "--deadline", "2025-10-19",
        "--channel", "own_store", "--expect", "0.05", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    aid = json.loads(added.stdout)["action_id"]
    assert run("update", aid, "--status", "done", "--json").returncode == 0
    checked = run("check", aid, "--json")
    assert checked.returncode == 0, checked.stderr
    out = json.loads(checked.stdout)[0]
    assert out["verdict"] in A.VERDICTS and math.isfinite(out["effect"])
    listed = json.loads(run("list", "--json").stdout)
    row = next(r for r in listed if r["action_id"] == aid)
    assert row["status"] == "done" and row["verdict"] == out["verdict"]
    made = run("from-report", "weekly_channel_review", "--period", "2025-W12", "--owner", "Li", "--json")
    assert made.returncode == 0, made.stderr
    from_finding = json.loads(made.stdout)  # the tmall traffic drop's recommendation
    assert from_finding["channel_id"] == "tmall" and from_finding["origin"] == "recommendation"
    assert from_finding["start_date"] == "2025-03-24" and from_finding["metric"] == "gmv"
    assert (
        0 < from_finding["expected_change"] < 1 and "traffic" in json.loads(from_finding["origin_json"])["text"]["en"]
    )
    bad = run("add", "x", "--owner", "o", "--start", "2025-10-13", "--deadline", "2025-10-19", "--channel", "nope")
    assert bad.returncode == 2 and "unknown channel 'nope'" in bad.stderr + bad.stdout


def test_pdca_on_both_backends(demo_on: Path, demo_shop: Path) -> None:
    """Plan, do, check and act on DuckDB and PostgreSQL: the same verdicts and effects."""
    spike = _truth(demo_shop, "sales_spike")
    planted = spike["multipliers"]["orders"] * spike["multipliers"]["price"] - 1
    with Project(demo_on) as p:
        worked = A.add_action(
            p, what="video", owner="W", scope_kind="channel", scope_id="douyin", start=spike["start"],
            deadline=spike["end"], expected_change=1.0,
        )  # fmt: skip
        quiet = A.add_action(
            p, what="pages", owner="Z", scope_kind="channel", scope_id="jd", start="2025-09-15", deadline="2025-09-28",
        )  # fmt: skip
        A.update_action(p, worked["action_id"], status="done")
        checks = {c.action_id: c for c in A.check_due(p)}
        log = A.list_actions(p, channels=["douyin"])
    w, q = checks[worked["action_id"]], checks[quiet["action_id"]]
    assert w.verdict == "worked" and w.effect.lower <= planted <= w.effect.upper  # type: ignore[operator]
    assert w.effect.effect == pytest.approx(3.6399, abs=1e-3)  # the same figure on every engine
    assert q.verdict == "no_effect"
    assert list(log["action_id"]) == [worked["action_id"]] and log["verdict"].iloc[0] == "worked"
    with Project(demo_on, read_only=True) as p:
        r = compose(p, STANDARD["weekly_channel_review"], period="2025-W37", as_of=dt.date(2025, 12, 1))
    assert [f.evidence["verdict"] for f in r.findings if f.kind == "action_verdict"] == ["worked"]


def test_distributor_and_campaign_scopes(shop: Path) -> None:
    """A distributor is compared with the other distributors of its channel; a campaign over every channel has
    no untreated channel, so it is not measurable and says why."""
    with Project(shop) as p:
        d = A.add_action(
            p,
            what="d",
            owner="o",
            scope_kind="distributor",
            scope_id="wx-r01",
            start="2025-10-06",
            deadline="2025-10-19",
        )
        chk = A.check_action(p, d["action_id"])
        with p.warehouse.reading() as tx:
            same = {
                r[0]
                for r in tx.execute(
                    "SELECT distributor_id FROM distributors WHERE channel_id = ?", ["wechat_resellers"]
                )
            }
        c = A.add_action(
            p,
            what="c",
            owner="o",
            scope_kind="campaign",
            scope_id="promo-2025-38",
            start="2025-03-01",
            deadline="2025-03-08",
        )
        whole = A.check_action(p, c["action_id"])
    assert d["channel_id"] == "wechat_resellers"
    controls = set(chk.evidence["controls"]["distributor"])
    assert "wx-r01" not in controls and controls and controls <= same
    assert chk.verdict in A.VERDICTS
    assert whole.verdict == "not_measurable" and whole.reason == "campaign_without_channel"
