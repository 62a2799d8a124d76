"""``channelscope``: init, ingest, status, quarantine, kpi, alerts, demo. Exit codes: 0 ok, 1 data problems, 2 errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from channelscope.cli.alerts import alerts_app
from channelscope.cli.render import console as make_console
from channelscope.cli.render import refit_consoles
from channelscope.errors import ChannelscopeError

app = typer.Typer(
    help="channelscope: multi-channel e-commerce analytics you can trust.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
quarantine_app = typer.Typer(help="See, export and fix rejected rows.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(alerts_app, name="alerts")
console = make_console()
err = make_console(stderr=True)
STATE: dict[str, Any] = {"debug": False}

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="project folder", envvar="CHANNELSCOPE_PROJECT")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False) -> None:
    STATE["debug"] = debug
    refit_consoles()


def _project(path: Path, read_only: bool = False):
    from channelscope.project import Project

    return Project(path, read_only=read_only)


def _frame_table(df: pd.DataFrame, title: str) -> Table:
    t = Table(title=title, show_lines=False)
    for c in df.columns:
        t.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
    for row in df.itertuples(index=False):
        t.add_row(*["" if pd.isna(v) else f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row])
    return t


def _dump(obj: Any) -> None:
    def default(o: Any) -> Any:
        if isinstance(o, pd.DataFrame):
            return json.loads(o.to_json(orient="records", date_format="iso"))
        return str(o)

    sys.stdout.write(json.dumps(obj, default=default, ensure_ascii=False, indent=2) + "\n")


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="new project folder")],
    force: Annotated[bool, typer.Option(help="overwrite an existing config")] = False,
) -> None:
    """Create a project folder with a commented channelscope.yaml and a pseudonymization key."""
    from channelscope.cli.scaffold import scaffold

    made = scaffold(folder, force=force)
    for p in made:
        console.print(f"created [bold]{p}[/]")
    console.print(
        f"Next: put exports under {folder}/exports, edit channelscope.yaml, then "
        f"[bold]channelscope ingest -p {folder}[/]"
    )


@app.command()
def ingest(
    project: ProjectOpt = Path("."),
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="only these sources")] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="load these files with the source's mapping (one --source)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load every configured source: clean, quarantine, de-duplicate, and land each file atomically."""
    if file and (not source or len(source) != 1):
        raise ChannelscopeError("--file needs exactly one --source (whose mapping reads the file)")
    with (
        _project(project) as p,
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[source]}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} files"),
            TextColumn("{task.fields[file]}"),
            TimeElapsedColumn(),
            console=err,
            disable=as_json,
            transient=False,
        ) as bar,
    ):
        tasks: dict[str, Any] = {}

        def progress(src: str, f: str, done: int, total: int, res: Any) -> None:
            if src not in tasks:
                tasks[src] = bar.add_task(src, total=total, source=src, file="")
            bar.update(tasks[src], completed=done, total=total, file=Path(f).name)
            if res is not None and not as_json and not err.is_terminal:
                # redirected to a file or a pipe, Rich draws no bar: one line per file instead
                err.print(
                    f"{src} {done}/{total} {Path(f).name}: {res.status}, {res.rows_in:,} rows in = {res.loaded:,} "
                    f"loaded + {res.quarantined:,} quarantined + {res.duplicates:,} duplicates",
                    highlight=False,
                    markup=False,
                )

        results = p.ingest(source, files=file, progress=progress)
        warnings = p.empty_table_warnings()
    rows = [
        {
            "source": r.source,
            "file": Path(r.file).name,
            "status": r.status,
            "rows_in": r.rows_in,
            "loaded": r.loaded,
            "quarantined": r.quarantined,
            "duplicates": r.duplicates,
            "replaced": r.replaced,
            "message": r.message,
            "batch_id": r.batch_id,
        }
        for r in results
    ]
    if as_json:
        _dump(rows)
    else:
        df = pd.DataFrame(rows)
        if len(df):
            console.print(_frame_table(df.drop(columns=["batch_id", "message"]), "Batches"))
        for r in results:
            if r.status == "failed":
                err.print(f"[red]failed[/] {r.message}")
            elif r.status == "no_file":
                err.print(f"[yellow]no file yet[/] {r.source}: {r.file}")
    for w in warnings:
        err.print(f"[yellow]warning[/] {w}", markup=True, highlight=False)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@app.command()
def status(
    project: ProjectOpt = Path("."),
    batches: Annotated[int, typer.Option(min=0, help="the last N loads in the ledger")] = 15,
    as_json: JsonOpt = False,
) -> None:
    """The batch ledger, table row counts, freshness of loads and of the data, quarantine by reason."""
    from channelscope.cli.numbers import data_freshness_frame, data_freshness_title

    with _project(project) as p:
        st = p.status(batches=batches)
    if as_json:
        _dump(st)
        return
    led = st["ledger"][
        [
            "batch_id",
            "source",
            "file",
            "status",
            "rows_in",
            "loaded",
            "quarantined",
            "duplicates",
            "replaced",
            "finished_at",
        ]
    ].copy()
    led["file"] = led["file"].map(lambda f: Path(str(f)).name)
    console.print(_frame_table(led, "Ledger (newest first)"))
    counts = pd.DataFrame([{"table": k, "rows": v} for k, v in st["counts"].items() if v])
    console.print(_frame_table(counts, "Rows per table"))
    fresh = pd.DataFrame(st["freshness"])
    if len(fresh):
        fresh["age_hours"] = fresh["age_hours"].astype(float).round(1)
        console.print(_frame_table(fresh, "Freshness per source"))
    data = st["data_freshness"]
    console.print(_frame_table(data_freshness_frame(data), data_freshness_title(data)))
    q = st["quarantine_by_reason"]
    for w in st.get("warnings", []):
        console.print(f"[yellow]warning[/] {w}", highlight=False)
    if not len(q):
        console.print("[green]Quarantine is empty.[/]")
        return
    per_source = st["quarantine_rows"]
    console.print(_frame_table(per_source, f"Quarantined rows: {int(per_source['rows'].sum())} / 隔离行数"))
    console.print(_frame_table(q, "Quarantine by reason (a row with several reasons counts under each) / 按原因"))


@quarantine_app.command("show")
def quarantine_show(
    project: ProjectOpt = Path("."),
    source: str | None = None,
    batch: str | None = None,
    reason: Annotated[str | None, typer.Option(help="text the reasons contain")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many rows")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Rejected rows with every reason and the input record (personal fields pseudonymized)."""
    with _project(project) as p:
        df = p.quarantined(source=source, batch=batch, reason=reason, limit=limit)
    if as_json:
        _dump(df)
        return
    df = df[["source", "file", "row_number", "reasons", "record"]].copy()
    df["file"] = df["file"].map(lambda f: Path(str(f)).name)
    df["reasons"] = df["reasons"].map(lambda r: "; ".join(json.loads(r)))
    console.print(_frame_table(df, f"Quarantined rows (first {limit})"))


@quarantine_app.command("export")
def quarantine_export(
    out: Annotated[Path, typer.Argument(help=".csv or .xlsx to write")],
    project: ProjectOpt = Path("."),
    source: str | None = None,
    batch: str | None = None,
    reason: str | None = None,
) -> None:
    """Write rejected rows with their original columns, to fix and load with `ingest --source S --file F`."""
    with _project(project) as p:
        n = p.export_quarantine(out, source=source, batch=batch, reason=reason)
    console.print(f"wrote {n} rows to {out}")


DEFAULT_PANEL = ["visitors", "paid_orders", "conversion_rate", "gmv", "aov", "buyers", "refunds", "refund_rate"]


@app.command()
def kpi(
    project: ProjectOpt = Path("."),
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="metric name (repeat); see 'metrics'")
    ] = None,
    by: Annotated[
        list[str] | None, typer.Option("--by", "-b", help="dimension (repeat): channel, distributor...")
    ] = None,
    grain: Annotated[str, typer.Option(help="day, week, month, quarter, year or total")] = "total",
    start: Annotated[str | None, typer.Option(help="first business date, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="last business date, YYYY-MM-DD")] = None,
    where: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value[,value]")] = None,
    compare: Annotated[str | None, typer.Option(help="previous, yoy or wow")] = None,
    to_date: Annotated[str | None, typer.Option("--to-date", help="mtd, qtd, ytd or wtd (up to --end)")] = None,
    lang: Annotated[str | None, typer.Option(help="zh-CN or en (default: the project's locale)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """KPIs computed in the warehouse, by any dimension and grain, with comparisons."""
    from channelscope.cli.numbers import export_envelope, kpi_notes, with_basis_columns
    from channelscope.cli.render import kpi_table

    filters: dict[str, list[str]] = {}
    for item in where or []:
        if "=" not in item:
            raise ChannelscopeError(f"--filter '{item}': expected dimension=value[,value]")
        k, v = item.split("=", 1)
        filters[k.strip()] = [x.strip() for x in v.split(",")]
    if fmt not in ("table", "json", "csv"):
        raise ChannelscopeError(f"--format must be table, json or csv, not '{fmt}'")
    with _project(project) as p:
        metrics = metric or DEFAULT_PANEL
        df = p.kpis(
            metrics, by=by or [], grain=grain, start=start, end=end, filters=filters, compare=compare, to_date=to_date
        )
        locale = lang or p.config.project.locale
        for w in p.empty_table_warnings(tables={m.table for m in p.catalog.base_measures(list(metrics))}):
            err.print(f"[yellow]warning[/] {w}", highlight=False)
        coverage = p.kpi_coverage(metrics, by=by or [], start=start, end=end, filters=filters or None)
        if fmt == "json":
            _dump(export_envelope(p, df, list(metrics), coverage))
        elif fmt == "csv":
            sys.stdout.write(with_basis_columns(df, p, list(metrics), locale).to_csv(index=False))
        else:
            console.print(kpi_table(df, p.catalog, metrics, locale, p.config.project.base_currency))
            for line in kpi_notes(p, metrics, coverage, locale):
                console.print(line, markup=False)


@app.command()
def explain(
    period: Annotated[str, typer.Option(help="2025-06-18, 2025-W23, 2025-06, 2025-Q2, 2025 or START..END")],
    project: ProjectOpt = Path("."),
    vs: Annotated[str, typer.Option(help="previous, yoy, wow or another period")] = "previous",
    metric: Annotated[str, typer.Option(help="gmv or net_sales")] = "gmv",
    by: Annotated[str, typer.Option(help="dimension whose members are decomposed")] = "channel",
    lang: Annotated[str | None, typer.Option(help="zh-CN or en")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Why GMV changed: visitors x conversion rate x AOV per channel, plus the channel mix (LMDI)."""
    from channelscope.cli.numbers import metric_basis

    with _project(project) as p:
        result, periods = p.explain(period, vs=vs, metric=metric, by=by)
        locale = lang or p.config.project.locale
        basis = metric_basis(p, [metric])
        currency = p.config.project.base_currency
    if as_json:
        _dump(
            {
                "periods": periods,
                "total": result.total,
                "by_member": result.by_member,
                "sentences": result.explain(locale),
                "basis": basis,
                "currency": currency,
            }
        )
        return
    (a0, a1), (b0, b1) = periods["period"], periods["vs"]
    console.print(f"[bold]{metric}[/] {a0}..{a1} vs {b0}..{b1}")
    table = result.by_member
    if result.basis == "orders":
        err.print(
            "[yellow]warning[/] "
            + (
                "no traffic data: GMV is split into paid orders x AOV"
                if locale == "en"
                else "没有流量数据: GMV 按 支付订单数 x 客单价 分解"
            ),
            highlight=False,
        )
        table = table.drop(columns=["conversion_rate"]).rename(columns={"visitors": "paid_orders"})
    for line in result.explain(locale):
        console.print(line, markup=False)
    console.print(_frame_table(table, "LMDI" if locale == "en" else "因素分解 (LMDI)"))
    if periods.get("left_out"):
        members = ", ".join(periods["left_out"]["members"])
        console.print(
            f"left out (no refund feed: net sales unknown, never 0): {members}"
            if locale == "en"
            else f"未计入（没有退款数据：净销售额未知，不计 0）：{members}",
            markup=False,
        )


@app.command()
def targets(
    project: ProjectOpt = Path("."),
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Targets: actual, attainment, expected to date by the pacing curve, gap and run-rate projection."""
    from channelscope.cli.numbers import basis_text

    with _project(project) as p:
        df = p.targets(as_of)
        if len(df):  # each target's metric with its basis (口径), in the project's language
            texts = {m: basis_text(p, p.catalog.get(m), p.config.project.locale) for m in set(df["metric"])}
            df["basis"] = df["metric"].map(texts)
    if as_json:
        _dump(df)
        return
    if df.empty:
        console.print("No targets: add a 'targets' section to channelscope.yaml (see docs/kpis.md).")
        return
    show = df.copy()
    for c in ("attainment", "elapsed_share", "projected_attainment"):
        show[c] = show[c].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.1%}")
    show = show.drop(columns=["pacing", "pacing_note", "basis"], errors="ignore")
    console.print(_frame_table(show, "Targets and pacing"))
    for row in df.itertuples():
        if getattr(row, "pacing_note", None):
            err.print(f"[yellow]warning[/] {row.metric} {row.period}: {row.pacing_note}", highlight=False)


@app.command()
def metrics(project: ProjectOpt = Path("."), lang: str | None = None, as_json: JsonOpt = False) -> None:
    """Every metric the project knows: name, labels, unit and definition."""
    from channelscope.cli.numbers import basis_text
    from channelscope.metrics.definitions import Derived

    with _project(project) as p:
        rows = []
        for m in p.catalog.metrics.values():
            definition = (
                m.formula
                if isinstance(m, Derived)
                else (
                    f"{m.agg}({m.table}.{m.column or '*'}{' x ' + m.times if m.times else ''})"
                    + (f" where {m.filter}" if m.filter else "")
                )
            )
            rows.append(
                {
                    "name": m.name,
                    "label_zh": m.label_zh,
                    "label_en": m.label_en,
                    "unit": m.unit,
                    "up_is_good": m.up_is_good,
                    "definition": definition,
                    "basis": basis_text(p, m, lang or p.config.project.locale),
                }
            )
    df = pd.DataFrame(rows)
    if as_json:
        _dump(df)
    else:
        console.print(_frame_table(df, "Metrics"))


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="where to create the demo project")] = Path("demo-shop"),
    size: Annotated[str, typer.Option(help="small, medium or large")] = "small",
    seed: int = 7,
) -> None:
    """Generate the demo brand's messy exports, ingest them, print the status and a first KPI table."""
    from channelscope.demo import generate_demo

    if size not in ("small", "medium", "large"):
        raise ChannelscopeError(f"--size must be small, medium or large, not '{size}'")
    with console.status(f"generating the {size} demo data set in {folder}"):
        generate_demo(folder, size=size, seed=seed)  # type: ignore[arg-type]
    key = folder / "secrets" / "pseudonym.key"
    if not key.exists():
        from channelscope.clean.pseudonymize import write_new_key

        write_new_key(key)
    console.print(f"[green]generated[/] {folder}")
    ingest(project=folder, source=None, file=None, as_json=False)
    status(project=folder, batches=15, as_json=False)
    kpi(
        project=folder,
        metric=None,
        by=["channel"],
        grain="total",
        start=None,
        end=None,
        where=None,
        compare=None,
        to_date=None,
        lang=None,
        fmt="table",
    )
    console.print(
        "\n[bold]next[/]:\n"
        f"  channelscope alerts check -p {folder} --as-of 2025-03-18   # the demo's alert rules on an injected shock\n"
        f"  channelscope users add boss --role admin -p {folder}       # then: channelscope serve -p {folder}\n"
        "  open http://127.0.0.1:8000/ (dashboard), /docs (API)"
    )


# the scheduler in the foreground: cli/run.py
from channelscope.cli.run import run_command as _run_command  # noqa: E402

app.command("run")(_run_command)

# the web commands live in their own modules (registered here, after the shared options they import)
from channelscope.cli.serve import serve as _serve  # noqa: E402
from channelscope.cli.users import users_app as _users_app  # noqa: E402

app.command("serve")(_serve)
app.add_typer(_users_app, name="users")

from channelscope.cli.export import export_app as _export_app  # noqa: E402

app.add_typer(_export_app, name="export")

# forecasts and plans: cli/forecast.py
from channelscope.cli.forecast import forecast_app as _forecast_app  # noqa: E402
from channelscope.cli.forecast import plan_app as _plan_app  # noqa: E402

app.add_typer(_forecast_app, name="forecast")
app.add_typer(_plan_app, name="plan")
from channelscope.cli.customers import customers_app as _customers_app  # noqa: E402

app.add_typer(_customers_app, name="customers")
from channelscope.cli.marketing import marketing_app as _marketing_app  # noqa: E402

app.add_typer(_marketing_app, name="marketing")
from channelscope.cli.compliance import compliance_app as _compliance_app  # noqa: E402

app.add_typer(_compliance_app, name="compliance")


def main() -> None:
    try:
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except ChannelscopeError as exc:
        if STATE["debug"]:
            raise
        err.print(f"[red]error:[/] {exc}")
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # usage errors (bad option) carry show() and an exit code
        if isinstance(exc.__cause__, KeyboardInterrupt) or "query interrupted" in str(exc).lower():
            # Ctrl-C that reached a query or a library first: the same clean stop as above
            err.print("aborted")
            sys.exit(130)
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(2)
        raise


from channelscope.cli.report import report_app as _report_app  # noqa: E402

app.add_typer(_report_app, name="report")
from channelscope.cli.action import action_app as _action_app  # noqa: E402

app.add_typer(_action_app, name="action")
