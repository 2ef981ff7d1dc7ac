"""A backlog is shed, not suffered: a message that waited too long before reaching a worker is
parked and answered at once, handled by the replay in order, and its reply pushed."""

import time

from bot import replay, webhook
from bot import webhook_texts as says
from bot.chat import reply_text
from handlers import texts
from models.tickets import Ticket
from tests.test_webhook_outages import pushes_to, replay_now

LAMP = "小区门口的路灯坏了好几天了"


def send_signed_at(resident, body: str, sent_at: float):
    """Post `body` as WeChat would have signed it at `sent_at` (a request that queued since)."""
    query, data = resident.signer.sign(body, timestamp=int(sent_at))
    response = resident.http.post(resident.url, params=query, data=data, timeout=10,
                                  headers={"Content-Type": "text/xml"})  # fmt: skip
    assert response.status_code == 200
    return reply_text(response.text), query, data


def test_a_message_that_waited_in_a_backlog_is_answered_at_once_and_its_reply_pushed(
    app, chat, demo
):
    svc = app.extensions["sidan"]
    resident = chat("demo_resident_1")
    waited = svc.config.CLOCK_SLACK_S + svc.config.SHED_AFTER_S + 2
    body = resident.signer.text(LAMP)
    answer, query, data = send_signed_at(resident, body, time.time() - waited)
    assert answer == says.PARKED and "110" in answer
    assert replay.inbox(svc).waiting() == 1
    # WeChat's retry of the same delivery gets the same answer and parks nothing more.
    retry = resident.http.post(resident.url, params=query, data=data, timeout=10)
    assert reply_text(retry.text) == says.PARKED
    assert replay.inbox(svc).waiting() == 1
    assert replay_now(app) == 1
    [pushed] = pushes_to("demo_resident_1")
    assert pushed == chat("demo_resident_2").say(LAMP)  # what it would have said inline
    assert replay.inbox(svc).waiting() == 0


def test_an_urgent_report_shed_in_a_backlog_is_filed_urgent_on_replay(app, chat, demo):
    svc = app.extensions["sidan"]
    resident = chat("demo_resident_1")
    waited = svc.config.CLOCK_SLACK_S + svc.config.SHED_AFTER_S + 2
    body = resident.signer.text("3号楼电梯卡在8楼和9楼之间，里面困了一个老人")
    answer, _, _ = send_signed_at(resident, body, time.time() - waited)
    assert "110" in answer and "119" in answer  # the danger line comes at once
    assert replay_now(app) == 1
    [ticket] = Ticket.select()
    assert ticket.urgency == "urgent"
    assert any(f"#{ticket.number}" in text or str(ticket.number) in text
               for text in pushes_to("demo_resident_1"))  # fmt: skip


def test_a_fresh_message_is_still_answered_inline(app, chat, demo):
    resident = chat("demo_resident_1")
    answer, _, _ = send_signed_at(resident, resident.signer.text(LAMP), time.time())
    assert answer != says.PARKED and answer
    assert replay.inbox(app.extensions["sidan"]).waiting() == 0


def test_a_persons_next_message_is_handled_after_their_shed_one(app, chat, demo):
    svc = app.extensions["sidan"]
    resident = chat("demo_resident_1")
    waited = svc.config.CLOCK_SLACK_S + svc.config.SHED_AFTER_S + 2
    for n in range(webhook.REPLAY_ON_REQUEST + 1):  # others' backlog, parked before theirs
        other = chat(f"backlog_{n}")
        send_signed_at(other, other.signer.text("楼道灯不亮"), time.time() - waited)
    send_signed_at(resident, resident.signer.text(LAMP), time.time() - waited)
    # The next message replays the person's parked one first, however long the queue: the
    # report is started, then cancelled.
    assert resident.say("取消") == texts.CANCELLED
    [started] = pushes_to("demo_resident_1")
    assert started == chat("demo_resident_2").say(LAMP)
    assert Ticket.select().count() == 0


def test_a_persons_next_message_waits_behind_their_parked_one_that_cannot_go_yet(app, chat, demo):
    svc = app.extensions["sidan"]
    box = replay.inbox(svc)
    resident = chat("demo_resident_1")
    waited = svc.config.CLOCK_SLACK_S + svc.config.SHED_AFTER_S + 2
    send_signed_at(resident, resident.signer.text(LAMP), time.time() - waited)
    first = box.claim()
    box.later(first, 60)  # an outage pushed it back: it cannot be replayed for a minute
    assert resident.say("取消") == says.PARKED  # queued behind it, not handled out of order
    assert box.waiting() == 2
    # Someone else is not held up by it.
    assert chat("demo_resident_2").say("帮助") != says.PARKED
    box.later(first, 0)
    assert replay_now(app) == 2
    started, cancelled = pushes_to("demo_resident_1")
    assert started == chat("demo_resident_2").say(LAMP) and cancelled == texts.CANCELLED
    assert Ticket.select().count() == 0


def test_in_a_backlog_a_request_handles_its_own_message_and_leaves_the_rest_to_the_replay(
    app, chat, demo, monkeypatch
):
    svc = app.extensions["sidan"]
    box = replay.inbox(svc)
    shed = svc.config.CLOCK_SLACK_S + svc.config.SHED_AFTER_S + 2
    for n in range(3):
        other = chat(f"backlog_{n}")
        send_signed_at(other, other.signer.text("楼道灯不亮"), time.time() - shed)
    assert box.waiting() == 3
    # Queued a little (under SHED_AFTER_S): answered inline, but the others' parked messages
    # are not replayed first, which would only make the requests behind it wait longer.
    monkeypatch.setattr(svc.config, "SHED_AFTER_S", 10.0)  # a wait of 2-3 s: not shed
    resident = chat("demo_resident_1")
    queued = svc.config.CLOCK_SLACK_S + 2
    answer, _, _ = send_signed_at(resident, resident.signer.text("帮助"), time.time() - queued)
    assert "我的工单" in answer
    assert box.waiting() == 3
    # Out of the backlog, a live message replays parked ones first, as before.
    assert "我的工单" in chat("demo_resident_2").say("帮助")
    assert box.waiting() == 0


def test_a_message_arriving_while_the_handlers_are_swamped_is_shed_at_once(
    app, chat, demo, monkeypatch
):
    """A burst fills the handler threads before any request has waited long: past SHED_QUEUE
    messages waiting for a thread in this process, the next is parked and answered at once."""
    import threading

    svc = app.extensions["sidan"]
    monkeypatch.setattr(svc.config, "SHED_QUEUE", 2)
    release = threading.Event()
    busy = [webhook._executor.submit(release.wait, 30) for _ in range(16 + 3)]
    try:
        answer = chat("demo_resident_1").say(LAMP)  # signed just now: it did not wait
        assert answer == says.PARKED
        assert replay.inbox(svc).waiting() == 1
    finally:
        release.set()
        for job in busy:
            job.result(timeout=30)
    assert replay_now(app) == 1
    [pushed] = pushes_to("demo_resident_1")
    assert pushed == chat("demo_resident_2").say(LAMP)


def test_a_new_follower_shed_in_a_backlog_is_welcomed_and_gets_the_welcome_by_push(app, chat, demo):
    svc = app.extensions["sidan"]
    newcomer = chat("newcomer_1")
    waited = svc.config.CLOCK_SLACK_S + svc.config.SHED_AFTER_S + 2
    answer, _, _ = send_signed_at(newcomer, newcomer.signer.event("subscribe"),
                                  time.time() - waited)  # fmt: skip
    assert answer == says.PARKED_WELCOME  # not "收到您的消息了": they sent none
    assert replay_now(app) == 1
    assert texts.WELCOME in pushes_to("newcomer_1")
    # Unfollowing is answered with nothing (no one reads it), parked or not.
    answer, _, _ = send_signed_at(newcomer, newcomer.signer.event("unsubscribe"),
                                  time.time() - waited)  # fmt: skip
    assert answer == ""
    assert replay_now(app) == 1
