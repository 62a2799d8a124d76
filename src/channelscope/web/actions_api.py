"""API routes of the action log (``/api/actions``) and the report archive (``/api/reports``).

Scope: a channel manager sees and writes only actions on their channels (or, when scoped by distributors,
on their distributors), and only the archived reports issued for channels within their scope (a report over
every channel holds other channels' rows, so it is not theirs). Writing an action needs ``actions.write``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from channelscope.errors import ChannelscopeError
from channelscope.plan import actions as A
from channelscope.web import service
from channelscope.web.api import envelope
from channelscope.web.auth import User, request_user

router = APIRouter()


class ReportNotFound(ChannelscopeError):
    """No archived report has this id (or it is outside the reader's scope)."""


# ---- actions ---------------------------------------------------------------------------------------


def action_in_scope(user: User, action: dict[str, Any]) -> bool:
    """Whether a channel manager's scope covers an action (everyone else: always)."""
    if not user.scoped:
        return True
    if user.channels and action.get("channel_id") not in user.channels:
        return False
    if user.distributors:
        return action.get("scope_kind") == "distributor" and action.get("scope_id") in user.distributors
    return bool(user.channels)


def actions_table(project: Any, user: User, status: str | None = None) -> pd.DataFrame:
    """The action log within the user's scope."""
    service.require(project, user, "read")
    df = A.list_actions(project, status=status)
    if user.scoped:
        keep = [action_in_scope(user, r) for r in df.to_dict("records")]
        df = df[keep] if len(df) else df
    return df.reset_index(drop=True)


def own_action(project: Any, user: User, action_id: str) -> dict[str, Any]:
    service.require(project, user, "actions.write")
    action = A.get_action(project, action_id)
    if not action_in_scope(user, action):
        raise service.deny(project, user, f"action {action_id} is outside the scope")
    return action


class NewAction(BaseModel):
    what: str = Field(min_length=1, max_length=500)
    owner: str = Field(min_length=1, max_length=100)
    scope_kind: str = "channel"
    scope_id: str
    start: str
    deadline: str
    metric: str = "gmv"
    expected_change: float | None = None
    note: str | None = Field(default=None, max_length=2000)


class ActionUpdate(BaseModel):
    status: str | None = None
    note: str | None = Field(default=None, max_length=2000)
    deadline: str | None = None
    owner: str | None = Field(default=None, max_length=100)


def create_action(project: Any, user: User, body: NewAction) -> dict[str, Any]:
    """Record an action after checking the role and that its scope lies within the user's."""
    service.require(project, user, "actions.write")
    if user.scoped:
        channel = A.scope_channel(project, body.scope_kind, body.scope_id)
        probe = {"channel_id": channel, "scope_kind": body.scope_kind, "scope_id": body.scope_id}
        if not action_in_scope(user, probe):
            raise service.deny(project, user, f"{body.scope_kind} {body.scope_id} is outside the scope")
    return A.add_action(
        project,
        what=body.what,
        owner=body.owner,
        scope_kind=body.scope_kind,
        scope_id=body.scope_id,
        start=body.start,
        deadline=body.deadline,
        metric=body.metric,
        expected_change=body.expected_change,
        note=body.note,
        created_by=user.username,
    )


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(pd.DataFrame([row]).to_json(orient="records", date_format="iso"))[0]


@router.get("/actions", tags=["actions"], summary="The action log (PDCA) within your scope")
def list_actions(request: Request, status: str | None = None) -> dict[str, Any]:
    user = request_user()
    if status is not None and status not in A.STATUSES:
        raise service.ParamError("status", f"unknown status '{status}'", list(A.STATUSES))
    return envelope(user, actions_table(request.app.state.project, user, status))


@router.post("/actions", tags=["actions"], summary="Plan an action (analyst, channel manager in scope, admin)")
def add_action(request: Request, body: NewAction) -> dict[str, Any]:
    user = request_user()
    row = create_action(request.app.state.project, user, body)
    return {"scope": user.scope(), "action": _json_row(row)}


@router.post("/actions/{action_id}", tags=["actions"], summary="Record progress: status, note, deadline, owner")
def update_action(request: Request, action_id: str, body: ActionUpdate) -> dict[str, Any]:
    user = request_user()
    p = request.app.state.project
    action = own_action(p, user, action_id)
    row = A.update_action(
        p, action["action_id"], status=body.status, note=body.note, deadline=body.deadline, owner=body.owner
    )
    return {"scope": user.scope(), "action": _json_row(row)}


@router.post("/actions/{action_id}/check", tags=["actions"], summary="Measure the effect and record the verdict")
def check_action(request: Request, action_id: str) -> dict[str, Any]:
    user = request_user()
    p = request.app.state.project
    action = own_action(p, user, action_id)
    chk = A.check_action(p, action["action_id"])
    return {
        "scope": user.scope(),
        "action_id": chk.action_id,
        "verdict": chk.verdict,
        "effect": chk.effect.effect,
        "lower": chk.effect.lower,
        "upper": chk.effect.upper,
        "reason": chk.reason,
        "evidence": json.loads(json.dumps(chk.evidence, default=str)),
    }


# ---- report archive --------------------------------------------------------------------------------


def archive_entries(project: Any, user: User) -> list[dict[str, Any]]:
    """Issued reports (``reports/archive/index.jsonl``), newest first, within the user's scope; each with an
    ``id`` (its line number) and the formats that still exist."""
    service.require(project, user, "read")
    from channelscope.report.archive import read_index

    out = []
    for entry in read_index(project.folder):
        channels = entry.get("channels") or []
        if user.scoped and (not channels or not set(channels) <= set(user.channels)):
            continue
        out.append(entry)
    return out[::-1]


def archived_file(project: Any, user: User, report_id: int, fmt: str) -> Path:
    """The file of an archived report in ``fmt``; outside the scope or missing is not found."""
    for entry in archive_entries(project, user):
        if entry["id"] == report_id:
            path = entry["files"].get(fmt)
            if path and Path(path).is_file():
                return Path(path)
            raise ReportNotFound(f"report {report_id} has no {fmt} file", field="format")
    raise ReportNotFound(f"no report {report_id}", field="report_id")


@router.get("/reports", tags=["reports"], summary="Issued reports in the archive (newest first) within your scope")
def reports(request: Request) -> dict[str, Any]:
    user = request_user()
    entries = archive_entries(request.app.state.project, user)
    rows = [
        {
            "id": e["id"],
            "name": e["name"],
            "start": e["period"][0],
            "end": e["period"][1],
            "language": e["language"],
            "channels": ",".join(e.get("channels") or []),
            "findings": e.get("findings"),
            "data_as_of": e.get("data_as_of"),
            "generated_at": e.get("generated_at"),
            "formats": ",".join(k for k, v in e["files"].items() if Path(v).is_file()),
        }
        for e in entries
    ]
    cols = ["id", "name", "start", "end", "language", "channels", "findings", "data_as_of", "generated_at", "formats"]
    return envelope(user, pd.DataFrame(rows, columns=cols))


_MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/reports/{report_id}/{fmt}", tags=["reports"], summary="Download an archived report (html, pdf, xlsx)")
def download(request: Request, report_id: int, fmt: str) -> FileResponse:
    user = request_user()
    if fmt not in _MEDIA:
        raise service.ParamError("format", f"unknown format '{fmt}'", list(_MEDIA))
    path = archived_file(request.app.state.project, user, report_id, fmt)
    return FileResponse(path, media_type=_MEDIA[fmt], filename=path.name)
