"""Pacing by last year's shape falls back to linear, and says so, when last year has no data."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import write_project

from channelscope import Project

BODY = """
channels: [{id: a, name: A, kind: marketplace, platform: x}]
sources: [{name: orders, path: exports/orders.csv, preset: canonical_orders, channel_id: a}]
targets:
  - {metric: gmv, period: 2025-06, value: 3000, pacing: last_year}
"""


def test_last_year_without_data_paces_linearly_and_says_so(tmp_path: Path, warehouse_url: str) -> None:
    folder = write_project(tmp_path / "shop", BODY, warehouse_url)
    (folder / "exports").mkdir()
    rows = ["source_order_id,ordered_at,paid_at,status,net_amount"]
    rows += [f"{d},2025-06-{d:02d} 12:00:00,2025-06-{d:02d} 12:00:00,paid,100" for d in range(1, 11)]
    (folder / "exports" / "orders.csv").write_text("\n".join(rows) + "\n")
    with Project(folder) as p:
        p.ingest()
        (t,) = p.targets(as_of="2025-06-10").itertuples()
        # the data starts in June 2025: June 2024's shape would expect 0% by the 10th
        assert t.elapsed_share == pytest.approx(10 / 30)
        assert t.expected_to_date == pytest.approx(1000) and t.gap == pytest.approx(0)
        assert t.pacing_note == (
            "last year has no data for this period (the data starts on 2025-06-01, after 2024-06-01): paced linearly"
        )


def test_explain_without_traffic_splits_orders_and_aov(tmp_path: Path, warehouse_url: str) -> None:
    import math

    folder = write_project(
        tmp_path / "shop", BODY.replace("targets:", "x_targets:").split("x_targets:")[0], warehouse_url
    )
    (folder / "exports").mkdir()
    rows = ["source_order_id,ordered_at,paid_at,status,net_amount"]
    rows += [f"M{d},2025-05-{d:02d} 12:00:00,2025-05-{d:02d} 12:00:00,paid,40" for d in range(1, 6)]
    rows += [f"J{d},2025-06-{d:02d} 12:00:00,2025-06-{d:02d} 12:00:00,paid,60" for d in range(1, 11)]
    (folder / "exports" / "orders.csv").write_text("\n".join(rows) + "\n")
    with Project(folder) as p:
        p.ingest()
        result, periods = p.explain("2025-06", vs="2025-05")
    # May 5 orders x 40 = 200, June 10 x 60 = 600; LMDI weight L(600, 200) = 400 / ln 3
    weight = 400 / math.log(3)
    assert periods["basis"] == result.basis == "orders"
    assert result.total["change"] == 400
    assert result.total["visitors"] == pytest.approx(round(weight * math.log(2), 2))  # the paid orders' effect
    assert result.total["aov"] == pytest.approx(round(weight * math.log(1.5), 2))
    assert result.total["conversion_rate"] == 0 and result.total["undecomposed"] == 0
    (line,) = result.explain("en")[:1]
    assert "paid orders +¥252.37" in line and "AOV +¥147.63" in line, line
