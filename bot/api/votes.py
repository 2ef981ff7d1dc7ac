"""Owners' votes and the 议事会 over the API: bind a household, open, cast, check, read results.

The rules live in models.votes / models.ballots / models.council; this module only translates.
Results and the published tally exist only after a vote closes (409 before).
"""

from datetime import UTC

import marshmallow as ma
from flask_smorest import Blueprint
from marshmallow import fields as f
from marshmallow import validate as v

from bot.api import errors
from bot.api.auth import auth_required, current_user
from bot.api.errors import ApiError
from models import council, owners, votes
from models.ballots import cast, change, check_receipt, has_voted, participants
from models.clock import CHINA
from models.org import Compound, mask_name
from models.routing import CATEGORY_CODES
from models.votes import Vote, VoteStatus

blp = Blueprint("votes", __name__, url_prefix="/api/v1", description="业主：房屋绑定、表决、议事会")
errors.install(blp)

ID = {"validate": v.Range(min=1, max=2**31 - 1)}
NO_NUL = v.Regexp(r"^[^\x00]*$", error="不能包含控制字符。")


def _text(max_len: int, required=True, **kw):
    return f.String(required=required, validate=[v.Length(min=1, max=max_len), NO_NUL], **kw)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class BindSchema(Strict):
    code = _text(16, metadata={"example": "DEMO0004"})


class HouseholdSchema(ma.Schema):
    id = f.Integer(required=True)
    compound = f.String(required=True)
    compound_id = f.Integer(required=True)
    label = f.String(required=True)
    area_m2 = f.String(required=True, metadata={"description": "Exclusive area, 2 decimals"})


class VoteFieldsSchema(Strict):
    """A vote opened by a 议事会 decision (its compound is the meeting's)."""

    question = _text(200)
    options = f.List(_text(50), required=True, validate=v.Length(min=2, max=votes.MAX_OPTIONS))
    kind = f.String(load_default="ordinary", validate=v.OneOf(["ordinary", "major"]))
    opens_at = f.AwareDateTime(default_timezone=CHINA)
    closes_at = f.AwareDateTime(required=True, default_timezone=CHINA)
    allow_change = f.Boolean(load_default=True)


class VoteCreateSchema(VoteFieldsSchema):
    compound_id = f.Integer(required=True, **ID)


class VoteListArgs(Strict):
    compound_id = f.Integer(**ID)


class VoteSchema(ma.Schema):
    id = f.Integer(required=True)
    number = f.String(required=True)
    compound_id = f.Integer(required=True)
    compound = f.String(required=True)
    question = f.String(required=True)
    options = f.List(f.String(), required=True)
    kind = f.String(required=True)
    kind_name = f.String(required=True)
    status = f.String(required=True)
    allow_change = f.Boolean(required=True)
    opens_at = f.DateTime(required=True)
    closes_at = f.DateTime(required=True)
    voted_households = f.List(f.String(), metadata={"description": "Mine that have voted"})
    turnout = f.Dict(allow_none=True, metadata={"description": "Managers only: counts, no choices"})
    result = f.Dict(allow_none=True, metadata={"description": "Only after the close"})
    tally_hash = f.String(allow_none=True)


class VoteListSchema(ma.Schema):
    items = f.List(f.Nested(VoteSchema), required=True)


class BallotSchema(Strict):
    option = f.Integer(required=True, validate=v.Range(min=1, max=votes.MAX_OPTIONS))
    receipt_code = f.String(validate=[v.Length(min=12, max=20), NO_NUL],
                            metadata={"description": "Give it to change an earlier ballot"})  # fmt: skip


class ReceiptSchema(ma.Schema):
    household = f.String(required=True)
    code = f.String(required=True)


class ReceiptsSchema(ma.Schema):
    vote = f.String(required=True)
    changed = f.Boolean(required=True)
    receipts = f.List(f.Nested(ReceiptSchema), required=True)


class CheckSchema(Strict):
    code = _text(20, metadata={"example": "K7Q2-M9XD-3FPA"})


class CheckResultSchema(ma.Schema):
    found = f.Boolean(required=True)
    vote = f.String(allow_none=True)
    closed = f.Boolean(required=True)
    option = f.Integer(allow_none=True)
    option_text = f.String(allow_none=True)
    tally_hash = f.String(allow_none=True)


class TallySchema(ma.Schema):
    vote = f.String(required=True)
    algorithm = f.String(required=True)
    lines = f.List(f.String(), required=True)
    tally_hash = f.String(required=True)


class ParticipantSchema(ma.Schema):
    household = f.String(required=True)
    voter = f.String(required=True)
    cast_at = f.DateTime(required=True)
    changes = f.Integer(required=True)


class ParticipantsSchema(ma.Schema):
    items = f.List(f.Nested(ParticipantSchema), required=True)


def _naive_utc(value):
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


def _vote_payload(vote: Vote, user) -> dict:
    mine = owners.households_of(user, vote.compound_id)
    voted = has_voted(vote, [h.id for h in mine]) if mine else set()
    closed = vote.status == VoteStatus.CLOSED
    return {
        "id": vote.id, "number": vote.number, "compound_id": vote.compound_id,
        "compound": vote.compound.name, "question": vote.question, "options": vote.options,
        "kind": vote.kind, "kind_name": votes.kind(vote.kind).name, "status": vote.status,
        "allow_change": vote.allow_change, "opens_at": vote.opens_at, "closes_at": vote.closes_at,
        "voted_households": [h.label for h in mine if h.id in voted],
        "turnout": votes.turnout(vote) if votes.may_manage(user, vote.compound) else None,
        "result": vote.result if closed else None,
        "tally_hash": vote.tally_hash if closed else None,
    }  # fmt: skip


def _compound(compound_id: int) -> Compound:
    compound = Compound.get_or_none(Compound.id == compound_id)
    if compound is None:
        raise ApiError(404, "没有找到这个小区。", "not_found")
    return compound


def _visible_vote(vote_id: int) -> Vote:
    """A vote the caller's households or duties reach; others look unknown (404)."""
    vote = Vote.get_or_none(Vote.id == vote_id) if 0 < vote_id < 2**31 else None
    user = current_user()
    if vote is None or not (
        owners.households_of(user, vote.compound_id)
        or user.compound_id == vote.compound_id
        or votes.may_manage(user, vote.compound)
    ):
        raise ApiError(404, "没有找到这项表决。", "not_found")
    return vote


@blp.route("/owners/bind", methods=["POST"])
@auth_required()
@blp.arguments(BindSchema)
@blp.response(200, HouseholdSchema)
def bind(body):
    """Bind my WeChat account to a household with its one-use code."""
    household = owners.bind_by_code(current_user(), body["code"])
    return _household(household)


def _household(h) -> dict:
    return {"id": h.id, "compound": h.compound.name, "compound_id": h.compound_id,
            "label": h.label, "area_m2": h.area_text}  # fmt: skip


@blp.route("/owners/households", methods=["GET"])
@auth_required()
@blp.response(200, HouseholdSchema(many=True))
def my_households():
    """The households I vote for."""
    return [_household(h) for h in owners.households_of(current_user())]


@blp.route("/votes", methods=["GET"])
@auth_required()
@blp.arguments(VoteListArgs, location="query")
@blp.response(200, VoteListSchema)
def list_votes(args):
    """Votes of my compounds (or of `compound_id`, for staff and the committee), newest first."""
    user = current_user()
    if "compound_id" in args:
        compound = _compound(args["compound_id"])
        if not votes.may_manage(user, compound) and not owners.households_of(user, compound.id):
            raise ApiError(404, "没有找到这个小区。", "not_found")
        compounds = {compound.id}
    else:
        compounds = {h.compound_id for h in owners.households_of(user)}
    found = (
        Vote.select().where(Vote.compound.in_(compounds or [0])).order_by(Vote.id.desc()).limit(20)
    )
    return {"items": [_vote_payload(vote, user) for vote in found]}


@blp.route("/votes", methods=["POST"])
@auth_required()
@blp.arguments(VoteCreateSchema)
@blp.response(201, VoteSchema)
def create_vote(body):
    """Open (or schedule) a vote: staff in scope or the compound's owners' committee."""
    user = current_user()
    vote = votes.create_vote(
        user, _compound(body["compound_id"]), body["question"], body["options"],
        kind_code=body["kind"], opens_at=_naive_utc(body.get("opens_at")),
        closes_at=_naive_utc(body["closes_at"]), allow_change=body["allow_change"],
    )  # fmt: skip
    return _vote_payload(vote, user)


@blp.route("/votes/<int:vote_id>", methods=["GET"])
@auth_required()
@blp.response(200, VoteSchema)
def get_vote(vote_id):
    """One vote; its result only once it has closed."""
    return _vote_payload(_visible_vote(vote_id), current_user())


@blp.route("/votes/<int:vote_id>/ballots", methods=["POST"])
@auth_required()
@blp.arguments(BallotSchema)
@blp.response(201, ReceiptsSchema)
def post_ballot(body, vote_id):
    """Cast for each of my households not yet voted; with `receipt_code`, change that ballot."""
    vote = _visible_vote(vote_id)
    user = current_user()
    if body.get("receipt_code"):
        done = change(vote.id, user, body["option"], body["receipt_code"])
        return {"vote": vote.number, "changed": True, "receipts": [done.__dict__]}
    receipts = cast(vote.id, user, body["option"])
    return {"vote": vote.number, "changed": False, "receipts": [r.__dict__ for r in receipts]}


@blp.route("/votes/<int:vote_id>/tally", methods=["GET"])
@auth_required()
@blp.response(200, TallySchema)
def get_tally(vote_id):
    """The published tally: "option:receipt_hash" lines, sorted, and SHA-256 over them."""
    vote = _visible_vote(vote_id)
    if vote.status != VoteStatus.CLOSED:
        raise ApiError(409, "表决还没有截止，结果截止后公布。", "not_closed")
    return {
        "vote": vote.number,
        "algorithm": "sha256('\\n'.join(sorted(lines))); receipt_hash = "
        "sha256('sidan-receipt:{vote_id}:{code}')",
        "lines": votes.published_lines(vote),
        "tally_hash": vote.tally_hash,
    }


@blp.route("/votes/<int:vote_id>/participants", methods=["GET"])
@auth_required()
@blp.response(200, ParticipantsSchema)
def get_participants(vote_id):
    """Who voted and when (staff and the committee): never what they chose."""
    vote = _visible_vote(vote_id)
    votes.require_manager(current_user(), vote.compound)
    items = [
        {"household": p.household.label, "voter": mask_name(p.voter.name) if p.voter else "",
         "cast_at": p.cast_at, "changes": p.changes}
        for p in participants(vote)
    ]  # fmt: skip
    return {"items": items}


@blp.route("/receipts/check", methods=["POST"])
@auth_required()
@blp.arguments(CheckSchema)
@blp.response(200, CheckResultSchema)
def check(body):
    """Check a receipt code: recorded before the close; counted for which option after it."""
    found = check_receipt(body["code"])
    if found is None:
        return {"found": False, "vote": None, "closed": False, "option": None,
                "option_text": None, "tally_hash": None}  # fmt: skip
    vote = found.vote
    return {
        "found": True, "vote": vote.number, "closed": found.option is not None,
        "option": found.option,
        "option_text": vote.options[found.option - 1] if found.option else None,
        "tally_hash": vote.tally_hash,
    }  # fmt: skip


# ---------------------------------------------------------------- 议事会


class MeetingArgs(Strict):
    compound_id = f.Integer(required=True, **ID)
    month = f.String(validate=v.Regexp(r"^20\d\d-(0[1-9]|1[0-2])$"))


class AttendSchema(Strict):
    party = f.String(required=True, validate=v.OneOf(list(council.PARTIES)))
    name = _text(50)


class DecideSchema(Strict):
    text = _text(500)
    agenda_item_id = f.Integer(**ID)
    ticket_category = f.String(validate=v.OneOf(CATEGORY_CODES))
    vote = f.Nested(VoteFieldsSchema)


class ProposeSchema(Strict):
    compound_id = f.Integer(required=True, **ID)
    title = _text(200)


class AgendaSchema(ma.Schema):
    id = f.Integer(required=True)
    source = f.String(required=True)
    title = f.String(required=True)
    ticket = f.String(allow_none=True)


class DecisionSchema(ma.Schema):
    id = f.Integer(required=True)
    month = f.String(required=True)
    text = f.String(required=True)
    ticket = f.String(allow_none=True)
    vote = f.String(allow_none=True)


class MeetingSchema(ma.Schema):
    id = f.Integer(required=True)
    compound = f.String(required=True)
    month = f.String(required=True)
    agenda = f.List(f.Nested(AgendaSchema), required=True)
    attendance = f.Dict(required=True, metadata={"description": "party → names"})
    decisions = f.List(f.Nested(DecisionSchema), required=True)


def _decision(d) -> dict:
    return {"id": d.id, "month": d.meeting.month, "text": d.text,
            "ticket": d.ticket.number if d.ticket_id else None,
            "vote": f"V{d.vote_id}" if d.vote_id else None}  # fmt: skip


def _meeting(m) -> dict:
    attendance = {}
    for row in m.attendance:
        attendance.setdefault(row.party, []).append(row.name)
    return {
        "id": m.id, "compound": m.compound.name, "month": m.month,
        "agenda": [{"id": a.id, "source": a.source, "title": a.title,
                    "ticket": f"#{a.ticket_id}" if a.ticket_id else None} for a in m.agenda],
        "attendance": attendance, "decisions": [_decision(d) for d in m.decisions],
    }  # fmt: skip


def _managed_meeting(meeting_id: int):
    meeting = None
    if 0 < meeting_id < 2**31:
        meeting = council.CouncilMeeting.get_or_none(council.CouncilMeeting.id == meeting_id)
    if meeting is None or not votes.may_manage(current_user(), meeting.compound):
        raise ApiError(404, "没有找到这次议事会。", "not_found")
    return meeting


@blp.route("/council/meetings", methods=["POST"])
@auth_required()
@blp.arguments(MeetingArgs)
@blp.response(200, MeetingSchema)
def open_meeting(body):
    """The compound's meeting of a month (this month by default), created on first use."""
    compound = _compound(body["compound_id"])
    votes.require_manager(current_user(), compound)
    return _meeting(council.meeting_for(compound, body.get("month")))


@blp.route("/council/meetings/<int:meeting_id>/suggest", methods=["POST"])
@auth_required()
@blp.response(200, MeetingSchema)
def suggest(meeting_id):
    """Put the compound's hot and recurring tickets of the last 60 days on the agenda."""
    meeting = _managed_meeting(meeting_id)
    council.suggest_agenda(current_user(), meeting)
    return _meeting(meeting)


@blp.route("/council/meetings/<int:meeting_id>/attendance", methods=["POST"])
@auth_required()
@blp.arguments(AttendSchema)
@blp.response(200, MeetingSchema)
def attend(body, meeting_id):
    """Record who came, by party (党支部/社区, 业委会, 物业, 业主代表)."""
    meeting = _managed_meeting(meeting_id)
    council.attend(current_user(), meeting, body["party"], body["name"])
    return _meeting(meeting)


@blp.route("/council/meetings/<int:meeting_id>/decisions", methods=["POST"])
@auth_required()
@blp.arguments(DecideSchema)
@blp.response(201, DecisionSchema)
def decide(body, meeting_id):
    """Record a decision; it may open a ticket (joint handling) or an owners' vote."""
    meeting = _managed_meeting(meeting_id)
    vote = body.get("vote")
    if vote is not None:
        vote = {**vote, "opens_at": _naive_utc(vote.get("opens_at")),
                "closes_at": _naive_utc(vote["closes_at"])}  # fmt: skip
    decision = council.decide(
        current_user(), meeting, body["text"], agenda_item_id=body.get("agenda_item_id"),
        ticket_category=body.get("ticket_category"), vote=vote,
    )  # fmt: skip
    return _decision(decision)


@blp.route("/council/proposals", methods=["POST"])
@auth_required()
@blp.arguments(ProposeSchema)
@blp.response(201, AgendaSchema)
def propose(body):
    """An owner puts an item on this month's agenda."""
    item = council.propose(current_user(), _compound(body["compound_id"]), body["title"])
    return {"id": item.id, "source": item.source, "title": item.title, "ticket": None}


@blp.route("/council/decisions", methods=["GET"])
@auth_required()
@blp.arguments(VoteListArgs, location="query")
@blp.response(200, DecisionSchema(many=True))
def list_decisions(args):
    """The latest decisions of my compound (or `compound_id`)."""
    user = current_user()
    compound_id = args.get("compound_id") or user.compound_id
    if compound_id is None:
        mine = owners.households_of(user)
        compound_id = mine[0].compound_id if mine else None
    if compound_id is None:
        return []
    return [_decision(d) for d in council.decisions(_compound(compound_id))]
