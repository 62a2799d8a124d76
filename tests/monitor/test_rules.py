"""Rule configuration: every kind loads; a misconfigured rule is reported with file, line and key (at load,
or before evaluation for the names that depend on the project); the periods a rule judges."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.conftest import write_project

from channelscope import ConfigError, Project
from channelscope.config import load_config
from channelscope.config.rules import ChangeRule, SilenceRule
from channelscope.monitor.evaluate import base_range, evaluate_rules, period_range
from channelscope.monitor.findings import Finding
from channelscope.monitor.rules import check_rules

D = dt.date
HEAD = """
channels:
  - {id: tmall, name: 天猫, kind: marketplace, platform: tmall}
sources:
  - {name: orders, path: exports/*.csv, preset: canonical_orders, expect_every: 1d}
alerts:
  rules:
"""
GOOD = """\
    - {name: gmv_wow, kind: change, metric: gmv, by: [channel], compare: wow, below: -0.3}
    - {name: gmv_min, kind: threshold, metric: gmv, filters: {channel: tmall}, min: 1000, severity: critical}
    - {name: pace, kind: target, metric: gmv, below: -0.15, projected_below: -0.05}
    - {name: odd, kind: anomaly, metric: visitors, by: [channel], sensitivity: 4, group: hourly}
    - {name: fresh, kind: freshness, sources: [orders], max_age: 6h}
    - {name: quarantine, kind: quarantine_rate, max_rate: 0.02, window: 1d}
    - {name: quiet, kind: silence, days: 2, channels: [tmall], table: traffic}
"""


def _project(tmp_path: Path, rules: str) -> Path:
    return write_project(tmp_path / "p", HEAD + rules)


def test_every_kind_loads_with_its_defaults(tmp_path: Path) -> None:
    cfg = load_config(_project(tmp_path, GOOD))
    assert cfg.alerts is not None
    rules = {r.name: r for r in cfg.alerts.rules}
    assert [r.kind for r in cfg.alerts.rules] == [
        "change",
        "threshold",
        "target",
        "anomaly",
        "freshness",
        "quarantine_rate",
        "silence",
    ]
    wow = rules["gmv_wow"]
    assert isinstance(wow, ChangeRule) and wow.severity == "warning" and wow.group == "default" and wow.enabled
    assert wow.grain == "day" and wow.above is None and wow.below == -0.3
    assert rules["odd"].group == "hourly" and rules["gmv_min"].severity == "critical"
    quiet = rules["quiet"]
    assert isinstance(quiet, SilenceRule) and quiet.history == 28 and quiet.table == "traffic"
    with Project(tmp_path / "p") as p:
        check_rules(p)  # every name is known


@pytest.mark.parametrize(
    ("rule", "line", "key", "message"),
    [
        ("    - {name: x, kind: threshold, metric: gmv}\n", 10, "alerts.rules.0", "needs 'min', 'max' or both"),
        ("    - {name: x, kind: treshold, metric: gmv}\n", 10, "alerts.rules.0.kind", "unknown rule kind 'treshold'"),
        ("    - {name: x, metric: gmv}\n", 10, "alerts.rules.0", "a rule needs 'kind'"),
        (
            "    - name: x\n      kind: change\n      metric: gmv\n      bellow: -0.3\n",
            13,
            "alerts.rules.0.bellow",
            "unknown key for a change rule; allowed: above, below, by",
        ),
        (
            "    - name: x\n      kind: change\n      metric: gmv\n      by: [chanel]\n      below: -0.3\n",
            13,
            "alerts.rules.0.by",
            "unknown dimension 'chanel'",
        ),
        (
            "    - {name: x, kind: change, metric: gmv, compare: mom, below: -0.3}\n",
            10,
            "alerts.rules.0.compare",
            "'previous', 'wow' or 'yoy'",
        ),
        ("    - {name: x, kind: change, metric: gmv, below: -30}\n", 10, "alerts.rules.0", "a fraction above -1"),
        (
            "    - {name: x, kind: quarantine_rate, max_rate: 2}\n",
            10,
            "alerts.rules.0.max_rate",
            "less than or equal to 1",
        ),
        ("    - {name: x, kind: freshness, max_age: soon}\n", 10, "alerts.rules.0.max_age", "followed by m, h or d"),
        ("    - {name: x, kind: silence, days: 0}\n", 10, "alerts.rules.0.days", "greater than or equal to 1"),
        ("    - {name: x, kind: anomaly, metric: gmv, grain: month}\n", 10, "alerts.rules.0.grain", "'day'"),
        ("    - {name: x, kind: silence}\n    - {name: x, kind: silence}\n", 8, "alerts", "repeated: ['x']"),
        ("    - {name: x, kind: target, below: 0.1}\n", 10, "alerts.rules.0.below", "less than 0"),
        ("    - {name: x, kind: silence, severity: urgent}\n", 10, "alerts.rules.0.severity", "'info', 'warning'"),
    ],
)
def test_a_misconfigured_rule_names_file_line_and_key(
    tmp_path: Path, rule: str, line: int, key: str, message: str
) -> None:
    folder = _project(tmp_path, rule)
    with pytest.raises(ConfigError) as err:
        load_config(folder)
    e = err.value
    assert e.file == str(folder / "channelscope.yaml") and e.line == line
    assert f"key '{key}'" in e.message and message in e.message


@pytest.mark.parametrize(
    ("rule", "key", "message"),
    [
        ("    - {name: x, kind: change, metric: gvm, below: -0.3}\n", "alerts.rules.1.metric", "unknown metric 'gvm'"),
        (
            "    - {name: x, kind: threshold, metric: visitors, by: [region], min: 1}\n",
            "alerts.rules.1.by",
            "metric 'visitors' (from traffic) cannot be cut by region",
        ),
        (
            "    - {name: x, kind: threshold, metric: ad_spend, filters: {distributor: d1}, min: 1}\n",
            "alerts.rules.1.filters",
            "cannot be cut by distributor",
        ),
        (
            "    - {name: x, kind: freshness, sources: [tmall_orders]}\n",
            "alerts.rules.1.sources",
            "unknown source 'tmall_orders'; configured: orders",
        ),
        ("    - {name: x, kind: silence, channels: [jd]}\n", "alerts.rules.1.channels", "unknown channel 'jd'"),
        ("    - {name: x, kind: target, channel: jd}\n", "alerts.rules.1.channel", "unknown channel 'jd'"),
    ],
)
def test_names_from_the_project_are_checked_before_evaluation(
    tmp_path: Path, rule: str, key: str, message: str
) -> None:
    folder = _project(tmp_path, "    - {name: ok, kind: silence}\n" + rule)
    with Project(folder) as p, pytest.raises(ConfigError) as err:
        evaluate_rules(p, as_of=D(2025, 6, 10))
    e = err.value
    assert e.file == str(folder / "channelscope.yaml") and e.line == 11
    assert f"key '{key}'" in e.message and message in e.message


def test_project_metrics_are_known_to_rules_and_unknown_rule_names_are_refused(tmp_path: Path) -> None:
    body = HEAD.replace(
        "alerts:",
        "kpis:\n  metrics:\n    - {name: big_orders, label_zh: 大单, label_en: Big orders, "
        "table: orders, agg: count}\nalerts:",
    )
    folder = write_project(tmp_path / "p", body + "    - {name: big, kind: threshold, metric: big_orders, max: 10}\n")
    with Project(folder) as p:
        check_rules(p)
        with pytest.raises(ConfigError, match="unknown alert rule"):
            evaluate_rules(p, rules=["nope"])


def test_freshness_needs_an_interval(tmp_path: Path) -> None:
    folder = write_project(
        tmp_path / "p",
        HEAD.replace(", expect_every: 1d", "") + "    - {name: fresh, kind: freshness}\n",
    )
    with (
        Project(folder) as p,
        pytest.raises(ConfigError, match=r"alerts\.rules\.0\.max_age.*no source has 'expect_every'"),
    ):
        check_rules(p)


@pytest.mark.parametrize(
    ("grain", "as_of", "complete", "expected"),
    [
        ("day", D(2025, 6, 10), False, (D(2025, 6, 10), D(2025, 6, 10))),
        ("week", D(2025, 6, 10), False, (D(2025, 6, 9), D(2025, 6, 10))),  # Monday to date
        ("week", D(2025, 6, 10), True, (D(2025, 6, 2), D(2025, 6, 8))),  # the last whole ISO week
        ("week", D(2025, 6, 15), True, (D(2025, 6, 9), D(2025, 6, 15))),  # a Sunday ends its week
        ("month", D(2025, 6, 10), False, (D(2025, 6, 1), D(2025, 6, 10))),
        ("month", D(2025, 6, 10), True, (D(2025, 5, 1), D(2025, 5, 31))),
        ("month", D(2025, 6, 30), True, (D(2025, 6, 1), D(2025, 6, 30))),
    ],
)
def test_the_period_a_rule_judges(grain: str, as_of: dt.date, complete: bool, expected: tuple) -> None:
    assert period_range(grain, as_of, complete) == expected


@pytest.mark.parametrize(
    ("grain", "period", "compare", "expected"),
    [
        ("day", (D(2025, 6, 10), D(2025, 6, 10)), "wow", (D(2025, 6, 3), D(2025, 6, 3))),
        ("day", (D(2025, 6, 10), D(2025, 6, 10)), "previous", (D(2025, 6, 9), D(2025, 6, 9))),
        ("day", (D(2025, 6, 10), D(2025, 6, 10)), "yoy", (D(2024, 6, 10), D(2024, 6, 10))),
        ("week", (D(2025, 6, 9), D(2025, 6, 10)), "previous", (D(2025, 6, 2), D(2025, 6, 3))),  # same weekdays
        ("week", (D(2025, 6, 9), D(2025, 6, 10)), "yoy", (D(2024, 6, 10), D(2024, 6, 11))),  # ISO week 24 of 2024
        ("week", (D(2025, 6, 2), D(2025, 6, 8)), "yoy", (D(2024, 6, 3), D(2024, 6, 9))),
        ("month", (D(2025, 6, 1), D(2025, 6, 10)), "previous", (D(2025, 5, 1), D(2025, 5, 10))),  # month to date
        ("month", (D(2025, 3, 1), D(2025, 3, 31)), "previous", (D(2025, 2, 1), D(2025, 2, 28))),  # whole months
        ("month", (D(2025, 3, 1), D(2025, 3, 30)), "previous", (D(2025, 2, 1), D(2025, 2, 28))),  # clipped
        ("month", (D(2025, 6, 1), D(2025, 6, 10)), "yoy", (D(2024, 6, 1), D(2024, 6, 10))),
    ],
)
def test_the_period_it_is_compared_with(grain: str, period: tuple, compare: str, expected: tuple) -> None:
    assert base_range(grain, *period, compare) == expected


def test_finding_key_is_stable_and_scoped() -> None:
    def finding(scope: dict[str, str], period: str = "2025-06-10", value: float = 1.0) -> Finding:
        return Finding(
            "gmv_wow",
            "change",
            "warning",
            scope,
            period,
            "gmv",
            value,
            2.0,
            None,
            None,
            {"en": "", "zh-CN": ""},
            {"en": "", "zh-CN": ""},
            {},
            False,
        )

    a = finding({"channel_id": "tmall", "distributor_id": "d1"})
    assert a.key == finding({"distributor_id": "d1", "channel_id": "tmall"}, value=5.0).key  # order, value: same
    assert a.key != finding({"channel_id": "jd", "distributor_id": "d1"}).key
    assert a.key != finding({"channel_id": "tmall", "distributor_id": "d1"}, period="2025-06-11").key
    assert len(a.key) == 16 and a.to_dict()["key"] == a.key
