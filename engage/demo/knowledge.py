"""Demo canned answers of the real-estate group, in English and Chinese, loaded with demo data."""

# The Chinese answers use full-width punctuation, as Chinese text should.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from engage.desk import knowledge

Document = dict[str, Any]
DEMO_AUTHOR = "demo"
DEMO_UPDATED_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: fixed, so reloads are stable

# (id suffix, category, title, shortcut, tags, en, zh)
ANSWERS: tuple[tuple[str, str, str, str, tuple[str, ...], str, str], ...] = (
    ("greeting", "General", "Greeting", "/hi", ("hello", "你好"),
     "Hello {visitor_name}, this is {agent_name} from {site_name}. How can I help you today?",
     "{visitor_name}您好，我是{site_name}的{agent_name}，请问有什么可以帮您？"),
    ("hours", "General", "Opening hours", "/hours", ("hours", "营业时间"),
     "Our advisers are online 9:00–21:00 every day; property management answers 8:00–22:00.",
     "我们的顾问每天9:00–21:00在线；物业服务热线8:00–22:00。"),
    ("wait", "General", "Please hold", "/wait", ("hold", "稍等"),
     "Thank you for waiting, {visitor_name}. I am checking this with the {queue_name} team.",
     "{visitor_name}，感谢您的耐心等待，我正在与{queue_name}团队确认。"),
    ("goodbye", "General", "Closing the chat", "/bye", ("goodbye", "再见"),
     "Thank you for contacting {site_name}. If anything else comes up, just reply here.",
     "感谢您联系{site_name}，如有其他问题，欢迎随时回复。"),
    ("viewing", "Buying", "Booking a viewing", "/viewing", ("viewing", "看房", "预约"),
     "I can book a viewing for you. Which days suit you, and may I have a phone number our "
     "adviser can reach you on?",
     "我可以为您预约看房。请问您哪天方便？方便留一个顾问联系您的电话吗？"),
    ("deposit-buy", "Buying", "Purchase deposit (定金)", "/deposit",
     ("deposit", "定金", "订金"),
     "A purchase deposit is usually 1–5% of the price and is credited against the down "
     "payment. It is refundable only on the terms written in the reservation agreement.",
     "购房定金一般为房价的1%–5%，签约后抵作首付款。是否可退以认购协议约定为准。"),
    ("mortgage", "Buying", "Mortgage and down payment", "/mortgage",
     ("mortgage", "loan", "贷款", "首付"),
     "For a first home the minimum down payment is usually 20–30%; our mortgage adviser can "
     "compare bank offers for you free of charge.",
     "首套房首付比例一般为20%–30%，我们的贷款顾问可免费为您比较各银行方案。"),
    ("fees", "Buying", "Taxes and fees on a purchase", "/fees", ("tax", "契税", "费用"),
     "Buyers pay deed tax (1–3% depending on size and whether it is a first home) plus a small "
     "registration fee; our agency fee is shown in the offer before you sign.",
     "买方需缴纳契税（按面积和是否首套为1%–3%）及少量登记费；中介费在签约前的报价中列明。"),
    ("rent-deposit", "Renting", "Rental deposit", "/rentdeposit", ("deposit", "押金", "租房"),
     "Rentals are usually 'pay one, deposit one' or 'pay three, deposit one'. The deposit is "
     "returned at move-out after the handover check.",
     "租房一般为押一付一或押一付三，押金在退租交接验房后退还。"),
    ("rent-docs", "Renting", "Documents for renting", "/rentdocs", ("documents", "证件"),
     "Please bring your ID card or passport; foreign tenants also need a valid visa so the "
     "lease can be registered with the police station.",
     "请携带身份证或护照；外籍租客还需有效签证，以便到派出所办理租赁登记。"),
    ("decor-quote", "Decoration", "Decoration quote", "/quote", ("quote", "报价", "装修"),
     "A designer measures the flat for free and sends an itemised quote within three working "
     "days. Shall I book the measurement, {visitor_name}?",
     "设计师免费上门量房，三个工作日内出具分项报价。{visitor_name}，需要为您预约量房吗？"),
    ("decor-warranty", "Decoration", "Decoration warranty", "/warranty",
     ("warranty", "保修"),
     "Decoration work has a two-year warranty, and waterproofing five years, from handover.",
     "装修工程自交付之日起保修两年，防水工程保修五年。"),
    ("greening", "Greening", "Balcony and garden greening", "/greening",
     ("plants", "绿化", "阳台"),
     "Our greening team designs balcony and garden planting and offers monthly care plans. "
     "I can ask a gardener to call you.",
     "我们的绿化团队提供阳台和庭院绿植设计及月度养护服务，可安排园艺师与您联系。"),
    ("repair", "Property management", "Reporting a repair", "/repair",
     ("repair", "报修", "维修"),
     "Please tell me your building and flat number and what needs fixing; an engineer usually "
     "calls back within two hours.",
     "请告诉我您的楼号、房号和需要维修的内容，工程师一般会在两小时内回电。"),
    ("fee-pm", "Property management", "Property management fee", "/pmfee",
     ("fee", "物业费"),
     "The property management fee is billed quarterly and can be paid in the owner app, by "
     "bank transfer or at the service centre.",
     "物业费按季度收取，可通过业主App、银行转账或在服务中心缴纳。"),
)


def demo_answers() -> list[Document]:
    """The demo answers as stored documents, each checked like an edit from the console."""
    docs = []
    for suffix, category, title, shortcut, tags, en, zh in ANSWERS:
        fields = knowledge.validate_answer({"category": category, "title": title,
                                            "shortcut": shortcut, "tags": list(tags),
                                            "text": {"en": en, "zh": zh}})
        docs.append({"_id": f"kb_demo_{suffix}", **fields, "version": 1,
                     "created_by": DEMO_AUTHOR, "created_at_ms": DEMO_UPDATED_MS,
                     "updated_by": DEMO_AUTHOR, "updated_at_ms": DEMO_UPDATED_MS})
    return docs


async def load_demo_answers(db: AsyncDatabase[Document]) -> int:
    """Add the demo answers that are missing; answers staff edited or whose shortcut someone
    took are left alone. Nodes pick them up within knowledge.CACHE_MAX_AGE_SECONDS."""
    await knowledge.ensure_indexes(db)
    col = db[knowledge.COLLECTION]
    taken = {(d["_id"], d.get("shortcut")) async for d in col.find({}, {"shortcut": 1})}
    ids, shortcuts = {i for i, _ in taken}, {s for _, s in taken}
    missing = [d for d in demo_answers() if d["_id"] not in ids and d["shortcut"] not in shortcuts]
    if missing:
        await col.insert_many(missing, ordered=False)
    return len(missing)
