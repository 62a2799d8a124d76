"""Every rule kind fires and stays quiet on small hand-made data (DuckDB and PostgreSQL), with values checked
against pandas over the same rows and against the ledger in plain SQL; on the demo a change rule catches an
injected shock and its decomposition adds up to the change."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import backend_url, copy_demo, write_project

from channelscope import Project
from channelscope.monitor.evaluate import evaluate_rules
from channelscope.monitor.findings import Finding

AS_OF = dt.date(2025, 6, 10)  # a Tuesday
FIRST = dt.date(2025, 3, 1)

BODY = """
channels:
  - {id: a, name: 渠道A, kind: marketplace, platform: x}
  - {id: b, name: 渠道B, kind: own_store, platform: y}
  - {id: c, name: 渠道C, kind: marketplace, platform: z}
sources:
  - {name: orders, path: exports/orders.csv, preset: canonical_orders, expect_every: 1d}
  - {name: traffic, path: exports/traffic.csv, preset: canonical_traffic}
targets:
  - {metric: gmv, period: 2025-06, channel: a, value: 9000}
  - {metric: gmv, period: 2025-06, channel: b, value: 5580}
alerts:
  language: en
  rules:
    - {name: gmv_wow, kind: change, metric: gmv, by: [channel], compare: wow, below: -0.3}
    - {name: gmv_wow_up, kind: change, metric: gmv, by: [channel], compare: wow, above: 0.3}
    - {name: gmv_min, kind: threshold, metric: gmv, by: [channel], min: 150}
    - {name: b_max, kind: threshold, metric: gmv, filters: {channel: b}, max: 100, severity: critical}
    - {name: b_min, kind: threshold, metric: gmv, filters: {channel: b}, min: 100}
    - {name: cr_week, kind: threshold, metric: conversion_rate, by: [channel], grain: week, complete: true, max: 0.049}
    - {name: pace, kind: target, metric: gmv, below: -0.1}
    - {name: gmv_anomaly, kind: anomaly, metric: gmv, by: [channel], filters: {channel: [a, b]}, lookback: 120, sensitivity: 3}
    - {name: fresh, kind: freshness}
    - {name: fresh_traffic, kind: freshness, sources: [traffic], max_age: 30d}
    - {name: quarantine, kind: quarantine_rate, max_rate: 0.001, window: 1d}
    - {name: quarantine_ok, kind: quarantine_rate, max_rate: 0.5, window: 1d}
    - {name: silent3, kind: silence, days: 3}
    - {name: silent6, kind: silence, days: 6}
    - {name: disabled_rule, kind: threshold, metric: gmv, min: 1000000, enabled: false, group: nightly}
"""


def _rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders and traffic: a sells 4-6 orders of 40 a day from 100 visitors and drops to 1 order from 50
    visitors on AS_OF; b sells 3 orders of 60 from 60 visitors every day; c sells 1 order of 100 a day until
    2025-06-05 and then nothing."""
    orders, traffic = [], []
    n = 0
    for i, day in enumerate(pd.date_range(FIRST, AS_OF).date):
        plan = {"a": (5 + i % 3 - 1, 40, 100), "b": (3, 60, 60)}
        if day == AS_OF:
            plan["a"] = (1, 40, 50)
        if day <= dt.date(2025, 6, 5):
            plan["c"] = (1, 100, 20)
        for ch, (k, amount, visitors) in plan.items():
            traffic.append({"date": day, "channel_id": ch, "visitors": visitors})
            for _ in range(k):
                n += 1
                orders.append(
                    {
                        "source_order_id": f"O{n}",
                        "channel_id": ch,
                        "customer_key": f"u{n % 97}",
                        "ordered_at": f"{day} 12:00:00",
                        "paid_at": f"{day} 12:05:00",
                        "status": "paid",
                        "net_amount": amount,
                        "date": day,
                    }
                )
    return pd.DataFrame(orders), pd.DataFrame(traffic)


@pytest.fixture(scope="module")
def shop(request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with backend_url(request, backend) as url:
        folder = write_project(tmp_path_factory.mktemp("alerts") / "shop", BODY, url)
        (folder / "exports").mkdir()
        orders, traffic = _rows()
        csv = orders.drop(columns="date").to_csv(index=False)
        csv += "BAD1,a,u1,not a date,,paid,40\nBAD2,a,u2,also bad,,paid,40\n"  # two rows for the quarantine
        (folder / "exports" / "orders.csv").write_text(csv)
        traffic.to_csv(folder / "exports" / "traffic.csv", index=False)
        p = Project(folder)
        p.ingest()
        yield p
        p.close()


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _rows()


def _gmv(orders: pd.DataFrame, start: dt.date, end: dt.date) -> pd.Series:
    sel = orders[(orders.date >= start) & (orders.date <= end)]
    return sel.groupby("channel_id").net_amount.sum().astype(float)


def _run(p: Project, name: str, **kw: object) -> list[Finding]:
    ev = evaluate_rules(p, rules=[name], as_of=kw.pop("as_of", AS_OF), **kw)  # type: ignore[arg-type]
    assert ev.errors == [] and ev.checked == [name]
    return ev.findings


def _by_channel(found: list[Finding]) -> dict[str, Finding]:
    return {f.scope["channel_id"]: f for f in found}


def test_change_fires_on_a_drop_with_its_decomposition(shop: Project, frames: tuple) -> None:
    orders, _ = frames
    now, before = _gmv(orders, AS_OF, AS_OF), _gmv(orders, AS_OF - dt.timedelta(7), AS_OF - dt.timedelta(7))
    got = _by_channel(_run(shop, "gmv_wow"))
    # a: 40 vs 160..240 (down >30%); c: 0 vs 100 (stopped); b: 180 vs 180 (quiet)
    assert set(got) == {"a", "c"}
    a = got["a"]
    assert a.value == pytest.approx(now["a"]) and a.expected == pytest.approx(before["a"])
    assert a.evidence["change_pct"] == pytest.approx(now["a"] / before["a"] - 1)
    assert a.lower == pytest.approx(before["a"] * 0.7) and a.upper is None
    assert a.period == "2025-06-10" and a.kind == "change" and a.severity == "warning" and not a.auto_resolve
    assert got["c"].value == 0 and got["c"].expected == pytest.approx(100)
    dec = a.evidence["decomposition"]
    parts = dec["parts"]
    assert sum(Decimal(str(v)) for v in parts.values()) == Decimal(str(dec["change"]))
    assert dec["change"] == pytest.approx(now["a"] - before["a"])
    assert parts["aov"] == 0  # 40 a order in both weeks: visitors and conversion explain it all
    assert parts["visitors"] < 0 and parts["conversion_rate"] < 0
    assert "Decomposition vs 2025-06-03" in a.text["en"] and "分解" in a.text["zh-CN"] and "渠道A" in a.title["zh-CN"]
    json.dumps([f.to_dict() for f in got.values()])  # evidence is JSON-able
    assert _run(shop, "gmv_wow_up") == []


def test_threshold_fires_below_min_and_above_max(shop: Project, frames: tuple) -> None:
    orders, _ = frames
    now = _gmv(orders, AS_OF, AS_OF)
    got = _by_channel(_run(shop, "gmv_min"))
    assert set(got) == {"a", "c"}  # b sells 180 >= 150; c sold nothing on the day: 0
    assert got["a"].value == pytest.approx(now["a"]) and got["a"].lower == 150 and got["c"].value == 0
    (b,) = _run(shop, "b_max")
    assert b.scope == {"channel_id": "b"} and b.value == pytest.approx(now["b"]) and b.severity == "critical"
    assert "above the maximum" in b.title["en"] and "高于上限" in b.title["zh-CN"]
    assert _run(shop, "b_min") == []


def test_threshold_on_a_ratio_of_the_last_whole_week(shop: Project, frames: tuple) -> None:
    orders, traffic = frames
    start, end = dt.date(2025, 6, 2), dt.date(2025, 6, 8)  # ISO week 23: the last whole week before AS_OF
    o = orders[(orders.date >= start) & (orders.date <= end)].groupby("channel_id").size()
    t = traffic[(traffic.date >= start) & (traffic.date <= end)].groupby("channel_id").visitors.sum()
    rate = o / t
    got = _by_channel(_run(shop, "cr_week"))
    assert set(got) == set(rate[rate > 0.049].index) == {"b", "c"}  # a: 34 orders from 700 visitors, quiet
    assert got["b"].period == "2025-W23" and got["b"].value == pytest.approx(rate["b"])
    assert got["b"].evidence["period"] == ["2025-06-02", "2025-06-08"] and "5.00%" in got["b"].title["en"]


def test_target_pacing(shop: Project, frames: tuple) -> None:
    orders, _ = frames
    actual = _gmv(orders, dt.date(2025, 6, 1), AS_OF)
    (a,) = _run(shop, "pace")  # b: 10 days x 180 = 1800, 3% behind 5580 x 10/30: within 10%
    expected = 9000 * 10 / 30
    assert a.scope == {"channel_id": "a", "metric": "gmv"} and a.period == "2025-06" and a.auto_resolve
    assert a.value == pytest.approx(actual["a"]) and a.expected == pytest.approx(expected)
    assert a.evidence["pace"] == pytest.approx(actual["a"] / expected - 1)
    assert a.evidence["owner"] is None and json.loads(json.dumps(a.to_dict(), allow_nan=False))["key"] == a.key


def test_anomaly_flags_the_drop_of_a_not_the_steady_b(shop: Project, frames: tuple) -> None:
    orders, _ = frames
    week_ago = AS_OF - dt.timedelta(days=7)
    found = _run(shop, "gmv_anomaly")
    assert [f.scope for f in found] == [{"channel_id": "a"}]
    (a,) = found
    assert a.value == pytest.approx(_gmv(orders, AS_OF, AS_OF)["a"]) and a.evidence["direction"] == "low"
    assert a.lower is not None and a.value < a.lower and a.expected is not None and a.expected > a.value
    assert "unusually low" in a.title["en"] and a.evidence["decomposition"]["change"] == pytest.approx(
        _gmv(orders, AS_OF, AS_OF)["a"] - _gmv(orders, week_ago, week_ago)["a"]
    )


def test_freshness(shop: Project) -> None:
    last = shop.warehouse.execute("SELECT max(finished_at) FROM batches WHERE source = 'orders' AND status = 'loaded'")
    loaded = pd.Timestamp(last[0][0]).to_pydatetime()
    assert _run(shop, "fresh", now=loaded + dt.timedelta(hours=23)) == []
    (f,) = _run(shop, "fresh", now=loaded + dt.timedelta(hours=49))
    assert f.scope == {"source": "orders"} and f.period == "now" and f.auto_resolve
    assert f.value == pytest.approx(49) and f.upper == 24
    assert _run(shop, "fresh_traffic", now=loaded + dt.timedelta(days=29)) == []
    (t,) = _run(shop, "fresh_traffic", now=loaded + dt.timedelta(days=31))
    assert t.scope == {"source": "traffic"} and t.value == pytest.approx(31 * 24, abs=1)


def test_quarantine_rate(shop: Project) -> None:
    rows_in, quarantined = (
        int(x)
        for x in shop.warehouse.execute("SELECT sum(rows_in), sum(quarantined) FROM batches WHERE source = 'orders'")[0]
    )
    assert quarantined == 2
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    (q,) = _run(shop, "quarantine", now=now)
    assert q.scope == {"source": "orders"} and q.value == pytest.approx(quarantined / rows_in)
    assert q.evidence["rows_in"] == rows_in and q.evidence["quarantined"] == 2
    assert _run(shop, "quarantine_ok", now=now) == []
    assert _run(shop, "quarantine", now=now + dt.timedelta(days=2)) == []  # the load left the window


def test_silence(shop: Project) -> None:
    (c,) = _run(shop, "silent3")
    assert c.scope == {"channel_id": "c"} and c.value == 5 and c.evidence["last_date"] == "2025-06-05"
    assert "渠道C" in c.title["zh-CN"] and c.period == "now" and c.auto_resolve
    assert _run(shop, "silent6") == []


def test_selection_by_group_and_enabled(shop: Project) -> None:
    assert evaluate_rules(shop, group="nightly", as_of=AS_OF).checked == []  # its only rule is disabled
    assert (
        evaluate_rules(shop, rules=["disabled_rule"], as_of=AS_OF).findings[0].rule == "disabled_rule"
    )  # named: runs anyway
    ev = evaluate_rules(shop, group="default", as_of=AS_OF, now=dt.datetime.now(dt.UTC))
    assert "disabled_rule" not in ev.checked and len(ev.checked) == 14 and ev.errors == []
    keys = [f.key for f in ev.findings]
    assert len(keys) == len(set(keys))  # one finding per rule, scope and period
    assert evaluate_rules(shop, rules=["gmv_wow"]).findings[0].period == "2025-06-10"  # as_of: the latest date


def test_demo_change_rule_catches_the_injected_tmall_drop(demo_shop: Path, tmp_path: Path) -> None:
    folder = copy_demo(demo_shop, tmp_path / "demo")
    truth = json.loads((folder / "ground_truth.json").read_text())
    shock = next(a for a in truth["anomalies"] if a["channel_id"] == "tmall" and a["kind"] == "traffic_drop")
    day = dt.date.fromisoformat(shock["start"])
    with (folder / "channelscope.yaml").open("a", encoding="utf-8") as fh:
        fh.write(
            "alerts:\n  rules:\n"
            "    - {name: gmv_wow, kind: change, metric: gmv, by: [channel], compare: wow, below: -0.3}\n"
            "    - {name: visitors_min, kind: threshold, metric: visitors, filters: {channel: tmall}, min: 250}\n"
        )
    with Project(folder) as p:
        ev = evaluate_rules(p, as_of=day)
        sql = (
            "SELECT business_date, sum(net_amount_base) FROM orders WHERE channel_id = 'tmall' "
            "AND (paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded')) "
            f"AND business_date IN (DATE '{day}', "
            f"DATE '{day - dt.timedelta(days=7)}') GROUP BY 1"
        )
        gmv = {d: float(v) for d, v in p.warehouse.execute(sql)}
        visitors = p.warehouse.execute(
            f"SELECT sum(visitors) FROM traffic WHERE channel_id = 'tmall' AND date = DATE '{day}'"
        )
    assert ev.errors == []
    tmall = next(f for f in ev.findings if f.rule == "gmv_wow" and f.scope == {"channel_id": "tmall"})
    assert tmall.value == pytest.approx(gmv[day]) and tmall.expected == pytest.approx(gmv[day - dt.timedelta(days=7)])
    dec = tmall.evidence["decomposition"]
    assert sum(Decimal(str(v)) for v in dec["parts"].values()) == Decimal(str(dec["change"]))
    assert Decimal(str(dec["change"])) == Decimal(str(tmall.value)) - Decimal(str(tmall.expected))
    # a traffic drop: the visitors' part carries the fall
    assert dec["parts"]["visitors"] < 0 and dec["parts"]["visitors"] == min(dec["parts"].values())
    (low,) = [f for f in ev.findings if f.rule == "visitors_min"]
    assert low.value == pytest.approx(float(visitors[0][0])) and low.scope == {"channel_id": "tmall"}
    with Project(folder) as p:  # the day before the shock: tmall normal (about 400 visitors)
        quiet = evaluate_rules(p, as_of=day - dt.timedelta(days=1), rules=["visitors_min"])
    assert quiet.findings == [] and quiet.checked == ["visitors_min"]


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2025-03-18", {("visitors_anomaly", "tmall")}),  # injected: search ranking penalty
        ("2025-07-10", {("visitors_anomaly", "miniprogram")}),  # injected: mini-program outage
        ("2025-08-22", {("visitors_anomaly", "own_store")}),  # injected: bot traffic x4
        ("2025-09-13", {("visitors_anomaly", "douyin")}),  # injected: viral video
        ("2025-11-11", set()),  # 双11: a planned peak the model expects
        ("2025-06-18", set()),  # 618
    ],
)
def test_demo_anomaly_rules_catch_injected_shocks_and_stay_quiet_on_festivals(
    demo_shop: Path, as_of: str, expected: set
) -> None:
    """The demo's own rules (ad spend as the traffic driver): the shocks of ground_truth.json, no festival."""
    truth = json.loads((demo_shop / "ground_truth.json").read_text(encoding="utf-8"))
    shocks = {(s["channel_id"], s["start"]) for s in truth["anomalies"]}
    assert {("tmall", "2025-03-18"), ("miniprogram", "2025-07-10"), ("douyin", "2025-09-13")} <= shocks
    with Project(demo_shop, read_only=True) as p:
        ev = evaluate_rules(p, rules=["gmv_anomaly", "visitors_anomaly"], as_of=dt.date.fromisoformat(as_of))
    assert ev.errors == []
    assert {(f.rule, f.scope["channel_id"]) for f in ev.findings} == expected
