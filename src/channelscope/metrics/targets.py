"""Targets per metric x scope x period: attainment, pacing (linear, last year's shape or a stored forecast's
shape), run-rate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import ibis
import pandas as pd
import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from channelscope.errors import ConfigError
from channelscope.metrics.definitions import Catalog, Derived, Measure
from channelscope.metrics.periods import parse_period

if TYPE_CHECKING:
    from channelscope.project import Project


class Target(BaseModel):
    """One goal: e.g. GMV of tmall in 2025-11 is 2,000,000 (base currency)."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    period: str
    value: float

    @field_validator("period", mode="before")
    @classmethod
    def _text(cls, value: object) -> str:
        # YAML reads an unquoted 2025 as a number and 2025-06-18 as a date
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    channel: str | None = None
    distributor: str | None = None
    pacing: Literal["linear", "last_year", "forecast"] = "linear"
    owner: str | None = None


class TargetFile(BaseModel):
    """Targets kept by the business in a CSV: metric, period, value[, channel, distributor, pacing, owner]."""

    model_config = ConfigDict(extra="forbid")
    file: str = Field(description="CSV path relative to the project folder")


def load_targets(project: Project) -> list[Target]:
    """Targets from channelscope.yaml and the CSV files it names, checked against the catalog."""
    out: list[Target] = []
    cfg_file = str(project.folder / "channelscope.yaml")
    for i, raw in enumerate(project.config.targets or []):
        try:
            if "file" in raw:
                path = project.folder / TargetFile.model_validate(raw).file
                out += _from_csv(path)
            else:
                out.append(Target.model_validate(raw))
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(x) for x in ("targets", i, *err["loc"]))
            raise ConfigError(f"key '{key}': {err['msg']}", file=cfg_file) from None
    for t in out:
        if t.metric not in project.catalog:
            raise ConfigError(f"target for unknown metric '{t.metric}'", file=cfg_file)
        parse_period(t.period)
    return out


def _from_csv(path: Path) -> list[Target]:
    if not path.exists():
        raise ConfigError("targets file not found", file=str(path))
    df = pd.read_csv(path, dtype=str, encoding="utf-8-sig").dropna(how="all")
    out = []
    for i, row in enumerate(df.to_dict("records"), start=2):
        clean = {k.strip(): v for k, v in row.items() if isinstance(v, str) and v.strip()}
        try:
            out.append(Target.model_validate(clean))
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(x) for x in err["loc"])
            raise ConfigError(f"bad target: {err['msg']}", file=str(path), line=i, field=field) from None
    return out


def is_additive(catalog: Catalog, name: str) -> bool:
    """A metric whose value over a period is the sum of its values over the days (GMV, orders...)."""
    m = catalog.get(name)
    if isinstance(m, Measure):
        return m.additive
    assert isinstance(m, Derived)
    return "/" not in m.formula and "*" not in m.formula and all(is_additive(catalog, r) for r in m.refs)


def attainment(project: Project, targets: list[Target], as_of: dt.date | None = None) -> pd.DataFrame:
    """Per target: actual to date, target, attainment %, expected to date by the pacing curve, gap, and
    run-rate projection to the period end. Ratios (conversion rate, AOV) are not paced: their
    expected value is the target itself and the projection is the actual."""
    latest = as_of or project.latest_date() or dt.date.today()
    rows = []
    for t in targets:
        start, end = parse_period(t.period)
        upto = min(latest, end)
        filters = {k: [v] for k, v in (("channel", t.channel), ("distributor", t.distributor)) if v}
        note = None
        if upto < start:
            actual, share = 0.0, 0.0
        else:
            actual = _value(project, t.metric, start, upto, filters)
            share, note = _share(project, t, start, end, upto, filters)
        additive = is_additive(project.catalog, t.metric)
        expected = t.value * share if additive else t.value
        projection = (actual / share if share > 0 else None) if additive else actual
        rows.append(
            {
                "metric": t.metric,
                "period": t.period,
                "channel": t.channel,
                "distributor": t.distributor,
                "owner": t.owner,
                "as_of": upto,
                "target": t.value,
                "actual": actual,
                "attainment": actual / t.value if t.value else None,
                "pacing": t.pacing,
                "pacing_note": note,
                "elapsed_share": share,
                "expected_to_date": expected,
                "gap": actual - expected,
                "projection": projection,
                "projected_attainment": (projection / t.value) if projection is not None and t.value else None,
            }
        )
    return pd.DataFrame(rows)


def _share(
    project: Project, t: Target, start: dt.date, end: dt.date, upto: dt.date, filters: dict
) -> tuple[float, str | None]:
    """The share of the period's total expected by ``upto`` (days elapsed, or last year's shape),
    and why linear pacing replaced last year's shape when it did."""
    linear = ((upto - start).days + 1) / ((end - start).days + 1)
    if t.pacing == "linear" or not is_additive(project.catalog, t.metric):
        return linear, None
    if t.pacing == "forecast":
        share, why = _forecast_share(project, t, start, end, upto)
        if share is not None:
            return share, None
        return linear, f"{why}: paced linearly"
    from dateutil.relativedelta import relativedelta

    ly = relativedelta(years=1)
    first = project.warehouse.ibis.table("orders").business_date.min().execute()
    whole = _value(project, t.metric, start - ly, end - ly, filters)
    part = _value(project, t.metric, start - ly, upto - ly, filters)
    if first is not None and not pd.isna(first) and pd.Timestamp(first).date() > start - ly:
        why = f"the data starts on {pd.Timestamp(first).date()}, after {start - ly}"
    elif not whole or not part:
        why = f"{t.metric} is 0 from {start - ly} to {(upto if part else end) - ly}"
    else:
        return part / whole, None
    # a shape from a year without data would expect 0% and never warn: pace linearly, and say so
    return linear, f"last year has no data for this period ({why}): paced linearly"


def _forecast_share(
    project: Project, t: Target, start: dt.date, end: dt.date, upto: dt.date
) -> tuple[float | None, str]:
    """The share of the period's forecast falling on ``start..upto``, from the newest stored daily run
    (``channelscope forecast run``) made before the period began whose forecast covers every day of it;
    else None and why."""
    series = "/".join(v for v in (t.channel, t.distributor) if v) or "total"
    scope = f"{t.metric} of {series}"
    con = project.warehouse.ibis
    if not {"forecast_runs", "forecasts"} <= set(con.list_tables()):
        return None, f"no forecast of {scope} is stored (channelscope forecast run --metric {t.metric})"
    r, f = con.table("forecast_runs"), con.table("forecasts")
    runs = r.filter((r.metric == t.metric) & (r.grain == "day") & (r.history_end < start))
    days = f.filter((f.series == series) & (f.period >= start) & (f.period <= end))
    j = days.join(runs, days.run_id == runs.run_id)
    per_run = (
        j.group_by(run_id=j.run_id, created_at=j.created_at)
        .aggregate(
            days=j.period.nunique(),
            whole=j.mean.sum().cast("float64"),
            part=(j.mean * (j.period <= upto).cast("int32")).sum().cast("float64"),
        )
        .order_by(ibis.desc("created_at"))
        .execute()
    )
    covering = per_run[(per_run["days"] == (end - start).days + 1) & (per_run["whole"] > 0)]
    if covering.empty:
        return None, (
            f"no stored daily forecast of {scope} made before {start} covers {start}..{end}"
            f" (channelscope forecast run --metric {t.metric} -h {(end - start).days + 1})"
        )
    best = covering.iloc[0]
    return float(best["part"]) / float(best["whole"]), ""


def _value(project: Project, metric: str, start: dt.date, end: dt.date, filters: dict) -> float:
    """The metric over a range; 0 when nothing happened in it (an empty ratio stays 0 here too)."""
    df = project.kpis([metric], start=start, end=end, filters=filters)
    if df.empty or pd.isna(df[metric].iloc[0]):
        return 0.0
    return float(df[metric].iloc[0])
