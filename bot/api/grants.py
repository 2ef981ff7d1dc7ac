"""Subscribe-message grants: the mini-program reports what the person accepted."""

import marshmallow as ma
from flask_smorest import Blueprint
from marshmallow import fields as f
from marshmallow import validate as v

from bot.api import errors
from bot.api.auth import auth_required, current_user
from models import grants, outbox

blp = Blueprint("grants", __name__, url_prefix="/api/v1", description="订阅消息授权")
errors.install(blp)

_TEMPLATE = f.String(validate=[v.Length(min=1, max=64), v.Regexp(r"^[\w\-]+$")])


class GrantSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    accepted = f.List(_TEMPLATE, required=True, validate=v.Length(max=20),
                      metadata={"description": "template ids the person accepted (`accept`)"})  # fmt: skip
    rejected = f.List(_TEMPLATE, load_default=list, validate=v.Length(max=20),
                      metadata={"description": "template ids the person turned down (`reject`, "
                                               "`ban`): nothing is sent on them until accepted "
                                               "again"})  # fmt: skip


class BalanceSchema(ma.Schema):
    balances = f.Dict(keys=f.String(), values=f.Integer(),
                      metadata={"description": "subscribe messages left per template id"})  # fmt: skip


@blp.route("/subscriptions", methods=["POST"])
@auth_required()
@blp.arguments(GrantSchema)
@blp.response(200, BalanceSchema)
def record(body):
    """Count one send per accepted template (after `wx.requestSubscribeMessage`); WeChat's own
    push of the same answer (`/wechat/mini`) does not count it again."""
    user = current_user()
    rejected = list(dict.fromkeys(body["rejected"]))
    if rejected:
        grants.refuse(user, rejected)
    accepted = [t for t in dict.fromkeys(body["accepted"]) if t not in rejected]
    grants.record_grants(user, accepted, source=grants.CLIENT)
    return {"balances": grants.balances(user, accepted + rejected)}


@blp.route("/subscriptions", methods=["GET"])
@auth_required()
@blp.response(200, BalanceSchema)
def balances():
    """Subscribe messages the server may still send me, per template."""
    return {"balances": grants.balances(current_user())}


class NoticeSchema(ma.Schema):
    id = f.Integer()
    text = f.String(metadata={"description": "the notice, as the person would have read it"})
    ticket = f.Integer(allow_none=True, metadata={"description": "the ticket it is about"})
    created_at = f.DateTime()


class NoticeListSchema(ma.Schema):
    notices = f.List(f.Nested(NoticeSchema))


@blp.route("/notices", methods=["GET"])
@auth_required()
@blp.response(200, NoticeListSchema)
def notices():
    """Notices kept for me because WeChat could not deliver them (no subscribe message left
    and no Official Account to write to), newest first (at most 50)."""
    return {"notices": outbox.notes_for(current_user(), limit=50)}
