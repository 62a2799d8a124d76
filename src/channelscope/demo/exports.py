"""Writing export files the way shops collect them: one per month and platform, taken some days
after the month ends (so late orders show an earlier status), a later re-export, exact repeats
and bad rows mixed in. Every file gets a ledger entry that ground_truth.json is built from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from channelscope.demo import faults as FX
from channelscope.demo import platforms as PF
from channelscope.demo import world as W
from channelscope.demo import writers as WR
from channelscope.demo.orders import Sales, state_at

#: Line-level layouts: a bad row is a whole single-line order, and touches both tables.
LINE_LEVEL = {"jd", "douyin", "own_store"}


@dataclass
class FileLedger:
    """What one written file holds, for the ground truth."""

    path: str  # relative to the project folder, with '/'
    source: str
    channel_id: str | None
    layout: str
    encoding: str
    export_time: dt.datetime
    rows: int = 0
    exact_repeats: int = 0
    bad_rows: list[dict] = field(default_factory=list)
    #: valid orders in the file: oid, status (canonical, after the preset's map), refund_cents,
    #: updated_at (canonical layouts only)
    views: pd.DataFrame | None = None
    table: str = "orders"


def months() -> list[pd.Period]:
    return list(pd.period_range(W.START, W.END, freq="M"))


def export_time(month: pd.Period, days_after: int, hour: int, minute: int) -> dt.datetime:
    """When a month's export was taken; the last month is exported the morning after the window."""
    if month == months()[-1]:
        return dt.datetime.combine(W.END + dt.timedelta(days=1), dt.time(7 + days_after % 2, minute))
    first = (month + 1).start_time.to_pydatetime()
    return first + dt.timedelta(days=days_after, hours=hour, minutes=minute)


def to_table(frame: pd.DataFrame) -> pa.Table:
    """A frame as a table of strings (missing stays missing)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.cast(pa.schema([(n, pa.string()) for n in table.column_names]))


def assemble(
    rng: np.random.Generator, good: pa.Table, bad: list[tuple[dict, dict]], repeat_share: float
) -> tuple[pa.Table, list[dict], int]:
    """Mix bad rows (anywhere) and exact repeats (after their original) into the good rows.

    Returns the file's rows, the bad rows' ledger entries with their final 1-based row number,
    and the number of repeats.
    """
    n = good.num_rows
    n_rep = min(n, max(1, round(n * repeat_share))) if n and repeat_share else 0
    src = np.sort(rng.choice(n, size=n_rep, replace=False)) if n_rep else np.arange(0)
    keys = np.concatenate(
        [
            np.arange(n, dtype=float),
            src + rng.uniform(0.01, 1.0, len(src)) * (n - src),
            rng.uniform(-0.5, n, len(bad)),
        ]
    )
    parts = [good, good.take(pa.array(src, pa.int64()))]
    if bad:
        parts.append(pa.table({c: pa.array([row.get(c) for row, _ in bad], pa.string()) for c in good.column_names}))
    order = np.argsort(keys, kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(1, len(order) + 1)
    records = [{**info, "row": int(position[n + len(src) + i])} for i, (_, info) in enumerate(bad)]
    table = pa.concat_tables(parts).take(pa.array(order, pa.int64()))
    return table, sorted(records, key=lambda r: r["row"]), len(src)


def write_table(table: pa.Table, path: Path, encoding: str) -> None:
    """CSV in the file's encoding (GBK files with CRLF, as Windows tools write them) or .xlsx."""
    if path.suffix == ".xlsx":
        WR.write_xlsx(table, path, sheet="订单列表")
    else:
        WR.write_csv(table, path, encoding, crlf=encoding == "gbk")


def _bad_rows(
    rng: np.random.Generator,
    channel_id: str,
    good: pa.Table,
    first_rows: np.ndarray,
    sales: Sales,
    count: int,
    counter: list[int],
) -> list[tuple[dict, dict]]:
    """``count`` bad rows, each a corrupted copy of a good single-line order of this file."""
    tables = ["order_lines", "orders"] if channel_id in LINE_LEVEL else ["orders"]
    out = []
    list_price = sales.products.set_index("sku")["list_cents"]
    sku_col = FX.FIELDS[channel_id].get("sku")
    for _ in range(count if len(first_rows) else 0):
        defect = str(rng.choice(FX.DEFECTS[channel_id]))
        template = good.slice(int(rng.choice(first_rows)), 1).to_pylist()[0]
        counter[0] += 1
        new_id = _bad_id(channel_id, counter[0])
        cents = int(list_price.get(template[sku_col], 10_000)) if sku_col else 0
        row = FX.corrupt(channel_id, template, defect, new_id, cents, rng)
        out.append(
            (
                row,
                {
                    "reason": defect,
                    "source_order_id": None if defect == "missing_order_id" else new_id,
                    "tables": tables,
                },
            )
        )
    return out


def _bad_id(channel_id: str, k: int) -> str:
    return {
        "tmall": str(3_999_000_000_000_000_000 + k * 101),
        "jd": str(399_000_000_000 + k * 7),
        "douyin": str(6_999_000_000_000_000_000 + k * 1_001),
        "own_store": f"#9{k:05d}",
    }[channel_id]


def _views(
    channel_id: str, scope: pd.DataFrame, state: pd.DataFrame, status_map: dict[str, str | None]
) -> pd.DataFrame:
    shown = PF.platform_status(channel_id, state)
    return pd.DataFrame(
        {
            "oid": scope.index.to_numpy(),
            "status": pd.Series(shown).map(status_map).to_numpy(),
            "refund_cents": state["refund_cents"].to_numpy(),
        }
    )


PLATFORM_FILES = {
    # channel: (folder, source, preset, name pattern, encoding, days after month end, hour, minute)
    "tmall": ("tmall", "tmall_orders", "tmall_orders", "ExportOrderList{:%Y%m%d%H%M}.csv", "gbk", 2, 10, 15),
    "jd": ("jd", "jd_orders", "jd_orders", "jd_order_export_{:%Y%m%d}.csv", "utf-8-sig", 1, 9, 0),
    "douyin": ("douyin", "douyin_orders", "douyin_orders", "douyin_orders_{:%Y%m%d}.csv.gz", "utf-8-sig", 2, 11, 0),
    "own_store": ("shopify", "own_store_orders", "shopify_orders", "orders_export_{:%Y%m%d}.csv", "utf-8", 1, 8, 0),
}
#: Tmall's later re-export of the 双11 season: these orders' statuses moved on since their month.
REEXPORT = (dt.date(2025, 10, 1), dt.date(2025, 11, 15), dt.datetime(2025, 12, 2, 16, 30))


def platform_exports(
    rng: np.random.Generator,
    sales: Sales,
    folder: Path,
    status_maps: dict[str, dict],
    bad_share: float,
    repeat_share: float,
) -> list[FileLedger]:
    """Every platform export file of the window, written under ``folder/exports``."""
    ledgers: list[FileLedger] = []
    orders = sales.orders
    for channel_id, (sub, source, preset, pattern, encoding, after, hour, minute) in PLATFORM_FILES.items():
        counter = [0]
        mine = orders[orders["channel_id"] == channel_id]
        stamp = mine["ordered_at"].dt
        month_of = (stamp.year * 12 + stamp.month - 1).to_numpy()
        jobs = [(month_of == m.year * 12 + m.month - 1, export_time(m, after, hour, minute)) for m in months()]
        when = np.empty(len(mine), dtype="datetime64[s]")
        for mask, t in jobs:
            when[mask] = np.datetime64(t, "s")
        renders = [(mine, when, jobs)]
        if channel_id == "tmall":
            start, end, t = REEXPORT
            day = mine["ordered_at"].dt.date
            again = mine[(day >= start) & (day <= end)]
            renders.append((again, np.full(len(again), np.datetime64(t, "s")), [(np.ones(len(again), bool), t)]))
        for scope_all, when_all, file_jobs in renders:
            state_all = state_at(scope_all, when_all)
            frame, pos = PF.RENDERERS[channel_id](sales, scope_all, state_all)
            rows_all = to_table(frame)
            views_all = _views(channel_id, scope_all, state_all, status_maps[channel_id])
            first_row = np.r_[True, pos[1:] != pos[:-1]]
            n_lines = np.bincount(pos, minlength=len(scope_all))
            for k, (mask, t) in enumerate(file_jobs):
                row_mask = mask[pos]
                good = rows_all.filter(pa.array(row_mask))
                singles = np.flatnonzero((first_row & (n_lines[pos] == 1))[row_mask])
                name = pattern.format(t)
                src = source
                if channel_id == "jd" and k == 0:
                    name, src = name.replace(".csv", ".xlsx"), "jd_orders_xlsx"
                n_bad = max(1, round(len(good) * bad_share))
                bad = _bad_rows(rng, channel_id, good, singles, sales, n_bad, counter)
                rows, bad_records, repeats = assemble(rng, good, bad, repeat_share)
                rel = f"exports/{sub}/{name}"
                write_table(rows, folder / rel, encoding)
                ledgers.append(
                    FileLedger(
                        rel,
                        src,
                        channel_id,
                        preset,
                        "xlsx" if name.endswith("xlsx") else encoding,
                        t,
                        rows.num_rows,
                        repeats,
                        [{"file": rel, **r} for r in bad_records],
                        views_all[mask].reset_index(drop=True),
                        "order_lines" if channel_id in LINE_LEVEL else "orders",
                    )
                )
    return ledgers
