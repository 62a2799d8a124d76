"""What the API says around a KPI answer: each metric's basis (口径), the coverage (why a value is empty
for a channel), and ``data_as_of`` (the latest business date with orders in the user's scope, in the
project's time zone). Scope is applied as for the KPIs themselves (``service.scoped_filters``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.metrics.basis import basis_record
from channelscope.web import service

if TYPE_CHECKING:
    from channelscope.project import Project
    from channelscope.web.auth import User


def metric_basis(project: Project, names: list[str]) -> dict[str, dict[str, Any]]:
    """metric -> {"zh-CN": sentence, "en": sentence, "fields": the typed basis as JSON}."""
    info = project.config.project
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        record = basis_record(project.catalog.get(name).basis, currency=info.base_currency, timezone=info.timezone)
        if record is not None:
            out[name] = record
    return out


def data_as_of(project: Project, user: User) -> str | None:
    """The latest business date with orders the user may see (ISO date), None without orders."""
    rp = service.reader(project)
    o = rp.table("orders")
    if user.scoped and user.channels:
        o = o.filter(o.channel_id.isin(list(user.channels)))
    if user.scoped and user.distributors:
        o = o.filter(o.distributor_id.isin(list(user.distributors)))
    value = o.business_date.max().execute()
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def kpi_context(
    project: Project,
    user: User,
    *,
    metrics: list[str],
    start: dt.date | None,
    end: dt.date | None,
    filters: dict[str, Any],
) -> dict[str, Any]:
    """``coverage`` rows, ``data_as_of``, ``timezone`` and ``basis`` for a KPI answer within the user's scope."""
    rp = service.reader(project)
    flt = service.scoped_filters(project, user, filters)
    cov = rp.kpi_coverage(metrics, start=start, end=end, filters=flt)
    return {
        "data_as_of": data_as_of(project, user),
        "timezone": project.config.project.timezone,
        "coverage": cov.to_dict("records"),
        "basis": metric_basis(project, metrics),
    }


def data_freshness(project: Project, user: User) -> dict[str, Any]:
    """``Project.data_as_of`` with only the rows of the user's channels (all for an unscoped user)."""
    rp = service.reader(project)
    data = rp.data_as_of()
    rows = data["rows"]
    if user.scoped:  # a distributor scope sees the sources of its distributors' channels
        mine = set(user.channels) or {
            d.channel_id for d in project.config.distributors if d.id in user.distributors and d.channel_id
        }
        rows = [r for r in rows if r["channel"] in mine]
    return {
        "data_as_of": data_as_of(project, user),
        "today": data["today"].isoformat(),
        "timezone": data["timezone"],
        "rows": [{k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items()} for r in rows],
    }
