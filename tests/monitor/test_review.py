"""Review of the monitoring loop: bugs a user hit, each pinned by a test.

- Two targets of the same scope and period (GMV and paid orders of one channel in June) were one alert: the
  finding's key ignored the metric, so recording kept only the last and the other was silently lost.
- A rule cut by a dimension that some rows lack (distributor, campaign, region) judged the rows without one as
  a member called ``nan`` ("distributor nan 支付金额 ..."), and tier 1 was called ``1.0``.
- A filter naming a channel that does not exist (``{channel: tmal}``) was not reported; the rule judged an
  empty scope (a threshold fired with 0.00, a change rule could never fire).
- A schedule naming an alert group no rule has (``dayly``) checked 0 rules on every tick, silently, and the
  rules of the intended group never ran.
- ``alerts ack 0a8`` answered "no alert '0a8'" for an alert that exists: prefixes under 6 characters are not
  looked up, and the message now says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import backend_url, copy_demo, write_project

from channelscope import Project
from channelscope.errors import ConfigError
from channelscope.monitor.dispatch import acknowledge, check_and_notify, list_alerts
from channelscope.monitor.evaluate import evaluate_rules
from channelscope.monitor.store import AlertNotFound

AS_OF = dt.date(2025, 6, 10)
FIRST = dt.date(2025, 6, 1)

BODY = """
channels:
  - {id: a, name: 渠道A, kind: marketplace, platform: x}
  - {id: b, name: 渠道B, kind: own_store, platform: y}
sources:
  - {name: orders, path: exports/orders.csv, preset: canonical_orders}
targets:
  - {metric: gmv, period: 2025-06, channel: a, value: 30000}
  - {metric: paid_orders, period: 2025-06, channel: a, value: 600}
  - {metric: gmv, period: 2025-06, channel: b, value: 100}
alerts:
  language: en
  rules:
    - {name: pace, kind: target, below: -0.1}
"""


def _orders() -> pd.DataFrame:
    """a sells 2 orders of 50 a day, b 1 order of 60 a day, June 1 to 10."""
    rows, n = [], 0
    for day in pd.date_range(FIRST, AS_OF).date:
        for ch, (k, amount) in {"a": (2, 50.0), "b": (1, 60.0)}.items():
            for _ in range(k):
                n += 1
                rows.append(
                    {
                        "source_order_id": f"O{n}",
                        "channel_id": ch,
                        "customer_key": f"u{n % 13}",
                        "ordered_at": f"{day} 12:00:00",
                        "paid_at": f"{day} 12:05:00",
                        "status": "paid",
                        "net_amount": amount,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def shop(request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with backend_url(request, backend) as url:
        folder = write_project(tmp_path_factory.mktemp("review") / "shop", BODY, url)
        (folder / "exports").mkdir()
        _orders().to_csv(folder / "exports" / "orders.csv", index=False)
        with Project(folder) as p:
            p.ingest()
        yield folder


def test_two_targets_of_one_channel_are_two_alerts(shop: Path) -> None:
    orders = _orders()
    a = orders[orders.channel_id == "a"]
    with Project(shop) as p:
        ev = evaluate_rules(p, as_of=AS_OF)
        assert ev.errors == []
        found = {f.metric: f for f in ev.findings}
        # June 1-10 of 30 days: pace is a third of the target; a is at 1,000 of 10,000 GMV and 20 of 200 orders
        assert set(found) == {"gmv", "paid_orders"}
        assert found["gmv"].value == pytest.approx(a.net_amount.sum())
        assert found["paid_orders"].value == pytest.approx(len(a))
        assert found["gmv"].expected == pytest.approx(30000 * 10 / 30)
        assert all(f.scope["channel_id"] == "a" for f in ev.findings)
        assert found["gmv"].key != found["paid_orders"].key  # two conditions, two alerts
        report = check_and_notify(p, as_of=AS_OF)
        assert sorted(report.opened) == sorted(f.key for f in ev.findings)
        listed = list_alerts(p)
        assert sorted(listed["metric"]) == ["gmv", "paid_orders"]
        assert "metric" not in found["gmv"].title["en"].split(":")[0]  # the scope label stays "a"
        # the next check finds the same two: updated, not re-opened, nothing lost
        again = check_and_notify(p, as_of=AS_OF)
        assert sorted(again.updated) == sorted(report.opened) and again.opened == []
        # once the period is over and the targets are no longer watched, both resolve themselves
        later = check_and_notify(p, as_of=dt.date(2025, 7, 2))
        assert sorted(later.resolved) == sorted(report.opened)


def _with_rules(folder: Path, rules: str) -> None:
    cfg = folder / "channelscope.yaml"
    head = cfg.read_text(encoding="utf-8").split("\nalerts:")[0]
    cfg.write_text(head + "\nalerts:\n  language: zh-CN\n  rules:\n" + rules, encoding="utf-8")


@pytest.fixture(scope="module")
def demo(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_shop, tmp_path_factory.mktemp("review-demo") / "shop")


def test_rows_without_a_member_are_not_a_member_called_nan(demo: Path) -> None:
    _with_rules(
        demo,
        "    - {name: dist, kind: threshold, metric: gmv, by: [distributor], min: 100000000}\n"
        "    - {name: camp, kind: change, metric: gmv, by: [campaign], compare: wow, above: 0.0001, below: -0.0001}\n"
        "    - {name: tier, kind: threshold, metric: gmv, by: [distributor_tier], min: 100000000}\n"
        "    - {name: region, kind: threshold, metric: gmv, by: [region], min: 100000000}\n",
    )
    day = dt.date(2025, 3, 18)
    with Project(demo, read_only=True) as p:
        ev = evaluate_rules(p, as_of=day)
        assert ev.errors == []
        by_rule: dict[str, list] = {}
        for f in ev.findings:
            by_rule.setdefault(f.rule, []).append(f)
            for v in f.scope.values():
                assert v not in ("nan", "None", "NaT", "<NA>", "") and not v.endswith(".0"), (f.rule, f.scope)
            for lang in ("en", "zh-CN"):
                assert " nan " not in f.text[lang] and "None" not in f.text[lang], f.text[lang]
        # every distributor that sold on the day or the same day last week, and only those, is judged
        sql = "SELECT DISTINCT distributor_id FROM orders WHERE distributor_id IS NOT NULL AND business_date IN (?, ?)"
        ids = {r[0] for r in p.warehouse.execute(sql, [day, day - dt.timedelta(days=7)])}
        kpi = p.kpis(["gmv"], by=["distributor"], start=day, end=day)
        assert {f.scope["distributor_id"] for f in by_rule["dist"]} <= ids
        assert {str(x) for x in kpi["distributor"].dropna()} <= {f.scope["distributor_id"] for f in by_rule["dist"]}
        assert {f.scope["distributor_tier"] for f in by_rule["tier"]} <= {"1", "2"}
        assert by_rule["region"] and by_rule["camp"]


def test_a_filter_naming_an_unknown_channel_is_reported_with_its_line(demo: Path) -> None:
    _with_rules(
        demo,
        "    - {name: ok, kind: threshold, metric: gmv, filters: {channel: [tmall, jd]}, min: 1}\n"
        "    - name: floor\n"
        "      kind: threshold\n"
        "      metric: gmv\n"
        "      filters: {channel: tmal}\n"
        "      min: 20000\n",
    )
    with Project(demo, read_only=True) as p, pytest.raises(ConfigError) as info:
        evaluate_rules(p, as_of=dt.date(2025, 3, 18))
    text = str(info.value)
    assert "alerts.rules.1.filters" in text and "tmal" in text and "tmall" in text
    lines = (demo / "channelscope.yaml").read_text(encoding="utf-8").splitlines()
    assert info.value.line is not None and "filters: {channel: tmal}" in lines[info.value.line - 1]


def test_a_schedule_naming_a_group_no_rule_has_is_reported_at_load(tmp_path: Path) -> None:
    body = (
        "channels:\n  - {id: a, name: A, kind: marketplace, platform: x}\n"
        "alerts:\n  rules:\n    - {name: r, kind: silence, days: 2}\n"
        "    - {name: h, kind: silence, days: 1, group: hourly}\n"
        "schedule:\n  alerts:\n    hourly: '5 * * * *'\n    dayly: '0 9 * * *'\n"
    )
    folder = write_project(tmp_path / "p", body)
    with pytest.raises(ConfigError) as info:
        Project(folder)
    assert "'dayly'" in str(info.value) and "default, hourly" in str(info.value) and info.value.line is not None
    # the groups the rules have are fine (a schedule before any rule exists too)
    write_project(tmp_path / "q", body.replace("dayly", "default"))
    Project(tmp_path / "q").close()


def test_a_too_short_id_prefix_says_so(shop: Path) -> None:
    with Project(shop) as p:
        check_and_notify(p, as_of=AS_OF)
        key = list_alerts(p)["alert_id"].iloc[0]
        with pytest.raises(AlertNotFound) as info:
            acknowledge(p, key[:3], by="li.lei")
        assert "6 characters" in str(info.value.hint)
        assert acknowledge(p, key[:6], by="li.lei")["alert_id"] == key
