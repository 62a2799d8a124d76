"""KPI benchmark: the panel of every built-in KPI by channel x day, channelscope against hand-written SQL.

    python bench/kpi.py --orders 1000000 [--orders 10000000] [--reps 3] [--keep] [--json] [--explain]

For each size it writes a project folder (``channelscope.yaml`` with six channels, a pseudonym key),
lets ``channelscope.Project`` create the canonical tables in its DuckDB file (the project's own
schema and indexes), then fills them directly with DuckDB SQL (``INSERT INTO ... SELECT ... FROM
range(N)``; ingest is not measured here): N orders over one year, about 1.5 lines per order,
refunds for about 5% of orders, traffic, ad spend and fees per channel per day, 200 products with
a unit cost, 60 distributors. Every value is a hash of the row's number, so the data is the same
for a given N.

Then each measurement runs in its own child process (peak RSS = the child's ``VmHWM``, CPU time
from ``wait4``), one warm-up each and ``--reps`` measured runs, interleaved:

* channelscope: ``Project(folder, read_only=True).kpis(<all built-in metrics>, by=["channel"],
  grain="day", start, end)``: open, compile to one Ibis expression, run, pandas, close;
* hand SQL: one DuckDB query written by hand from the business definitions (``HAND_SQL``), run with
  ``duckdb.connect(file, read_only=True)`` and the same ``memory_limit`` and threads, fetched to
  pandas.

It prints the median wall time, CPU time and peak RSS of each, the ratio channelscope / hand SQL
(target: <= 1.2), and whether both panels are equal (counts exactly, money to the cent, ratios to
1e-9, empty values in the same places). ``--explain`` also writes ``EXPLAIN ANALYZE`` of the SQL
that Ibis generates and of the hand SQL into the work folder and prints the slowest operators;
``--experiments`` times rewrites of the generated SQL (proposed changes to metrics/query.py).
bench/README.md explains the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

START = dt.date(2025, 1, 1)
DAYS = 365
END = START + dt.timedelta(days=DAYS - 1)
PAID = "('paid', 'shipped', 'completed', 'refunded')"
#: (id, name, kind, platform, share of orders %, visitor conversion, ad spend share of GMV, fee types)
CHANNELS = (
    ("tmall", "Tmall flagship", "marketplace", "tmall", 30, 0.045, 0.10, ("platform",)),
    ("jd", "JD self-run", "marketplace", "jd", 22, 0.050, 0.08, ("platform", "logistics")),
    ("douyin", "Douyin shop", "live_stream", "douyin", 20, 0.025, 0.15, ("platform", "commission")),
    ("xhs", "Xiaohongshu store", "social", "xiaohongshu", 10, 0.020, 0.12, ("platform",)),
    ("own", "Own mini-program", "own_store", "wechat", 10, 0.060, 0.05, ("payment", "logistics")),
    ("wechat_resellers", "WeChat resellers", "distributor", "wechat", 8, 0.080, 0.0, ("commission",)),
)
FEE_RATES = {"platform": 0.05, "payment": 0.006, "logistics": 0.03, "commission": 0.18}
SKUS = 200
KOLS = 20  # douyin live hosts
RESELLERS = 40  # wechat resellers: 10 of tier 1, 30 of tier 2 under them
MIB = 1024 * 1024


# ---- project and data ----------------------------------------------------------------------------


def write_project(folder: Path, memory_limit: str | None, threads: int | None) -> None:
    """channelscope.yaml (six channels, DuckDB warehouse) and secrets/pseudonym.key (64 hex chars)."""
    lines = ["project:", "  name: kpi bench", "  base_currency: CNY", "  timezone: Asia/Shanghai", "warehouse:"]
    lines.append("  url: duckdb:///warehouse.duckdb")
    if memory_limit:
        lines.append(f"  memory_limit: {memory_limit}")
    if threads:
        lines.append(f"  threads: {threads}")
    lines.append("channels:")
    for cid, name, kind, platform, *_ in CHANNELS:
        lines += [f"  - id: {cid}", f"    name: {name}", f"    kind: {kind}", f"    platform: {platform}"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "channelscope.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    secrets = folder / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "pseudonym.key").write_text(os.urandom(32).hex() + "\n", encoding="ascii")


def _case(pairs: list[tuple[str, str]], default: str = "NULL") -> str:
    return "CASE " + " ".join(f"WHEN {w} THEN {v}" for w, v in pairs) + f" ELSE {default} END"


def _u(key: str, mod: int, expr: str = "i") -> str:
    """A number in [0, mod) from the row number: the same for the same N."""
    return f"(hash({expr}, '{key}') % {mod})"


def generate_statements(orders: int) -> list[tuple[str, str]]:
    """(label, SQL) in order: a numeric base table of orders, then every canonical table from it."""
    customers = max(1000, orders // 5)
    cum = 0
    channel_when = []
    for ci, (_, _, _, _, share, *_rest) in enumerate(CHANNELS):
        cum += share
        channel_when.append((f"u_ch < {cum}", str(ci)))
    channel_ids = "[" + ", ".join(f"'{c[0]}'" for c in CHANNELS) + "]"
    day = _case(
        [
            (f"{_u('season', 1000)} < 60", f"DATE '{START.year}-06-01' + CAST({_u('d618', 18)} AS INTEGER)"),
            (f"{_u('season', 1000)} < 120", f"DATE '{START.year}-10-20' + CAST({_u('d1111', 23)} AS INTEGER)"),
        ],
        f"DATE '{START}' + CAST({_u('day', DAYS)} AS INTEGER)",
    )
    status = _case(
        [
            ("u_st < 8", "'created'"),
            ("u_st < 20", "'cancelled'"),
            ("u_st < 25", "'refunded'"),
            ("u_st < 40", "'paid'"),
            ("u_st < 55", "'shipped'"),
        ],
        "'completed'",
    )
    # skewed towards loyal customers: index = C * u^1.3
    cust = f"CAST(floor({customers} * pow({_u('cust', 1_000_000)} / 1e6, 1.3)) AS BIGINT)"
    qty = "CASE WHEN {h} < 70 THEN 1 WHEN {h} < 92 THEN 2 ELSE 3 END"
    base = f"""
        CREATE TEMP TABLE _b AS
        SELECT row_number() OVER (ORDER BY day, sec, i) AS n, * FROM (
            SELECT i, {_case(channel_when, "5")} AS ci, {day} AS day,
                   CAST({_u("sec", 86400)} AS INTEGER) AS sec, {status} AS status,
                   {_u("dist", 100)} AS u_dist, {cust} AS cust, {_u("guest", 100)} = 0 AS guest,
                   1 + CAST({_u("lines", 2)} AS INTEGER) AS nlines,
                   CAST({_u("sku1", SKUS)} AS INTEGER) AS sku1, CAST({_u("sku2", SKUS)} AS INTEGER) AS sku2,
                   {qty.format(h=_u("q1", 100))} AS q1, {qty.format(h=_u("q2", 100))} AS q2,
                   CAST({_u("p1", 21)} AS INTEGER) AS p1, CAST({_u("p2", 21)} AS INTEGER) AS p2,
                   {_u("disc", 4)} = 0 AS discounted, {_u("ref", 10)} < 3 AS partial_refund,
                   CAST({_u("rday", 14)} AS INTEGER) AS rdays, {_u("camp", 20)} = 0 AS with_campaign
            FROM (SELECT {_u("ch", 100, "range")} AS u_ch, {_u("st", 100, "range")} AS u_st, range AS i
                  FROM range({orders}))
        )
    """
    # list prices 19.90 .. 498.90, unit cost 30-54% of it: the same numbers the products table holds
    price = "CAST(19.9 + hash({s}, 'lp') % 480 AS DECIMAL(18, 2))"
    lines = f"""
        CREATE TEMP TABLE _l AS
        SELECT n, 1 AS line_no, sku1 AS sku, q1 AS qty,
               CAST(round({price.format(s="sku1")} * (0.8 + p1 / 100.0), 2) AS DECIMAL(18, 2)) AS unit_price
        FROM _b
        UNION ALL
        SELECT n, 2, sku2, q2, CAST(round({price.format(s="sku2")} * (0.8 + p2 / 100.0), 2) AS DECIMAL(18, 2))
        FROM _b WHERE nlines = 2
    """
    gross = "CAST(sum(qty * unit_price) AS DECIMAL(18, 2))"
    amounts = f"""
        CREATE TEMP TABLE _a AS
        SELECT n, gross,
               CASE WHEN discounted THEN CAST(round(gross * 0.1, 2) AS DECIMAL(18, 2)) ELSE 0 END AS discount,
               CASE WHEN gross < 99 THEN 10.00 ELSE 0 END AS shipping
        FROM (SELECT n, {gross} AS gross FROM _l GROUP BY n) JOIN _b USING (n)
    """
    order_id = f"{channel_ids}[ci + 1] || ':' || CAST(3000000000000 + n * 7 AS VARCHAR)"
    distributor = _case(
        [
            ("ci = 2 AND u_dist < 30", f"'kol' || lpad(CAST(u_dist % {KOLS} + 1 AS VARCHAR), 2, '0')"),
            ("ci = 5", f"'rs' || lpad(CAST(u_dist % {RESELLERS} + 1 AS VARCHAR), 3, '0')"),
        ]
    )
    ordered_at = "CAST(day AS TIMESTAMP) + to_seconds(sec) - INTERVAL 8 HOUR"
    net = "CAST(gross - discount + shipping AS DECIMAL(18, 2))"
    regions = "['广东', '浙江', '江苏', '上海', '北京', '山东', '四川', '湖北', '福建', '河南', '湖南', '安徽']"
    orders_sql = f"""
        INSERT INTO orders BY NAME
        SELECT {order_id} AS order_id, CAST(3000000000000 + n * 7 AS VARCHAR) AS source_order_id,
               {channel_ids}[ci + 1] AS channel_id, {distributor} AS distributor_id,
               CASE WHEN ci = 4 AND guest THEN NULL ELSE md5('customer-' || cust) END AS customer_key,
               CASE WHEN with_campaign AND day BETWEEN DATE '{START.year}-06-01' AND DATE '{START.year}-06-18'
                    THEN 'c618'
                    WHEN with_campaign AND day BETWEEN DATE '{START.year}-10-20' AND DATE '{START.year}-11-11'
                    THEN 'c1111' END AS campaign_id,
               {ordered_at} AS ordered_at,
               CASE WHEN status IN ('created', 'cancelled') THEN NULL
                    ELSE {ordered_at} + to_seconds(60 + sec % 1800) END AS paid_at,
               {ordered_at} + INTERVAL 2 DAY AS updated_at,
               status, 'CNY' AS currency, gross AS gross_amount, discount AS discount_amount,
               shipping AS shipping_amount, {net} AS net_amount, {net} AS net_amount_base,
               {regions}[CAST(hash(n, 'region') % 12 AS INTEGER) + 1] AS region,
               {channel_ids}[ci + 1] AS utm_source, 'organic' AS utm_medium,
               day AS business_date, 'bench' AS batch_id, md5(CAST(n AS VARCHAR)) AS record_hash
        FROM _b JOIN _a USING (n) ORDER BY n
    """
    lines_sql = f"""
        INSERT INTO order_lines BY NAME
        SELECT {order_id} AS order_id, CAST(3000000000000 + n * 7 AS VARCHAR) AS source_order_id,
               {channel_ids}[ci + 1] AS channel_id, line_no, 'SKU' || lpad(CAST(sku + 1 AS VARCHAR), 4, '0') AS sku,
               qty AS quantity, unit_price, 0.00 AS discount_amount,
               CAST(qty * unit_price AS DECIMAL(18, 2)) AS amount, 'bench' AS batch_id,
               md5(CAST(n AS VARCHAR) || '-' || line_no) AS record_hash
        FROM _l JOIN _b USING (n) ORDER BY n, line_no
    """
    refunded_at = f"{ordered_at} + to_days(1 + rdays) + to_seconds(hash(n, 'rsec') % 36000)"
    refunds_sql = f"""
        INSERT INTO refunds BY NAME
        SELECT {order_id} AS order_id, CAST(3000000000000 + n * 7 AS VARCHAR) AS source_order_id,
               {channel_ids}[ci + 1] AS channel_id, 'RF' || n AS refund_id, {refunded_at} AS refunded_at,
               'CNY' AS currency, amount, amount AS amount_base,
               ['quality', 'size', 'changed mind', 'late delivery'][CAST(hash(n, 'why') % 4 AS INTEGER) + 1] AS reason,
               CAST({refunded_at} + INTERVAL 8 HOUR AS DATE) AS business_date,
               'bench' AS batch_id, md5('refund-' || n) AS record_hash
        FROM (SELECT *, CASE WHEN partial_refund THEN CAST(round({net} * 0.5, 2) AS DECIMAL(18, 2))
                              ELSE {net} END AS amount
              FROM _b JOIN _a USING (n) WHERE status = 'refunded')
        ORDER BY business_date, n
    """
    products_sql = f"""
        INSERT INTO products BY NAME
        SELECT 'SKU' || lpad(CAST(s + 1 AS VARCHAR), 4, '0') AS sku, 'SPU' || lpad(CAST(s // 4 + 1 AS VARCHAR), 3, '0')
               AS spu, 'Product ' || (s + 1) AS name,
               ['skincare', 'makeup', 'haircare', 'body', 'fragrance'][s % 5 + 1] AS category,
               CASE WHEN s % 7 = 0 THEN 'Sub-brand' ELSE 'Main' END AS brand,
               {price.format(s="s")} AS list_price,
               CAST(round({price.format(s="s")} * (0.30 + hash(s, 'uc') % 25 / 100.0), 2) AS DECIMAL(18, 2))
               AS unit_cost, CAST(round({price.format(s="s")} * 0.85, 2) AS DECIMAL(18, 2)) AS min_advertised_price,
               'bench' AS batch_id, md5('sku-' || s) AS record_hash
        FROM (SELECT CAST(range AS INTEGER) AS s FROM range({SKUS}))
    """
    distributors_sql = f"""
        INSERT INTO distributors BY NAME
        SELECT 'kol' || lpad(CAST(k AS VARCHAR), 2, '0') AS distributor_id, 'douyin' AS channel_id,
               'Host ' || k AS name, 'live_host' AS kind, 1 AS tier, NULL AS parent_id,
               0.20 AS commission_rate, NULL AS region, DATE '2024-03-01' + CAST(k * 9 AS INTEGER) AS joined_at,
               'active' AS status, 'bench' AS batch_id, md5('kol-' || k) AS record_hash
        FROM (SELECT range AS k FROM range(1, {KOLS + 1}))
        UNION ALL
        SELECT 'rs' || lpad(CAST(k AS VARCHAR), 3, '0'), 'wechat_resellers', 'Reseller ' || k,
               'reseller', CASE WHEN k <= 10 THEN 1 ELSE 2 END,
               CASE WHEN k <= 10 THEN NULL ELSE 'rs' || lpad(CAST((k - 1) % 10 + 1 AS VARCHAR), 3, '0') END,
               CASE WHEN k <= 10 THEN 0.15 ELSE 0.10 END, NULL, DATE '2024-01-01' + CAST(k * 5 AS INTEGER),
               CASE WHEN k % 13 = 0 THEN 'inactive' ELSE 'active' END, 'bench', md5('rs-' || k)
        FROM (SELECT range AS k FROM range(1, {RESELLERS + 1}))
    """
    # per channel and day, from the paid GMV and the orders of that day (every day of every channel)
    conv = _case([(f"c.channel_id = '{c[0]}'", str(c[5])) for c in CHANNELS], "0.05")
    days_x_channels = f"""
        CREATE TEMP TABLE _cd AS
        SELECT c.channel_id, CAST(d.range AS DATE) AS date, {conv} AS conv,
               coalesce(o.orders, 0) AS orders, coalesce(o.gmv, 0) AS gmv, coalesce(o.dist_gmv, 0) AS dist_gmv
        FROM (SELECT unnest({channel_ids}) AS channel_id) c
        CROSS JOIN range(DATE '{START}', DATE '{END}' + INTERVAL 1 DAY, INTERVAL 1 DAY) d
        LEFT JOIN (SELECT channel_id, business_date, count(*) AS orders,
                          sum(net_amount_base) FILTER (WHERE status IN {PAID}) AS gmv,
                          sum(net_amount_base) FILTER (WHERE status IN {PAID} AND distributor_id IS NOT NULL)
                          AS dist_gmv
                   FROM orders GROUP BY ALL) o
          ON o.channel_id = c.channel_id AND o.business_date = CAST(d.range AS DATE)
    """
    noise = "(0.85 + hash(channel_id, date, '{k}') % 30 / 100.0)"
    traffic_sql = f"""
        INSERT INTO traffic BY NAME
        SELECT date, channel_id, NULL AS distributor_id, NULL AS campaign_id,
               CAST(visitors * (15 + hash(channel_id, date, 'imp') % 10) AS BIGINT) AS impressions, visitors,
               CAST(visitors * (2.5 + hash(channel_id, date, 'pv') % 20 / 10.0) AS BIGINT) AS page_views,
               CAST(visitors * (0.08 + hash(channel_id, date, 'atc') % 5 / 100.0) AS BIGINT) AS add_to_cart,
               'bench' AS batch_id, md5(channel_id || date) AS record_hash
        FROM (SELECT *, CAST(round(orders / conv * {noise.format(k="vis")}) AS BIGINT) AS visitors FROM _cd)
    """
    ad_share = _case([(f"channel_id = '{c[0]}'", str(c[6])) for c in CHANNELS], "0")
    platform = _case([(f"channel_id = '{c[0]}'", f"'{c[3]}'") for c in CHANNELS])
    ads_sql = f"""
        INSERT INTO ad_spend BY NAME
        SELECT date, channel_id, NULL AS campaign_id, {platform} AS platform, 'CNY' AS currency,
               spend, spend AS spend_base, CAST(clicks * 40 AS BIGINT) AS impressions, clicks,
               CAST(clicks * 0.03 AS BIGINT) AS reported_conversions,
               CAST(round(spend * 3.2, 2) AS DECIMAL(18, 2)) AS reported_revenue,
               'bench' AS batch_id, md5('ad' || channel_id || date) AS record_hash
        FROM (SELECT *, CAST(round(spend / (1.5 + hash(channel_id, date, 'cpc') % 15 / 10.0)) AS BIGINT) AS clicks
              FROM (SELECT channel_id, date,
                           CAST(round(gmv * {ad_share} * {noise.format(k="ad")}, 2) AS DECIMAL(18, 2)) AS spend
                    FROM _cd WHERE {ad_share} > 0))
    """
    fee_rows = []
    for cid, *_rest, fee_types in CHANNELS:
        for ft in fee_types:
            on = "dist_gmv" if ft == "commission" and cid == "douyin" else "gmv"
            fee_rows.append(
                f"SELECT date, channel_id, '{ft}' AS fee_type, "
                f"CAST(round({on} * {FEE_RATES[ft]} * {noise.format(k=ft)}, 2) AS DECIMAL(18, 2)) AS amount "
                f"FROM _cd WHERE channel_id = '{cid}'"
            )
    fees_sql = f"""
        INSERT INTO fees BY NAME
        SELECT date, channel_id, NULL AS distributor_id, fee_type, 'CNY' AS currency, amount, amount AS amount_base,
               'bench' AS batch_id, md5('fee' || channel_id || date || fee_type) AS record_hash
        FROM ({" UNION ALL ".join(fee_rows)})
    """
    return [
        ("base numbers", base),
        ("lines", lines),
        ("amounts", amounts),
        ("products", products_sql),
        ("distributors", distributors_sql),
        ("orders", orders_sql),
        ("order_lines", lines_sql),
        ("refunds", refunds_sql),
        ("channel days", days_x_channels),
        ("traffic", traffic_sql),
        ("ad_spend", ads_sql),
        ("fees", fees_sql),
    ]


def generate(folder: Path, orders: int, memory_limit: str, say: Any) -> dict[str, Any]:
    """Create the project's tables (``Project.warehouse``), then fill them with DuckDB SQL."""
    import duckdb

    from channelscope import Project

    t0 = time.perf_counter()
    with Project(folder) as p:  # creates every canonical table and its indexes, from model/tables.py
        p.sync_dimensions()  # channels from the config and the calendar
        db = Path(p.warehouse.path)  # type: ignore[attr-defined]
    con = duckdb.connect(str(db), config={"memory_limit": memory_limit, "preserve_insertion_order": True})
    con.execute(f"SET temp_directory = '{folder / '.generate-tmp'}'")
    timings = {}
    for label, sql in generate_statements(orders):
        t = time.perf_counter()
        con.execute(sql)
        timings[label] = round(time.perf_counter() - t, 2)
        say(f"    {label}: {timings[label]:.1f}s")
    con.execute("CHECKPOINT")
    counts = {
        name: int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]
        for name in ("orders", "order_lines", "refunds", "traffic", "ad_spend", "fees", "products", "distributors")
    }
    stats = con.execute(
        f"SELECT count(DISTINCT customer_key), count(*) FILTER (WHERE status IN {PAID}), "
        "min(business_date), max(business_date) FROM orders"
    ).fetchone()
    con.close()
    shutil.rmtree(folder / ".generate-tmp", ignore_errors=True)
    assert stats is not None
    return {
        "orders": orders,
        "counts": counts,
        "customers": int(stats[0]),
        "paid_orders": int(stats[1]),
        "first_date": str(stats[2]),
        "last_date": str(stats[3]),
        "seconds": round(time.perf_counter() - t0, 2),
        "statements": timings,
        "file_mib": db.stat().st_size / MIB,
        "db": str(db),
    }


# ---- the hand-written query ----------------------------------------------------------------------


def hand_sql(start: dt.date, end: dt.date) -> str:
    """Every built-in KPI by channel x day, written by hand from the definitions in metrics/definitions.py.

    Paid = paid/shipped/completed/refunded. A buyer is new on a day when their first paid order (over
    all time) is on or after that day, returning otherwise. Repeat buyers have >= 2 paid orders in the
    period (the day) and channel. COGS = quantity x unit cost of paid orders' lines. Ratios are taken
    from the summed parts, empty when the denominator is zero; missing parts count as zero.
    """
    rng = f"BETWEEN DATE '{start}' AND DATE '{end}'"
    paid = f"status IN {PAID}"

    def div(a: str, b: str) -> str:
        return f"CAST({a} AS DOUBLE) / nullif(CAST({b} AS DOUBLE), 0)"

    return f"""
WITH first_paid AS (
    SELECT customer_key, min(business_date) AS first_day FROM orders
    WHERE {paid} AND customer_key IS NOT NULL GROUP BY customer_key
), o AS (
    SELECT o.channel_id, o.business_date AS day,
           count(*) AS orders,
           count(*) FILTER (WHERE o.{paid}) AS paid_orders,
           count(DISTINCT o.customer_key) FILTER (WHERE o.{paid}) AS buyers,
           count(DISTINCT o.customer_key) FILTER (WHERE o.{paid} AND f.first_day >= o.business_date) AS new_buyers,
           count(DISTINCT o.customer_key) FILTER (WHERE o.{paid} AND f.first_day < o.business_date)
               AS returning_buyers,
           sum(o.net_amount_base) AS gmv_ordered,
           sum(o.net_amount_base) FILTER (WHERE o.{paid}) AS gmv,
           count(DISTINCT o.distributor_id) FILTER (WHERE o.{paid}) AS active_distributors
    FROM orders o LEFT JOIN first_paid f ON f.customer_key = o.customer_key
    WHERE o.business_date {rng}
    GROUP BY o.channel_id, o.business_date
), rep AS (
    SELECT channel_id, day, count(*) AS repeat_buyers FROM (
        SELECT channel_id, business_date AS day, customer_key FROM orders
        WHERE {paid} AND business_date {rng} AND customer_key IS NOT NULL
        GROUP BY channel_id, business_date, customer_key HAVING count(*) >= 2
    ) GROUP BY channel_id, day
), l AS (
    SELECT o.channel_id, o.business_date AS day, sum(l.quantity) AS units, sum(l.quantity * p.unit_cost) AS cogs
    FROM order_lines l JOIN orders o ON o.order_id = l.order_id LEFT JOIN products p ON p.sku = l.sku
    WHERE o.{paid} AND o.business_date {rng}
    GROUP BY o.channel_id, o.business_date
), r AS (
    SELECT channel_id, business_date AS day, sum(amount_base) AS refunds, count(*) AS refund_count
    FROM refunds WHERE business_date {rng} GROUP BY channel_id, business_date
), t AS (
    SELECT channel_id, date AS day, sum(impressions) AS impressions, sum(visitors) AS visitors,
           sum(page_views) AS page_views, sum(add_to_cart) AS add_to_cart
    FROM traffic WHERE date {rng} GROUP BY channel_id, date
), a AS (
    SELECT channel_id, date AS day, sum(spend_base) AS ad_spend, sum(clicks) AS ad_clicks
    FROM ad_spend WHERE date {rng} GROUP BY channel_id, date
), fe AS (
    SELECT channel_id, date AS day,
           sum(amount_base) FILTER (WHERE fee_type IN ('platform', 'payment', 'logistics')) AS channel_fees,
           sum(amount_base) FILTER (WHERE fee_type = 'commission') AS commissions
    FROM fees WHERE date {rng} GROUP BY channel_id, date
), k AS (
    SELECT channel_id, day FROM o UNION SELECT channel_id, day FROM l UNION SELECT channel_id, day FROM r
    UNION SELECT channel_id, day FROM t UNION SELECT channel_id, day FROM a UNION SELECT channel_id, day FROM fe
), b AS (
    SELECT k.day AS period, k.channel_id AS channel,
           coalesce(t.impressions, 0) AS impressions, coalesce(t.visitors, 0) AS visitors,
           coalesce(t.page_views, 0) AS page_views, coalesce(t.add_to_cart, 0) AS add_to_cart,
           coalesce(o.orders, 0) AS orders, coalesce(o.paid_orders, 0) AS paid_orders,
           coalesce(o.buyers, 0) AS buyers, coalesce(o.new_buyers, 0) AS new_buyers,
           coalesce(o.returning_buyers, 0) AS returning_buyers, coalesce(rep.repeat_buyers, 0) AS repeat_buyers,
           coalesce(o.gmv_ordered, 0) AS gmv_ordered, coalesce(o.gmv, 0) AS gmv,
           coalesce(l.units, 0) AS units, coalesce(r.refunds, 0) AS refunds,
           coalesce(r.refund_count, 0) AS refund_count,
           coalesce(a.ad_spend, 0) AS ad_spend, coalesce(a.ad_clicks, 0) AS ad_clicks,
           coalesce(fe.channel_fees, 0) AS channel_fees, coalesce(fe.commissions, 0) AS commissions,
           coalesce(l.cogs, 0) AS cogs, coalesce(o.active_distributors, 0) AS active_distributors
    FROM k
    LEFT JOIN o ON o.channel_id = k.channel_id AND o.day = k.day
    LEFT JOIN rep ON rep.channel_id = k.channel_id AND rep.day = k.day
    LEFT JOIN l ON l.channel_id = k.channel_id AND l.day = k.day
    LEFT JOIN r ON r.channel_id = k.channel_id AND r.day = k.day
    LEFT JOIN t ON t.channel_id = k.channel_id AND t.day = k.day
    LEFT JOIN a ON a.channel_id = k.channel_id AND a.day = k.day
    LEFT JOIN fe ON fe.channel_id = k.channel_id AND fe.day = k.day
)
SELECT period, channel,
       impressions, visitors, page_views, add_to_cart,
       orders, paid_orders, buyers, new_buyers, returning_buyers, repeat_buyers,
       {div("paid_orders", "visitors")} AS conversion_rate,
       {div("add_to_cart", "visitors")} AS cart_rate,
       gmv_ordered, gmv, units, refunds, refund_count,
       gmv - refunds AS net_sales,
       {div("gmv", "paid_orders")} AS aov,
       {div("units", "paid_orders")} AS units_per_order,
       {div("refunds", "gmv")} AS refund_rate,
       {div("repeat_buyers", "buyers")} AS repurchase_rate,
       {div("gmv", "buyers")} AS gmv_per_buyer,
       {div("gmv", "visitors")} AS visitor_value,
       {div("new_buyers", "buyers")} AS new_buyer_share,
       ad_spend, ad_clicks, channel_fees, commissions, cogs,
       {div("gmv", "ad_spend")} AS roas,
       {div("ad_spend", "new_buyers")} AS cac,
       gmv - refunds - cogs AS gross_profit,
       {div("gmv - refunds - cogs", "gmv - refunds")} AS gross_margin,
       gmv - refunds - cogs - channel_fees - commissions - ad_spend AS contribution_margin,
       {div("gmv - refunds - cogs - channel_fees - commissions - ad_spend", "gmv - refunds")}
           AS contribution_margin_rate,
       active_distributors,
       {div("gmv", "active_distributors")} AS sales_per_distributor
FROM b
ORDER BY period, channel
"""


# ---- children: one measurement each, in its own process --------------------------------------------


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MIB


def _hwm_mib() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss`` from wait4: Linux starts a child's ru_maxrss
    at the parent's RSS when it is spawned (the high-water mark survives exec), so it would count the
    parent's own memory (here, the generator's DuckDB) as the child's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def builtin_names() -> list[str]:
    from channelscope.metrics.definitions import BUILTIN

    return [m.name for m in BUILTIN]


def child_channelscope(folder: str, start: str, end: str, out: str) -> dict[str, Any]:
    """``Project(folder, read_only=True).kpis(...)``: open, compile, run, pandas, close."""
    import ibis

    import channelscope.metrics.query  # noqa: F401  (imports done before the clock starts)
    from channelscope import Project

    _ = ibis.duckdb  # the backend module loads lazily
    names = builtin_names()
    base = _rss_mib()
    t0 = time.perf_counter()
    p = Project(folder, read_only=True)
    df = p.kpis(names, by=["channel"], grain="day", start=start, end=end)
    p.close()
    seconds = time.perf_counter() - t0
    if out:
        df.to_pickle(out)
    return {"seconds": seconds, "rows": len(df), "baseline_mib": base, "peak_mib": _hwm_mib()}


def child_sql(db: str, memory_limit: str, threads: int, start: str, end: str, out: str) -> dict[str, Any]:
    """The hand-written query with duckdb on the same file (read-only, same memory_limit and threads)."""
    import duckdb
    import pandas  # noqa: F401  (fetchdf needs it; imported before the clock starts, like channelscope's)

    sql = hand_sql(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    base = _rss_mib()
    t0 = time.perf_counter()
    config: dict[str, Any] = {"memory_limit": memory_limit}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(db, read_only=True, config=config)
    df = con.execute(sql).fetchdf()
    con.close()
    seconds = time.perf_counter() - t0
    if out:
        df.to_pickle(out)
    return {"seconds": seconds, "rows": len(df), "baseline_mib": base, "peak_mib": _hwm_mib()}


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child; return its JSON answer plus its peak RSS and CPU time from wait4."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"child {args[0]} failed with exit code {proc.returncode}")
        out.seek(0)
        answer = json.loads(out.read().decode().strip().splitlines()[-1])
    answer["wait4_maxrss_mib"] = usage.ru_maxrss / 1024  # includes the parent's RSS at spawn: not reported
    answer["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # the whole child, imports included
    return answer


# ---- equality of the two panels ------------------------------------------------------------------


def compare_panels(cs_file: Path, sql_file: Path) -> dict[str, Any]:
    """Counts exactly, money to the cent, ratios to 1e-9 relative; empty values in the same places."""
    import numpy as np
    import pandas as pd

    from channelscope.metrics.definitions import BUILTIN, Measure

    frames = []
    for f in (cs_file, sql_file):
        df = pd.read_pickle(f)
        df["period"] = pd.to_datetime(df["period"]).dt.date
        frames.append(df.set_index(["period", "channel"]).sort_index())
    cs, hs = frames
    out: dict[str, Any] = {"rows": [len(cs), len(hs)], "same_keys": bool(cs.index.equals(hs.index)), "metrics": {}}
    if not out["same_keys"]:
        out["equal"] = False
        return out
    for m in BUILTIN:
        a = pd.to_numeric(cs[m.name], errors="coerce").astype("float64").to_numpy()
        b = pd.to_numeric(hs[m.name], errors="coerce").astype("float64").to_numpy()
        na, nb = np.isnan(a), np.isnan(b)
        both = ~na & ~nb
        if m.unit == "money":
            kind = "money"
            same = np.round(a[both] * 100) == np.round(b[both] * 100)
        elif isinstance(m, Measure) and m.unit in ("count", "quantity"):
            kind = "count"
            same = a[both] == b[both]
        else:
            kind = "ratio"
            same = np.isclose(a[both], b[both], rtol=1e-9, atol=0)
        bad = int((na != nb).sum()) + int((~same).sum())
        diff = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
        out["metrics"][m.name] = {"kind": kind, "differ": bad, "max_abs_diff": diff, "empty": int(na.sum())}
    out["equal"] = all(v["differ"] == 0 for v in out["metrics"].values())
    return out


# ---- driver --------------------------------------------------------------------------------------


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def bench_size(orders: int, root: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    folder = root / f"orders-{orders}"
    if folder.exists():
        shutil.rmtree(folder)
    write_project(folder, args.memory_limit, args.threads)
    from channelscope.config import load_config

    memory_limit = load_config(folder).warehouse.memory_limit  # the project's: the hand SQL gets the same
    say(f"[{orders:,} orders] generating the warehouse ...")
    gen = generate(folder, orders, args.generate_memory_limit, say)
    say(f"[{orders:,} orders] generated in {gen['seconds']:.1f}s ({gen['file_mib']:.0f} MiB): {gen['counts']}")
    start, end = str(START), str(END)
    cs_args = ["channelscope", str(folder), start, end]
    sql_args = ["sql", gen["db"], memory_limit, str(args.threads or 0), start, end]
    load_before = os.getloadavg()[0]
    say(f"[{orders:,} orders] warm-up ...")
    warm_cs = run_child([*cs_args, str(folder / "panel-channelscope.pkl")])
    warm_sql = run_child([*sql_args, str(folder / "panel-sql.pkl")])
    cs_runs, sql_runs = [], []
    for i in range(args.reps):
        cs_runs.append(run_child([*cs_args, ""]))
        sql_runs.append(run_child([*sql_args, ""]))
        say(
            f"[{orders:,} orders] run {i + 1}/{args.reps}: channelscope {cs_runs[-1]['seconds']:.2f}s "
            f"{cs_runs[-1]['peak_mib']:.0f} MiB, hand SQL {sql_runs[-1]['seconds']:.2f}s "
            f"{sql_runs[-1]['peak_mib']:.0f} MiB"
        )
    check = compare_panels(folder / "panel-channelscope.pkl", folder / "panel-sql.pkl")
    result: dict[str, Any] = {
        "orders": orders,
        "generate": {k: v for k, v in gen.items() if k != "db"},
        "memory_limit": memory_limit,
        "threads": args.threads or os.cpu_count(),
        "reps": args.reps,
        "channelscope": {"warm_up": warm_cs, "runs": cs_runs},
        "sql": {"warm_up": warm_sql, "runs": sql_runs},
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "check": check,
        "folder": str(folder),
    }
    for side in ("channelscope", "sql"):
        runs = result[side]["runs"]
        for key in ("seconds", "cpu_seconds", "peak_mib", "baseline_mib"):
            result[side][key] = _median(runs, key)
    result["ratio"] = result["channelscope"]["seconds"] / result["sql"]["seconds"]
    result["cpu_ratio"] = result["channelscope"]["cpu_seconds"] / result["sql"]["cpu_seconds"]
    if args.explain or args.experiments:
        say(f"[{orders:,} orders] profiling ...")
        result["profile"] = run_child(
            ["profile", str(folder), start, end, "1" if args.experiments else "0", str(args.reps)]
        )
    return result


def render(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    t = Table(title="KPI panel: 38 built-in KPIs by channel x day over one year; channelscope vs hand-written SQL")
    for col in (
        "orders",
        "rows",
        "channelscope s (cpu s)",
        "hand SQL s (cpu s)",
        "ratio (cpu)",
        "cs peak MiB",
        "SQL peak MiB",
        "panels",
    ):
        t.add_column(col, justify="right")
    for r in results:
        cs, sq, chk = r["channelscope"], r["sql"], r["check"]
        ratio = f"{r['ratio']:.2f}x" + ("" if r["ratio"] <= 1.2 else " [red](>1.2)[/]") + f" ({r['cpu_ratio']:.2f}x)"
        t.add_row(
            f"{r['orders']:,}",
            f"{chk['rows'][0]:,}",
            f"{cs['seconds']:.2f} ({cs['cpu_seconds']:.1f})",
            f"{sq['seconds']:.2f} ({sq['cpu_seconds']:.1f})",
            ratio,
            f"{cs['peak_mib']:.0f}",
            f"{sq['peak_mib']:.0f}",
            "equal" if chk["equal"] else "[red]DIFFER[/]",
        )
    console.print(t)
    for r in results:
        g, chk = r["generate"], r["check"]
        console.print(
            f"[bold]{r['orders']:,} orders[/]: generated in {g['seconds']:.0f}s, {g['file_mib']:.0f} MiB; "
            f"{g['counts']['order_lines']:,} lines, {g['counts']['refunds']:,} refunds, {g['customers']:,} "
            f"customers, {g['paid_orders']:,} paid orders, {g['first_date']} .. {g['last_date']}"
        )
        runs = ", ".join(
            f"{a['seconds']:.2f}/{b['seconds']:.2f}"
            for a, b in zip(r["channelscope"]["runs"], r["sql"]["runs"], strict=True)
        )
        console.print(
            f"  runs (channelscope/SQL s): {runs}; warm-up {r['channelscope']['warm_up']['seconds']:.2f}/"
            f"{r['sql']['warm_up']['seconds']:.2f}; median of {r['reps']}; process baseline after imports "
            f"{r['channelscope']['baseline_mib']:.0f} / {r['sql']['baseline_mib']:.0f} MiB; memory_limit "
            f"{r['memory_limit']}, {r['threads']} threads; 1-min load average {r['load_average'][0]} -> "
            f"{r['load_average'][1]} on {os.cpu_count()} cores"
        )
        if chk["equal"]:
            kinds: dict[str, int] = {}
            for v in chk["metrics"].values():
                kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
            console.print(
                f"  panels equal: {chk['rows'][0]:,} rows x {len(chk['metrics'])} KPIs ({kinds.get('count', 0)} "
                f"counts exactly, {kinds.get('money', 0)} money to the cent, {kinds.get('ratio', 0)} ratios to "
                "1e-9), empty values in the same places"
            )
        else:
            bad = {k: v for k, v in chk["metrics"].items() if v["differ"]}
            console.print(
                f"  [red]panels differ[/]: rows {chk['rows']}, same keys {chk['same_keys']}; "
                + "; ".join(f"{k}: {v['differ']} cells (max |diff| {v['max_abs_diff']:.4g})" for k, v in bad.items())
            )
        prof = r.get("profile")
        if prof:
            render_profile(console, r["orders"], prof)


# ---- profile: the SQL Ibis generates, EXPLAIN ANALYZE, experiments ---------------------------------


def _operators(node: dict[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    """Flatten DuckDB's JSON profile: one entry per operator with its own time and output rows."""
    out = []
    name = node.get("operator_name") or node.get("operator_type") or node.get("query_name", "")
    if "operator_timing" in node:
        info = node.get("extra_info") or {}
        text = " ".join(f"{k}={v}" for k, v in info.items() if k not in ("Estimated Cardinality",))
        out.append(
            {
                "operator": str(name).strip(),
                "seconds": float(node.get("operator_timing", 0.0)),
                "rows": int(node.get("operator_cardinality", 0)),
                "depth": depth,
                "info": re.sub(r"\s+", " ", text)[:110],
            }
        )
    for child in node.get("children", []):
        out += _operators(child, depth + 1)
    return out


def profile_query(con: Any, sql: str, folder: Path, label: str) -> dict[str, Any]:
    """Run ``sql`` once with EXPLAIN ANALYZE (text kept in the folder) and once with the JSON profiler."""
    (folder / f"kpi-{label}.sql").write_text(sql + "\n", encoding="utf-8")
    text = con.execute("EXPLAIN ANALYZE " + sql).fetchall()
    (folder / f"explain-{label}.txt").write_text("\n".join(str(row[-1]) for row in text) + "\n", encoding="utf-8")
    prof = folder / f"profile-{label}.json"
    con.execute("SET enable_profiling = 'json'")
    con.execute(f"SET profiling_output = '{prof}'")
    t0 = time.perf_counter()
    con.execute(sql).fetchall()
    seconds = time.perf_counter() - t0
    con.execute("SET enable_profiling = 'no_output'")
    con.execute("RESET profiling_output")
    tree = json.loads(prof.read_text())
    ops = _operators(tree)
    return {
        "seconds": seconds,
        "latency": float(tree.get("latency", 0.0)),
        "operators": sorted(ops, key=lambda o: -o["seconds"])[:10],
        "operator_seconds": sum(o["seconds"] for o in ops),
    }


def _best(con: Any, sql: str, reps: int) -> tuple[float, Any]:
    best, rows = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        rows = con.execute(sql).fetchall()
        best = min(best, time.perf_counter() - t0)
    return best, rows


def child_profile(folder: str, start: str, end: str, experiments: bool, reps: int) -> dict[str, Any]:
    import ibis

    from channelscope import Project
    from channelscope.metrics.query import KpiRequest, compile_request

    names = builtin_names()
    root = Path(folder)
    p = Project(folder, read_only=True)
    req = KpiRequest(tuple(names), ("channel",), "day", dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    t0 = time.perf_counter()
    expr = compile_request(p.warehouse, p.catalog, req)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    generated = str(ibis.to_sql(expr, dialect="duckdb"))
    to_sql_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame = expr.to_pandas()
    execute_s = time.perf_counter() - t0
    con = p.warehouse.staging()
    hand = hand_sql(req.start, req.end)  # type: ignore[arg-type]
    out: dict[str, Any] = {
        "compile_seconds": compile_s,
        "to_sql_seconds": to_sql_s,
        "ibis_execute_seconds": execute_s,
        "rows": len(frame),
        "generated_chars": len(generated),
        "ibis": profile_query(con, generated, root, "ibis"),
        "hand": profile_query(con, hand, root, "hand"),
        "files": sorted(str(f.name) for f in root.glob("*") if f.name.startswith(("kpi-", "explain-", "profile-"))),
        "experiments": [],
    }
    if experiments:
        base_s, base_rows = _best(con, generated, reps)
        hand_s, _ = _best(con, hand, reps)
        out["experiments"].append({"name": "generated SQL as it is", "seconds": base_s, "same": True})
        out["experiments"].append({"name": "hand-written SQL", "seconds": hand_s, "same": None})
        for name, sql in experiment_sqls(p, req, generated):
            s, rows = _best(con, sql, reps)
            out["experiments"].append({"name": name, "seconds": s, "same": _same_rows(base_rows, rows)})
    p.close()
    return out


def _same_rows(a: Any, b: Any) -> bool:
    import math

    if a is None or b is None or len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        for x, y in zip(ra, rb, strict=True):
            if x is None or y is None:
                if x is not y:
                    return False
            elif isinstance(x, float) or isinstance(y, float):
                fx, fy = float(x), float(y)
                if not (math.isclose(fx, fy, rel_tol=1e-9) or (math.isnan(fx) and math.isnan(fy))):
                    return False
            elif x != y:
                return False
    return True


#: proposed changes to metrics/query.py ``_aggregate``, each alone and all together
CHANGES = {
    "repeat": "repeat buyers from the frame before the customer_type join (unless cut or filtered by it)",
    "where": "a filter every measure of a table shares goes to WHERE (order_lines: paid), not FILTER",
    "day": "grain 'day': the date is the period (no DATE_TRUNC, which turns dates into timestamps)",
}


def proposed_aggregate(wh: Any, table: str, measures: list[Any], req: Any, keys: list[str], changes: set[str]) -> Any:
    """``metrics.query._aggregate`` with the proposed ``changes`` (a copy; the unchanged lines are the same)."""
    import ibis

    from channelscope.metrics import query as Q

    dims = [*req.by, *(f for f, _ in req.filters)]
    needs = {Q.DIMENSIONS[d][1] for d in dims if Q.DIMENSIONS[d][1]} | {Q.DIMENSIONS[d][0] for d in dims}
    needs |= {m.times for m in measures if m.times}
    t = Q._frame(wh, table, {n for n in needs if n})
    if req.start:
        t = t.filter(t._date >= req.start)
    if req.end:
        t = t.filter(t._date <= req.end)
    first_filter = measures[0].filter if measures else {}
    if (
        "where" in changes
        and first_filter
        and "customer_type" not in first_filter
        and all(m.filter == first_filter for m in measures)
    ):  # every measure has it: one WHERE instead of a FILTER per aggregate
        t = t.filter(Q._condition(t, measures[0]))
        measures = [m.model_copy(update={"filter": {}}) for m in measures]
    if "day" in changes and req.grain == "day":
        t = t.mutate(_period=t._date)
    else:
        t = t.mutate(_period=Q._period(t, req.grain, req.start))
    before_type = t
    if "customer_type" in dims or any("customer_type" in m.filter for m in measures):
        o = wh.ibis.table("orders")
        first = o.filter(Q._status_paid(o.status)).group_by("customer_key").aggregate(_first_date=o.business_date.min())
        first = first.rename(_ck="customer_key")
        t = t.left_join(first, t.customer_key == first._ck).drop("_ck")
        t = t.mutate(customer_type=ibis.ifelse(t._first_date >= t._period, "new", "returning"))
    for dim, values in req.filters:
        t = t.filter(t[Q.DIMENSIONS[dim][0]].isin(list(values)))
    group = ["_period", *[Q.DIMENSIONS[d][0] for d in req.by]]
    aggs: dict[str, Any] = {}
    repeat = []
    for m in measures:
        cond = Q._condition(t, m)
        if m.agg == "count":
            aggs[m.name] = t.count() if cond is None else ibis.ifelse(cond, 1, 0).sum()
        elif m.agg == "sum":
            col = t[m.column] * t[m.times] if m.times else t[m.column]
            aggs[m.name] = col.sum(where=cond)
        elif m.agg == "count_distinct":
            aggs[m.name] = t[m.column].nunique(where=cond)
        else:
            repeat.append(m)
    out = t.group_by(group).aggregate(**aggs) if aggs else None
    for m in repeat:
        src = t
        if "repeat" in changes and "customer_type" not in dims and "customer_type" not in m.filter:
            src = before_type
            for dim, values in req.filters:
                src = src.filter(src[Q.DIMENSIONS[dim][0]].isin(list(values)))
        cond = Q._condition(src, m)
        base = src if cond is None else src.filter(cond)
        per = base.group_by([*group, m.column]).aggregate(_n=base.count())
        rep = per.group_by(group).aggregate(**{m.name: ibis.ifelse(per._n >= 2, 1, 0).sum()})
        out = (
            rep
            if out is None
            else out.outer_join(rep, group).select(
                *[ibis.coalesce(out[g], rep[g]).name(g) for g in group],
                *[out[c] for c in out.columns if c not in group],
                rep[m.name],
            )
        )
    assert out is not None
    return out.rename({k: v for k, v in zip(keys, group, strict=True) if k != v})


def compile_with(p: Any, req: Any, changes: set[str]) -> tuple[str, float]:
    """The SQL ``compile_request`` generates with ``proposed_aggregate(changes)`` in place of ``_aggregate``."""
    import ibis

    from channelscope.metrics import query as Q

    original = Q._aggregate
    Q._aggregate = lambda wh, table, ms, rq, keys: proposed_aggregate(wh, table, ms, rq, keys, changes)  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        sql = str(ibis.to_sql(Q.compile_request(p.warehouse, p.catalog, req), dialect="duckdb"))
        return sql, time.perf_counter() - t0
    finally:
        Q._aggregate = original  # type: ignore[assignment]


def experiment_sqls(p: Any, req: Any, generated: str) -> list[tuple[str, str]]:
    """Rewrites of the generated SQL, each a proposed change to metrics/query.py, alone and together."""
    out = []
    for name, what in CHANGES.items():
        out.append((f"{name}: {what}", compile_with(p, req, {name})[0]))
    out.append(("all of " + ", ".join(CHANGES), compile_with(p, req, set(CHANGES))[0]))
    return out


def render_profile(console: Any, orders: int, prof: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(
        f"  profile at {orders:,} orders: compile_request {prof['compile_seconds']:.3f}s, ibis.to_sql "
        f"{prof['to_sql_seconds']:.3f}s ({prof['generated_chars']:,} chars), expr.to_pandas "
        f"{prof['ibis_execute_seconds']:.2f}s; generated SQL {prof['ibis']['seconds']:.2f}s, hand SQL "
        f"{prof['hand']['seconds']:.2f}s (run with the profiler on); files: {', '.join(prof['files'])}"
    )
    for label in ("ibis", "hand"):
        q = prof[label]
        t = Table(
            title=f"slowest operators, {'SQL generated by Ibis' if label == 'ibis' else 'hand SQL'} "
            f"(operator time summed over threads: {q['operator_seconds']:.2f}s)"
        )
        for col in ("operator", "s", "rows out", "detail"):
            t.add_column(col, justify="right" if col in ("s", "rows out") else "left")
        for o in q["operators"]:
            t.add_row(o["operator"], f"{o['seconds']:.2f}", f"{o['rows']:,}", o["info"])
        console.print(t)
    if prof["experiments"]:
        t = Table(title=f"experiments at {orders:,} orders (best of the reps, same connection)")
        for col in ("query", "s", "vs generated", "same rows"):
            t.add_column(col, justify="left" if col == "query" else "right")
        base = prof["experiments"][0]["seconds"]
        for x in prof["experiments"]:
            same = "-" if x["same"] is None else ("yes" if x["same"] else "[red]NO[/]")
            t.add_row(x["name"], f"{x['seconds']:.2f}", f"{x['seconds'] / base:.2f}x", same)
        console.print(t)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        kind, rest = argv[1], argv[2:]
        if kind == "channelscope":
            answer = child_channelscope(*rest)
        elif kind == "sql":
            answer = child_sql(rest[0], rest[1], int(rest[2]), rest[3], rest[4], rest[5])
        else:
            answer = child_profile(rest[0], rest[1], rest[2], rest[3] == "1", int(rest[4]))
        print(json.dumps(answer, default=str))
        return 0
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--orders", type=int, action="append", help="orders to generate (repeat; default 10000000)")
    ap.add_argument("--reps", type=int, default=3, help="measured runs of each side after a warm-up (median kept)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (project, warehouse, panels)")
    ap.add_argument("--workdir", type=Path, help="where to work (default: a new temp folder)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON only")
    ap.add_argument("--show", type=Path, help="render figures saved earlier with --json, and exit")
    ap.add_argument("--memory-limit", help="the project's warehouse.memory_limit (default: the project default)")
    ap.add_argument("--threads", type=int, help="DuckDB threads for both sides (default: all cores)")
    ap.add_argument("--generate-memory-limit", default="8GB", help="DuckDB memory_limit while generating")
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE both queries; slowest operators")
    ap.add_argument("--experiments", action="store_true", help="also time rewrites of the generated SQL")
    args = ap.parse_args(argv)
    if args.show:
        render(json.loads(args.show.read_text()))
        return 0
    sizes = args.orders or [10_000_000]
    root = args.workdir or Path(tempfile.mkdtemp(prefix="channelscope-kpi-bench-"))
    root.mkdir(parents=True, exist_ok=True)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results = []
    try:
        for n in sizes:
            results.append(bench_size(n, root.resolve(), args, say))
            if not args.keep:
                shutil.rmtree(root / f"orders-{n}", ignore_errors=True)
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        render(results)
    return 0 if all(r["check"]["equal"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
