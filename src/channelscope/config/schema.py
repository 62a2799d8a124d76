"""The typed shape of ``channelscope.yaml``: validated once at load, passed down as objects."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from channelscope.config.alerts import AlertsConfig
from channelscope.config.commerce_calendar import CommerceCalendarConfig
from channelscope.config.compliance import ComplianceConfig
from channelscope.config.runtime import EventsConfig, ScheduleConfig

ChannelKind = Literal["own_store", "marketplace", "social", "live_stream", "distributor", "offline"]
DistributorKind = Literal["reseller", "affiliate", "kol", "live_host", "store"]
CampaignKind = Literal["ad", "promotion", "live_session", "festival"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ProjectInfo(Strict):
    name: str = "channelscope project"
    base_currency: str = "CNY"
    timezone: str = "Asia/Shanghai"
    locale: Literal["zh-CN", "en"] = "zh-CN"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception as exc:
            raise ValueError(f"unknown time zone '{value}' (use an IANA name such as Asia/Shanghai)") from exc
        return value

    @field_validator("base_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("a three-letter ISO 4217 code such as CNY or USD")
        return value


class WarehouseConfig(Strict):
    url: str = "duckdb:///warehouse.duckdb"
    #: DuckDB's buffer pool while loading; the process adds ~200 MB of Python, so 600MB keeps an
    #: ingest under 1 GiB (it spills to disk beyond that)
    memory_limit: str = "600MB"
    #: the pool for queries (KPIs, reports); distinct counts over many groups need room. Empty: 80% of RAM
    query_memory_limit: str | None = None
    threads: int | None = None

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not re.match(r"^(duckdb|postgres|postgresql)://", value):
            raise ValueError("a URL starting duckdb:// or postgresql://")
        return value


class PrivacyConfig(Strict):
    key_env: str = "CHANNELSCOPE_PSEUDONYM_KEY"
    key_file: str = "secrets/pseudonym.key"


class Channel(Strict):
    id: str
    name: str
    kind: ChannelKind
    platform: str
    parent_id: str | None = None
    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"
    fee_rate: float = Field(0.0, ge=0, le=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("lower-case letters, digits, '_' or '-' (e.g. tmall)")
        return value


class Distributor(Strict):
    id: str
    channel_id: str
    name: str
    kind: DistributorKind = "reseller"
    tier: int = 1
    parent_id: str | None = None
    commission_rate: float = Field(0.0, ge=0, le=1)
    region: str | None = None
    joined_at: dt.date | None = None
    status: Literal["active", "inactive"] = "active"


class Campaign(Strict):
    id: str
    name: str
    kind: CampaignKind
    channel_id: str | None = None
    starts_at: dt.datetime
    ends_at: dt.datetime
    budget: float | None = None
    code: str | None = None


class Festival(Strict):
    name: str
    name_en: str
    start: str = Field(description="MM-DD, or YYYY-MM-DD for a single year")
    end: str

    @field_validator("start", "end")
    @classmethod
    def _md(cls, value: str) -> str:
        if not re.fullmatch(r"(\d{4}-)?\d{2}-\d{2}", value):
            raise ValueError("MM-DD or YYYY-MM-DD")
        return value


class CalendarConfig(Strict):
    first_date: dt.date = dt.date(2018, 1, 1)
    last_date: dt.date = dt.date(2030, 12, 31)
    festivals: list[Festival] | None = None
    week_starts: Literal["monday", "sunday"] = "monday"
    commerce: CommerceCalendarConfig = Field(default_factory=CommerceCalendarConfig)


class CleaningConfig(Strict):
    price_outlier_low: float = Field(0.1, gt=0, description="unit_price below this x list_price is quarantined")
    price_outlier_high: float = Field(5.0, gt=1, description="unit_price above this x list_price is quarantined")
    future_tolerance_hours: float = 24.0
    earliest_timestamp: dt.date = Field(
        dt.date(2000, 1, 1), description="timestamps and dates before this are quarantined (not plausible)"
    )
    max_quantity: int = 100_000


class WebConfig(Strict):
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses of reverse proxies whose X-Forwarded-For/-Proto are believed (default: none, "
        "so a client cannot pick the address the login limit and the access log see)",
    )


class ChannelRule(Strict):
    when: dict[str, str]
    channel_id: str


class SourceConfig(Strict):
    name: str
    kind: Literal["file", "sql", "rest", "events"] = "file"  # events: order events posted to the server
    path: str | None = Field(None, description="file path or glob, relative to the project folder")
    preset: str | None = None
    mapping: dict | None = None
    channel_id: str | None = None
    timezone: str | None = None
    currency: str | None = None
    encoding: str = "auto"
    sheet: str | int | None = None
    expect_every: str | None = Field(None, description="e.g. 1h, 1d: freshness expectation")
    channel_rules: list[ChannelRule] = Field(default_factory=list)
    # sql sources
    url: str | None = None
    query: str | None = None
    table: str | None = None
    # rest sources
    params: dict[str, str] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(default_factory=dict, description="header -> env var holding its secret")
    records_path: str | None = Field(None, description="dotted path of the record list in a page")
    cursor_field: str | None = Field(None, description="record field that increases (e.g. updated_at)")
    cursor_param: str | None = Field(None, description="query parameter the cursor is sent as")
    next_path: str | None = Field(None, description="dotted path of the next page URL or token")
    page_param: str | None = None
    page_size: int = 100
    page_size_param: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> SourceConfig:
        if self.kind == "file" and not self.path:
            raise ValueError("a file source needs 'path' (a file or a glob such as exports/tmall/*.csv)")
        if self.kind in ("sql", "rest") and not self.url:
            raise ValueError(f"a {self.kind} source needs 'url'")
        if self.kind == "sql" and not (self.query or self.table):
            raise ValueError("a sql source needs 'query' or 'table'")
        if self.kind == "events" and (self.path or self.url):
            raise ValueError("an events source receives posted order events: give no 'path' or 'url'")
        if not (self.preset or self.mapping):
            raise ValueError("a source needs 'preset' (e.g. canonical_orders) or 'mapping'")
        return self

    @field_validator("expect_every")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+[mhd]", value):
            raise ValueError("a number followed by m, h or d, e.g. 6h or 1d")
        return value


class ProjectConfig(Strict):
    project: ProjectInfo = Field(default_factory=ProjectInfo)
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    channels: list[Channel] = Field(default_factory=list)
    distributors: list[Distributor] = Field(default_factory=list)
    campaigns: list[Campaign] = Field(default_factory=list)
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    cleaning: CleaningConfig = Field(default_factory=CleaningConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    presets_dir: str | None = Field("presets", description="folder of the project's own mapping presets")
    # later stages (metrics, alerts, reports, access) add their own sections
    kpis: dict | None = None
    targets: list[dict] | None = None
    alerts: AlertsConfig | None = None
    access: dict | None = None
    schedule: ScheduleConfig | None = None
    events: EventsConfig | None = None
    web: WebConfig = Field(default_factory=WebConfig)
    compliance: ComplianceConfig = Field(default_factory=ComplianceConfig)

    @model_validator(mode="after")
    def _references(self) -> ProjectConfig:
        ids = [c.id for c in self.channels]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"channel ids must be unique; repeated: {sorted(dup)}")
        known = set(ids)
        for i, d in enumerate(self.distributors):
            if d.channel_id not in known:
                raise ValueError(
                    f"distributors[{i}] '{d.id}': unknown channel_id '{d.channel_id}' (known: {sorted(known)})"
                )
        names = [s.name for s in self.sources]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"source names must be unique; repeated: {sorted(dup)}")
        for s in self.sources:
            if s.channel_id and s.channel_id not in known:
                raise ValueError(f"source '{s.name}': unknown channel_id '{s.channel_id}' (known: {sorted(known)})")
        notifiers = set(self.alerts.notifiers) if self.alerts else set()
        for manager, names in self.compliance.managers.items():
            for name in names:
                if name not in notifiers:
                    raise ValueError(
                        f"compliance.managers.{manager} names unknown notifier '{name}' "
                        f"(known: {', '.join(sorted(notifiers)) or 'none configured'})"
                    )
        return self

    # schedule: and events: name configured sources (field validators: errors point at their section)
    @field_validator("schedule")
    @classmethod
    def _schedule_sources(cls, value: ScheduleConfig | None, info: ValidationInfo) -> ScheduleConfig | None:
        if value is None:
            return value
        names = {s.name for s in info.data.get("sources", [])}
        for name in value.sources:
            if name != "*" and name not in names:
                raise ValueError(f"sources names unknown source '{name}' (known: {', '.join(sorted(names)) or 'none'})")
        if value.alerts and info.data.get("alerts") is None:
            raise ValueError("alerts: checks alert rules, but channelscope.yaml has no alerts: section")
        rules = info.data["alerts"].rules if value.alerts and info.data.get("alerts") is not None else []
        groups = sorted({r.group for r in rules})
        unknown = [g for g in value.alerts if rules and g not in groups]
        if unknown:  # a misspelt group would check no rule on every tick, and the rules would never run
            raise ValueError(
                f"alerts names rule group '{unknown[0]}', but no rule has it (groups of the rules: {', '.join(groups)}; "
                "a rule's group is set with group: <name>, default: default)"
            )
        return value

    @field_validator("events")
    @classmethod
    def _events_sources(cls, value: EventsConfig | None, info: ValidationInfo) -> EventsConfig | None:
        if value is None:
            return value
        kinds = {s.name: s.kind for s in info.data.get("sources", [])}
        for key in ("source", "shopify_source"):
            name = getattr(value, key)
            if name is None:
                continue
            if name not in kinds:
                raise ValueError(f"{key} names unknown source '{name}' (known: {', '.join(sorted(kinds)) or 'none'})")
            if kinds[name] != "events":
                raise ValueError(f"{key}: source '{name}' must have kind: events (it is {kinds[name]})")
        if value.shopify_secret_env and not value.shopify_source:
            raise ValueError("shopify_secret_env is set but shopify_source is not")
        return value
