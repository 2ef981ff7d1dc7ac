"""Chaos over real processes: kill -9 the leading scheduler mid-drain, and a web worker
mid-request. Each test is bounded (well under a minute) and prints what it measured."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import peewee
import redis as redis_lib
import requests

from bot import webhook_texts as says
from bot.chat import ChatClient, reply_text
from models.db import database
from models.enums import Channel, OutboundStatus
from models.inbound_parked import InboundParked
from models.org import User
from models.outbox import Outbound, enqueue
from models.tickets import Ticket
from tests.conftest import REDIS_URL

SIDAN = str(Path(sys.executable).parent / "sidan")
MESSAGES = 60
URGENT = "楼道里飞线充电的电线着火了，正在冒烟"


def base_env(config, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIDAN_", "PROMETHEUS"))}
    env.update(
        DATABASE_URL=config.DATABASE_URL, REDIS_URL=REDIS_URL, REDIS_PREFIX=config.REDIS_PREFIX,
        WECHAT_TOKEN=config.WECHAT_TOKEN, WECHAT_APPID=config.WECHAT_APPID,
        MEDIA_ROOT=config.MEDIA_ROOT, LOG_FORMAT="text", LOG_LEVEL="WARNING",
    )  # fmt: skip
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([SIDAN, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(predicate, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def delivered(fake) -> dict[str, list[float]]:
    """chaos-N → the times WeChat received it."""
    seen: dict[str, list[float]] = {}
    for entry in fake.sent():
        if entry["errcode"] == 0 and "chaos-" in json.dumps(entry["body"], ensure_ascii=False):
            text = json.dumps(entry["body"], ensure_ascii=False)
            number = text.split("chaos-")[1].split('"')[0].split("。")[0]
            seen.setdefault(number, []).append(entry["at"])
    return seen


def leader_pid(redis_client, prefix: str) -> int | None:
    owner = redis_client.get(prefix + "scheduler:lease")
    return int(owner.split(":")[1]) if owner else None


def test_killing_the_leading_scheduler_mid_drain_loses_nothing(
    db, demo, config, fake_wechat, redis_client
):
    fake_wechat.send_latency_s = 0.05
    residents = [demo[f"demo_resident_{i}"] for i in range(1, 6)]
    for i in range(MESSAGES):
        channel = Channel.TEMPLATE if i % 3 == 0 else Channel.CS
        enqueue(residents[i % 5], f"chaos-{i}。", channel=channel)
    database.close()
    env = base_env(config, WECHAT_SECRET="s", WECHAT_API_BASE=fake_wechat.base_url,
                   WECHAT_TEMPLATE_IDS='{"notice": "TPL_NOTICE"}', SCHEDULER_LEASE_TTL_S=3,
                   SCHEDULER_DRAIN_EVERY_S=0.5)  # fmt: skip
    schedulers = [start(["scheduler"], env) for _ in range(2)]
    try:
        assert wait_for(lambda: len(delivered(fake_wechat)) >= 15, 40), "drain never started"
        pid = leader_pid(redis_client, config.REDIS_PREFIX)
        [victim] = [p for p in schedulers if p.pid == pid]
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        before = len(delivered(fake_wechat))
        # Done when every row is settled: the one in flight at the kill is only taken back
        # after its claim lease (20 s), and sent again (WeChat may already have it).
        wait_for(lambda: len(delivered(fake_wechat)) == MESSAGES and _all_settled(), 50, 0.5)
        seen = delivered(fake_wechat)
    finally:
        for process in schedulers:
            stop(process)
    resumed = min(t for times in seen.values() for t in times if t > killed_at + 0.2)
    doubled = sorted(n for n, times in seen.items() if len(times) > 1)
    lost = MESSAGES - len(seen)
    print(f"\nchaos scheduler: {MESSAGES} queued, {before} sent before kill -9 of the leader, "
          f"{len(seen)} delivered, lost {lost}, doubled {len(doubled)} {doubled}, "
          f"standby sending after {resumed - killed_at:.1f} s, "
          f"all delivered after {max(max(t) for t in seen.values()) - killed_at:.1f} s")  # fmt: skip
    assert lost == 0
    assert len(doubled) <= 1  # at most the one row that was in flight when the leader died
    assert resumed - killed_at < 15
    database.connect(reuse_if_open=True)
    rows = list(Outbound.select())
    assert all(row.status == OutboundStatus.SENT for row in rows)
    assert all(row.msgid for row in rows if row.sent_channel == Channel.TEMPLATE)


def _all_settled() -> bool:
    try:
        return not Outbound.select().where(Outbound.status != OutboundStatus.SENT).exists()
    finally:
        database.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_pids(master: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


def test_a_web_worker_killed_mid_request_is_answered_on_wechats_retry(
    db, demo, config, redis_client
):
    port = free_port()
    database.close()
    env = base_env(config, CONVERSATION_LOCK_WAIT_S=20)
    server = start(["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                    "--threads", "4"], env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _healthy(base), 45, step=0.3), "server did not start"
        # The resident's previous message still holds the conversation: this one will wait.
        lock = redis_client.lock(config.REDIS_PREFIX + "lock:demo_resident_1", timeout=30)
        assert lock.acquire()
        client = ChatClient(base, config.WECHAT_TOKEN, "demo_resident_1",
                            appid=config.WECHAT_APPID, timeout=15)  # fmt: skip
        body = client.signer.text(URGENT, msg_id=424242)
        first = threading.Thread(target=_post_ignoring_errors, args=(client, body), daemon=True)
        first.start()
        time.sleep(1.0)
        [worker] = worker_pids(server.pid)
        os.kill(worker, signal.SIGKILL)
        killed_at = time.time()
        lock.release()
        assert wait_for(lambda: [p for p in worker_pids(server.pid) if p != worker], 20)
        time.sleep(max(0.0, 5 - (time.time() - killed_at)))  # WeChat retries after 5 s
        reply = client.send(body)
        answered_after = time.time() - killed_at
    finally:
        stop(server)
    print(f"\nchaos web: worker killed mid-request; WeChat's retry answered after "
          f"{answered_after:.1f} s: {reply[:30]}")  # fmt: skip
    assert "工单号" in reply
    database.connect(reuse_if_open=True)
    reporter = User.get(User.openid == "demo_resident_1")
    assert Ticket.select().where(Ticket.reporter == reporter).count() == 1


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _post_ignoring_errors(client, body):
    with contextlib.suppress(requests.RequestException):  # the worker dies under it
        client.post(body)


SENDERS = 36
REDIS_DOWN_AT, REDIS_BACK_AT = 10, 26


def start_redis(port: int, folder: Path) -> subprocess.Popen:
    """A dedicated redis-server (append-only file, as docs/operations.md asks) on `port`."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    probe = redis_lib.Redis(port=port, socket_connect_timeout=0.5)
    assert wait_for(lambda: _pings(probe), 15), "redis-server did not start"
    return process


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis_lib.RedisError:
        return False


def _deliver(client: ChatClient, body: str) -> tuple[int, str]:
    """One message as WeChat delivers it: retried (same body) after a failure, 3 times."""
    status, text = 0, ""
    for _ in range(3):
        try:
            response = client.post(body)
            status, text = response.status_code, reply_text(response.text)
        except requests.RequestException:
            status, text = 0, ""
        if status == 200:
            break
        time.sleep(0.5)
    return status, text


def test_redis_killed_while_messages_arrive_loses_and_doubles_nothing(
    db, demo, config, fake_wechat, tmp_path
):
    home = demo.resident_1.compound
    openids = [f"chaos_res_{i}" for i in range(SENDERS)]
    for i, openid in enumerate(openids):
        User.create(openid=openid, name="住户", role="resident", compound=home,
                    household=f"{home.id}-9-{i}", lat=home.lat, lng=home.lng)  # fmt: skip
    database.close()
    redis_port, web_port = free_port(), free_port()
    redis_server = start_redis(redis_port, tmp_path)
    env = base_env(config, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", WECHAT_SECRET="s",
                   WECHAT_API_BASE=fake_wechat.base_url, SCHEDULER_DRAIN_EVERY_S=0.5,
                   SCHEDULER_LEASE_TTL_S=3)  # fmt: skip
    web = start(["serve", "--host", "127.0.0.1", "--port", str(web_port), "--workers", "2",
                 "--threads", "4"], env)  # fmt: skip
    scheduler = start(["scheduler"], env)
    base = f"http://127.0.0.1:{web_port}"
    answers: dict[str, tuple[int, str]] = {}
    try:
        assert wait_for(lambda: _healthy(base), 45, step=0.3), "server did not start"
        for i, openid in enumerate(openids):
            if i == REDIS_DOWN_AT:
                os.killpg(redis_server.pid, signal.SIGKILL)
                redis_server.wait(timeout=10)
            if i == REDIS_BACK_AT:
                redis_server = start_redis(redis_port, tmp_path)
                back_at = time.monotonic()
            client = ChatClient(base, config.WECHAT_TOKEN, openid, appid=config.WECHAT_APPID,
                                timeout=10)  # fmt: skip
            body = client.signer.text(f"{i + 1}号楼楼道里飞线充电的电线着火了，正在冒烟",
                                      msg_id=5_000 + i)  # fmt: skip
            answers[openid] = _deliver(client, body)
            if answers[openid][1] == says.PARKED:
                _deliver(client, body)  # as if our answer was lost: WeChat sends it again
        kept = [o for o, (status, text) in answers.items() if text == says.PARKED]
        settled = wait_for(lambda: _filed(openids) == set(openids) and _pushed(fake_wechat, kept)
                           >= set(kept), 60, step=0.2)  # fmt: skip
        recovered = time.monotonic() - back_at
        # Count once nothing is left to replay or to send: no later run can add a double.
        probe = redis_lib.Redis(port=redis_port, decode_responses=True)
        assert wait_for(lambda: _nothing_waiting(probe, config.REDIS_PREFIX), 30, step=0.2)
        tickets = _tickets_per_sender(openids)
        pushes = _pushes_per_sender(fake_wechat, kept)
    finally:
        stop(scheduler)
        stop(web)
        stop(redis_server)
    lost = [o for o in openids if tickets.get(o, 0) == 0]
    doubled = [o for o in openids if tickets.get(o, 0) > 1 or pushes.get(o, 0) > 1]
    failed = [o for o, (status, _) in answers.items() if status != 200]
    print(f"\nchaos redis: {SENDERS} messages, Redis down (kill -9) for "
          f"{REDIS_BACK_AT - REDIS_DOWN_AT} of them; "
          f"{len(kept)} answered 'received, will handle' and kept in the database, "
          f"{len(failed)} not answered 200, lost {len(lost)}, doubled {len(doubled)}, "
          f"all filed and pushed {recovered:.1f} s after Redis returned")  # fmt: skip
    assert settled, f"not settled: lost {lost}"
    assert not lost and not doubled and not failed
    assert len(kept) >= REDIS_BACK_AT - REDIS_DOWN_AT - 1  # the first after the kill may retry
    database.connect(reuse_if_open=True)
    assert not InboundParked.select().exists()


def _nothing_waiting(probe, prefix: str) -> bool:
    try:
        if probe.zcard(prefix + "inbox:due") or InboundParked.select().exists():
            return False
        busy = (OutboundStatus.PENDING, OutboundStatus.SENDING)
        return not Outbound.select().where(Outbound.status.in_(busy)).exists()
    finally:
        database.close()


def _filed(openids) -> set[str]:
    return set(_tickets_per_sender(openids))


def _tickets_per_sender(openids) -> dict[str, int]:
    try:
        rows = (
            Ticket.select(User.openid, peewee.fn.COUNT(Ticket.id))
            .join(User, on=Ticket.reporter == User.id)
            .where(User.openid.in_(list(openids)))
            .group_by(User.openid)
            .tuples()
        )
        return dict(rows)
    finally:
        database.close()


def _pushes_per_sender(fake, openids) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in fake.sent("/cgi-bin/message/custom/send"):
        body = entry["body"]
        if (
            entry["errcode"] == 0
            and body.get("touser") in openids
            and "工单号" in json.dumps(body, ensure_ascii=False)
        ):
            counts[body["touser"]] = counts.get(body["touser"], 0) + 1
    return counts


def _pushed(fake, openids) -> set[str]:
    return set(_pushes_per_sender(fake, openids))
