"""Shared fixtures: a real database (SQLite or PostgreSQL), a real Redis, the app, the demo city.

Pick the database with SIDAN_TEST_DB=sqlite|postgres. PostgreSQL and Redis are real servers
(TEST_PG_URL, TEST_REDIS_URL); each pytest process gets its own PostgreSQL database and its
own Redis key prefix, so parallel runs on one machine do not see each other.
"""

import os
import uuid
from datetime import datetime

import peewee
import psycopg2
import pytest
import redis as redis_lib

from bot.app import create_app
from bot.config import Config
from models import clock, schema
from models.db import database, is_postgres, open_database
from models.demo import seed_demo
from models.org import User
from models.places import forget_compound_names

# The fake WeChat API server's `fake_wechat` fixture, for every test module.
pytest_plugins = ["tests.fake_wechat"]

TEST_DB = os.environ.get("SIDAN_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_POOL_SIZE = 32
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"

# A Monday morning in Beijing (UTC 01:00 = 09:00 local), not near any holiday.
MONDAY_9AM = datetime(2026, 11, 16, 1, 0)


def pytest_report_header(config):
    return f"sidan: database={TEST_DB} redis={REDIS_URL}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """Create this run's database once; drop it at the end."""
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'sidan.db'}"
        return
    if TEST_DB != "postgres":
        raise pytest.UsageError("SIDAN_TEST_DB must be sqlite or postgres")
    name = f"sidan_t_{RUN_ID}"
    try:
        admin = psycopg2.connect(PG_ADMIN_URL)
    except psycopg2.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}", returncode=3)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    database.close_all() if hasattr(database.obj, "close_all") else database.close()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def _schema(database_url):
    # Race tests hold 20 connections at once (one per thread): a bigger pool than a web
    # worker's default, which would make them wait for each other.
    open_database(database_url, pool_size=TEST_POOL_SIZE)
    schema.drop_all()
    schema.upgrade()
    yield database_url


def _truncate():
    """Empty every table and restart ids (DELETE beats TRUNCATE on tables this small)."""
    models = list(reversed(schema.ALL_MODELS))
    with database.atomic():
        if not is_postgres():
            database.execute_sql("PRAGMA defer_foreign_keys = ON")
        for model in models:
            database.execute_sql(f'DELETE FROM "{model._meta.table_name}"')
        if is_postgres():
            for model in models:
                database.execute_sql(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), 1, false)",
                    (f'"{model._meta.table_name}"',),
                )


@pytest.fixture
def db(_schema):
    """A clean database for each test (tables emptied, ids restarted), clock frozen."""
    open_database(_schema, pool_size=TEST_POOL_SIZE)
    database.connect(reuse_if_open=True)
    _truncate()
    forget_compound_names()
    clock.set_now(MONDAY_9AM)
    yield database
    clock.set_now(None)
    if not database.is_closed():
        database.close()


@pytest.fixture
def redis_prefix():
    return f"sidan-test:{RUN_ID}:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def redis_client(redis_prefix):
    """The real Redis server; this test's keys are deleted afterwards (never FLUSHDB)."""
    client = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        client.ping()
    except redis_lib.ConnectionError as exc:
        pytest.exit(f"Redis is not reachable at {REDIS_URL}: {exc}", returncode=3)
    yield client
    for key in client.scan_iter(f"{redis_prefix}*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def config(_schema, redis_client, redis_prefix, tmp_path):
    return Config(
        DATABASE_URL=_schema,
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=redis_prefix,
        WECHAT_TOKEN="test-token",
        WECHAT_APPID="wx_test",
        WECHAT_SECRET=None,
        WECHAT_AES_KEY=None,
        MEDIA_ROOT=str(tmp_path / "media"),
        # A test's request is never shed by accident when the machine is slow to serve it
        # (it is signed when sent); tests/test_webhook_backlog.py sheds on purpose.
        SHED_AFTER_S=30.0,
        SHED_QUEUE=0,
        TESTING=True,
    )


@pytest.fixture
def app(db, config):
    application = create_app(config)
    application.testing = True
    return application


@pytest.fixture
def demo(db):
    """The demo city; returns a lookup of demo users by openid."""
    seed_demo()
    return DemoPeople()


class DemoPeople:
    """demo.resident_1, demo.dispatcher_1, demo['demo_volunteer_2'] … always fresh from the DB."""

    def __getitem__(self, openid: str) -> User:
        return User.get(User.openid == openid)

    def __getattr__(self, name: str) -> User:
        try:
            return self[f"demo_{name}"]
        except peewee.DoesNotExist:
            raise AttributeError(name) from None


@pytest.fixture
def live_server_factory():
    """Serve any app on a real HTTP port (werkzeug, threaded), as WeChat would reach it."""
    import threading

    from werkzeug.serving import make_server

    running = []

    def serve(application) -> str:
        server = make_server("127.0.0.1", 0, application, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in running:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_server(app, live_server_factory):
    """The test app on a real HTTP port, with the classifier loaded as the app's warm-up does."""
    from handlers.classifier import get_model

    get_model()
    return live_server_factory(app)


@pytest.fixture
def chat(live_server, config):
    """chat("demo_resident_1").say("…") → the reply text, over signed HTTP."""
    from bot.chat import ChatClient
    from handlers.classifier import classify

    # The classifier loads once per process (about 3 s): load it before the first message,
    # as the app does at start-up outside tests, so no first reply overruns WeChat's budget.
    classify("预热")
    clients = {}

    def open_chat(openid: str, aes_key: str | None = None) -> ChatClient:
        if (openid, aes_key) not in clients:
            clients[openid, aes_key] = ChatClient(
                live_server, config.WECHAT_TOKEN, openid, aes_key=aes_key,
                appid=config.WECHAT_APPID,
            )  # fmt: skip
        return clients[openid, aes_key]

    return open_chat
