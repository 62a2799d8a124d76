"""The Distributors page's network sections rendered in-process: tree, score, violations by depth, cases
inbox and live hosts; a distributor-scoped user sees their node and children only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from tests.conftest import copy_demo
from tests.web.components import component_ids

from channelscope import Project
from channelscope.monitor.compliance_cases import refresh_cases
from channelscope.web.auth import User, set_request_user
from channelscope.web.dashboard.data import PageContext
from channelscope.web.dashboard.pages import distributors
from channelscope.web.dashboard.view import View


@pytest.fixture(scope="module")
def project(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = Project(copy_demo(demo_shop, tmp_path_factory.mktemp("network-page") / "shop"))
    refresh_cases(p)
    return p


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_network_sections_render(project: Project, lang: str) -> None:
    user = User("admin", "admin")
    token = set_request_user(user)
    try:
        ids = component_ids(
            distributors.render(PageContext(project, user, View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {}, lang)))
        )
    finally:
        from channelscope.web.auth import reset_request_user

        reset_request_user(token)
    assert {"network-panel", "score-panel", "violations-panel", "cases-panel", "live-hosts-panel"} <= ids
    assert {"net-wx-r01-sales", "net-wx-r01-01-sales", "score-wx-r02", "host-7012345606-gmv"} <= ids
    assert "viol-wx-r03-QH-SE01-50ML-depth" in ids


def test_a_distributor_scoped_user_sees_its_subtree_only(project: Project) -> None:
    user = User("wx", "channel_manager", distributors=("wx-r01",))
    token = set_request_user(user)
    try:
        view = View(dt.date(2025, 11, 1), dt.date(2025, 11, 30), {"distributor": ("wx-r01",)}, "en")
        ids = component_ids(distributors.render(PageContext(project, user, view)))
    finally:
        from channelscope.web.auth import reset_request_user

        reset_request_user(token)
    nets = {i for i in ids if i.startswith("net-") and i.endswith("-sales") and "subtree" not in i}
    assert "net-wx-r01-sales" in nets and all(i.startswith("net-wx-r01") for i in nets)
    assert not any(i.startswith("host-") or i.startswith("score-wx-r02") for i in ids)
