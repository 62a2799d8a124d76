"""The action form's errors in the page's language: each names the field and what is wrong, in Chinese on a
Chinese page and in English on an English one (the errors are the ones add_action and the API raise)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.conftest import copy_demo

from channelscope import Project
from channelscope.errors import ChannelscopeError
from channelscope.plan import actions as A
from channelscope.web.actions_api import NewAction
from channelscope.web.auth import AccessDenied
from channelscope.web.dashboard.pages.actions import form_error


@pytest.fixture(scope="module")
def shop(demo_shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(demo_shop, tmp_path_factory.mktemp("form") / "shop")


def _error(project: Project, **changes: object) -> ChannelscopeError:
    args = {
        "what": "x",
        "owner": "o",
        "scope_kind": "channel",
        "scope_id": "jd",
        "start": "2025-09-15",
        "deadline": "2025-09-28",
    }
    args.update(changes)
    with pytest.raises(ChannelscopeError) as exc:
        A.add_action(project, **args)  # type: ignore[arg-type]
    return exc.value


def test_form_errors_in_both_languages(shop: Path) -> None:
    with Project(shop) as p:
        before = _error(p, deadline="2025-01-01")
        bad_date = _error(p, start="15.09.2025")
        no_owner = _error(p, owner=" ")
        channel = _error(p, scope_id="nowhere")
        bad_change = _error(p, expected_change=-3)
    assert form_error(before, "zh-CN") == "截止日 2025-01-01 早于开始日 2025-09-15"
    assert "deadline 2025-01-01 is before the start 2025-09-15" in form_error(before, "en")
    assert form_error(bad_date, "zh-CN").startswith("开始日不是日期")
    assert "start '15.09.2025' is not a date" in form_error(bad_date, "en")
    assert form_error(no_owner, "zh-CN").startswith("请填写负责人")
    assert form_error(channel, "zh-CN") == "未知的渠道、经销商或活动"
    assert "unknown channel 'nowhere'" in form_error(channel, "en")
    assert form_error(bad_change, "zh-CN").startswith("预期变化")
    with pytest.raises(ValidationError) as too_long:
        NewAction(what="x" * 501, owner="o", scope_id="jd", start="2025-09-15", deadline="2025-09-28")
    assert form_error(too_long.value, "zh-CN").startswith("请填写行动内容")
    assert form_error(too_long.value, "en").startswith("what: ")
    assert form_error(ValueError("could not convert string to float: 'abc'"), "zh-CN").startswith("预期变化")
    assert form_error(ValueError("could not convert"), "en") == "expected change: not a number"
    assert form_error(AccessDenied("channel tmall is outside the scope"), "zh-CN") == "该范围不在您的权限之内"
    # nothing of the English text leaks into a Chinese message
    for exc in (before, bad_date, no_owner, channel, bad_change):
        assert not any(c.isascii() and c.isalpha() for c in form_error(exc, "zh-CN").replace("YYYY-MM-DD", ""))
