"""The stock-out risk alert kind on the demo: it fires for exactly the SKUs the inventory plan sees running out
before a replenishment ordered now arrives (the demo's planted stock-outs, ``inventory_truth.json``), reaches a
real signed-webhook receiver on 127.0.0.1, stays out of a channel manager's inbox (stock is brand-wide), and
resolves itself once fresh stock takes a SKU out of risk."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml
from tests.conftest import copy_demo
from tests.monitor.receivers import SECRET, Receiver

from channelscope import Project
from channelscope.monitor.dispatch import check_and_notify
from channelscope.plan.inventory import inventory_plan
from channelscope.web.auth import User
from channelscope.web.service import alerts_table

AS_OF = dt.date(2025, 11, 30)


def test_stockout_risk_alerts_fire_notify_and_resolve(demo_shop: Path, tmp_path: Path) -> None:
    hook = Receiver("webhook").start()
    try:
        folder = copy_demo(demo_shop, tmp_path / "shop")
        cfg = yaml.safe_load((folder / "channelscope.yaml").read_text(encoding="utf-8"))
        cfg["alerts"]["rules"] = [{"name": "stock", "kind": "stockout_risk", "severity": "critical"}]
        cfg["alerts"]["notifiers"] = {
            "ops_hook": {"kind": "webhook", "url_env": "CS_OPS_URL", "secret_env": "CS_SIGNING_SECRET", "timeout": 5}
        }
        cfg["alerts"]["routes"] = [{"notify": ["ops_hook"], "rules": ["stock"]}]
        cfg["alerts"]["secrets_file"] = "secrets/alerts.env"
        (folder / "channelscope.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
        (folder / "secrets" / "alerts.env").write_text(
            f"CS_OPS_URL={hook.url}\nCS_SIGNING_SECRET={SECRET}\n", encoding="utf-8"
        )
        truth = json.loads((folder / "inventory_truth.json").read_text(encoding="utf-8"))
        planted = {s["sku"] for s in truth["stockouts"]}
        with Project(folder) as p:
            plan = inventory_plan(p).set_index("sku")
            report = check_and_notify(p, as_of=AS_OF, now=dt.datetime(2025, 12, 1, 2))
            assert not report.errors, report.errors
            found = {f.scope["sku"]: f for f in report.findings}
            assert set(found) == set(plan.index[plan["at_risk"]]) == planted
            for sku, f in found.items():
                row = plan.loc[sku]
                assert f.kind == "stockout_risk" and f.severity == "critical" and f.auto_resolve
                assert f.evidence["stockout_date"] == str(row["stockout_date"])
                assert f.evidence["suggested_order"] == int(row["suggested_order"]) > 0
                assert f.value == row["days_of_cover"] and f.expected == row["lead_time_days"]
                assert f"order {int(row['suggested_order']):,} units" in f.title["en"] and "断货" in f.title["zh-CN"]
            # one signed message per SKU at the webhook
            assert len(hook.accepted) == len(planted), hook.accepted
            assert all(sum(f"SKU {sku} " in a["title"] for a in hook.accepted) == 1 for sku in planted)
            admin = User("boss", "admin", (), (), "en")
            tm = User("li", "channel_manager", ("tmall",), (), "en")
            opened = alerts_table(p, admin, status="open")
            assert (opened["rule"] == "stock").sum() == len(planted)
            assert alerts_table(p, tm)["rule"].ne("stock").all()  # brand-wide stock: not a channel's
            # stock arrives for one SKU: its alert resolves itself; the others stay open, not sent again within the
            # cooldown
            sku = sorted(planted)[0]
            p.warehouse.execute(
                "INSERT INTO inventory (date, sku, location, on_hand) SELECT date + INTERVAL 1 DAY, sku, location,"
                " CASE WHEN sku = ? THEN on_hand + 100000 ELSE on_hand END FROM inventory"
                " WHERE date = (SELECT max(date) FROM inventory)",
                [sku],
            )
            again = check_and_notify(p, as_of=AS_OF, now=dt.datetime(2025, 12, 1, 3))
            assert {f.scope["sku"] for f in again.findings} == planted - {sku}
            assert len(again.resolved) == 1 and len(hook.accepted) == len(planted)
    finally:
        hook.stop()
