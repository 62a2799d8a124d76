"""Bad rows: a copy of a good single-line order with exactly one defect, so that each is
quarantined for one known reason (listed in ground_truth.json 'bad_rows')."""

from __future__ import annotations

import numpy as np

from channelscope.demo import world as W
from channelscope.demo.text import money

#: The defects each layout can carry (see ground_truth.json 'bad_rows').
DEFECTS = {
    "tmall": ("missing_order_id", "unparseable_date", "paid_before_ordered", "future_date"),
    "jd": ("unknown_sku", "negative_quantity", "price_outlier", "missing_order_id"),
    "douyin": ("unknown_sku", "negative_quantity", "price_outlier", "missing_order_id"),
    "own_store": ("unknown_sku", "negative_quantity", "unparseable_date"),
}
#: Column names of the fields a defect touches, per layout.
FIELDS = {
    "tmall": {"id": "订单编号", "ordered": "订单创建时间", "paid": "订单付款时间"},
    "jd": {"id": "订单号", "sku": "货号", "qty": "订购数量", "price": "京东价", "ordered": "下单时间"},
    "douyin": {
        "id": "主订单编号",
        "sku": "商家编码",
        "qty": "商品数量",
        "price": "商品金额",
        "ordered": "订单提交时间",
    },
    "own_store": {
        "id": "Name",
        "sku": "Lineitem sku",
        "qty": "Lineitem quantity",
        "price": "Lineitem price",
        "ordered": "Created at",
    },
}


def corrupt(channel_id: str, row: dict, defect: str, new_id: str, list_cents: int, rng: np.random.Generator) -> dict:
    """A copy of a good single-line order's row with one defect and a fresh order id."""
    f = FIELDS[channel_id]
    row = dict(row)
    row[f["id"]] = ('="' + new_id + '"') if channel_id == "tmall" else new_id
    if channel_id == "douyin":
        row["子订单编号"] = str(int(new_id) + 1) if new_id else ""
    if defect == "missing_order_id":
        row[f["id"]] = ""
        if channel_id == "douyin":
            row["子订单编号"] = ""
    elif defect == "unparseable_date":
        row[f["ordered"]] = str(rng.choice(["2025-02-30 12:00:00", "昨天 13:05", "2025-13-01 08:00:00"]))
        if channel_id == "own_store":
            row[f["ordered"]] = "2025-02-30 12:00:00 +0800"
    elif defect == "paid_before_ordered":
        row[f["paid"]] = "2025-01-01 08:00:00"
        row[f["ordered"]] = "2025-01-03 09:30:00"
    elif defect == "future_date":
        row[f["ordered"]] = "2099-06-18 10:00:00"
        row[f["paid"]] = "2099-06-18 10:01:00"
    elif defect == "unknown_sku":
        row[f["sku"]] = str(rng.choice(W.UNKNOWN_SKUS))
    elif defect == "negative_quantity":
        row[f["qty"]] = "-1"
    elif defect == "price_outlier":
        row[f["price"]] = money(np.array([list_cents * 50]))[0]
    return row
