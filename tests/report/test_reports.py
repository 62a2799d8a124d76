"""Reports on the demo (DuckDB and PostgreSQL): findings with the right cause in a shock's week and none in a quiet week; every number
equal to the KPI layer's (parsed back from the HTML and the Excel); a channel manager's report holds only their
channel; the PDF renders (pdftoppm) in both languages."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from tests.conftest import copy_demo

from channelscope import Project
from channelscope.report import STANDARD, compose, issue_report, resolve_period

AS_OF = dt.date(2025, 12, 1)


def test_periods_resolve_from_the_issue_date() -> None:
    assert resolve_period("yesterday", AS_OF) == (dt.date(2025, 11, 30), dt.date(2025, 11, 30))
    assert resolve_period("last_week", dt.date(2025, 12, 3)) == (dt.date(2025, 11, 24), dt.date(2025, 11, 30))
    assert resolve_period("last_month", AS_OF) == (dt.date(2025, 11, 1), dt.date(2025, 11, 30))
    assert resolve_period("2025-W12", AS_OF) == (dt.date(2025, 3, 17), dt.date(2025, 3, 23))


def test_shock_week_has_its_finding_with_the_right_cause(demo_on: Path) -> None:
    truth = json.loads((demo_on / "ground_truth.json").read_text())
    shock = next(a for a in truth["anomalies"] if a["kind"] == "traffic_drop")  # tmall, 2025-03-18..19
    with Project(demo_on, read_only=True) as p:
        r = compose(p, STANDARD["weekly_channel_review"], period="2025-W12", as_of=AS_OF)
    anomalies = [f for f in r.findings if f.kind == "anomaly"]
    assert [f.channel for f in anomalies] == [shock["channel_id"]]
    f = anomalies[0]
    assert f.evidence["cause"] == "visitors" and f.evidence["direction"] == "low"
    assert f.evidence["days"][0] == shock["start"]
    assert f.recommendation and f.expected and f.expected["metric"] == "gmv" and f.expected["size"] > 0
    assert "traffic" in f.text["en"] and "流量" in f.text["zh-CN"]


def test_quiet_week_has_no_finding(demo_on: Path) -> None:
    with Project(demo_on, read_only=True) as p:
        r = compose(p, STANDARD["weekly_channel_review"], period="2025-W24", as_of=AS_OF)
    assert r.findings == []


def test_numbers_equal_the_kpi_layer_in_html_and_excel(demo_on: Path, tmp_path: Path) -> None:
    with Project(demo_on, read_only=True) as p:
        issued = issue_report(
            p,
            "monthly_business_review",
            period="2025-10",
            as_of=AS_OF,
            language="en",
            out_dir=tmp_path,
            formats=("html", "xlsx"),
        )
        kpis = p.kpis(
            ["gmv", "paid_orders", "aov", "refund_rate"], start="2025-10-01", end="2025-10-31", compare="previous"
        )
        by_channel = p.kpis(["gmv", "paid_orders"], by=["channel"], start="2025-10-01", end="2025-10-31")
    html = issued.files["html"].read_text()
    kpi_section = html.split('data-kind="kpis"')[1].split("</section>")[0]
    values = [float(v) for v in re.findall(r'data-key="value" data-value="([^"]+)"', kpi_section)]
    metrics = STANDARD["monthly_business_review"].sections[0].metrics
    got = dict(zip(metrics, values, strict=False))
    for m in ("gmv", "paid_orders", "aov", "refund_rate"):
        assert got[m] == pytest.approx(float(kpis[m].iloc[0]), rel=1e-12)
    prev = [float(v) for v in re.findall(r'data-key="previous" data-value="([^"]+)"', kpi_section)]
    assert prev[0] == pytest.approx(float(kpis["gmv_prev"].iloc[0]))
    wb = openpyxl.load_workbook(issued.files["xlsx"])
    sheet = next(ws for ws in wb.worksheets if ws.title.startswith("3 "))  # the channels section
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    head = next(i for i, r in enumerate(rows) if r[0] == "Channel")
    gmv_col = rows[head].index("Paid GMV")
    sheet_gmv = sorted(float(r[gmv_col]) for r in rows[head + 1 :] if r[0])
    assert sheet_gmv == pytest.approx(sorted(float(v) for v in by_channel["gmv"]), rel=1e-12)
    assert sheet.freeze_panes is not None


def test_channel_scope_holds_only_its_channel(demo_on: Path, tmp_path: Path) -> None:
    with Project(demo_on, read_only=True) as p:
        names = {c.id: c.name for c in p.config.channels}
        issued = issue_report(
            p,
            "weekly_channel_review",
            period="2025-W12",
            as_of=AS_OF,
            channels=["tmall"],
            language="zh-CN",
            out_dir=tmp_path,
            formats=("html", "xlsx"),
        )
        tmall = p.kpis(["gmv"], start="2025-03-17", end="2025-03-23", filters={"channel": ["tmall"]})
    html = issued.files["html"].read_text()
    assert names["tmall"] in html
    for cid, name in names.items():
        if cid != "tmall":
            assert name not in html, f"{name} leaks into tmall's report"
    kpi = html.split('data-kind="kpis"')[1]
    first = float(re.findall(r'data-key="value" data-value="([^"]+)"', kpi)[0])
    assert first == pytest.approx(float(tmall["gmv"].iloc[0]))
    wb = openpyxl.load_workbook(issued.files["xlsx"])
    text = " ".join(str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert all(name not in text for cid, name in names.items() if cid != "tmall")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_pdf_renders_pages(demo_shop: Path, tmp_path: Path, lang: str) -> None:
    with Project(demo_shop, read_only=True) as p:
        issued = issue_report(
            p,
            "weekly_channel_review",
            period="2025-W12",
            as_of=AS_OF,
            language=lang,
            out_dir=tmp_path,
            formats=("pdf",),
        )
    pdf = issued.files["pdf"]
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in out  # the CJK font is embedded, so Chinese text is never tofu


def test_cli_report_run(demo_shop: Path, tmp_path: Path) -> None:
    import os
    import sys

    # a private copy: the CLI writes the archive and opens the warehouse for writing (one DuckDB writer per file)
    demo_shop = copy_demo(demo_shop, tmp_path / "shop")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "channelscope.cli", *args], capture_output=True, text=True, env=env, timeout=600
        )

    res = run(
        "report",
        "run",
        "daily_brief",
        "-p",
        str(demo_shop),
        "--as-of",
        "2025-03-19",
        "--format",
        "html",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["period"] == ["2025-03-18", "2025-03-18"]
    assert Path(out["files"]["html"]).exists()
    bad = run("report", "run", "nope", "-p", str(demo_shop))
    assert bad.returncode == 2 and "unknown report 'nope'" in bad.stderr + bad.stdout
