"""Scripted multi-turn conversations, written as data (tests/transcripts/*.toml), over signed HTTP.

A transcript is a list of steps. Each step is sent as one person and checks the reply:

    [[transcript]]
    name = "a greeting is answered, not drafted"
    [[transcript.step]]
    as = "demo_resident_1"        # who sends it (an openid; demo users are seeded)
    say = "你好"                   # or: photo = true | voice = "…" | loc = [lat, lng, "label"]
                                  #     | scan = "compound_1" | click = "MY_TICKETS"
    expect = "您好"                # regex the reply must match (re.search)
    reject = "确认"                # optional regex the reply must not match
    capture = "工单号 #(?P<n>\\d+)" # optional: named groups become {n} in later steps
    push_to = "demo_volunteer_1"  # optional: a push queued for them since the transcript began
    push = "接单"                  #   must match this regex
    no_push = "demo_resident_1"   # optional: nothing new queued for them by this step
    advance = 30                  # optional: move the clock this many minutes first

Every transcript starts from a fresh demo city.
"""

import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from models import clock
from models.outbox import Outbound

HERE = Path(__file__).parent / "transcripts"
SENDERS = ("say", "photo", "voice", "loc", "scan", "click")


def _load():
    for path in sorted(HERE.glob("*.toml")):
        for transcript in tomllib.loads(path.read_text(encoding="utf-8"))["transcript"]:
            yield pytest.param(transcript, id=f"{path.stem}: {transcript['name']}")


def _fill(text: str, values: dict) -> str:
    """Put captured values into `{name}` slots (other braces, e.g. regex counts, stay)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _send(client, step: dict, values: dict) -> str:
    kind = next(k for k in SENDERS if k in step)
    value = step[kind]
    if kind == "say":
        return client.say(_fill(value, values))
    if kind == "photo":
        return client.photo()
    if kind == "voice":
        return client.voice(_fill(value, values))
    if kind == "loc":
        return client.location(*value)
    if kind == "scan":
        return client.event("SCAN", value)
    return client.event("CLICK", value)


def _pushes_since(openid: str, after_id: int) -> list[str]:
    rows = Outbound.select(Outbound.text).where(
        (Outbound.openid == openid) & (Outbound.id > after_id)
    )
    return [row.text for row in rows]


def _last_outbound_id() -> int:
    return Outbound.select(Outbound.id).order_by(Outbound.id.desc()).scalar() or 0


@pytest.mark.parametrize("transcript", list(_load()))
def test_transcript(transcript, chat, demo):
    values: dict[str, str] = {}
    start = _last_outbound_id()
    for number, step in enumerate(transcript["step"], 1):
        if "advance" in step:
            clock.advance(timedelta(minutes=step["advance"]))
        before = _last_outbound_id()
        reply = _send(chat(step["as"]), step, values)
        where = f"step {number} ({step['as']}: {step.get('say', '')!r}) got {reply!r}"
        if "expect" in step:
            assert re.search(_fill(step["expect"], values), reply), where
        if "reject" in step:
            assert not re.search(_fill(step["reject"], values), reply), where
        if "capture" in step:
            found = re.search(_fill(step["capture"], values), reply)
            assert found, where
            values.update(found.groupdict())
        if "push_to" in step:
            pushes = _pushes_since(step["push_to"], start)
            pattern = _fill(step.get("push", ""), values)
            assert any(re.search(pattern, text) for text in pushes), f"{where}; pushes {pushes}"
        if "no_push" in step:
            assert _pushes_since(step["no_push"], before) == [], where
