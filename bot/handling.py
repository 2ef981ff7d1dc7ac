"""From an Inbound to a reply: the one path shared by the live webhook and the replay."""

import dataclasses
import logging

import requests

from bot import metrics
from bot import webhook_guard as guard
from bot.api.errors import ApiError
from bot.api.images import MAX_BYTES
from bot.api.photos import keep_photo
from bot.logs import mask
from handlers import classifier, router
from handlers.context import Context
from handlers.conversation import ConversationStore

log = logging.getLogger("sidan.webhook")


def make_context(svc) -> Context:
    """What handlers need from Redis, for one message."""
    return Context(
        store=ConversationStore(svc.redis, svc.config.REDIS_PREFIX),
        redis=svc.redis,
        prefix=svc.config.REDIS_PREFIX,
        conversation_ttl_s=svc.config.CONVERSATION_TTL_S,
        lock_wait_s=svc.config.CONVERSATION_LOCK_WAIT_S,
    )


def handle_inbound(inbound, ctx: Context, config) -> str:
    """Keep a chat photo, then let the handlers answer (timing the classifier for /metrics)."""
    inbound = keep_chat_photo(inbound, config)
    with classifier.timing() as spent:
        reply = router.handle(inbound, ctx)
    if spent:
        metrics.CLASSIFIER_SECONDS.observe(sum(spent))
    return reply


PHOTO_FETCH_TIMEOUT_S = 3


def keep_chat_photo(inbound, config):
    """A chat photo's PicUrl expires after about three days: fetch it now and keep our own
    cleaned copy. Only WeChat's media hosts are fetched (never a private address, never a
    redirect): the URL is whatever the signed message says, and a plain-mode message is only
    as trustworthy as the token. On any failure the PicUrl is kept, so the report goes through."""
    if inbound.kind != "image" or not inbound.pic_url.startswith(("http://", "https://")):
        return inbound
    if not guard.photo_url_allowed(inbound.pic_url, config.PHOTO_HOSTS,
                                   allow_private=config.PHOTO_ALLOW_PRIVATE):  # fmt: skip
        log.warning("photo of %s not fetched: host not allowed", mask(inbound.openid))
        return inbound
    try:
        with requests.get(inbound.pic_url, timeout=PHOTO_FETCH_TIMEOUT_S, stream=True,
                          allow_redirects=False) as got:  # fmt: skip
            got.raise_for_status()
            if got.status_code != 200:
                raise requests.RequestException(f"status {got.status_code}")
            data = got.raw.read(MAX_BYTES + 1, decode_content=True)  # a cap, not a trust
        stored = keep_photo(data)
    except (requests.RequestException, ApiError, OSError) as exc:
        log.warning("kept the WeChat PicUrl of %s's photo: %s", mask(inbound.openid), exc)
        return inbound
    return dataclasses.replace(inbound, pic_url=stored["url"])
