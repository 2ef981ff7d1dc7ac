"""Outbox claims: a slow send keeps its claim alive; a dead drainer's claim lapses quickly."""

import threading
import time
from datetime import timedelta

from models import clock, outbox
from models.db import database
from models.enums import Channel, OutboundStatus
from models.outbox import Outbound, enqueue
from scheduler import drain


class SlowTransport:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.sent = []

    def send(self, message):
        time.sleep(self.seconds)
        self.sent.append(message.text)
        return None


def test_a_slow_send_keeps_its_claim_so_no_standby_sends_it_again(demo, monkeypatch):
    clock.set_now(None)  # the heartbeat and the lease run on the real clock here
    monkeypatch.setattr(outbox, "CLAIM_LEASE", timedelta(seconds=0.5))
    monkeypatch.setattr(outbox, "HEARTBEAT_S", 0.1)
    enqueue(demo.resident_1, "慢慢发送的消息", channel=Channel.CS)
    transport = SlowTransport(1.5)
    sender = threading.Thread(target=lambda: (drain.handle_one_outbound(transport),
                                              database.close()))  # fmt: skip
    sender.start()
    stolen = []
    deadline = time.monotonic() + 1.3
    while time.monotonic() < deadline:
        time.sleep(0.1)
        row = outbox.claim_next()
        if row is not None:
            stolen.append(row.id)
    sender.join(timeout=10)
    assert stolen == []
    assert transport.sent == ["慢慢发送的消息"]
    assert Outbound.get().status == OutboundStatus.SENT


def test_a_claim_nobody_keeps_alive_is_taken_back_after_the_short_lease(demo):
    enqueue(demo.resident_1, "发送中断的消息", channel=Channel.CS)
    first = outbox.claim_next()
    assert first is not None and outbox.claim_next() is None
    clock.advance(outbox.CLAIM_LEASE - timedelta(seconds=1))
    assert outbox.claim_next() is None
    clock.advance(timedelta(seconds=2))
    again = outbox.claim_next()
    assert again is not None and again.id == first.id and again.attempts == 2
