"""Fixed tables of the demo real-estate group, and how its people, contacts and times are drawn."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engage.models import Role

Document = dict[str, Any]
INVALID_CONTACT_RATE = 0.01

# Three years of history, fixed so every load is identical: never derived from now().
WINDOW_START = datetime(2023, 11, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)  # exclusive: the last day is 2026-10-31
N_DAYS = (WINDOW_END - WINDOW_START).days
DAY = 86_400

BUSINESS_LINES: tuple[str, ...] = (
    "buy_sell", "rent", "decoration", "greening", "property_management")


@dataclass(frozen=True)
class Product:
    """One sellable item; ``price`` is the CNY list price of one unit."""

    sku: str
    name: str
    name_zh: str
    business_line: str
    price: int
    spread: float  # lognormal sigma of the paid amount around the list price

    def document(self) -> Document:
        return {"_id": self.sku, "name": self.name, "name_zh": self.name_zh,
                "business_line": self.business_line, "price": self.price}


# Prices are 2026 Shanghai levels: whole homes at market value, rents and fees per unit period.
PRODUCTS: tuple[Product, ...] = (
    Product("BS-APT", "Apartment purchase", "公寓购买", "buy_sell", 6_200_000, 0.35),
    Product("BS-VIL", "Villa purchase", "别墅购买", "buy_sell", 19_800_000, 0.30),
    Product("BS-RES", "Resale listing service", "二手房挂牌服务", "buy_sell", 58_000, 0.40),
    Product("BS-MTG", "Mortgage service", "按揭贷款服务", "buy_sell", 8_800, 0.10),
    Product("BS-VAL", "Property valuation", "房产评估", "buy_sell", 1_800, 0.05),
    Product("BS-TTL", "Title transfer service", "过户代办", "buy_sell", 3_500, 0.05),
    Product("RN-LTL", "Long-term lease (month)", "长租公寓(月)", "rent", 7_800, 0.30),
    Product("RN-SHR", "Shared flat room (month)", "合租单间(月)", "rent", 3_200, 0.25),
    Product("RN-SVC", "Serviced apartment (month)", "服务式公寓(月)", "rent", 16_500, 0.25),
    Product("RN-OFF", "Office lease (month)", "写字楼租赁(月)", "rent", 42_000, 0.40),
    Product("RN-SHP", "Shopfront lease (month)", "商铺租赁(月)", "rent", 26_000, 0.40),
    Product("RN-AGT", "Tenant agency service", "租赁中介服务", "rent", 3_900, 0.20),
    Product("DC-FUL", "Full renovation", "全屋装修", "decoration", 320_000, 0.35),
    Product("DC-KB", "Kitchen & bath renovation", "厨卫翻新", "decoration", 78_000, 0.30),
    Product("DC-SFT", "Soft furnishing package", "软装搭配", "decoration", 42_000, 0.35),
    Product("DC-SMT", "Smart home installation", "智能家居安装", "decoration", 26_000, 0.30),
    Product("DC-PNT", "Wall repaint", "墙面翻新", "decoration", 12_500, 0.25),
    Product("DC-FLR", "Flooring replacement", "地板更换", "decoration", 34_000, 0.30),
    Product("GR-BAL", "Balcony garden", "阳台花园", "greening", 6_800, 0.30),
    Product("GR-ROF", "Rooftop greening", "屋顶绿化", "greening", 58_000, 0.35),
    Product("GR-CRT", "Courtyard landscaping", "庭院景观", "greening", 120_000, 0.35),
    Product("GR-IND", "Indoor plant package", "室内绿植套餐", "greening", 1_600, 0.25),
    Product("GR-CARE", "Plant care subscription (year)", "绿植养护年卡", "greening", 2_400, 0.05),
    Product("PM-BAS", "Basic property service fee (year)", "物业基础服务费(年)",
            "property_management", 5_400, 0.25),
    Product("PM-PRM", "Premium concierge (year)", "尊享管家服务(年)",
            "property_management", 18_000, 0.20),
    Product("PM-PRK", "Parking space (year)", "车位租赁(年)", "property_management", 9_600, 0.15),
    Product("PM-RPR", "Home repair plan (year)", "家居维修计划(年)",
            "property_management", 1_200, 0.05),
    Product("PM-CLN", "Home cleaning visit", "家政保洁", "property_management", 380, 0.15),
    Product("PM-FIX", "On-demand repair call-out", "上门维修", "property_management", 260, 0.40),
)
SKU_INDEX: dict[str, int] = {p.sku: i for i, p in enumerate(PRODUCTS)}

# Districts with weights proportional to resident population (millions, 2020 census).
DISTRICTS: tuple[tuple[str, float], ...] = (
    ("Pudong", 5.68), ("Minhang", 2.65), ("Baoshan", 2.24), ("Songjiang", 1.91),
    ("Jiading", 1.83), ("Qingpu", 1.27), ("Fengxian", 1.14), ("Xuhui", 1.11),
    ("Putuo", 1.24), ("Yangpu", 1.24), ("Jing'an", 0.98), ("Huangpu", 0.66),
    ("Changning", 0.69), ("Hongkou", 0.76), ("Jinshan", 0.82), ("Chongming", 0.64),
)
AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_WEIGHTS: tuple[float, ...] = (0.08, 0.27, 0.27, 0.18, 0.12, 0.08)
INCOME_BANDS: tuple[str, ...] = ("<100k", "100k-200k", "200k-400k", "400k-800k", "800k+")
ORIGIN_CHANNELS: tuple[tuple[str, float], ...] = (
    ("web", 0.32), ("phone", 0.18), ("walk_in", 0.14), ("referral", 0.12), ("partner", 0.08),
    ("wechat", 0.16))
MEMBERSHIPS: tuple[str, ...] = ("none", "silver", "gold", "platinum")

# (pinyin, hanzi, weight): the most common surnames with rough frequency weights.
SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("Wang", "王", 7.3), ("Li", "李", 7.2), ("Zhang", "张", 6.8), ("Liu", "刘", 5.4),
    ("Chen", "陈", 4.5), ("Yang", "杨", 3.1), ("Huang", "黄", 2.5), ("Zhao", "赵", 2.3),
    ("Wu", "吴", 2.1), ("Zhou", "周", 2.1), ("Xu", "徐", 1.7), ("Sun", "孙", 1.5),
    ("Ma", "马", 1.5), ("Zhu", "朱", 1.3), ("Hu", "胡", 1.3), ("Guo", "郭", 1.2),
    ("He", "何", 1.2), ("Gao", "高", 1.1), ("Lin", "林", 1.1), ("Luo", "罗", 1.0),
    ("Zheng", "郑", 1.0), ("Liang", "梁", 0.9), ("Xie", "谢", 0.8), ("Song", "宋", 0.7),
    ("Tang", "唐", 0.7), ("Shen", "沈", 0.6), ("Gu", "顾", 0.5), ("Qian", "钱", 0.4),
)
GIVEN_SYLLABLES: tuple[tuple[str, str], ...] = (
    ("wei", "伟"), ("fang", "芳"), ("na", "娜"), ("min", "敏"), ("jing", "静"), ("li", "丽"),
    ("qiang", "强"), ("lei", "磊"), ("jun", "军"), ("yang", "洋"), ("yong", "勇"), ("yan", "艳"),
    ("jie", "杰"), ("juan", "娟"), ("tao", "涛"), ("ming", "明"), ("chao", "超"), ("xiu", "秀"),
    ("xia", "霞"), ("ping", "平"), ("gang", "刚"), ("hui", "慧"), ("yu", "宇"), ("hao", "浩"),
    ("xin", "欣"), ("ting", "婷"), ("lin", "琳"), ("chen", "晨"), ("yi", "怡"), ("zi", "梓"),
    ("han", "涵"), ("xuan", "轩"), ("rui", "睿"), ("bo", "博"), ("wen", "文"), ("hua", "华"),
    ("xiao", "晓"), ("jia", "佳"), ("tian", "天"), ("kai", "凯"),
)
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("qq.com", 0.30), ("163.com", 0.22), ("126.com", 0.10), ("foxmail.com", 0.08),
    ("sina.com", 0.06), ("gmail.com", 0.10), ("outlook.com", 0.10), ("icloud.com", 0.04))
# Mainland mobile prefixes in use (China Mobile, Unicom, Telecom).
MOBILE_PREFIXES: tuple[str, ...] = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180", "181",
    "182", "183", "185", "186", "187", "188", "189", "199")

INTERACTION_CHANNELS: tuple[tuple[str, float], ...] = (
    ("chat", 0.38), ("voice", 0.10), ("video", 0.06), ("phone", 0.34), ("email", 0.12))
DISPOSITIONS: tuple[tuple[str, float, str], ...] = (
    ("resolved", 0.46, "answered the question; nothing left open"),
    ("sale_opportunity", 0.18, "interested; handed to sales with a quote"),
    ("follow_up", 0.16, "needs documents; follow-up call booked"),
    ("transferred", 0.08, "transferred to a specialist"),
    ("abandoned", 0.12, "customer left before an agent answered"),
)

# Agent display names, in username order agent01..agent20.
AGENT_NAMES: tuple[str, ...] = (
    "Chen Jing", "Wang Lei", "Li Na", "Zhang Wei", "Liu Yang", "Zhou Min", "Xu Hao",
    "Sun Li", "Zhu Ting", "Hu Jun", "Guo Xin", "Lin Yi", "He Fang", "Gao Rui", "Ma Chao",
    "Zhao Hui", "Wu Tao", "Shen Jia", "Gu Ming", "Tang Xia")

QUEUE_SETTINGS: dict[str, tuple[str, int, int, int]] = {
    # line: (name, priority - higher is served first, max_wait_seconds, wrap_up_seconds)
    "buy_sell": ("Buy & Sell", 5, 180, 60),
    "rent": ("Rent", 4, 240, 45),
    "decoration": ("Decoration", 3, 300, 60),
    "greening": ("Greening", 2, 300, 30),
    "property_management": ("Property Management", 3, 240, 45),
}

SITES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("site_homes_demo", "Shanghai Homes",
     ("http://127.0.0.1:8080", "http://localhost:8080", "http://homes.example.test")),
    ("site_living_demo", "Shanghai Living",
     ("http://localhost:8081", "http://living.example.test")),
)

# Where each demo site's help requests go.
SITE_QUEUES = {"site_homes_demo": "buy_sell", "site_living_demo": "decoration"}


@dataclass(frozen=True)
class StaffAccount:
    username: str
    role: Role
    display_name: str
    skills: dict[str, int]
    queues: list[str]


def agent_accounts() -> list[StaffAccount]:
    """20 agents, four per primary line; every third also covers the next line, every fifth a
    third one, so each queue has several agents of mixed levels."""
    accounts: list[StaffAccount] = []
    for i in range(20):
        lines = [BUSINESS_LINES[i % 5]]
        if i % 3 == 0:
            lines.append(BUSINESS_LINES[(i + 1) % 5])
        if i % 5 == 4:
            lines.append(BUSINESS_LINES[(i + 2) % 5])
        skills = {line: max(1, 5 - (i // 5) - rank) for rank, line in enumerate(lines)}
        skills["zh"] = 5
        if i % 4 in (0, 3):  # about half the team can serve English speakers
            skills["en"] = 2 + i % 4
        accounts.append(StaffAccount(f"agent{i + 1:02d}", Role.AGENT, AGENT_NAMES[i],
                                     skills, lines))
    return accounts


def staff_accounts() -> list[StaffAccount]:
    front, back = list(BUSINESS_LINES[:3]), list(BUSINESS_LINES[3:])
    return [*agent_accounts(),
            StaffAccount("supervisor1", Role.SUPERVISOR, "Qian Yue",
                         {**dict.fromkeys(front, 5), "zh": 5, "en": 4}, front),
            StaffAccount("supervisor2", Role.SUPERVISOR, "Song Bin",
                         {**dict.fromkeys(back, 5), "zh": 5}, back),
            StaffAccount("marketer1", Role.MARKETER, "Xie Lan", {}, []),
            StaffAccount("admin", Role.ADMIN, "Site Admin", {}, [])]


def site_documents(seed: int) -> list[Document]:
    """The two demo websites; the identity secret is derived from the seed because this is
    throw-away demo data that must be reproducible, never a production secret."""
    return [{"site_key": key, "name": name, "allowed_origins": sorted(origins),
             "identity_secret": hashlib.sha256(f"engage-demo:{seed}:{key}".encode()).hexdigest(),
             "widget": {"queue": SITE_QUEUES[key], "thresholds": {}, "sensitive_params": []}}
            for key, name, origins in SITES]


def queue_documents() -> list[Document]:
    docs: list[Document] = []
    for line, (name, priority, max_wait, wrap_up) in QUEUE_SETTINGS.items():
        hours = ("08:00", "22:00") if line == "property_management" else ("09:00", "21:00")
        docs.append({"_id": line, "name": name, "business_line": line,
                     "required_skills": {line: 1}, "priority": priority,
                     "max_wait_seconds": max_wait, "service_level_seconds": 20,
                     "wrap_up_seconds": wrap_up,
                     "business_hours": {"tz": "Asia/Shanghai", "days": list(range(7)),
                                        "open": hours[0], "close": hours[1]}})
    return docs


def pick(rng: np.random.Generator, weights: Any, size: int) -> NDArray[np.int64]:
    """``size`` indices drawn with probability proportional to ``weights``."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum()).astype(np.int64)


def person_names(rng: np.random.Generator, n: int) -> tuple[list[str], list[str], list[str]]:
    """Pinyin display names, hanzi names, and the e-mail local part built from the pinyin."""
    sur = pick(rng, [w for *_, w in SURNAMES], n).tolist()
    g1 = rng.integers(0, len(GIVEN_SYLLABLES), n).tolist()
    g2 = np.where(rng.random(n) < 0.65, rng.integers(0, len(GIVEN_SYLLABLES), n), -1)
    names, names_zh, locals_ = [], [], []
    for s, a, b in zip(sur, g1, g2.tolist(), strict=True):
        (sp, sz, _), (ap, az) = SURNAMES[s], GIVEN_SYLLABLES[a]
        bp, bz = GIVEN_SYLLABLES[b] if b >= 0 else ("", "")
        names.append(f"{sp} {(ap + bp).capitalize()}")
        names_zh.append(sz + az + bz)
        locals_.append(f"{ap}{bp}.{sp.lower()}")
    return names, names_zh, locals_


def contact_details(rng: np.random.Generator, locals_: list[str]) -> tuple[list[str], list[str]]:
    """Unique E.164 mobiles and e-mails, then ~1% of each spoiled for the cleansing step."""
    n = len(locals_)
    prefix = rng.integers(0, len(MOBILE_PREFIXES), n).tolist()
    suffix = rng.choice(10**8, n, replace=False).tolist()  # unique: only planted dups share
    phones = [f"+86{MOBILE_PREFIXES[p]}{s:08d}" for p, s in zip(prefix, suffix, strict=True)]
    domains = pick(rng, [w for _, w in EMAIL_DOMAINS], n).tolist()
    serial = (rng.permutation(n) + 100).tolist()  # unique, so addresses never collide
    numeric = (rng.random(n) < 0.6).tolist()
    emails = [f"{10_000_000 + 4973 * k}@qq.com" if d == 0 and num
              else f"{loc}{k}@{EMAIL_DOMAINS[d][0]}"
              for loc, d, k, num in zip(locals_, domains, serial, numeric, strict=True)]
    for i, kind in zip(*_spoiled(rng, n), strict=True):
        phones[i] = ("", phones[i][3:10], phones[i][:-4], "00000000000")[kind % 4]
    for i, kind in zip(*_spoiled(rng, n), strict=True):
        e = emails[i]
        emails[i] = ("", e.replace("@", ""), e.rsplit(".", 1)[0], e.replace("@", "@@"),
                     e.replace(".", " ", 1))[kind % 5]
    return phones, emails


def _spoiled(rng: np.random.Generator, n: int) -> tuple[list[int], list[int]]:
    rows = np.flatnonzero(rng.random(n) < INVALID_CONTACT_RATE)
    return rows.tolist(), rng.integers(0, 20, len(rows)).tolist()


def when(seconds: Any) -> list[datetime]:
    """Datetimes (UTC) of second offsets from WINDOW_START."""
    return [WINDOW_START + timedelta(seconds=s) for s in np.asarray(seconds).tolist()]


def office_seconds(rng: np.random.Generator, day: Any) -> NDArray[np.int64]:
    """A second offset on each given day during 09:00-20:00 Shanghai time (01:00-12:00 UTC),
    so contacts fall inside the queues' business hours."""
    days: NDArray[np.int64] = np.asarray(day, dtype=np.int64)
    return days * DAY + 3600 + rng.integers(0, 11 * 3600, len(days))


def _clean(phone: str, email: str) -> bool:
    return (phone.startswith("+86") and len(phone) == 14 and "@" in email
            and "@@" not in email and " " not in email and "." in email.split("@")[-1])


def plant_duplicates(rng: np.random.Generator, names: list[str], names_zh: list[str],
                     phones: list[str], emails: list[str], n_dup: int) -> NDArray[np.int64]:
    """Make the last ``n_dup`` rows people who registered twice: a slightly different name,
    the same phone, e-mail or both. Returns the rows of the originals, all with clean contacts
    so the dedupe step can find every pair."""
    n_p = len(names) - n_dup
    orig = rng.choice(np.array([i for i in range(n_p) if _clean(phones[i], emails[i])]),
                      n_dup, replace=False).astype(np.int64)
    share_phone = (rng.random(n_dup) < 0.75).tolist()
    share_email = (rng.random(n_dup) < 0.5).tolist()
    variant = rng.integers(0, 4, n_dup).tolist()
    for j, o in enumerate(orig.tolist()):
        d = n_p + j
        sur, given = names[o].split(" ")
        names[d] = (f"{given} {sur}", names[o].lower(), f"{sur} {given[0]}.", names_zh[o])[
            variant[j]]
        names[d] = names_zh[o] if names[d] == names[o] else names[d]  # "Lin Lin" swapped
        names_zh[d] = names_zh[o]
        phones[d] = phones[o] if share_phone[j] else phones[d]
        if share_email[j] or not share_phone[j]:
            emails[d] = emails[o]
        else:  # a second address of the same person; '_' keeps it unique among all addresses
            emails[d] = f"{given.lower()}_{sur.lower()}{j}@{EMAIL_DOMAINS[j % 8][0]}"
    return orig
