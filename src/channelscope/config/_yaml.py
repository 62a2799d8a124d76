"""YAML loading that remembers where every key came from, so errors name file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from channelscope.errors import ConfigError


class LocatedYaml:
    """A parsed YAML document plus the line of every key path (1-based)."""

    def __init__(self, data: Any, lines: dict[tuple[str | int, ...], int], file: str) -> None:
        self.data = data
        self.lines = lines
        self.file = file

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        """The line of the deepest known prefix of ``path``."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None


def _walk(node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = (
                yaml.safe_load(yaml.serialize(key_node)) if key_node.tag != "tag:yaml.org,2002:str" else key_node.value
            )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_located(path: Path | str, text: str | None = None) -> LocatedYaml:
    """Parse a YAML file; a syntax error becomes a ConfigError with its line."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise ConfigError("file not found", file=file) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError("is not UTF-8 text", file=file) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            f"YAML syntax error: {exc.problem}",
            file=file,
            line=(mark.line + 1) if mark else None,
        ) from exc
    lines: dict[tuple[str | int, ...], int] = {}
    data = {} if node is None else _walk(node, (), lines)
    return LocatedYaml(data, lines, file)
