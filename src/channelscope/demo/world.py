"""The fixed world of the demo brand: its window in time, channels, products, distributors,
campaigns and the pool of customers (phones, names, provinces).

Everything here is plain data or drawn from the seeded generator passed in; nothing is written.
Money is kept in integer fen (cents) throughout the demo so every total is exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: First and last day of the demo's orders (14 months; two 双11, one 双12, 春节 2025, 618 2025).
START = dt.date(2024, 10, 1)
END = dt.date(2025, 11, 30)
#: "Today" of the demo: every export was taken on or before this time (Asia/Shanghai).
AS_OF = dt.datetime(2025, 12, 3, 10, 0, 0)
BRAND = "青禾 Qinghe"
TIMEZONE = "Asia/Shanghai"
BASE_CURRENCY = "CNY"


@dataclass(frozen=True)
class ChannelSpec:
    """How one channel behaves: its share of orders, buyers and prices."""

    id: str
    name: str
    kind: str
    platform: str
    fee_rate: float
    share: float  # share of all orders
    growth: float  # relative growth over the window
    weekend: float  # weekend multiplier of demand
    festival_power: float  # how strongly festivals move this channel (exponent)
    price_factor: float  # selling price / list price
    unpaid: float  # share of orders never paid
    refund: float  # share of paid orders refunded (full or partial)
    conversion: float  # orders / visitors
    ad_share: float  # share of orders driven by ads
    one_line: float  # share of single-line orders
    parent_id: str | None = None


CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        "tmall", "天猫旗舰店", "marketplace", "tmall", 0.05, 0.30, 0.10, 1.10, 1.00, 0.90, 0.07, 0.08, 0.030, 0.25, 0.62
    ),
    ChannelSpec(
        "jd", "京东旗舰店", "marketplace", "jd", 0.06, 0.18, 0.15, 1.08, 0.90, 0.92, 0.05, 0.06, 0.040, 0.20, 0.66
    ),
    ChannelSpec(
        "douyin", "抖音小店", "live_stream", "douyin", 0.05, 0.22, 0.60, 1.25, 0.70, 0.80, 0.10, 0.16, 0.015, 0.35, 0.85
    ),
    ChannelSpec(
        "own_store",
        "品牌官网",
        "own_store",
        "shopify",
        0.006,
        0.08,
        0.30,
        1.00,
        0.50,
        1.00,
        0.08,
        0.05,
        0.020,
        0.30,
        0.60,
    ),
    ChannelSpec(
        "miniprogram",
        "微信小程序商城",
        "own_store",
        "wechat_miniprogram",
        0.006,
        0.07,
        0.40,
        0.95,
        0.60,
        0.95,
        0.06,
        0.04,
        0.035,
        0.15,
        0.62,
        "own_store",
    ),
    ChannelSpec(
        "wechat_resellers",
        "微信分销",
        "distributor",
        "wechat",
        0.0,
        0.15,
        0.25,
        0.90,
        0.40,
        0.85,
        0.02,
        0.03,
        0.0,
        0.0,
        0.55,
    ),
)
CHANNEL_IDS = tuple(c.id for c in CHANNELS)


def channel(cid: str) -> ChannelSpec:
    return next(c for c in CHANNELS if c.id == cid)


#: (spu, category, name, [(variant, list price in yuan)]); unit cost is a share of list price.
_CATALOG = (
    ("CL01", "洁面", "氨基酸洁面乳", [("100G", 89), ("150G", 119)]),
    ("CL02", "洁面", "净澈洁面慕斯", [("150ML", 99)]),
    ("SE01", "精华", "烟酰胺焕亮精华", [("30ML", 259), ("50ML", 369)]),
    ("SE02", "精华", "玻尿酸保湿精华", [("30ML", 229)]),
    ("SE03", "精华", "视黄醇修护精华", [("30ML", 329)]),
    ("CR01", "面霜", "积雪草修护面霜", [("50G", 199)]),
    ("CR02", "面霜", "神经酰胺保湿霜", [("50G", 239), ("100G", 399)]),
    ("MK01", "面膜", "补水舒缓面膜", [("5P", 69), ("10P", 129)]),
    ("MK02", "面膜", "清洁泥膜", [("100G", 109)]),
    ("SS01", "防晒", "清透防晒乳", [("30ML", 99), ("50ML", 149)]),
    ("TN01", "水乳", "平衡爽肤水", [("150ML", 139)]),
    ("TN02", "水乳", "保湿乳液", [("120ML", 159)]),
    ("EY01", "眼霜", "抗皱紧致眼霜", [("15G", 289)]),
    ("GS01", "套装", "护肤三件套", [("SET", 499)]),
    ("GS02", "套装", "旅行装礼盒", [("MINI", 159)]),
    ("GS03", "套装", "节日限定礼盒", [("GIFT", 599)]),
)
#: SKU codes that look real but are not in the catalogue (for the unknown-SKU rows).
UNKNOWN_SKUS = ("QH-SE09-30ML", "QH-CR07-50G", "QH-XX00-OLD")


def products(rng: np.random.Generator) -> pd.DataFrame:
    """The catalogue: one row per SKU, prices in fen; ``weight`` is its popularity."""
    rows = []
    for spu, category, name, variants in _CATALOG:
        for variant, price in variants:
            cost_share = 0.22 + 0.12 * rng.random()
            rows.append(
                {
                    "sku": f"QH-{spu}-{variant}",
                    "spu": f"QH-{spu}",
                    "name": f"{name} {variant.lower()}",
                    "category": category,
                    "brand": BRAND,
                    "list_cents": price * 100,
                    "cost_cents": round(price * 100 * cost_share),
                    "map_cents": round(price * 100 * 0.8 / 10) * 10,
                }
            )
    out = pd.DataFrame(rows)
    out["weight"] = 1.0 / np.arange(1, len(out) + 1) ** 0.8
    out["weight"] = out["weight"].to_numpy()[rng.permutation(len(out))]
    return out


#: (province, [cities], weight): where buyers live.
PROVINCES = (
    ("广东省", ["广州市", "深圳市", "东莞市"], 12),
    ("浙江省", ["杭州市", "宁波市", "温州市"], 9),
    ("江苏省", ["南京市", "苏州市", "无锡市"], 9),
    ("上海市", ["上海市"], 6),
    ("北京市", ["北京市"], 5),
    ("山东省", ["济南市", "青岛市"], 7),
    ("四川省", ["成都市", "绵阳市"], 6),
    ("湖北省", ["武汉市"], 5),
    ("河南省", ["郑州市", "洛阳市"], 5),
    ("福建省", ["福州市", "厦门市"], 4),
    ("湖南省", ["长沙市"], 4),
    ("安徽省", ["合肥市"], 3),
    ("河北省", ["石家庄市"], 3),
    ("陕西省", ["西安市"], 3),
    ("重庆市", ["重庆市"], 3),
    ("天津市", ["天津市"], 2),
    ("辽宁省", ["沈阳市", "大连市"], 3),
    ("江西省", ["南昌市"], 2),
    ("云南省", ["昆明市"], 2),
    ("广西壮族自治区", ["南宁市"], 2),
)
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董")
_GIVEN = list("伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华玉兰萍红雪梅琳晨宇欣怡浩然子轩")
_STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "文化路", "青年路", "长江路")


def customers(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """A pool of ``n`` people: unique mobile numbers, names, addresses, e-mails, buyer nicks."""
    phones = np.unique(rng.integers(13_000_000_000, 19_999_999_999, size=int(n * 1.05) + 16))
    phones = rng.permutation(phones)[:n]
    while len(phones) < n:  # astronomically rare: top up
        phones = np.unique(np.concatenate([phones, rng.integers(13_000_000_000, 19_999_999_999, n)]))[:n]
    weights = np.array([p[2] for p in PROVINCES], dtype=float)
    prov = rng.choice(len(PROVINCES), size=n, p=weights / weights.sum())
    city_pick = rng.integers(0, 3, size=n)
    names = (
        np.array(_SURNAMES)[rng.integers(0, len(_SURNAMES), n)]
        + np.array(_GIVEN)[rng.integers(0, len(_GIVEN), n)]
        + np.where(rng.random(n) < 0.7, np.array(_GIVEN)[rng.integers(0, len(_GIVEN), n)], "")
    )
    province = np.array([p[0] for p in PROVINCES])[prov]
    city_table = np.array([[p[1][k % len(p[1])] for k in range(3)] for p in PROVINCES])
    city = city_table[prov, city_pick]
    street = np.array(_STREETS)[rng.integers(0, len(_STREETS), n)]
    number = rng.integers(1, 300, n).astype(str)
    idx = np.arange(n)
    return pd.DataFrame(
        {
            "phone": phones.astype(np.int64).astype(str),
            "name": names,
            "province": province,
            "city": city,
            "address": pd.Series(province) + " " + city + " " + street + " " + number + "号",
            "email": "qh" + pd.Series((idx * 7919 % 10_000_019).astype(str)).str.zfill(8) + "@example.com",
            "nick": "tb" + pd.Series((idx * 104_729 % 99_999_989).astype(str)).str.zfill(8),
            "propensity": rng.gamma(0.6, 1.0, n) + 0.05,
        }
    )


@dataclass(frozen=True)
class DistributorSpec:
    id: str
    channel_id: str
    name: str
    kind: str
    tier: int
    parent_id: str | None
    commission_rate: float
    region: str | None
    joined_at: dt.date
    status: str
    weight: float


#: Commission a tier-1 reseller earns on the sales of its tier-2 children (override), share of net.
TIER1_OVERRIDE = 0.05


def distributors(rng: np.random.Generator) -> list[DistributorSpec]:
    """Two tiers of WeChat resellers (parent_id links tier 2 to tier 1) and Douyin live hosts."""
    out: list[DistributorSpec] = []
    for i in range(1, 9):
        prov = PROVINCES[(i * 3) % len(PROVINCES)][0]
        tid = f"wx-r{i:02d}"
        out.append(
            DistributorSpec(
                tid,
                "wechat_resellers",
                f"{prov[:2]}总代{i:02d}",
                "reseller",
                1,
                None,
                0.15,
                prov,
                START - dt.timedelta(days=int(rng.integers(90, 700))),
                "active",
                float(rng.uniform(0.8, 2.0)),
            )
        )
        for j in range(1, int(rng.integers(3, 7)) + 1):
            joined = START + dt.timedelta(days=int(rng.integers(-200, 300)))
            status = "inactive" if rng.random() < 0.1 else "active"
            out.append(
                DistributorSpec(
                    f"{tid}-{j:02d}",
                    "wechat_resellers",
                    f"{prov[:2]}分销{i:02d}{j:02d}",
                    "reseller",
                    2,
                    tid,
                    0.20,
                    prov,
                    joined,
                    status,
                    float(rng.gamma(1.5, 0.5)),
                )
            )
    hosts = (
        ("7012345601", "青禾官方直播间", "live_host", 0.0),
        ("7012345602", "美妆达人小鹿", "live_host", 0.20),
        ("7012345603", "护肤博主Anna", "kol", 0.25),
        ("7012345604", "成分党阿杰", "live_host", 0.22),
        ("7012345605", "宝妈好物分享", "live_host", 0.20),
        ("7012345606", "头部主播星星", "live_host", 0.30),
    )
    for hid, name, kind, rate in hosts:
        out.append(
            DistributorSpec(
                hid,
                "douyin",
                name,
                kind,
                1,
                None,
                rate,
                None,
                START - dt.timedelta(days=int(rng.integers(30, 400))),
                "active",
                float(rng.uniform(0.5, 2.5)),
            )
        )
    return out


@dataclass(frozen=True)
class CampaignSpec:
    id: str
    name: str
    kind: str
    channel_id: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    budget_cents: int | None
    code: str | None


def _window(start: str, end: str) -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime.fromisoformat(start + " 00:00:00"), dt.datetime.fromisoformat(end + " 23:59:59")


#: Always-on ad campaigns, one per advertised channel: (campaign, name, channel, ad platform).
AD_CAMPAIGNS = (
    ("tmall-wxt", "阿里妈妈万相台", "tmall", "alimama"),
    ("jd-jzt", "京准通快车", "jd", "jingzhuntong"),
    ("douyin-qc", "巨量千川", "douyin", "oceanengine"),
    ("own-sem", "百度搜索推广", "own_store", "baidu"),
    ("mini-gdt", "腾讯广告朋友圈", "miniprogram", "tencent_ads"),
)


def campaigns() -> list[CampaignSpec]:
    """Ad campaigns (always on), festival and promotion windows and Douyin live sessions."""
    out = [
        CampaignSpec(cid, name, "ad", ch, *_window(START.isoformat(), END.isoformat()), None, None)
        for cid, name, ch, _ in AD_CAMPAIGNS
    ]
    windows = (
        ("fest-2024-1111", "2024 双11", "festival", "2024-10-14", "2024-11-11", "D11-2024"),
        ("fest-2024-1212", "2024 双12", "festival", "2024-12-10", "2024-12-12", "D12-2024"),
        ("fest-2025-nhj", "2025 年货节", "festival", "2025-01-06", "2025-01-22", "NHJ-2025"),
        ("promo-2025-38", "2025 女王节", "promotion", "2025-03-01", "2025-03-08", "QUEEN-2025"),
        ("fest-2025-618", "2025 618", "festival", "2025-05-13", "2025-06-18", "618-2025"),
        ("fest-2025-1111", "2025 双11", "festival", "2025-10-07", "2025-11-11", "D11-2025"),
    )
    for cid, name, kind, s, e, code in windows:
        out.append(CampaignSpec(cid, name, kind, None, *_window(s, e), None, code))
    for day, name in (("2025-04-19", "星星专场直播"), ("2025-08-08", "品牌日直播"), ("2025-10-20", "双11预售直播")):
        start = dt.datetime.fromisoformat(day + " 19:00:00")
        out.append(
            CampaignSpec(
                f"live-{day}", name, "live_session", "douyin", start, start + dt.timedelta(hours=5), None, None
            )
        )
    return out


#: the share of the day's Douyin visitors that watched each live session (its live room's viewers): the
#: traffic export gives the session its own row (campaign_id = the session) and the channel's row of that day
#: keeps the rest, so the channel's daily visitors are unchanged
LIVE_VIEWER_SHARE = {"live-2025-04-19": 0.31, "live-2025-08-08": 0.18, "live-2025-10-20": 0.26}


def days() -> pd.DatetimeIndex:
    """Every day of the window."""
    return pd.date_range(START, END, freq="D")
