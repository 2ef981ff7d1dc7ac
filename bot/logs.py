"""Structured JSON logs (python-json-logger), a request id per webhook delivery, and masking.

The request id is taken from X-Request-Id (nginx sets it) or made up, carried into the worker
thread that handles the message (`bind_request_id`) and stored on the outbox rows it queues
(Outbound.request_id), so the drainer's log lines about a push carry the same id.

Nothing personal goes into a log line: `MaskingFilter` masks phone numbers and ID-card numbers
in every message, and code logs openids through `mask()`, never a resident's text.
"""

import contextlib
import logging
import re
import uuid

from pythonjsonlogger.json import JsonFormatter

from models import privacy
from models.trace import request_id as _request_id


def mask(openid: str) -> str:
    """An openid shortened for logs: enough to correlate, not to message the person."""
    return openid[:6] + "…" if len(openid) > 8 else openid


def current_request_id() -> str:
    return _request_id.get()


def new_request_id(given: str | None = None) -> str:
    """The caller's id when it looks like one, else a fresh one; bound to this context."""
    rid = given if given and re.fullmatch(r"[\w\-.]{8,64}", given) else uuid.uuid4().hex[:16]
    _request_id.set(rid)
    return rid


@contextlib.contextmanager
def bind_request_id(rid: str):
    """Carry a request id into another thread (the webhook's reply worker)."""
    token = _request_id.set(rid)
    try:
        yield
    finally:
        _request_id.reset(token)


class MaskingFilter(logging.Filter):
    """Adds the request id and masks personal numbers in the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave the record as it is
            return True
        masked = privacy.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def make_handler(fmt: str = "json", stream=None) -> logging.Handler:
    """A handler writing one JSON object per line (or plain text), masked, with request ids."""
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{message}{request_id}",
                style="{",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.addFilter(MaskingFilter())
    return handler


# Libraries that are chatty at INFO: APScheduler's executor logs every job run ("Running
# job…", "…executed successfully"), several lines every few seconds, burying the scheduler's
# own lines about real work. Their warnings (a missed run, a job that raised) still show.
QUIET_LOGGERS = {"apscheduler.executors": "WARNING"}


def parse_levels(spec: str) -> tuple[str, dict[str, str]]:
    """LOG_LEVEL: the root level, then optional per-logger levels, comma-separated:
    "INFO" or "INFO,apscheduler.executors=INFO" (to see every job run again)."""
    parts = [part.strip() for part in (spec or "").split(",") if part.strip()] or ["INFO"]
    loggers = {}
    for part in parts[1:]:
        name, sep, level = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"LOG_LEVEL part {part!r} is not logger=LEVEL")
        loggers[name.strip()] = level.strip().upper()
    return parts[0].upper(), loggers


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """Root logging for a process (`sidan serve`, `sidan scheduler`); see `parse_levels`."""
    root_level, loggers = parse_levels(level)
    root = logging.getLogger()
    root.handlers[:] = [make_handler(fmt)]
    root.setLevel(root_level)
    for name, logger_level in {**QUIET_LOGGERS, **loggers}.items():
        logging.getLogger(name).setLevel(logger_level)


def init_app(app) -> None:
    """A request id per request, echoed back in X-Request-Id."""
    from flask import request

    @app.before_request
    def _bind():
        new_request_id(request.headers.get("X-Request-Id"))

    @app.after_request
    def _echo(response):
        response.headers["X-Request-Id"] = current_request_id()
        return response
