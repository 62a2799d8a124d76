"""The web app: REST API (``/api``), login, the dashboard, live events and the scheduler in one process.

``create_app(folder)`` builds it; ``channelscope serve`` runs it. Imports are lazy so the CLI stays fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["User", "create_app", "request_user"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from channelscope.web.app import create_app

        return create_app
    if name in ("User", "request_user"):
        from channelscope.web import auth

        return getattr(auth, name)
    raise AttributeError(name)
