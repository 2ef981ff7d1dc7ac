"""The privacy matrix: role × relation to a ticket × channel (chat, API, Open311) → for each
personal field, whether it is shown clear (C), masked (M) or not at all (H).

One ticket, filed through the API with a photo, an exact place (3号楼2单元301室), a map pin and
the resident's own words with a phone number in them. Each case puts the ticket at the stage
its relation needs, lets the viewer look through one channel as a user would (chat commands
over signed HTTP and the pushes they got, API calls, Open311 GETs), and checks every field.
"""

# ruff: noqa: F811 (pytest fixtures are imported from tests.test_api_support)

import io
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.chat import ChatClient
from models import clock, digest, lifecycle, privacy
from models.enums import Role
from models.org import OrgUnit, User
from models.outbox import Outbound
from models.tickets import Ticket
from tests.test_api_support import (  # noqa: F401
    api_app,
    api_config,
    auth,
    client,
    compound,
    jpeg_bytes,
)

WORDS = "灯坏了，有事打13912345678，晚上很黑，我住301室"
PIN = (30.27432, 120.15523)
HELPER_PHONE = "13700000007"

# field: (what shows it in clear, what shows it masked or None when it has no masked form)
FIELDS = {
    "name": ("钱阿姨", "钱**"),  # demo_resident_1, the reporter
    "phone": ("13800000001", "138****0001"),
    "building": ("3号楼", None),
    "room": ("301室", None),
    "words": ("13912345678", "139****5678"),
    "photo": ("<photo id>", None),
    "pin": ("30.27432", "30.2741"),  # the ticket's own pin; masked: the compound's
    "helper": ("王建国", "王**"),  # demo_volunteer_1, the assignee
    "helper_phone": (HELPER_PHONE, "137****0007"),
}
SAID = "灯坏了"  # visible whenever the words are, clear or masked

# relation: (stage the ticket is in, the viewer's demo openid, role)
RELATIONS = {
    "reporter": ("taken", "demo_resident_1", "resident"),
    "assignee_before_take": ("assigned", "demo_volunteer_1", "volunteer"),
    "assignee_after_take": ("taken", "demo_volunteer_1", "volunteer"),
    "pool_volunteer": ("pool", "demo_volunteer_2", "volunteer"),
    "unit_worker": ("unit", "demo_worker_1", "worker"),
    "other_volunteer": ("taken", "demo_volunteer_2", "volunteer"),
    "dispatcher_in_scope": ("taken", "demo_dispatcher_1", "dispatcher"),
    "dispatcher_out_of_scope": ("taken", "<翠园社区 dispatcher>", "dispatcher"),
    "supervisor_in_scope": ("taken", "demo_supervisor_1", "supervisor"),
    "city_supervisor": ("taken", "demo_supervisor_city", "supervisor"),
    "supervisor_out_of_scope": ("taken", "<西山街道 supervisor>", "supervisor"),
    "follower": ("taken", "demo_resident_2", "resident"),
    "other_resident": ("taken", "demo_resident_4", "resident"),
}
COLUMNS = tuple(FIELDS)
NOTHING = "H H H H H H H H H"

# Fields in COLUMNS order. API: the ticket's detail (and the viewer's own lists).
API = {
    "reporter":                "C C C C C C C C C",
    "assignee_before_take":    "M M C H M C M C C",
    "assignee_after_take":     "C C C C C C C C C",
    "pool_volunteer":          "M M C H M C M H H",
    "unit_worker":             "M M C H M C M H H",
    "other_volunteer":         NOTHING,
    "dispatcher_in_scope":     "M M C H M C M M M",
    "dispatcher_out_of_scope": NOTHING,
    "supervisor_in_scope":     "M M C H M C M M M",
    "city_supervisor":         "M M C H M C M M M",
    "supervisor_out_of_scope": NOTHING,
    "follower":                "H H H H M C M M M",
    "other_resident":          NOTHING,
}  # fmt: skip
# Chat: what the viewer's commands answer and the pushes the stage sent them. Chat shows no
# photos or pins; staff lists name nobody but the (masked) helper.
CHAT = {
    "reporter":                "H H C C C H H C C",
    "assignee_before_take":    "H H C H M H H H H",
    "assignee_after_take":     "C C C C C H H H H",
    "pool_volunteer":          "H H C H M H H H H",
    "unit_worker":             "H H C H M H H H H",
    "other_volunteer":         NOTHING,
    "dispatcher_in_scope":     "H H C H M H H M H",
    "dispatcher_out_of_scope": NOTHING,
    "supervisor_in_scope":     "H H C H M H H M H",
    "city_supervisor":         "H H C H M H H M H",
    "supervisor_out_of_scope": NOTHING,
    "follower":                "H H H H M H H M H",
    "other_resident":          NOTHING,
}  # fmt: skip
# Open311 has no viewers: everyone is the public, with or without OPEN311_PUBLIC_TEXT.
OPEN311 = {
    "public":                  "H H H H H H M H H",
    "public_text_on":          "H H H H M C M H M",  # the helper's note, masked
}  # fmt: skip

CASES = [
    *(pytest.param("api", r, API[r], id=f"api-{RELATIONS[r][2]}-{r}") for r in API),
    *(pytest.param("chat", r, CHAT[r], id=f"chat-{RELATIONS[r][2]}-{r}") for r in CHAT),
    *(pytest.param("open311", r, OPEN311[r], id=f"open311-anyone-{r}") for r in OPEN311),
]


@pytest.fixture
def chat_for(api_app, api_config, live_server_factory):
    """chat_for(user) → a signed WeChat chat with the same app the API tests use."""
    base = live_server_factory(api_app)

    def open_chat(user: User) -> ChatClient:
        return ChatClient(base, api_config.WECHAT_TOKEN, user.openid, appid=api_config.WECHAT_APPID)

    return open_chat


def viewer_of(demo, openid: str) -> User:
    """A demo user by openid, or "<unit role>" for the staff of another street."""
    if openid.startswith("<"):
        unit, role = openid.strip("<>").split()
        return (
            User.select()
            .join(OrgUnit, on=User.org_unit == OrgUnit.id)
            .where((User.role == Role(role)) & (OrgUnit.name == unit))
            .get()
        )
    return demo[openid]


def file_ticket(client, auth, demo) -> tuple[Ticket, str]:
    """The resident files through the API, with a photo, the exact place and a pin."""
    reporter = demo.resident_1
    User.update(phone=HELPER_PHONE).where(User.id == demo.volunteer_1.id).execute()
    upload = client.post(
        "/api/v1/photos", headers=auth(reporter),
        data={"file": (io.BytesIO(jpeg_bytes()), "lamp.jpg")},
    )  # fmt: skip
    assert upload.status_code == 201, upload.get_json()
    photo = upload.get_json()["id"]
    body = {
        "text": WORDS, "category": "power_lighting",
        "compound_id": compound("幸福里小区").id, "building": "3", "unit_no": "2", "room": "301",
        "lat": PIN[0], "lng": PIN[1], "photos": [photo],
    }  # fmt: skip
    created = client.post("/api/v1/tickets", headers=auth(reporter), json=body)
    assert created.status_code == 201, created.get_json()
    return Ticket.get_by_id(created.get_json()["id"]), photo


def bring_to(stage: str, ticket: Ticket, demo, take=None) -> None:
    """Move the ticket to `stage`; `take` does the taking when the viewer takes it themself."""
    if stage == "assigned":
        lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_user=demo.volunteer_1)
        return
    if stage == "unit":
        lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_unit=demo.worker_1.work_unit)
        return
    lifecycle.dispatch(ticket.id, demo.dispatcher_1, to_pool=True)
    if stage == "taken":
        lifecycle.subscribe(ticket.id, demo.resident_2)
        (take or (lambda: lifecycle.take(ticket.id, demo.volunteer_1)))()


def blob(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def pushes_to(user: User) -> str:
    return "\n".join(o.text for o in Outbound.select().where(Outbound.user == user))


# -- what each channel shows ---------------------------------------------------------------


def through_api(client, auth, demo, relation: str, ticket: Ticket) -> str:
    stage, openid, _ = RELATIONS[relation]
    viewer = viewer_of(demo, openid)
    headers = auth(viewer)
    seen = []
    if relation == "assignee_after_take":
        bring_to(
            stage,
            ticket,
            demo,
            take=lambda: seen.append(
                client.post(f"/api/v1/tickets/{ticket.id}/take", headers=headers).get_json()
            ),
        )
    else:
        bring_to(stage, ticket, demo)
    seen.append(client.get(f"/api/v1/tickets/{ticket.id}", headers=headers).get_json())
    own_list = {"resident": "/api/v1/tickets/mine", "volunteer": "/api/v1/tasks"}.get(viewer.role)
    if relation == "pool_volunteer":
        own_list = "/api/v1/pool"
    if own_list:
        seen.append(client.get(own_list, headers=headers).get_json())
    return blob(seen)


CHAT_COMMANDS = {
    "reporter": ["查询 #{n}", "我的工单"],
    "assignee_before_take": ["我的任务"],
    "assignee_after_take": ["我的任务"],
    "pool_volunteer": ["附近工单"],
}
PUSHES_SEEN = {"reporter", "assignee_before_take", "dispatcher_in_scope"}


def through_chat(chat_for, demo, relation: str, ticket: Ticket) -> str:
    stage, openid, _ = RELATIONS[relation]
    viewer = viewer_of(demo, openid)
    chat = chat_for(viewer)
    seen = []
    if relation == "assignee_after_take":
        bring_to(stage, ticket, demo, take=lambda: seen.append(chat.say(f"接单 #{ticket.id}")))
        assert "接单成功" in seen[0]
    else:
        bring_to(stage, ticket, demo)
    for command in CHAT_COMMANDS.get(relation, ["查询 #{n}"]):
        seen.append(chat.say(command.format(n=ticket.id)))
    if relation in PUSHES_SEEN:
        seen.append(pushes_to(viewer))
    return "\n".join(seen)


def through_open311(client, demo, api_app, relation: str, ticket: Ticket) -> str:
    api_app.extensions["sidan"].config.OPEN311_PUBLIC_TEXT = relation == "public_text_on"
    bring_to("taken", ticket, demo)
    lifecycle.report_progress(ticket.id, demo.volunteer_1, "明天来修，电话13700000007")
    base = "/open311/v2"
    seen = [
        client.get(f"{base}/requests.json").get_json(),
        client.get(f"{base}/requests/{ticket.id}.json").get_json(),
        client.get(f"{base}/requests/{ticket.id}.xml").get_data(as_text=True),
    ]
    return blob(seen)


# -- the matrix ----------------------------------------------------------------------------


def shown(text: str, field: str, photo: str) -> str:
    clear, masked = FIELDS[field]
    clear = photo if field == "photo" else clear
    if clear in text:
        return "C"
    if field == "words":
        return "M" if masked in text and SAID in text else "H"
    return "M" if masked is not None and masked in text else "H"


@pytest.mark.parametrize("channel, relation, expected", CASES)
def test_each_viewer_sees_what_the_policy_allows(
    client, auth, demo, chat_for, api_app, channel, relation, expected
):
    ticket, photo = file_ticket(client, auth, demo)

    if channel == "api":
        text = through_api(client, auth, demo, relation, ticket)
    elif channel == "chat":
        text = through_chat(chat_for, demo, relation, ticket)
    else:
        text = through_open311(client, demo, api_app, relation, ticket)

    got = {field: shown(text, field, photo) for field in COLUMNS}
    want = dict(zip(COLUMNS, expected.split(), strict=True))
    assert got == want, text


# -- the masking helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, masked",
    [
        ("电话13812345678找我", "电话138****5678找我"),
        ("打 138 1234 5678", "打 138****5678"),
        ("座机0571-87654321", "座机057****4321"),
        ("身份证33010219900101123X", "身份证330****123X"),
        ("邮箱 zhang.san@example.com", "邮箱 ***@example.com"),
        ("3号楼2单元301室漏水", "3号楼*单元***室漏水"),
        ("住3-2-301", "住3-*-***"),
        ("1203号房间", "***号房间"),
        ("单元502门口", "单元***门口"),
        # Dates, building numbers and amounts stay readable.
        ("11月16号下午，12号楼门口", "11月16号下午，12号楼门口"),
        ("物业费涨了300元", "物业费涨了300元"),
    ],
)
def test_free_text_loses_numbers_and_rooms_but_stays_readable(text, masked):
    assert privacy.mask_text(text) == masked


@pytest.mark.parametrize(
    "name, masked", [("张三丰", "张**"), ("王芳", "王*"), ("欧", "欧*"), ("", "")]
)
def test_names_keep_the_surname_only(name, masked):
    assert privacy.mask_name(name) == masked


@pytest.mark.parametrize(
    "phone, masked", [("13812341234", "138****1234"), ("123", "****"), ("", "")]
)
def test_phones_keep_the_first_three_and_last_four_digits(phone, masked):
    assert privacy.mask_phone(phone) == masked


# -- logs and digests --------------------------------------------------------------------------


def test_log_lines_and_tracebacks_carry_no_phone_or_room(caplog):
    privacy.install_log_redaction()
    log = logging.getLogger("sidan.test")
    with caplog.at_level(logging.INFO, logger="sidan.test"):
        log.info("calling %s about %s", "13812345678", "3号楼2单元301室")
        try:
            raise ValueError("resident wrote 13912345678")
        except ValueError:
            log.exception("handling failed")

    assert "13812345678" not in caplog.text and "13912345678" not in caplog.text
    assert "138****5678" in caplog.text and "*单元***室" in caplog.text
    assert "ValueError" in caplog.text  # the traceback is still there, only redacted


def _redact_every_pattern(text: str) -> str:
    """redact() without its shortcuts: every pattern run on every line."""
    text = privacy.LOG_NUMBER.sub(lambda m: privacy.mask_phone(m.group(0)), text)
    text = privacy.EMAIL.sub(lambda m: "***@" + m.group(0).split("@", 1)[1], text)
    text = privacy.DASHED_ROOM.sub(lambda m: f"{m.group(1)}-*-***", text)
    return privacy.ROOM.sub("***", privacy.UNIT.sub("*", text))


def test_log_redaction_shortcuts_change_no_line():
    # redact() skips the e-mail and room patterns when a line lacks '@' or the characters they
    # need; on residents' own words and on log lines it must give what the full chain gives.
    data = Path(__file__).parent / "data" / "labelled_messages.tsv"
    words = [row.split("\t", 1)[0] for row in data.read_text(encoding="utf-8").splitlines()[1:]]
    access = ('127.0.0.1 - - [04/Dec/2026:16:04:12 +0000] "POST /wechat?signature=3f1e7b&'
              'timestamp=1764864252&nonce=1234567890&openid=oAbC HTTP/1.1" 200 312 "-" "wrk"')  # fmt: skip
    personal = ["电话13812345678，住3号楼2单元301室", "邮箱li.wei@example.com", "单元 1203 漏水",
                "1203号门口", "501户", "302房", "3-2-301 楼上"]  # fmt: skip
    for line in [*words, access, "12号楼 16号", *personal]:
        assert privacy.redact(line) == _redact_every_pattern(line), line
    assert privacy.redact(access) == access
    assert all(privacy.redact(line) != line for line in personal)


def test_reporting_through_chat_and_api_logs_no_resident_words(
    client, auth, demo, chat_for, caplog
):
    with caplog.at_level(logging.DEBUG):
        file_ticket(client, auth, demo)
        chat = chat_for(demo.resident_3)
        first = chat.say("5号楼门口垃圾没人清，电话13666666666")
        if "回复 1 立即上报" in first:  # the classifier's one-tap danger question
            chat.say("没有")
        chat.say("确认")

    assert Ticket.select().where(Ticket.channel == "chat").count() == 1
    for secret in ("13912345678", "13666666666", "晚上很黑", "垃圾没人清", "301室"):
        assert secret not in caplog.text


def test_digests_name_no_resident_and_mask_volunteers(client, auth, demo):
    ticket, _ = file_ticket(client, auth, demo)
    bring_to("taken", ticket, demo)
    lifecycle.resolve(ticket.id, demo.volunteer_1, "换好了，钱阿姨13800000001已确认")
    unit = demo.supervisor_1.org_unit
    start, end = clock.now() - timedelta(days=1), clock.now() + timedelta(minutes=1)

    text = digest.render(digest.figures(unit, start, end), "daily")

    assert "活跃志愿者：王**1单" in text
    for secret in ("王建国", "钱阿姨", "13800000001", "3号楼", "301", "灯坏了"):
        assert secret not in text
