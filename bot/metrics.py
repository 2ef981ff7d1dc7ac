"""Prometheus metrics of the web app (/metrics), multiprocess-safe under gunicorn.

With PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py sets it), every worker and the
scheduler write their samples to files in that folder and /metrics adds them up; without it
(tests, `flask run`) the process's own registry is served.
"""

import os
import time

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from scheduler import metrics as scheduler_metrics

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3.5, 5, 10)

WEBHOOK_REQUESTS = Counter(
    "sidan_webhook_requests_total",
    "Webhook deliveries by message kind and outcome "
    "(ok, late, retry, parked, busy, rate_limited, refused)",
    ["kind", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "sidan_webhook_seconds",
    "Time to answer a webhook delivery",
    ["kind", "outcome"],
    buckets=LATENCY_BUCKETS,
)
LATE_PUSHES = Counter("sidan_webhook_late_pushes_total", "Replies that overran the budget")
DEDUP_HITS = Counter("sidan_webhook_dedup_hits_total", "Deliveries answered as retries")
PARKED = Counter("sidan_inbox_parked_total", "Messages parked for replay", ["reason"])
REPLAYED = Counter(
    "sidan_inbox_replayed_total", "Replays of parked messages (ok, waiting, failed, dead)",
    ["outcome"],
)  # fmt: skip
CLASSIFIER_SECONDS = Histogram(
    "sidan_classifier_seconds",
    "Classifier time per chat message that was classified (all its classify calls)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
API_RESPONSES = Counter(
    "sidan_http_responses_total", "HTTP responses by area and status code", ["area", "status"]
)

_AREAS = (("/api", "api"), ("/open311", "open311"), ("/wechat", "wechat"), ("/dashboard",
          "dashboard"))  # fmt: skip


def webhook_done(kind: str, outcome: str, started: float) -> None:
    """Count one webhook delivery and its time."""
    WEBHOOK_REQUESTS.labels(kind=kind, outcome=outcome).inc()
    WEBHOOK_SECONDS.labels(kind=kind, outcome=outcome).observe(time.monotonic() - started)


def _area(path: str) -> str:
    for prefix, name in _AREAS:
        if path.startswith(prefix):
            return name
    return "other"


def render() -> Response:
    """The exposition text: the multiprocess folder's sum, or this process's registry."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Count responses by area and status; serve /metrics."""
    scheduler_metrics.touch()

    @app.after_request
    def _count(response):
        API_RESPONSES.labels(area=_area(request.path), status=str(response.status_code)).inc()
        return response

    app.add_url_rule("/metrics", "metrics", render)
