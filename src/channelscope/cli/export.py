"""``channelscope export parquet DIR``: every canonical table of the warehouse as Parquet files, for
engines beyond one machine (Spark, Trino, a lake). ``SparkWarehouse`` reads the same layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from channelscope.cli.app import JsonOpt, ProjectOpt, _dump, _project, console
from channelscope.model import TABLES

export_app = typer.Typer(help="Export the warehouse for other engines.", no_args_is_help=True)


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
    (out / "manifest.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if as_json:
        _dump(rows)
    else:
        console.print(f"wrote {len(rows)} tables ({total:,} rows) to {out}")
