"""The export layouts of each platform: rows of text exactly as the platform writes them.

A renderer takes the orders of one export (with their state at export time) and their lines and
returns the file's rows (all text) and the order each row belongs to. The column lists and the
meaning of each column are documented in the matching preset (sources/presets/*.yaml).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from channelscope.demo.orders import Sales
from channelscope.demo.text import money, ts, ts_mixed

#: A rendered export: its rows (all text) and, for each row, the position of its order.
Rendered = tuple[pd.DataFrame, np.ndarray]


def _first_line(lines: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    first = lines[lines["line_no"] == 1].set_index("oid")
    return first.reindex(orders.index)


def _people(sales: Sales, orders: pd.DataFrame) -> pd.DataFrame:
    return sales.customers.iloc[orders["customer"].to_numpy()].reset_index(drop=True)


TMALL_STATUS = {
    "created": "等待买家付款",
    "paid": "买家已付款，等待卖家发货",
    "shipped": "卖家已发货，等待买家确认",
    "completed": "交易成功",
    "cancelled": "交易关闭",
    "refunded": "交易关闭",
}
JD_STATUS = {
    "created": "等待付款",
    "paid": "等待出库",
    "shipped": "等待确认收货",
    "completed": "完成",
    "cancelled": "已取消",
    "refunded": "已取消",
}
DOUYIN_STATUS = {
    "created": "待支付",
    "paid": "待发货",
    "shipped": "已发货",
    "completed": "已完成",
    "cancelled": "已关闭",
    "refunded": "已关闭",
}
TMALL_COLUMNS = (
    "订单编号",
    "买家会员名",
    "买家支付宝账号",
    "买家应付货款",
    "买家应付邮费",
    "买家支付积分",
    "总金额",
    "返点积分",
    "买家实际支付金额",
    "买家实际支付积分",
    "订单状态",
    "买家留言",
    "收货人姓名",
    "收货地址",
    "运送方式",
    "联系电话",
    "联系手机",
    "订单创建时间",
    "订单付款时间",
    "宝贝标题",
    "宝贝种类",
    "物流单号",
    "物流公司",
    "订单备注",
    "宝贝总数量",
    "店铺Id",
    "店铺名称",
    "订单关闭原因",
    "卖家服务费",
    "买家服务费",
    "发票抬头",
    "是否手机订单",
    "分阶段订单信息",
    "特权订金订单id",
    "定金排名",
    "修改后的sku",
    "修改后的收货地址",
    "异常信息",
    "天猫卡券抵扣",
    "集分宝抵扣",
    "是否是O2O交易",
    "退款金额",
    "确认收货时间",
    "打款商家金额",
)


def platform_status(channel_id: str, state: pd.DataFrame) -> np.ndarray:
    """The status text the platform shows for each canonical life state."""
    status = state["status"].to_numpy()
    if channel_id == "own_store":
        partial = (state["refund_cents"].to_numpy() > 0) & (status != "refunded")
        fin = pd.Series(status).map({"created": "pending", "cancelled": "voided", "refunded": "refunded"})
        return np.where(partial, "partially_refunded", fin.fillna("paid").to_numpy())
    table = {"tmall": TMALL_STATUS, "jd": JD_STATUS, "douyin": DOUYIN_STATUS}.get(channel_id)
    return status if table is None else pd.Series(status).map(table).to_numpy()


def tmall(sales: Sales, orders: pd.DataFrame, state: pd.DataFrame) -> Rendered:
    """订单报表: one row per order (see the tmall_orders preset for the layout)."""
    n = len(orders)
    p = _people(sales, orders)
    first = _first_line(sales.lines, orders)
    names = sales.products.set_index("sku")["name"]
    n_lines = sales.lines.groupby("oid").size().reindex(orders.index).to_numpy()
    qty = sales.lines.groupby("oid")["quantity"].sum().reindex(orders.index).to_numpy()
    title = names.reindex(first["sku"]).to_numpy().astype(str)
    title = np.where(n_lines > 1, np.strings.add(title, " 等多件"), title)
    style = (orders.index.to_numpy() * 2_654_435_761 % 10).astype(np.int64)
    style = np.where(style < 6, 0, np.where(style < 9, 1, 2))
    paid = orders["paid_at"].notna().to_numpy()
    status = state["status"].to_numpy()
    net = np.where(paid, orders["net_cents"], 0)
    completed = status == "completed"
    phone = p["phone"].to_numpy().astype(str)
    return pd.DataFrame(
        {
            "订单编号": np.strings.add(np.strings.add('="', orders["source_order_id"].to_numpy().astype(str)), '"'),
            "买家会员名": p["nick"].to_numpy(),
            "买家支付宝账号": np.strings.add(
                np.strings.add(np.strings.slice(phone, 0, 3), "****"), np.strings.slice(phone, 7, 11)
            ),
            "买家应付货款": money(orders["gross_cents"]),
            "买家应付邮费": money(orders["shipping_cents"]),
            "买家支付积分": "0",
            "总金额": money(orders["gross_cents"] + orders["shipping_cents"]),
            "返点积分": "0",
            "买家实际支付金额": money(net),
            "买家实际支付积分": "0",
            "订单状态": platform_status("tmall", state),
            "买家留言": "",
            "收货人姓名": p["name"].to_numpy(),
            "收货地址": np.strings.add(p["address"].to_numpy().astype(str), "(000000)"),
            "运送方式": "快递",
            "联系电话": "",
            "联系手机": np.strings.add("'", phone),
            "订单创建时间": ts_mixed(orders["ordered_at"].to_numpy(), style),
            "订单付款时间": ts_mixed(orders["paid_at"].to_numpy(), style),
            "宝贝标题": title,
            "宝贝种类": n_lines.astype(str),
            "物流单号": np.where(
                np.isin(status, ["shipped", "completed"]),
                np.strings.add("SF", (1_300_000_000_000 + orders.index.to_numpy()).astype(str)),
                "",
            ),
            "物流公司": np.where(np.isin(status, ["shipped", "completed"]), "顺丰速运", ""),
            "订单备注": "",
            "宝贝总数量": qty.astype(str),
            "店铺Id": "",
            "店铺名称": "青禾官方旗舰店",
            "订单关闭原因": np.where(
                status == "refunded", "退款", np.where(status == "cancelled", "买家未付款", "订单未关闭")
            ),
            "卖家服务费": "0",
            "买家服务费": "0元",
            "发票抬头": "",
            "是否手机订单": "手机订单",
            **{
                c: ""
                for c in (
                    "分阶段订单信息",
                    "特权订金订单id",
                    "定金排名",
                    "修改后的sku",
                    "修改后的收货地址",
                    "异常信息",
                    "天猫卡券抵扣",
                    "集分宝抵扣",
                    "是否是O2O交易",
                )
            },
            "退款金额": money(state["refund_cents"]),
            "确认收货时间": np.where(completed, ts(orders["complete_at"]), ""),
            "打款商家金额": np.where(
                completed, np.strings.add(money(net - state["refund_cents"].to_numpy()), "元"), ""
            ),
        },
        index=pd.RangeIndex(n),
    )[list(TMALL_COLUMNS)], np.arange(n)


def _line_frame(sales: Sales, orders: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Lines of the orders, each with its order's row position and state."""
    lines = sales.lines[sales.lines["oid"].isin(orders.index)].reset_index(drop=True)
    pos = pd.Series(np.arange(len(orders)), index=orders.index).reindex(lines["oid"]).to_numpy()
    return lines, pos


def jd(sales: Sales, orders: pd.DataFrame, state: pd.DataFrame) -> Rendered:
    """订单导出: one row per line, order columns repeated."""
    lines, pos = _line_frame(sales, orders)
    o = orders.iloc[pos].reset_index()
    p = _people(sales, orders).iloc[pos].reset_index(drop=True)
    prod = sales.products.set_index("sku").reindex(lines["sku"]).reset_index()
    status = state["status"].to_numpy()[pos]
    paid = o["paid_at"].notna().to_numpy()
    return pd.DataFrame(
        {
            "订单号": o["source_order_id"].to_numpy(),
            "商品ID": (100_012_000_000 + pd.Index(sales.products["sku"]).get_indexer(lines["sku"]) * 7).astype(str),
            "商品名称": prod["name"].to_numpy(),
            "订购数量": lines["quantity"].astype(str).to_numpy(),
            "支付方式": "在线支付",
            "下单时间": ts(o["ordered_at"]),
            "京东价": money(lines["unit_cents"]),
            "订单金额": money(o["gross_cents"]),
            "结算金额": money(o["gross_cents"] - o["discount_cents"]),
            "余额支付": "0.00",
            "应付金额": money(o["net_cents"]),
            "订单状态": platform_status("jd", state.iloc[pos]),
            "订单类型": "普通订单",
            "下单帐号": np.strings.add("jd_", p["nick"].to_numpy().astype(str)),
            "客户姓名": p["name"].to_numpy(),
            "客户地址": np.strings.replace(p["address"].to_numpy().astype(str), " ", ""),
            "联系电话": p["phone"].to_numpy(),
            "订单备注": "",
            "发票类型": "电子发票",
            "发票抬头": "个人",
            "发票内容": "明细",
            "商家备注": "",
            "商家备注等级（等级1-5为由高到低）": "",
            "运费金额": money(o["shipping_cents"]),
            "付款确认时间": np.where(paid, ts(o["paid_at"]), ""),
            "增值税发票": "",
            "货号": lines["sku"].to_numpy(),
            "订单完成时间": np.where(status == "completed", ts(o["complete_at"]), ""),
            "订单来源": np.where(o["oid"].to_numpy() % 4 == 0, "PC端订单", "移动端订单"),
            "订单渠道": "暂无来源",
        }
    ), pos


def douyin(sales: Sales, orders: pd.DataFrame, state: pd.DataFrame) -> Rendered:
    """抖店 订单导出: one row per sub-order, main-order columns repeated."""
    lines, pos = _line_frame(sales, orders)
    o = orders.iloc[pos].reset_index()
    p = _people(sales, orders).iloc[pos].reset_index(drop=True)
    prod = sales.products.reset_index().set_index("sku").reindex(lines["sku"])
    hosts = {d.id: d.name for d in sales.distributors if d.channel_id == "douyin"}
    host = o["distributor_id"].fillna("").to_numpy().astype(str)
    status = state["status"].to_numpy()[pos]
    refund = state["refund_cents"].to_numpy()[pos]
    main = o["source_order_id"].to_numpy().astype(str)
    return pd.DataFrame(
        {
            "主订单编号": main,
            "子订单编号": (o["source_order_id"].astype(np.int64).to_numpy() + lines["line_no"].to_numpy()).astype(str),
            "选购商品": prod["name"].to_numpy(),
            "商品规格": np.strings.slice(lines["sku"].to_numpy().astype(str), 8, 20),
            "商品数量": lines["quantity"].astype(str).to_numpy(),
            "商品ID": (3_580_000_000_000_000_000 + prod["index"].to_numpy() * 1_000_003).astype(str),
            "商家编码": lines["sku"].to_numpy(),
            "商品金额": money(lines["unit_cents"]),
            "订单应付金额": money(o["net_cents"]),
            "运费": money(o["shipping_cents"]),
            "优惠总金额": money(o["discount_cents"]),
            "支付方式": np.where(o["oid"].to_numpy() % 3 == 0, "微信", "抖音支付"),
            "订单提交时间": ts(o["ordered_at"]),
            "支付完成时间": ts(o["paid_at"]),
            "订单完成时间": np.where(status == "completed", ts(o["complete_at"]), ""),
            "发货时间": np.where(np.isin(status, ["shipped", "completed"]), ts(o["ship_at"]), ""),
            "订单状态": platform_status("douyin", state.iloc[pos]),
            "售后状态": np.where(refund > 0, "退款成功", "-"),
            "取消原因": np.where(status == "cancelled", "超时未支付", ""),
            "收件人": p["name"].to_numpy(),
            "收件人手机号": p["phone"].to_numpy(),
            "省": p["province"].to_numpy(),
            "市": p["city"].to_numpy(),
            "区": "",
            "街道": "",
            "详细地址": p["address"].to_numpy(),
            "买家留言": "",
            "商家备注": "",
            "流量来源": np.where(host != "", "直播", "商品卡"),
            "流量渠道": np.where(host != "", "达人带货", "自然流量"),
            "广告渠道": "",
            "达人ID": host,
            "达人昵称": pd.Series(host).map(hosts).fillna("").to_numpy(),
            "店铺ID": "88001234",
            "仓库名称": "杭州仓",
            "退款金额": money(refund),
        }
    ), pos


SHOPIFY_COLUMNS = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Phone",
    "Receipt Number",
    "Duties",
    "Billing Province Name",
    "Shipping Province Name",
    "Payment ID",
)
#: Columns Shopify repeats on the second and later rows of an order.
SHOPIFY_LINE_COLUMNS = (
    "Name",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Vendor",
    "Lineitem discount",
)


def shopify(sales: Sales, orders: pd.DataFrame, state: pd.DataFrame) -> Rendered:
    """orders_export.csv: one row per line item; order columns on the first row only."""
    lines, pos = _line_frame(sales, orders)
    o = orders.iloc[pos].reset_index()
    p = _people(sales, orders).iloc[pos].reset_index(drop=True)
    prod = sales.products.set_index("sku").reindex(lines["sku"]).reset_index()
    status = state["status"].to_numpy()[pos]
    shipped = np.isin(status, ["shipped", "completed"])
    refund = state["refund_cents"].to_numpy()[pos]
    phone = np.strings.add("+86", p["phone"].to_numpy().astype(str))
    subtotal = o["gross_cents"] - o["discount_cents"]
    frame = pd.DataFrame(
        {
            "Name": o["source_order_id"].to_numpy(),
            "Email": p["email"].to_numpy(),
            "Financial Status": platform_status("own_store", state.iloc[pos]),
            "Paid at": ts(o["paid_at"], " +0800"),
            "Fulfillment Status": np.where(shipped, "fulfilled", "unfulfilled"),
            "Fulfilled at": np.where(shipped, ts(o["ship_at"], " +0800"), ""),
            "Accepts Marketing": "no",
            "Currency": o["currency"].to_numpy(),
            "Subtotal": money(subtotal),
            "Shipping": money(o["shipping_cents"]),
            "Taxes": "0.00",
            "Total": money(o["net_cents"]),
            "Discount Code": np.where(o["discount_cents"] > 0, "WELCOME", ""),
            "Discount Amount": money(o["discount_cents"]),
            "Shipping Method": "Standard",
            "Created at": ts(o["ordered_at"], " +0800"),
            "Lineitem quantity": lines["quantity"].astype(str).to_numpy(),
            "Lineitem name": prod["name"].to_numpy(),
            "Lineitem price": money(lines["unit_cents"]),
            "Lineitem compare at price": np.where(o["currency"] == "CNY", money(prod["list_cents"]), ""),
            "Lineitem sku": lines["sku"].to_numpy(),
            "Lineitem requires shipping": "true",
            "Lineitem taxable": "true",
            "Lineitem fulfillment status": np.where(shipped, "fulfilled", "pending"),
            "Billing Name": p["name"].to_numpy(),
            "Billing Street": p["address"].to_numpy(),
            "Billing Address1": p["address"].to_numpy(),
            "Billing Address2": "",
            "Billing Company": "",
            "Billing City": p["city"].to_numpy(),
            "Billing Zip": "",
            "Billing Province": "",
            "Billing Country": np.where(o["currency"] == "USD", "US", "CN"),
            "Billing Phone": phone,
            "Shipping Name": p["name"].to_numpy(),
            "Shipping Street": p["address"].to_numpy(),
            "Shipping Address1": p["address"].to_numpy(),
            "Shipping Address2": "",
            "Shipping Company": "",
            "Shipping City": p["city"].to_numpy(),
            "Shipping Zip": "",
            "Shipping Province": "",
            "Shipping Country": np.where(o["currency"] == "USD", "US", "CN"),
            "Shipping Phone": phone,
            "Notes": "",
            "Note Attributes": "",
            "Cancelled at": np.where(status == "cancelled", ts(o["close_at"], " +0800"), ""),
            "Payment Method": np.where(o["paid_at"].notna(), "Alipay", ""),
            "Payment Reference": "",
            "Refunded Amount": money(refund),
            "Vendor": "Qinghe",
            "Outstanding Balance": "0.00",
            "Employee": "",
            "Location": "",
            "Device ID": "",
            "Id": (5_600_000_000_000 + o["oid"].to_numpy()).astype(str),
            "Tags": "",
            "Risk Level": "Low",
            "Source": "web",
            "Lineitem discount": "0.00",
            "Phone": phone,
            "Receipt Number": "",
            "Duties": "",
            "Billing Province Name": p["province"].to_numpy(),
            "Shipping Province Name": p["province"].to_numpy(),
            "Payment ID": "",
        }
    )[list(SHOPIFY_COLUMNS)]
    later = lines["line_no"].to_numpy() > 1
    blank = [c for c in SHOPIFY_COLUMNS if c not in SHOPIFY_LINE_COLUMNS]
    frame.loc[later, blank] = ""
    return frame, pos


RENDERERS: dict[str, Callable] = {"tmall": tmall, "jd": jd, "douyin": douyin, "own_store": shopify}
