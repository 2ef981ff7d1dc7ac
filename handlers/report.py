"""The resident's report conversation (点单): describe, locate, confirm, file.

Text, voice, photo and location may come in any order; the bot asks only for what is
missing. Urgent matters file at once with advice on what to do meanwhile.
"""

from handlers import texts
from handlers.classifier import CATEGORY_NAMES, classify
from handlers.commands import normalize
from handlers.conversation import END, NOT_MINE, Conversation
from handlers.places import extract_place
from models import lifecycle, notices
from models.enums import Urgency
from models.org import Compound, OrgUnit
from models.places import compound_names, locate, similar_open_tickets

CONFIRM_WORDS = {"确认", "确定", "是", "是的", "对", "好", "好的", "提交", "ok", "可以", "嗯"}
NOT_DUPLICATE = {"不是", "否", "不", "不是的", "新的", "继续"}
NO_DANGER = {"2", "0", "没有", "没", "无", "否", "不是", "不", "没事", "没有的", "都没有", "还好"}


def _absorb(message, data: dict) -> None:
    """Fold one message into the draft: text, photo, location, place mentions."""
    if message.kind == "image" and message.photo:
        data.setdefault("photos", []).append(message.photo)
    elif message.kind == "location" and message.lat is not None:
        data.update(lat=message.lat, lng=message.lng, label=message.label)
        compound, grid = locate(message.lat, message.lng)
        if compound is not None:
            data["compound_id"] = compound.id
        if grid is not None:
            data["grid_id"] = grid.id
    elif message.kind in ("text", "voice") and message.clean_text:
        _absorb_text(message.clean_text, data)


def _absorb_text(text: str, data: dict) -> None:
    mention = _absorb_place_only(text, data)
    if _only_place(text, mention):
        return
    data["text"] = f"{data['text']}；{text}" if data.get("text") else text
    result = classify(data["text"])
    if not data.get("category_picked"):
        data.update(
            category=result.category,
            confident=result.is_confident,
            alternatives=[code for code, _ in result.alternatives],
        )
    data["urgency"] = result.urgency
    data["urgency_unsure"] = result.urgency_unsure


def _only_place(text: str, mention) -> bool:
    """'5号楼' or '幸福里小区3单元' adds a place, not a new description."""
    rest = text
    for part in (mention.compound_name, mention.building, mention.unit, mention.room):
        if part:
            rest = rest.replace(part, "")
    rest = rest.strip(" 号楼栋幢座单元室房,，。在是的")
    return bool(mention.building or mention.compound_name or mention.room) and len(rest) <= 1


def _compound(session) -> Compound | None:
    cid = session.data.get("compound_id")
    if cid:
        return Compound.get_or_none(Compound.id == cid)
    return session.user.compound


def _grid(session):
    """The grid of a location that is near no compound (the compound's grid otherwise)."""
    gid = session.data.get("grid_id")
    return OrgUnit.get_or_none(OrgUnit.id == gid) if gid else None


def _place_known(session) -> bool:
    return _compound(session) is not None or _grid(session) is not None


def _place_text(data: dict, compound) -> str:
    parts = [compound.name if compound else (data.get("label") or "已发送的位置")]
    for field, suffix in (("building", "号楼"), ("unit_no", "单元"), ("room", "室")):
        if data.get(field):
            parts.append(f"{data[field]}{suffix}")
    return "".join(parts)


def _advice(category: str) -> str:
    return notices.URGENT_ADVICE.get(category, notices.DEFAULT_URGENT_ADVICE)


def _file(session):
    data, user = session.data, session.user
    compound = _compound(session)
    ticket = lifecycle.submit(
        user, data["text"], data["category"], data.get("urgency"), compound=compound,
        grid=None if compound is not None else _grid(session),
        building=data.get("building", ""), unit_no=data.get("unit_no", ""),
        room=data.get("room", ""), lat=data.get("lat"), lng=data.get("lng"),
        photos=data.get("photos", []), channel="chat",
    )  # fmt: skip
    if ticket.urgency == Urgency.URGENT:
        reply = texts.REPORT_FILED_URGENT.format(
            number=ticket.number, advice=_advice(ticket.category)
        )
    else:
        reply = texts.REPORT_FILED.format(number=ticket.number)
    return reply, END


def _next_question(message, session):
    """Ask for whatever is still missing, or file."""
    data = session.data
    if not data.get("text"):
        return texts.REPORT_ASK_WHAT, "describe"
    if data.get("urgency_unsure") and not data.get("danger_answered"):
        return texts.REPORT_DANGER_QUESTION, "danger"
    compound = _compound(session)
    if data.get("urgency") == Urgency.URGENT:
        if not _place_known(session):
            return texts.REPORT_URGENT_NEED_PLACE.format(advice=_advice(data["category"])), "place"
        return _file(session)
    if not data.get("confident") and not data.get("category_picked"):
        return _category_menu(data), "category"
    if not _place_known(session):
        return texts.REPORT_ASK_PLACE, "place"
    if not data.get("dups_checked"):
        data["dups_checked"] = True
        dups = similar_open_tickets(data["category"], compound, data.get("lat"), data.get("lng"))
        if dups:
            data["dups"] = [t.id for t in dups]
            items = "\n".join(f"{i}. {notices.brief(t)}：{notices.snippet(t.text, 24)}"
                              for i, t in enumerate(dups, 1))  # fmt: skip
            return texts.DUPLICATE_OFFER.format(items=items), "duplicate"
    return _summary(data, compound), "confirm"


def _category_menu(data: dict) -> str:
    codes = [c for c in data.get("alternatives", []) if c != "other"][:3]
    data["choices"] = codes
    choices = "\n".join(f"{i}. {CATEGORY_NAMES[c]}" for i, c in enumerate(codes, 1))
    return texts.REPORT_PICK_CATEGORY.format(choices=choices)


def _summary(data: dict, compound) -> str:
    photos = f"照片：{len(data['photos'])}张\n" if data.get("photos") else ""
    return texts.REPORT_SUMMARY.format(
        text=notices.snippet(data["text"], 60),
        category=CATEGORY_NAMES[data["category"]],
        urgency=texts.URGENCY_NAMES[Urgency(data.get("urgency", "normal"))],
        place=_place_text(data, compound),
        photos=photos,
    )


# --- steps -------------------------------------------------------------------------------


def start(message, session):
    """Entry: any text, voice, photo or location that is not a command starts a report."""
    if message.kind not in ("text", "voice", "image", "location"):
        return NOT_MINE
    _absorb(message, session.data)
    return _next_question(message, session)


def add_detail(message, session):
    """In any state: a photo or location is added, then the next question is asked."""
    if message.kind not in ("image", "location"):
        return NOT_MINE
    _absorb(message, session.data)
    return _next_question(message, session)


def describe(message, session):
    if message.kind not in ("text", "voice"):
        return NOT_MINE
    _absorb(message, session.data)
    return _next_question(message, session)


def answer_danger(message, session):
    """The one-tap danger question: "1" files as urgent; "2", "没有" or anything else goes on
    with the normal questions (words other than a plain no are kept as more description)."""
    if message.kind not in ("text", "voice"):
        return NOT_MINE
    answer = normalize(message.clean_text or "").strip("。.!！ ")
    session.data["danger_answered"] = True
    if answer == "1":
        session.data["urgency"] = Urgency.URGENT.value
    elif answer not in NO_DANGER:
        _absorb(message, session.data)
    return _next_question(message, session)


def pick_category(message, session):
    text = normalize(message.text)
    choices = session.data.get("choices", [])
    if text == "0":
        code = "other"
    elif text.isdigit() and 1 <= int(text) <= len(choices):
        code = choices[int(text) - 1]
    else:
        return texts.REPORT_PICK_AGAIN + "\n" + _category_menu(session.data), None
    session.data.update(category=code, category_picked=True)
    return _next_question(message, session)


def give_place(message, session):
    if message.kind not in ("text", "voice"):
        return NOT_MINE
    before = session.data.get("compound_id")
    _absorb_place_only(message.clean_text, session.data)
    if session.data.get("compound_id") == before and not _place_known(session):
        return texts.REPORT_PLACE_UNKNOWN, None
    return _next_question(message, session)


def _absorb_place_only(text: str, data: dict):
    """Take the compound name and building/unit/room a message mentions; returns the mention."""
    names = compound_names()
    mention = extract_place(text, names.keys())
    if mention.compound_name:
        data["compound_id"] = names[mention.compound_name]
    for field, value in (("building", mention.building), ("unit_no", mention.unit),
                         ("room", mention.room)):  # fmt: skip
        if value:
            data[field] = value
    return mention


def choose_duplicate(message, session):
    text = normalize(message.text)
    dups = session.data.get("dups", [])
    if text in NOT_DUPLICATE:
        return _summary(session.data, _compound(session)), "confirm"
    if text.isdigit() and 1 <= int(text) <= len(dups):
        ticket = lifecycle.subscribe(dups[int(text) - 1], session.user)
        count = ticket.subscriber_count + 1
        return texts.DUPLICATE_JOINED.format(number=ticket.number, count=count), END
    return "请回复列出的数字，或者“不是”。", None


def confirm(message, session):
    text = normalize(message.text).lower()
    if message.kind == "text" and text in CONFIRM_WORDS:
        return _file(session)
    if message.kind in ("text", "voice"):
        _absorb(message, session.data)
        return _next_question(message, session)
    return NOT_MINE


REPORT = Conversation(
    name="report",
    entry_points=[start],
    states={
        "describe": [describe, add_detail],
        "danger": [add_detail, answer_danger],
        "category": [add_detail, pick_category],
        "place": [add_detail, give_place],
        "duplicate": [choose_duplicate],
        "confirm": [add_detail, confirm],
    },
    fallbacks=[],
    timeout_s=1800,
)
