"""RFM as of any date, the eight named segments, loyalty migration between two dates, and CRM exports.

Per customer, as of a business date D (inclusive), from the customer frame: recency = days from the last
purchase day to D, frequency = paid orders, monetary = value to date (base currency). A customer is
*high* on R when recency <= the R cut, on F when frequency >= the F cut, on M when monetary >= the M
cut; a cut left empty is the mean over the customers as of D (the usual 均值 rule of Chinese RFM
teams). The three flags name one of eight segments (重要价值 ... 一般挽留). Scores 1-5 are quintiles
(5 = best). Everything per customer is computed in the engine; Python receives segment counts, or the
rows of one export.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import BaseModel, ConfigDict

from channelscope.errors import QueryError
from channelscope.metrics.customers import customer_frame, paid_orders

#: (high R, high F, high M) -> (code, zh, en)
SEGMENTS: dict[tuple[bool, bool, bool], tuple[str, str, str]] = {
    (True, True, True): ("important_value", "重要价值", "Important value"),
    (True, False, True): ("important_develop", "重要发展", "Important to develop"),
    (False, True, True): ("important_keep", "重要保持", "Important to keep"),
    (False, False, True): ("important_winback", "重要挽留", "Important to win back"),
    (True, True, False): ("general_value", "一般价值", "General value"),
    (True, False, False): ("general_develop", "一般发展", "General to develop"),
    (False, True, False): ("general_keep", "一般保持", "General to keep"),
    (False, False, False): ("general_winback", "一般挽留", "General to win back"),
}
SEGMENT_CODES: tuple[str, ...] = tuple(v[0] for v in SEGMENTS.values())
#: the row of customers acquired between the two dates of a migration
NEW = "new"


def segment_label(code: str, lang: str = "zh") -> str:
    """A segment's name in zh-CN or en."""
    if code == NEW:
        return "新客户" if lang == "zh" else "New customer"
    for c, zh, en in SEGMENTS.values():
        if c == code:
            return zh if lang == "zh" else en
    raise QueryError(f"unknown RFM segment '{code}'; valid: {', '.join(SEGMENT_CODES)}")


class RfmBins(BaseModel):
    """The cuts between high and low: recency in days (high when <=), frequency in orders and monetary in
    the base currency (high when >=). None: the mean over the customers as of the date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recency_days: float | None = None
    frequency: float | None = None
    monetary: float | None = None


def rfm_expr(
    con: ibis.BaseBackend,
    as_of: dt.date,
    *,
    bins: RfmBins | None = None,
    channels: Sequence[str] | None = None,
    lean: bool = False,
) -> ir.Table:
    """Per customer: customer_key, acquisition_channel_id, recency_days, frequency, monetary (float),
    r_score, f_score, m_score (1-5), segment (code). ``lean``: customer_key, the R, F, M values and segment
    only, from one aggregate of the paid orders (no acquisition join, no score sorts)."""
    bins = bins or RfmBins()
    if lean:
        o = paid_orders(con, as_of=as_of, channels=channels)
        f = o.group_by("customer_key").aggregate(last_day=o.day.max(), orders=o.count(), value=o.value.sum())
        extra: list[str] = []
    else:
        f = customer_frame(con, as_of=as_of, channels=channels)
        extra = ["acquisition_channel_id"]
    t = f.select(
        "customer_key",
        *extra,
        recency_days=ibis.literal(as_of, type="date").delta(f.last_day, unit="day").cast("int64"),
        frequency=f.orders.cast("int64"),
        monetary=f.value.cast("float64"),
    )
    w = ibis.window()
    r_cut = ibis.literal(bins.recency_days) if bins.recency_days is not None else t.recency_days.mean().over(w)
    f_cut = ibis.literal(bins.frequency) if bins.frequency is not None else t.frequency.mean().over(w)
    m_cut = ibis.literal(bins.monetary) if bins.monetary is not None else t.monetary.mean().over(w)
    t = t.mutate(_hr=t.recency_days <= r_cut, _hf=t.frequency >= f_cut, _hm=t.monetary >= m_cut)
    segment = ibis.cases(
        *(((t._hr == r) & (t._hf == fr) & (t._hm == m), code) for (r, fr, m), (code, _, _) in SEGMENTS.items())
    )
    if lean:
        return t.mutate(segment=segment).drop("_hr", "_hf", "_hm")
    t = t.mutate(
        segment=segment,
        r_score=(5 - ibis.ntile(5).over(order_by=t.recency_days)).cast("int64"),
        f_score=(ibis.ntile(5).over(order_by=t.frequency) + 1).cast("int64"),
        m_score=(ibis.ntile(5).over(order_by=t.monetary) + 1).cast("int64"),
    )
    return t.drop("_hr", "_hf", "_hm")


def rfm_segments(
    con: ibis.BaseBackend,
    as_of: dt.date,
    *,
    bins: RfmBins | None = None,
    channels: Sequence[str] | None = None,
    lang: str = "zh",
) -> pd.DataFrame:
    """One row per segment (all eight, empty ones with 0): segment, label, customers, share (fraction),
    monetary (sum, base currency), mean recency_days and frequency."""
    t = rfm_expr(con, as_of, bins=bins, channels=channels, lean=True)
    agg = t.group_by("segment").aggregate(
        customers=t.count(),
        monetary=t.monetary.sum(),
        recency_days=t.recency_days.mean(),
        frequency=t.frequency.mean(),
    )
    df = pd.DataFrame({"segment": list(SEGMENT_CODES)}).merge(agg.to_pandas(), on="segment", how="left")
    df["customers"] = df["customers"].fillna(0).astype("int64")
    df["monetary"] = df["monetary"].fillna(0.0).round(2)
    total = int(df["customers"].sum())
    df["share"] = df["customers"] / total if total else float("nan")
    df.insert(1, "label", [segment_label(c, lang) for c in df["segment"]])
    return df


def migration(
    con: ibis.BaseBackend,
    start: dt.date,
    end: dt.date,
    *,
    bins: RfmBins | None = None,
    channels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The migration matrix: rows = segment as of ``start`` (plus ``new`` for customers acquired after it),
    columns = segment as of ``end``, cells = customers. Row sums (without ``new``) are the customers as of
    ``start``; the grand total is the customers as of ``end``."""
    if start >= end:
        raise QueryError(f"a migration needs start < end; got {start} and {end}")
    a = rfm_expr(con, start, bins=bins, channels=channels, lean=True).select(_ck="customer_key", _from="segment")
    b = rfm_expr(con, end, bins=bins, channels=channels, lean=True).select("customer_key", _to="segment")
    j = b.left_join(a, b.customer_key == a._ck)
    j = j.mutate(_from=ibis.coalesce(j._from, ibis.literal(NEW)))
    counts = j.group_by(["_from", "_to"]).aggregate(customers=j.count()).to_pandas()
    matrix = counts.pivot_table(index="_from", columns="_to", values="customers", aggfunc="sum", fill_value=0)
    matrix = matrix.reindex(index=[*SEGMENT_CODES, NEW], columns=list(SEGMENT_CODES), fill_value=0)
    matrix.index.name, matrix.columns.name = "from", "to"
    return matrix.astype("int64")


def export_segment(
    con: ibis.BaseBackend,
    as_of: dt.date,
    path: Path,
    *,
    segments: Sequence[str] | None = None,
    bins: RfmBins | None = None,
    channels: Sequence[str] | None = None,
) -> int:
    """Write the customers of ``segments`` (all when None) as CSV for a CRM campaign: pseudonymous
    customer_key, segment, recency_days, frequency, monetary, scores. Returns the rows written."""
    for s in segments or ():
        segment_label(s)
    t = rfm_expr(con, as_of, bins=bins, channels=channels)
    if segments:
        t = t.filter(t.segment.isin(list(segments)))
    cols = ["customer_key", "segment", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"]
    df = t.select(*cols).order_by("customer_key").to_pandas()
    df["monetary"] = df["monetary"].round(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return len(df)
