"""FX at each fact's business date, for any history; a missing rate is one clear error."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.conftest import write_project

from channelscope import Project

BODY = """
channels: [{id: us, name: US store, kind: own_store, platform: shopify, currency: USD, timezone: America/New_York}]
sources:
  - {name: fx, path: exports/fx.csv, preset: canonical_fx_rates}
  - {name: shop, path: exports/orders.csv, preset: canonical_orders, channel_id: us}
"""
ORDERS = (
    "source_order_id,ordered_at,status,net_amount\n"
    "1,2017-03-05 10:00:00,paid,100.00\n"
    "2,2017-08-01 10:00:00,paid,10.00\n"
    "3,2017-12-31 10:00:00,paid,1.00\n"
)


def test_amounts_convert_at_their_business_date_and_a_gap_is_one_error(tmp_path: Path, warehouse_url: str) -> None:
    root = write_project(tmp_path / "shop", BODY, warehouse_url)
    (root / "exports").mkdir()
    (root / "exports" / "orders.csv").write_text(ORDERS)
    (root / "exports" / "fx.csv").write_text("date,currency,rate_to_base\n2024-01-01,USD,7.1034\n")
    with Project(root) as p:
        fx, shop = p.ingest()
        assert fx.status == "loaded"
        # the 2017 history has no rate: the file fails whole, with the currency, the dates and the fix
        assert shop.status == "failed"
        assert (
            "no FX rate to CNY for USD on or before 2017-03-05 (3 rows of orders dated 2017-03-05 to 2017-12-31)"
            in (shop.message)
        )
        assert "canonical_fx_rates" in shop.message and "'2017-03-05,USD,<rate>'" in shop.message
        assert p.table("orders").count().execute() == 0
        # with the history's rates, each order converts at the latest rate on or before its day
        (root / "exports" / "fx.csv").write_text(
            "date,currency,rate_to_base\n2017-01-01,USD,6.9000\n2017-07-01,USD,6.7000\n2024-01-01,USD,7.1034\n"
        )
        fx, shop = p.ingest()
        assert shop.status == "loaded", shop.message
        o = p.table("orders").to_pandas().set_index("source_order_id")
        got = {k: Decimal(str(v)) for k, v in o.net_amount_base.items()}
        assert got == {"1": Decimal("690.00"), "2": Decimal("67.00"), "3": Decimal("6.70")}
