"""The resident's report conversation (点单): describe, locate, confirm, file.

Text, voice, photo and location may come in any order; the bot asks only for what is
missing. Urgent matters file at once with advice on what to do meanwhile.
"""

import copy

from handlers import draft_words as words
from handlers import resident_texts as rtexts
from handlers import smalltalk, supplements, texts, views
from handlers.classifier import CATEGORY_NAMES, classify
from handlers.commands import normalize
from handlers.conversation import END, NOT_MINE, Conversation
from handlers.places import extract_place, looks_like_place_name
from models import lifecycle, notices
from models.enums import OPEN_STATES, Urgency
from models.org import Compound, OrgUnit, cached_row
from models.places import compound_names, locate, similar_open_tickets

CONFIRM_WORDS = {"确认", "确定", "是", "是的", "对", "好", "好的", "提交", "ok", "可以", "嗯"}
NOT_DUPLICATE = {"不是", "否", "不", "不是的", "新的", "继续", "不是同一件", "不一样", "新问题"}
# Same-category tickets nearby looked at before those about something else are left out.
DUPLICATE_CANDIDATES = 10
SAME_AS_OFFERED = {"是", "是的", "对", "对的", "同一件", "是同一件", "一样", "就是这个", "嗯"}
MERGE_WORDS = {"补充进去", "合并", "同一件", "是同一件", "一起", "一起报", "加进去", "补充"}
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
    corrected = words.correction(text) if data.get("text") else None
    if corrected is not None:
        mention = _absorb_place_only(corrected, data)
        if not mention.is_empty and _only_place(corrected, mention):
            return  # "不对，是5号楼": the place was all it corrected
        # "不对 是楼道灯 3单元": the words correct the problem too; they join the description
    text = smalltalk.without_small_talk(text)
    mention = _absorb_place_only(text, data)
    if _only_place(text, mention):
        return
    if words.already_said(text, data.get("text", "")):
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
        return cached_row(Compound, cid)
    return session.user.compound


def _grid(session):
    """The grid of a location that is near no compound (the compound's grid otherwise)."""
    gid = session.data.get("grid_id")
    return cached_row(OrgUnit, gid) if gid else None


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
    supplements.mark_filed(session.services, user)
    window = rtexts.WINDOW_NOTE.format(minutes=rtexts.SUPPLEMENT_WINDOW_MIN, number=ticket.number)
    return f"{reply}\n{window}", END


def _next_question(message, session):
    """Ask for whatever is still missing, or file."""
    data = session.data
    if not data.get("text"):
        return _ask_what(session), "describe"
    if data.get("urgency_unsure") and not data.get("danger_answered"):
        return _ask_danger(message, session)
    compound = _compound(session)
    if data.get("urgency") == Urgency.URGENT:
        if not _place_known(session):
            return texts.REPORT_URGENT_NEED_PLACE.format(advice=_advice(data["category"])), "place"
        return _file(session)
    if not data.get("confident") and not data.get("category_picked"):
        menu = _category_menu(data)
        if menu:
            return menu, "category"
    if not _place_known(session):
        return texts.REPORT_ASK_PLACE, "place"
    if not data.get("dups_checked"):
        data["dups_checked"] = True
        offer = _duplicate_offer(session, compound)
        if offer:
            return offer, "duplicate"
    return _summary(data, compound), "confirm"


def _ask_what(session) -> str:
    """The first question, acknowledging what came first (a location, a photo)."""
    data = session.data
    if data.get("lat") is not None:
        if not _place_known(session):
            return rtexts.LOCATION_OUTSIDE
        return rtexts.LOCATION_DRAFT.format(place=_place_text(data, _compound(session)))
    if data.get("photos"):
        return rtexts.PHOTO_DRAFT
    return texts.REPORT_ASK_WHAT


def _duplicate_offer(session, compound) -> str:
    """The reporter's own open ticket about the same thing first; else neighbours' ones."""
    data, user = session.data, session.user
    found = similar_open_tickets(
        data["category"], compound, data.get("lat"), data.get("lng"), limit=DUPLICATE_CANDIDATES,
        building=data.get("building", ""),
    )  # fmt: skip
    found = [t for t in found if words.same_subject(data.get("text", ""), t.text)][:3]
    seen = data.get("seen", [])
    own = [
        t for t in found if t.reporter_id == user.id and t.state in OPEN_STATES and t.id not in seen
    ]
    others = [t for t in found if t.reporter_id != user.id]
    offered, template = (
        (own, rtexts.OWN_DUPLICATE_OFFER) if own else (others, texts.DUPLICATE_OFFER)
    )
    if not offered:
        return ""
    data.update(dups=[t.id for t in offered], dups_own=bool(own))
    # A neighbour's ticket is shown as anyone may see it (compound, masked words).
    show = (
        (lambda t: f"{notices.brief(t)}：{notices.snippet(t.text, 24)}")
        if own
        else views.offer_line
    )
    items = "\n".join(f"{i}. {show(t)}" for i, t in enumerate(offered, 1))
    return template.format(items=items)


def _category_menu(data: dict) -> str:
    """Numbered choices, or '' when the classifier has no real choice to offer."""
    codes = [c for c in data.get("alternatives", []) if c != "other"][:3]
    if not codes:
        data.update(category=data.get("category") or "other", category_picked=True)
        return ""
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


def _is_small_talk(message) -> bool:
    """Greetings, thanks, 'ok' …; a vague '帮我看看这个' is answered as a stray word instead,
    and '还没人管' inside a draft is a detail of it."""
    if message.kind not in ("text", "voice"):
        return False
    return smalltalk.kind(message.text) not in (None, smalltalk.VAGUE, smalltalk.CHASE)


# --- steps -------------------------------------------------------------------------------


def start(message, session):
    """Entry: a problem described, or a photo or location that comes first."""
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
    """What the problem is: small talk or a vague word asks again instead of filling in."""
    if message.kind not in ("text", "voice"):
        return NOT_MINE
    if _is_small_talk(message):
        data = session.data
        if data.get("photos") or data.get("lat") is not None:
            return rtexts.DRAFT_SMALL_TALK.format(question=_ask_what(session)), None
        return rtexts.ASK_WHAT, None
    if not smalltalk.describes_problem(message.clean_text):
        return rtexts.ASK_WHAT_AGAIN, None
    _absorb(message, session.data)
    return _next_question(message, session)


# States whose question takes numbers: there the danger question is asked on its own first.
NUMBERED_STATES = {"category", "duplicate"}


def _ask_danger(message, session):
    """The danger question comes first. Where the next question takes no numbers it shares
    the message with it (one reply: "1" files urgent, anything else answers the question);
    before a numbered menu it is asked on its own, so "1" cannot mean two things."""
    data = session.data
    before = copy.deepcopy(data)
    data["danger_answered"] = True
    reply, state = _next_question(message, session)
    if state in NUMBERED_STATES or state is None:
        data.clear()
        data.update(before)  # the menu (and what choosing it set up) comes after the answer
        return texts.REPORT_DANGER_QUESTION, "danger"
    data["danger_pending"] = True
    return f"{texts.REPORT_DANGER_QUESTION}；没有的话：\n{reply}", state


def danger_one(message, session):
    """In the state after a shared danger question: "1" files urgent; else the state's own
    steps handle the message (the question is answered either way)."""
    data = session.data
    if not data.pop("danger_pending", False) or message.kind not in ("text", "voice"):
        return NOT_MINE
    answer = normalize(message.clean_text or "").strip("。.!！ ")
    if answer == "1":
        data["urgency"] = Urgency.URGENT.value
    elif answer not in NO_DANGER:
        return NOT_MINE
    return _next_question(message, session)  # "没有": the same question again, nothing added


def answer_danger(message, session):
    """The one-tap danger question: "1" files as urgent; "2", "没有" or anything else goes on
    with the normal questions (words other than a plain no are kept as more description)."""
    if message.kind not in ("text", "voice"):
        return NOT_MINE
    answer = normalize(message.clean_text or "").strip("。.!！ ")
    session.data["danger_answered"] = True
    if answer == "1":
        session.data["urgency"] = Urgency.URGENT.value
    elif answer not in NO_DANGER and answer not in CONFIRM_WORDS and not _is_small_talk(message):
        _absorb(message, session.data)
    return _next_question(message, session)


def pick_category(message, session):
    """A listed number or a category's name picks; other words describe the problem more."""
    if message.kind not in ("text", "voice"):
        return NOT_MINE
    text = normalize(message.text)
    choices = session.data.get("choices", [])
    code = _picked_code(text, choices)
    if code is None:
        if _is_small_talk(message) or not smalltalk.describes_problem(text):
            options = rtexts.PICK_ONLY.format(options=words.options(len(choices), zero=True))
            return options + "\n" + _category_menu(session.data), None
        _absorb(message, session.data)  # more words: classify again
        return _next_question(message, session)
    session.data.update(category=code, category_picked=True)
    return _next_question(message, session)


def _picked_code(text: str, choices: list[str]) -> str | None:
    number = words.choice_number(text)
    if number == 0:
        return "other"
    if number is not None:
        return choices[number - 1] if 1 <= number <= len(choices) else None
    by_name = {name: code for code, name in CATEGORY_NAMES.items()}
    return by_name.get(text)


def give_place(message, session):
    if message.kind not in ("text", "voice"):
        return NOT_MINE
    if _is_small_talk(message):
        return rtexts.DRAFT_SMALL_TALK.format(question=texts.REPORT_ASK_PLACE), None
    before = session.data.get("compound_id")
    text = message.clean_text
    problem = _tells_the_problem(text)
    if problem:  # '就是楼道灯坏了': the problem itself, told while the place was asked
        _absorb_text(text, session.data)
    else:
        _absorb_place_only(text, session.data)
    if session.data.get("compound_id") == before and not _place_known(session):
        return (rtexts.DETAIL_ASK_PLACE if problem else texts.REPORT_PLACE_UNKNOWN), None
    return _next_question(message, session)


# Above this the classifier is sure enough that words answering "where?" tell the problem
# instead ('就是我家门口的路灯 不对 是楼道灯 坏了'); an unknown compound's name ('阳光花园')
# scores about 0.55.
PROBLEM_NOT_PLACE_CONFIDENCE = 0.8


def _tells_the_problem(text: str) -> bool:
    mention = extract_place(text, compound_names().keys())
    if not mention.is_empty and _only_place(text, mention):
        return False
    if looks_like_place_name(text):  # '火星小区': its 火 reads as fire to the classifier
        return False
    result = classify(text)
    if result.urgency == Urgency.URGENT:
        return True
    return result.category != "other" and result.confidence >= PROBLEM_NOT_PLACE_CONFIDENCE


def _absorb_place_only(text: str, data: dict):
    """Take the compound name and building/unit/room a message mentions; returns the mention."""
    names = compound_names()
    mention = extract_place(text, names.keys())
    if mention.compound_name and data.get("compound_id") != names[mention.compound_name]:
        data["compound_id"] = names[mention.compound_name]
        data.pop("dups_checked", None)  # another place: look for duplicates there
    for field, value in (("building", mention.building), ("unit_no", mention.unit),
                         ("room", mention.room)):  # fmt: skip
        if value:
            data[field] = value
    return mention


def choose_duplicate(message, session):
    """Join (or, for one's own ticket, add to) a listed ticket, or go on with a new one."""
    text = normalize(message.text)
    data = session.data
    dups = data.get("dups", [])
    if text in NOT_DUPLICATE:
        data["seen"] = data.get("seen", []) + dups
        return _summary(data, _compound(session)), "confirm"
    number = words.choice_number(text)
    if number is None and text in SAME_AS_OFFERED and len(dups) == 1:
        number = 1
    if number is not None and 1 <= number <= len(dups):
        return _join(dups[number - 1], session)
    if message.kind in ("text", "voice") and words.describes_more(message.clean_text):
        # A detail or a corrected place instead of an answer: keep it, then look again
        # (the new words or place may show that the offered ticket is about something else).
        _absorb(message, data)
        data.pop("dups_checked", None)
        reply, state = _next_question(message, session)
        if state == "duplicate":  # offered again: say the words were taken
            place = _place_text(data, _compound(session))
            reply = f"{rtexts.DETAIL_KEPT.format(place=place)}\n{reply}"
        return reply, state
    if data.get("dups_own"):
        return rtexts.OWN_DUPLICATE_ONLY.format(options=words.options(len(dups))), None
    return rtexts.DUPLICATE_ONLY.format(options=words.options(len(dups))), None


def _join(ticket_id: int, session):
    data, user = session.data, session.user
    if data.get("dups_own"):
        ticket = lifecycle.supplement(
            ticket_id, user, text=data.get("text", ""), photos=data.get("photos", []),
            lat=data.get("lat"), lng=data.get("lng"), label=data.get("label", ""),
        )  # fmt: skip
        return rtexts.SUPPLEMENTED.format(number=ticket.number, what=""), END
    ticket = lifecycle.subscribe(ticket_id, user)
    count = ticket.subscriber_count + 1
    return texts.DUPLICATE_JOINED.format(number=ticket.number, count=count), END


def confirm(message, session):
    """确认 files (typed or spoken, with or without a full stop); a detail is added; small
    talk or a stray word shows the summary again rather than joining the report; another
    problem is kept apart and drafted once this one is filed."""
    if message.kind not in ("text", "voice"):
        return NOT_MINE
    data = session.data
    text = normalize(message.text).lower().strip(" 。.!！~")
    if text in CONFIRM_WORDS:
        return _file_then_next(message, session)
    if data.get("pending_other") and text in MERGE_WORDS:
        _absorb_text(data.pop("pending_other"), data)
        return _next_question(message, session)
    summary = _summary(data, _compound(session))
    if _is_small_talk(message):
        return rtexts.DRAFT_SMALL_TALK.format(question=summary), None
    if not words.adds_something(message.clean_text):
        return rtexts.CONFIRM_AGAIN.format(summary=summary), None
    other = words.separate_problem(message.clean_text, data.get("category"))
    if other:
        data["pending_other"] = message.clean_text
        first = notices.snippet(data["text"], 20)
        return rtexts.ANOTHER_PROBLEM.format(category=other, first=first), None
    _absorb(message, data)
    return _next_question(message, session)


def _file_then_next(message, session):
    """File the draft; a second problem told at the summary becomes the next draft."""
    pending = session.data.pop("pending_other", None)
    reply, state = _file(session)
    if not pending:
        return reply, state
    kept = {k: session.data[k] for k in ("compound_id", "grid_id") if k in session.data}
    session.data.clear()
    session.data.update(kept)
    _absorb_text(pending, session.data)
    question, state = _next_question(message, session)
    return f"{reply}\n\n{rtexts.NEXT_PROBLEM}{question}", state


REPORT = Conversation(
    name="report",
    entry_points=[start],
    states={
        "describe": [describe, add_detail],
        "danger": [add_detail, answer_danger],
        "category": [add_detail, pick_category],
        "place": [danger_one, add_detail, give_place],
        "duplicate": [add_detail, choose_duplicate],
        "confirm": [danger_one, add_detail, confirm],
    },
    fallbacks=[],
    timeout_s=1800,
)
