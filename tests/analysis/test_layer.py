"""The analysis layer: ``Project.analysis`` answers from the semantic layer, and no analysis imports a later stage."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from channelscope import Project

ANALYSIS = Path(__file__).resolve().parents[2] / "src" / "channelscope" / "analysis"
LATER = ("channelscope.monitor", "channelscope.web", "channelscope.cli", "channelscope.report", "channelscope.plan")


def test_analysis_imports_no_later_stage() -> None:
    for path in ANALYSIS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad = [n for n in names if n.startswith(LATER)]
            assert not bad, f"{path.name} imports {bad}: analysis may only use stages to its left"


def test_funnel_equals_the_kpis(demo_shop: Path) -> None:
    with Project(demo_shop, read_only=True) as p:
        f = p.analysis.funnel(start="2025-11-01", end="2025-11-30").set_index("stage")
        k = p.kpis(
            ["impressions", "visitors", "add_to_cart", "orders", "paid_orders"], start="2025-11-01", end="2025-11-30"
        )
        for stage in f.index:
            assert f.loc[stage, "value"] == float(k[stage].iloc[0])
        assert f.loc["paid_orders", "rate_from_previous"] == float(k["paid_orders"].iloc[0]) / float(
            k["orders"].iloc[0]
        )
        by = p.analysis.funnel_by_channel(start="2025-11-01", end="2025-11-30")
        assert set(by["channel"]) and (by["kept_orders"].dropna() >= 0).all()
        # JD's export has no refunds: its kept orders are unknown, not all of its paid orders
        assert by.set_index("channel")["kept_orders"].isna().to_dict() == {c: c == "jd" for c in by["channel"]}
        assert by["paid_orders"].sum() == float(k["paid_orders"].iloc[0])


def test_distributor_activity_counts_paid_days(demo_shop: Path) -> None:
    with Project(demo_shop, read_only=True) as p:
        act = p.analysis.distributor_activity(start="2025-11-01", end="2025-11-30")
        o = p.table("orders").to_pandas()
        paid = o.paid_at.notna() | o.status.isin(["paid", "shipped", "completed", "refunded"])  # 支付金额
        o = o[paid & o.distributor_id.notna()]
        day = pd.to_datetime(o.business_date)
        o = o[(day >= pd.Timestamp("2025-11-01")) & (day <= pd.Timestamp("2025-11-30"))]
        expected = o.groupby("distributor_id").business_date.nunique()
        got = act.set_index("distributor").active_days
        assert len(got) == len(expected) > 0
        assert (got.sort_index().to_numpy() == expected.sort_index().to_numpy()).all()
