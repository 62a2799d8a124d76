"""``/api/marketing/...``: ROI by basis, attribution, the media mix model, promotion uplift and the
budget allocator (see ``channelscope.web.marketing`` for scope and caching)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from channelscope.web import marketing, service
from channelscope.web.api import _known_query_params, _project, parse_date, records
from channelscope.web.auth import request_user

router = APIRouter(prefix="/marketing", tags=["marketing"], dependencies=[Depends(_known_query_params)])
Platforms = Annotated[list[str], Query(description="platform (repeat)")]
Limits = Annotated[list[str], Query(description="platform=yuan (repeat)")]


def _pairs(items: list[str], name: str) -> dict[str, float]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = float(value)
        except ValueError:
            raise service.ParamError(name, f"{name} '{item}' is not platform=yuan", "platform=yuan") from None
    return out


@router.get("/roi", summary="ROI per campaign and ad platform on every basis (口径) side by side")
def roi(
    request: Request, start: str | None = None, end: str | None = None, margin_rate: float | None = None
) -> dict[str, Any]:
    user = request_user()
    df = marketing.roi(
        _project(request),
        user,
        start=parse_date(start, "start"),
        end=parse_date(end, "end"),
        margin_rate=margin_rate,
    )
    from channelscope.analysis.marketing import BASES

    return {"scope": user.scope(), "currency": "base", "bases": BASES, "rows": records(df)}


@router.get("/attribution", summary="Conversions and GMV credited per channel or campaign by every model")
def attribution(
    request: Request,
    by: str = "channel",
    start: str | None = None,
    end: str | None = None,
    lookback_days: int = 30,
    markov_order: int = 1,
) -> dict[str, Any]:
    user = request_user()
    result = marketing.attribution(
        _project(request),
        user,
        by=by,
        start=parse_date(start, "start"),
        end=parse_date(end, "end"),
        lookback_days=lookback_days,
        markov_order=markov_order,
    )
    return {
        "scope": user.scope(),
        "basis": result.basis,
        "conversions": result.conversions,
        "revenue": result.revenue,
        "rows": records(result.credits),
    }


@router.get("/mmm", summary="Media mix model: contribution, ROAS (95% interval), marginal ROAS, fit")
def mmm(request: Request, adstock: str = "geometric") -> dict[str, Any]:
    user = request_user()
    fit = marketing.media_mix(_project(request), user, adstock=adstock)
    return {
        "scope": user.scope(),
        "basis": fit.basis,
        "fit": fit.fit,
        "rows": records(fit.platforms),
        "response_curves": records(fit.response_curves()),
    }


@router.get("/uplift", summary="Each promotion's incremental GMV against its counterfactual, with the daily series")
def uplift(request: Request, margin_rate: float | None = None) -> dict[str, Any]:
    user = request_user()
    table, daily = marketing.uplift(_project(request), user, margin_rate=margin_rate)
    return {"scope": user.scope(), "rows": records(table), "daily": records(daily)}


@router.get("/allocation", summary="The split of ad spend that maximises incremental GMV (keep the total by default)")
def allocation(
    request: Request,
    total: float | None = None,
    fixed: Platforms = [],  # noqa: B006
    minimum: Annotated[list[str], Query(alias="min", description="platform=yuan (repeat)")] = [],  # noqa: B006
    maximum: Annotated[list[str], Query(alias="max", description="platform=yuan (repeat)")] = [],  # noqa: B006
) -> dict[str, Any]:
    user = request_user()
    plan = marketing.allocation(
        _project(request),
        user,
        total=total,
        fixed=fixed,
        minimum=_pairs(minimum, "min"),
        maximum=_pairs(maximum, "max"),
    )
    return {
        "scope": user.scope(),
        "total": plan.total,
        "expected_gain": plan.expected_gain,
        "gain_low": plan.gain_low,
        "gain_high": plan.gain_high,
        "split": plan.split,
        "rows": records(plan.platforms),
    }
