"""Where the alert lifecycle lives: the ``alerts`` and ``alert_deliveries`` tables of the project's warehouse.

Both tables are created on first use, on DuckDB and PostgreSQL alike. Every lifecycle write runs in one
transaction of the warehouse's own connection while holding ``project.write_lock`` (when the process has
one), so the scheduler, the API and a batch load never interleave their writes. Timestamps are naive UTC.

``alert_deliveries`` is an outbox: one row per alert and notifier; rows sharing a ``message_id`` go out as
one message (a digest covers several alerts). ``status`` is pending -> delivered | failed | cancelled.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from channelscope.errors import ChannelscopeError
from channelscope.model.operational import ALERT_TABLES, OPERATIONAL
from channelscope.warehouse import Warehouse
from channelscope.warehouse.base import Tx

#: (name, portable type) of each column, declared in ``model.operational``
ALERT_COLUMNS: list[tuple[str, str]] = [(c.name, c.type) for c in OPERATIONAL["alerts"].columns]
DELIVERY_COLUMNS: list[tuple[str, str]] = [(c.name, c.type) for c in OPERATIONAL["alert_deliveries"].columns]


class AlertNotFound(ChannelscopeError):
    """No alert has this id (or the prefix is ambiguous)."""


class LifecycleError(ChannelscopeError):
    """The requested transition is not allowed (e.g. acknowledging a resolved alert)."""


def ensure_alert_tables(wh: Warehouse) -> None:
    """Create ``alerts`` and ``alert_deliveries`` (and their indexes) when missing (once per connection)."""
    wh.ensure_tables(*ALERT_TABLES)


def has_alert_tables(wh: Warehouse) -> bool:
    """True once the lifecycle tables exist (a read-only project never creates them)."""
    return wh.has_tables(*ALERT_TABLES)


def _lock(project: Any) -> Any:
    lock = getattr(project, "write_lock", None)
    return lock if lock is not None else contextlib.nullcontext()


@contextlib.contextmanager
def transaction(project: Any) -> Iterator[Tx]:
    """One write transaction on the project's warehouse, holding ``project.write_lock`` if it exists."""
    with _lock(project):
        wh: Warehouse = project.warehouse
        ensure_alert_tables(wh)
        with wh.transaction() as tx:
            yield tx


@contextlib.contextmanager
def reading(project: Any) -> Iterator[Tx | None]:
    """A read on the project's warehouse; None when the lifecycle tables do not exist yet."""
    with _lock(project):
        wh: Warehouse = project.warehouse
        if not has_alert_tables(wh):
            yield None
            return
        with wh.reading() as tx:
            yield tx


def _loads(text: Any, default: Any) -> Any:
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return default
    return json.loads(text)


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def decode_alert(row: dict[str, Any]) -> dict[str, Any]:
    """A stored alert row as the mapping the renderers and the CLI use (JSON columns parsed)."""
    out = {k: (None if not isinstance(v, str | dict | list) and pd.isna(v) else v) for k, v in row.items()}
    out["scope"] = _loads(row.get("scope_json"), {})
    out["title"] = _loads(row.get("title_json"), {})
    out["text"] = _loads(row.get("text_json"), {})
    out["evidence"] = _loads(row.get("evidence_json"), {})
    out["lower"] = _num(row.get("lower_bound"))
    out["upper"] = _num(row.get("upper_bound"))
    out["value"] = _num(row.get("value"))
    out["expected"] = _num(row.get("expected"))
    for k in ("scope_json", "title_json", "text_json", "evidence_json", "lower_bound", "upper_bound"):
        out.pop(k, None)
    return out


def alerts_by_id(tx: Tx, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Stored alerts (raw rows) by id."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    df = tx.query(f"SELECT * FROM alerts WHERE alert_id IN ({marks})", list(ids))
    return {r["alert_id"]: r for r in df.to_dict("records")}


def find_alert(tx: Tx | None, alert_id: str) -> dict[str, Any]:
    """One alert by id or by a unique prefix of at least 6 characters."""
    needle = str(alert_id).strip().lower()
    rows: list[dict[str, Any]] = []
    if tx is not None and needle:
        rows = list(alerts_by_id(tx, [needle]).values())
        if not rows and len(needle) >= 6:
            lo, hi = needle, needle + "~"  # ids are lower-case hex: a range scan finds every id with the prefix
            rows = tx.query("SELECT * FROM alerts WHERE alert_id >= ? AND alert_id < ? LIMIT 2", [lo, hi]).to_dict(
                "records"
            )
    if len(rows) == 1:
        return rows[0]
    if not rows and 0 < len(needle) < 6:  # the alert may well exist: a shorter prefix is not looked up
        raise AlertNotFound(f"no alert '{alert_id}'", hint="give the id or at least its first 6 characters")
    if not rows:
        raise AlertNotFound(f"no alert '{alert_id}'", hint="'channelscope alerts' lists them with their ids")
    raise AlertNotFound(f"'{alert_id}' matches several alerts", hint="give more characters of the id")


def deliveries_of(tx: Tx, alert_ids: Sequence[str]) -> pd.DataFrame:
    """The delivery rows of some alerts, oldest first."""
    cols = ", ".join(n for n, _ in DELIVERY_COLUMNS)
    if not alert_ids:
        return pd.DataFrame(columns=[n for n, _ in DELIVERY_COLUMNS])
    marks = ", ".join("?" for _ in alert_ids)
    return tx.query(
        f"SELECT {cols} FROM alert_deliveries WHERE alert_id IN ({marks}) ORDER BY created_at, notifier, delivery_id",
        list(alert_ids),
    )


def insert_row(tx: Tx, table: str, row: dict[str, Any]) -> None:
    cols = list(row)
    tx.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", list(row.values()))


def update_row(tx: Tx, table: str, key: str, key_value: str, changes: dict[str, Any]) -> None:
    sets = ", ".join(f"{c} = ?" for c in changes)
    tx.execute(f"UPDATE {table} SET {sets} WHERE {key} = ?", [*changes.values(), key_value])
