"""The ``schedule:`` and ``events:`` sections of channelscope.yaml: when work runs, and where live orders land.

Validated with the rest of the file at load (cron expressions, time zones, secrets named by environment
variable, never by value), so a bad schedule is reported with file, line and key before anything runs.

```yaml
schedule:
  sources: {"*": "0 * * * *", tmall_orders: "*/15 * * * *"}   # source name (or * = every other) -> cron
  alerts: {default: "5 * * * *", daily: "0 9 * * *"}           # alert group -> cron
  reports:                                                     # issue a report and send it
    - {report: weekly_channel_review, cron: "0 8 * * 1", notify: [ops_mail, ops_wecom], formats: [pdf, xlsx]}
    - {report: daily_brief, cron: "30 8 * * *", notify: [tmall_team], channels: [tmall], language: zh-CN}
  forecasts:                                                   # refresh and store forecasts (after the loads)
    - {metric: gmv, hierarchy: channel, cron: "30 6 * * *"}    # then scores the last stored run's forecasts
  catch_up: true          # after downtime, one run per job (not one per missed tick)
  timezone: Asia/Shanghai # of the cron expressions; default: the project's
events:
  source: live_orders              # an events source (kind: events) with a preset or mapping
  secret_env: CHANNELSCOPE_EVENTS_SECRET
  shopify_source: shopify_live     # optional: where Shopify webhooks land (preset shopify_orders)
  shopify_secret_env: SHOPIFY_WEBHOOK_SECRET
  max_batch: 500                   # events per micro-batch
  max_wait_ms: 1000                # or this long after the first event of a batch
```
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_cron(value: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(value):
        raise ValueError(
            f"'{value}' is not a cron expression (five fields: minute hour day month weekday, e.g. 0 * * * *)"
        )
    return value


class ReportDelivery(BaseModel):
    """A scheduled report: issued into the archive on ``cron``, sent through the alert notifiers ``notify``
    (e-mail with the files attached; WeCom, DingTalk, Feishu, Slack and webhooks with a summary and a link)."""

    model_config = ConfigDict(extra="forbid")

    report: str = Field(description="report name (standard or reports/*.yaml)")
    cron: str = Field(description="when it is issued (cron, in the schedule's time zone)")
    notify: list[str] = Field(default_factory=list, description="notifier names of alerts.notifiers")
    channels: list[str] = Field(default_factory=list, description="only these channels (a channel manager's)")
    language: str | None = Field(None, description="zh-CN or en; default: the report's")
    formats: list[str] = Field(default_factory=lambda: ["html", "pdf", "xlsx"], description="files issued")
    link: str | None = Field(
        None, description="public base URL of the server (https://bi.x.cn): messages link the archived report"
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _check_cron(value)

    @field_validator("language")
    @classmethod
    def _lang(cls, value: str | None) -> str | None:
        if value not in (None, "zh-CN", "en"):
            raise ValueError("language is zh-CN or en")
        return value

    @field_validator("formats")
    @classmethod
    def _formats(cls, value: list[str]) -> list[str]:
        bad = [f for f in value if f not in ("html", "pdf", "xlsx")]
        if bad or not value:
            raise ValueError("formats are among html, pdf, xlsx")
        return value


class ForecastRefresh(BaseModel):
    """A scheduled forecast: run (backtest, choose, reconcile) and stored in the warehouse on ``cron``; each
    refresh first scores the previous run of the same kind against the actuals that have arrived since."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field("gmv", description="gmv, paid_orders or units")
    hierarchy: str = Field("channel", description="channel, distributor or product")
    horizon: int = Field(28, ge=1, le=90, description="days ahead (1-90)")
    cron: str = Field(description="when it runs (cron, in the schedule's time zone)")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _check_cron(value)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in ("gmv", "paid_orders", "units"):
            raise ValueError("metric is gmv, paid_orders or units")
        return value

    @field_validator("hierarchy")
    @classmethod
    def _hierarchy(cls, value: str) -> str:
        if value not in ("channel", "distributor", "product"):
            raise ValueError("hierarchy is channel, distributor or product")
        return value


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    sources: dict[str, str] = Field(
        default_factory=dict, description="source name, or * for every source not named, -> cron expression"
    )
    alerts: dict[str, str] = Field(default_factory=dict, description="alert rule group -> cron expression")
    reports: list[ReportDelivery] = Field(default_factory=list, description="reports issued and sent on a schedule")
    forecasts: list[ForecastRefresh] = Field(default_factory=list, description="forecasts refreshed on a schedule")
    catch_up: bool = Field(True, description="after downtime, run each job once (never once per missed tick)")
    timezone: str | None = Field(None, description="time zone of the cron expressions; default: the project's")

    @field_validator("sources", "alerts")
    @classmethod
    def _crons(cls, value: dict[str, str]) -> dict[str, str]:
        for cron in value.values():
            _check_cron(cron)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        from zoneinfo import ZoneInfo

        if value is not None:
            try:
                ZoneInfo(value)
            except Exception as exc:
                raise ValueError(f"unknown time zone '{value}' (use an IANA name such as Asia/Shanghai)") from exc
        return value


class EventsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(description="the events source (kind: events) that generic order events land in")
    secret_env: str = Field(
        "CHANNELSCOPE_EVENTS_SECRET", description="environment variable holding the HMAC secret of /events/orders"
    )
    shopify_source: str | None = Field(
        None, description="events source for Shopify order webhooks (preset shopify_orders); default: none"
    )
    shopify_secret_env: str | None = Field(
        None, description="environment variable holding the Shopify app's webhook secret"
    )
    max_batch: int = Field(500, ge=1, le=100_000, description="events per micro-batch at most")
    max_wait_ms: int = Field(1000, ge=10, le=600_000, description="a batch lands this long after its first event")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="larger request bodies are refused (413)")

    @field_validator("secret_env", "shopify_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV.match(value):
            raise ValueError("the NAME of an environment variable (e.g. SHOPIFY_WEBHOOK_SECRET), not the secret")
        return value
