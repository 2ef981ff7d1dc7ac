"""Request and response schemas of the incentives endpoints (bot/api/incentives.py)."""

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

from bot.api.schemas import PageSchema, Strict


class ItemSchema(ma.Schema):
    id = f.Integer(required=True)
    name = f.String(required=True)
    kind = f.String(required=True, metadata={"description": "goods | service"})
    price = f.Integer(required=True)
    stock = f.Integer(required=True)
    shop = f.String(required=True)
    shop_address = f.String(required=True)
    valid_until = f.DateTime(allow_none=True, required=True)


class CatalogueSchema(ma.Schema):
    balance = f.Integer(required=True)
    items = f.List(f.Nested(ItemSchema), required=True)


class RedemptionSchema(ma.Schema):
    id = f.Integer(required=True)
    item = f.String(required=True)
    shop = f.String(required=True)
    points = f.Integer(required=True)
    code = f.String(required=True, metadata={"description": "Shown at the counter; works once"})
    state = f.String(required=True, metadata={"description": "issued | confirmed | refunded"})
    created_at = f.DateTime(required=True)
    confirmed_at = f.DateTime(allow_none=True, required=True)
    balance = f.Integer(metadata={"description": "The caller's points after this action"})


class RedemptionPageSchema(PageSchema):
    items = f.List(f.Nested(RedemptionSchema), required=True)


class ConfirmSchema(Strict):
    code = f.String(required=True, validate=v.Length(min=4, max=32))


class WishSchema(Strict):
    text = f.String(required=True, validate=v.Length(min=1, max=500))


class WishForSchema(Strict):
    name = f.String(required=True, validate=v.Length(min=1, max=50))
    text = f.String(required=True, validate=v.Length(min=1, max=500))
    compound_id = f.Integer(required=True, validate=v.Range(min=1, max=2**62))
    building = f.String(load_default="", validate=v.Length(max=16))
    room = f.String(load_default="", validate=v.Length(max=16))
    phone = f.String(load_default="", validate=v.Length(max=32))


class OfferSchema(ma.Schema):
    id = f.Integer(required=True)
    title = f.String(required=True)
    times = f.String(required=True)
    category = f.String(required=True)
    volunteer = f.String(required=True, metadata={"description": "Masked name"})


class OfferListSchema(ma.Schema):
    items = f.List(f.Nested(OfferSchema), required=True)


class OfferCreateSchema(Strict):
    title = f.String(required=True, validate=v.Length(min=1, max=40))
    times = f.String(load_default="", validate=v.Length(max=60))


class BookSchema(Strict):
    note = f.String(load_default="", validate=v.Length(max=200))


class FlagSchema(ma.Schema):
    id = f.Integer(required=True)
    ticket_id = f.Integer(required=True)
    volunteer = f.String(required=True)
    resident = f.String(required=True)
    points = f.Integer(required=True)
    pair_ratings = f.Integer(required=True)
    state = f.String(required=True)


class FlagListSchema(ma.Schema):
    items = f.List(f.Nested(FlagSchema), required=True)


class ReviewSchema(Strict):
    approve = f.Boolean(required=True)
    note = f.String(load_default="", validate=v.Length(max=200))


class ListingSchema(ma.Schema):
    company = f.String(required=True)
    list_name = f.String(required=True, metadata={"description": "red | black | neutral"})
    score = f.Integer(allow_none=True, required=True)
    reasons = f.List(f.String(), required=True)
    figures = f.Dict(required=True)


class ListsSchema(ma.Schema):
    quarter = f.String(allow_none=True, required=True)
    published_at = f.DateTime(allow_none=True, required=True)
    items = f.List(f.Nested(ListingSchema), required=True)


class ListsArgs(Strict):
    quarter = f.String(validate=v.Regexp(r"^\d{4}[Qq][1-4]$"))


class MarketEntrySchema(ma.Schema):
    company_id = f.Integer(required=True)
    company = f.String(required=True)
    score = f.Integer(allow_none=True, required=True)
    red_list = f.Boolean(required=True)
    compounds = f.Integer(required=True)


class MarketSchema(ma.Schema):
    quarter = f.String(allow_none=True, required=True)
    items = f.List(f.Nested(MarketEntrySchema), required=True)


class VetoCreateSchema(Strict):
    company = f.String(required=True, validate=v.Length(min=1, max=100))
    compound_id = f.Integer(required=True, validate=v.Range(min=1, max=2**62))
    reason = f.String(required=True, validate=v.Length(min=1, max=500))


class VetoSchema(ma.Schema):
    id = f.Integer(required=True)
    company = f.String(required=True)
    compound = f.String(required=True)
    quarter = f.String(required=True)
    reason = f.String(required=True)
    created_at = f.DateTime(required=True)
