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
PAID = "(paid_at IS NOT NULL OR status IN ('paid', 'shipped', 'completed', 'refunded'))"  # 支付金额
PAID_O = "(o.paid_at IS NOT NULL OR o.status IN ('paid', 'shipped', 'completed', 'refunded'))"
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
    """channelscope.yaml (six channels, DuckDB warehouse, the query buffer pool if given) and
    secrets/pseudonym.key (64 hex chars)."""
    lines = ["project:", "  name: kpi bench", "  base_currency: CNY", "  timezone: Asia/Shanghai", "warehouse:"]
    lines.append("  url: duckdb:///warehouse.duckdb")
    if memory_limit:
        lines.append(f"  query_memory_limit: {memory_limit}")
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
    cust = f"CAST(floor({customers} * pow({_u('cust', 2**32)} / {float(2**32)}, 1.3)) AS BIGINT)"
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
                          sum(net_amount_base) FILTER (WHERE {PAID}) AS gmv,
                          sum(net_amount_base) FILTER (WHERE {PAID} AND distributor_id IS NOT NULL)
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
    con.close()
    t = time.perf_counter()
    with Project(folder) as p:  # the rows were written around the batch path: recompute the rollups
        p.warehouse.rebuild_rollups()
    timings["rollups"] = round(time.perf_counter() - t, 2)
    say(f"    rollups: {timings['rollups']:.1f}s")
    con = duckdb.connect(str(db), config={"memory_limit": memory_limit, "preserve_insertion_order": True})
    counts = {
        name: int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]
        for name in ("orders", "order_lines", "refunds", "traffic", "ad_spend", "fees", "products", "distributors")
    }
    stats = con.execute(
        f"SELECT count(DISTINCT customer_key), count(*) FILTER (WHERE {PAID}), "
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

    Paid = a payment time, or a paid/shipped/completed/refunded status. A buyer is new on a day when their first paid order (over
    all time) is on or after that day, returning otherwise. Repeat buyers have >= 2 paid orders in the
    period (the day) and channel. COGS = quantity x unit cost of paid orders' lines. Ratios are taken
    from the summed parts, empty when the denominator is zero; missing parts count as zero.
    """
    rng = f"BETWEEN DATE '{start}' AND DATE '{end}'"
    paid, paid_o = PAID, PAID_O

    def div(a: str, b: str) -> str:
        return f"CAST({a} AS DOUBLE) / nullif(CAST({b} AS DOUBLE), 0)"

    return f"""
WITH first_paid AS (
    SELECT customer_key, min(business_date) AS first_day FROM orders
    WHERE {paid} AND customer_key IS NOT NULL GROUP BY customer_key
), o AS (
    SELECT o.channel_id, o.business_date AS day,
           count(*) AS orders,
           count(*) FILTER (WHERE {paid_o}) AS paid_orders,
           count(DISTINCT o.customer_key) FILTER (WHERE {paid_o}) AS buyers,
           count(DISTINCT o.customer_key) FILTER (WHERE {paid_o} AND f.first_day >= o.business_date) AS new_buyers,
           count(DISTINCT o.customer_key) FILTER (WHERE {paid_o} AND f.first_day < o.business_date)
               AS returning_buyers,
           sum(o.net_amount_base) AS gmv_ordered,
           sum(o.net_amount_base) FILTER (WHERE {paid_o}) AS gmv,
           count(DISTINCT o.distributor_id) FILTER (WHERE {paid_o}) AS active_distributors
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
    WHERE {paid_o} AND o.business_date {rng}
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


def _cpu() -> float:
    """User + system CPU seconds of this process so far, all threads (DuckDB's included)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


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
    c0, t0 = _cpu(), time.perf_counter()
    try:
        p = Project(folder, read_only=True)
        df = p.kpis(names, by=["channel"], grain="day", start=start, end=end)
        p.close()
    except Exception as exc:  # out of memory is a result, not a crash of the bench
        return {"error": str(exc).splitlines()[0][:200], "baseline_mib": base, "peak_mib": _hwm_mib()}
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    if out:
        df.to_pickle(out)
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": len(df), "baseline_mib": base, "peak_mib": _hwm_mib()}


def child_sql(db: str, memory_limit: str, threads: int, start: str, end: str, out: str) -> dict[str, Any]:
    """The hand-written query with duckdb on the same file (read-only, same memory_limit and threads)."""
    import duckdb
    import pandas  # noqa: F401  (fetchdf needs it; imported before the clock starts, like channelscope's)

    sql = hand_sql(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    base = _rss_mib()
    c0, t0 = _cpu(), time.perf_counter()
    config: dict[str, Any] = {"memory_limit": memory_limit} if memory_limit else {}  # else DuckDB's default
    if threads:
        config["threads"] = threads
    try:
        con = duckdb.connect(db, read_only=True, config=config)
        con.execute(f"SET temp_directory = '{Path(db).parent / '.channelscope-tmp'}'")  # as the project's
        df = con.execute(sql).fetchdf()
        con.close()
    except duckdb.Error as exc:
        return {"error": str(exc).splitlines()[0][:200], "baseline_mib": base, "peak_mib": _hwm_mib()}
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    if out:
        df.to_pickle(out)
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": len(df), "baseline_mib": base, "peak_mib": _hwm_mib()}


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child; return its JSON answer plus its peak RSS and CPU time from wait4."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().decode().strip().splitlines()
        if proc.returncode != 0 or not lines:
            answer = {"error": f"exit code {proc.returncode}", "failed": True}
        else:
            answer = json.loads(lines[-1])
    answer["wait4_maxrss_mib"] = usage.ru_maxrss / 1024  # includes the parent's RSS at spawn: not reported
    answer["process_cpu_seconds"] = usage.ru_utime + usage.ru_stime  # the whole child, imports included
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


def _side(warm: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    side: dict[str, Any] = {"warm_up": warm, "runs": runs, "error": warm.get("error")}
    if ok:
        for key in ("seconds", "cpu_seconds", "peak_mib", "baseline_mib"):
            side[key] = _median(ok, key)
    else:
        side["error"] = side["error"] or next((r["error"] for r in runs if "error" in r), "no run")
        side["peak_mib"] = max(r.get("peak_mib", 0.0) for r in [warm, *runs])
    return side


def bench_size(orders: int, root: Path, args: argparse.Namespace, say: Any) -> dict[str, Any]:
    folder = root / f"orders-{orders}"
    marker = folder / "generated.json"
    reuse = args.reuse and marker.exists()
    if folder.exists() and not reuse:
        shutil.rmtree(folder)
    write_project(folder, args.memory_limit, args.threads)
    from channelscope.config import load_config

    # the project's query pool (warehouse.query_memory_limit; empty: DuckDB's default, 80% of RAM): the
    # hand SQL gets the same
    memory_limit = load_config(folder).warehouse.query_memory_limit or ""
    if reuse:
        gen = json.loads(marker.read_text())
        say(f"[{orders:,} orders] reusing the warehouse generated earlier in {folder}")
    else:
        say(f"[{orders:,} orders] generating the warehouse ...")
        gen = generate(folder, orders, args.generate_memory_limit, say)
        marker.write_text(json.dumps(gen))
        say(f"[{orders:,} orders] generated in {gen['seconds']:.1f}s ({gen['file_mib']:.0f} MiB): {gen['counts']}")
    start, end = str(START), str(END)
    cs_args = ["channelscope", str(folder), start, end]
    sql_args = ["sql", gen["db"], memory_limit, str(args.threads or 0), start, end]
    load_before = os.getloadavg()[0]
    say(f"[{orders:,} orders] warm-up (memory_limit {memory_limit or 'default'}) ...")
    for f in ("panel-channelscope.pkl", "panel-sql.pkl"):
        (folder / f).unlink(missing_ok=True)
    warm_cs = run_child([*cs_args, str(folder / "panel-channelscope.pkl")])
    warm_sql = run_child([*sql_args, str(folder / "panel-sql.pkl")])
    for name, warm in (("channelscope", warm_cs), ("hand SQL", warm_sql)):
        if "error" in warm:
            say(f"[{orders:,} orders] {name} failed: {warm['error']}")
    cs_runs: list[dict[str, Any]] = []
    sql_runs: list[dict[str, Any]] = []
    for i in range(args.reps):  # interleaved, so that load from elsewhere spreads over both
        if "error" not in warm_cs:
            cs_runs.append(run_child([*cs_args, ""]))
        if "error" not in warm_sql:
            sql_runs.append(run_child([*sql_args, ""]))
        say(
            f"[{orders:,} orders] run {i + 1}/{args.reps}: "
            + ", ".join(
                f"{n} {r[-1].get('seconds', float('nan')):.2f}s {r[-1].get('peak_mib', float('nan')):.0f} MiB"
                for n, r in (("channelscope", cs_runs), ("hand SQL", sql_runs))
                if r
            )
        )
    cs, sq = _side(warm_cs, cs_runs), _side(warm_sql, sql_runs)
    both = "seconds" in cs and "seconds" in sq
    check = (
        compare_panels(folder / "panel-channelscope.pkl", folder / "panel-sql.pkl")
        if both
        else {"equal": False, "rows": [0, 0], "same_keys": False, "metrics": {}, "skipped": True}
    )
    result: dict[str, Any] = {
        "orders": orders,
        "generate": {k: v for k, v in gen.items() if k != "db"},
        "memory_limit": memory_limit or "default",
        "threads": args.threads or os.cpu_count(),
        "reps": args.reps,
        "channelscope": cs,
        "sql": sq,
        "ratio": cs["seconds"] / sq["seconds"] if both else None,
        "cpu_ratio": cs["cpu_seconds"] / sq["cpu_seconds"] if both else None,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "check": check,
        "folder": str(folder),
    }
    if args.explain or args.experiments:
        say(f"[{orders:,} orders] profiling ...")
        prof = run_child(["profile", str(folder), start, end, "1" if args.experiments else "0"])
        if args.experiments and "error" not in prof:
            prof["reps"] = args.experiment_reps
            run_experiments(prof, gen["db"], memory_limit, args.threads or 0, args.experiment_reps, say)
        result["profile"] = prof
    return result


def _fmt_side(side: dict[str, Any]) -> str:
    if "seconds" not in side:
        return "[red]failed[/]"
    return f"{side['seconds']:.2f} ({side['cpu_seconds']:.1f})"


def render(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    t = Table(title="KPI panel: 38 built-in KPIs by channel x day over one year; channelscope vs hand-written SQL")
    for col in (
        "orders",
        "memory_limit",
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
        if r["ratio"] is None:
            ratio = "-"
        else:
            ratio = f"{r['ratio']:.2f}x" + ("" if r["ratio"] <= 1.2 else " [red](>1.2)[/]")
            ratio += f" ({r['cpu_ratio']:.2f}x)"
        panels = "-" if chk.get("skipped") else ("equal" if chk["equal"] else "[red]DIFFER[/]")
        t.add_row(
            f"{r['orders']:,}",
            r["memory_limit"],
            f"{chk['rows'][0]:,}",
            _fmt_side(cs),
            _fmt_side(sq),
            ratio,
            f"{cs['peak_mib']:.0f}",
            f"{sq['peak_mib']:.0f}",
            panels,
        )
    console.print(t)
    for r in results:
        g, chk, cs, sq = r["generate"], r["check"], r["channelscope"], r["sql"]
        console.print(
            f"[bold]{r['orders']:,} orders[/]: generated in {g['seconds']:.0f}s, {g['file_mib']:.0f} MiB; "
            f"{g['counts']['order_lines']:,} lines, {g['counts']['refunds']:,} refunds, {g['customers']:,} "
            f"customers, {g['paid_orders']:,} paid orders, {g['first_date']} .. {g['last_date']}"
        )
        for name, side in (("channelscope", cs), ("hand SQL", sq)):
            if side.get("error"):
                console.print(f"  [red]{name} failed[/] (memory_limit {r['memory_limit']}): {side['error']}")
        runs = "; ".join(
            f"{name} " + ", ".join(f"{x['seconds']:.2f}" for x in side["runs"] if "seconds" in x)
            for name, side in (("channelscope", cs), ("hand SQL", sq))
            if side["runs"]
        )
        warm = ", ".join(
            f"{name} {side['warm_up']['seconds']:.2f}"
            for name, side in (("channelscope", cs), ("hand SQL", sq))
            if "seconds" in side["warm_up"]
        )
        console.print(
            f"  runs (s): {runs or '-'}; warm-up {warm or '-'}; median of {r['reps']}; process baseline after "
            f"imports {cs.get('baseline_mib', float('nan')):.0f} / {sq.get('baseline_mib', float('nan')):.0f} MiB; "
            f"{r['threads']} threads; 1-min load average {r['load_average'][0]} -> {r['load_average'][1]} on "
            f"{os.cpu_count()} cores (other work on the machine inflates the wall figures, CPU much less)"
        )
        if chk.get("skipped"):
            pass
        elif chk["equal"]:
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
                + f"; every other KPI equal ({len(chk['metrics']) - len(bad)} of {len(chk['metrics'])})"
            )
        prof = r.get("profile")
        if prof and "error" not in prof:
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


def child_profile(folder: str, start: str, end: str, experiments: bool) -> dict[str, Any]:
    """Compile the request as channelscope does (and with each proposed change), keep the SQL, profile."""
    import ibis

    from channelscope import Project
    from channelscope.metrics.query import KpiRequest, compile_request

    root = Path(folder)
    p = Project(folder, read_only=True)
    req = KpiRequest(
        tuple(builtin_names()), ("channel",), "day", dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    )
    t0 = time.perf_counter()
    expr = compile_request(p.warehouse, p.catalog, req)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    generated = str(ibis.to_sql(expr, dialect="duckdb"))
    to_sql_s = time.perf_counter() - t0
    con = p.warehouse.staging()
    hand = hand_sql(req.start, req.end)  # type: ignore[arg-type]
    out: dict[str, Any] = {
        "compile_seconds": compile_s,
        "to_sql_seconds": to_sql_s,
        "generated_chars": len(generated),
        "memory_limit": con.execute("SELECT current_setting('memory_limit')").fetchone()[0],  # type: ignore[index]
        "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],  # type: ignore[index]
        "experiments": [],
    }
    for label, sql in (("ibis", generated), ("hand", hand)):
        try:
            out[label] = profile_query(con, sql, root, label)
        except Exception as exc:  # an engine error (out of memory) is a result here
            out[label] = {"error": str(exc).splitlines()[0][:200]}
    out["files"] = sorted(f.name for f in root.glob("*") if f.name.startswith(("kpi-", "explain-", "profile-")))
    if experiments:
        variants: list[tuple[str, set[str]]] = [("generated SQL as it is (metrics/query.py today)", set())]
        variants += [(f"{name}: {what}", {name}) for name, what in CHANGES.items()]
        variants.append(("all of: " + ", ".join(CHANGES), set(CHANGES)))
        # the copies of _aggregate/compile_request here must still match metrics/query.py
        copy_sql = str(ibis.to_sql(proposed_compile(p.warehouse, p.catalog, req, set()), dialect="duckdb"))
        out["copy_in_sync"] = copy_sql == generated
        for i, (name, changes) in enumerate(variants):
            best = float("inf")
            for _ in range(3):  # the compile is Python: best of 3
                sql, seconds = compile_with(p, req, changes)
                best = min(best, seconds)
            f = root / f"exp-{i}.sql"
            f.write_text(sql + "\n", encoding="utf-8")
            out["experiments"].append({"name": name, "changes": sorted(changes), "file": str(f), "compile": best})
    p.close()
    return out


def child_sqlfile(db: str, file: str, memory_limit: str, threads: int, reps: int, out: str) -> dict[str, Any]:
    """Run one SQL file ``reps`` times on a fresh read-only connection; median wall and CPU seconds."""
    import duckdb
    import pandas  # noqa: F401

    sql = Path(file).read_text(encoding="utf-8")
    config: dict[str, Any] = {"memory_limit": memory_limit} if memory_limit else {}
    if threads:
        config["threads"] = threads
    con = duckdb.connect(db, read_only=True, config=config)
    con.execute(f"SET temp_directory = '{Path(db).parent / '.channelscope-tmp'}'")
    walls, cpus = [], []
    try:
        for _ in range(reps):
            c0, t0 = _cpu(), time.perf_counter()
            df = con.execute(sql).fetchdf()
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu() - c0)
    except duckdb.Error as exc:
        return {"error": str(exc).splitlines()[0][:200], "peak_mib": _hwm_mib()}
    if out:
        df.to_pickle(out)
    return {"seconds": statistics.median(walls), "query_cpu": statistics.median(cpus), "peak_mib": _hwm_mib()}


def run_experiments(prof: dict[str, Any], db: str, memory_limit: str, threads: int, reps: int, say: Any) -> None:
    """Each variant's SQL (and the hand SQL) in its own child; panels compared with today's."""
    folder = Path(db).parent
    rows = [*prof["experiments"]]
    rows.append({"name": "hand-written SQL", "changes": None, "file": str(folder / "kpi-hand.sql"), "compile": 0.0})
    for i, x in enumerate(rows):
        out = folder / f"exp-{i}.pkl"
        say(f"    experiment {i + 1}/{len(rows)}: {x['name'][:70]}")
        x.update(run_child(["sqlfile", db, x["file"], memory_limit, str(threads), str(reps), str(out)]))
        x["panel"] = None if "error" in x else str(out)
    reference = next((x for x in rows if x["panel"]), None)  # today's SQL, or the first variant that ran
    hand = rows[-1]
    for x in rows:
        if x["panel"] and reference and x is not reference:
            chk = compare_panels(Path(reference["panel"]), Path(x["panel"]))
            x["same_as"] = reference["name"].split(":")[0].split(" (")[0]
            x["differ"] = (
                {k: v["differ"] for k, v in chk["metrics"].items() if v["differ"]} if chk["same_keys"] else {"keys": 1}
            )
        if x["panel"] and hand["panel"] and x is not hand:
            x["equals_hand"] = compare_panels(Path(x["panel"]), Path(hand["panel"]))["equal"]
    prof["experiments"] = rows


#: proposed changes to metrics/query.py ``_aggregate``, each alone and all together
CHANGES = {
    "repeat": "repeat buyers from the frame before the customer_type join (unless cut or filtered by it)",
    "where": "a filter every measure of a table shares goes to WHERE (order_lines: paid), not FILTER",
    "day": "grain 'day': the date is the period (no DATE_TRUNC, which turns dates into timestamps)",
    "join": "per-table aggregates combined by full outer joins on the keys, not UNION ALL + GROUP BY",
    "select1": "zero-fill and all derived metrics in one projection, not one mutate per derived metric",
    "tables": "Ibis table objects cached per warehouse (con.table() asks DuckDB for the schema each call)",
}


def proposed_aggregate(wh: Any, table: str, measures: list[Any], req: Any, keys: list[str], changes: set[str]) -> Any:
    """``metrics.query._aggregate`` with the proposed ``changes`` (a copy; the unchanged lines are the same)."""
    import ibis

    from channelscope.metrics import query as Q

    dims = [*req.by, *(f for f, _ in req.filters)]
    needs = {Q.DIMENSIONS[d][1] for d in dims if Q.DIMENSIONS[d][1]} | {Q.DIMENSIONS[d][0] for d in dims}
    needs |= {m.times for m in measures if m.times}
    if "distributors" in needs:
        needs.add("distributor_id")
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
        base = base.filter(base[m.column].notnull())  # orders without a known customer are nobody's repeat
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


def proposed_compile(wh: Any, catalog: Any, req: Any, changes: set[str]) -> Any:
    """``metrics.query.compile_request`` (a copy) with ``proposed_aggregate(changes)`` and, with "join",
    the per-table aggregates combined by full outer joins on the keys, each bringing its own columns,
    instead of a UNION ALL padded with NULL columns and grouped again; with "select1", zero-filling
    and every derived metric in one projection (formulas inlined) instead of one ``mutate`` each."""
    import ibis

    from channelscope.metrics import query as Q

    Q.validate(catalog, req)
    measures = catalog.base_measures(list(req.metrics))
    keys = ["period", *req.by]
    by_table: dict[str, list[Any]] = {}
    for m in measures:
        by_table.setdefault(m.table, []).append(m)
    if "join" in changes:
        combined = None
        for table, ms in by_table.items():
            agg = proposed_aggregate(wh, table, ms, req, keys, changes)
            part = agg.select(*keys, *[agg[m.name].cast(Q._typed(m)).name(m.name) for m in ms])
            if combined is None:
                combined = part
                continue
            left, right = combined.view(), part.rename({f"_r_{k}": k for k in keys}).view()
            combined = left.outer_join(right, [(k, f"_r_{k}") for k in keys]).select(
                *[ibis.coalesce(left[k], right[f"_r_{k}"]).name(k) for k in keys],
                *[left[c] for c in left.columns if c not in keys],
                *[right[m.name] for m in ms],
            )
        assert combined is not None
    else:
        parts = []
        for table, ms in by_table.items():
            agg = proposed_aggregate(wh, table, ms, req, keys, changes)
            cols = [agg[k] for k in keys]
            for m in measures:
                typed = Q._typed(m)
                cols.append((agg[m.name] if m.name in agg.columns else ibis.null()).cast(typed).name(m.name))
            parts.append(agg.select(*cols))
        union = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
        combined = union.group_by(keys).aggregate(**{m.name: union[m.name].sum() for m in measures})
    if "select1" not in changes:
        combined = combined.mutate(**{m.name: combined[m.name].fill_null(0) for m in measures})
        for d in catalog.derived_order(list(req.metrics)):
            combined = combined.mutate(**{d.name: Q._formula(d, combined)})
        return combined.select(*keys, *req.metrics).order_by(keys)
    values: dict[str, Any] = {m.name: combined[m.name].fill_null(0) for m in measures}
    for d in catalog.derived_order(list(req.metrics)):
        values[d.name] = _formula_inline(d, values)
    return combined.select(*keys, *[values[n].name(n) for n in req.metrics]).order_by(keys)


def _formula_inline(d: Any, values: dict[str, Any]) -> Any:
    """``metrics.query.formula_expr`` over expressions (base measures zero-filled, derived ones inlined)."""
    from channelscope.metrics import query as Q

    return Q.formula_expr(d, lambda name: values[name])


def compile_with(p: Any, req: Any, changes: set[str]) -> tuple[str, float]:
    """The SQL of ``proposed_compile(changes)`` and the seconds to build and compile it (as kpis() would,
    on a warehouse opened just before: with "tables", the first call fills the cache)."""
    import functools

    import ibis

    from channelscope.metrics.query import compile_request

    backend = p.warehouse.ibis
    if not changes:  # today's code itself, not the copy
        t0 = time.process_time()
        sql = str(ibis.to_sql(compile_request(p.warehouse, p.catalog, req), dialect="duckdb"))
        return sql, time.process_time() - t0
    if "tables" in changes:
        backend.table = functools.lru_cache(maxsize=None)(type(backend).table.__get__(backend))
    try:
        t0 = time.process_time()  # CPU seconds of this process: the compile is Python, other load inflates wall
        sql = str(ibis.to_sql(proposed_compile(p.warehouse, p.catalog, req, changes), dialect="duckdb"))
        return sql, time.process_time() - t0
    finally:
        backend.__dict__.pop("table", None)


def render_profile(console: Any, orders: int, prof: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(
        f"  profile at {orders:,} orders (memory_limit {prof['memory_limit']}): compile_request "
        f"{prof['compile_seconds']:.2f}s + ibis.to_sql {prof['to_sql_seconds']:.2f}s "
        f"({prof['generated_chars']:,} chars of SQL); files in the work folder: {', '.join(prof['files'])}"
    )
    for label in ("ibis", "hand"):
        q = prof[label]
        what = "SQL generated by Ibis" if label == "ibis" else "hand SQL"
        if "error" in q:
            console.print(f"  [red]{what} failed[/]: {q['error']}")
            continue
        t = Table(
            title=f"slowest operators, {what}: {q['seconds']:.2f}s with the profiler on "
            f"(operator time summed over threads: {q['operator_seconds']:.2f}s)"
        )
        for col in ("operator", "s", "rows out", "detail"):
            t.add_column(col, justify="right" if col in ("s", "rows out") else "left")
        for o in q["operators"]:
            t.add_row(o["operator"], f"{o['seconds']:.2f}", f"{o['rows']:,}", o["info"])
        console.print(t)
    rows = prof.get("experiments") or []
    if not rows or ("seconds" not in rows[0] and "error" not in rows[0]):
        return
    base = next((x for x in rows if "seconds" in x), None)
    hand = rows[-1]
    t = Table(
        title=f"experiments at {orders:,} orders: proposed changes to metrics/query.py, each alone and together "
        f"(SQL run in its own process, median of {prof.get('reps', 1)}; memory_limit {prof['memory_limit']})"
    )
    for col in ("variant", "compile cpu s", "query s (cpu)", "compile+query s", "vs hand SQL", "peak MiB", "panel"):
        t.add_column(col, justify="left" if col in ("variant", "panel") else "right")
    for x in rows:
        if "error" in x:
            t.add_row(
                x["name"], f"{x['compile']:.2f}", "[red]failed[/]", "", "", f"{x['peak_mib']:.0f}", x["error"][:40]
            )
            continue
        total = x["compile"] + x["seconds"]
        vs = f"{total / hand['seconds']:.2f}x" if "seconds" in hand else ""
        if x is base:
            panel = "reference"
        elif "differ" not in x:
            panel = ""
        elif not x["differ"]:
            panel = "same as " + x["same_as"]
        else:
            panel = "differs: " + ", ".join(f"{k} ({v})" for k, v in x["differ"].items())
        if x.get("equals_hand") is not None:
            panel += "; = hand SQL" if x["equals_hand"] else "; ≠ hand SQL"
        t.add_row(
            x["name"],
            f"{x['compile']:.2f}" if x["changes"] is not None else "-",
            f"{x['seconds']:.2f} ({x['query_cpu']:.1f})",
            f"{total:.2f}",
            vs,
            f"{x['peak_mib']:.0f}",
            panel,
        )
    console.print(t)
    if prof.get("copy_in_sync") is False:
        console.print(
            "  [red]the bench's copy of _aggregate/compile_request no longer generates today's SQL[/]: "
            "sync proposed_aggregate/proposed_compile with metrics/query.py before reading the variants"
        )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        kind, rest = argv[1], argv[2:]
        if kind == "channelscope":
            answer = child_channelscope(*rest)
        elif kind == "sql":
            answer = child_sql(rest[0], rest[1], int(rest[2]), rest[3], rest[4], rest[5])
        elif kind == "sqlfile":
            answer = child_sqlfile(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4]), rest[5])
        else:
            answer = child_profile(rest[0], rest[1], rest[2], rest[3] == "1")
        print(json.dumps(answer, default=str))
        return 0
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--orders", type=int, action="append", help="orders to generate (repeat; default 10000000)")
    ap.add_argument("--reps", type=int, default=3, help="measured runs of each side after a warm-up (median kept)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (project, warehouse, panels)")
    ap.add_argument("--reuse", action="store_true", help="reuse a warehouse generated earlier in --workdir")
    ap.add_argument("--workdir", type=Path, help="where to work (default: a new temp folder)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON only")
    ap.add_argument("--show", type=Path, help="render figures saved earlier with --json, and exit")
    ap.add_argument(
        "--memory-limit",
        help="the project's warehouse.query_memory_limit, also given to the hand SQL (default: DuckDB's, 80%% of RAM)",
    )
    ap.add_argument("--threads", type=int, help="DuckDB threads for both sides (default: all cores)")
    ap.add_argument("--generate-memory-limit", default="8GB", help="DuckDB memory_limit while generating")
    ap.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE both queries; slowest operators")
    ap.add_argument("--experiments", action="store_true", help="also time rewrites of the generated SQL")
    ap.add_argument("--experiment-reps", type=int, default=3, help="runs of each experiment's SQL (median kept)")
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
