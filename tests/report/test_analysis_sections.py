"""Report sections from the analyses on the demo: repurchase, CLV/CAC, attribution, forecast vs target and the
distributor compliance score and cases; the shipped distributor compliance report in HTML, PDF and Excel in both
languages; a finding the data cannot support says why; a channel manager's report holds only their channel."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from tests.conftest import KEY, copy_demo

from channelscope import Project
from channelscope.demo.media import generate_media_demo
from channelscope.monitor.compliance_cases import list_cases, refresh_cases
from channelscope.plan.inventory import inventory_plan
from channelscope.report import STANDARD, compose, issue_report
from channelscope.report.definitions import ReportDefinition, Section

AS_OF = dt.date(2025, 12, 1)  # November 2025
ANALYSES = ("repurchase", "clv", "attribution", "forecast_targets", "compliance_score", "compliance_cases")


@pytest.fixture(scope="module")
def shop(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_demo(demo_shop, tmp_path_factory.mktemp("analysis-sections") / "shop")
    with Project(folder) as p:
        refresh_cases(p)
    return folder


def _definition(*kinds: str) -> ReportDefinition:
    return ReportDefinition(
        name="analyses",
        title={"zh-CN": "分析", "en": "Analyses"},
        period="last_month",
        sections=[Section(kind=k) for k in kinds],  # type: ignore[arg-type]
    )


def test_analysis_sections_equal_the_analyses(shop: Path) -> None:
    with Project(shop) as p:
        r = compose(p, _definition(*ANALYSES), as_of=AS_OF, language="en")
        rep = p.analysis.customers.repurchase(as_of=dt.date(2025, 11, 30))
        score = p.analysis.compliance.score(as_of=dt.date(2025, 11, 30))
        cases = list_cases(p)
        attribution = p.analysis.attribution(start=r.start, end=r.end)
    sec = {s.kind: s for s in r.sections}
    assert [s.kind for s in r.sections] == list(ANALYSES)
    got = sec["repurchase"].table.set_index("acquisition_channel")  # type: ignore[union-attr]
    want = rep.set_index("acquisition_channel")
    for col in ("customers", "repeat_customers", "rate_90d"):
        assert got.loc[want.index, col].tolist() == pytest.approx(want[col].tolist())
    s = sec["compliance_score"].table.set_index("distributor_id")  # type: ignore[union-attr]
    w = score.set_index("distributor_id").loc[s.index]
    assert s["score"].tolist() == pytest.approx(w["score"].tolist())
    assert s["score"].is_monotonic_increasing  # lowest first
    assert set(sec["compliance_cases"].table["case_id"]) == set(cases.loc[cases["status"] != "resolved", "case_id"])  # type: ignore[index]
    # a repeat offender after a warning is a finding naming the distributor and the policy step
    repeat = score[score["repeat_days"] > 0]
    offenders = [f for f in r.findings if f.kind == "repeat_offender"]
    assert {f.evidence["distributor"] for f in offenders} == set(repeat["distributor_id"])
    assert all(f.recommendation and f.expected and f.expected["by"] for f in offenders)
    # attribution: the section's credits are the analysis' (the demo's behaviour events give multi-touch paths)
    att = sec["attribution"].table.set_index("label")  # type: ignore[union-attr]
    want_att = attribution.table("revenue")
    models = [m for m in want_att.columns if m in att.columns]
    assert len(models) >= 6
    for m in models:
        assert att[m].tolist() == pytest.approx(want_att.loc[att.index, m].tolist())
        assert att[m].sum() == pytest.approx(want_att[m].sum())  # every model credits the same revenue
    # the demo has no targets: said, never a blank or a zero
    unsupported = " ".join(f.text["en"] for f in r.findings if f.kind == "not_supported")
    assert "no targets are set" in unsupported
    assert sec["forecast_targets"].table is None


def test_clv_section_against_clv_cac(shop: Path) -> None:
    with Project(shop) as p:
        r = compose(p, _definition("clv"), as_of=AS_OF, language="zh-CN")
        c = p.analysis.customers
        want = c.clv_cac(c.clv(holdout_end=dt.date(2025, 11, 30), holdout_days=None), start=dt.date(2025, 11, 1))
    got = r.sections[0].table
    assert got is not None
    assert got["clv_to_cac"].tolist() == pytest.approx(want["clv_to_cac"].tolist(), nan_ok=True)
    # wechat_resellers records no ad spend: its CLV/CAC is empty with the reason, in Chinese
    assert pd.isna(got.set_index("acquisition_channel").loc["wechat_resellers", "clv_to_cac"])
    assert any(f.kind == "not_supported" and "没有广告花费" in f.text["zh-CN"] for f in r.findings)


def test_forecast_against_a_target_finds_the_shortfall(shop: Path, tmp_path: Path) -> None:
    folder = copy_demo(shop, tmp_path / "shop")
    cfg = folder / "channelscope.yaml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8")
        + "\ntargets:\n  - {metric: gmv, period: 2025-11, channel: tmall, value: 5000000}\n",
        encoding="utf-8",
    )
    with Project(folder) as p:
        r = compose(p, _definition("forecast_targets"), period="2025-11-01..2025-11-15", as_of=AS_OF, language="en")
        actual = float(
            p.kpis(["gmv"], start="2025-11-01", end="2025-11-15", filters={"channel": ["tmall"]})["gmv"].iloc[0]
        )
        run = p.analysis.forecast("gmv", horizon=15, windows=1, end=dt.date(2025, 11, 15))
    fc = run.forecast[run.forecast["series"] == "tmall"]
    rest = float(fc["mean"].sum())
    row = r.sections[0].table.iloc[0]  # type: ignore[union-attr]
    assert row["actual"] == pytest.approx(actual)
    assert row["forecast_rest"] == pytest.approx(rest)
    assert row["projected"] == pytest.approx(actual + rest)
    short = [f for f in r.findings if f.kind == "forecast_shortfall"]
    assert len(short) == 1 and short[0].channel == "tmall"
    assert short[0].expected["size"] == pytest.approx(5_000_000 - actual - rest, abs=0.01)  # type: ignore[index]


def test_channel_managers_analysis_sections_hold_only_their_channel(shop: Path) -> None:
    with Project(shop) as p:
        r = compose(p, _definition(*ANALYSES), as_of=AS_OF, channels=["douyin"], language="en")
        with p.warehouse.reading() as tx:
            owner = tx.query("SELECT distributor_id, channel_id FROM distributors")
    owner_of = dict(zip(owner["distributor_id"].astype(str), owner["channel_id"], strict=False))
    sec = {s.kind: s for s in r.sections}
    assert set(sec["repurchase"].table["acquisition_channel"]) == {"douyin"}  # type: ignore[index]
    assert set(sec["clv"].table["acquisition_channel"]) == {"douyin"}  # type: ignore[index]
    assert set(sec["attribution"].table["label"]) == {"douyin"}  # type: ignore[index]
    assert {owner_of[d] for d in sec["compliance_score"].table["distributor_id"]} == {"douyin"}  # type: ignore[index]
    assert {owner_of[d] for d in sec["compliance_cases"].table["distributor_id"]} == {"douyin"}  # type: ignore[index]
    assert all(owner_of.get(f.evidence.get("distributor"), "douyin") == "douyin" for f in r.findings)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_distributor_compliance_report_renders(shop: Path, tmp_path: Path, lang: str) -> None:
    assert "distributor_compliance" in STANDARD
    with Project(shop) as p:
        issued = issue_report(
            p, "distributor_compliance", as_of=AS_OF, language=lang, out_dir=tmp_path, formats=("html", "pdf", "xlsx")
        )
        score = p.analysis.compliance.score(as_of=dt.date(2025, 11, 30)).set_index("distributor_id")
    html = issued.files["html"].read_text(encoding="utf-8")
    assert ("经销商合规报告" if lang == "zh-CN" else "Distributor compliance report") in html
    part = html.split('data-kind="compliance_score"')[1].split("</section>")[0]
    values = [float(v) for v in re.findall(r'data-key="score" data-value="([^"]+)"', part)]
    assert values and values == sorted(values)
    assert min(values) == pytest.approx(float(score["score"].min()))
    wb = openpyxl.load_workbook(issued.files["xlsx"])
    sheet = next(ws for ws in wb.worksheets if ("合规评分" if lang == "zh-CN" else "compliance sc") in ws.title)
    nums = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, float)]
    assert float(score["score"].min()) in nums
    pdf = issued.files["pdf"]
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True)
    assert len(sorted(tmp_path.glob("page-*.png"))) >= 2
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts


def test_inventory_findings_name_the_planted_stockouts(shop: Path) -> None:
    truth = json.loads((shop / "inventory_truth.json").read_text(encoding="utf-8"))
    with Project(shop) as p:
        r = compose(p, _definition("inventory", "budget"), as_of=AS_OF, language="en")
        plan = inventory_plan(p)
        capped_def = _definition("inventory").model_copy(update={"sections": [Section(kind="inventory", top=2)]})
        few = compose(p, capped_def, as_of=AS_OF, language="en")
        scoped = compose(p, _definition("inventory", "budget"), as_of=AS_OF, channels=["douyin"], language="en")
    sec = {s.kind: s for s in r.sections}
    table = sec["inventory"].table
    assert table is not None
    want = plan[plan["at_risk"]].set_index("sku").sort_index()
    got = table[table["at_risk"]].set_index("sku").sort_index()
    cols = ["on_hand", "days_of_cover", "stockout_date", "reorder_point", "suggested_order", "lead_time_days"]
    pd.testing.assert_frame_equal(got[cols], want[cols])
    assert set(table.loc[table["overstock"], "sku"]) == set(plan.loc[plan["overstock"], "sku"])
    risk = [f for f in r.findings if f.kind == "inventory_at_risk"]
    assert {f.evidence["sku"] for f in risk} == {s["sku"] for s in truth["stockouts"]}
    for f in risk:
        row = want.loc[f.evidence["sku"]]
        assert f.expected and f.expected["metric"] == "units" and f.expected["size"] == row["suggested_order"] > 0
        assert f.expected["by"] and row["stockout_date"].isoformat() in f.text["en"]
        assert f"order {int(row['suggested_order'])} units now" in f.text["en"] and f.text["zh-CN"]
    # past ``top`` SKUs the rest are one finding (a large catalog does not flood the report)
    capped = [f for f in few.findings if f.kind == "inventory_at_risk"]
    assert [f.evidence.get("sku") for f in capped[:2]] == want.sort_values("stockout_date").index[:2].tolist()
    assert len(capped) == 3 and capped[2].evidence["skus"] == want.sort_values("stockout_date").index[2:].tolist()
    assert (
        capped[2].expected
        and capped[2].expected["size"] == want.sort_values("stockout_date")["suggested_order"].iloc[2]
    )
    over = [f for f in r.findings if f.kind == "overstock"]
    assert len(over) == 1 and {o["sku"] for o in truth["overstock"]} <= set(over[0].evidence["days_of_cover"])
    # the small demo's media mix fit is unreliable: the allocator's table is shown, no shift is recommended
    budget = sec["budget"].table
    assert budget is not None and len(budget)
    assert not [f for f in r.findings if f.kind == "budget_shift"]
    assert any("unreliable" in f.text["en"] for f in r.findings if f.kind == "not_supported")
    # a channel manager's report: stock and the brand-wide model are every channel's, so neither is shown
    assert all(s.table is None for s in scoped.sections)
    reasons = " ".join(f.text["en"] for f in scoped.findings)
    assert "not shown in a channel's report" in reasons and "leaves it out" in reasons
    assert [f.kind for f in scoped.findings] == ["not_supported", "not_supported"]


def test_inventory_without_an_inventory_table_says_so(shop: Path, tmp_path: Path) -> None:
    folder = copy_demo(shop, tmp_path / "shop")
    with Project(folder) as p:
        p.warehouse.execute("DROP TABLE inventory")
        r = compose(p, _definition("inventory"), as_of=AS_OF, language="zh-CN")
    assert r.sections[0].table is None
    assert [f.kind for f in r.findings] == ["not_supported"] and "inventory" in r.findings[0].text["en"]


@pytest.fixture(scope="module")
def media_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("media") / "shop"
    generate_media_demo(folder, seed=7, aov_scale=20)
    (folder / "secrets").mkdir(exist_ok=True)
    (folder / "secrets" / "pseudonym.key").write_text(KEY + "\n")
    with Project(folder) as p:
        p.ingest()
    return folder


def test_budget_section_equals_the_allocator(media_shop: Path) -> None:
    d = _definition("budget").model_copy(update={"period": "2025-11"})
    with Project(media_shop) as p:
        r = compose(p, d, as_of=dt.date(2025, 12, 31), language="en")
        fit = p.analysis.media_mix(end=dt.date(2025, 11, 30))
        plan = p.analysis.allocate_budget(fit)
    sec = r.sections[0]
    assert sec.table is not None
    got, want = sec.table.set_index("platform"), plan.platforms.set_index("platform")
    for col in ("current_spend", "recommended_spend", "scale", "current_contribution", "expected_contribution"):
        assert got[col].tolist() == pytest.approx(want.loc[got.index, col].tolist())
    assert plan.gain_low > 0
    (shift,) = [f for f in r.findings if f.kind == "budget_shift"]
    days = len(fit.dates)
    assert shift.evidence["expected_gain"] == pytest.approx(plan.expected_gain)
    assert (shift.evidence["gain_low"], shift.evidence["gain_high"]) == pytest.approx((plan.gain_low, plan.gain_high))
    assert shift.expected and shift.expected["metric"] == "gmv" and shift.expected["by"] == "2025-12-30"
    assert shift.expected["size"] == pytest.approx(plan.expected_gain * 30 / days, abs=0.01)
    assert shift.expected["low"] <= shift.expected["size"] <= shift.expected["high"]
    change = want["recommended_spend"] - want["current_spend"]
    moved = float(change[change > 0].sum()) * 30 / days
    assert f"Move ¥{moved:,.2f} per 30 days" in shift.text["en"]
    src, dst = shift.text["en"].split(" from ")[1].split(":")[0].split(" to ")
    assert set(src.split(", ")) == set(change.index[change < 0])
    assert set(dst.split(", ")) == set(change.index[change > 0])
    assert shift.text["zh-CN"] and shift.recommendation


def test_budget_with_too_little_history_says_so(media_shop: Path) -> None:
    d = _definition("budget").model_copy(update={"period": "2024-01"})
    with Project(media_shop) as p:
        r = compose(p, d, as_of=dt.date(2025, 12, 31), language="en")
    assert r.sections[0].table is None
    assert [f.kind for f in r.findings] == ["not_supported"] and "60 days" in r.findings[0].text["en"]
