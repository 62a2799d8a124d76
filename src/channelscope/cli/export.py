"""``channelscope export parquet DIR``: every canonical table of the warehouse as Parquet files, for
engines beyond one machine (Spark, Trino, a lake). ``SparkWarehouse`` reads the same layout. Beside the
tables, ``metrics.json``: the project's metric catalog with each metric's basis (口径), so a figure computed
from the files can be computed on the same basis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from channelscope.cli.app import JsonOpt, ProjectOpt, _dump, _project, console
from channelscope.model import TABLES

if TYPE_CHECKING:
    from channelscope.project import Project

export_app: typer.Typer = typer.Typer(help="Export the warehouse for other engines.", no_args_is_help=True)


def metric_catalog(p: Project) -> list[dict[str, Any]]:
    """Every metric: name, labels, unit, currency (money metrics), definition and basis (zh-CN, en, fields)."""
    from channelscope.cli.numbers import metric_basis
    from channelscope.metrics.definitions import Derived

    basis = metric_basis(p, list(p.catalog.metrics))
    out = []
    for m in p.catalog.metrics.values():
        definition = m.formula if isinstance(m, Derived) else f"{m.agg}({m.table}.{m.column or '*'})"
        out.append(
            {
                "name": m.name,
                "label_zh": m.label_zh,
                "label_en": m.label_en,
                "unit": m.unit,
                "currency": p.config.project.base_currency if m.unit == "money" else None,
                "definition": definition,
                "basis": basis.get(m.name),
            }
        )
    return out


@export_app.command("parquet")
def export_parquet_command(
    out: Annotated[Path, typer.Argument(help="folder to write <table>.parquet files into")],
    project: ProjectOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Write every canonical table (facts, dimensions, ledger) as <table>.parquet, with a manifest of row counts."""
    from channelscope.warehouse.spark_backend import export_parquet

    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, int | str]] = []
    total = 0
    with _project(project) as p:
        wh = p.warehouse
        existing = set(wh.ibis.list_tables())
        for name in TABLES:
            if name not in existing:
                continue
            export_parquet(wh, name, out / f"{name}.parquet")
            n = int(wh.ibis.table(name).count().execute())
            rows.append({"table": name, "rows": n})
            total += n
        catalog = metric_catalog(p)
    (out / "manifest.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(catalog, indent=1, ensure_ascii=False), encoding="utf-8")
    if as_json:
        _dump(rows)
    else:
        console.print(f"wrote {len(rows)} tables ({total:,} rows) to {out}")
