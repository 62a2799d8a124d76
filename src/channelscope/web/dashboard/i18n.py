"""The dashboard's words in zh-CN and en (numbers are written by ``channelscope.numbers``)."""

from __future__ import annotations

from typing import Any

from channelscope.numbers import is_missing

__all__ = ["LANGS", "dropdown_labels", "is_missing", "lang_of", "member_label", "metric_label", "metric_unit", "t"]

LANGS = ("zh-CN", "en")

_TEXT: dict[str, tuple[str, str]] = {
    # key: (zh-CN, en)
    "app_title": ("渠道经营看板", "Channel dashboard"),
    "nav_overview": ("总览", "Overview"),
    "nav_trends": ("趋势", "Trends"),
    "nav_channels": ("渠道", "Channels"),
    "nav_distributors": ("分销商", "Distributors"),
    "nav_funnel": ("转化漏斗", "Funnel"),
    "nav_forecast": ("预测", "Forecast"),
    "fc_title": ("GMV 预测（未来 28 天，80% 区间）", "GMV forecast (next 28 days, 80% interval)"),
    "fc_history": ("实际", "Actual"),
    "fc_forecast": ("预测", "Forecast"),
    "fc_interval": ("80% 区间", "80% interval"),
    "fc_accuracy": ("回测准确度（最近 28 天窗口）", "Backtest accuracy (last 28-day window)"),
    "fc_targets": ("建议月度目标", "Suggested monthly targets"),
    "fc_inventory": ("库存风险", "Inventory risks"),
    "fc_series": ("序列", "Series"),
    "fc_model": ("模型", "Model"),
    "fc_coverage": ("80% 覆盖率", "80% coverage"),
    "fc_month": ("月份", "Month"),
    "fc_no_inventory": (
        "无库存数据（导入 inventory 表并在项目目录放置 lead_times.csv）",
        "No inventory data (load the inventory table and put lead_times.csv in the project folder)",
    ),
    "fc_stockout": ("预计断货日", "Stock-out date"),
    "fc_order": ("建议采购", "Suggested order"),
    "on_hand": ("在库", "On hand"),
    "nav_alerts": ("告警", "Alerts"),
    "nav_reports": ("报告", "Reports"),
    "nav_actions": ("行动", "Actions"),
    "rp_title": ("已发布的报告", "Issued reports"),
    "rp_none": (
        "还没有报告（channelscope report run，或在 schedule.reports 中定时发布）",
        "No report yet (channelscope report run, or schedule.reports)",
    ),
    "rp_report": ("报告", "Report"),
    "rp_period": ("报告期", "Period"),
    "rp_scope": ("范围", "Scope"),
    "rp_all": ("全部渠道", "All channels"),
    "rp_findings": ("发现", "Findings"),
    "rp_as_of": ("数据截至", "Data as of"),
    "rp_generated": ("生成时间 (UTC)", "Generated (UTC)"),
    "rp_files": ("下载", "Download"),
    "rp_language": ("语言", "Language"),
    "ac_title": ("行动记录（PDCA）", "Action log (PDCA)"),
    "ac_none": ("还没有行动", "No action yet"),
    "ac_new": ("新建行动", "New action"),
    "ac_what": ("行动内容", "What"),
    "ac_owner": ("负责人", "Owner"),
    "ac_scope": ("范围", "Scope"),
    "ac_window": ("期间", "Window"),
    "ac_start": ("开始日", "Start"),
    "ac_deadline": ("截止日", "Deadline"),
    "ac_metric": ("指标", "Metric"),
    "ac_expected": ("预期变化 (%)", "Expected change (%)"),
    "ac_status": ("状态", "Status"),
    "ac_verdict": ("结论", "Verdict"),
    "ac_effect": ("实测效果 (95% 区间)", "Measured effect (95% interval)"),
    "ac_add": ("添加", "Add"),
    "ac_check": ("检查效果", "Check"),
    "ac_doing": ("开始执行", "Start"),
    "ac_done": ("完成", "Done"),
    "ac_cancel": ("取消", "Cancel"),
    "ac_added": ("已添加", "Added"),
    "ac_method": (
        "效果按双重差分衡量：行动范围相对未受影响的可比渠道（开始前 56 天的比例）的变化，95% 区间。",
        "Effects are measured by difference-in-differences against comparable untreated channels (their ratio "
        "over the 56 days before the start), with a 95% interval.",
    ),
    "nav_health": ("数据健康", "Data health"),
    "dates": ("日期", "Dates"),
    "channel": ("渠道", "Channel"),
    "distributor": ("分销商", "Distributor"),
    "campaign": ("活动", "Campaign"),
    "all": ("全部", "All"),
    "language": ("语言", "Language"),
    "logout": ("退出", "Log out"),
    "vs_previous": ("较上期", "vs previous"),
    "previous_period": ("上期", "Previous period"),
    "no_data": ("所选范围内没有数据", "No data in the selected range"),
    "target": ("目标", "Target"),
    "attainment": ("达成率", "Attainment"),
    "pacing": ("进度", "Pacing"),
    "expected_to_date": ("应达进度", "Expected to date"),
    "projection": ("预计达成", "Projected"),
    "no_target": ("未设目标", "No target"),
    "change_decomposition": ("GMV 变化拆解（访客 × 转化率 × 客单价）", "GMV change: visitors × conversion × AOV"),
    "part_visitors": ("访客", "Visitors"),
    "part_channel_mix": ("渠道结构", "Channel mix"),
    "part_conversion_rate": ("转化率", "Conversion rate"),
    "part_aov": ("客单价", "AOV"),
    "part_keep_rate": ("留存率", "Keep rate"),
    "part_new_or_lost": ("新增/流失", "New or lost"),
    "part_undecomposed": ("未拆解", "Undecomposed"),
    "before": ("上期", "Before"),
    "after": ("本期", "After"),
    "metric": ("指标", "Metric"),
    "dimension": ("维度", "Dimension"),
    "grain": ("粒度", "Grain"),
    "compare": ("对比", "Compare"),
    "none": ("无", "None"),
    "grain_day": ("日", "Day"),
    "grain_week": ("周", "Week"),
    "grain_month": ("月", "Month"),
    "grain_quarter": ("季", "Quarter"),
    "compare_previous": ("上一期", "Previous period"),
    "compare_yoy": ("同比", "Year over year"),
    "compare_wow": ("周环比", "Week over week"),
    "total": ("合计", "Total"),
    "dim_channel_kind": ("渠道类型", "Channel kind"),
    "dim_platform": ("平台", "Platform"),
    "dim_region": ("地区", "Region"),
    "dim_category": ("品类", "Category"),
    "dim_customer_type": ("新老客", "New / returning"),
    "dim_distributor_tier": ("分销层级", "Distributor tier"),
    "share": ("GMV 占比", "GMV share"),
    "growth": ("GMV 增长", "GMV growth"),
    "portfolio": (
        "渠道组合：增长 × 贡献利润率（气泡 = GMV）",
        "Channel portfolio: growth × contribution margin rate (size = GMV)",
    ),
    "channel_table": ("渠道对比", "Channel comparison"),
    "leaderboard": ("分销商排行", "Distributor leaderboard"),
    "active_days": ("动销天数", "Active days"),
    "below_map": ("低于最低限价", "Below min. price"),
    "net_tree": ("分销网络", "Distributor network"),
    "net_level": ("层级", "Level"),
    "net_sales": ("销售额", "Sales"),
    "net_subtree": ("含下级销售额", "Sales incl. children"),
    "net_customers": ("活跃客户", "Active customers"),
    "net_commission": ("已付佣金", "Commission paid"),
    "cs_score_board": ("合规分排行（0-100，越低越需关注）", "Compliance score (0-100, lowest first)"),
    "cs_score": ("合规分", "Score"),
    "cs_minus": ("扣分构成", "Points lost"),
    "cs_violations": ("低于最低限价（按深度）", "Price violations by depth"),
    "cs_lines": ("行数", "Lines"),
    "cs_depth": ("最深", "Worst depth"),
    "cs_repeats": ("警告后重复天数", "Repeat days"),
    "cs_cases": ("合规案件", "Compliance cases"),
    "cs_last_seen": ("最近一次", "Last seen"),
    "cs_status": ("状态", "Status"),
    "cs_action": ("处理", "Action"),
    "live_hosts": ("直播达人", "Live hosts"),
    "live_roi": ("佣金ROI", "Commission ROI"),
    "live_refund": ("退款率", "Refund rate"),
    "top_distributors": ("GMV 前 15 分销商", "Top 15 distributors by GMV"),
    "funnel_title": ("转化漏斗", "Conversion funnel"),
    "funnel_rates": ("各渠道加购率与支付转化率", "Cart and conversion rate by channel"),
    "funnel_table": ("各渠道转化", "Conversion by channel"),
    "nav_customers": ("客户", "Customers"),
    "cust_cohorts": ("获客批次留存热力图", "Cohort retention heat map"),
    "cust_retention": ("各获客渠道留存曲线", "Retention curves by acquisition channel"),
    "cust_months_since": ("获客后月数", "Months since acquisition"),
    "cust_rfm": ("RFM 客户分群", "RFM segments"),
    "cust_rfm_table": ("RFM 分群明细", "RFM segments in detail"),
    "cust_migration": ("分群迁移 {start} → {end}", "Segment migration {start} → {end}"),
    "cust_clv": ("各获客渠道客户终身价值(CLV)", "CLV by acquisition channel"),
    "cust_clv_none": ("CLV 模型无法拟合", "No CLV fit"),
    "cust_clv_365": ("365天人均预期价值", "Expected 365-day value per customer"),
    "cust_holdout": (
        "验证期 {start} 至 {end}：预测购买 {pred}，实际 {act}",
        "Holdout {start} to {end}: {pred} purchases predicted, {act} actual",
    ),
    "cust_new": ("新客数", "New customers"),
    "cust_overlap": ("渠道客户重叠", "Customers shared by channels"),
    "cust_segment": ("分群", "Segment"),
    "cust_customers": ("客户数", "Customers"),
    "cust_share": ("占比", "Share"),
    "cust_monetary": ("消费金额", "Monetary"),
    "cust_recency": ("最近购买距今(天)", "Recency (days)"),
    "cust_frequency": ("平均购买次数", "Mean frequency"),
    "cust_paths": (
        "行为路径 {start} 至 {end}（会话：间隔30分钟以上即为新会话）",
        "Behaviour paths {start} to {end} (a session ends after 30 minutes idle)",
    ),
    "cust_funnel": ("浏览 → 加购/收藏 → 购买 漏斗", "View → cart/favourite → purchase funnel"),
    "cust_no_events": ("所选期间没有行为数据（events 表）", "No behaviour events (events table) in this period"),
    "cust_viewed": ("浏览会话", "Viewing sessions"),
    "cust_engage_rate": ("加购/收藏率", "Cart/favourite rate"),
    "cust_purchase_rate": ("加购/收藏后购买率", "Purchase after cart/favourite"),
    "cust_conversion": ("浏览-购买转化率", "View-to-purchase"),
    "cust_to_engage": ("到加购/收藏(秒,中位)", "To cart/favourite (s, median)"),
    "cust_to_purchase": ("到购买(秒,中位)", "To purchase (s, median)"),
    "cust_top_paths": ("最常见路径", "Most common paths"),
    "cust_customers_sessions": ("会话数", "Sessions"),
    "cust_channel_only": (
        "客户分析只能按渠道筛选（分销商和活动筛选不适用）",
        "Customer analytics can be filtered by channel only (not by distributor or campaign)",
    ),
    "stage_impressions": ("曝光", "Impressions"),
    "stage_visitors": ("访客", "Visitors"),
    "stage_cart": ("加购", "Add to cart"),
    "stage_orders": ("下单", "Orders"),
    "stage_paid": ("支付", "Paid"),
    "stage_kept": ("未退款", "Kept"),
    "alerts_title": ("告警收件箱", "Alerts inbox"),
    "status": ("状态", "Status"),
    "status_open": ("未处理", "Open"),
    "status_acknowledged": ("已确认", "Acknowledged"),
    "status_resolved": ("已解决", "Resolved"),
    "status_all": ("全部", "All"),
    "severity": ("级别", "Severity"),
    "severity_critical": ("严重", "Critical"),
    "severity_warning": ("警告", "Warning"),
    "severity_info": ("提示", "Info"),
    "alert": ("告警", "Alert"),
    "expected": ("预期", "expected"),
    "period": ("周期", "Period"),
    "opened": ("最近发生", "Last seen"),
    "actions": ("操作", "Actions"),
    "acknowledge": ("确认", "Acknowledge"),
    "resolve": ("解决", "Resolve"),
    "no_alerts": ("没有告警", "No alerts"),
    "freshness": ("加载新鲜度", "Load freshness"),
    "data_freshness": ("数据新鲜度（最新业务日期）", "Data freshness (latest business date)"),
    "latest_date": ("最新业务日期", "Latest business date"),
    "lag_days": ("滞后(天)", "Lag (days)"),
    "tables": ("数据表", "Tables"),
    "state_dimension": ("维度表", "Dimension"),
    "source": ("数据源", "Source"),
    "last_loaded": ("最近加载", "Last loaded"),
    "age_hours": ("距今(小时)", "Age (hours)"),
    "expect_every": ("预期间隔", "Expected every"),
    "state": ("状态", "State"),
    "state_fresh": ("正常", "Fresh"),
    "state_stale": ("过期", "Stale"),
    "state_never": ("从未加载", "Never loaded"),
    "batches": ("批次", "Batches"),
    "rows": ("行数", "Rows"),
    "ledger": ("加载台账", "Batch ledger"),
    "quarantine": ("隔离区（按原因）", "Quarantine by reason"),
    "reason": ("原因", "Reason"),
    "file": ("文件", "File"),
    "started": ("开始", "Started"),
    "rows_in": ("输入", "Rows in"),
    "loaded": ("已加载", "Loaded"),
    "quarantined": ("已隔离", "Quarantined"),
    "duplicates": ("重复", "Duplicates"),
    "nothing_quarantined": ("隔离区为空", "Nothing in quarantine"),
    "error": ("出错了", "Something went wrong"),
    "quick_yesterday": ("昨天", "Yesterday"),
    "quick_7d": ("近7天", "Last 7 days"),
    "quick_this_month": ("本月", "This month"),
    "quick_last_month": ("上月", "Last month"),
    "quick_30d": ("近30天", "Last 30 days"),
    "compare_with": ("对比", "Compare with"),
    "vs_yoy": ("较去年同期", "vs same period last year"),
    "cmp_previous": ("上一周期", "Previous period"),
    "cmp_yoy": ("去年同期", "Same period last year"),
    "your_scope": ("您的数据范围", "Your scope"),
    "out_of_scope": (
        "此链接要查看的{dim}不在您的数据范围内：{members}。页面没有显示这些数据。",
        "This link asks for {dim} outside your scope: {members}. Their data is not shown.",
    ),
    "show_my_scope": ("查看我范围内的数据", "Show the data of my scope"),
    "trends_link": ("在趋势中查看该指标", "Open the metric in Trends"),
    "channel_link": ("查看该渠道总览", "Open the channel's overview"),
    "open_trends": ("点击查看趋势", "Click to open in Trends"),
    "open_channel": ("点击查看该渠道", "Click to open this channel"),
    "no_member": ("未归属", "(none)"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_xlsx": ("导出 Excel", "Export Excel"),
    "sort_by": ("点击排序", "Click to sort"),
    "evidence": ("告警证据", "Evidence"),
    "value": ("实际值", "Value"),
    "base_value": ("对比值", "Base value"),
    "change": ("变化", "Change"),
    "base_period": ("对比周期", "Base period"),
    "explanation": ("说明", "Explanation"),
    "back_to_inbox": ("返回告警列表", "Back to the inbox"),
    "alert_not_found": ("没有找到这条告警（或它不在您的数据范围内）", "No such alert (or it is outside your scope)"),
    "quarantined_rows": ("隔离的行", "Quarantined rows"),
    "row": ("行号", "Row"),
    "record": ("原始记录", "Record"),
    "all_reasons": ("全部原因", "All reasons"),
    "date_start": ("开始日期", "Start date"),
    "missing": ("数据缺失", "no data"),
    "left_out": ("合计不含", "Total leaves out"),
    "not_plotted": ("未显示（数据缺失）", "Not plotted (no data)"),
    "data_as_of": ("数据截至", "Data as of"),
    "stale_sources": ("{n} 个数据源滞后", "{n} sources behind"),
    "date_end": ("结束日期", "End date"),
    "forbidden": ("无权查看", "Not allowed"),
    # marketing page
    "nav_marketing": ("营销", "Marketing"),
    "mkt_scoped": (
        "营销模型覆盖全部渠道，渠道范围内的账号无法查看。",
        "The marketing models cover every channel; a channel-scoped account cannot see them.",
    ),
    "mkt_note": (
        "模型基于全部历史（{days} 天，不随日期筛选变化）：R² {r2:.3f}，MAPE {mape:.2f}%，样本外 MAPE {oos:.2f}%，拟合 {secs:.1f} 秒。",
        "Models use the whole history ({days} days, not the date filter): R² {r2:.3f}, MAPE {mape:.2f}%, "
        "out-of-sample MAPE {oos:.2f}%, fitted in {secs:.1f} s.",
    ),
    "mkt_unreliable": (
        "模型解释力不足（R² 低于 0.8 或样本外误差高于 15%）：以下 ROAS、增量和分配建议不可作为预算依据。",
        "The model explains too little (R² below 0.8 or out-of-sample error above 15%): do not base budgets "
        "on the ROAS, uplift and allocation below.",
    ),
    "mkt_roi": (
        "各口径 ROI（平台报告 / 订单 / 归因 / 增量）",
        "ROI by basis (platform-reported / orders / attributed / incremental)",
    ),
    "mkt_platform": ("广告平台", "Ad platform"),
    "mkt_spend": ("花费", "Spend"),
    "mkt_roas_platform": ("ROAS 平台口径", "ROAS platform"),
    "mkt_roas_orders": ("ROAS 订单口径", "ROAS orders"),
    "mkt_roas_attributed": ("ROAS 归因口径", "ROAS attributed"),
    "mkt_roas_incremental": ("ROAS 增量口径", "ROAS incremental"),
    "mkt_marginal": ("边际 ROAS", "Marginal ROAS"),
    "mkt_attribution": ("归因模型对比（订单数）", "Attribution models compared (orders)"),
    "mkt_curves": ("响应曲线（点 = 当前花费）", "Response curves (dot = today's spend)"),
    "mkt_contribution": ("贡献 GMV", "Contribution GMV"),
    "mkt_uplift": ("促销增量与反事实", "Promotion uplift against the counterfactual"),
    "mkt_promotion": ("促销", "Promotion"),
    "mkt_uplift_value": ("增量 GMV", "Uplift GMV"),
    "mkt_uplift_pct": ("增幅", "Uplift %"),
    "mkt_interval": ("95% 区间", "95% interval"),
    "mkt_hangover": ("之后透支", "Hangover after"),
    "mkt_net": ("净增量", "Net uplift"),
    "mkt_counterfactual": ("反事实（无促销）", "Counterfactual (no promotion)"),
    "mkt_actual": ("实际", "Actual"),
    "mkt_allocator": ("预算分配建议（总额不变）", "Budget allocation (same total)"),
    "mkt_gain": (
        "预期增量 GMV {gain}（95% 区间 {low} – {high}）",
        "Expected extra GMV {gain} (95% interval {low} – {high})",
    ),
    "mkt_current": ("当前花费", "Current spend"),
    "mkt_recommended": ("建议花费", "Recommended spend"),
    "mkt_model_first": ("首次触点", "First touch"),
    "mkt_model_last": ("末次触点", "Last touch"),
    "mkt_model_last_non_direct": ("末次非直接", "Last non-direct"),
    "mkt_model_linear": ("线性", "Linear"),
    "mkt_model_time_decay": ("时间衰减", "Time decay"),
    "mkt_model_position": ("位置（U 型）", "Position based"),
    "mkt_model_markov": ("马尔可夫", "Markov"),
    "mkt_model_shapley": ("Shapley", "Shapley"),
}


def dropdown_labels(lang: str) -> Any:
    """The words inside Dash's dropdown (search box, select all...), which default to English."""
    if lang == "en":
        return {}
    return {
        "select_all": "全选",
        "deselect_all": "全部取消",
        "selected_count": "已选 {num_selected} 项",
        "search": "搜索",
        "clear_search": "清除搜索",
        "clear_selection": "清除选择",
        "no_options_found": "没有匹配项",
    }


def lang_of(value: str | None) -> str:
    """A supported language: zh-CN unless the value starts with 'en'."""
    return "en" if value and value.lower().startswith("en") else "zh-CN"


#: the members of a dimension whose values are codes, as a reader reads them (Trends' legend, exports)
MEMBERS: dict[str, dict[str, tuple[str, str]]] = {
    "channel_kind": {
        "own_store": ("自营店铺", "Own store"),
        "marketplace": ("平台店铺", "Marketplace"),
        "social": ("社交电商", "Social commerce"),
        "live_stream": ("直播电商", "Live stream"),
        "distributor": ("分销", "Distributors"),
        "offline": ("线下", "Offline"),
    },
    "platform": {
        "tmall": ("天猫", "Tmall"),
        "taobao": ("淘宝", "Taobao"),
        "jd": ("京东", "JD"),
        "douyin": ("抖音", "Douyin"),
        "shopify": ("Shopify", "Shopify"),
        "wechat": ("微信", "WeChat"),
        "wechat_miniprogram": ("微信小程序", "WeChat mini-program"),
        "amazon": ("亚马逊", "Amazon"),
    },
    "customer_type": {"new": ("新客", "New"), "returning": ("老客", "Returning")},
    "is_weekend": {"true": ("周末", "Weekend"), "false": ("工作日", "Weekday")},
}


def member_label(dim: str, member: str, lang: str) -> str:
    """A coded member in ``lang`` (``live_stream`` -> 直播电商 / Live stream); unknown codes as they are."""
    pair = MEMBERS.get(dim, {}).get(str(member).lower())
    if pair is None:
        return str(member)
    return pair[1] if lang == "en" else pair[0]


def t(key: str, lang: str) -> str:
    """The text of ``key`` in ``lang`` (zh-CN or en); the key itself when unknown, so a gap shows, not crashes."""
    pair = _TEXT.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def metric_label(catalog: Any, name: str, lang: str) -> str:
    """The label of a KPI from the project's catalog (one definition per KPI, one name everywhere)."""
    try:
        m = catalog.get(name)
    except KeyError:
        return name
    return str(m.label_en if lang == "en" else m.label_zh)


def metric_unit(catalog: Any, name: str) -> str:
    """money | count | quantity | percent | ratio (as declared in the catalog)."""
    try:
        return str(catalog.get(name).unit)
    except KeyError:
        return "count"
