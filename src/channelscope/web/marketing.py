"""The marketing analyses for the API and the dashboard: scope, permission and caching around
``Project.analysis`` (attribution, media mix model, uplift, allocator, ROI by basis).

The models cover the whole business (every channel's GMV and every platform's spend), so a
channel-scoped user is denied them (403, logged) rather than shown numbers that include other channels.
Fits are cached per data version, like every other service query.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.web import service

if TYPE_CHECKING:
    from channelscope.analysis.allocator import Allocation
    from channelscope.analysis.attribution import AttributionResult
    from channelscope.analysis.media_mix import MediaMixFit
    from channelscope.project import Project
    from channelscope.web.auth import User


def _allowed(project: Project, user: User) -> Project:
    service.require(project, user, "read")
    if user.scoped:
        raise service.deny(
            project, user, "the marketing models cover every channel; a channel-scoped user cannot see them"
        )
    return service.reader(project)


def media_mix(
    project: Project,
    user: User,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    adstock: str = "geometric",
) -> MediaMixFit:
    rp = _allowed(project, user)
    return service._cached(
        rp,
        user,
        "marketing.mmm",
        (str(start), str(end), adstock),
        lambda: rp.analysis.media_mix(start=start, end=end, adstock=adstock),
    )


def attribution(
    project: Project,
    user: User,
    *,
    by: str = "channel",
    start: dt.date | None = None,
    end: dt.date | None = None,
    lookback_days: int = 30,
    markov_order: int = 1,
) -> AttributionResult:
    rp = _allowed(project, user)
    args = (by, str(start), str(end), lookback_days, markov_order)
    return service._cached(
        rp,
        user,
        "marketing.attribution",
        args,
        lambda: rp.analysis.attribution(
            by=by, start=start, end=end, lookback_days=lookback_days, markov_order=markov_order
        ),
    )


def roi(
    project: Project,
    user: User,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    margin_rate: float | None = None,
) -> pd.DataFrame:
    rp = _allowed(project, user)
    fit = media_mix(project, user, start=start, end=end)
    attributed = attribution(project, user, by="campaign", start=start, end=end)
    promotions, _ = rp.analysis.promotion_uplift(fit)
    return rp.analysis.marketing_roi(
        start=start, end=end, fit=fit, attributed=attributed, margin_rate=margin_rate, uplift=promotions
    )


def uplift(project: Project, user: User, *, margin_rate: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    rp = _allowed(project, user)
    return rp.analysis.promotion_uplift(media_mix(project, user), margin_rate=margin_rate)


def allocation(project: Project, user: User, **limits: Any) -> Allocation:
    rp = _allowed(project, user)
    return rp.analysis.allocate_budget(media_mix(project, user), **limits)
