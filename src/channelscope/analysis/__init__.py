"""The analysis layer: one module per analysis, each pulling aggregates once through the semantic layer.

Modules: ``commerce_calendar`` (holidays, 调休 and festival phases: one calendar for every model),
``forecast`` (backtested, reconciled forecasts), ``seasonal`` (the robust seasonal model behind anomaly alerts), ``seasonal_quality`` (its
precision and recall against known shocks), ``planned_events`` (the festival and campaign calendar
the models expect), ``funnel`` (impressions -> paid orders), ``distributors`` (activity and
minimum-price lines), ``compliance`` (到手价, 乱价, 窜货, commissions, score), ``customers`` (cohorts, repurchase, RFM, CLV, cross-channel; over the customer
frame of ``metrics.customers``). ``Project.analysis`` exposes them as methods (``Analyses``); ``web`` adds only
scope and caching, ``monitor`` only judges values against an analysis' expectation.

Rule: an analysis imports from ``metrics``, ``warehouse``, ``model`` and ``config``, never from
``monitor``, ``web``, ``report``, ``plan`` or ``cli``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from channelscope.analysis.allocator import Allocation
    from channelscope.analysis.attribution import AttributionResult
    from channelscope.analysis.commerce_calendar import CommerceEvent
    from channelscope.analysis.compliance import ComplianceAnalyses
    from channelscope.analysis.customers import CustomerAnalyses
    from channelscope.analysis.forecast import ForecastRun
    from channelscope.analysis.media_mix import MediaMixFit
    from channelscope.analysis.network import NetworkAnalyses
    from channelscope.analysis.planned_events import PlannedEvent
    from channelscope.project import Project

__all__ = ["Analyses"]


class Analyses:
    """The analyses of one project (``Project.analysis``): each method pulls what it needs through
    ``Project.kpis`` or the engine and returns a typed result or a DataFrame."""

    def __init__(self, project: Project) -> None:
        self._project = project

    @property
    def compliance(self) -> ComplianceAnalyses:
        """Channel order: 到手价, price violations, cross-region orders, commissions, score (``analysis.compliance``)."""
        from channelscope.analysis.compliance import ComplianceAnalyses

        return ComplianceAnalyses(self._project)

    @property
    def network(self) -> NetworkAnalyses:
        """The distributor network: tree, levels, activity, cannibalization, live hosts (``analysis.network``)."""
        from channelscope.analysis.network import NetworkAnalyses

        return NetworkAnalyses(self._project)

    @property
    def customers(self) -> CustomerAnalyses:
        """Customer analytics: cohorts, repurchase, RFM and migration, CLV, cross-channel (``analysis.customers``)."""
        from channelscope.analysis.customers import CustomerAnalyses

        return CustomerAnalyses(self._project)

    def planned_events(self) -> list[PlannedEvent]:
        """The festival calendar and the festival, promotion and live-session campaigns, in business dates."""
        from channelscope.analysis.planned_events import project_events

        return project_events(self._project)

    def funnel(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Impressions -> visitors -> add to cart -> orders -> paid orders, with each step's rate (fraction)."""
        from channelscope.analysis.funnel import STAGES, funnel_steps

        return funnel_steps(self._project.kpis(list(STAGES), start=start, end=end, filters=dict(filters or {})))

    def funnel_by_channel(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """The funnel's steps per channel, plus kept orders (paid minus refunds of the period)."""
        from channelscope.analysis.funnel import BY_CHANNEL_METRICS, funnel_by_channel

        frame = self._project.kpis(
            list(BY_CHANNEL_METRICS), by=["channel"], start=start, end=end, filters=dict(filters or {})
        )
        return funnel_by_channel(frame)

    def distributor_activity(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        filters: Mapping[str, Sequence[Any]] | None = None,
    ) -> pd.DataFrame:
        """Per distributor: active days, order lines and lines below the minimum advertised price."""
        from channelscope.analysis.distributors import distributor_activity

        return distributor_activity(self._project, start=start, end=end, filters=filters or {})

    def anomalies(
        self,
        metric: str,
        *,
        by: Sequence[str] = ("channel",),
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        sensitivity: float = 4.0,
        drivers: Sequence[str] = (),
        evaluate_from: dt.date | str | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """The seasonal model's judgement of each day of ``metric`` (daily, per ``by``): expected value,
        interval, score and anomaly flag, with the project's festivals and campaigns as planned events."""
        from channelscope.analysis.planned_events import project_events
        from channelscope.analysis.seasonal import detect_anomalies

        series = self._project.kpis(
            [metric, *drivers], by=list(by), grain="day", start=start, end=end, filters=dict(filters or {})
        )
        return detect_anomalies(
            series,
            value=metric,
            by=list(by),
            festivals=project_events(self._project),
            sensitivity=sensitivity,
            drivers=list(drivers),
            evaluate_from=evaluate_from,
        )

    def _overseas(self) -> list[str]:
        from channelscope.analysis.commerce_calendar import overseas_channels_of

        return overseas_channels_of((c.id, c.platform) for c in self._project.config.channels)

    def commerce_events(self, start: dt.date | str, end: dt.date | str) -> list[CommerceEvent]:
        """The project's festival phases between two dates (``calendar.commerce`` of channelscope.yaml)."""
        from channelscope.analysis.commerce_calendar import commerce_events

        cfg = self._project.config.calendar.commerce
        return commerce_events(start, end, cfg, overseas_channels=self._overseas())

    def commerce_calendar(self, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
        """One row per day: statutory holiday, 调休 make-up day, day off and festival phases."""
        from channelscope.analysis.commerce_calendar import commerce_calendar

        cfg = self._project.config.calendar.commerce
        return commerce_calendar(start, end, cfg, overseas_channels=self._overseas())

    def forecast(
        self,
        metric: str = "gmv",
        *,
        hierarchy: str = "channel",
        horizon: int = 28,
        grain: str = "day",
        models: Sequence[str] | None = None,
        windows: int = 3,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        filters: Mapping[str, Any] | None = None,
        choose: str = "level",
    ) -> ForecastRun:
        """Backtested, reconciled forecast of ``metric`` (gmv, paid_orders, units) ``horizon`` periods
        ahead for every node of ``hierarchy`` (channel, distributor, product); the model chosen per
        hierarchy level or per series (``choose``); see ``analysis.forecast``."""
        from channelscope.analysis.forecast import forecast

        return forecast(
            self._project,
            metric,
            hierarchy=hierarchy,
            horizon=horizon,
            grain=grain,
            models=tuple(models) if models else None,
            windows=windows,
            start=start,
            end=end,
            filters=dict(filters or {}),
            choose=choose,
        )

    # ---- marketing ROI (analysis/marketing.py) ----------------------------------------------------

    def attribution(
        self,
        *,
        by: str = "channel",
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        lookback_days: int = 30,
        half_life_days: float = 7.0,
        markov_order: int = 1,
    ) -> AttributionResult:
        """Conversions and GMV credited per channel or campaign by the rules, Markov and Shapley models."""
        from channelscope.analysis.marketing import attribution

        return attribution(
            self._project,
            by=by,
            start=start,
            end=end,
            lookback_days=lookback_days,
            half_life_days=half_life_days,
            markov_order=markov_order,
        )

    def media_mix(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        adstock: str = "geometric",
        holdout: float = 0.15,
    ) -> MediaMixFit:
        """The media mix model: contribution, ROAS and marginal ROAS per ad platform, with its fit."""
        from channelscope.analysis.marketing import media_mix

        return media_mix(self._project, start=start, end=end, adstock=adstock, holdout=holdout)

    def promotion_uplift(
        self, fit: MediaMixFit | None = None, *, margin_rate: float | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Each promotion's incremental GMV against its counterfactual, the dip before it and the hangover
        after it (pull-forward), for a promotion of one channel what the other channels lost (cannibalization),
        all with 95% intervals, and the daily counterfactual; with ``margin_rate``, its incremental
        contribution margin after the discount it gave."""
        from channelscope.analysis.marketing import promotion_effects

        return promotion_effects(self._project, fit or self.media_mix(), margin_rate=margin_rate)

    def allocate_budget(self, fit: MediaMixFit | None = None, **limits: Any) -> Allocation:
        """The split of ad spend that maximises incremental GMV (see ``analysis.allocator.allocate``)."""
        from channelscope.analysis.allocator import allocate

        return allocate(fit or self.media_mix(), **limits)

    def marketing_roi(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        fit: MediaMixFit | None = None,
        attributed: AttributionResult | None = None,
        margin_rate: float | None = None,
        uplift: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """ROI per campaign (ads and promotions) on every basis (口径) side by side, coupons and 红包 as cost."""
        from channelscope.analysis.marketing import roi_table

        return roi_table(
            self._project, start=start, end=end, fit=fit, attributed=attributed, margin_rate=margin_rate, uplift=uplift
        )
