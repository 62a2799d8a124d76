"""The data functions behind the API and the dashboard, so a page and the API show the same number.

Scope is enforced here, where queries are built: a channel manager's channels and distributors become
row-level filters of every KPI query (the engine never returns another channel's rows); a filter outside
the scope is denied and logged. Reads use a per-thread DuckDB cursor (``reader``), so they never wait
behind a batch load, which holds ``project.write_lock`` on the main connection.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import threading
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import pandas as pd

from channelscope.errors import QueryError
from channelscope.web.auth import AccessDenied, AuthStore, User, current_request, write_lock

if TYPE_CHECKING:
    from channelscope.project import Project

COMPARES = ("previous", "yoy", "wow")
TO_DATES = ("mtd", "qtd", "ytd", "wtd")
ALERT_STATUSES = ("open", "acknowledged", "resolved")
EXPORT_FORMATS = ("csv", "xlsx")
_local = threading.local()


class ParamError(QueryError):
    """A request parameter is invalid: ``field`` names it, ``allowed`` says what is accepted (HTTP 400)."""

    def __init__(self, parameter: str, message: str, allowed: Any = None) -> None:
        super().__init__(message, field=parameter)
        self.allowed = allowed


# ---- per-thread readers ----------------------------------------------------------------------------


def reader(project: Project) -> Project:
    """A read view of ``project`` for the calling thread: its own DuckDB cursor (or PostgreSQL connection).

    Built once per thread and project; the config and the metric catalog are shared.
    """
    if getattr(project, "_is_reader", False):
        return project
    key = getattr(project, "_reader_key", None)
    if key is None:
        key = project._reader_key = uuid.uuid4().hex  # type: ignore[attr-defined]
    readers: dict[str, Project] = getattr(_local, "readers", None) or {}
    _local.readers = readers
    view = readers.get(key)
    if view is None:
        view = _open_reader(project)
        readers[key] = view
    return view


def _open_reader(project: Project) -> Project:
    main = project.warehouse
    _ = project.catalog  # build once, shared by every view
    view = copy.copy(project)
    _prepare_readers(project, main)
    view._warehouse = main.reader()
    view._is_reader = True  # type: ignore[attr-defined]
    view.read_only = True
    return view


_factory_lock = threading.Lock()


def _prepare_readers(project: Project, main: Any) -> None:
    """Let the warehouse prepare what its readers are made from (DuckDB: a cursor factory, so a new reader
    never waits for the main connection, which a batch load may hold for minutes): once, under the write lock."""
    with _factory_lock:
        if getattr(project, "_readers_ready", False):
            return
        with write_lock(project):
            main.prepare_readers()
        project._readers_ready = True  # type: ignore[attr-defined]


# ---- cache per (query, data version) ---------------------------------------------------------------


class ResultCache:
    """Query results kept until the data changes: the key includes the data version (the batch ledger's
    count and newest batch), so a loaded batch makes every older entry unreachable."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.enabled = True
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[tuple, threading.Lock] = {}
        self.generation = 0

    def get_or_compute(self, key: tuple, compute: Any) -> Any:
        """The cached value, or compute it once: concurrent requests for the same key wait for the first."""
        if not self.enabled:
            return compute()
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            with self._lock:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget everything (a writer may call this after changing data outside the batch ledger)."""
        with self._lock:
            self._items.clear()
            self.generation += 1


CACHE = ResultCache()


def data_version(project: Project) -> tuple:
    """What changes when data is loaded: batches in the ledger and the newest one (a tiny table)."""
    rows = reader(project).warehouse.execute("SELECT count(*), max(batch_id), max(finished_at) FROM batches")
    return (CACHE.generation, *rows[0]) if rows else (CACHE.generation,)


def _cached(project: Project, user: User, name: str, args: tuple, compute: Any) -> Any:
    key = (getattr(project, "_reader_key", id(project)), name, _scope_key(user), args, data_version(project))
    out = CACHE.get_or_compute(key, compute)
    return out.copy() if isinstance(out, pd.DataFrame) else out


def _scope_key(user: User) -> tuple:
    return (user.channels, user.distributors) if user.scoped else ()


# ---- scope -----------------------------------------------------------------------------------------


def deny(project: Project, user: User, reason: str) -> AccessDenied:
    """Log a denial (access_log + the log) and return the error to raise."""
    method, path, client = current_request()
    AuthStore(project).log_access(user.username, method, path, 403, "denied", reason, client)
    return AccessDenied(reason)


def require(project: Project, user: User, permission: str) -> None:
    if not user.may(permission):
        raise deny(project, user, f"role {user.role} may not {permission}")


def scoped_filters(project: Project, user: User, filters: dict[str, Any] | None) -> dict[str, list[Any]]:
    """The query's filters with the user's scope added as row filters; a value outside it is denied."""
    out = {k: list(v) if isinstance(v, list | tuple) else [v] for k, v in (filters or {}).items()}
    if not user.scoped:
        return out
    for dim, allowed in (("channel", user.channels), ("distributor", user.distributors)):
        if not allowed:
            continue
        if dim in out:
            outside = [str(v) for v in out[dim] if v not in allowed]
            if outside:
                raise deny(project, user, f"filter {dim}={','.join(outside)} is outside the scope")
        else:
            out[dim] = list(allowed)
    return out


def scope_sources(project: Project, user: User) -> list[str] | None:
    """Sources a user may see the ledger and quarantine of (None: all): those of the scope's channels."""
    if not user.scoped:
        return None
    if not user.channels:
        return []
    names = []
    for s in project.config.sources:
        channel = s.channel_id or project.mapping(s).channel_id
        if channel in user.channels:
            names.append(s.name)
    return names


# ---- KPIs ------------------------------------------------------------------------------------------


def check_kpi_params(
    project: Project, metrics: Any, by: Any, grain: str, compare: str | None, to_date: str | None, filters: Any
) -> None:
    """Name the wrong parameter and what it accepts, before any query runs."""
    from channelscope.metrics.query import DIMENSIONS, GRAINS

    if not metrics:
        raise ParamError("metric", "at least one metric is required", sorted(project.catalog.metrics))
    for m in metrics:
        if m not in project.catalog:
            raise ParamError("metric", f"unknown metric '{m}'", sorted(project.catalog.metrics))
    for d in [*by, *(filters or {})]:
        if d not in DIMENSIONS:
            raise ParamError("by" if d in by else "filter", f"unknown dimension '{d}'", list(DIMENSIONS))
    if grain not in GRAINS:
        raise ParamError("grain", f"unknown grain '{grain}'", list(GRAINS))
    if compare is not None and compare not in COMPARES:
        raise ParamError("compare", f"unknown comparison '{compare}'", list(COMPARES))
    if to_date is not None and to_date not in TO_DATES:
        raise ParamError("to_date", f"unknown to-date range '{to_date}'", list(TO_DATES))


def kpi_table(
    project: Project,
    user: User,
    *,
    metrics: list[str] | tuple[str, ...],
    by: list[str] | tuple[str, ...] = (),
    grain: str = "total",
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    filters: dict[str, Any] | None = None,
    compare: str | None = None,
    to_date: str | None = None,
) -> pd.DataFrame:
    """KPIs by dimensions and grain (``Project.kpis``) within the user's scope. Money in the base currency."""
    require(project, user, "read")
    check_kpi_params(project, metrics, by, grain, compare, to_date, filters)
    flt = scoped_filters(project, user, filters)
    rp = reader(project)
    args = (
        tuple(metrics),
        tuple(by),
        grain,
        str(start),
        str(end),
        tuple(sorted((k, tuple(v)) for k, v in flt.items())),
        compare,
        to_date,
    )
    return _cached(
        rp,
        user,
        "kpi",
        args,
        lambda: rp.kpis(
            list(metrics),
            by=list(by),
            grain=grain,
            start=start,
            end=end,
            filters=flt,
            compare=compare,
            to_date=to_date,
        ),
    )


def metric_units(project: Project, metrics: Any) -> dict[str, dict[str, str]]:
    """Each metric's unit (money in the project's base currency, percent as a fraction 0..1)."""
    out = {}
    base = project.config.project.base_currency
    for name in metrics:
        if name in project.catalog:
            m = project.catalog.get(name)
            out[name] = {"unit": m.unit, **({"currency": base} if m.unit == "money" else {})}
    return out


def kpi_coverage(
    project: Project,
    user: User,
    *,
    metrics: Any,
    start: Any = None,
    end: Any = None,
    filters: dict[str, Any] | None = None,
    by: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Why a KPI is empty for a channel of the user's view (``Project.kpi_coverage``, scope added): metric,
    channel, reason, reason_zh, reason_en, left_out_of_total. ``by``: the cut shown (a distributor cut adds
    the channels whose traffic is not broken down by distributor)."""
    require(project, user, "read")
    flt = scoped_filters(project, user, filters)
    rp = reader(project)
    key = (tuple(metrics), str(start), str(end), tuple(sorted((k, tuple(v)) for k, v in flt.items())), tuple(by))
    return _cached(
        rp,
        user,
        "coverage",
        key,
        lambda: rp.kpi_coverage(list(metrics), by=list(by), start=start, end=end, filters=flt),
    )


def data_as_of(project: Project, user: User) -> dict[str, Any]:
    """The freshness of the data (``Project.data_as_of``) as a scoped user may see it: ``data_as_of`` is the
    latest business date with orders of the user's channels; ``rows`` only those channels'."""
    require(project, user, "read")
    rp = reader(project)
    out = dict(_cached(rp, user, "data_as_of", (), rp.data_as_of))
    if user.scoped:
        mine = set(user.channels) or {d.channel_id for d in project.config.distributors if d.id in user.distributors}
        rows = [r for r in out.get("rows", []) if r.get("channel") in mine]
        dates = [r["latest_date"] for r in rows if r.get("latest_date") and "orders" in str(r.get("table") or "")]
        out = {**out, "rows": rows, "data_as_of": max(dates) if dates else None}
    return out


def targets_table(project: Project, user: User, *, as_of: dt.date | str | None = None) -> pd.DataFrame:
    """Targets with attainment and pacing; a channel manager sees only targets of its channels/distributors."""
    from channelscope.metrics.targets import attainment, load_targets
    from channelscope.project import _as_date

    require(project, user, "read")
    rp = reader(project)
    targets = load_targets(rp)
    if user.scoped:
        targets = [
            t
            for t in targets
            if (not user.channels or t.channel in user.channels)
            and (not user.distributors or t.distributor in user.distributors)
        ]
    day = _as_date(as_of, "as_of")
    return _cached(
        rp,
        user,
        "targets",
        (str(day), tuple(t.model_dump_json() for t in targets)),
        lambda: attainment(rp, targets, day),
    )


def explain_change(
    project: Project,
    user: User,
    *,
    period: str,
    vs: str = "previous",
    metric: str = "gmv",
    by: str = "channel",
    lang: str | None = None,
    filters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """GMV (or net sales) change decomposed into visitors x conversion x AOV (LMDI), within the scope and
    the given filters (e.g. a campaign's orders only)."""
    from channelscope.metrics.query import DIMENSIONS

    require(project, user, "read")
    if metric not in ("gmv", "net_sales"):
        raise ParamError("metric", f"explain works for gmv and net_sales, not '{metric}'", ["gmv", "net_sales"])
    if by not in DIMENSIONS:
        raise ParamError("by", f"unknown dimension '{by}'", list(DIMENSIONS))
    flt = scoped_filters(project, user, filters)
    rp = reader(project)

    def compute() -> dict[str, Any]:
        result, periods = rp.explain(period, vs=vs, metric=metric, by=by, filters=flt)
        return {
            "metric": metric,
            "by": by,
            "period": [str(d) for d in periods["period"]],
            "vs": [str(d) for d in periods["vs"]],
            "total": result.total,
            "by_member": result.by_member,
            "sentences": {"zh-CN": result.explain("zh-CN"), "en": result.explain("en")},
            # members whose net sales are unknown (no refund feed): left out, never decomposed as 0
            "left_out": periods.get("left_out"),
        }

    key = tuple(sorted((k, tuple(v)) for k, v in flt.items()))  # values too: tmall and jd differ
    out = dict(_cached(rp, user, "explain", (period, vs, metric, by, key), compute))
    if lang:
        out["sentences"] = out["sentences"][lang if lang in ("zh-CN", "en") else "zh-CN"]
    return out


def funnel(
    project: Project, user: User, *, start: Any = None, end: Any = None, filters: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Impressions -> visitors -> add to cart -> orders -> paid orders, each with its rate from the step before."""
    from channelscope.analysis.funnel import STAGES, funnel_steps

    return funnel_steps(kpi_table(project, user, metrics=list(STAGES), start=start, end=end, filters=filters))


def distributor_board(
    project: Project, user: User, *, start: Any = None, end: Any = None, filters: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Per distributor: GMV, paid orders, buyers, AOV, refund rate, commissions, active days (days with a paid
    order) and order lines sold below the product's minimum advertised price, with name, channel, tier, parent."""
    metrics = ["gmv", "paid_orders", "buyers", "aov", "refund_rate", "commissions"]
    df = kpi_table(project, user, metrics=metrics, by=["distributor"], start=start, end=end, filters=filters)
    df = df[df["distributor"].notna()]
    rp = reader(project)
    dims = rp.table("distributors").to_pandas()
    dims = dims[["distributor_id", "name", "channel_id", "kind", "tier", "parent_id", "region"]]
    out = df.merge(dims, left_on="distributor", right_on="distributor_id", how="left").drop(columns="distributor_id")
    flt = scoped_filters(project, user, filters)
    key = (str(start), str(end), tuple(sorted((k, tuple(v)) for k, v in flt.items())))
    activity = _cached(
        rp, user, "distributor_activity", key, lambda: _distributor_activity(rp, start=start, end=end, filters=flt)
    )
    out = out.merge(activity, on="distributor", how="left")
    for col in ("active_days", "lines", "below_map_lines"):
        out[col] = out[col].fillna(0).astype("int64")
    return out.sort_values("gmv", ascending=False).reset_index(drop=True)


def _distributor_activity(project: Project, *, start: Any, end: Any, filters: dict[str, list[Any]]) -> pd.DataFrame:
    from channelscope.analysis.distributors import FILTER_COLUMNS, distributor_activity

    unknown = [d for d in filters if d not in FILTER_COLUMNS]
    if unknown:
        raise ParamError(
            "filter",
            f"the distributor board filters by {', '.join(FILTER_COLUMNS)}, not '{unknown[0]}'",
            list(FILTER_COLUMNS),
        )
    return distributor_activity(project, start=start, end=end, filters=filters)


def funnel_by_channel(
    project: Project, user: User, *, start: Any = None, end: Any = None, filters: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Per channel: impressions, visitors, add to cart, orders, paid orders and kept orders (paid orders minus
    refunds counted in the same period, at least 0), one row per channel."""
    from channelscope.analysis.funnel import BY_CHANNEL_METRICS
    from channelscope.analysis.funnel import funnel_by_channel as by_channel

    df = kpi_table(
        project, user, metrics=list(BY_CHANNEL_METRICS), by=["channel"], start=start, end=end, filters=filters
    )
    return by_channel(df)


# ---- alerts ----------------------------------------------------------------------------------------


def _dispatch() -> Any:
    import importlib

    try:
        dispatch = importlib.import_module("channelscope.monitor.dispatch")
    except ImportError as exc:
        raise QueryError("alerts are not available in this installation (channelscope.monitor.dispatch)") from exc
    return dispatch


def _in_scope_alerts(user: User, df: pd.DataFrame) -> pd.DataFrame:
    """Defence in depth: keep only alerts about the scope's channels (and distributors) for a channel manager."""
    if not user.scoped:
        return df
    keep = pd.Series(True, index=df.index)
    if user.channels:
        col = "channel_id" if "channel_id" in df.columns else None
        keep &= df[col].isin(user.channels) if col else False
    if user.distributors:
        col = "distributor_id" if "distributor_id" in df.columns else None
        keep &= df[col].isin(user.distributors) if col else False
    return df[keep]


def alerts_table(
    project: Project,
    user: User,
    *,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    lang: str | None = None,
) -> pd.DataFrame:
    """Alerts, open first then by severity and recency; a channel manager sees only alerts about its channels
    (and distributors): never a whole-business alert, whose numbers include other channels. ``title`` is in
    ``lang`` (zh-CN or en; default: the project's alerts.language)."""
    require(project, user, "read")
    if status is not None and status not in ALERT_STATUSES:
        raise ParamError("status", f"unknown alert status '{status}'", list(ALERT_STATUSES))
    dispatch = _dispatch()
    if not user.scoped:
        return dispatch.list_alerts(reader(project), status=status, limit=limit, offset=offset, lang=lang)
    channels = list(user.channels) if user.channels else None
    df = _in_scope_alerts(
        user, dispatch.list_alerts(reader(project), status=status, channels=channels, limit=0, lang=lang)
    )
    return df.iloc[offset : offset + limit].reset_index(drop=True)


def alert_detail(project: Project, user: User, alert_id: str) -> dict[str, Any] | None:
    """One alert with its evidence and texts (decoded), or None when there is none or it is outside the
    user's scope (a channel manager never learns that another channel's alert exists)."""
    require(project, user, "read")
    _dispatch()
    from channelscope.monitor.store import alerts_by_id, decode_alert, reading

    with reading(reader(project)) as tx:
        if tx is None:
            return None
        row = alerts_by_id(tx, [str(alert_id)]).get(str(alert_id))
    if row is None:
        return None
    if user.scoped and _in_scope_alerts(user, pd.DataFrame([row])).empty:
        return None
    return decode_alert(row)


def set_alert_status(project: Project, user: User, alert_id: Any, status: str) -> None:
    """Acknowledge or resolve an alert (analyst, admin, or a channel manager for an alert in its scope)."""
    require(project, user, "alerts.write")
    if status not in ("acknowledged", "resolved"):
        raise ParamError(
            "status", f"an alert can be set to acknowledged or resolved, not '{status}'", ["acknowledged", "resolved"]
        )
    dispatch = _dispatch()
    if user.scoped:
        mine = alerts_table(project, user, limit=100_000)
        if str(alert_id) not in set(mine["alert_id"].astype(str)):
            raise deny(project, user, f"alert {alert_id} is outside the scope")
    with write_lock(project):
        if status == "acknowledged":
            dispatch.acknowledge(project, alert_id, by=user.username)
        else:
            dispatch.resolve(project, alert_id, by=user.username)
    CACHE.clear()


# ---- ingestion -------------------------------------------------------------------------------------


def data_health(project: Project, user: User) -> dict[str, Any]:
    """The batch ledger, freshness per source and quarantine by reason (only the scope's sources)."""
    require(project, user, "read")
    rp = reader(project)
    # freshness ages with the clock: cached for a minute at most
    st = _cached(rp, user, "status", (int(time.time() // 60),), lambda: rp.status(batches=50))
    allowed = scope_sources(project, user)
    if allowed is None:
        return dict(st)
    b = rp.table("batches")
    ledger = b.filter(b.source.isin(allowed or ["-"])).order_by(b.started_at.desc()).limit(50).to_pandas()
    freshness = [f for f in st["freshness"] if f["source"] in allowed]
    by_reason = st["quarantine_by_reason"][st["quarantine_by_reason"]["source"].isin(allowed)]
    q_rows = st["quarantine_rows"][st["quarantine_rows"]["source"].isin(allowed)]
    if user.distributors:
        # a batch holds every distributor of its channel: its row counts, file and message would tell a
        # distributor-scoped user about the others, so only when and whether each batch loaded is shown
        ledger = ledger[[c for c in ledger.columns if c in LEDGER_PUBLIC]]
        freshness = [{k: v for k, v in f.items() if k not in ("batches", "rows")} for f in freshness]
        by_reason = by_reason.iloc[0:0]
        q_rows = q_rows.iloc[0:0]
    return {
        "ledger": ledger,
        "counts": None,  # whole-table counts would tell a channel manager about other channels
        "freshness": freshness,
        "quarantine_by_reason": by_reason,
        "quarantine_rows": q_rows,
    }


#: ledger columns a distributor-scoped user sees (no row counts, file names or messages)
LEDGER_PUBLIC = ("batch_id", "source", "table_name", "started_at", "finished_at", "status")


def _distributor_column(project: Project, source: str) -> str | None:
    """The input column a source maps to ``distributor_id`` (None: the source names no distributor)."""
    src = next((s for s in project.config.sources if s.name == source), None)
    if src is None:
        return None
    for target in project.mapping(src).targets():
        spec = target.columns.get("distributor_id")
        if spec is not None and isinstance(spec.from_, str):
            return spec.from_
    return None


def _in_distributor_scope(project: Project, user: User, df: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows whose input record names one of the user's distributors; a row whose distributor
    cannot be told (a source without the column, a record without the value) is outside the scope."""
    import json

    if df.empty:
        return df
    keep = pd.Series(False, index=df.index)
    for source, idx in df.groupby("source").groups.items():
        col = _distributor_column(project, str(source))
        if col is None:
            continue
        values = df.loc[idx, "record"].map(lambda r, c=col: str(json.loads(r).get(c) or "").strip())
        keep.loc[idx] = values.isin([str(d) for d in user.distributors])
    return df[keep]


def quarantine_rows(
    project: Project,
    user: User,
    *,
    source: str | None = None,
    batch: str | None = None,
    reason: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> pd.DataFrame:
    """Quarantined rows with reasons and the (pseudonymized) input record, of the sources in scope."""
    require(project, user, "quarantine")
    names = [s.name for s in project.config.sources]
    if source is not None and source not in names:
        raise ParamError("source", f"unknown source '{source}'", names)
    allowed = scope_sources(project, user)
    if allowed is not None and source is not None and source not in allowed:
        raise deny(project, user, f"source {source} is outside the scope")
    df = reader(project).quarantined(source=source, batch=batch, reason=reason, limit=None)
    if allowed is not None:
        df = df[df["source"].isin(allowed)]
    if user.scoped and user.distributors:
        df = _in_distributor_scope(project, user, df)
    return df.iloc[offset : offset + limit].reset_index(drop=True)


# ---- exports ---------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells starting with = + - @ (or tab/CR) get a leading apostrophe, so a spreadsheet shows them
    as text instead of running them as formulas (CSV/formula injection). Numbers stay numbers."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    out.columns = [("'" + c if isinstance(c, str) and c.startswith(_FORMULA_START) else c) for c in out.columns]
    return out


def export_bytes(project: Project, user: User, df: pd.DataFrame, fmt: str) -> bytes:
    """A KPI table as CSV (UTF-8 with BOM, for Excel) or XLSX, neutralized against formula injection."""
    require(project, user, "export")
    if fmt not in EXPORT_FORMATS:
        raise ParamError("format", f"unknown export format '{fmt}'", list(EXPORT_FORMATS))
    safe = neutralize(df)
    if fmt == "csv":
        return safe.to_csv(index=False).encode("utf-8-sig")
    buf = io.BytesIO()
    # strings_to_formulas=False: xlsxwriter would otherwise turn "=..." text into a live formula
    with pd.ExcelWriter(buf, engine="xlsxwriter", engine_kwargs={"options": {"strings_to_formulas": False}}) as xw:
        safe.to_excel(xw, index=False, sheet_name="kpis")
    return buf.getvalue()
