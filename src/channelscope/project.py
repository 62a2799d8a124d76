"""``Project``: one folder, one config, one warehouse. The CLI, API and dashboard are thin over it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from channelscope.clean.calendar import calendar_sql
from channelscope.clean.joins import apply_joins, find_joined
from channelscope.clean.pipeline import run_batch
from channelscope.clean.pseudonymize import PseudonymKey, load_key
from channelscope.clean.targets import Context
from channelscope.config import ProjectConfig, SourceConfig, load_config
from channelscope.errors import ChannelscopeError, ConfigError, QueryError, SourceError
from channelscope.metrics.definitions import Catalog
from channelscope.model import TABLES
from channelscope.sources import files as F
from channelscope.sources.mapping import Mapping, load_mapping
from channelscope.warehouse import BatchResult, Warehouse, open_warehouse

if TYPE_CHECKING:
    from channelscope.analysis import Analyses

ProgressFn = Callable[[str, str, int, int, BatchResult | None], None]
_KIND_ORDER = {"dimension": 0, "fact": 1}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Project:
    """A channelscope project folder (``channelscope.yaml`` plus, by default, its DuckDB file)."""

    def __init__(self, path: Path | str, *, warehouse_url: str | None = None, read_only: bool = False) -> None:
        self.folder = Path(path).resolve()
        self.config: ProjectConfig = load_config(self.folder)
        self.warehouse_url = warehouse_url or self.config.warehouse.url
        self.read_only = read_only
        self._warehouse: Warehouse | None = None
        self._key: PseudonymKey | None = None
        self._catalog: Catalog | None = None
        #: held by every writer in this process (ingest, live event batches, scheduler, alert lifecycle);
        #: in-process readers of a DuckDB warehouse hold it too (one connection, not thread-safe)
        self.write_lock = threading.RLock()

    # ---- plumbing ---------------------------------------------------------------------------

    @property
    def warehouse(self) -> Warehouse:
        if self._warehouse is None:
            wh = open_warehouse(
                self.warehouse_url,
                self.folder,
                memory_limit=self.config.warehouse.query_memory_limit or "",
                threads=self.config.warehouse.threads,
                read_only=self.read_only,
            )
            if not self.read_only:
                wh.ensure_schema()
            self._warehouse = wh
        return self._warehouse

    @property
    def key(self) -> PseudonymKey:
        if self._key is None:
            self._key = load_key(self.folder, self.config.privacy.key_env, self.config.privacy.key_file)
        return self._key

    def close(self) -> None:
        if self._warehouse is not None:
            self._warehouse.close()
            self._warehouse = None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table(self, name: str):
        """An Ibis table of the warehouse (``.to_pandas()`` for a DataFrame)."""
        if name not in TABLES:
            raise ConfigError(f"unknown table '{name}'; valid: {', '.join(sorted(TABLES))}")
        return self.warehouse.ibis.table(name)

    def mapping(self, source: SourceConfig) -> Mapping:
        presets = self.folder / self.config.presets_dir if self.config.presets_dir else None
        mapping = load_mapping(
            source.preset, source.mapping, project_presets=presets, where=str(self.folder / "channelscope.yaml")
        )
        # what the source says about its files wins over the preset's defaults
        if source.encoding != "auto":
            mapping.read.encoding = source.encoding
        if source.sheet is not None:
            mapping.read.sheet = source.sheet
        return mapping

    def source(self, name: str) -> SourceConfig:
        for s in self.config.sources:
            if s.name == name:
                return s
        raise ConfigError(f"unknown source '{name}'; configured: {', '.join(s.name for s in self.config.sources)}")

    # ---- dimensions from the config ---------------------------------------------------------

    def sync_dimensions(self) -> dict[str, int]:
        """Load channels, distributors, campaigns (from the config) and the calendar."""
        wh = self.warehouse
        con = wh.staging()
        cfg = self.config
        out = {}
        tz = cfg.project.timezone
        frames = {
            "channels": pd.DataFrame(
                [
                    {
                        "channel_id": c.id,
                        "name": c.name,
                        "kind": c.kind,
                        "platform": c.platform,
                        "parent_id": c.parent_id,
                        "currency": c.currency,
                        "timezone": c.timezone,
                        "fee_rate": c.fee_rate,
                    }
                    for c in cfg.channels
                ],
                columns=TABLES["channels"].names[:-2],
            ),
            "distributors": pd.DataFrame(
                [
                    {
                        "distributor_id": d.id,
                        "channel_id": d.channel_id,
                        "name": d.name,
                        "kind": d.kind,
                        "tier": d.tier,
                        "parent_id": d.parent_id,
                        "commission_rate": d.commission_rate,
                        "region": d.region,
                        "joined_at": d.joined_at,
                        "status": d.status,
                    }
                    for d in cfg.distributors
                ],
                columns=TABLES["distributors"].names[:-2],
            ),
        }
        for name, frame in frames.items():
            if frame.empty and name == "distributors" and self._has_source_for(name):
                continue
            out[name] = self._replace_from_frame(con, name, frame)
        if cfg.campaigns or not self._has_source_for("campaigns"):
            camp = pd.DataFrame(
                [
                    {
                        "campaign_id": c.id,
                        "name": c.name,
                        "kind": c.kind,
                        "channel_id": c.channel_id,
                        "starts_at": c.starts_at,
                        "ends_at": c.ends_at,
                        "budget": c.budget,
                        "code": c.code,
                    }
                    for c in cfg.campaigns
                ],
                columns=TABLES["campaigns"].names[:-2],
            )
            out["campaigns"] = self._replace_from_frame(con, "campaigns", camp, local_tz=tz)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _calendar AS {calendar_sql(cfg.calendar)}")
        out["calendar"] = wh.replace_rows("calendar", con, "_calendar")
        return out

    def _has_source_for(self, table: str) -> bool:
        return any(self.mapping(s).table == table for s in self.config.sources)

    def _replace_from_frame(self, con: Any, name: str, frame: pd.DataFrame, local_tz: str | None = None) -> int:
        t = TABLES[name]
        con.register("_frame", frame)
        casts = []
        for c in t.columns:
            if c.name == "batch_id":
                casts.append("'config' AS batch_id")
            elif c.name == "record_hash":
                casts.append("'config' AS record_hash")
            else:
                sql_type = (
                    str(c.type)
                    .rstrip("!")
                    .upper()
                    .replace(" ", "")
                    .replace("STRING", "VARCHAR")
                    .replace("INT32", "INTEGER")
                    .replace("INT64", "BIGINT")
                )
                value = (
                    f"CAST(_frame.{c.name} AS {sql_type})" if c.name in frame.columns else f"CAST(NULL AS {sql_type})"
                )
                if local_tz and sql_type == "TIMESTAMP":
                    value = f"timezone('UTC', timezone('{local_tz}', {value}))"
                casts.append(f"{value} AS {c.name}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _cfg_{name} AS SELECT {', '.join(casts)} FROM _frame")
        con.unregister("_frame")
        return self.warehouse.replace_rows(name, con, f"_cfg_{name}")

    # ---- ingestion ----------------------------------------------------------------------------

    def ingest(
        self, sources: list[str] | None = None, *, files: list[Path] | None = None, progress: ProgressFn | None = None
    ) -> list[BatchResult]:
        """Load every configured source (or the named ones); one batch per file.

        A file already loaded (same bytes) is skipped; a file that cannot be read is recorded as a
        failed batch with its reason and the others go on.
        """
        _ = self.key  # no key, no load: stop before any file rather than fail each one
        with self.write_lock:
            self.warehouse.set_memory_limit(self.config.warehouse.memory_limit)
            try:
                return self._ingest(sources, files=files, progress=progress)
            finally:
                self.warehouse.set_memory_limit(self.config.warehouse.query_memory_limit)

    def _ingest(
        self, sources: list[str] | None, *, files: list[Path] | None, progress: ProgressFn | None
    ) -> list[BatchResult]:
        self.sync_dimensions()
        chosen = [self.source(n) for n in sources] if sources else list(self.config.sources)
        chosen.sort(key=lambda s: _KIND_ORDER.get(TABLES[self.mapping(s).table].kind, 1))
        results: list[BatchResult] = []
        for src in chosen:
            if not sources and not files and src.kind == "file" and not F.has_files(self.folder, src.path or ""):
                # a whole-project ingest reports a source whose files are not there yet and loads the others
                results.append(_no_file_yet(src, self.mapping(src).table))
                continue
            results += self.ingest_source(src, files=files, progress=progress)
        self.refresh_marts()
        return results

    def ingest_source(
        self, src: SourceConfig, *, files: list[Path] | None = None, progress: ProgressFn | None = None
    ) -> list[BatchResult]:
        with self.write_lock:
            return self._ingest_source(src, files=files, progress=progress)

    def _ingest_source(
        self, src: SourceConfig, *, files: list[Path] | None, progress: ProgressFn | None
    ) -> list[BatchResult]:
        mapping = self.mapping(src)
        if src.kind == "events" and not files:
            return []  # events arrive through the server's micro-batches (monitor/events.py), not by polling
        if src.kind in ("file", "events"):
            inputs = (
                [F.InputFile(Path(f), str(f)) for f in files] if files else F.find_files(self.folder, src.path or "")
            )
        else:
            from channelscope.sources.remote import fetch_to_file

            inputs = [fetch_to_file(self, src)]
        results = []
        done = self.warehouse.loaded_fingerprints(src.name)
        for i, f in enumerate(inputs):
            if progress:
                progress(src.name, f.display, i, len(inputs), None)
            if getattr(f, "records", None) == 0:
                res = BatchResult(
                    "-", src.name, f.display, "", mapping.table, 0, status="skipped", message="no new records"
                )
            else:
                res = self._ingest_file(src, mapping, f, done)
            cursor = getattr(f, "pending_cursor", None)
            if cursor and res.status in ("loaded", "skipped"):
                from channelscope.sources.remote import save_cursor

                save_cursor(self, src.name, cursor)
            results.append(res)
            if progress:
                progress(src.name, f.display, i + 1, len(inputs), res)
        return results

    def _ingest_file(self, src: SourceConfig, mapping: Mapping, f: F.InputFile, done: set[str]) -> BatchResult:
        started = _now()
        batch_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        try:
            joined = find_joined(mapping, f)
            fp = joined.fingerprint(F.fingerprint(f))
        except (OSError, SourceError) as exc:
            # an unreadable file (truncated .gz, no permission) fails alone, with a ledger row; the rest load
            result = BatchResult(batch_id, src.name, f.display, "", mapping.table, 0, started_at=started)
            result.status = "failed"
            result.message = str(exc) if isinstance(exc, SourceError) else f"{f.display}: cannot read: {exc.strerror}"
            result.finished_at = _now()
            self.warehouse.record_failure(result)
            return result
        result = BatchResult(batch_id, src.name, f.display, fp, mapping.table, 0, started_at=started)
        if fp in done:
            result.status = "skipped"
            result.message = "already loaded (same content)"
            return result
        workdir = F.new_workdir()
        wh = self.warehouse
        con = wh.staging()
        raw = f"_raw_{uuid.uuid4().hex[:8]}"
        try:
            try:
                self._clean_and_commit(src, mapping, f, joined, result, con, raw, workdir)
            except (duckdb.OutOfMemoryException, SourceError) as exc:
                if not _out_of_memory(exc):
                    raise
                # what overflows a small memory_limit is the operators' per-thread state, not the
                # data (that spills to .channelscope-tmp): one more try on one thread
                _drop_temp(con, raw)
                threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])  # type: ignore[index]
                result.loaded = result.replaced = 0
                result.details = {"retried_on_one_thread": True}
                con.execute("SET threads = 1")
                try:
                    self._clean_and_commit(src, mapping, f, joined, result, con, raw, workdir)
                finally:
                    con.execute(f"SET threads = {threads}")
            done.add(fp)
        except (duckdb.InterruptException, RuntimeError) as exc:
            # Ctrl-C inside a query (DuckDB raises "Query interrupted"): the batch's transaction never
            # began or was rolled back; stop the whole load, not just this file
            if isinstance(exc, RuntimeError) and "interrupted" not in str(exc).lower():
                raise
            raise KeyboardInterrupt from None
        except (ChannelscopeError, duckdb.Error) as exc:
            # a file the cleaning SQL cannot handle fails alone, with its reason, never a traceback
            result.status = "failed"
            result.message = (
                str(exc)
                if isinstance(exc, ChannelscopeError)
                else (f"{f.display}: could not be cleaned: {str(exc).splitlines()[0][:300]}")
            )
            if _out_of_memory(exc):
                result.message += (
                    f" (the load ran out of memory within warehouse.memory_limit = "
                    f"{self.config.warehouse.memory_limit}: raise it in channelscope.yaml, or free disk for "
                    "the spill folder .channelscope-tmp next to the warehouse)"
                )
            result.finished_at = _now()
            result.rows_in = result.loaded = result.quarantined = result.duplicates = result.replaced = 0
            wh.record_failure(result)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            _drop_temp(con, raw)
        return result

    def _clean_and_commit(
        self,
        src: SourceConfig,
        mapping: Mapping,
        f: F.InputFile,
        joined: Any,
        result: BatchResult,
        con: Any,
        raw: str,
        workdir: Path,
    ) -> None:
        """Stage, join, clean and commit one file as one batch (one transaction)."""
        wh = self.warehouse
        staged = F.stage_file(con, f, mapping.read, raw, workdir)
        if mapping.join:
            staged.columns = apply_joins(con, raw, staged.columns, mapping, joined, workdir)
            result.details["joined_files"] = joined.names
        ctx = self._context(src, mapping, raw, staged.columns, f.display)
        pii: dict[str, str] = {}
        for target in mapping.targets():
            for spec in target.columns.values():
                names = spec.from_ if isinstance(spec.from_, list) else [spec.from_] if spec.from_ else []
                ctx.mapped_columns.update(names)
                if spec.pii:
                    pii.update(dict.fromkeys(names, spec.pii))
        goods, quarantine = run_batch(
            con,
            result,
            mapping,
            ctx,
            self.config.cleaning,
            staged.rejects,
            pii_columns=pii,
            fx_gap_fails=src.kind != "events",
        )
        result.details["encoding"] = staged.encoding
        result.finished_at = _now()
        wh.commit_batch(result, goods, quarantine, con, self._after_sql(result, goods))

    def _context(self, src: SourceConfig, mapping: Mapping, raw: str, columns: list[str], file: str) -> Context:
        cfg = self.config
        channel_id = src.channel_id or mapping.channel_id
        channel = next((c for c in cfg.channels if c.id == channel_id), None)
        return Context(
            raw=raw,
            raw_columns=columns,
            file=file,
            project_tz=cfg.project.timezone,
            source_tz=src.timezone or mapping.timezone or (channel.timezone if channel else cfg.project.timezone),
            currency=src.currency or mapping.currency or (channel.currency if channel else cfg.project.base_currency),
            base_currency=cfg.project.base_currency,
            channel_id=channel_id,
            channel_rules=src.channel_rules,
            key=self.key,
            time_range=_time_range(cfg, TABLES[mapping.table].kind),
            time_range_text=_time_range_text(cfg, TABLES[mapping.table].kind),
        )

    def _after_sql(self, result: BatchResult, goods: list) -> list[str]:
        """Work done in the batch's transaction: quarantined rows whose key now loaded are marked
        resolved, and customers' first order and acquisition channel are refreshed."""
        bid = result.batch_id.replace("'", "")
        src = result.source.replace("'", "''")
        primary = TABLES[result.table]
        key_col = "source_order_id" if "source_order_id" in primary.names else primary.key[0]
        resolve = (
            f"UPDATE quarantine SET resolved_batch_id = '{bid}' WHERE resolved_batch_id IS NULL "
            f"AND source = '{src}' AND batch_id <> '{bid}' AND source_key IN "
            f"(SELECT CAST({key_col} AS VARCHAR) FROM {primary.name} WHERE batch_id = '{bid}')"
        )
        if not any(g.table == "orders" for g in goods):
            return [resolve]
        first = (
            "SELECT customer_key, ordered_at, channel_id FROM (SELECT customer_key, ordered_at, channel_id, "
            "row_number() OVER (PARTITION BY customer_key ORDER BY ordered_at, order_id) AS rn FROM orders "
            f"WHERE customer_key IN (SELECT customer_key FROM orders WHERE batch_id = '{bid}')) x WHERE rn = 1"
        )
        return [
            resolve,
            "INSERT INTO customers (customer_key, first_order_at, acquisition_channel_id, batch_id, record_hash) "
            f"SELECT f.customer_key, f.ordered_at, f.channel_id, '{bid}', 'derived' FROM ({first}) f "
            "WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_key = f.customer_key)",
            f"UPDATE customers SET first_order_at = f.ordered_at, acquisition_channel_id = f.channel_id "
            f"FROM ({first}) f WHERE customers.customer_key = f.customer_key "
            "AND (customers.first_order_at IS DISTINCT FROM f.ordered_at "
            "OR customers.acquisition_channel_id IS DISTINCT FROM f.channel_id)",
        ]

    def refresh_marts(self) -> list[str]:
        """(Re)create the BI views (mart_daily_channel, mart_distributor, mart_customer)."""
        from channelscope.metrics.marts import create_marts

        return create_marts(self.warehouse, self.catalog)

    # ---- KPIs ---------------------------------------------------------------------------------

    @property
    def analysis(self) -> Analyses:
        """The analyses of this project (funnel, distributor activity, seasonal anomalies, calendar...)."""
        from channelscope.analysis import Analyses

        return Analyses(self)

    @property
    def catalog(self) -> Catalog:
        """Built-in metrics plus the project's own (``kpis.metrics`` in channelscope.yaml)."""
        if self._catalog is None:
            from channelscope.config._yaml import load_located
            from channelscope.metrics.definitions import build_catalog

            path = self.folder / "channelscope.yaml"
            extra = (self.config.kpis or {}).get("metrics")
            doc = load_located(path) if extra else None
            self._catalog = build_catalog(extra, file=str(path), lines=doc.line_of if doc else None)
        return self._catalog

    def latest_date(self) -> dt.date | None:
        """The latest business date with orders (the default end of a KPI range)."""
        value = self.warehouse.ibis.table("orders").business_date.max().execute()
        return None if value is None or pd.isna(value) else pd.Timestamp(value).date()

    def kpis(
        self,
        metrics: list[str] | tuple[str, ...],
        *,
        by: list[str] | tuple[str, ...] = (),
        grain: str = "total",
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        filters: dict[str, Any] | None = None,
        compare: str | None = None,
        to_date: str | None = None,
    ) -> pd.DataFrame:
        """A KPI table computed in the engine: one row per period (unless grain='total') and dimension.

        ``compare`` adds ``<m>_prev``, ``<m>_change`` and ``<m>_change_pct`` for 'previous' (the
        range just before, same length), 'yoy' or 'wow'. ``to_date`` ('mtd', 'qtd', 'ytd', 'wtd')
        starts the range at the beginning of the month/quarter/year/week of ``end``.
        Money is in the base currency; ratios are computed from summed parts.
        """
        from channelscope.metrics.compare import attach, shift_for, to_date_start
        from channelscope.metrics.query import KpiRequest, kpi_frame

        s = _as_date(start, "start")
        e = _as_date(end, "end")
        if (to_date or compare) and e is None:
            e = self.latest_date() or dt.date.today()
        if to_date:
            s = to_date_start(to_date, e)  # type: ignore[arg-type]
        if compare and s is None:
            # the period of the chosen grain that ends the data: this month, this week...
            kind = {"week": "wtd", "quarter": "qtd", "year": "ytd"}.get(grain, "mtd")
            s = e if grain == "day" else to_date_start(kind, e)  # type: ignore[arg-type]
        if compare == "wow" and grain not in ("day", "week", "total"):
            raise QueryError(f"week over week compares days or weeks; grain '{grain}' has no week to match")
        flt = tuple((k, tuple(v if isinstance(v, list | tuple) else [v])) for k, v in (filters or {}).items())
        req = KpiRequest(tuple(metrics), tuple(by), grain, s, e, flt)
        df = kpi_frame(self.warehouse, self.catalog, req)
        if compare:
            if s is None:
                raise QueryError("a comparison needs a start date (or a to-date range)")
            assert e is not None
            shift = shift_for(compare, grain, s, e)
            if grain == "total":
                from channelscope.metrics.periods import comparison_period

                prev_start, prev_end = comparison_period(s, e, compare)  # a whole month stays a whole month
            else:
                # shift the exclusive end, so whole months stay whole months (June 1-30 -> May 1-31)
                prev_start, prev_end = s - shift, e + dt.timedelta(days=1) - shift - dt.timedelta(days=1)
            prev_req = KpiRequest(req.metrics, req.by, grain, prev_start, prev_end, flt)
            prev = kpi_frame(self.warehouse, self.catalog, prev_req)
            keys = [*(["period"] if grain != "total" else []), *by]
            df = attach(df, prev, keys, list(metrics), shift, grain != "total")
        return df

    def targets(self, as_of: dt.date | str | None = None) -> pd.DataFrame:
        """Attainment and pacing of every target in the config (and the CSV files it names)."""
        from channelscope.metrics.targets import attainment, load_targets

        return attainment(self, load_targets(self), _as_date(as_of, "as_of"))

    def kpi_coverage(
        self,
        metrics: list[str] | tuple[str, ...],
        *,
        by: list[str] | tuple[str, ...] = (),
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        filters: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Why a KPI is empty for a channel: one row per metric, channel with orders in view and input it does
        not provide (metric, channel, reason, reason_zh, reason_en, left_out_of_total). See docs/numbers.md."""
        from channelscope.metrics.coverage import coverage_rows, traffic_cut_rows
        from channelscope.metrics.query import TABLE_DIMENSIONS, channel_coverage

        for m in metrics:
            if m not in self.catalog:
                raise QueryError(f"unknown metric '{m}'; valid: {', '.join(sorted(self.catalog.metrics))}")
        # the channels in view: those with orders under the filters that orders can be cut by
        flt = {k: v for k, v in (filters or {}).items() if k in TABLE_DIMENSIONS["orders"]}
        in_view = self.kpis(["orders"], by=["channel"], start=start, end=end, filters=flt)
        channels = sorted(str(c) for c in in_view["channel"].dropna())
        rows = coverage_rows(self.catalog, list(metrics), channels, channel_coverage(self.warehouse))
        cuts = [d for d in by if d != "channel" and d in TABLE_DIMENSIONS["orders"]]
        if not cuts:
            return rows
        # a cut traffic is not reported by (a distributor, a campaign): the channels with members of it in view
        cut_channels = {}
        for d in cuts:
            members = self.kpis(["orders"], by=["channel", d], start=start, end=end, filters=flt)
            cut_channels[d] = sorted({str(c) for c in members.dropna(subset=[d])["channel"]})
        more = traffic_cut_rows(self.warehouse, self.catalog, list(metrics), list(by), cut_channels)
        return pd.concat([rows, more], ignore_index=True) if len(more) else rows

    def data_as_of(self, now: dt.datetime | None = None) -> dict[str, Any]:
        """The freshness of the data (not of the load): ``data_as_of`` (latest business date with orders),
        ``today`` and ``timezone`` (the project's), and per source and channel the latest business date
        against the source's cadence (``rows``); see ``metrics.freshness``. ``now`` is UTC."""
        from channelscope.metrics.freshness import data_freshness

        return data_freshness(self, now)

    def explain(
        self,
        period: str,
        *,
        vs: str = "previous",
        metric: str = "gmv",
        by: str = "channel",
        filters: dict[str, Any] | None = None,
    ) -> Any:
        """Decompose the change of GMV (or net sales) between two periods into visitors x conversion
        rate x AOV (x keep rate), per member of ``by`` and in total with the mix effect (LMDI: parts
        add up exactly). Returns the decomposition and the two date ranges compared."""
        from channelscope.metrics.decompose import gmv_change_by_factor, orders_basis
        from channelscope.metrics.periods import comparison_period, parse_period

        if metric not in ("gmv", "net_sales"):
            raise QueryError(f"explain works for gmv and net_sales, not '{metric}'")
        start, end = parse_period(period)
        b_start, b_end = comparison_period(start, end, vs)
        parts = ["visitors", "paid_orders", "gmv", "refunds"]
        key = "channel_id" if by == "channel" else by  # the decomposition calls a channel mix by its id
        after = self.kpis(parts, by=[by], start=start, end=end, filters=filters).rename(columns={by: key})
        before = self.kpis(parts, by=[by], start=b_start, end=b_end, filters=filters).rename(columns={by: key})
        left_out: list[str] = []
        if metric == "net_sales":
            # a member without a refund feed has unknown net sales: left out (like for like), never read as 0
            unknown = set(before.loc[before["refunds"].isna(), key]) | set(after.loc[after["refunds"].isna(), key])
            left_out = sorted(str(m) for m in unknown)
            before, after = before[~before[key].isin(unknown)], after[~after[key].isin(unknown)]
        no_traffic = orders_basis(before, after)
        if no_traffic:
            # no visitors anywhere: split the change into orders x AOV rather than "not decomposable"
            before, after = no_traffic
        currency = self.config.project.base_currency
        result = gmv_change_by_factor(before, after, by=key, measure=metric, currency=currency)
        if no_traffic:
            import dataclasses

            result = dataclasses.replace(result, basis="orders")
        info: dict[str, Any] = {"period": (start, end), "vs": (b_start, b_end), "basis": result.basis}
        if left_out:
            info["left_out"] = {"members": left_out, "reason": "no_refunds"}
        return result, info

    # ---- status and quarantine --------------------------------------------------------------

    def status(self, *, batches: int = 20) -> dict[str, Any]:
        """The ledger, row counts, freshness per source and quarantine by reason."""
        wh = self.warehouse
        ledger = wh.ibis.table("batches")
        ledger_df = ledger.order_by(ledger.started_at.desc()).limit(batches).to_pandas()
        counts = {name: int(wh.ibis.table(name).count().execute()) for name in TABLES}
        freshness = []
        now = _now()
        b = wh.ibis.table("batches")
        b = b.filter(b.status == "loaded")
        last = (
            b.group_by("source")
            .aggregate(last_loaded=b.finished_at.max(), batches=b.count(), rows=b.loaded.sum())
            .to_pandas()
        )
        by_source = {r.source: r for r in last.itertuples()}
        for s in self.config.sources:
            row = by_source.get(s.name)
            last_at = None if row is None else pd.Timestamp(row.last_loaded).to_pydatetime()
            age_h = None if last_at is None else (now - last_at).total_seconds() / 3600
            limit_h = _hours(s.expect_every)
            state = (
                "never"
                if last_at is None
                else ("stale" if limit_h is not None and age_h is not None and age_h > limit_h else "fresh")
            )
            freshness.append(
                {
                    "source": s.name,
                    "last_loaded": last_at,
                    "age_hours": age_h,
                    "expect_every": s.expect_every,
                    "state": state,
                    "batches": 0 if row is None else int(row.batches),
                    "rows": 0 if row is None else int(row.rows),
                }
            )
        return {
            "ledger": ledger_df,
            "counts": counts,
            "freshness": freshness,
            "data_freshness": self.data_as_of(),
            "quarantine_by_reason": self.quarantine_by_reason(),
            "quarantine_rows": self.quarantine_rows(),
            "warnings": self.empty_table_warnings(counts) + _unbalanced(ledger),
        }

    def quarantine_rows(self) -> pd.DataFrame:
        """Unresolved quarantined rows per source, each row once (``quarantine_by_reason`` counts a row with
        several reasons under each of them, so its counts add up to more than this)."""
        rows = self.warehouse.execute(
            "SELECT source, count(*) AS n FROM quarantine WHERE resolved_batch_id IS NULL GROUP BY 1 ORDER BY 1"
        )
        return pd.DataFrame(rows, columns=["source", "rows"])

    def empty_table_warnings(self, counts: dict[str, int] | None = None, tables: set[str] | None = None) -> list[str]:
        """Why figures are empty: each watched fact table with no rows, naming the sources that
        should fill it (in the project's language); only ``tables`` when given."""
        from channelscope.sources.coverage import WATCHED, empty_tables

        names = [t for t in WATCHED if tables is None or t in tables]
        if counts is None:
            counts = {n: int(self.warehouse.ibis.table(n).count().execute()) for n in names}
        mappings = {s.name: self.mapping(s) for s in self.config.sources}
        found = [e for e in empty_tables(counts, mappings) if e.table in names]
        return [e.message(self.config.project.locale) for e in found]

    def quarantine_by_reason(self) -> pd.DataFrame:
        """Unresolved quarantined rows counted by kind of reason (values stripped)."""
        wh = self.warehouse
        unnest = (
            f"SELECT source, {wh.json_text_elements('reasons')} AS r FROM quarantine WHERE resolved_batch_id IS NULL"
        )
        kind = (
            "regexp_replace(regexp_replace(regexp_replace(r, '''[^'']*''', '''…''', 'g'), "
            "'=[^ ]+', '=…', 'g'), 'line [0-9]+', 'line N', 'g')"
        )
        rows = wh.execute(
            f"SELECT source, {kind} AS reason, count(*) AS n FROM ({unnest}) x GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
        )
        return pd.DataFrame(rows, columns=["source", "reason", "rows"])

    def quarantined(
        self, *, source: str | None = None, batch: str | None = None, reason: str | None = None, limit: int | None = 100
    ) -> pd.DataFrame:
        """Quarantined rows (newest batches first) with their reasons and input record."""
        for name, value in (("source", source), ("batch", batch), ("reason", reason)):
            if value and "\x00" in value:  # the SQL engines reject a NUL mid-statement: a named error instead
                raise QueryError(f"{name}: contains a NUL character")
        q = self.warehouse.ibis.table("quarantine")
        q = q.filter(q.resolved_batch_id.isnull())
        if source:
            q = q.filter(q.source == source)
        if batch:
            q = q.filter(q.batch_id == batch)
        if reason:
            q = q.filter(q.reasons.contains(reason))
        q = q.order_by([q.batch_id.desc(), q.row_number])
        if limit:
            q = q.limit(limit)
        return q.to_pandas()

    def export_quarantine(self, path: Path, **filters: Any) -> int:
        """Write quarantined rows as a file to fix and re-ingest: original columns, then reasons."""
        frame = self.quarantined(limit=None, **filters)
        records = pd.DataFrame([json.loads(r) for r in frame["record"]]) if len(frame) else pd.DataFrame()
        records["_reasons"] = ["; ".join(json.loads(r)) for r in frame["reasons"]]
        records["_file"] = frame["file"].to_numpy() if len(frame) else []
        records["_row"] = frame["row_number"].to_numpy() if len(frame) else []
        path.parent.mkdir(parents=True, exist_ok=True)
        from channelscope.clean.formulas import neutralize_frame

        records = neutralize_frame(records)  # '=HYPERLINK(...)' is shown as text; re-ingest drops the apostrophe
        if path.suffix.lower() == ".xlsx":
            options = {"strings_to_formulas": False, "strings_to_urls": False}
            with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": options}) as xw:
                records.to_excel(xw, index=False)
        else:
            records.to_csv(path, index=False, encoding="utf-8-sig")
        return len(records)


def _unbalanced(ledger: Any) -> list[str]:
    """A warning per loaded batch whose rows_in is not loaded + quarantined + duplicates."""
    bad = ledger.filter(
        (ledger.status == "loaded") & (ledger.rows_in != ledger.loaded + ledger.quarantined + ledger.duplicates)
    ).to_pandas()
    return [
        f"batch {r.batch_id} of source {r.source} does not balance: rows_in {r.rows_in:,} != loaded "
        f"{r.loaded:,} + quarantined {r.quarantined:,} + duplicates {r.duplicates:,}"
        for r in bad.itertuples()
    ]


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.OutOfMemoryException) or isinstance(exc.__cause__, duckdb.OutOfMemoryException)


def _drop_temp(con: Any, prefix: str) -> None:
    """Drop a batch's temporary views and tables (all named after its staged table)."""
    for (name,) in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND view_name LIKE ?", [prefix + "%"]
    ).fetchall():
        con.execute(f'DROP VIEW IF EXISTS "{name}"')
    for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE ?", [prefix + "%"]
    ).fetchall():
        con.execute(f'DROP TABLE IF EXISTS "{name}"')


def _no_file_yet(src: SourceConfig, table: str) -> BatchResult:
    """The result of a source whose path matches no file yet: nothing loaded, nothing failed."""
    return BatchResult(
        "-", src.name, src.path or "", "", table, 0, status="no_file", message=f"no file yet: {src.path}"
    )


def _as_date(value: dt.date | str | None, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise QueryError(f"{name} '{value}' is not a date (YYYY-MM-DD)") from exc


def _hours(every: str | None) -> float | None:
    if not every:
        return None
    n, unit = int(every[:-1]), every[-1]
    return n * {"m": 1 / 60, "h": 1, "d": 24}[unit]


def _time_range_text(cfg: Any, kind: str) -> str:
    """The plausible range as a quarantine reason states it: the same words for every row and load (so the
    reasons group), naming the settings that set it."""
    earliest = min(cfg.cleaning.earliest_timestamp, cfg.calendar.first_date)
    if kind != "fact":
        return f"{earliest:%Y-%m-%d} to 2100-01-01 (cleaning.earliest_timestamp)"
    hours = f"{cfg.cleaning.future_tolerance_hours:g}"
    return (
        f"{earliest:%Y-%m-%d} to {hours} h after the load (cleaning.earliest_timestamp, "
        "cleaning.future_tolerance_hours)"
    )


def _time_range(cfg: Any, kind: str) -> tuple[str, str]:
    """Plausible timestamps of a load (UTC): from cleaning.earliest_timestamp (or the calendar's first date, if
    earlier: a 1997 data set declares it) to now + cleaning.future_tolerance_hours for facts (what happened),
    to 2100 for dimensions (a campaign may end next month)."""
    cleaning = cfg.cleaning
    earliest = min(cleaning.earliest_timestamp, cfg.calendar.first_date)
    latest = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=cleaning.future_tolerance_hours)
    if kind != "fact":
        latest = dt.datetime(2100, 1, 1)
    return (f"{earliest:%Y-%m-%d} 00:00:00", f"{latest:%Y-%m-%d %H:%M:%S}")
