"""Scheduled reports: the scheduler issues a report into the archive at its cron tick and sends it through the
notifiers: e-mail (a real aiosmtpd server on 127.0.0.1 with STARTTLS and login) carries the PDF and the Excel
file; WeCom and a signed webhook (real HTTP receivers on 127.0.0.1) carry the summary and a link."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import yaml
from tests.conftest import copy_demo
from tests.monitor.receivers import SECRET, SMTP_PASSWORD, SMTP_USER, TOKEN, Receiver, SmtpReceiver, make_certificate

from channelscope import Project
from channelscope.monitor.schedule import Scheduler
from channelscope.report.archive import read_index

#: Monday 2025-12-01 08:00 in Asia/Shanghai (the schedule's time zone) is 00:00 UTC
TICK = dt.datetime(2025, 12, 1, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def receivers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    cert, key = make_certificate(tmp_path_factory.mktemp("tls"))
    smtp = SmtpReceiver(cert, key).start()
    wecom, hook = Receiver("wecom").start(), Receiver("webhook").start()
    yield {"smtp": smtp, "wecom": wecom, "webhook": hook}
    smtp.stop()
    wecom.stop()
    hook.stop()


def _shop(demo_shop: Path, dest: Path, receivers: dict, reports: list[dict]) -> Path:
    folder = copy_demo(demo_shop, dest)
    path = folder / "channelscope.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["alerts"]["notifiers"] = {
        "ops_mail": {
            "kind": "email",
            "host": "127.0.0.1",
            "port": receivers["smtp"].port,
            "starttls": True,
            "ca_file": str(receivers["smtp"].cert),
            "username": SMTP_USER,
            "password_env": "SMTP_PASSWORD",
            "sender": "reports@shop.example",
            "to": ["boss@shop.example"],
            "timeout": 10,
        },
        "ops_wecom": {"kind": "wecom", "url_env": "WECOM_URL", "timeout": 5},
        "erp": {"kind": "webhook", "url": receivers["webhook"].url, "secret_env": "HOOK_SECRET", "timeout": 5},
    }
    cfg["schedule"] = {"reports": reports}
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, receivers: dict) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("WECOM_URL", receivers["wecom"].url)
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def test_scheduled_report_is_archived_and_sent(
    demo_shop: Path, tmp_path: Path, receivers: dict, secrets_env: None
) -> None:
    spec = {
        "report": "weekly_channel_review",
        "cron": "0 8 * * 1",
        "notify": ["ops_mail", "ops_wecom", "erp"],
        "formats": ["pdf", "xlsx"],
        "language": "en",
        "link": "https://bi.shop.example",
    }
    folder = _shop(demo_shop, tmp_path / "shop", receivers, [spec])
    smtp, wecom, hook = receivers["smtp"], receivers["wecom"], receivers["webhook"]
    mails, robots, hooks = len(smtp.messages), len(wecom.accepted), len(hook.accepted)
    with Project(folder) as p:
        sched = Scheduler(p, now=TICK - dt.timedelta(minutes=10))
        assert sched.run_pending(TICK - dt.timedelta(minutes=1)) == []
        runs = sched.run_pending(TICK + dt.timedelta(seconds=5))
    assert [(r.job, r.status) for r in runs] == [("report:weekly_channel_review", "ok")], runs[0].message
    assert "sent to 3 of 3 notifiers" in runs[0].message
    entry = read_index(folder)[-1]
    assert entry["name"] == "weekly_channel_review" and entry["period"] == ["2025-11-24", "2025-11-30"]
    link = f"https://bi.shop.example/api/reports/{entry['id']}/html"

    assert len(smtp.messages) == mails + 1
    mail = smtp.messages[-1]
    assert mail["Subject"].startswith("Weekly channel review · 2025-11-24")
    files = {a.get_filename(): a.get_content() for a in mail.iter_attachments()}
    assert set(files) == {"2025-11-24_2025-11-30-en.pdf", "2025-11-24_2025-11-30-en.xlsx"}
    pdf = files["2025-11-24_2025-11-30-en.pdf"]
    assert pdf.startswith(b"%PDF") and pdf == Path(entry["files"]["pdf"]).read_bytes()
    xlsx = tmp_path / "mail.xlsx"
    xlsx.write_bytes(files["2025-11-24_2025-11-30-en.xlsx"])
    assert openpyxl.load_workbook(xlsx).sheetnames[0]  # a real workbook
    assert link in mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

    assert len(wecom.accepted) == robots + 1
    text = wecom.accepted[-1]["text"]["content"]
    assert "Weekly channel review" in text and link in text and "Data as of: 2025-11-30" in text
    assert len(hook.accepted) == hooks + 1
    report = hook.accepted[-1]["report"]
    assert report["archive_id"] == entry["id"] and report["link"] == link
    assert report["period"] == ["2025-11-24", "2025-11-30"] and report["findings"] == [
        {"kind": f["kind"], "severity": f["severity"], "text": f["text"]} for f in report["findings"]
    ]


def test_a_failed_notifier_fails_the_run_and_names_it(
    demo_shop: Path, tmp_path: Path, receivers: dict, secrets_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {"report": "daily_brief", "cron": "0 8 * * *", "notify": ["ops_wecom"], "formats": ["html"]}
    folder = _shop(demo_shop, tmp_path / "shop", receivers, [spec])
    monkeypatch.setenv("WECOM_URL", receivers["wecom"].url.replace(TOKEN, "wrong-key"))
    with Project(folder) as p:
        sched = Scheduler(p, now=TICK - dt.timedelta(minutes=10))
        runs = sched.run_pending(TICK + dt.timedelta(seconds=5))
    assert [(r.job, r.status) for r in runs] == [("report:daily_brief", "failed")]
    assert "ops_wecom:" in runs[0].message and "wrong-key" not in runs[0].message
    assert read_index(folder)[-1]["name"] == "daily_brief"  # issued and archived all the same


def test_unknown_notifier_is_named(demo_shop: Path, tmp_path: Path, receivers: dict) -> None:
    spec = {"report": "daily_brief", "cron": "0 8 * * *", "notify": ["nobody"], "formats": ["html"]}
    folder = _shop(demo_shop, tmp_path / "shop", receivers, [spec])
    with Project(folder) as p:
        runs = Scheduler(p, now=TICK - dt.timedelta(minutes=10)).run_pending(TICK + dt.timedelta(seconds=5))
    assert runs[0].status == "failed" and "unknown notifier 'nobody'" in runs[0].message


def test_a_failed_delivery_is_retried_until_the_receiver_accepts(
    demo_shop: Path, tmp_path: Path, receivers: dict, secrets_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook receiver answers 500 at the scheduled tick: the run fails and names it, the delivery goes
    into the outbox; the scheduler's reports:deliver job sends it again and the receiver, now accepting, gets
    the report. Every attempt is recorded."""
    from channelscope.monitor.dispatch import RetryPolicy
    from channelscope.report import delivery

    monkeypatch.setattr(delivery, "RETRY", RetryPolicy(base=0.0, cap=0.0, max_attempts=5))
    spec = {"report": "daily_brief", "cron": "0 8 * * *", "notify": ["ops_wecom", "erp"], "formats": ["html"]}
    folder = _shop(demo_shop, tmp_path / "shop", receivers, [spec])
    hook, wecom = receivers["webhook"], receivers["wecom"]
    accepted, robots = len(hook.accepted), len(wecom.accepted)
    hook.mode = "error"
    try:
        with Project(folder) as p:
            sched = Scheduler(p, now=TICK - dt.timedelta(minutes=10))
            first = sched.run_pending(TICK + dt.timedelta(seconds=5))
            outbox = delivery.read_outbox(p)
            hook.mode = "ok"
            later = sched.run_pending(TICK + dt.timedelta(minutes=1, seconds=5))
            final = delivery.read_outbox(p)
    finally:
        hook.mode = "ok"
    report_run = next(r for r in first if r.job == "report:daily_brief")
    assert report_run.status == "failed" and "erp:" in report_run.message and "retrying" in report_run.message
    assert len(wecom.accepted) == robots + 1  # the healthy notifier was sent once, not again
    assert [(o["notifier"], o["status"]) for o in outbox] == [("erp", "retrying")]
    assert all(a["error"] for a in outbox[0]["attempts"])
    assert [(r.job, r.status) for r in later if r.job == "reports:deliver"] == [("reports:deliver", "ok")]
    assert len(hook.accepted) == accepted + 1
    assert hook.accepted[-1]["report"]["archive_id"] == read_index(folder)[-1]["id"]
    (row,) = final
    assert row["status"] == "delivered" and row["next_attempt_at"] is None
    assert row["attempts"][-1]["error"] is None and all(a["error"] for a in row["attempts"][:-1])
    assert 2 <= len(row["attempts"]) <= 5


def test_retries_are_bounded(
    demo_shop: Path, tmp_path: Path, receivers: dict, secrets_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from channelscope.monitor.dispatch import RetryPolicy
    from channelscope.report import delivery

    monkeypatch.setattr(delivery, "RETRY", RetryPolicy(base=0.0, cap=0.0, max_attempts=3))
    spec = {"report": "daily_brief", "cron": "0 8 * * *", "notify": ["erp"], "formats": ["html"]}
    folder = _shop(demo_shop, tmp_path / "shop", receivers, [spec])
    hook = receivers["webhook"]
    hook.mode = "error"
    try:
        with Project(folder) as p:
            sched = Scheduler(p, now=TICK - dt.timedelta(minutes=10))
            runs = []
            for minute in range(5):
                runs += sched.run_pending(TICK + dt.timedelta(minutes=minute, seconds=5))
            requests = hook.requests
            runs += sched.run_pending(TICK + dt.timedelta(minutes=6, seconds=5))
            (row,) = delivery.read_outbox(p)
    finally:
        hook.mode = "ok"
    assert row["status"] == "failed" and len(row["attempts"]) == 3 and row["next_attempt_at"] is None
    assert hook.requests == requests  # given up: no further attempt
    assert any(r.job == "reports:deliver" and r.status == "failed" and "failed 1" in r.message for r in runs)
