"""The alert lifecycle in the warehouse (DuckDB and PostgreSQL), cooldown, digests, routing by channel, and the
outbox against real receivers on 127.0.0.1 that are down, answer 500, are slow or refuse the SMTP login, then
come back: every message is delivered exactly once, failures are recorded (without secrets) and listed."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import write_project
from tests.monitor.receivers import SECRET, SMTP_PASSWORD, SMTP_USER, TOKEN, Receiver, SmtpReceiver, make_certificate

from channelscope import Project
from channelscope.monitor.dispatch import (
    RetryPolicy,
    acknowledge,
    alert_detail,
    deliver_due,
    list_alerts,
    record_findings,
    resolve,
    retry_failed,
)
from channelscope.monitor.findings import Evaluation, Finding
from channelscope.monitor.store import AlertNotFound, LifecycleError

T0 = dt.datetime(2025, 3, 18, 9, 0)
CHANNELS = """
channels:
  - {id: tmall, name: 天猫, kind: marketplace, platform: tmall}
  - {id: jd, name: 京东, kind: marketplace, platform: jd}
"""
ROUTES = """
  routes:
    - {notify: [ops_hook], severity: [warning, critical]}
    - {notify: [tmall_team], channels: [tmall]}
    - {notify: [jd_team], channels: [jd]}
"""


def finding(
    channel: str | None = "tmall",
    *,
    rule: str = "gmv_wow",
    severity: str = "warning",
    period: str = "2025-W12",
    auto: bool = False,
    value: float = 6500.0,
) -> Finding:
    scope = {"channel_id": channel} if channel else {}
    return Finding(
        rule=rule,
        kind="change" if not auto else "freshness",
        severity=severity,
        scope=scope,
        period=period,
        metric="gmv",
        value=value,
        expected=10000.0,
        lower=None,
        upper=None,
        title={"en": f"GMV of {channel or 'all'} fell", "zh-CN": f"{channel or '全部'} GMV 下降"},
        text={"en": "visitors -20%", "zh-CN": "访客 -20%"},
        evidence={"value": value},
        auto_resolve=auto,
    )


def evaluation(*found: Finding, checked: list[str] | None = None, errors: list[str] | None = None) -> Evaluation:
    names = sorted({f.rule for f in found}) if checked is None else checked
    return Evaluation(findings=list(found), checked=names, errors=errors or [])


def alerts_yaml(notifiers: str, *, digest: bool = False, routes: str = ROUTES, cooldown: str = "6h") -> str:
    return (
        CHANNELS
        + f"alerts:\n  language: en\n  cooldown: {cooldown}\n  digest: {str(digest).lower()}\n"
        + "  secrets_file: secrets/alerts.env\n  notifiers:\n"
        + notifiers
        + routes
    )


ROBOTS = """    ops_hook: {kind: webhook, url_env: CS_HOOK_URL, secret_env: CS_SIGNING_SECRET, timeout: 1}
    tmall_team: {kind: dingtalk, url_env: CS_DING_URL, secret_env: CS_SIGNING_SECRET, timeout: 1}
    jd_team: {kind: feishu, url_env: CS_FEISHU_URL, secret_env: CS_SIGNING_SECRET, timeout: 1}
"""


def write_secrets(folder: Path, recs: dict[str, Receiver]) -> None:
    lines = [
        f"CS_HOOK_URL={recs['webhook'].url}",
        f"CS_DING_URL={recs['dingtalk'].url}",
        f"CS_FEISHU_URL={recs['feishu'].url}",
        f"CS_SLACK_URL={recs['slack'].url}",
        f"CS_SIGNING_SECRET={SECRET}",
    ]
    (folder / "secrets" / "alerts.env").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def receivers() -> Iterator[dict[str, Receiver]]:
    recs = {k: Receiver(k).start() for k in ("slack", "dingtalk", "feishu", "webhook")}
    yield recs
    for r in recs.values():
        r.stop()


@pytest.fixture
def recs(receivers: dict[str, Receiver]) -> dict[str, Receiver]:
    for r in receivers.values():
        if r._server is None:
            r.start()
        r.mode, r.accepted, r.rejected, r.requests = "ok", [], [], 0
    return receivers


def rows(p: Project, sql: str) -> list[tuple]:
    return p.warehouse.execute(sql)


# ---- lifecycle -------------------------------------------------------------------------------------------


def test_lifecycle_open_ack_resolve_reopen_and_auto_resolve(tmp_path: Path, warehouse_url: str) -> None:
    folder = write_project(tmp_path / "shop", alerts_yaml(ROBOTS), warehouse_url)
    sales, stale = finding("tmall"), finding(None, rule="orders_fresh", period="now", auto=True)
    with Project(folder) as p:
        r = record_findings(p, evaluation(sales, stale), now=T0)
        assert sorted(r.opened) == sorted([sales.key, stale.key]) and r.queued == 3  # tmall: hook + team; whole: hook
        got = rows(p, "SELECT alert_id, status, severity, channel_id, occurrences, value FROM alerts ORDER BY alert_id")
        assert sorted(got) == sorted(
            [(sales.key, "open", "warning", "tmall", 1, 6500.0), (stale.key, "open", "warning", None, 1, 6500.0)]
        )
        # seen again an hour later: updated, not notified again (cooldown 6h)
        r = record_findings(p, evaluation(sales, stale), now=T0 + dt.timedelta(hours=1))
        assert sorted(r.updated) == sorted([sales.key, stale.key]) and r.queued == 0 and r.suppressed == 2
        assert rows(p, "SELECT min(occurrences), max(occurrences) FROM alerts") == [(2, 2)]
        assert rows(p, "SELECT count(*) FROM alert_deliveries") == [(3,)]
        # acknowledged: its undelivered notifications are cancelled
        row = acknowledge(p, sales.key[:8], by="li.lei", now=T0 + dt.timedelta(hours=1, minutes=5))
        assert (row["alert_id"], row["status"], row["acknowledged_by"]) == (sales.key, "acknowledged", "li.lei")
        assert rows(p, "SELECT status, count(*) FROM alert_deliveries GROUP BY status ORDER BY status") == [
            ("cancelled", 2),
            ("pending", 1),
        ]
        # a rule that failed to evaluate keeps its alerts; once checked without the finding, they resolve
        r = record_findings(p, evaluation(sales, checked=["gmv_wow"], errors=["orders_fresh: boom"]), now=T0)
        assert r.resolved == []
        r = record_findings(p, evaluation(sales, checked=["gmv_wow", "orders_fresh"]), now=T0 + dt.timedelta(hours=2))
        assert r.resolved == [stale.key] and r.suppressed == 1  # the acknowledged one is not notified
        assert rows(p, f"SELECT status, resolved_by FROM alerts WHERE alert_id = '{stale.key}'") == [
            ("resolved", "auto")
        ]
        with pytest.raises(LifecycleError):
            acknowledge(p, stale.key, by="li.lei")
        resolve(p, sales.key, by="han.meimei", now=T0 + dt.timedelta(hours=3))
        # found again after the cooldown: re-opened and notified again
        r = record_findings(p, evaluation(sales), now=T0 + dt.timedelta(hours=8))
        assert r.reopened == [sales.key] and r.queued == 2
        assert rows(
            p, f"SELECT status, occurrences, acknowledged_by, resolved_by FROM alerts WHERE alert_id = '{sales.key}'"
        ) == [("open", 5, None, None)]  # seen in five runs
        with pytest.raises(AlertNotFound):
            resolve(p, "ffffffffffffffff", by="x")
        listed = list_alerts(p)
        assert list(listed["alert_id"]) == [sales.key, stale.key]  # open first
        assert listed.loc[0, "pending"] == 2 and listed.loc[1, "status"] == "resolved"
        assert list(list_alerts(p, status="resolved")["alert_id"]) == [stale.key]
        assert list(list_alerts(p, channels=["tmall"])["alert_id"]) == [sales.key]
        assert list_alerts(p, channels=["jd"]).empty and len(list_alerts(p, limit=1, offset=1)) == 1


def test_cooldown_holds_repeats_but_not_an_escalation(tmp_path: Path) -> None:
    folder = write_project(tmp_path / "shop", alerts_yaml(ROBOTS, routes="\n  routes:\n    - {notify: [ops_hook]}\n"))
    warn, crit = finding("jd"), finding("jd", severity="critical")
    assert warn.key == crit.key  # same rule, scope and period: the same alert
    hours = [0, 1, 2, 3, 7, 9]
    queued = []
    with Project(folder) as p:
        for h, f in zip(hours, [warn, warn, crit, crit, crit, crit], strict=True):
            queued.append(record_findings(p, evaluation(f), now=T0 + dt.timedelta(hours=h)).queued)
        assert rows(p, "SELECT severity, notified_severity, notified_at FROM alerts") == [
            ("critical", "critical", T0 + dt.timedelta(hours=9))
        ]
    # 0h new; 1h within 6h; 2h escalated to critical; 3h and 7h within 6h of 2h; 9h past it
    assert queued == [1, 0, 1, 0, 0, 1]


# ---- routing, digest and delivery ------------------------------------------------------------------------


@pytest.mark.parametrize("digest", [False, True])
def test_routes_by_channel_and_digest(tmp_path: Path, recs: dict[str, Receiver], digest: bool) -> None:
    folder = write_project(tmp_path / "shop", alerts_yaml(ROBOTS, digest=digest))
    write_secrets(folder, recs)
    tm, jd, info = finding("tmall", severity="critical"), finding("jd"), finding(None, rule="aov", severity="info")
    with Project(folder) as p:
        r = record_findings(p, evaluation(tm, jd, info), now=T0)
        assert r.queued == 4  # hook: tmall + jd (info matches no route); tmall_team: tmall; jd_team: jd
        d = deliver_due(p, now=T0)
        assert (d.delivered, d.retrying, d.failed) == ((3 if digest else 4), 0, 0)
        assert rows(p, "SELECT status, count(*) FROM alert_deliveries GROUP BY status") == [("delivered", 4)]
        assert deliver_due(p, now=T0 + dt.timedelta(hours=1)).delivered == 0
    hook = recs["webhook"].accepted
    assert len(hook) == (1 if digest else 2)
    keys = sorted(a["alert_id"] for m in hook for a in m["alerts"])
    assert keys == sorted([tm.key, jd.key])
    if digest:
        assert hook[0]["title"] == "channelscope: 2 alerts (1 critical, 1 warning, 0 info)"
        assert hook[0]["key"].startswith("digest-") and hook[0]["severity"] == "critical"
    else:
        assert {m["key"] for m in hook} == {tm.key, jd.key}
    (ding,) = recs["dingtalk"].accepted
    assert tm.key in ding["text"]["content"] and jd.key not in ding["text"]["content"]
    (fei,) = recs["feishu"].accepted
    assert jd.key in fei["content"]["text"] and tm.key not in fei["content"]["text"]


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpReceiver]:
    cert, key = make_certificate(tmp_path_factory.mktemp("tls"))
    server = SmtpReceiver(cert, key).start()
    yield server
    server.stop()


def test_receivers_down_500_slow_and_bad_login_then_back_deliver_exactly_once(
    tmp_path: Path,
    recs: dict[str, Receiver],
    smtp: SmtpReceiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    mail = (
        f"    ops_mail: {{kind: email, host: 127.0.0.1, port: {smtp.port}, ca_file: '{smtp.cert}', username: {SMTP_USER},"
        " password_env: CS_SMTP_PASSWORD, sender: alerts@shop.example, to: [ops@shop.example], timeout: 2}\n"
        "    ops_slack: {kind: slack, url_env: CS_SLACK_URL, timeout: 1}\n"
    )
    routes = "\n  routes:\n    - {notify: [ops_hook, tmall_team, jd_team, ops_mail, ops_slack]}\n"
    folder = write_project(tmp_path / "shop", alerts_yaml(ROBOTS + mail, routes=routes))
    write_secrets(folder, recs)
    wrong = "wrong-pass-5150"
    monkeypatch.setenv("CS_SMTP_PASSWORD", wrong)
    recs["webhook"].stop()  # down
    recs["dingtalk"].mode = "error"  # HTTP 500
    recs["feishu"].mode, recs["feishu"].delay = "slow", 3.0  # answers after the 1 s timeout
    alert = finding("tmall", severity="critical")
    with Project(folder) as p:
        assert record_findings(p, evaluation(alert), now=T0).queued == 5
        started = time.monotonic()
        d = deliver_due(p, now=T0)
        elapsed = time.monotonic() - started
        assert (d.delivered, d.retrying, d.failed) == (1, 4, 0)  # slack got through beside the slow one
        assert elapsed < 4.0, elapsed  # the slow receiver cost its 1 s timeout, not its 3 s
        state = dict(rows(p, "SELECT notifier, status || ' ' || CAST(attempts AS VARCHAR) FROM alert_deliveries"))
        assert state == {
            "ops_slack": "delivered 1",
            "ops_hook": "pending 1",
            "tmall_team": "pending 1",
            "jd_team": "pending 1",
            "ops_mail": "pending 1",
        }
        errors = dict(rows(p, "SELECT notifier, last_error FROM alert_deliveries WHERE status = 'pending'"))
        assert "receiver down or unreachable" in errors["ops_hook"]
        assert "answered HTTP 500" in errors["tmall_team"]
        assert "no answer within 1 s" in errors["jd_team"]
        assert "refused the login of 'alerts-bot': 535" in errors["ops_mail"]
        # the next attempt waits 60 s (then 120 s, 240 s ... capped at an hour)
        assert rows(p, "SELECT DISTINCT next_attempt_at FROM alert_deliveries WHERE status = 'pending'") == [
            (T0 + dt.timedelta(seconds=60),)
        ]
        listed = list_alerts(p)
        assert (listed.loc[0, "delivered"], listed.loc[0, "pending"], listed.loc[0, "failed"]) == (1, 4, 0)
        assert isinstance(listed.loc[0, "last_error"], str)
        assert deliver_due(p, now=T0 + dt.timedelta(seconds=30)).delivered == 0  # nothing due yet
        # everything is back
        recs["webhook"].start()
        recs["dingtalk"].mode = recs["feishu"].mode = "ok"
        monkeypatch.setenv("CS_SMTP_PASSWORD", SMTP_PASSWORD)
        before = len(smtp.messages)
        d = deliver_due(p, now=T0 + dt.timedelta(seconds=61))
        assert (d.delivered, d.retrying, d.failed) == (4, 0, 0)
        assert deliver_due(p, now=T0 + dt.timedelta(hours=2)).delivered == 0
        assert rows(
            p, "SELECT status, min(attempts), max(attempts), count(*) FROM alert_deliveries GROUP BY status"
        ) == [("delivered", 1, 2, 5)]
        detail = alert_detail(p, alert.key)
        assert sorted(x["notifier"] for x in detail["deliveries"]) == sorted(
            ["ops_hook", "tmall_team", "jd_team", "ops_mail", "ops_slack"]
        )
        stored = " ".join(str(e) for (e,) in rows(p, "SELECT last_error FROM alert_deliveries"))
    for name in ("webhook", "dingtalk", "feishu", "slack"):
        assert len(recs[name].accepted) == 1, name  # exactly once
    assert len(smtp.messages) == before + 1
    assert recs["feishu"].requests == 2  # the late one (not accepted) and the good one
    logs = caplog.text + stored + json.dumps(errors)
    assert "failed (attempt 1)" in caplog.text and "HTTP Request" in caplog.text
    for secret in (TOKEN, SECRET, SMTP_PASSWORD, wrong):
        assert secret not in logs, secret


def test_a_delivery_gives_up_after_its_attempts_and_can_be_requeued(
    tmp_path: Path, recs: dict[str, Receiver], pg_url: str
) -> None:
    routes = "\n  routes:\n    - {notify: [tmall_team]}\n"
    folder = write_project(tmp_path / "shop", alerts_yaml(ROBOTS, routes=routes), pg_url)
    write_secrets(folder, recs)
    recs["dingtalk"].mode = "error"
    policy = RetryPolicy(base=60, cap=90, max_attempts=3)
    alert = finding("tmall")
    with Project(folder) as p:
        record_findings(p, evaluation(alert), now=T0)
        outcomes = []
        for seconds in (0, 60, 150):  # delays 60 s, then 90 s (120 capped)
            d = deliver_due(p, now=T0 + dt.timedelta(seconds=seconds), policy=policy)
            outcomes.append((d.retrying, d.failed))
        assert outcomes == [(1, 0), (1, 0), (0, 1)]
        listed = list_alerts(p)
        assert (listed.loc[0, "failed"], listed.loc[0, "pending"]) == (1, 0)
        assert "HTTP 500" in listed.loc[0, "last_error"]
        assert deliver_due(p, now=T0 + dt.timedelta(hours=5), policy=policy).failed == 0  # failed stays failed
        recs["dingtalk"].mode = "ok"
        assert retry_failed(p, now=T0 + dt.timedelta(hours=5)) == 1
        assert deliver_due(p, now=T0 + dt.timedelta(hours=5), policy=policy).delivered == 1
    assert len(recs["dingtalk"].accepted) == 1 and recs["dingtalk"].requests == 4


# ---- the command line --------------------------------------------------------------------------------------


def cli(*args: str) -> Any:
    """The command in-process (fast); exit codes as the installed command gives them."""
    from typer.testing import CliRunner

    from channelscope.cli.app import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_alerts_command_check_list_show_ack_resolve_deliver(tmp_path: Path, recs: dict[str, Receiver]) -> None:
    body = alerts_yaml(ROBOTS, routes="\n  routes:\n    - {notify: [tmall_team], channels: [tmall]}\n")
    body = body.replace(CHANNELS, CHANNELS + SOURCE)
    body += (
        "  rules:\n    - {name: gmv_cap, kind: threshold, metric: gmv, by: [channel], max: 100, severity: critical}\n"
    )
    folder = write_project(tmp_path / "shop", body)
    write_secrets(folder, recs)
    (folder / "exports").mkdir()
    (folder / "exports" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    with Project(folder) as p:
        assert all(b.status == "loaded" for b in p.ingest())
    p_ = ["-p", str(folder)]
    dry = cli("alerts", "check", "--as-of", "2025-03-18", "--dry-run", "--json", *p_)
    assert dry.exit_code == 1, dry.output  # critical findings
    report = json.loads(dry.stdout)
    # paid GMV by channel on 2025-03-18, by hand from ORDERS: tmall 120 + 80 (not the unpaid 999), jd 150
    assert sorted((f["scope"]["channel_id"], f["value"]) for f in report["findings"]) == [
        ("jd", 150.0),
        ("tmall", 200.0),
    ]
    assert report["dry_run"] and json.loads(cli("alerts", "--json", *p_).stdout) == []
    run = cli("alerts", "check", "--as-of", "2025-03-18", *p_)
    assert run.exit_code == 1 and "opened 2" in run.stdout and "delivered 1" in run.stdout, run.output
    listed = json.loads(cli("alerts", "list", "--json", *p_).stdout)
    by_channel = {a["channel_id"]: a for a in listed}
    assert by_channel["tmall"]["delivered"] == 1 and by_channel["jd"]["delivered"] == 0
    tm = by_channel["tmall"]["alert_id"]
    shown = cli("alerts", "show", tm[:8], *p_)
    assert shown.exit_code == 0 and "tmall_team" in shown.stdout and "delivered" in shown.stdout
    ack = cli("alerts", "ack", tm, "--by", "li.lei", "--json", *p_)
    assert json.loads(ack.stdout) == {"alert_id": tm, "status": "acknowledged"}
    assert json.loads(cli("alerts", "resolve", tm, "--json", *p_).stdout)["status"] == "resolved"
    deliver = json.loads(cli("alerts", "deliver", "--json", *p_).stdout)
    assert deliver == {"requeued": 0, "delivered": 0, "retrying": 0, "failed": 0, "errors": []}
    assert len(recs["dingtalk"].accepted) == 1
    # as a user runs it: a wrong transition is one line on stderr and exit code 2
    env = {**os.environ, "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "channelscope.cli", "alerts", "ack", tm, *p_]
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 2 and "already resolved" in again.stderr and "Traceback" not in again.stderr


SOURCE = """sources: [{name: orders, path: "exports/*.csv", preset: canonical_orders, channel_id: tmall}]
"""
ORDERS = (
    "source_order_id,channel_id,ordered_at,paid_at,status,net_amount\n"
    "1,tmall,2025-03-18 10:00:00,2025-03-18 10:01:00,paid,120\n"
    "2,tmall,2025-03-18 11:00:00,2025-03-18 11:05:00,paid,80\n"
    "3,jd,2025-03-18 12:00:00,2025-03-18 12:02:00,paid,150\n"
    "4,tmall,2025-03-18 13:00:00,,created,999\n"
)


def test_alerts_check_exits_1_when_a_rule_fails_and_the_others_still_run(tmp_path: Path) -> None:
    """A rule that cannot be evaluated (its targets file is missing) is reported and the command exits 1,
    as `channelscope run --once` does; the other rules are still judged and recorded."""
    body = CHANNELS + SOURCE + "targets: [{file: targets/missing.csv}]\n"
    body += (
        "alerts:\n  language: en\n  rules:\n"
        "    - {name: pace, kind: target}\n"
        "    - {name: gmv_cap, kind: threshold, metric: gmv, by: [channel], max: 100, severity: warning}\n"
    )
    folder = write_project(tmp_path / "shop", body)
    (folder / "exports").mkdir()
    (folder / "exports" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    with Project(folder) as p:
        assert all(b.status == "loaded" for b in p.ingest())
    r = cli("alerts", "check", "--as-of", "2025-03-18", "--json", "-p", str(folder))
    assert r.exit_code == 1, r.output
    report = json.loads(r.stdout)
    assert report["checked"] == ["gmv_cap"] and len(report["errors"]) == 1 and "pace" in report["errors"][0]
    # tmall 200 and jd 150 are above 100: judged although the other rule failed; warnings only, yet exit 1
    assert sorted((f["rule"], f["scope"]["channel_id"]) for f in report["findings"]) == [
        ("gmv_cap", "jd"),
        ("gmv_cap", "tmall"),
    ]
