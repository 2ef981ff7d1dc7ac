"""The Official Account webhook (/wechat)."""

from flask import Blueprint

blueprint = Blueprint("webhook", __name__)
