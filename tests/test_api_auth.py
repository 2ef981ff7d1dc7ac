"""Login (developer codes and real code2session), tokens, the error shape, limits."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import pytest

from bot.app import create_app
from models.enums import Role
from models.org import User
from tests.fake_wechat import fake_wechat  # noqa: F401 (imported as a fixture)
from tests.test_api_support import api_app, api_config, auth, client  # noqa: F401


def test_dev_login_creates_a_resident_and_me_shows_it(client):
    response = client.post("/api/v1/login", json={"code": "dev:mp_newcomer"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert body["user"]["role"] == Role.RESIDENT
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.get_json()["id"] == User.get(User.openid == "mp_newcomer").id


def test_dev_login_finds_the_chat_user_by_openid(client, demo):
    response = client.post("/api/v1/login", json={"code": "dev:demo_dispatcher_1"})

    assert response.get_json()["user"]["id"] == demo.dispatcher_1.id
    assert response.get_json()["user"]["role"] == Role.DISPATCHER


@pytest.mark.parametrize("code", ["demo_resident_1", "dev:", "dev:bad id", "wx-real-code"])
def test_without_a_secret_only_dev_codes_log_in(client, code):
    response = client.post("/api/v1/login", json={"code": code})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_code"
    assert "dev:" in response.get_json()["error"]["message"]


@pytest.fixture
def wechat_app(db, api_config, fake_wechat):  # noqa: F811
    api_config.MINI_APPID = "wx_mini_test"
    api_config.MINI_SECRET = "mini-secret"
    api_config.WECHAT_API_BASE = fake_wechat.base_url
    return create_app(api_config).test_client()


def test_login_through_code2session_matches_the_chat_user_by_unionid(
    wechat_app,
    fake_wechat,
    demo,  # noqa: F811
):
    chat_user = demo.resident_1
    User.update(unionid="union-1").where(User.id == chat_user.id).execute()
    fake_wechat.register_code("code-abc", "mini-openid-1", unionid="union-1")

    response = wechat_app.post("/api/v1/login", json={"code": "code-abc"})

    assert response.status_code == 200
    assert response.get_json()["user"]["id"] == chat_user.id
    (call,) = fake_wechat.sent("/sns/jscode2session")
    assert call["query"]["appid"] == "wx_mini_test"
    assert call["query"]["secret"] == "mini-secret"


def test_a_used_or_unknown_code_is_refused_politely(wechat_app, fake_wechat):  # noqa: F811
    fake_wechat.register_code("once", "mini-openid-2")
    assert wechat_app.post("/api/v1/login", json={"code": "once"}).status_code == 200

    again = wechat_app.post("/api/v1/login", json={"code": "once"})
    dev = wechat_app.post("/api/v1/login", json={"code": "dev:demo_resident_1"})

    assert again.status_code == 401 and dev.status_code == 401
    assert again.get_json()["error"]["code"] == "invalid_code"


def test_wechat_down_is_a_503_not_a_crash(wechat_app, fake_wechat):  # noqa: F811
    fake_wechat.register_code("c1", "mini-openid-3")
    fake_wechat.fail("/sns/jscode2session", "500")

    response = wechat_app.post("/api/v1/login", json={"code": "c1"})

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "upstream"


def test_a_new_mini_user_with_a_new_unionid_is_created_once(wechat_app, fake_wechat):  # noqa: F811
    fake_wechat.register_code("a", "mini-x", unionid="union-x")
    fake_wechat.register_code("b", "mini-x", unionid="union-x")

    first = wechat_app.post("/api/v1/login", json={"code": "a"}).get_json()["user"]["id"]
    second = wechat_app.post("/api/v1/login", json={"code": "b"}).get_json()["user"]["id"]

    assert first == second
    assert User.get_by_id(first).unionid == "union-x"


@pytest.mark.parametrize(
    "header", [None, "Bearer nope", "Bearer " + "x" * 43, "Basic abc", "Bearer"]
)
def test_missing_or_unknown_tokens_get_401_in_the_error_shape(client, header):
    headers = {"Authorization": header} if header else {}

    response = client.get("/api/v1/me", headers=headers)

    assert response.status_code == 401
    assert set(response.get_json()["error"]) == {"code", "message"}


def test_logout_kills_the_token_at_once(client, auth, demo):
    headers = auth(demo.resident_1)

    assert client.post("/api/v1/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_sessions_live_in_redis_with_an_expiry(client, redis_client, redis_prefix):
    client.post("/api/v1/login", json={"code": "dev:someone"})

    keys = list(redis_client.scan_iter(f"{redis_prefix}api:session:*"))
    assert len(keys) == 1
    assert 0 < redis_client.ttl(keys[0]) <= 7 * 24 * 3600


def test_validation_errors_name_the_fields(client):
    response = client.post("/api/v1/login", json={"code": "", "extra": 1})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid" and {"code", "extra"} <= set(error["fields"])


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "null"])
def test_malformed_bodies_are_4xx(client, body):
    response = client.post("/api/v1/login", data=body, content_type="application/json")

    assert 400 <= response.status_code < 500
    assert "error" in response.get_json()


def test_oversized_json_is_413(client):
    response = client.post("/api/v1/login", json={"code": "dev:x" + "a" * 70_000})

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_rate_limit_per_user_answers_429_in_the_error_shape(db, api_config, demo):
    api_config.API_RATE_LIMIT_USER = "3/minute"
    web = create_app(api_config).test_client()
    token = web.post("/api/v1/login", json={"code": "dev:demo_resident_1"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    codes = [web.get("/api/v1/me", headers=headers).status_code for _ in range(5)]

    assert codes == [200, 200, 200, 429, 429]
    limited = web.get("/api/v1/me", headers=headers)
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert limited.headers.get("Retry-After")


def test_login_is_limited_per_ip(db, api_config):
    api_config.API_RATE_LIMIT_LOGIN = "2/minute"
    web = create_app(api_config).test_client()

    codes = [web.post("/api/v1/login", json={"code": f"dev:u{i}"}).status_code for i in range(3)]

    assert codes == [200, 200, 429]


def test_unknown_api_paths_answer_json_404(client):
    response = client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"]
