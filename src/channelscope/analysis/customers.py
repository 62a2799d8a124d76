"""Customer analytics of one project (``Project.analysis.customers``): cohorts, repurchase, RFM and
migration, CLV, cross-channel. Each method pulls through the customer frame in the engine; ``channels``
restricts the customers' history to those channels (a channel manager's scope).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from channelscope.analysis import clv as _clv
from channelscope.analysis import cohorts as _cohorts
from channelscope.analysis import cross_channel as _cross
from channelscope.analysis import paths as _paths
from channelscope.analysis import rfm as _rfm
from channelscope.errors import QueryError

if TYPE_CHECKING:
    import ibis

    from channelscope.project import Project


def as_date(value: dt.date | str | None, name: str = "date") -> dt.date | None:
    """A date from a date or ISO text; a clear error otherwise."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise QueryError(f"{name} '{value}' is not a date (YYYY-MM-DD)") from exc


class CustomerAnalyses:
    """The customer analyses of one project, each computed in its warehouse."""

    def __init__(self, project: Project) -> None:
        self._project = project

    @property
    def _con(self) -> ibis.BaseBackend:
        return self._project.warehouse.ibis

    def latest_date(self) -> dt.date:
        """The default as-of date: the latest business date with orders (today when there are none)."""
        return self._project.latest_date() or dt.date.today()

    def _as_of(self, value: dt.date | str | None) -> dt.date:
        return as_date(value, "as_of") or self.latest_date()

    def cohorts(
        self,
        *,
        grain: str = "month",
        by: str | None = None,
        as_of: dt.date | str | None = None,
        channels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Acquisition cohorts x period since acquisition (see ``analysis.cohorts.cohort_table``)."""
        return _cohorts.cohort_table(self._con, grain=grain, by=by, as_of=as_date(as_of, "as_of"), channels=channels)

    def repurchase(
        self,
        *,
        as_of: dt.date | str | None = None,
        windows: Sequence[int] = _cohorts.WINDOWS,
        by: str | None = "acquisition_channel",
        channels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Share of customers buying again within 30/60/90/180 days, by acquisition channel."""
        return _cohorts.repurchase(self._con, as_of=self._as_of(as_of), windows=windows, by=by, channels=channels)

    def days_between(
        self,
        *,
        as_of: dt.date | str | None = None,
        by: str | None = "acquisition_channel",
        channels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The distribution of days between purchase days."""
        return _cohorts.days_between(self._con, as_of=as_date(as_of, "as_of"), by=by, channels=channels)

    def rfm(
        self,
        *,
        as_of: dt.date | str | None = None,
        bins: _rfm.RfmBins | None = None,
        channels: Sequence[str] | None = None,
        lang: str = "zh",
    ) -> pd.DataFrame:
        """Customers per RFM segment as of a date."""
        return _rfm.rfm_segments(self._con, self._as_of(as_of), bins=bins, channels=channels, lang=lang)

    def migration(
        self,
        start: dt.date | str,
        end: dt.date | str | None = None,
        *,
        bins: _rfm.RfmBins | None = None,
        channels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Customers moving between RFM segments from ``start`` to ``end``."""
        s = as_date(start, "start")
        assert s is not None
        return _rfm.migration(self._con, s, self._as_of(end), bins=bins, channels=channels)

    def export_segment(
        self,
        path: Path | str,
        *,
        segments: Sequence[str] | None = None,
        as_of: dt.date | str | None = None,
        bins: _rfm.RfmBins | None = None,
        channels: Sequence[str] | None = None,
    ) -> int:
        """Write a segment's pseudonymous customers as CSV; returns the rows written."""
        return _rfm.export_segment(
            self._con, self._as_of(as_of), Path(path), segments=segments, bins=bins, channels=channels
        )

    def clv(
        self,
        *,
        calibration_end: dt.date | str | None = None,
        holdout_end: dt.date | str | None = None,
        holdout_days: int | None = 180,
        by: str = "acquisition_channel",
        channels: Sequence[str] | None = None,
    ) -> _clv.ClvResult:
        """BG/NBD + Gamma-Gamma fitted on the calibration period, scored, rolled up, checked on the holdout.

        Default: the holdout is the last ``holdout_days`` before the latest date, calibration all before;
        ``holdout_days=None`` fits on everything (no holdout check)."""
        end = as_date(holdout_end, "holdout_end")
        cal = as_date(calibration_end, "calibration_end")
        if cal is None:
            last = end or self.latest_date()
            if holdout_days:
                cal, end = last - dt.timedelta(days=holdout_days), last
            else:
                cal = last
        return _clv.clv(self._con, calibration_end=cal, holdout_end=end, by=by, channels=channels)

    def clv_cac(
        self, result: _clv.ClvResult, *, start: dt.date | str | None = None, channels: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Per acquisition channel: customers acquired (from ``start`` to the calibration end), ad spend of
        those days, CAC (spend / customers), 365-day CLV per customer, CLV/CAC and months to pay back CAC
        (CAC over the monthly expected value); empty with a reason where spend or a fit is missing.
        ``channels``: only these acquisition channels (a channel manager's scope)."""
        return clv_cac(self._project, result, start=as_date(start, "start"), channels=channels)

    def overlap(self, *, as_of: dt.date | str | None = None, channels: Sequence[str] | None = None) -> pd.DataFrame:
        """Customers who bought in both channels of each pair."""
        return _cross.overlap(self._con, as_of=as_date(as_of, "as_of"), channels=channels)

    def first_second_channel(
        self, *, as_of: dt.date | str | None = None, channels: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The channel of the first and of the second order."""
        return _cross.first_second_channel(self._con, as_of=as_date(as_of, "as_of"), channels=channels)

    def multi_channel_value(
        self, *, as_of: dt.date | str | None = None, channels: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Value of single- vs multi-channel customers."""
        return _cross.multi_channel_value(self._con, as_of=as_date(as_of, "as_of"), channels=channels)

    def cannibalization(
        self, *, as_of: dt.date | str | None = None, channels: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Distributor customers who bought in the own store before."""
        return _cross.cannibalization(self._con, as_of=as_date(as_of, "as_of"), channels=channels)

    def sessions(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        channels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Behaviour sessions per channel (see ``analysis.paths``)."""
        s, e = as_date(start, "start"), as_date(end, "end")
        return _paths.sessions(self._con, start=s, end=e, channels=channels)

    def funnel(
        self,
        *,
        by: Sequence[str] = _paths.FUNNEL_BY,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        channels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The view -> cart/favourite -> purchase funnel per channel and/or category."""
        s, e = as_date(start, "start"), as_date(end, "end")
        return _paths.funnel(self._con, by=by, start=s, end=e, channels=channels)

    def paths(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        channels: Sequence[str] | None = None,
        by_channel: bool = False,
        top: int = 10,
    ) -> pd.DataFrame:
        """The most common paths to purchase and to drop-off."""
        s, e = as_date(start, "start"), as_date(end, "end")
        return _paths.paths(self._con, start=s, end=e, channels=channels, by_channel=by_channel, top=top)

    def sankey(
        self,
        *,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        channels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The links of the paths' Sankey diagram."""
        s, e = as_date(start, "start"), as_date(end, "end")
        return _paths.sankey_links(self._con, start=s, end=e, channels=channels)


def clv_cac(
    project: Project, result: _clv.ClvResult, *, start: dt.date | None = None, channels: Sequence[str] | None = None
) -> pd.DataFrame:
    """See ``CustomerAnalyses.clv_cac``."""
    from channelscope.metrics.customers import customer_frame

    cols = ["acquisition_channel", "new_customers", "ad_spend", "cac", "clv_365d", "clv_to_cac", "payback_months"]
    if not result.bgnbd.ok or not result.gamma_gamma.ok or result.rollup.empty:
        out = pd.DataFrame(columns=[*cols, "reason"])
        out.loc[0] = [None] * len(cols) + [result.reason or "no CLV fit"]
        return out
    con = project.warehouse.ibis
    end = result.calibration_end
    f = customer_frame(con, as_of=end)
    if start is not None:
        f = f.filter(f.first_day >= start)
    if channels:
        f = f.filter(f.acquisition_channel_id.isin(list(channels)))
    new = f.group_by(acquisition_channel="acquisition_channel_id").aggregate(new_customers=f.count()).to_pandas()
    s = con.table("ad_spend")
    s = s.filter(s.date <= end)
    if start is not None:
        s = s.filter(s.date >= start)
    if channels:
        s = s.filter(s.channel_id.isin(list(channels)))
    spend = s.group_by(acquisition_channel="channel_id").aggregate(ad_spend=s.spend.sum()).to_pandas()
    spend["ad_spend"] = spend["ad_spend"].astype("float64").round(2)
    roll = result.rollup.rename(columns={"value_365d_per_customer": "clv_365d"})
    df = new.merge(spend, on="acquisition_channel", how="left").merge(
        roll[["acquisition_channel", "clv_365d"]], on="acquisition_channel", how="left"
    )
    df["cac"] = df["ad_spend"] / df["new_customers"].where(df["new_customers"] > 0)
    df["clv_to_cac"] = df["clv_365d"] / df["cac"].where(df["cac"] > 0)
    df["payback_months"] = df["cac"] / (df["clv_365d"] / 12).where(df["clv_365d"] > 0)
    df["reason"] = ["no ad spend recorded for this channel" if pd.isna(v) else None for v in df["ad_spend"]]
    return df[[*cols, "reason"]].sort_values("acquisition_channel").reset_index(drop=True)
