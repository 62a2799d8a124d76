"""Dashboard pages rendered in-process for views the browser tests do not cover (no browser needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.conftest import copy_demo

from channelscope import Project
from channelscope.metrics.query import cuttable
from channelscope.web.auth import User
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.pages import channels, overview
from channelscope.web.dashboard.view import View


@pytest.fixture(scope="module")
def project(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project(copy_demo(demo_shop, tmp_path_factory.mktemp("views") / "shop"))


def _ids(component: object) -> set[str]:
    out: set[str] = set()
    todo = [component]
    while todo:
        c = todo.pop()
        if isinstance(c, list | tuple):
            todo += list(c)
            continue
        cid = getattr(c, "id", None)
        if isinstance(cid, str):
            out.add(cid)
        children = getattr(c, "children", None)
        if children is not None:
            todo.append(children)
    return out


def test_cuttable_leaves_out_what_has_no_distributor(project: Project) -> None:
    cards = list(overview.CARDS)
    assert cuttable(project.catalog, cards, []) == cards
    by_distributor = cuttable(project.catalog, cards, ["distributor"])
    # contribution margin needs ad spend, which is per channel and campaign, never per distributor
    assert "contribution_margin" not in by_distributor
    assert by_distributor == [m for m in cards if m != "contribution_margin"]


@pytest.mark.parametrize(
    "user",
    [
        User("admin", "admin"),
        User("wx", "channel_manager", distributors=("wx-r01",)),  # scoped to a distributor only
    ],
)
def test_overview_and_channels_render_for_a_distributor_view(project: Project, user: User) -> None:
    """A distributor filter or scope shows the cards that can be cut by distributor, not an error page
    (contribution margin asked for ad spend by distributor and failed the whole page)."""
    view = View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {"distributor": ("wx-r01",)}, "en")
    ctx = PageContext(project, user, view)
    ids = _ids(overview.render(ctx))
    assert {"card-gmv-value", "card-paid_orders-value", "card-visitors-value", "card-aov-value"} <= ids
    assert "card-contribution_margin-value" not in ids
    gmv = project.kpis(["gmv"], start=view.start, end=view.end, filters={"distributor": ["wx-r01"]})["gmv"].iloc[0]
    assert float(gmv) > 0
    table = _ids(channels.render(ctx))
    assert "chan-wechat_resellers-gmv" in table
