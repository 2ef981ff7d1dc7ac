"""The id of the request being served, so rows written for it (outbox) can carry it.

Set by the web layer (bot.logs) per request and per reply thread; models read it without
knowing anything of HTTP.
"""

import contextvars

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("sidan_request_id", default="")


def current() -> str | None:
    """The current request id, or None outside a request."""
    return request_id.get() or None
