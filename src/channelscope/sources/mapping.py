"""Declarative mappings (data, not code) from a source's columns to canonical tables.

A mapping is YAML: a primary ``table`` with ``columns``, optional derived ``also`` targets (order
lines or refunds carried on the same export row), and read options. Presets ship in
``sources/presets/``; a project adds its own in its ``presets/`` folder without code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from channelscope.config._yaml import LocatedYaml, load_located
from channelscope.errors import ConfigError
from channelscope.model import TABLES

ColumnType = Literal["string", "code", "int", "decimal", "money", "timestamp", "date", "bool", "line_number"]
Unit = Literal["yuan", "fen", "cents", "unit", "thousandth"]
Pii = Literal["phone", "email", "name", "address", "id"]
#: how a collapsed target folds one column over the rows of a key (default: first non-empty value)
Aggregate = Literal["first", "last", "sum", "min", "max", "count", "count_distinct"]

PRESET_DIR = Path(__file__).parent / "presets"


class Split(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sep: str
    index: int = 0


class ColumnSpec(BaseModel):
    """How one canonical column is made from the source row."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | list[str] | None = Field(None, alias="from", description="source column(s); a list is merged")
    sep: str = Field(" ", description="separator when merging several source columns")
    split: Split | None = None
    const: Any = None
    expr: str | None = Field(None, description="SQL over already-mapped canonical columns")
    type: ColumnType | None = None
    format: str | list[str] | None = Field(None, description="strptime format(s) tried in order")
    tz: str | None = Field(None, description="time zone of naive timestamps in this column")
    unit: Unit | None = None
    map: dict[str, str | None] | None = Field(None, description="value -> canonical value")
    default: Any = None
    pii: Pii | None = None
    lower: bool = False
    upper: bool = False
    optional: bool = Field(False, description="the source column may be absent from a file: then NULL")
    aggregate: Aggregate | None = Field(
        None, description="on a collapsed target: how the rows of one key fold into one value (default first)"
    )

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnSpec:
        origins = [x is not None for x in (self.from_, self.const, self.expr)]
        if sum(origins) > 1:
            raise ValueError("give only one of 'from', 'const', 'expr'")
        if sum(origins) == 0 and self.type != "line_number" and self.default is None:
            raise ValueError("give one of 'from', 'const', 'expr' (or a 'default')")
        return self


class Target(BaseModel):
    """A canonical table filled from the source rows."""

    model_config = ConfigDict(extra="forbid")

    table: str
    columns: dict[str, ColumnSpec]
    when: str | None = Field(None, description="SQL over the mapped columns: rows that produce this target")
    collapse: bool = Field(False, description="many rows per key (line-level export): keep one row per key")
    let: dict[str, ColumnSpec] = Field(
        default_factory=dict, description="scratch columns read from the file for expr/when, not stored"
    )
    accounts: bool = Field(
        False,
        description="an `also` target whose rows (its `when`) are counted in the ledger through it, "
        "instead of being quarantined by the primary table's `when`",
    )

    @field_validator("columns", "let", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"from": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _known(self) -> Target:
        if self.table not in TABLES or TABLES[self.table].kind == "bookkeeping":
            valid = sorted(n for n, t in TABLES.items() if t.kind != "bookkeeping")
            raise ValueError(f"unknown table '{self.table}'; valid: {', '.join(valid)}")
        t = TABLES[self.table]
        allowed = set(t.mappable) | {"order_id"}
        for name in self.columns:
            if name not in allowed:
                raise ValueError(f"table '{self.table}' has no column '{name}'; mappable: {', '.join(t.mappable)}")
        for name in self.let:
            if name in t.names or name.startswith("_"):
                raise ValueError(
                    f"let column '{name}' must not be named like a column of '{self.table}' or start with _"
                )
        folded = [n for n, spec in self.columns.items() if spec.aggregate]
        if folded and not self.collapse:
            raise ValueError(f"'aggregate' on {', '.join(folded)} needs 'collapse: true' on table '{self.table}'")
        if self.accounts and self.collapse:
            raise ValueError("'accounts' counts one input row per row of the table: it cannot be collapsed")
        return self


class ReadOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["auto", "csv", "tsv", "xlsx", "parquet", "json", "jsonl"] = "auto"
    delimiter: str | None = None
    encoding: str = "auto"
    skip_rows: int = 0
    sheet: str | int | None = None
    no_header: bool = False
    column_names: list[str] | None = Field(None, description="names for a file without a header row")


class JoinColumn(BaseModel):
    """One column brought in from a joined file, folded over its rows of a key."""

    model_config = ConfigDict(extra="forbid")
    from_: str = Field(alias="from", description="the joined file's column")
    aggregate: Aggregate = "first"
    type: Literal["string", "money", "decimal", "int"] = Field(
        "string", description="how to read the values before summing (money and decimal are exact)"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"from": value} if isinstance(value, str) else value


class Join(BaseModel):
    """Another file of the same export, joined to each row on a key (Olist: items, payments, customers).

    Its rows are folded to one per key first, so a row of the primary file stays one row; the
    joined file's own rows are accounted by its own source, not here.
    """

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="glob, relative to the folder of the file being loaded (or absolute)")
    key: dict[str, str] = Field(
        description="column of this file -> column of the joined file (one name: the same in both)"
    )
    columns: dict[str, JoinColumn] = Field(description="new column name (as a source column) -> joined column")
    read: ReadOptions = Field(default_factory=ReadOptions)
    optional: bool = Field(False, description="no matching file: the columns are empty instead of an error")

    @field_validator("key", mode="before")
    @classmethod
    def _same_name(cls, value: Any) -> Any:
        return {value: value} if isinstance(value, str) else value


class Mapping(Target):
    """A source's whole mapping: the primary target, derived targets and read options."""

    name: str = "inline"
    label: str | None = None
    label_zh: str | None = None
    read: ReadOptions = Field(default_factory=ReadOptions)
    also: list[Target] = Field(default_factory=list)
    channel_id: str | None = Field(None, description="constant channel of every row")
    timezone: str | None = Field(None, description="time zone of naive timestamps")
    currency: str | None = None
    join: list[Join] = Field(default_factory=list, description="other files of the export joined on keys")

    @model_validator(mode="after")
    def _primary_rows(self) -> Mapping:
        if self.collapse:
            raise ValueError(
                "'collapse' on the primary table would count keys, not input rows, in the ledger: make the "
                "lines the primary table and fill the collapsed table with 'also' (see docs/mapping.md)"
            )
        if self.accounts:
            raise ValueError("'accounts' is for 'also' targets; the primary table always counts its rows")
        return self

    def targets(self) -> list[Target]:
        primary = Target(table=self.table, columns=self.columns, when=self.when, collapse=self.collapse, let=self.let)
        return [primary, *self.also]


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "map":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def preset_paths(project_presets: Path | None) -> dict[str, Path]:
    """Every preset name -> its file; the project's own presets override the shipped ones."""
    found = {p.stem: p for p in sorted(PRESET_DIR.glob("*.yaml"))}
    if project_presets and project_presets.is_dir():
        found.update({p.stem: p for p in sorted(project_presets.glob("*.yaml"))})
    return found


def canonical_mapping(table: str) -> Mapping:
    """The canonical CSV layout of a table: every mappable column under its own name."""
    t = TABLES[table]
    columns: dict[str, Any] = {
        name: {"from": name, "optional": not t.column(name).required or name in ("channel_id", "currency")}
        for name in t.mappable
    }
    if "customer_key" in columns:
        columns["customer_key"]["pii"] = "id"
    if "visitor_key" in columns:
        columns["visitor_key"]["pii"] = "id"
    return Mapping.model_validate(
        {
            "name": f"canonical_{table}",
            "label": f"canonical {table} layout",
            "table": table,
            "columns": columns,
        }
    )


def load_mapping(
    preset: str | None,
    inline: dict[str, Any] | None,
    *,
    project_presets: Path | None = None,
    where: str = "channelscope.yaml",
) -> Mapping:
    """The mapping of a source: a preset, optionally overridden by an inline mapping."""
    data: dict[str, Any] = {}
    doc: LocatedYaml | None = None
    if preset:
        paths = preset_paths(project_presets)
        if preset not in paths and preset.startswith("canonical_") and preset[10:] in TABLES:
            return canonical_mapping(preset[10:])
        if preset not in paths:
            canonical = [f"canonical_{n}" for n, t in TABLES.items() if t.kind != "bookkeeping" and n != "calendar"]
            raise ConfigError(
                f"unknown preset '{preset}'; available: {', '.join(sorted([*paths, *canonical]))}",
                file=where,
                hint="add your own as presets/<name>.yaml in the project folder",
            )
        doc = load_located(paths[preset])
        data = dict(doc.data)
        data.setdefault("name", preset)
    if inline:
        data = _merge(data, inline)
    try:
        return Mapping.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError
        import pydantic

        if not isinstance(exc, pydantic.ValidationError):
            raise
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        line = doc.line_of(loc) if doc is not None and not inline else None
        raise ConfigError(
            f"mapping key '{key}': {err['msg']}",
            file=str(doc.file) if doc is not None and not inline else where,
            line=line,
        ) from None
