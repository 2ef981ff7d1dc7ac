"""Shared helpers for the API tests (this module holds no tests of its own)."""

import io

import pytest
from PIL import Image

from bot.app import create_app
from models import lifecycle
from models.org import Compound, User

HIGH_LIMIT = "100000/minute"


@pytest.fixture
def api_config(config):
    """The test config in developer-login mode, with limits out of the way."""
    config.MINI_SECRET = None
    config.PUBLIC_BASE_URL = "http://testserver"
    config.OPEN311_API_KEYS = ["test-key"]
    config.API_RATE_LIMIT_USER = HIGH_LIMIT
    config.API_RATE_LIMIT_IP = HIGH_LIMIT
    config.API_RATE_LIMIT_LOGIN = HIGH_LIMIT
    config.API_RATE_LIMIT_UPLOAD = HIGH_LIMIT
    return config


@pytest.fixture
def api_app(db, api_config):
    app = create_app(api_config)
    app.testing = True
    return app


@pytest.fixture
def client(api_app):
    return api_app.test_client()


@pytest.fixture
def auth(client):
    """auth(user) → headers carrying a fresh bearer token for that user (dev login)."""
    cache = {}

    def headers_for(user: User) -> dict:
        if user.openid not in cache:
            response = client.post("/api/v1/login", json={"code": f"dev:{user.openid}"})
            assert response.status_code == 200, response.get_json()
            cache[user.openid] = {"Authorization": f"Bearer {response.get_json()['token']}"}
        return cache[user.openid]

    return headers_for


def jpeg_bytes(size=(64, 48), color=(200, 30, 30), exif=None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    image.save(out, "JPEG", **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def compound(name: str) -> Compound:
    return Compound.get(Compound.name == name)


def file_ticket(reporter: User, text="3号楼楼道灯坏了", category="power_lighting", **kw):
    """A ticket filed as the chat would file it."""
    kw.setdefault("compound", reporter.compound)
    return lifecycle.submit(reporter, text, category, **kw)
