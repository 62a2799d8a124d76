"""Compliance cases on the demo: opened from the planted breaches with the policy's action, a lifecycle like
alerts, repeats after notification, and the evidence pack (PDF looked at through pdftoppm, and Excel) listing
exactly the case's orders."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from tests.conftest import REPO, copy_demo

from channelscope import Project
from channelscope.monitor.compliance_cases import (
    CaseTransitionError,
    get_case,
    list_cases,
    move_case,
    refresh_cases,
)
from channelscope.report.evidence_pack import render_evidence

SHOTS = REPO / "build" / "screenshots"


@pytest.fixture(scope="module")
def shop(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_shop, tmp_path_factory.mktemp("cases") / "shop")


def _truth(p: Project) -> dict:
    return json.loads((p.folder / "ground_truth.json").read_text(encoding="utf-8"))["channel_order"]


def test_cases_open_with_the_policy_and_move_through_their_lifecycle(shop: Path) -> None:
    with Project(shop) as p:
        out = refresh_cases(p, now=dt.datetime(2025, 12, 3, 10))
        truth = _truth(p)
        groups = {(g["distributor_id"], g["sku"]) for g in truth["price_violation_groups"]}
        regions = {r["distributor_id"] for r in truth["cross_region_orders"]}
        cases = list_cases(p)
        price = cases[cases["kind"] == "price"]
        assert set(zip(price["distributor_id"], price["sku"], strict=True)) == groups
        assert set(cases.loc[cases["kind"] == "region", "distributor_id"]) == regions
        assert len(out["opened"]) == len(groups) + len(regions)
        assert refresh_cases(p) == {"opened": [], "updated": [], "repeated": []}  # nothing new: nothing changes
        # the deep, repeated case reaches suspension; a single shallow line only a warning
        by = price.set_index(["distributor_id", "sku"])
        deep = by.loc[next(g for g in groups if g[0] == "wx-r03")]
        assert deep["action"] == "suspend_commission" and deep["severity"] == "critical"
        assert set(by["action"]) >= {"warning", "suspend_commission"}
        cid = str(deep["case_id"])
        move_case(p, cid, "notified", by="lead", note="letter sent")
        with pytest.raises(CaseTransitionError):
            move_case(p, cid, "open")
        move_case(p, cid, "appealed", by="wx-r03")
        move_case(p, cid, "resolved", by="lead")
        case = get_case(p, cid[:6])
        assert case["status"] == "resolved"
        assert [h["status"] for h in json.loads(case["history_json"])] == ["open", "notified", "appealed", "resolved"]


def test_evidence_pack_pdf_lists_exactly_the_case_orders(shop: Path, tmp_path: Path) -> None:
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    with Project(shop) as p:
        refresh_cases(p)
        cases = list_cases(p)
        case = get_case(
            p, str(cases[(cases["kind"] == "price") & (cases["distributor_id"] == "wx-r02")].iloc[0]["case_id"])
        )
        truth = _truth(p)
        want = sorted(
            {
                v["order_id"]
                for v in truth["price_violations"]
                if (v["distributor_id"], v["sku"]) == ("wx-r02", case["sku"])
            }
        )
        pdf = render_evidence(p, case, "pdf", "zh-CN")
        xlsx = render_evidence(p, case, "xlsx", "en")
    (tmp_path / "pack.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", str(tmp_path / "pack.pdf"), str(tmp_path / "pack")],
        check=True,
    )
    png = next(tmp_path.glob("pack*.png"))
    assert png.stat().st_size > 10_000
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, SHOTS / "evidence_pack.png")
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "pack.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    import re

    listed = sorted(set(re.findall(r"wechat_resellers:WX\d+|douyin:\d+", text)))
    assert listed == want and len(want) == 5
    assert "QH-GS03-GIFT" in text or case["sku"] in text
    (tmp_path / "pack.xlsx").write_bytes(xlsx)
    wb = openpyxl.load_workbook(tmp_path / "pack.xlsx")
    cells = {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None}
    assert sorted(c for c in cells if re.fullmatch(r"wechat_resellers:WX\d+", c)) == want


def test_a_violation_after_notification_is_a_repeat(shop: Path) -> None:
    with Project(shop) as p:
        refresh_cases(p)
        cases = list_cases(p)
        row = cases[(cases["kind"] == "region") & (cases["distributor_id"] == "wx-r01")].iloc[0]
        move_case(p, str(row["case_id"]), "notified")
        # a later cross-region order of wx-r01 (shipped to a third province) arrives
        p.warehouse.execute(
            "UPDATE orders SET region = '新疆' WHERE order_id = (SELECT max(order_id) FROM orders "
            "WHERE distributor_id = 'wx-r01' AND business_date > DATE '2025-09-01')"
        )
        out = refresh_cases(p)
        assert out["repeated"] == [row["case_id"]]


def test_alert_kinds_for_new_and_repeated_violations(demo_shop: Path, tmp_path: Path) -> None:
    import yaml

    from channelscope.monitor.dispatch import check_and_notify

    folder = copy_demo(demo_shop, tmp_path / "shop")
    cfg = yaml.safe_load((folder / "channelscope.yaml").read_text(encoding="utf-8"))
    cfg["alerts"]["rules"] = [
        {"name": "price_new", "kind": "price_violation", "days": 120, "min_depth": 0.05, "severity": "warning"},
        {"name": "price_repeat", "kind": "repeated_violation", "severity": "critical"},
    ]
    (folder / "channelscope.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with Project(folder) as p:
        truth = _truth(p)
        report = check_and_notify(p, as_of=dt.date(2025, 11, 30), now=dt.datetime(2025, 12, 3, 2))
        assert not report.errors
        found = {(f.rule, f.scope["distributor_id"], f.scope["sku"]) for f in report.findings}
        since = dt.date(2025, 11, 30) - dt.timedelta(days=119)
        new = {
            ("price_new", g["distributor_id"], g["sku"])
            for g in truth["price_violation_groups"]
            if dt.date.fromisoformat(g["last_seen"]) >= since and g["depth_worst"] >= 0.05
        }
        repeated = {
            ("price_repeat", g["distributor_id"], g["sku"]) for g in truth["price_violation_groups"] if g["repeat_days"]
        }
        assert found == new | repeated
        assert {r[1] for r in repeated} == {"wx-r02", "7012345602"}
        rows = p.warehouse.execute("SELECT kind, distributor_id, severity FROM alerts ORDER BY kind, distributor_id")
        assert ("repeated_violation", "wx-r02", "critical") in [tuple(r) for r in rows]


def _ladder(depth: float, repeats: int) -> str:
    """The default policy of ``compliance`` written out by hand (config/compliance.py DEFAULT_POLICY)."""
    if depth >= 0.30 and repeats >= 3:
        return "terminate"
    if depth >= 0.30 or repeats >= 3:
        return "suspend_commission"
    if depth >= 0.10 or repeats >= 1:
        return "fine"
    return "warning"


def test_a_notified_case_is_a_warning_and_what_follows_escalates(demo_shop: Path, tmp_path: Path) -> None:
    """A case moved to notified counts as a warning: the violation days after its notification day are repeats
    (checked against ground_truth.json's lines), and the graded policy escalates the case by them."""
    folder = copy_demo(demo_shop, tmp_path / "shop")
    with Project(folder) as p:
        truth = _truth(p)
        refresh_cases(p, now=dt.datetime(2025, 1, 1))
        cases = list_cases(p)
        price = cases[(cases["kind"] == "price") & (cases["distributor_id"] == "7012345601")]
        case = price[price["sku"] == "QH-MK02-100G"].iloc[0]
        region = cases[(cases["kind"] == "region") & (cases["distributor_id"] == "wx-r01")].iloc[0]
        assert case["action"] == "warning" and int(case["repeat_days"]) == 0
        assert region["action"] == "warning" and int(region["repeat_days"]) == 0
        # notified on its first violation day (10:00 in Shanghai): what follows that day is a repeat
        first = dt.date.fromisoformat(str(case["first_seen"]))
        move_case(p, str(case["case_id"]), "notified", by="lead", now=dt.datetime.combine(first, dt.time(2)))
        move_case(p, str(case["case_id"]), "acknowledged", by="7012345601")  # still a warning after
        region_first = dt.date.fromisoformat(str(region["first_seen"]))
        move_case(p, str(region["case_id"]), "notified", by="lead", now=dt.datetime.combine(region_first, dt.time(2)))
        out = refresh_cases(p, now=dt.datetime(2025, 12, 3))
        assert set(out["repeated"]) == {case["case_id"], region["case_id"]} and not out["opened"]
        want_days = {
            v["business_date"]
            for v in truth["price_violations"]
            if (v["distributor_id"], v["sku"]) == ("7012345601", "QH-MK02-100G") and v["business_date"] > str(first)
        }
        want_region = {
            r["business_date"]
            for r in truth["cross_region_orders"]
            if r["distributor_id"] == "wx-r01" and r["business_date"] > str(region_first)
        }
        assert len(want_days) == 2 and len(want_region) == 2
        after = get_case(p, str(case["case_id"]))
        assert int(after["repeat_days"]) == len(want_days)
        depth = max(
            v["depth"]
            for v in truth["price_violations"]
            if (v["distributor_id"], v["sku"]) == ("7012345601", "QH-MK02-100G")
        )
        assert after["action"] == _ladder(depth, len(want_days)) == "fine"
        assert after["fine"] == 5000 and after["severity"] == "warning"
        assert after["status"] == "acknowledged"  # the lifecycle is the people's: a refresh does not move it
        r_after = get_case(p, str(region["case_id"]))
        assert int(r_after["repeat_days"]) == len(want_region)
        assert r_after["action"] == _ladder(0.0, len(want_region)) == "fine"
        assert json.loads(r_after["rule_json"])["applied"]["action"] == "fine"
        # the analysis sees the notified case as the group's first warning (alerts and the score read it)
        groups = p.analysis.compliance.violations().set_index(["distributor_id", "sku"])
        g = groups.loc[("7012345601", "QH-MK02-100G")]
        assert str(g["first_warning"])[:10] == str(first) and int(g["repeat_days"]) == len(want_days)
        # loaded warnings still count: wx-r02's stays its first warning
        assert str(groups.loc[("wx-r02", "QH-GS03-GIFT"), "first_warning"])[:10] == "2024-12-20"
        assert refresh_cases(p) == {"opened": [], "updated": [], "repeated": []}


def test_cases_are_routed_to_their_channel_manager_through_real_receivers(demo_shop: Path, tmp_path: Path) -> None:
    """New and repeated cases reach the manager whose scope holds the distributor most closely (users of role
    channel_manager), through the notifiers ``compliance.managers`` names: e-mail over SMTP with STARTTLS and a
    signed webhook, both real receivers on 127.0.0.1; a case nobody holds reaches only the catch-all route."""
    import yaml
    from tests.monitor.receivers import SECRET, SMTP_PASSWORD, SMTP_USER, Receiver, SmtpReceiver, make_certificate

    from channelscope.monitor.compliance_cases import NEW_CASE, REPEATED_CASE, case_managers, notify_cases
    from channelscope.web.auth import AuthStore

    cert, key = make_certificate(tmp_path)
    smtp = SmtpReceiver(cert, key).start()
    hook, ops = Receiver("webhook").start(), Receiver("webhook").start()
    try:
        folder = copy_demo(demo_shop, tmp_path / "shop")
        cfg = yaml.safe_load((folder / "channelscope.yaml").read_text(encoding="utf-8"))
        cfg["alerts"]["notifiers"] = {
            "wang_mail": {
                "kind": "email",
                "host": "127.0.0.1",
                "port": smtp.port,
                "ca_file": str(cert),
                "username": SMTP_USER,
                "password_env": "CS_SMTP_PASSWORD",
                "sender": "cases@shop.example",
                "to": ["wang@shop.example"],
                "timeout": 5,
            },
            "li_hook": {"kind": "webhook", "url_env": "CS_LI_URL", "secret_env": "CS_SIGNING_SECRET", "timeout": 5},
            "ops_hook": {"kind": "webhook", "url_env": "CS_OPS_URL", "secret_env": "CS_SIGNING_SECRET", "timeout": 5},
        }
        cfg["alerts"]["routes"] = [{"notify": ["ops_hook"], "rules": [REPEATED_CASE]}]
        cfg["alerts"]["rules"] = []
        cfg["alerts"]["secrets_file"] = "secrets/alerts.env"
        cfg["compliance"] = {**(cfg.get("compliance") or {}), "managers": {"wang": ["wang_mail"], "li": ["li_hook"]}}
        (folder / "channelscope.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        (folder / "secrets" / "alerts.env").write_text(
            f"CS_LI_URL={hook.url}\nCS_OPS_URL={ops.url}\nCS_SIGNING_SECRET={SECRET}\nCS_SMTP_PASSWORD={SMTP_PASSWORD}\n",
            encoding="utf-8",
        )
        with Project(folder) as p:
            store = AuthStore(p)
            store.ensure_tables()
            store.add_user("wang", "channel_manager", "pw-wang-123", distributors=["wx-r01"])
            store.add_user("zhao", "channel_manager", "pw-zhao-123", channels=["wechat_resellers"])
            store.add_user("li", "channel_manager", "pw-li-1234", channels=["douyin"])
            held = case_managers(p, ["wx-r01", "wx-r01-04", "wx-r03", "7012345602"])
            assert held == {"wx-r01": ["wang"], "wx-r01-04": ["wang"], "wx-r03": ["zhao"], "7012345602": ["li"]}
            changes = refresh_cases(p, now=dt.datetime(2025, 1, 1))
            out = notify_cases(p, changes, now=dt.datetime(2025, 12, 3, 2), timeout=10)
            cases = list_cases(p, managers=True).set_index("case_id")
            d = p.table("distributors").select("distributor_id", "parent_id", "channel_id").to_pandas()
            wang = {"wx-r01", *d.loc[d["parent_id"] == "wx-r01", "distributor_id"]}
            douyin = set(d.loc[d["channel_id"] == "douyin", "distributor_id"])
            want_wang = {c for c, r in cases.iterrows() if r["distributor_id"] in wang}
            want_li = {c for c, r in cases.iterrows() if r["distributor_id"] in douyin}
            assert want_wang and want_li and set(out["routed"]) == set(cases.index)
            assert {c for c, r in out["routed"].items() if r["managers"] == ["wang"]} == want_wang
            assert {c for c, r in out["routed"].items() if r["managers"] == ["li"]} == want_li
            assert all(r["kind"] == NEW_CASE for r in out["routed"].values())
            assert set(cases.loc[list(want_wang), "manager"]) == {"wang"}
            assert out["delivery"]["failed"] == 0 and not out["delivery"]["errors"]
            # what each receiver got: exactly its manager's cases (one message per case), nothing for ops yet
            keys = {
                str(r[0]): json.loads(r[1])["case_id"]
                for r in p.warehouse.execute("SELECT alert_id, scope_json FROM alerts WHERE kind = ?", [NEW_CASE])
            }
            assert len(smtp.messages) == len(want_wang)
            assert {keys[str(m["X-Channelscope-Key"])] for m in smtp.messages} == want_wang
            subjects = " ".join(str(m["Subject"]) for m in smtp.messages)
            assert all(f"{cases.loc[c, 'distributor_id']}" in subjects for c in want_wang)
            assert {keys[a["key"]] for a in hook.accepted} == want_li and len(hook.accepted) == len(want_li)
            assert not ops.accepted
            # wang notifies wx-r01's region case; a later out-of-region order is a repeat: wang and ops hear of it
            region = cases[(cases["kind"] == "region") & (cases["distributor_id"] == "wx-r01")].index[0]
            move_case(p, region, "notified", by="wang", now=dt.datetime(2025, 3, 6, 2))
            p.warehouse.execute(
                "UPDATE orders SET region = '新疆' WHERE order_id = (SELECT max(order_id) FROM orders "
                "WHERE distributor_id = 'wx-r01' AND business_date > DATE '2025-09-01')"
            )
            again = refresh_cases(p, now=dt.datetime(2025, 12, 4))
            assert again["repeated"] == [region]
            out = notify_cases(p, again, now=dt.datetime(2025, 12, 4, 2), timeout=10)
            assert out["routed"] == {region: {"kind": REPEATED_CASE, "managers": ["wang"], "notifiers": ["wang_mail"]}}
            assert len(smtp.messages) == len(want_wang) + 1
            assert "Repeated" in str(smtp.messages[-1]["Subject"]) or "再犯" in str(smtp.messages[-1]["Subject"])
            assert len(ops.accepted) == 1 and len(hook.accepted) == len(want_li)
            rows = p.warehouse.execute(
                "SELECT kind, distributor_id, severity FROM alerts WHERE kind = ?", [REPEATED_CASE]
            )
            assert [tuple(r) for r in rows] == [(REPEATED_CASE, "wx-r01", "warning")]  # escalated: a fine
    finally:
        smtp.stop()
        hook.stop()
        ops.stop()
