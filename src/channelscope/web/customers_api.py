"""The customer analytics API under /api/customers: cohorts, repurchase, RFM, migration, segment export, CLV,
cross-channel, behaviour funnel and paths. Scope: a channel manager sees the customers of their channels only (their orders in those
channels; a customer shared by two channels is counted in each). A scope that names distributors is not
applied to customers yet, so it is denied (403), never widened.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from channelscope.web import service
from channelscope.web.api import _known_query_params, envelope, parse_date, records
from channelscope.web.auth import User, request_user

router = APIRouter(prefix="/customers", tags=["customers"], dependencies=[Depends(_known_query_params)])
Channel = Annotated[list[str], Query(alias="channel", description="only these channels (repeat); within scope")]
AsOf = Annotated[str | None, Query(description="business date YYYY-MM-DD (default: the latest)")]


def customer_scope(project: Any, user: User, channels: list[str]) -> list[str] | None:
    """The channels whose orders a query may read (None: all), checked against the user's scope."""
    service.require(project, user, "read")
    if not user.scoped:
        return channels or None
    if user.distributors or not user.channels:
        raise service.deny(
            project,
            user,
            "customer analytics are scoped by channel only; a distributor scope cannot be applied to them",
        )
    outside = [c for c in channels if c not in user.channels]
    if outside:
        raise service.deny(project, user, f"channel {','.join(outside)} is outside the scope")
    return channels or list(user.channels)


def run(project: Any, user: User, name: str, args: tuple, channels: list[str] | None, compute: Any) -> Any:
    """``compute(customer analyses)`` on this thread's read view, cached per scope, arguments and data version
    (shared by the API and the dashboard page, so both show the same numbers)."""
    rp = service.reader(project)
    key_args = (*args, tuple(channels or ()))
    return service._cached(rp, user, f"customers.{name}", key_args, lambda: compute(rp.analysis.customers))


def _run(request: Request, user: User, name: str, args: tuple, channels: list[str] | None, compute: Any) -> Any:
    return run(request.app.state.project, user, name, args, channels, compute)


@router.get("/cohorts", summary="Acquisition cohorts x periods since acquisition: customers, orders, revenue")
def cohorts(
    request: Request,
    grain: str = "month",
    by: str | None = None,
    as_of: AsOf = None,
    channel: Channel = [],  # noqa: B006
) -> dict[str, Any]:
    user = request_user()
    ch = customer_scope(request.app.state.project, user, channel)
    d = parse_date(as_of, "as_of")
    df = _run(
        request, user, "cohorts", (grain, by, d), ch, lambda c: c.cohorts(grain=grain, by=by, as_of=d, channels=ch)
    )
    return envelope(user, df)


@router.get("/repurchase", summary="Share of customers buying again within 30/60/90/180 days, by acquisition")
def repurchase(
    request: Request,
    by: str = "acquisition_channel",
    as_of: AsOf = None,
    channel: Channel = [],  # noqa: B006
) -> dict[str, Any]:
    user = request_user()
    ch = customer_scope(request.app.state.project, user, channel)
    d = parse_date(as_of, "as_of")
    df = _run(request, user, "repurchase", (by, d), ch, lambda c: c.repurchase(as_of=d, by=by, channels=ch))
    gaps = _run(request, user, "gaps", (by, d), ch, lambda c: c.days_between(as_of=d, by=by, channels=ch))
    return {**envelope(user, df), "days_between": records(gaps)}


@router.get("/rfm", summary="Customers per RFM segment (重要价值 ... 一般挽留) as of a date")
def rfm(
    request: Request,
    as_of: AsOf = None,
    lang: str = "zh",
    channel: Channel = [],  # noqa: B006
) -> dict[str, Any]:
    user = request_user()
    ch = customer_scope(request.app.state.project, user, channel)
    d = parse_date(as_of, "as_of")
    lg = "zh" if lang.lower().startswith("zh") else "en"
    df = _run(request, user, "rfm", (d, lg), ch, lambda c: c.rfm(as_of=d, channels=ch, lang=lg))
    return envelope(user, df)


@router.get("/migration", summary="Customers moving between RFM segments from start to end (rows: from)")
def migration(
    request: Request,
    start: str,
    end: str | None = None,
    channel: Channel = [],  # noqa: B006
) -> dict[str, Any]:
    user = request_user()
    ch = customer_scope(request.app.state.project, user, channel)
    s, e = parse_date(start, "start"), parse_date(end, "end")
    m = _run(request, user, "migration", (s, e), ch, lambda c: c.migration(s, e, channels=ch))
    return envelope(user, m.reset_index())


@router.get("/export", summary="The pseudonymous customers of RFM segments as CSV (for a CRM campaign)")
def export(
    request: Request,
    segment: Annotated[list[str], Query(description="segment code (repeat); all when none")] = [],  # noqa: B006
    as_of: AsOf = None,
    channel: Channel = [],  # noqa: B006
) -> Response:
    user = request_user()
    project = request.app.state.project
    service.require(project, user, "export")
    ch = customer_scope(project, user, channel)
    d = parse_date(as_of, "as_of")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "segment.csv"
        service.reader(project).analysis.customers.export_segment(path, segments=segment or None, as_of=d, channels=ch)
        body = path.read_bytes()
    name = f"customers-{'-'.join(segment) or 'all'}-{d or 'latest'}.csv"
    return Response(body, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/clv", summary="BG/NBD + Gamma-Gamma CLV by acquisition channel, with the holdout check and CLV/CAC")
def clv(
    request: Request,
    calibration_end: str | None = None,
    holdout_end: str | None = None,
    holdout_days: Annotated[int, Query(ge=0, le=3650)] = 180,
    channel: Channel = [],  # noqa: B006
) -> dict[str, Any]:
    user = request_user()
    ch = customer_scope(request.app.state.project, user, channel)
    cal, end = parse_date(calibration_end, "calibration_end"), parse_date(holdout_end, "holdout_end")

    def compute(c: Any) -> dict[str, Any]:
        r = c.clv(calibration_end=cal, holdout_end=end, holdout_days=holdout_days or None, channels=ch)
        return clv_payload(r, c.clv_cac(r, channels=ch))  # CAC of the scope's channels only

    out = _run(request, user, "clv", (cal, end, holdout_days), ch, compute)
    return {"scope": user.scope(), **out}


def clv_payload(r: Any, cac: pd.DataFrame) -> dict[str, Any]:
    """A CLV result as JSON: both fits (parameters, log-likelihood, reason), the rollup, holdout, CLV/CAC."""

    def fit(f: Any) -> dict[str, Any]:
        return {
            "model": f.model,
            "params": f.params,
            "log_likelihood": f.log_likelihood,
            "n": f.n,
            "converged": f.converged,
            "reason": f.reason,
            "note": f.note,
        }

    def iso(d: dt.date | None) -> str | None:
        return d.isoformat() if d else None

    return {
        "calibration_end": iso(r.calibration_end),
        "holdout_end": iso(r.holdout_end),
        "bgnbd": fit(r.bgnbd),
        "gamma_gamma": fit(r.gamma_gamma),
        "rollup": records(r.rollup),
        "holdout": records(r.holdout) if r.holdout is not None else None,
        "clv_cac": records(cac),
    }


@router.get("/cross-channel", summary="Channel overlap, first -> second order channel, multi-channel value")
def cross_channel(
    request: Request,
    as_of: AsOf = None,
    channel: Channel = [],  # noqa: B006
) -> dict[str, Any]:
    user = request_user()
    ch = customer_scope(request.app.state.project, user, channel)
    d = parse_date(as_of, "as_of")

    def compute(c: Any) -> dict[str, Any]:
        return {
            "overlap": records(c.overlap(as_of=d, channels=ch).reset_index()),
            "first_second": records(c.first_second_channel(as_of=d, channels=ch).reset_index()),
            "multi_channel": records(c.multi_channel_value(as_of=d, channels=ch)),
            "cannibalization": records(c.cannibalization(as_of=d, channels=ch)),
        }

    return {"scope": user.scope(), **_run(request, user, "cross", (d,), ch, compute)}


FunnelBy = Annotated[list[str], Query(alias="by", description="channel and/or category (repeat); none: in total")]


@router.get("/funnel", summary="Behaviour sessions and the view -> cart/favourite -> purchase funnel")
def funnel(
    request: Request,
    start: str | None = None,
    end: str | None = None,
    by: FunnelBy = ["channel", "category"],  # noqa: B006
    channel: Channel = [],  # noqa: B006
) -> dict[str, Any]:
    """Sessions (a new one after 30 minutes without an event) per channel, and per ``by`` the units (session x
    category) that viewed, carted, favourited, engaged (either) and purchased after engaging, with rates and the
    median seconds between steps."""
    user = request_user()
    ch = customer_scope(request.app.state.project, user, channel)
    s, e = parse_date(start, "start"), parse_date(end, "end")
    cut = tuple(b for b in by if b != "none")

    def compute(c: Any) -> dict[str, Any]:
        return {
            "sessions": records(c.sessions(start=s, end=e, channels=ch)),
            "rows": records(c.funnel(by=cut, start=s, end=e, channels=ch)),
        }

    return {"scope": user.scope(), **_run(request, user, "funnel", (s, e, cut), ch, compute)}


@router.get("/paths", summary="The most common behaviour paths to purchase and to drop-off, and the Sankey links")
def paths(
    request: Request,
    start: str | None = None,
    end: str | None = None,
    top: Annotated[int, Query(ge=1, le=1000)] = 10,
    by_channel: bool = False,
    channel: Channel = [],  # noqa: B006
) -> dict[str, Any]:
    user = request_user()
    ch = customer_scope(request.app.state.project, user, channel)
    s, e = parse_date(start, "start"), parse_date(end, "end")

    def compute(c: Any) -> dict[str, Any]:
        return {
            "rows": records(c.paths(start=s, end=e, channels=ch, by_channel=by_channel, top=top)),
            "sankey": records(c.sankey(start=s, end=e, channels=ch)),
        }

    return {"scope": user.scope(), **_run(request, user, "paths", (s, e, top, by_channel), ch, compute)}
