"""KPI definitions: base measures over canonical tables and derived metrics over other metrics.

One definition per KPI (DESIGN rule 5). The built-in catalog covers what channel teams use daily;
a project adds or overrides metrics in the ``kpis`` section of ``channelscope.yaml``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from channelscope.errors import ConfigError
from channelscope.metrics.basis import Basis, merge
from channelscope.model.semantic import FRAME_DATES, PAID_STATUSES, frame_columns

Agg = Literal["sum", "count", "count_distinct", "repeat_buyers"]
Unit = Literal["count", "money", "ratio", "percent", "quantity", "money_per_count"]

#: the paid statuses (one definition: ``model.semantic.PAID_STATUSES``)
PAID = list(PAID_STATUSES)


#: the tables a measure can read and the column that places its rows in time (a date)
MEASURE_TABLES: dict[str, str] = FRAME_DATES


class Measure(BaseModel):
    """A base measure: an aggregate over one canonical table, optionally filtered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label_zh: str
    label_en: str
    table: str
    agg: Agg
    column: str | None = None
    #: column -> allowed value(s); 'paid' in a status filter means the paid statuses
    filter: dict[str, Any] = Field(default_factory=dict)
    unit: Unit = "count"
    format: str = ",.0f"
    up_is_good: bool = True
    #: money measures of order lines are weighted by quantity x unit cost etc.
    times: str | None = Field(None, description="second column multiplied with 'column' before summing")
    #: what the measure counts (口径); inferred from table and filter when not given
    basis: Basis | None = None

    @model_validator(mode="after")
    def _check(self) -> Measure:
        if self.table not in MEASURE_TABLES:
            raise ValueError(f"table '{self.table}' cannot be measured; valid: {', '.join(MEASURE_TABLES)}")
        if self.agg != "count" and not self.column:
            raise ValueError(f"agg '{self.agg}' needs a 'column'")
        return self

    @property
    def additive(self) -> bool:
        return self.agg in ("sum", "count")


class Derived(BaseModel):
    """A metric computed from other metrics after aggregation (ratios from summed parts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label_zh: str
    label_en: str
    formula: str
    unit: Unit = "ratio"
    format: str = ",.2f"
    up_is_good: bool = True
    #: what the metric counts (口径); merged from the metrics of its formula when not given
    basis: Basis | None = None

    @model_validator(mode="after")
    def _formula(self) -> Derived:
        formula_names(self.formula)  # raises ValueError -> a located config error
        return self

    @property
    def refs(self) -> set[str]:
        return formula_names(self.formula)


Metric = Measure | Derived


def formula_names(formula: str) -> set[str]:
    """The metric names a formula uses; only + - * / ( ) numbers and names are allowed."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"formula '{formula}' is not valid: {exc.msg}") from exc
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif not isinstance(
            node, ast.Expression | ast.BinOp | ast.UnaryOp | ast.Constant | ast.operator | ast.unaryop | ast.Load
        ):
            raise ValueError(f"formula '{formula}': only + - * / ( ), numbers and metric names are allowed")
    return names


def _m(name: str, zh: str, en: str, table: str, agg: Agg, column: str | None = None, **kw: Any) -> Measure:
    return Measure(name=name, label_zh=zh, label_en=en, table=table, agg=agg, column=column, **kw)


def _d(name: str, zh: str, en: str, formula: str, **kw: Any) -> Derived:
    return Derived(name=name, label_zh=zh, label_en=en, formula=formula, **kw)


MONEY = {"unit": "money", "format": ",.2f"}
PCT = {"unit": "percent", "format": ".2%"}

BUILTIN: list[Metric] = [
    # traffic
    _m("impressions", "曝光量", "Impressions", "traffic", "sum", "impressions"),
    _m("visitors", "访客数", "Visitors", "traffic", "sum", "visitors"),
    _m("page_views", "浏览量", "Page views", "traffic", "sum", "page_views"),
    _m("add_to_cart", "加购数", "Add-to-cart", "traffic", "sum", "add_to_cart"),
    # conversion
    _m("orders", "下单数", "Orders", "orders", "count"),
    _m("paid_orders", "支付订单数", "Paid orders", "orders", "count", filter={"status": "paid"}),
    _m("buyers", "支付买家数", "Buyers", "orders", "count_distinct", "customer_key", filter={"status": "paid"}),
    _m(
        "new_buyers",
        "新买家数",
        "New buyers",
        "orders",
        "count_distinct",
        "customer_key",
        filter={"status": "paid", "customer_type": "new"},
    ),
    _m(
        "returning_buyers",
        "老买家数",
        "Returning buyers",
        "orders",
        "count_distinct",
        "customer_key",
        filter={"status": "paid", "customer_type": "returning"},
    ),
    _m(
        "repeat_buyers",
        "复购买家数",
        "Repeat buyers",
        "orders",
        "repeat_buyers",
        "customer_key",
        filter={"status": "paid"},
    ),
    _d("conversion_rate", "支付转化率", "Conversion rate", "paid_orders / visitors", **PCT),
    _d("cart_rate", "加购率", "Add-to-cart rate", "add_to_cart / visitors", **PCT),
    # sales
    _m("gmv_ordered", "下单金额", "Ordered GMV", "orders", "sum", "net_amount_base", **MONEY),
    _m("gmv", "支付金额(GMV)", "Paid GMV", "orders", "sum", "net_amount_base", filter={"status": "paid"}, **MONEY),
    _m("units", "支付件数", "Units", "order_lines", "sum", "quantity", filter={"status": "paid"}, unit="quantity"),
    _m("refunds", "退款金额", "Refunds", "refunds", "sum", "amount_base", up_is_good=False, **MONEY),
    _m("refund_count", "退款笔数", "Refund count", "refunds", "count", up_is_good=False),
    _d("net_sales", "净销售额", "Net sales", "gmv - refunds", **MONEY),
    _d("aov", "客单价", "Average order value", "gmv / paid_orders", **MONEY),
    _d("units_per_order", "件单价", "Units per order", "units / paid_orders", format=",.2f"),
    _d("refund_rate", "退款率", "Refund rate", "refunds / gmv", unit="percent", format=".2%", up_is_good=False),
    _d("repurchase_rate", "复购率", "Repurchase rate", "repeat_buyers / buyers", **PCT),
    _d("gmv_per_buyer", "人均消费", "GMV per buyer", "gmv / buyers", **MONEY),
    _d("visitor_value", "UV价值", "Visitor value", "gmv / visitors", **MONEY),
    _d("new_buyer_share", "新客占比", "New buyer share", "new_buyers / buyers", **PCT),
    # cost
    _m("ad_spend", "广告花费", "Ad spend", "ad_spend", "sum", "spend_base", up_is_good=False, **MONEY),
    _m("ad_clicks", "广告点击", "Ad clicks", "ad_spend", "sum", "clicks"),
    _m(
        "channel_fees",
        "平台费用",
        "Channel fees",
        "fees",
        "sum",
        "amount_base",
        filter={"fee_type": ["platform", "payment", "logistics"]},
        up_is_good=False,
        **MONEY,
    ),
    _m(
        "commissions",
        "分销佣金",
        "Distributor commissions",
        "fees",
        "sum",
        "amount_base",
        filter={"fee_type": "commission"},
        up_is_good=False,
        **MONEY,
    ),
    _m(
        "cogs",
        "商品成本",
        "Cost of goods sold",
        "order_lines",
        "sum",
        "quantity",
        times="unit_cost",
        filter={"status": "paid"},
        up_is_good=False,
        **MONEY,
    ),
    _d("roas", "投产比(ROAS)", "ROAS", "gmv / ad_spend", format=",.2f"),
    _d("cac", "获客成本", "Customer acquisition cost", "ad_spend / new_buyers", up_is_good=False, **MONEY),
    _d("gross_profit", "毛利", "Gross profit", "net_sales - cogs", **MONEY),
    _d("gross_margin", "毛利率", "Gross margin", "gross_profit / net_sales", **PCT),
    _d(
        "contribution_margin",
        "贡献利润",
        "Contribution margin",
        "net_sales - cogs - channel_fees - commissions - ad_spend",
        **MONEY,
    ),
    _d("contribution_margin_rate", "贡献利润率", "Contribution margin rate", "contribution_margin / net_sales", **PCT),
    # distributors
    _m(
        "active_distributors",
        "动销分销商数",
        "Active distributors",
        "orders",
        "count_distinct",
        "distributor_id",
        filter={"status": "paid"},
    ),
    _d("sales_per_distributor", "分销商人均销售额", "Sales per distributor", "gmv / active_distributors", **MONEY),
]


#: parts of a built-in derived metric's basis that its formula does not say
_BASIS_OVERRIDES: dict[str, dict[str, Any]] = {
    "refund_rate": {
        "refunds": "gross",
        "note_zh": "退款金额（按退款日）除以同期支付金额（未扣退款）",
        "note_en": "refunds (by refund date) over the same period's paid GMV (gross of refunds)",
    },
    "roas": {"attribution": "channel_gmv_not_attributed"},
    "net_sales": {"refunds": "net"},
}
_MONEY_UNITS = ("money", "money_per_count")


def infer_basis(catalog: Catalog, name: str) -> Basis:
    """A metric's basis: its own if declared, else inferred from its table and filter (a measure) or merged
    from the metrics of its formula (a derived metric)."""
    m = catalog.get(name)
    if m.basis is not None:
        return m.basis
    if isinstance(m, Measure):
        return _measure_basis(m)
    over = dict(_BASIS_OVERRIDES.get(name, {}))
    notes: dict[str, Any] = {k: over.pop(k) for k in ("note_zh", "note_en") if k in over}
    merged = merge([infer_basis(catalog, r) for r in sorted(m.refs)], **over)
    return merged.model_copy(update={"money": m.unit in _MONEY_UNITS, **notes})


def _measure_basis(m: Measure) -> Basis:
    money = m.unit in _MONEY_UNITS or (m.table in ("ad_spend", "fees", "refunds") and m.agg == "sum")
    if m.table in ("orders", "order_lines"):
        paid = m.filter.get("status") == "paid"
        return Basis(
            rows=("paid_orders" if paid else "all_orders",),
            dates=("order_date",),
            refunds="gross" if money else "not_applicable",
            money=money,
            needs=("order_lines",) if m.table == "order_lines" else (),
        )
    if m.table == "refunds":
        return Basis(rows=("refunds",), dates=("refund_date",), refunds="refunds", money=money, needs=("refunds",))
    if m.table == "traffic":
        return Basis(rows=("traffic",), dates=("report_date",), needs=("traffic",))
    if m.table == "ad_spend":
        return Basis(rows=("ad_spend",), dates=("report_date",), attribution="spend_as_billed", money=money)
    if m.table == "fees":
        return Basis(rows=("fees",), dates=("report_date",), money=money)
    return Basis(rows=("events",), dates=("report_date",))


@dataclass
class Catalog:
    """Every metric a project knows, checked for unknown references and cycles."""

    metrics: dict[str, Metric] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.metrics

    def get(self, name: str) -> Metric:
        if name not in self.metrics:
            raise KeyError(name)
        return self.metrics[name]

    def base_measures(self, names: list[str]) -> list[Measure]:
        """The base measures the given metrics need, each once, in a stable order."""
        out: dict[str, Measure] = {}

        def visit(n: str) -> None:
            m = self.metrics[n]
            if isinstance(m, Measure):
                out[n] = m
            else:
                for r in sorted(m.refs):
                    visit(r)

        for n in names:
            visit(n)
        return list(out.values())

    def derived_order(self, names: list[str]) -> list[Derived]:
        """Derived metrics needed by ``names``, dependencies first."""
        out: list[Derived] = []
        seen: set[str] = set()

        def visit(n: str) -> None:
            m = self.metrics[n]
            if n in seen or isinstance(m, Measure):
                return
            for r in sorted(m.refs):
                visit(r)
            seen.add(n)
            out.append(m)

        for n in names:
            visit(n)
        return out


def build_catalog(
    extra: list[dict[str, Any]] | None = None, *, file: str = "channelscope.yaml", lines: Any = None
) -> Catalog:
    """The built-in catalog plus a project's metrics (which may override a built-in one)."""
    metrics: dict[str, Metric] = {m.name: m for m in BUILTIN}
    for i, raw in enumerate(extra or []):
        where = ("kpis", "metrics", i)
        line = lines(where) if lines else None
        try:
            metric: Metric = Derived.model_validate(raw) if "formula" in raw else Measure.model_validate(raw)
        except Exception as exc:
            import pydantic

            if not isinstance(exc, pydantic.ValidationError):
                raise
            err = exc.errors()[0]
            key = ".".join(str(p) for p in (*where, *err["loc"]))
            raise ConfigError(f"key '{key}': {err['msg']}", file=file, line=line) from None
        metrics[metric.name] = metric
    catalog = Catalog(metrics)
    _check(catalog, file, lines)
    bases = {n: infer_basis(catalog, n) for n in catalog.metrics}
    catalog.metrics = {n: m.model_copy(update={"basis": bases[n]}) for n, m in catalog.metrics.items()}
    return catalog


def _check(catalog: Catalog, file: str, lines: Any) -> None:
    names = list(catalog.metrics)
    for i, (name, m) in enumerate(catalog.metrics.items()):
        line = lines(("kpis", "metrics")) if lines else None
        if isinstance(m, Derived):
            unknown = m.refs - set(names)
            if unknown:
                raise ConfigError(
                    f"metric '{name}': formula refers to unknown metric(s) {sorted(unknown)}",
                    file=file,
                    line=line,
                    hint="define them first or fix the spelling",
                )
        else:
            cols = frame_columns(m.table)  # the table's own and those reachable through its joins
            for col in [m.column, m.times, *m.filter]:
                if col and col not in cols:
                    raise ConfigError(f"metric '{name}': table '{m.table}' has no column '{col}'", file=file, line=line)
        del i
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise ConfigError(
                f"metric definitions form a cycle: {' -> '.join([*path, n])}",
                file=file,
                line=lines(("kpis", "metrics")) if lines else None,
            )
        state[n] = 1
        m = catalog.metrics[n]
        if isinstance(m, Derived):
            for r in sorted(m.refs):
                visit(r, [*path, n])
        state[n] = 2

    for n in names:
        visit(n, [])
