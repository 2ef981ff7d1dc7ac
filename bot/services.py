"""Shared clients built from the config: database, Redis, outbound transport."""

from pathlib import Path

import fakeredis
import redis

from bot import gateway
from bot.config import Config
from models.db import open_database

# One in-process stand-in per process, so every app in it sees the same keys.
_fake_server = fakeredis.FakeServer()


def make_redis(config: Config) -> redis.Redis:
    """A real Redis when REDIS_URL is set, else the in-process fakeredis."""
    if config.REDIS_URL:
        # Bounded waits: a Redis that stops answering must become an error the webhook can
        # answer politely (and WeChat's 5 s respected), not a hung worker.
        return redis.Redis.from_url(config.REDIS_URL, decode_responses=True,
                                    socket_connect_timeout=2, socket_timeout=3)  # fmt: skip
    return fakeredis.FakeRedis(server=_fake_server, decode_responses=True)


def make_wechat_client(config: Config, *, mini: bool = False):
    """A wechatpy client for the Official Account (or the mini-program), token kept in Redis."""
    raw = (
        redis.Redis.from_url(config.REDIS_URL)
        if config.REDIS_URL
        else fakeredis.FakeRedis(server=_fake_server)
    )
    appid, secret = (config.MINI_APPID, config.MINI_SECRET) if mini else (
        config.WECHAT_APPID, config.WECHAT_SECRET)  # fmt: skip
    return gateway.make_client(appid, secret, raw, api_base=config.WECHAT_API_BASE)


def make_transport(config: Config, redis_client) -> gateway.Transport:
    """WeChat when credentials are set; otherwise print what would be sent."""
    if not config.wechat_live:
        return gateway.ConsoleTransport()
    mini = make_wechat_client(config, mini=True) if config.MINI_SECRET else None
    return gateway.WeChatTransport(make_wechat_client(config), mini)


def connect_database(config: Config):
    """Bind the models to DATABASE_URL (pooled on PostgreSQL)."""
    url = config.DATABASE_URL
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return open_database(url, pool_size=config.DB_POOL_SIZE)
