"""``channelscope users add/list/disable/token``: who may sign in to the web app, with which role and scope.

DuckDB allows one process per file: while ``channelscope serve`` runs, these commands stop with a message
naming the server; use its /api/users routes (admin) instead, or stop it first.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from channelscope.cli.app import JsonOpt, ProjectOpt, _dump, _frame_table, _project, console, err
from channelscope.errors import ChannelscopeError

if TYPE_CHECKING:
    from channelscope.project import Project
    from channelscope.web.auth import AuthStore

users_app = typer.Typer(help="Web users: add, list, disable, API tokens.", no_args_is_help=True)


def _store(p: Project) -> AuthStore:
    from channelscope.web.auth import AuthStore

    store = AuthStore(p)
    store.ensure_tables()
    return store


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="user name")],
    role: Annotated[str, typer.Option(help="admin, analyst, channel_manager or viewer")],
    channel: Annotated[list[str] | None, typer.Option("--channel", "-c", help="channel in scope (repeat)")] = None,
    distributor: Annotated[
        list[str] | None, typer.Option("--distributor", "-d", help="distributor in scope (repeat)")
    ] = None,
    lang: Annotated[str, typer.Option(help="zh-CN or en")] = "zh-CN",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Create a user (or replace one of the same name). The password is prompted, or read from stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    with _project(project) as p:
        user = _store(p).add_user(
            name, role, password, channels=channel or [], distributors=distributor or [], lang=lang
        )
    out = {
        "username": user.username,
        "role": user.role,
        "channels": list(user.channels),
        "distributors": list(user.distributors),
        "lang": user.lang,
    }
    if as_json:
        _dump(out)
    else:
        console.print(f"added [bold]{user.username}[/] ({user.role}) scope: {user.scope()}")


@users_app.command("list")
def list_users(project: ProjectOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Every user with role, scope and whether disabled (never a password or token)."""
    with _project(project) as p:
        rows = _store(p).list_users()
    if as_json:
        _dump(rows)
        return
    df = pd.DataFrame(rows, columns=["username", "role", "channels", "distributors", "lang", "disabled", "created_at"])
    for c in ("channels", "distributors"):
        df[c] = df[c].map(lambda v: ", ".join(v))
    console.print(_frame_table(df, "Users"))


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="user name")], project: ProjectOpt = Path(".")) -> None:
    """Disable a user: their sessions end and their API tokens stop working."""
    with _project(project) as p:
        _store(p).disable_user(name)
    console.print(f"disabled [bold]{name}[/]")


@users_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="user name")],
    label: Annotated[str | None, typer.Option(help="what the token is for")] = None,
    project: ProjectOpt = Path("."),
) -> None:
    """Print a new API token for the user, once (only its hash is stored). Use: Authorization: Bearer <token>."""
    with _project(project) as p:
        value = _store(p).create_token(name, label)
    if not value:
        raise ChannelscopeError("no token was created")
    err.print("the token is shown once; store it now:")
    sys.stdout.write(value + "\n")
