"""API routes of forecasts and plans (``/api/forecasts``, ``/api/plan/inventory``).

Forecasts are computed once per metric and data day and cached on the app (a forecast takes seconds);
a channel manager receives only the rows of their channels (never the total, which holds other
channels); the inventory plan is brand-wide (every SKU across channels), so a channel manager is
denied it.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from channelscope.web import service
from channelscope.web.api import envelope
from channelscope.web.auth import User, request_user

router = APIRouter()
_LOCK = threading.Lock()
_CACHE: dict[tuple, Any] = {}
Metric = Annotated[str, Query(description="gmv, paid_orders or units")]
Horizon = Annotated[int, Query(ge=1, le=90, description="days ahead")]


def forecast_for(project: Any, metric: str, horizon: int) -> Any:
    """The channel-hierarchy forecast of ``metric`` for the data's latest day (computed once per
    project, metric, horizon and data day; shared by the API and the dashboard)."""
    if metric not in ("gmv", "paid_orders", "units"):
        raise service.ParamError("metric", f"cannot forecast '{metric}'", ["gmv", "paid_orders", "units"])
    key = (id(project), metric, horizon, project.latest_date())
    with _LOCK:
        if key not in _CACHE:
            if len(_CACHE) > 8:
                _CACHE.clear()
            _CACHE[key] = project.analysis.forecast(metric, hierarchy="channel", horizon=horizon)
        return _CACHE[key]


def cached_run(request: Request, metric: str, horizon: int) -> Any:
    return forecast_for(request.app.state.project, metric, horizon)


def _scope_rows(user: User, frame: Any, column: str = "channel") -> Any:
    if not user.scoped:
        return frame
    allowed = set(user.channels)
    return frame[frame[column].isin(allowed)] if allowed else frame.iloc[0:0]


@router.get("/forecasts", tags=["forecasts"], summary="Daily forecast per channel and total, 80%/95% intervals")
def forecasts(request: Request, metric: Metric = "gmv", horizon: Horizon = 28) -> dict[str, Any]:
    user = request_user()
    run = cached_run(request, metric, horizon)
    cols = ["level", "series", "channel", "period", "model", "mean", "p2_5", "p10", "p50", "p90", "p97_5"]
    frame = _scope_rows(user, run.forecast[cols])
    return envelope(
        user,
        frame,
        metric=metric,
        history_end=run.history_end.isoformat(),
        reconciliation=run.reconciliation,
        unit=request.app.state.project.config.project.base_currency if metric == "gmv" else "count",
    )


@router.get("/forecasts/accuracy", tags=["forecasts"], summary="Backtest accuracy per channel and model")
def accuracy(request: Request, metric: Metric = "gmv", horizon: Horizon = 28) -> dict[str, Any]:
    user = request_user()
    run = cached_run(request, metric, horizon)
    acc = run.series_accuracy.rename(columns={"series": "channel"})
    cols = [
        "level",
        "channel",
        "model",
        "n",
        "mae",
        "mase",
        "smape",
        "bias",
        "coverage_80",
        "coverage_95",
        "festival_mae",
    ]
    return envelope(user, _scope_rows(user, acc[cols]), metric=metric)


@router.get(
    "/forecasts/history",
    tags=["forecasts"],
    summary="Accuracy of the stored forecast runs: their backtest, and tracked against actuals as they arrive",
)
def history(request: Request) -> dict[str, Any]:
    from channelscope.plan.forecasts import accuracy_history

    user = request_user()
    project = request.app.state.project
    if user.scoped:
        raise service.deny(project, user, "stored accuracy sums the errors of every channel")
    return envelope(user, accuracy_history(project))


@router.get("/forecasts/targets", tags=["forecasts"], summary="Suggested monthly targets: P50 and stretch P80")
def targets(request: Request, metric: Metric = "gmv") -> dict[str, Any]:
    from channelscope.plan.targets import suggest_targets

    user = request_user()
    sug = suggest_targets(cached_run(request, metric, 90))
    return envelope(user, _scope_rows(user, sug), metric=metric)


@router.get("/plan/inventory", tags=["plans"], summary="Inventory plan: reorder points, stock-out risk, purchases")
def inventory(request: Request, service_level: Annotated[float, Query(ge=0.5, lt=1)] = 0.95) -> dict[str, Any]:
    from channelscope.plan.inventory import inventory_plan

    user = request_user()
    project = request.app.state.project
    if user.scoped:
        raise service.deny(project, user, "the inventory plan covers every channel's stock")
    frame = inventory_plan(project, service_level=service_level)
    return envelope(user, frame)
