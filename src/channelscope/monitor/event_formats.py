"""Order events as they arrive over HTTP, turned into rows of an events source's layout.

Two formats:
- **generic** (``POST /events/orders``): one JSON object or a list of them; each object is one row
  of the events source's layout, i.e. its keys are the source columns its preset or mapping reads
  (for ``preset: canonical_orders``: source_order_id, channel_id, ordered_at, status, currency,
  net_amount...). Values are text, numbers, booleans or null; numbers keep their exact digits.
- **Shopify** (``POST /events/shopify/orders``): the order object of Shopify's ``orders/*`` webhooks,
  rewritten into the columns of Shopify's orders CSV export (one row per line item, the order's own
  columns on its first row), so the shipped ``shopify_orders`` preset maps it like an export.

Both end up as JSON Lines files on the same clean path as any file (monitor/event_batches.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from channelscope.sources.mapping import Mapping


class EventFormatError(ValueError):
    """A posted event is not in the expected shape; ``loc`` names the field (FastAPI style)."""

    def __init__(self, loc: list[str | int], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


@dataclass(frozen=True)
class Layout:
    """The source columns an events source reads: all of them, and those every event must carry."""

    columns: tuple[str, ...]
    required: frozenset[str]

    @classmethod
    def of(cls, mapping: Mapping) -> Layout:
        columns: list[str] = []
        required: set[str] = set()
        for target in mapping.targets():
            for spec in target.columns.values():
                names = spec.from_ if isinstance(spec.from_, list) else [spec.from_] if spec.from_ else []
                for name in names:
                    if name not in columns:
                        columns.append(name)
                    if not spec.optional and spec.default is None:
                        required.add(name)
        return cls(tuple(columns), frozenset(required))


def parse_json(body: bytes) -> Any:
    """The body as JSON, floats kept as their text (money stays exact)."""
    try:
        return json.loads(body, parse_float=str)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventFormatError(["body"], f"not valid JSON: {exc}") from None


def _text(value: Any, loc: list[str | int]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    raise EventFormatError(loc, "must be text, a number, true/false or null (not a list or object)")


def generic_rows(payload: Any, layout: Layout) -> list[dict[str, str | None]]:
    """Rows of the events source's layout from a generic body (an object or a list of objects)."""
    events = payload if isinstance(payload, list) else [payload]
    if not events:
        raise EventFormatError(["body"], "an empty list: post one order event or a list of them")
    rows = []
    for i, event in enumerate(events):
        where: list[str | int] = ["body", i] if isinstance(payload, list) else ["body"]
        if not isinstance(event, dict):
            raise EventFormatError(where, "an order event must be a JSON object")
        unknown = sorted(set(event) - set(layout.columns))
        if unknown:
            raise EventFormatError(
                [*where, unknown[0]], f"unknown field; this source reads: {', '.join(layout.columns)}"
            )
        for name in sorted(layout.required):
            if event.get(name) in (None, ""):
                raise EventFormatError([*where, name], "field required")
        rows.append({c: _text(event.get(c), [*where, c]) for c in layout.columns})
    return rows


SHOPIFY_COLUMNS = (
    "Name", "Id", "Email", "Financial Status", "Paid at", "Currency", "Subtotal", "Shipping", "Taxes",
    "Total", "Discount Amount", "Created at", "Cancelled at", "Refunded Amount", "Billing Phone",
    "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku", "Lineitem discount",
)  # fmt: skip

_PAID = {"paid", "partially_paid", "partially_refunded", "refunded"}


def _money_sum(values: list[Any]) -> str:
    total = Decimal(0)
    for v in values:
        try:
            total += Decimal(str(v))
        except InvalidOperation:
            continue
    return str(total)


def _shipping(order: dict[str, Any]) -> str | None:
    money = ((order.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount")
    if money is not None:
        return str(money)
    lines = order.get("shipping_lines") or []
    return _money_sum([s.get("price") for s in lines if isinstance(s, dict)]) if lines else "0"


def _refunded(order: dict[str, Any]) -> str:
    amounts = [
        t.get("amount")
        for r in order.get("refunds") or []
        if isinstance(r, dict)
        for t in r.get("transactions") or []
        if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") in (None, "success")
    ]
    return _money_sum(amounts)


def shopify_rows(order: Any) -> list[dict[str, str | None]]:
    """Shopify's webhook order (REST Admin API Order resource) as rows of its orders CSV export."""
    if not isinstance(order, dict):
        raise EventFormatError(["body"], "a Shopify order webhook body is one JSON object")
    for name in ("name", "created_at", "currency", "total_price", "line_items"):
        if order.get(name) in (None, ""):
            raise EventFormatError(["body", name], "field required")
    items = order["line_items"]
    if not isinstance(items, list) or not items:
        raise EventFormatError(["body", "line_items"], "a non-empty list of line items")
    status = order.get("financial_status")
    billing = order.get("billing_address") or {}
    customer = order.get("customer") or {}
    phone = billing.get("phone") or order.get("phone") or customer.get("phone")
    head = {
        "Name": order["name"],
        "Id": order.get("id"),
        "Email": order.get("email") or order.get("contact_email"),
        "Financial Status": status,
        "Paid at": order.get("processed_at") if status in _PAID else None,
        "Currency": order["currency"],
        "Subtotal": order.get("subtotal_price"),
        "Shipping": _shipping(order),
        "Taxes": order.get("total_tax"),
        "Total": order["total_price"],
        "Discount Amount": order.get("total_discounts"),
        "Created at": order["created_at"],
        "Cancelled at": order.get("cancelled_at"),
        "Refunded Amount": _refunded(order),
        "Billing Phone": phone,
    }
    rows = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise EventFormatError(["body", "line_items", i], "a line item must be a JSON object")
        for name in ("quantity", "price"):
            if item.get(name) in (None, ""):
                raise EventFormatError(["body", "line_items", i, name], "field required")
        allocations = [a.get("amount") for a in item.get("discount_allocations") or [] if isinstance(a, dict)]
        discount = _money_sum(allocations) if allocations else item.get("total_discount")
        row: dict[str, Any] = dict.fromkeys(SHOPIFY_COLUMNS) | ({"Name": order["name"]} if i else head)
        row |= {
            "Lineitem quantity": item["quantity"],
            "Lineitem name": item.get("name") or item.get("title"),
            "Lineitem price": item["price"],
            "Lineitem sku": item.get("sku") or (str(item["variant_id"]) if item.get("variant_id") else None),
            "Lineitem discount": discount,
        }
        rows.append({k: _text(v, ["body", k]) for k, v in row.items()})
    return rows
