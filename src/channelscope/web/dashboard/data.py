"""The dashboard's only way to numbers: ``channelscope.web.service`` called with the request's user, so a
page shows what the API returns for the same query (same function, same scope checks)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.numbers import NumberFormat
from channelscope.web import service
from channelscope.web.auth import User, request_user
from channelscope.web.dashboard.i18n import metric_label, metric_unit
from channelscope.web.dashboard.view import View

if TYPE_CHECKING:
    from channelscope.project import Project


@dataclass(frozen=True)
class PageContext:
    """What a page needs to render: the project, the signed-in user and the view (defaults filled)."""

    project: Project
    user: User
    view: View

    @property
    def lang(self) -> str:
        return self.view.lang or "zh-CN"

    @property
    def start(self) -> dt.date:
        assert self.view.start is not None
        return self.view.start

    @property
    def end(self) -> dt.date:
        assert self.view.end is not None
        return self.view.end

    @property
    def nf(self) -> NumberFormat:
        """How this view writes numbers: its language and the project's base currency (no scale yet)."""
        return NumberFormat(self.lang, self.project.config.project.base_currency)

    def label(self, metric: str) -> str:
        return metric_label(self.project.catalog, metric, self.lang)

    def unit(self, metric: str) -> str:
        return metric_unit(self.project.catalog, metric)

    def basis(self, metric: str) -> str:
        """The metric's basis (口径) in the page's language, naming the base currency and time zone; empty
        when the catalog declares none."""
        try:
            b = getattr(self.project.catalog.get(metric), "basis", None)
        except KeyError:
            return ""
        if b is None:
            return ""
        cfg = self.project.config.project
        return str(b.text(self.lang, currency=cfg.base_currency, timezone=cfg.timezone))

    def coverage(self, metrics: list[str] | tuple[str, ...], by: tuple[str, ...] = ()) -> dict[tuple[str, str], str]:
        """(metric, channel) -> why the metric is empty for that channel in this view (cut ``by``), in the
        page's language."""
        frame = service.kpi_coverage(
            self.project,
            self.user,
            metrics=list(metrics),
            start=self.start,
            end=self.end,
            filters=self.view.filter_dict(),
            by=tuple(by),
        )
        col = "reason_en" if self.lang == "en" else "reason_zh"
        return {(str(r["metric"]), str(r["channel"])): str(r[col]) for r in frame.to_dict("records")}

    def left_out(self, coverage: dict[tuple[str, str], str], metric: str) -> list[str]:
        """'天猫旗舰店（该渠道没有订单明细）' for each channel a total of ``metric`` leaves out."""
        return [
            f"{self.channel_name(ch)}（{why}）" if self.lang != "en" else f"{self.channel_name(ch)} ({why})"
            for (m, ch), why in coverage.items()
            if m == metric
        ]

    def is_amount(self, metric: str) -> bool:
        """A sum of money (GMV, net sales, margin) that takes the view's 万/亿 scale; a money ratio (AOV,
        GMV per buyer) is never scaled."""
        try:
            m = self.project.catalog.get(metric)
        except KeyError:
            return False
        return m.unit == "money" and "/" not in str(getattr(m, "formula", ""))

    def trends_href(self, metric: str, **options: str) -> str:
        """/trends for ``metric`` with this view's range, filters and language (and ``options``: by, grain)."""
        from dataclasses import replace

        keep = {k: v for k, v in self.view.options.items() if k == "vs"}
        return "/trends" + replace(self.view, options={**keep, "metric": metric, **options}).to_search()

    def option_href(self, path: str, **options: str) -> str:
        """``path`` with this whole view and some page options changed (``sort='-gmv'``, ``alert=...``)."""
        from dataclasses import replace

        return path + replace(self.view, options={**self.view.options, **options}).to_search()

    def href(self, path: str, **filters: str) -> str:
        """``path`` with this view's range and options, and the filters replaced by ``filters`` (one member each)."""
        from dataclasses import replace

        flt = {**self.view.filters, **{k: (v,) for k, v in filters.items()}}
        keep = {k: v for k, v in self.view.options.items() if k == "vs"}
        return path + replace(self.view, filters=flt, options=keep).to_search()

    def channel_name(self, channel_id: Any) -> str:
        """The channel's configured name (天猫旗舰店), or its id when it has none."""
        if channel_id is None or (isinstance(channel_id, float) and pd.isna(channel_id)):
            return "–"
        for c in self.project.config.channels:
            if c.id == channel_id:
                return c.name or c.id
        return str(channel_id)

    def distributor_name(self, distributor_id: Any) -> str:
        for d in self.project.config.distributors:
            if d.id == distributor_id:
                return d.name or d.id
        return str(distributor_id)

    def campaign_name(self, campaign_id: Any) -> str:
        """The campaign's name (双11预售), or its id when the warehouse has none."""
        return campaign_names(self.project).get(str(campaign_id), str(campaign_id))

    def local_time(self, value: Any) -> str:
        """A stored UTC timestamp in the project's time zone, ``YYYY-MM-DD HH:MM``; ``–`` when missing."""
        return local_time(value, self.project.config.project.timezone)

    def with_zone(self, label: str) -> str:
        """A time column's header naming the project's time zone: ``开始（Asia/Shanghai）``."""
        tz = self.project.config.project.timezone
        return f"{label} ({tz})" if self.lang == "en" else f"{label}（{tz}）"

    def member_name(self, dim: str, member: Any) -> str:
        """The name of a member of ``dim`` (channel, distributor, campaign names; other dimensions as they are)."""
        if member is None or (isinstance(member, float) and pd.isna(member)):
            return "–"
        if dim == "channel":
            return self.channel_name(member)
        if dim == "distributor":
            return self.distributor_name(member)
        if dim == "campaign":
            return self.campaign_name(member)
        from channelscope.web.dashboard.i18n import member_label

        return member_label(dim, member, self.lang)

    # ---- the service, with this request's user ----------------------------------------------

    def kpis(self, metrics: list[str], **kw: Any) -> pd.DataFrame:
        """``service.kpi_table`` over the view's range and filters unless ``kw`` says otherwise."""
        kw.setdefault("start", self.start)
        kw.setdefault("end", self.end)
        kw.setdefault("filters", self.view.filter_dict())
        return service.kpi_table(self.project, self.user, metrics=metrics, **kw)

    def cut_dims(self, by: list[str] | tuple[str, ...] = ()) -> list[str]:
        """The dimensions a page's query is cut by: its own, the view's filters and the user's scope."""
        dims = [*by, *(self.view.filter_dict() or {})]
        if self.user.scoped:
            dims += ["channel"] * bool(self.user.channels) + ["distributor"] * bool(self.user.distributors)
        return list(dict.fromkeys(dims))

    def cuttable(self, metrics: list[str] | tuple[str, ...], by: list[str] | tuple[str, ...] = ()) -> list[str]:
        """The metrics that can be shown for this view (no visitors or ad spend for a distributor)."""
        from channelscope.metrics.query import cuttable

        return cuttable(self.project.catalog, list(metrics), self.cut_dims(by))

    def call(self, name: str, *args: Any, **kw: Any) -> Any:
        """Any other service function by name (targets_table, funnel, alerts_table...)."""
        return getattr(service, name)(self.project, self.user, *args, **kw)


def page_context(project: Project, view: View) -> PageContext:
    """The context of the current request: its user (set by the auth middleware) and the view with defaults."""
    user = request_user()
    return PageContext(project, user, view.with_defaults(latest_date(project), user.lang))


def campaign_names(project: Project) -> dict[str, str]:
    """Campaign id -> name, from the warehouse (cached per data version, like the service's queries)."""
    rp = service.reader(project)
    key = service.data_version(rp)
    cached = _CAMPAIGNS.get(id(rp))
    if cached and cached[0] == key:
        return cached[1]
    try:
        frame = rp.table("campaigns").select("campaign_id", "name").to_pandas()
    except Exception:  # a warehouse without campaigns: ids it is
        return {}
    names = {str(r.campaign_id): str(r.name or r.campaign_id) for r in frame.itertuples()}
    _CAMPAIGNS[id(rp)] = (key, names)
    return names


_CAMPAIGNS: dict[int, tuple[Any, dict[str, str]]] = {}


def latest_date(project: Project) -> dt.date | None:
    """The latest business date with orders: the default end of the range (a date, not a number shown)."""
    return service.reader(project).latest_date()


def local_time(value: Any, timezone: str) -> str:
    """A stored timestamp (UTC, naive or aware) in ``timezone``, ``YYYY-MM-DD HH:MM``; ``–`` when missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return str(ts.tz_convert(timezone).strftime("%Y-%m-%d %H:%M"))
