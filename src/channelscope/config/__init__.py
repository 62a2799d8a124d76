"""Loading and validating a project's ``channelscope.yaml``."""

from __future__ import annotations

from pathlib import Path

import pydantic

from channelscope.config._yaml import LocatedYaml, load_located
from channelscope.config.schema import (
    Campaign,
    Channel,
    ChannelRule,
    CleaningConfig,
    Distributor,
    ProjectConfig,
    SourceConfig,
)
from channelscope.errors import ConfigError

CONFIG_FILE = "channelscope.yaml"

__all__ = [
    "CONFIG_FILE",
    "Campaign",
    "Channel",
    "ChannelRule",
    "CleaningConfig",
    "Distributor",
    "ProjectConfig",
    "SourceConfig",
    "load_config",
    "validate_located",
]


def validate_located(model: type[pydantic.BaseModel], doc: LocatedYaml, prefix: tuple = ()) -> pydantic.BaseModel:
    """Validate a located YAML document; the first error names file, line and key."""
    try:
        return model.model_validate(doc.data)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in (*prefix, *loc)) or "(top level)"
        expected = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = sorted(_fields_at(model, loc[:-1]))
            expected = f"unknown key; allowed here: {', '.join(allowed)}"
        elif err["type"] == "missing":
            expected = "required key is missing"
        raise ConfigError(
            f"key '{key}': {expected}",
            file=doc.file,
            line=doc.line_of(loc),
            field=None,
        ) from None


def _fields_at(model: type[pydantic.BaseModel], loc: tuple) -> set[str]:
    current: object = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return set()
        ann = fields[part].annotation
        current = _model_in(ann)
    return set(getattr(current, "model_fields", {}).keys())


def _model_in(ann: object) -> object:
    if isinstance(ann, type) and issubclass(ann, pydantic.BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def load_config(folder: Path | str) -> ProjectConfig:
    """Read ``channelscope.yaml`` from a project folder."""
    path = Path(folder) / CONFIG_FILE
    if not path.exists():
        raise ConfigError(
            "no channelscope.yaml here",
            file=str(path),
            hint="run 'channelscope init <folder>' to create a project",
        )
    doc = load_located(path)
    if not isinstance(doc.data, dict):
        raise ConfigError(
            "expected a mapping of sections (project, warehouse, channels, sources...)", file=str(path), line=1
        )
    config = validate_located(ProjectConfig, doc)
    assert isinstance(config, ProjectConfig)
    return config
