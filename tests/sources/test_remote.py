"""REST (paginated, incremental cursor) and SQL sources, against a real local HTTP server and DuckDB."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import duckdb
from tests.conftest import write_project

from channelscope import Project

ORDERS = [
    {
        "id": f"R{i}",
        "buyer": f"1390000{i:04d}",
        "created": f"2024-03-{1 + i % 28:02d}T10:00:00+08:00",
        "total_fen": 1000 + i,
        "state": "paid",
        "updated": f"2024-03-{1 + i % 28:02d}T10:00:{i % 60:02d}+08:00",
    }
    for i in range(25)
]


class Api(BaseHTTPRequestHandler):
    records: ClassVar[list[dict]] = ORDERS
    seen: ClassVar[list[dict]] = []

    def do_GET(self) -> None:
        q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        Api.seen.append(q)
        if self.headers.get("Authorization") != "Bearer s3cret":
            self.send_response(401)
            self.end_headers()
            return
        rows = sorted(self.records, key=lambda r: r["updated"])
        if "since" in q:
            rows = [r for r in rows if r["updated"] > q["since"]]
        page, size = int(q.get("page", 1)), int(q.get("per_page", 10))
        body = json.dumps({"data": {"orders": rows[(page - 1) * size : page * size]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_rest_source_pages_and_resumes_from_its_cursor(tmp_path: Path, monkeypatch, warehouse_url: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/orders"
    monkeypatch.setenv("SHOP_TOKEN", "Bearer s3cret")
    body = f"""
channels: [{{id: mini, name: 小程序, kind: own_store, platform: wechat}}]
sources:
  - name: api
    kind: rest
    url: {url}
    channel_id: mini
    records_path: data.orders
    page_param: page
    page_size: 10
    page_size_param: per_page
    cursor_field: updated
    cursor_param: since
    headers_env: {{Authorization: SHOP_TOKEN}}
    mapping:
      table: orders
      columns:
        source_order_id: id
        customer_key: {{from: buyer, pii: phone}}
        ordered_at: created
        updated_at: updated
        status: state
        net_amount: {{from: total_fen, unit: fen}}
"""
    folder = write_project(tmp_path / "shop", body, warehouse_url)
    try:
        with Project(folder) as p:
            (r,) = p.ingest()
            assert (r.rows_in, r.loaded) == (25, 25)
            total = p.table("orders").net_amount.sum().execute()
            assert float(total) == sum(o["total_fen"] for o in ORDERS) / 100
            Api.records = [*ORDERS, {**ORDERS[0], "id": "R99", "updated": "2024-03-30T00:00:00+08:00"}]
            Api.seen.clear()
            (r2,) = p.ingest()
            assert (r2.rows_in, r2.loaded) == (1, 1)
            assert Api.seen[0]["since"] == max(o["updated"] for o in ORDERS)
            (r3,) = p.ingest()
            assert r3.status == "skipped"
    finally:
        server.shutdown()
        Api.records = ORDERS


def test_sql_source_reads_any_ibis_url(tmp_path: Path, warehouse_url: str) -> None:
    erp = tmp_path / "erp.duckdb"
    with duckdb.connect(str(erp)) as con:
        con.execute("CREATE TABLE sku (code VARCHAR, title VARCHAR, price DECIMAL(10,2), cost DECIMAL(10,2))")
        con.execute("INSERT INTO sku VALUES ('A1', '面霜', 199, 60), ('B2', '精华', 299.5, 80)")
    body = f"""
channels: [{{id: t, name: t, kind: marketplace, platform: t}}]
sources:
  - name: erp
    kind: sql
    url: duckdb://{erp}
    query: SELECT * FROM sku
    mapping:
      table: products
      columns: {{sku: code, name: title, list_price: price, unit_cost: cost}}
"""
    folder = write_project(tmp_path / "shop", body, warehouse_url)
    with Project(folder) as p:
        (r,) = p.ingest()
        assert (r.rows_in, r.loaded) == (2, 2)
        prods = p.table("products").to_pandas().set_index("sku")
        assert float(prods.loc["B2", "list_price"]) == 299.5
        assert p.ingest()[0].status == "skipped"
