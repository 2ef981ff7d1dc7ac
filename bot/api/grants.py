"""Subscribe-message grants: the mini-program reports what the person accepted."""

import marshmallow as ma
from flask_smorest import Blueprint
from marshmallow import fields as f
from marshmallow import validate as v

from bot.api import errors
from bot.api.auth import auth_required, current_user
from models import grants

blp = Blueprint("grants", __name__, url_prefix="/api/v1", description="订阅消息授权")
errors.install(blp)

_TEMPLATE = f.String(validate=[v.Length(min=1, max=64), v.Regexp(r"^[\w\-]+$")])


class GrantSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    accepted = f.List(_TEMPLATE, required=True, validate=v.Length(max=20),
                      metadata={"description": "template ids the person accepted (`accept`)"})  # fmt: skip


class BalanceSchema(ma.Schema):
    balances = f.Dict(keys=f.String(), values=f.Integer(),
                      metadata={"description": "subscribe messages left per template id"})  # fmt: skip


@blp.route("/subscriptions", methods=["POST"])
@auth_required()
@blp.arguments(GrantSchema)
@blp.response(200, BalanceSchema)
def record(body):
    """Count one send per accepted template (after `wx.requestSubscribeMessage`)."""
    accepted = list(dict.fromkeys(body["accepted"]))
    return {"balances": grants.record_grants(current_user(), accepted)}


@blp.route("/subscriptions", methods=["GET"])
@auth_required()
@blp.response(200, BalanceSchema)
def balances():
    """Subscribe messages the server may still send me, per template."""
    return {"balances": grants.balances(current_user())}
