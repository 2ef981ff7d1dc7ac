"""Request and response schemas of /api/v1 (they generate the OpenAPI document)."""

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

from bot.storage import KEY_PATTERN
from models.enums import Role, State, Urgency
from models.routing import CATEGORY_CODES

MAX_PAGE = 50
MAX_PHOTOS = 9
PHOTO_ID = f.String(validate=v.Regexp(KEY_PATTERN), metadata={"example": "0" * 32 + ".jpg"})


def _photo_list():
    return f.List(PHOTO_ID, load_default=list, validate=v.Length(max=MAX_PHOTOS))


def _text(max_len: int, required: bool = False, **kw):
    minimum = 1 if required else 0
    return f.String(required=required, validate=v.Length(min=minimum, max=max_len), **kw)


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# -- query arguments -----------------------------------------------------------------------


class PageArgs(Strict):
    limit = f.Integer(load_default=20, validate=v.Range(min=1, max=MAX_PAGE))
    offset = f.Integer(load_default=0, validate=v.Range(min=0, max=100_000))


class StateArgs(PageArgs):
    state = f.String(validate=v.OneOf([s.value for s in State]))


class PoolArgs(PageArgs):
    lat = f.Float(validate=v.Range(min=-90, max=90))
    lng = f.Float(validate=v.Range(min=-180, max=180))
    radius_m = f.Integer(load_default=3000, validate=v.Range(min=100, max=20_000))
    match_skills = f.Boolean(load_default=True)


class FiguresArgs(Strict):
    start = f.Date(metadata={"description": "First day (Beijing time); default: 30 days ago"})
    end = f.Date(metadata={"description": "Last day, inclusive; default: today"})
    unit_id = f.Integer(validate=v.Range(min=1), metadata={"description": "A unit below yours"})


# -- request bodies ------------------------------------------------------------------------


class TicketCreateSchema(Strict):
    text = _text(2000, required=True, metadata={"example": "3号楼楼道灯坏了"})
    category = f.String(
        validate=v.OneOf(CATEGORY_CODES), metadata={"description": "Omit it: the classifier picks"}
    )
    urgency = f.String(validate=v.OneOf([u.value for u in Urgency]))
    compound_id = f.Integer(validate=v.Range(min=1, max=2**31 - 1))
    lat = f.Float(validate=v.Range(min=-90, max=90))
    lng = f.Float(validate=v.Range(min=-180, max=180))
    building = _text(16)
    unit_no = _text(16)
    room = _text(16)
    photos = _photo_list()

    @ma.validates_schema
    def _point(self, data, **kwargs):
        if ("lat" in data) != ("lng" in data):
            raise ma.ValidationError("lat 和 lng 要一起填写。", "lat")

    @ma.post_load
    def _round_point(self, data, **kwargs):
        # PostgreSQL's REAL underflows on values such as 1e-58 (a 500); 1e-6° is 0.1 m.
        for key in ("lat", "lng"):
            if key in data:
                data[key] = round(data[key], 6)
        return data


class NoteSchema(Strict):
    note = _text(500)


class RequiredNoteSchema(Strict):
    note = _text(500, required=True)


class ReasonSchema(Strict):
    reason = _text(500)


class RequiredReasonSchema(Strict):
    reason = _text(500, required=True)


class RateSchema(Strict):
    score = f.Integer(required=True, strict=True, validate=v.Range(min=1, max=5))
    comment = _text(500)


class ResolveSchema(Strict):
    note = _text(500)
    photos = _photo_list()


class TargetSchema(Strict):
    user_id = f.Integer(validate=v.Range(min=1, max=2**31 - 1))
    work_unit_id = f.Integer(validate=v.Range(min=1, max=2**31 - 1))
    pool = f.Boolean(metadata={"description": "true: publish to the volunteer pool"})
    note = _text(500)

    @ma.validates_schema
    def _one_target(self, data, **kwargs):
        chosen = [k for k in ("user_id", "work_unit_id") if k in data] + (
            ["pool"] if data.get("pool") else []
        )
        if len(chosen) != 1:
            raise ma.ValidationError("请只选一个：user_id、work_unit_id 或 pool。", "_schema")


class AssistSchema(Strict):
    work_unit_id = f.Integer(validate=v.Range(min=1, max=2**31 - 1))
    org_unit_id = f.Integer(validate=v.Range(min=1, max=2**31 - 1))

    @ma.validates_schema
    def _one_unit(self, data, **kwargs):
        if ("work_unit_id" in data) == ("org_unit_id" in data):
            raise ma.ValidationError("请只选一个：work_unit_id 或 org_unit_id。", "_schema")


class MergeSchema(Strict):
    into = f.Integer(required=True, validate=v.Range(min=1, max=2**31 - 1))


# -- responses -----------------------------------------------------------------------------


class RefSchema(ma.Schema):
    id = f.Integer(required=True)
    name = f.String(required=True)


class OrgRefSchema(RefSchema):
    level = f.String(required=True)


class PersonSchema(ma.Schema):
    id = f.Integer(allow_none=True)
    name = f.String(required=True, metadata={"description": "Masked unless it is yours to see"})
    phone = f.String(required=True, metadata={"description": "Masked unless it is yours to see"})


class PhotoRefSchema(ma.Schema):
    id = f.String(required=True)
    url = f.String(allow_none=True, required=True)
    thumb_url = f.String(allow_none=True, required=True)


class TicketSchema(ma.Schema):
    id = f.Integer(required=True)
    number = f.String(required=True, metadata={"example": "#1024"})
    text = f.String(required=True)
    category = f.String(required=True)
    category_name = f.String(required=True)
    urgency = f.String(required=True)
    state = f.String(required=True)
    state_name = f.String(required=True)
    level = f.String(required=True)
    org_unit = f.Nested(OrgRefSchema, required=True)
    compound = f.Nested(RefSchema, allow_none=True, required=True)
    place = f.String(required=True)
    lat = f.Float(allow_none=True, required=True)
    lng = f.Float(allow_none=True, required=True)
    reporter = f.Nested(
        PersonSchema, allow_none=True, required=True,
        metadata={"description": "null when the caller may not see who reported it"},
    )  # fmt: skip
    assignee = f.Nested(PersonSchema, allow_none=True, required=True)
    work_unit = f.Nested(RefSchema, allow_none=True, required=True)
    in_pool = f.Boolean(required=True)
    photos = f.List(f.Nested(PhotoRefSchema), required=True)
    score = f.Integer(allow_none=True, required=True)
    subscriber_count = f.Integer(required=True)
    channel = f.String(required=True)
    created_at = f.DateTime(required=True)
    updated_at = f.DateTime(required=True)
    due_at = f.DateTime(allow_none=True, required=True)
    distance_m = f.Integer(allow_none=True, metadata={"description": "Only in the pool list"})


class EventSchema(ma.Schema):
    id = f.Integer(required=True)
    action = f.String(required=True)
    action_name = f.String(required=True)
    from_state = f.String(allow_none=True, required=True)
    to_state = f.String(required=True)
    level = f.String(required=True)
    actor = f.String(required=True)
    note = f.String(required=True)
    photos = f.List(f.Nested(PhotoRefSchema), required=True)
    created_at = f.DateTime(required=True)


class TicketDetailSchema(TicketSchema):
    events = f.List(f.Nested(EventSchema), required=True)
    assists = f.List(f.String(), required=True)
    merged_into = f.Integer(allow_none=True, required=True)


class PageSchema(ma.Schema):
    limit = f.Integer(required=True)
    offset = f.Integer(required=True)
    next_offset = f.Integer(allow_none=True, required=True)


class TicketPageSchema(PageSchema):
    items = f.List(f.Nested(TicketSchema), required=True)


class PointsItemSchema(ma.Schema):
    ticket_id = f.Integer(allow_none=True, required=True)
    reason = f.String(required=True)
    points = f.Integer(required=True)
    created_at = f.DateTime(required=True)


class PointsSchema(PageSchema):
    total = f.Integer(required=True)
    items = f.List(f.Nested(PointsItemSchema), required=True)


class MeSchema(ma.Schema):
    id = f.Integer(required=True)
    name = f.String(required=True)
    phone = f.String(required=True)
    role = f.String(required=True, validate=v.OneOf([r.value for r in Role]))
    org_unit = f.Nested(OrgRefSchema, allow_none=True, required=True)
    work_unit = f.Nested(RefSchema, allow_none=True, required=True)
    compound = f.Nested(RefSchema, allow_none=True, required=True)
    skills = f.List(f.String(), required=True)
    is_party_member = f.Boolean(required=True)


class PhotoSchema(ma.Schema):
    id = f.String(required=True, metadata={"description": "Put this in a ticket's photos"})
    url = f.String(required=True)
    thumb_url = f.String(required=True)
    content_type = f.String(required=True)
    width = f.Integer(required=True)
    height = f.Integer(required=True)


class FiguresSchema(ma.Schema):
    unit = f.Nested(OrgRefSchema, required=True)
    start = f.Date(required=True)
    end = f.Date(required=True)
    figures = f.Dict(required=True)
