"""``/api/compliance/...``: price violations (乱价), cross-region orders (窜货), commissions, the compliance
score, cases with their lifecycle and evidence packs. A channel manager sees only their channels; one scoped to
distributors sees their nodes and every node below them (children, grandchildren) and nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from channelscope.web import service
from channelscope.web.api import _known_query_params, _project, records
from channelscope.web.auth import request_user

if TYPE_CHECKING:
    from channelscope.analysis.compliance import ComplianceAnalyses
    from channelscope.project import Project
    from channelscope.web.auth import User

router = APIRouter(prefix="/compliance", tags=["compliance"], dependencies=[Depends(_known_query_params)])


def subtree(project: Project, roots: tuple[str, ...] | list[str]) -> list[str]:
    """The distributors ``roots`` and every distributor below them (the network's parent_id links)."""
    d = project.table("distributors").select("distributor_id", "parent_id").to_pandas()  # a dimension
    children: dict[str, list[str]] = {}
    for did, parent in zip(d["distributor_id"], d["parent_id"], strict=True):
        if isinstance(parent, str):
            children.setdefault(parent, []).append(did)
    out: list[str] = []
    todo = list(roots)
    while todo:
        node = todo.pop()
        if node in out:
            continue
        out.append(node)
        todo.extend(children.get(node, []))
    return sorted(out)


def scope_of(project: Project, user: User) -> tuple[list[str] | None, list[str] | None]:
    """(distributors, channels) a user may see; None = all."""
    if not user.scoped:
        return None, None
    dists = subtree(project, user.distributors) if user.distributors else None
    chans = list(user.channels) if user.channels else None
    return dists, chans


def analyses(project: Project, user: User) -> ComplianceAnalyses:
    service.require(project, user, "read")
    rp = service.reader(project)
    dists, chans = scope_of(rp, user)
    return rp.analysis.compliance.scoped(distributors=dists, channels=chans)


def _cases_in_scope(project: Project, user: User, df: pd.DataFrame) -> pd.DataFrame:
    dists, chans = scope_of(project, user)
    if df.empty:
        return df
    if dists is not None:
        df = df[df["distributor_id"].isin(dists)]
    if chans is not None:
        d = project.table("distributors").select("distributor_id", "channel_id").to_pandas()
        mine = set(d.loc[d["channel_id"].isin(chans), "distributor_id"])
        df = df[df["distributor_id"].isin(mine)]
    return df


def _cached(request: Request, name: str, compute: Any) -> Any:
    user = request_user()
    project = _project(request)
    return service._cached(service.reader(project), user, f"compliance.{name}", (), compute)


def _analysis(request: Request, name: str) -> tuple[User, Any]:
    """The user and the analysis ``name`` of their scope (``ComplianceAnalyses.<name>``), cached per scope."""
    user = request_user()
    c = analyses(_project(request), user)
    return user, _cached(request, name, getattr(c, name))


def _rows(request: Request, name: str) -> dict[str, Any]:
    user, df = _analysis(request, name)
    return {"scope": user.scope(), "rows": records(df)}


@router.get("/violations", summary="Price violations (乱价) per distributor x SKU: lines, units, depth, repeats")
def violations(request: Request) -> dict[str, Any]:
    return _rows(request, "violations")


@router.get("/violation-lines", summary="Every order line priced under MAP, with its 到手价")
def violation_lines(request: Request) -> dict[str, Any]:
    return _rows(request, "violation_lines")


@router.get("/regions", summary="Cross-region orders (窜货) per distributor x destination region")
def regions(request: Request) -> dict[str, Any]:
    return _rows(request, "regions")


@router.get("/commissions", summary="Commission owed vs paid per distributor and month")
def commissions(request: Request) -> dict[str, Any]:
    user, df = _analysis(request, "commissions")
    return {"scope": user.scope(), "currency": "base", "rows": records(df.astype({"flagged": bool}))}


@router.get("/score", summary="Dealer compliance score (0-100) per distributor with its components")
def score(request: Request) -> dict[str, Any]:
    return _rows(request, "score")


@router.get("/cases", summary="Compliance cases (inbox) with status, policy action and severity")
def cases(request: Request, status: str | None = None) -> dict[str, Any]:
    from channelscope.monitor.compliance_cases import list_cases

    user = request_user()
    project = _project(request)
    service.require(project, user, "read")
    df = _cases_in_scope(project, user, list_cases(project, status=status, managers=True))
    return {"scope": user.scope(), "rows": records(df.drop(columns=["evidence_json"], errors="ignore"))}


def _case(project: Project, user: User, case_id: str) -> dict[str, Any]:
    from channelscope.monitor.compliance_cases import get_case

    service.require(project, user, "read")
    case = get_case(project, case_id)
    if _cases_in_scope(project, user, pd.DataFrame([case])).empty:
        raise service.deny(project, user, f"case {case['case_id']} is outside your scope")
    return case


@router.get("/cases/{case_id}/evidence.{fmt}", summary="The evidence pack of a case as PDF or Excel")
def evidence(request: Request, case_id: str, fmt: str, lang: str | None = None) -> Response:
    from channelscope.report.evidence_pack import render_evidence

    user = request_user()
    project = _project(request)
    service.require(project, user, "export")
    case = _case(project, user, case_id)
    if fmt not in ("pdf", "xlsx"):
        raise service.ParamError("fmt", f"evidence format '{fmt}' is not pdf or xlsx", "pdf | xlsx")
    body = render_evidence(service.reader(project), case, fmt, lang or user.lang)
    media = "application/pdf" if fmt == "pdf" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="evidence-{case["case_id"]}.{fmt}"'},
    )


class CaseMove(BaseModel):
    status: str
    note: str = ""


@router.post("/cases/{case_id}/status", summary="Move a case: notified, acknowledged, resolved, appealed")
def move(request: Request, case_id: str, body: CaseMove) -> dict[str, Any]:
    from channelscope.monitor.compliance_cases import move_case

    user = request_user()
    project = _project(request)
    service.require(project, user, "alerts.write")
    case = _case(project, user, case_id)
    out = move_case(project, case["case_id"], body.status, by=user.username, note=body.note)
    return {"scope": user.scope(), "case_id": out["case_id"], "status": out["status"]}


network_router = APIRouter(prefix="/network", tags=["network"], dependencies=[Depends(_known_query_params)])


def _network_rows(project: Project, user: User, df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the user's scope: their nodes and everything below them, or their channels' distributors."""
    dists, chans = scope_of(project, user)
    if dists is not None:
        df = df[df["distributor_id"].isin(dists)]
    if chans is not None:
        d = project.table("distributors").select("distributor_id", "channel_id").to_pandas()
        df = df[df["distributor_id"].isin(set(d.loc[d["channel_id"].isin(chans), "distributor_id"]))]
    return df


def _network(request: Request) -> tuple[Project, User, Any]:
    user = request_user()
    project = _project(request)
    service.require(project, user, "read")
    rp = service.reader(project)
    return rp, user, rp.analysis.network


@network_router.get("/tree", summary="The distributor tree: level, sales, commission, customers per node and subtree")
def tree(request: Request) -> dict[str, Any]:
    rp, user, n = _network(request)
    df = service._cached(rp, user, "network.tree", (), n.tree)
    return {"scope": user.scope(), "currency": "base", "rows": records(_network_rows(rp, user, df))}


@network_router.get("/activity", summary="Active, new, silent distributors and the activation funnel")
def activity(request: Request) -> dict[str, Any]:
    rp, user, n = _network(request)
    states, funnel = service._cached(rp, user, "network.activity", (), n.activity)
    rows = _network_rows(rp, user, states)
    return {"scope": user.scope(), "rows": records(rows), "funnel": records(funnel) if not user.scoped else []}


@network_router.get("/live-hosts", summary="Live hosts: GMV, orders, refund rate, commission and its ROI")
def live_hosts(request: Request) -> dict[str, Any]:
    rp, user, n = _network(request)
    df = service._cached(rp, user, "network.live_hosts", (), n.live_hosts)
    return {"scope": user.scope(), "currency": "base", "rows": records(_network_rows(rp, user, df))}


@network_router.get("/live-sessions", summary="Live sessions per host: GMV, orders, viewers, GPM, conversion")
def live_sessions(request: Request) -> dict[str, Any]:
    rp, user, n = _network(request)
    df = service._cached(rp, user, "network.live_sessions", (), n.live_sessions)
    return {"scope": user.scope(), "currency": "base", "rows": records(_network_rows(rp, user, df))}
