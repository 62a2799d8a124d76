"""The dashboard's only way to numbers: ``channelscope.web.service`` called with the request's user, so a
page shows what the API returns for the same query (same function, same scope checks)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

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

    def label(self, metric: str) -> str:
        return metric_label(self.project.catalog, metric, self.lang)

    def unit(self, metric: str) -> str:
        return metric_unit(self.project.catalog, metric)

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


def latest_date(project: Project) -> dt.date | None:
    """The latest business date with orders: the default end of the range (a date, not a number shown)."""
    return service.reader(project).latest_date()
