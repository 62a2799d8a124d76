"""Attribution: the rules models against hand computation (in the engine, DuckDB and PostgreSQL), Markov
against the ChannelAttribution package, Shapley against its definition, and credits that add up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from channelscope.analysis.attribution import (
    MODELS,
    attribute,
    markov_credits,
    path_counts,
    rule_credits,
    shapley_brute_force,
    shapley_credits,
)
from channelscope.errors import QueryError
from channelscope.warehouse import open_warehouse

T0 = dt.datetime(2025, 6, 18, 12, 0)


def _touch(conv: str, label: str, direct: bool, days_before: float, revenue: float) -> dict:
    return {
        "conversion_id": conv,
        "label": label,
        "direct": direct,
        "ts": T0 - dt.timedelta(days=days_before),
        "converted_at": T0,
        "revenue": revenue,
    }


#: A: search (-8 d) > feed (-1 d) > direct (0); B: feed (0); C: direct (-14) > search (-7) > feed (-2) > direct (0)
TOUCHES = pd.DataFrame(
    [
        _touch("A", "search", False, 8, 100.0),
        _touch("A", "feed", False, 1, 100.0),
        _touch("A", "direct", True, 0, 100.0),
        _touch("B", "feed", False, 0, 50.0),
        _touch("C", "direct", True, 14, 200.0),
        _touch("C", "search", False, 7, 200.0),
        _touch("C", "feed", False, 2, 200.0),
        _touch("C", "direct", True, 0, 200.0),
    ]
)


def _decay(ages: list[float]) -> list[float]:
    w = [0.5 ** (a / 7) for a in ages]
    return [x / sum(w) for x in w]


def _hand() -> dict[str, dict[str, tuple[float, float]]]:
    """(conversions, revenue) per model and label, worked out by hand from TOUCHES."""
    a, c = _decay([8, 1, 0]), _decay([14, 7, 2, 0])
    return {
        "first": {"search": (1, 100), "feed": (1, 50), "direct": (1, 200)},
        "last": {"direct": (2, 300), "feed": (1, 50)},
        "last_non_direct": {"feed": (3, 350)},
        "linear": {
            "search": (1 / 3 + 1 / 4, 100 / 3 + 200 / 4),
            "feed": (1 / 3 + 1 + 1 / 4, 100 / 3 + 50 + 200 / 4),
            "direct": (1 / 3 + 2 / 4, 100 / 3 + 400 / 4),
        },
        "position": {
            "search": (0.4 + 0.1, 40 + 20),
            "feed": (0.2 + 1 + 0.1, 20 + 50 + 20),
            "direct": (0.4 + 0.8, 40 + 160),
        },
        "time_decay": {
            "search": (a[0] + c[1], 100 * a[0] + 200 * c[1]),
            "feed": (a[1] + 1 + c[2], 100 * a[1] + 50 + 200 * c[2]),
            "direct": (a[2] + c[0] + c[3], 100 * a[2] + 200 * (c[0] + c[3])),
        },
    }


@pytest.fixture
def touches_table(warehouse_url: str, tmp_path: Path):
    wh = open_warehouse(warehouse_url, tmp_path)
    con = wh.ibis
    yield con.create_table("attr_touches", TOUCHES, overwrite=True)
    con.drop_table("attr_touches", force=True)


def test_rules_models_equal_hand_computation_in_the_engine(touches_table) -> None:
    wide = rule_credits(touches_table, half_life_days=7).execute().set_index("label")
    for model, expected in _hand().items():
        for label in ("search", "feed", "direct"):
            conv, rev = expected.get(label, (0.0, 0.0))
            assert wide.loc[label, f"{model}_conversions"] == pytest.approx(conv, abs=1e-9), (model, label)
            assert wide.loc[label, f"{model}_revenue"] == pytest.approx(rev, abs=1e-6), (model, label)
        # every order's weights sum to one: 3 conversions, 350 yuan
        assert wide[f"{model}_conversions"].sum() == pytest.approx(3)
        assert wide[f"{model}_revenue"].sum() == pytest.approx(350)


def test_paths_are_aggregated_in_the_engine(touches_table) -> None:
    paths = path_counts(touches_table).execute().set_index("path").sort_index()
    assert paths.to_dict("index") == {
        "direct>search>feed>direct": {"conversions": 1, "revenue": 200.0, "nulls": 0},
        "feed": {"conversions": 1, "revenue": 50.0, "nulls": 0},
        "search>feed>direct": {"conversions": 1, "revenue": 100.0, "nulls": 0},
    }


def _random_paths(seed: int, n: int = 120, channels: tuple[str, ...] = ("tmall", "jd", "douyin", "sem")):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        path = ">".join(rng.choice(channels, int(rng.integers(1, 5))))
        conv = int(rng.integers(0, 20))
        rows.append((path, conv, conv * float(rng.uniform(80, 300)), int(rng.integers(0, 40))))
    frame = pd.DataFrame(rows, columns=["path", "conversions", "revenue", "nulls"])
    return frame.groupby("path", as_index=False).sum()


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_equals_channelattribution(order: int) -> None:
    """ChannelAttribution estimates the removal effects by simulation (conv_par: relative spread between
    repetitions); the exact solution must fall within 2% of its credits."""
    ca = pytest.importorskip("ChannelAttribution")
    paths = _random_paths(order)
    ref = ca.markov_model(
        paths,
        "path",
        "conversions",
        var_value="revenue",
        var_null="nulls",
        order=order,
        nsim_start=2e5,
        conv_par=0.01,
        seed=1,
        verbose=False,
        flg_pro=False,
    ).set_index("channel_name")
    mine = markov_credits(paths, order).set_index("label")
    assert set(mine.index) == set(ref.index)
    for ch in ref.index:
        assert mine.loc[ch, "conversions"] == pytest.approx(ref.loc[ch, "total_conversions"], rel=0.02)
        assert mine.loc[ch, "revenue"] == pytest.approx(ref.loc[ch, "total_conversion_value"], rel=0.02)
    assert mine["conversions"].sum() == pytest.approx(paths["conversions"].sum())
    assert mine["revenue"].sum() == pytest.approx(paths["revenue"].sum())


def test_markov_on_a_worked_example() -> None:
    """Two paths: c1>c2 converts once, c1 never: removing c2 loses every conversion, removing c1 too,
    so they share equally; removing a channel only on non-converting paths gives it nothing."""
    paths = pd.DataFrame(
        {"path": ["c1>c2", "c1", "c3"], "conversions": [1, 0, 0], "revenue": [10.0, 0, 0], "nulls": [0, 1, 1]}
    )
    out = markov_credits(paths).set_index("label")
    assert out.loc["c1", "conversions"] == pytest.approx(0.5)
    assert out.loc["c2", "conversions"] == pytest.approx(0.5)
    assert out.loc["c3", "conversions"] == pytest.approx(0.0)
    with pytest.raises(QueryError, match="order"):
        markov_credits(paths, 4)


def test_shapley_equals_its_definition() -> None:
    paths = _random_paths(9, channels=("a", "b", "c", "d", "e"))
    fast = shapley_credits(paths).set_index("label")
    for value in ("conversions", "revenue"):
        brute = shapley_brute_force(paths, value)
        for ch, v in brute.items():
            assert fast.loc[ch, value] == pytest.approx(v)
    assert fast["conversions"].sum() == pytest.approx(paths["conversions"].sum())


def test_every_model_adds_up(touches_table) -> None:
    rules = rule_credits(touches_table).execute()
    paths = path_counts(touches_table).execute()
    result = attribute(rules, paths, markov_order=2)
    table = result.table("conversions")
    assert list(table.columns) == list(MODELS)
    assert table.sum().to_dict() == pytest.approx({m: 3.0 for m in MODELS})
    assert result.table("revenue").sum().to_dict() == pytest.approx({m: 350.0 for m in MODELS})
    with pytest.raises(QueryError, match="unknown attribution"):
        attribute(rules, paths, models=["u_shaped"])
