"""Bounded fuzzing of the webhook and the API: whatever arrives, never a 5xx."""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.wechat_sign import WeChatSigner, _cdata
from tests.test_api_support import api_app, api_config, auth, client  # noqa: F401

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])  # fmt: skip

MSG_TYPES = ["text", "image", "voice", "location", "event", "video", "link", "x", ""]
EVENTS = ["subscribe", "unsubscribe", "SCAN", "CLICK", "LOCATION", "VIEW", "x"]
FIELDS = ["Content", "PicUrl", "MediaId", "Recognition", "Location_X", "Location_Y", "Scale",
          "Label", "Event", "EventKey", "Latitude", "Longitude", "Precision", "Ticket"]  # fmt: skip
numbers = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["abc", "1.5", "", "1e30", "-0", "NaN", "0x10"]),
)
texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
                max_size=300)  # fmt: skip
field_values = st.one_of(texts, numbers)


@st.composite
def wechat_xml(draw) -> str:
    msg_type = draw(st.sampled_from(MSG_TYPES))
    parts = [
        "<ToUserName>gh</ToUserName>",
        f"<FromUserName>{_cdata(draw(st.sampled_from(['demo_resident_1', 'fuzz_u', 'a' * 70])))}"
        "</FromUserName>",
        f"<CreateTime>{draw(numbers)}</CreateTime>",
        f"<MsgType>{_cdata(msg_type)}</MsgType>",
    ]
    if msg_type == "event":
        parts.append(f"<Event>{_cdata(draw(st.sampled_from(EVENTS)))}</Event>")
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=5, unique=True)):
        parts.append(f"<{name}>{_cdata(draw(field_values))}</{name}>")
    if draw(st.booleans()):
        parts.append(f"<MsgId>{draw(numbers)}</MsgId>")
    if draw(st.booleans()):
        parts.append("<Nested><Deeper>1</Deeper></Nested>")
    return "<xml>" + "".join(parts) + "</xml>"


@FUZZ
@given(body=st.one_of(wechat_xml(), texts))
def test_the_webhook_never_answers_5xx(app, config, demo, body):
    app.extensions["sidan"].config.WEBHOOK_RATE_PER_MIN = 100_000
    app.extensions["sidan"].config.REPLY_BUDGET_S = 3.0
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="demo_resident_1")
    query, data = signer.sign(body)
    response = app.test_client().post("/wechat", query_string=query, data=data)
    assert response.status_code < 500, (body, response.data[:200])


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), texts, st.text(max_size=20)
    ),  # fmt: skip
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=20,
)
ticket_bodies = st.fixed_dictionaries(
    {},
    optional={"text": json_values, "category": json_values, "urgency": json_values,
              "compound_id": json_values, "lat": json_values, "lng": json_values,
              "photos": json_values, "building": json_values, "score": json_values,
              "note": json_values, "reason": json_values, "user_id": json_values},
)  # fmt: skip
ROUTES = ["/api/v1/tickets", "/api/v1/tickets/1/rate", "/api/v1/tickets/1/urge",
          "/api/v1/tickets/1/cancel", "/api/v1/tickets/1/take", "/api/v1/login"]  # fmt: skip


@FUZZ
@given(route=st.sampled_from(ROUTES), body=st.one_of(ticket_bodies, json_values),
       raw=st.booleans())  # fmt: skip
def test_the_api_never_answers_5xx(client, auth, demo, route, body, raw):
    headers = auth(demo.resident_1)
    if raw:
        data = json.dumps(body, ensure_ascii=False, allow_nan=True)
        response = client.post(route, data=data, headers=headers,
                               content_type="application/json")  # fmt: skip
    else:
        response = client.post(route, json=body, headers=headers)
    assert response.status_code < 500, (route, body, response.data[:200])


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["api_key", "service_code", "description", "lat",
                                             "long", "address_id", "email", "phone",
                                             "service_request_id", "first_name"]),
                            st.one_of(texts, numbers), max_size=8))  # fmt: skip
def test_open311_never_answers_5xx(client, demo, form):
    form.setdefault("api_key", "test-key")
    response = client.post("/open311/v2/requests.json", data=form)
    assert response.status_code < 500, (form, response.data[:200])


SUBSCRIBE_EVENTS = ["subscribe_msg_popup_event", "subscribe_msg_change_event",
                    "subscribe_msg_sent_event", "x"]  # fmt: skip
BLOCK_NAMES = ["SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent", "SubscribeMsgSentEvent", "List"]


@st.composite
def mini_push_xml(draw) -> str:
    items = "".join(
        "<List>"
        + "".join(
            f"<{name}>{_cdata(draw(field_values))}</{name}>"
            for name in draw(
                st.lists(
                    st.sampled_from(
                        ["TemplateId", "SubscribeStatusString", "ErrorCode", "PopupScene"]
                    ),
                    max_size=4,
                    unique=True,
                )
            )
        )  # fmt: skip
        + "</List>"
        for _ in range(draw(st.integers(min_value=0, max_value=3)))
    )
    block = draw(st.sampled_from(BLOCK_NAMES))
    return (f"<xml><FromUserName>{_cdata(draw(st.sampled_from(['mini_u', 'a' * 70, ''])))}"
            f"</FromUserName><CreateTime>{draw(numbers)}</CreateTime>"
            f"<MsgType>{_cdata('event')}</MsgType>"
            f"<Event>{_cdata(draw(st.sampled_from(SUBSCRIBE_EVENTS)))}</Event>"
            f"<{block}>{items}</{block}></xml>")  # fmt: skip


@FUZZ
@given(body=st.one_of(mini_push_xml(), texts))
def test_the_mini_program_push_never_answers_5xx(app, config, demo, body):
    signer = WeChatSigner(token=config.WECHAT_TOKEN, openid="mini_u")
    query, data = signer.sign(body)
    response = app.test_client().post("/wechat/mini", query_string=query, data=data)
    assert response.status_code < 500, (body, response.data[:200])
