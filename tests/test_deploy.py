"""The deploy recipe run for real: Debian's nginx with deploy/nginx/sidan.conf (TLS, a
self-signed certificate made here with openssl) in front of two `sidan serve` instances,
started as deploy/systemd/sidan-web.service starts them (so deploy/gunicorn.conf.py is the
config they load), and two `sidan scheduler` instances as sidan-scheduler@.service starts them,
all on one PostgreSQL database and one Redis, with deploy/sidan.env.example as the environment.

Each web instance plays one web host: its own port and Prometheus folder (shared with its
host's scheduler); MEDIA_ROOT and SIDAN_VAR_DIR are shared storage, as docs/operations.md asks
of several hosts. The deploy needs PostgreSQL, so these tests use the test PostgreSQL server in
the SQLite pass of the suite too (never skipped); WeChat is tests/fake_wechat.py.

The tests run in file order on one stack; the last one kills a web instance."""

import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import ssl
import string
import subprocess
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis as redis_lib
import requests

from bot.chat import ChatClient
from tests.conftest import REDIS_URL, RUN_ID
from tests.deploy_support import (
    ROOT,
    ScratchDatabase,
    exec_start,
    nginx_main_conf,
    render_nginx_site,
    service_env,
)
from tests.fake_wechat import FakeWeChat

NGINX = "/usr/sbin/nginx"
AES_KEY = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))
SEND_PATHS = ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send",
              "/cgi-bin/message/subscribe/send")  # fmt: skip
NUMBER = re.compile(r"工单号 #(\d+)")
LINK = re.compile(r"(https://\S+/dashboard/login\?t=[\w.\-]+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, step: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def answers(url: str, **kw) -> bool:
    try:
        return requests.get(url, timeout=3, **kw).status_code == 200
    except requests.RequestException:
        return False


class Stack:
    """What the fixture started: ports, processes, the fake WeChat, the database."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: dict[str, subprocess.Popen] = {}
        self.web_ports = [free_port(), free_port()]
        self.http_port, self.https_port = free_port(), free_port()
        self.base = f"https://127.0.0.1:{self.https_port}"
        self.cert = folder / "cert.pem"
        self.key = folder / "key.pem"
        self.prefix = f"sidan-deploy:{RUN_ID}:{secrets.token_hex(4)}:"
        self.fake = FakeWeChat()
        self.db = ScratchDatabase("deploy")
        self.env: dict[str, str] = {}
        self.request_ids: set[str] = set()  # X-Request-Id of every webhook answer

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]

    def session(self) -> requests.Session:
        http = requests.Session()
        http.trust_env = False  # else REQUESTS_CA_BUNDLE wins over .verify
        http.verify = str(self.cert)
        return http

    def chat(self, openid: str) -> ChatClient:
        env = self.env
        client = ChatClient(self.base, env["WECHAT_TOKEN"], openid, aes_key=env["WECHAT_AES_KEY"],
                            appid=env["WECHAT_APPID"], timeout=15)  # fmt: skip
        client.http.trust_env = False
        client.http.verify = str(self.cert)
        client.http.hooks["response"].append(self._note_request_id)
        return client

    def _note_request_id(self, response, *args, **kwargs):
        self.request_ids.add(response.headers.get("X-Request-Id"))

    def say(self, client: ChatClient, text: str) -> str:
        """What the person sees: the passive reply, or the push of a reply that ran late."""
        openid = client.signer.openid
        before = len(self.sends(openid))
        reply = client.say(text)
        if reply:
            return reply
        late = wait_for(lambda: self.sends(openid)[before:], 30)
        assert late, f"no reply and no push for {text!r}"
        return json.dumps(late[0]["body"], ensure_ascii=False)

    def sends(self, openid: str | None = None) -> list[dict]:
        return [entry for entry in self.fake.sent()
                if entry["path"] in SEND_PATHS and entry["errcode"] == 0
                and (openid is None or entry["body"].get("touser") == openid)]  # fmt: skip

    def metrics(self, port: int) -> dict[tuple[str, str], float]:
        """One web host's /metrics (its workers and its scheduler): (name, labels) → value."""
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        samples = {}
        for line in text.splitlines():
            match = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line)
            if match:
                samples[match.group(1), match.group(2) or ""] = float(match.group(3))
        return samples

    def metric_sum(self, name: str, labels: str = "") -> float:
        return sum(value for port in self.web_ports
                   for (sample, found), value in self.metrics(port).items()
                   if sample == name and labels in found)  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deploy")
    stack = Stack(folder)
    stack.fake.start()
    stack.db.create()
    try:
        _start(stack)
        yield stack
    finally:
        for name in list(stack.processes):
            stack.kill(name)
        stack.fake.stop()
        stack.db.drop()
        client = redis_lib.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{stack.prefix}*", count=1000):
            client.delete(key)
        client.close()


def _start(stack: Stack) -> None:
    folder = stack.folder
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(stack.key), "-out", str(stack.cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    # The env file as an operator fills it in: secrets, addresses, paths of this machine.
    stack.env = service_env(
        "sidan-web.service",
        DATABASE_URL=stack.db.url, REDIS_URL=REDIS_URL, REDIS_PREFIX=stack.prefix,
        WECHAT_TOKEN=secrets.token_hex(8), WECHAT_APPID="wx_deploy", WECHAT_SECRET="oa-secret",
        WECHAT_AES_KEY=AES_KEY, MINI_APPID="wx_deploy_mini", MINI_SECRET="mini-secret",
        OPEN311_API_KEYS=secrets.token_hex(8), SECRET_KEY=secrets.token_hex(32),
        PUBLIC_BASE_URL=stack.base, MEDIA_ROOT=str(folder / "media"),
        SIDAN_VAR_DIR=str(folder / "var"), WECHAT_API_BASE=stack.fake.base_url,
        WEB_WORKERS="2",  # two cores here; the example's 5 is for a real host
    )  # fmt: skip
    for command in (["init-db"], ["seed-demo"]):  # the start-up steps of docs/operations.md
        done = subprocess.run([*exec_start("sidan-scheduler@.service")[:1], *command],
                              env=stack.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, f"sidan {command[0]}: {done.stdout}{done.stderr[-3000:]}"

    site = folder / "sidan.conf"
    site.write_text(render_nginx_site(stack.web_ports, stack.http_port, stack.https_port,
                                      stack.cert, stack.key))  # fmt: skip
    main_conf = folder / "nginx.conf"
    main_conf.write_text(nginx_main_conf(folder, site))
    test = subprocess.run([NGINX, "-t", "-p", str(folder), "-c", str(main_conf), "-e",
                           str(folder / "error.log")], capture_output=True, text=True)  # fmt: skip
    assert test.returncode == 0, f"nginx rejects deploy/nginx/sidan.conf:\n{test.stderr}"
    stack.start("nginx", [NGINX, "-p", str(folder), "-c", str(main_conf), "-e",
                          str(folder / "error.log")], os.environ.copy())  # fmt: skip

    for host, port in enumerate(stack.web_ports, 1):
        metrics_dir = folder / f"host{host}-metrics"
        web_env = service_env("sidan-web.service", **_overrides(stack),
                              PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
                              SIDAN_BIND=f"127.0.0.1:{port}")  # fmt: skip
        stack.start(f"web{host}", exec_start("sidan-web.service"), web_env)
    for host, port in enumerate(stack.web_ports, 1):
        ready = wait_for(lambda port=port: answers(f"http://127.0.0.1:{port}/readyz"), 240, 0.5)
        assert ready, f"web{host} did not start:\n{stack.log(f'web{host}')}"
    for host in (1, 2):
        scheduler_env = service_env(
            "sidan-scheduler@.service",
            **_overrides(stack),
            PROMETHEUS_MULTIPROC_DIR=str(folder / f"host{host}-metrics"),
        )
        stack.start(f"scheduler{host}", exec_start("sidan-scheduler@.service"), scheduler_env)


def _overrides(stack: Stack) -> dict:
    keep = ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "WECHAT_TOKEN", "WECHAT_APPID",
            "WECHAT_SECRET", "WECHAT_AES_KEY", "MINI_APPID", "MINI_SECRET", "OPEN311_API_KEYS",
            "SECRET_KEY", "PUBLIC_BASE_URL", "MEDIA_ROOT", "SIDAN_VAR_DIR", "WECHAT_API_BASE",
            "WEB_WORKERS")  # fmt: skip
    return {key: stack.env[key] for key in keep}


def test_a_ticket_filed_and_taken_through_nginx_is_pushed_exactly_once(stack):
    resident, dispatcher = stack.chat("demo_resident_1"), stack.chat("demo_dispatcher_1")
    volunteer = stack.chat("demo_volunteer_1")

    summary = stack.say(resident, "3号楼楼道灯坏了，晚上黑乎乎的")
    assert "类别：供电/照明" in summary
    number = NUMBER.search(stack.say(resident, "确认")).group(1)
    assert "志愿者接单池" in stack.say(dispatcher, f"派单 ＃{number} 给 志愿者")
    assert "接单成功" in stack.say(volunteer, f"接单{number}")

    # The two schedulers race for the outbox: every row is delivered once, none twice.
    def settled():
        rows = stack.db.query("SELECT status, count(*) FROM outbound GROUP BY status")
        counts = dict(rows)
        return counts if counts and set(counts) == {"sent"} else None

    assert wait_for(settled, 60, 0.5), stack.db.query("SELECT status, last_error FROM outbound")
    rows = stack.db.query("SELECT openid, text FROM outbound ORDER BY id")
    # Each push carries the id nginx gave the webhook request that queued it.
    traced = {rid for (rid,) in stack.db.query("SELECT request_id FROM outbound")}
    assert traced <= stack.request_ids and all(re.fullmatch(r"[0-9a-f]{32}", t) for t in traced)
    sends = stack.sends()
    assert Counter(e["body"]["touser"] for e in sends) == Counter(openid for openid, _ in rows)
    assert any(openid == "demo_resident_1" for openid, _ in rows)  # told that it was taken
    delivered_texts = [e["body"]["text"]["content"] for e in sends if "text" in e["body"]]
    assert all(delivered_texts.count(t) <= 1 for t in delivered_texts)
    print(f"\ndeploy: {len(rows)} outbox rows, {len(sends)} deliveries to the fake WeChat, "
          f"2 schedulers, 2 web instances behind nginx")  # fmt: skip
    assert stack.db.query("SELECT state FROM ticket WHERE id = %s", (int(number),)) == [("taken",)]
    leaders = {stack.processes[f"scheduler{i}"].pid for i in (1, 2)}
    lease = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True).get(
        stack.prefix + "scheduler:lease")  # fmt: skip
    assert lease and int(lease.split(":")[1]) in leaders  # one of the two leads


def test_api_dashboard_and_static_files_go_through_nginx(stack):
    http = stack.session()
    stack.db.query("UPDATE \"user\" SET unionid = 'union-r1' WHERE openid = 'demo_resident_1'")
    stack.fake.register_code("code-r1", "mini-r1", unionid="union-r1")
    login = http.post(f"{stack.base}/api/v1/login", json={"code": "code-r1"}, timeout=10)
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    mine = http.get(f"{stack.base}/api/v1/tickets/mine", headers=auth, timeout=10)
    assert mine.status_code == 200 and "3号楼" in mine.text  # the ticket filed in the chat
    assert http.get(f"{stack.base}/api/v1/tickets/mine", timeout=10).status_code == 401

    # A photo uploaded through one host is served by either (MEDIA_ROOT is shared storage).
    jpeg = (ROOT / "docs/samples/lamp.jpg").read_bytes()
    upload = http.post(f"{stack.base}/api/v1/photos", headers=auth, timeout=10,
                       files={"file": ("lamp.jpg", jpeg, "image/jpeg")})  # fmt: skip
    assert upload.status_code == 201, upload.text
    photo_url = upload.json()["url"]
    assert photo_url.startswith(stack.base)
    for _ in range(2):  # round robin: once from each web instance
        photo = http.get(photo_url, timeout=10)
        assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/jpeg"

    # The dashboard: a link sent in the chat by one host opens on whichever host nginx picks.
    reply = stack.say(stack.chat("demo_supervisor_1"), "大屏")
    link = LINK.search(reply).group(1)
    assert link.startswith(f"{stack.base}/dashboard/login?t=")
    opened = http.get(link, allow_redirects=False, timeout=10)
    assert opened.status_code == 302, opened.text
    page = http.get(stack.base + urlparse(opened.headers["Location"]).path, timeout=10)
    assert page.status_code == 200 and "幸福社区" in page.text
    bare = http.get(f"{stack.base}/dashboard", allow_redirects=False, timeout=10)
    assert bare.status_code == 301 and bare.headers["Location"].endswith("/dashboard/")
    assets = re.findall(r"(/dashboard/static/[\w.\-]+\.(?:js|css))", page.text)
    assert assets, page.text[:500]
    for asset in set(assets):
        response = http.get(stack.base + asset, timeout=10)
        assert response.status_code == 200 and response.content
        assert response.headers["Cache-Control"] == "max-age=604800"  # nginx: expires 7d
    assert http.get(f"{stack.base}/nothing-here", timeout=10).status_code == 404


def test_wechats_url_checks_and_open311_go_through_nginx(stack):
    http = stack.session()
    timestamp, nonce = str(int(time.time())), "20261202"
    signature = hashlib.sha1(
        "".join(sorted([stack.env["WECHAT_TOKEN"], timestamp, nonce])).encode()
    ).hexdigest()
    query = {"signature": signature, "timestamp": timestamp, "nonce": nonce, "echostr": "e42"}
    check = http.get(f"{stack.base}/wechat", params=query, timeout=10)
    assert check.status_code == 200 and check.text == "e42"
    forged = http.get(f"{stack.base}/wechat", params={**query, "signature": "0" * 40}, timeout=10)
    assert forged.status_code == 403
    # The mini-program's message push URL passes through too.
    mini = http.get(f"{stack.base}/wechat/mini", params=query, timeout=10)
    assert mini.status_code == 200 and mini.text == "e42"
    services = http.get(f"{stack.base}/open311/v2/services.json", timeout=10)
    assert services.status_code == 200 and len(services.json()) == 21


def test_http_is_redirected_to_https(stack):
    response = requests.get(f"http://127.0.0.1:{stack.http_port}/wechat?x=1",
                            allow_redirects=False, timeout=5)  # fmt: skip
    assert response.status_code == 301
    assert response.headers["Location"] == "https://127.0.0.1/wechat?x=1"


def test_bodies_over_the_limits_get_413_from_nginx(stack):
    http = stack.session()
    signer = stack.chat("demo_resident_1").signer
    query, _ = signer.sign(signer.text("楼道灯坏了"))
    webhook = http.post(f"{stack.base}/wechat", params=query, data="x" * 70_000, timeout=10,
                        headers={"Content-Type": "text/xml"})  # fmt: skip
    photo = http.post(f"{stack.base}/api/v1/photos", data=b"\xff" * (7 * 1024 * 1024), timeout=20,
                      headers={"Content-Type": "image/jpeg"})  # fmt: skip
    api = http.post(f"{stack.base}/api/v1/tickets", data="{" * 100_000, timeout=10,
                    headers={"Content-Type": "application/json"})  # fmt: skip
    for response in (webhook, photo, api):
        assert response.status_code == 413
        assert response.headers["Server"].startswith("nginx")  # refused before the app


def _get_from(source: str, port: int, path: str, cafile: str) -> int:
    """GET over TLS from a given loopback source address: nginx allows only some."""
    context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", port, source_address=(source, 0),
                                       context=context, timeout=10)  # fmt: skip
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_health_readiness_and_metrics_behind_nginx(stack):
    http = stack.session()
    health = http.get(f"{stack.base}/healthz", timeout=5)
    ready = http.get(f"{stack.base}/readyz", timeout=5)
    assert health.status_code == 200 and health.json() == {"ok": True}
    assert ready.status_code == 200 and ready.json() == {"ok": True, "database": True,
                                                         "redis": True}  # fmt: skip
    assert re.fullmatch(r"[0-9a-f]{32}", health.headers["X-Request-Id"])
    metrics = http.get(f"{stack.base}/metrics", timeout=5)
    assert metrics.status_code == 200 and "sidan_webhook_requests_total" in metrics.text
    for path in ("/healthz", "/readyz", "/metrics"):  # not for the outside world
        assert _get_from("127.0.0.2", stack.https_port, path, str(stack.cert)) == 403
    assert _get_from("127.0.0.2", stack.https_port, "/api/v1/tickets/mine", str(stack.cert)) == 401

    # Each host's /metrics adds up its workers and its scheduler (one Prometheus folder).
    webhook_before = stack.metric_sum("sidan_webhook_requests_total")
    per_host_before = [
        sum(v for (n, _), v in stack.metrics(p).items() if n == "sidan_webhook_requests_total")
        for p in stack.web_ports
    ]
    resident = stack.chat("demo_resident_2")
    for _ in range(4):
        stack.say(resident, "帮助")
    per_host_after = [
        sum(v for (n, _), v in stack.metrics(p).items() if n == "sidan_webhook_requests_total")
        for p in stack.web_ports
    ]
    assert stack.metric_sum("sidan_webhook_requests_total") == webhook_before + 4
    assert all(
        after > before for before, after in zip(per_host_before, per_host_after, strict=True)
    )  # both hosts served

    def sent_and_counted() -> tuple[int, float]:
        rows = stack.db.query("SELECT count(*) FROM outbound WHERE status = 'sent'")[0][0]
        return rows, stack.metric_sum("sidan_outbox_messages_total", 'outcome="sent"')

    # Settled rows (a late reply may still be on its way) match the schedulers' sent counter.
    assert wait_for(lambda: len(set(sent_and_counted())) == 1, 20, 0.5), sent_and_counted()
    assert sent_and_counted()[0] > 0
    assert stack.metric_sum("sidan_http_responses_total", 'status="500"') == 0


def test_killing_one_web_instance_leaves_the_other_answering(stack):
    http = stack.session()
    stack.kill("web1")
    resident = stack.chat("demo_resident_1")
    statuses = [http.get(f"{stack.base}/healthz", timeout=10).status_code for _ in range(6)]
    replies = [stack.say(resident, "我的工单") for _ in range(3)]
    ready = http.get(f"{stack.base}/readyz", timeout=10)
    print(f"\ndeploy failover: after kill -9 of one sidan serve, {statuses.count(200)}/6 GET and "
          f"{sum('#' in r for r in replies)}/3 webhook messages answered through nginx")  # fmt: skip
    assert statuses == [200] * 6 and ready.status_code == 200
    assert all("#" in reply for reply in replies), replies
    # nginx did try the dead host, took it out of the rotation and went on to the live one.
    assert "upstream server temporarily disabled" in (stack.folder / "error.log").read_text()
