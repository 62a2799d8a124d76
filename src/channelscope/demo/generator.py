"""``generate_demo``: a complete, seeded demo project folder with messy exports and its truth.

The folder holds ``channelscope.yaml`` (channels, a two-tier reseller network, live hosts and the
sources), ``exports/`` (platform exports in their own layouts, canonical CSVs for the brand's own
systems and reference tables) and ``ground_truth.json`` (see ``demo/ground_truth.py``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml

from channelscope.demo import behaviour as B
from channelscope.demo import canonical as C
from channelscope.demo import channel_order as CO
from channelscope.demo import demand as D
from channelscope.demo import exports as X
from channelscope.demo import ground_truth as G
from channelscope.demo import orders as O
from channelscope.demo import world as W
from channelscope.demo.inventory import write_inventory
from channelscope.sources.mapping import load_mapping

Size = Literal["small", "medium", "large"]
#: Orders generated per size (about; the daily counts are Poisson draws).
SIZES: dict[str, int] = {"small": 20_000, "medium": 200_000, "large": 2_000_000}
#: Share of each file's rows added as bad rows (at least one per file) and as exact repeats.
BAD_SHARE = 0.002
REPEAT_SHARE = 0.003
PRESETS = {"tmall": "tmall_orders", "jd": "jd_orders", "douyin": "douyin_orders", "own_store": "shopify_orders"}


@dataclass(frozen=True)
class DemoResult:
    """What ``generate_demo`` wrote."""

    folder: Path
    size: str
    seed: int
    orders: int  # orders generated (valid ones, before bad rows and repeats)
    files: list[Path]  # every file written, relative to ``folder``
    ground_truth: dict
    seconds: float


def status_maps() -> dict[str, dict[str, str | None]]:
    """Platform status text -> canonical status, read from the shipped presets."""
    out = {}
    for channel_id, preset in PRESETS.items():
        mapping = load_mapping(preset, None)
        target = next(t for t in mapping.targets() if t.table == "orders")
        out[channel_id] = dict(target.columns["status"].map or {})
    return out


def generate_demo(folder: Path | str, size: Size = "small", seed: int = 7) -> DemoResult:
    """Write a demo project into ``folder`` (created if missing; existing demo files are replaced).

    ``size``: small (~20k orders over 14 months, seconds), medium (~200k), large (~2M).
    The same ``seed`` and size give byte-identical CSV files and the same ground truth.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    started = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    products = W.products(rng)
    dists = W.distributors(rng)
    demand = D.demand(rng, SIZES[size], O.expected_aov_cents(products))
    fx = O.fx_rates(rng)
    sales = O.simulate(rng, demand, products, fx, dists)
    planted = CO.inject(seed, sales)  # own random stream: the draws above and below are unchanged
    ledgers = X.platform_exports(rng, sales, folder, status_maps(), BAD_SHARE, REPEAT_SHARE)
    ledgers += C.order_exports(rng, sales, folder, BAD_SHARE, REPEAT_SHARE)
    refund_ledger, done = C.refunds_export(sales, folder)
    ledgers.append(refund_ledger)
    tables = C.reference_tables(rng, sales, demand, folder)
    owed_fees = tables["fees"]
    tables["fees"] = CO.adjust_commissions(owed_fees, planted)
    C.write(tables["fees"], folder, "exports/canonical/fees.csv", "fees")
    for name, frame in CO.frames(planted).items():
        C.write(frame, folder, f"exports/canonical/{name}.csv", name)
    (folder / "channelscope.yaml").write_text(project_yaml(dists, size, seed), encoding="utf-8")
    truth = G.build(sales, demand, ledgers, tables, done, size, seed)
    valid = G.final_views(ledgers)[0].index
    truth["channel_order"] = CO.truth(sales, valid, planted, tables["fees"], owed_fees, C.live_viewers(demand))
    truth["behaviour"] = B.generate(folder, size, seed, products)  # own RNG stream: the files above are unchanged
    (folder / "ground_truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    write_inventory(folder, seed, sales.orders, sales.lines, products)  # new files, own RNG stream
    files = sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and (p.parts[-2] != "secrets") and p.suffix != ".duckdb"
    )
    return DemoResult(folder, size, seed, len(sales.orders), files, truth, time.perf_counter() - started)


SOURCES = (
    {"name": "products", "path": "exports/canonical/products.csv", "preset": "canonical_products"},
    {"name": "fx_rates", "path": "exports/canonical/fx_rates.csv", "preset": "canonical_fx_rates"},
    {"name": "campaigns", "path": "exports/canonical/campaigns.csv", "preset": "canonical_campaigns"},
    {
        "name": "tmall_orders",
        "path": "exports/tmall/ExportOrderList*.csv",
        "preset": "tmall_orders",
        "channel_id": "tmall",
    },
    {"name": "jd_orders_xlsx", "path": "exports/jd/*.xlsx", "preset": "jd_orders", "channel_id": "jd"},
    {"name": "jd_orders", "path": "exports/jd/*.csv", "preset": "jd_orders", "channel_id": "jd"},
    {"name": "douyin_orders", "path": "exports/douyin/*.csv.gz", "preset": "douyin_orders", "channel_id": "douyin"},
    {
        "name": "own_store_orders",
        "path": "exports/shopify/orders_export_*.csv",
        "preset": "shopify_orders",
        "channel_id": "own_store",
    },
    {"name": "wechat_orders", "path": "exports/canonical/orders_*.csv", "preset": "canonical_orders"},
    {"name": "wechat_order_lines", "path": "exports/canonical/order_lines_*.csv", "preset": "canonical_order_lines"},
    {"name": "wechat_refunds", "path": "exports/canonical/refunds_*.csv", "preset": "canonical_refunds"},
    {"name": "traffic", "path": "exports/canonical/traffic.csv", "preset": "canonical_traffic"},
    {"name": "events", "path": "exports/canonical/events.csv", "preset": "canonical_events"},
    {"name": "ad_spend", "path": "exports/canonical/ad_spend.csv", "preset": "canonical_ad_spend"},
    {"name": "fees", "path": "exports/canonical/fees.csv", "preset": "canonical_fees"},
    {"name": "price_list", "path": "exports/canonical/price_list.csv", "preset": "canonical_price_list"},
    {"name": "inventory", "path": "exports/canonical/inventory.csv", "preset": "canonical_inventory"},
    {"name": "lead_times", "path": "exports/canonical/lead_times.csv", "preset": "canonical_lead_times"},
    {
        "name": "distributor_regions",
        "path": "exports/canonical/distributor_regions.csv",
        "preset": "canonical_distributor_regions",
    },
    {
        "name": "distributor_warnings",
        "path": "exports/canonical/distributor_warnings.csv",
        "preset": "canonical_distributor_warnings",
    },
)


#: Alert rules of the demo: what a channel team would start with (no notifiers: add yours, docs/alerts.md).
DEMO_ALERTS: dict = {
    "language": "zh-CN",
    "rules": [
        {
            "name": "gmv_week_drop",
            "kind": "change",
            "metric": "gmv",
            "by": ["channel"],
            "grain": "week",
            "complete": True,
            "compare": "previous",
            "below": -0.3,
            "min_base": 5000,
            "severity": "warning",
        },
        {"name": "gmv_anomaly", "kind": "anomaly", "metric": "gmv", "by": ["channel"], "severity": "warning"},
        {"name": "visitors_anomaly", "kind": "anomaly", "metric": "visitors", "by": ["channel"], "severity": "warning"},
        {"name": "quarantine_rate", "kind": "quarantine_rate", "max_rate": 0.05, "severity": "warning"},
        {"name": "channel_silent", "kind": "silence", "days": 2, "severity": "critical"},
    ],
}


def project_yaml(dists: list[W.DistributorSpec], size: str, seed: int) -> str:
    """channelscope.yaml of the demo project."""
    config = {
        "project": {
            "name": f"{W.BRAND} demo",
            "base_currency": W.BASE_CURRENCY,
            "timezone": W.TIMEZONE,
            "locale": "zh-CN",
        },
        "warehouse": {"url": "duckdb:///warehouse.duckdb"},
        "channels": [
            {
                k: v
                for k, v in {
                    "id": c.id,
                    "name": c.name,
                    "kind": c.kind,
                    "platform": c.platform,
                    "parent_id": c.parent_id,
                    "currency": "CNY",
                    "timezone": W.TIMEZONE,
                    "fee_rate": c.fee_rate,
                }.items()
                if v is not None
            }
            for c in W.CHANNELS
        ],
        "distributors": [
            {
                k: v
                for k, v in {
                    "id": d.id,
                    "channel_id": d.channel_id,
                    "name": d.name,
                    "kind": d.kind,
                    "tier": d.tier,
                    "parent_id": d.parent_id,
                    "commission_rate": d.commission_rate,
                    "region": d.region,
                    "joined_at": d.joined_at,
                    "status": d.status,
                }.items()
                if v is not None
            }
            for d in dists
        ],
        "sources": [dict(s) for s in SOURCES],
        "alerts": DEMO_ALERTS,
        "compliance": {
            "exemptions": [
                {"name": n, "start": s.isoformat(), "end": e.isoformat(), "allowed_depth": d}
                for n, s, e, d in CO.EXEMPTIONS
            ],
            "commission": {"override_rate": W.TIER1_OVERRIDE, "tolerance": CO.COMMISSION_TOLERANCE},
        },
        "schedule": {"sources": {"*": "0 * * * *"}, "alerts": {"default": "5 * * * *"}},
    }
    head = (
        f"# channelscope demo project: the skincare brand {W.BRAND}, sold on Tmall, JD, Douyin, its own\n"
        f"# Shopify store and WeChat mini-program, and through a two-tier WeChat reseller network.\n"
        f"# Generated by channelscope.demo.generate_demo(size={size!r}, seed={seed}); the true totals a\n"
        f"# correct ingest reproduces are in ground_truth.json.\n"
    )
    return head + yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=100)
