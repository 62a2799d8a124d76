"""A wrong config is named by file, line and key; init writes a config that loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from channelscope import ConfigError, Project
from channelscope.cli.scaffold import scaffold
from channelscope.config import load_config


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "channelscope.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("project:\n  name: x\n  timezon: Asia/Shanghai\n", 3, "project.timezon"),
        ("project:\n  timezone: Mars/Base\n", 2, "project.timezone"),
        ("channels:\n  - id: Tm all\n    name: x\n    kind: marketplace\n    platform: t\n", 2, "channels.0.id"),
        ("channels:\n  - id: t\n    name: x\n    kind: shop\n    platform: t\n", 4, "channels.0.kind"),
        ("sources:\n  - name: a\n    path: x.csv\n", 2, "sources.0"),
        ("warehouse:\n  url: mysql://x\n", 2, "warehouse.url"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, line: int, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert err.value.line == line
    assert f"'{key}'" in str(err.value)
    assert str(err.value).startswith(str(tmp_path / "channelscope.yaml"))


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "project:\n  name: [unclosed\n"))
    assert err.value.line is not None and "YAML syntax" in str(err.value)


def test_unknown_preset_lists_the_available_ones(tmp_path: Path) -> None:
    write(
        tmp_path,
        "channels: [{id: t, name: t, kind: marketplace, platform: t}]\n"
        "sources: [{name: a, path: x.csv, preset: nosuch}]\n",
    )
    p = Project(tmp_path)
    with pytest.raises(ConfigError, match=r"unknown preset 'nosuch'; available: .*canonical"):
        p.mapping(p.config.sources[0])


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    scaffold(tmp_path / "shop")
    cfg = load_config(tmp_path / "shop")
    assert [c.id for c in cfg.channels] == ["own_store", "tmall"]
    key = tmp_path / "shop" / "secrets" / "pseudonym.key"
    assert key.stat().st_mode & 0o077 == 0
    with pytest.raises(ConfigError, match="already exists"):
        scaffold(tmp_path / "shop")


def test_a_project_preset_needs_no_code(tmp_path: Path) -> None:
    write(
        tmp_path,
        "channels: [{id: t, name: t, kind: marketplace, platform: t}]\n"
        "sources: [{name: a, path: x.csv, preset: mine}]\n",
    )
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "mine.yaml").write_text(
        "table: orders\ncolumns:\n  source_order_id: 单号\n  ordered_at: 时间\n  net_amount: 金额\n"
        "  status: {const: paid}\n",
        encoding="utf-8",
    )
    p = Project(tmp_path)
    m = p.mapping(p.config.sources[0])
    assert m.table == "orders" and m.columns["source_order_id"].from_ == "单号"
