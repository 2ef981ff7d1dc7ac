"""Details a resident sends after filing: they go to the ticket, not into a new draft.

For SUPPLEMENT_WINDOW_MIN minutes after filing, a photo, a location, or words that go on
about the same thing attach to the resident's newest open ticket; at any time while a ticket
is open, `补充 #N 文字` (or `补充 #N` and then a photo) does the same.
"""

from datetime import timedelta

from handlers import resident_texts as rtexts
from handlers import smalltalk, texts
from handlers.classifier import classify
from handlers.conversation import END, NOT_MINE, Conversation
from handlers.places import extract_place
from models import lifecycle
from models.clock import now
from models.enums import OPEN_STATES, Action, Urgency
from models.places import compound_names, locate
from models.tickets import Ticket

# Below this the classifier is not sure enough that words are about something else.
OTHER_PROBLEM_CONFIDENCE = 0.8


def filed_key(ctx, user) -> str:
    return ctx.key("filed", user.openid)


def mark_filed(ctx, user) -> None:
    """Remember for the window that this person just filed: most messages come from people
    who did not, and they then cost no database query here."""
    ctx.store.set_mark(filed_key(ctx, user), 1, ex=rtexts.SUPPLEMENT_WINDOW_MIN * 60)


def recent_open_ticket(user, just_filed: bool = True) -> Ticket | None:
    """The reporter's newest open ticket filed within the window, if any."""
    if not just_filed:
        return None
    since = now() - timedelta(minutes=rtexts.SUPPLEMENT_WINDOW_MIN)
    return (
        Ticket.select()
        .where(
            (Ticket.reporter == user)
            & Ticket.state.in_(list(OPEN_STATES))
            & (Ticket.created_at >= since)
        )
        .order_by(Ticket.id.desc())
        .first()
    )


def _core(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def same_as_filed(text: str, ticket: Ticket) -> bool:
    """The complaint sent again word for word."""
    core = _core(text)
    return bool(core) and core in _core(ticket.text)


def goes_on_about(text: str, ticket: Ticket) -> bool:
    """Words that add to the filed ticket rather than start another matter: a place, a
    detail of the same kind, or words the classifier cannot place elsewhere with confidence.
    A new urgent matter is never swallowed by an older ticket."""
    mention = extract_place(text, compound_names().keys())
    result = classify(text)
    if result.urgency == Urgency.URGENT and ticket.urgency != Urgency.URGENT:
        return False
    if result.category in (ticket.category, "other"):
        return True
    if not mention.is_empty and result.confidence < 0.9:
        return True
    return result.confidence < OTHER_PROBLEM_CONFIDENCE


def attach(message, user, ticket: Ticket) -> str:
    """Add what this message carries to the ticket; the reply says where it went."""
    fields: dict = {}
    what = ""
    if message.kind == "image" and message.photo:
        fields["photos"] = [message.photo]
        what = "照片已附上。"
    elif message.kind == "location" and message.lat is not None:
        compound, _ = locate(message.lat, message.lng)
        fields.update(lat=message.lat, lng=message.lng, label=message.label, compound=compound)
        what = "位置已附上。"
    else:
        text = message.clean_text
        mention = extract_place(text, compound_names().keys())
        fields.update(
            text=text, building=mention.building or "", unit_no=mention.unit or "",
            room=mention.room or "",
        )  # fmt: skip
    ticket = lifecycle.supplement(ticket.id, user, **fields)
    return rtexts.SUPPLEMENTED.format(number=ticket.number, what=what)


def after_filing(message, user, just_filed: bool = True) -> str | None:
    """Within the window: attach to the newest open ticket, or None to handle it otherwise."""
    ticket = recent_open_ticket(user, just_filed)
    if ticket is None:
        return None
    if message.kind in ("image", "location"):
        return attach(message, user, ticket)
    text = message.clean_text
    if smalltalk.kind(text) == smalltalk.CHASE:
        return attach(message, user, ticket)
    if smalltalk.kind(text) is not None:
        return None
    if not smalltalk.says_something(text) and extract_place(text, compound_names()).is_empty:
        return None  # '帮我看看这个': too vague to send to the handler
    if same_as_filed(text, ticket):
        state = texts.STATE_NAMES[ticket.state_enum]
        return rtexts.SUPPLEMENT_SAME.format(number=ticket.number, state=state)
    if goes_on_about(text, ticket):
        reply = attach(message, user, ticket)
        return reply + take_back_note(ticket) if smalltalk.takes_back(text) else reply
    return None


def take_back_note(ticket: Ticket | None) -> str:
    """'算了，不用管了' about a ticket the resident can still cancel: how to cancel it."""
    if ticket is None or ticket.state_enum not in lifecycle.ALLOWED_FROM[Action.CANCEL]:
        return ""
    return rtexts.TAKE_BACK_NOTE.format(number=ticket.number)


# --- 补充 #N: the command, and the one-step conversation when it comes without content ---


def command(user, cmd, ctx, ticket: Ticket):
    """补充 #N 文字 attaches now; 补充 #N alone waits for the next text, photo or location."""
    if ticket.state not in OPEN_STATES:
        state = texts.STATE_NAMES[ticket.state_enum]
        return rtexts.SUPPLEMENT_NOT_OPEN.format(number=ticket.number, state=state)
    if cmd.rest:
        mention = extract_place(cmd.rest, compound_names().keys())
        lifecycle.supplement(
            ticket.id, user, text=cmd.rest, building=mention.building or "",
            unit_no=mention.unit or "", room=mention.room or "",
        )  # fmt: skip
        return rtexts.SUPPLEMENTED.format(number=ticket.number, what="")
    reply = rtexts.SUPPLEMENT_ASK.format(number=ticket.number)
    return ("start", SUPPLEMENT, {"ticket_id": ticket.id}, reply)


def take_detail(message, session):
    if message.kind not in ("text", "voice", "image", "location"):
        return NOT_MINE
    ticket = Ticket.get_or_none(Ticket.id == session.data.get("ticket_id"))
    if ticket is None:
        return NOT_MINE
    if message.kind in ("text", "voice") and smalltalk.kind(message.text) is not None:
        return rtexts.SUPPLEMENT_STILL_WAITING.format(number=ticket.number), None
    return attach(message, session.user, ticket), END


SUPPLEMENT = Conversation(
    name="supplement",
    entry_points=[take_detail],
    states={"detail": [take_detail]},
    timeout_s=rtexts.SUPPLEMENT_WINDOW_MIN * 60,
)
