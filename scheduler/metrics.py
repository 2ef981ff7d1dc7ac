"""Prometheus metrics of the scheduler's jobs (outbox drain, deadline sweep).

In production the scheduler shares PROMETHEUS_MULTIPROC_DIR with the web workers on its host,
so the web app's /metrics shows these too (docs/operations.md).
"""

from prometheus_client import Counter, Gauge, Histogram

OUTBOX = Counter(
    "sidan_outbox_messages_total",
    "Outbox rows settled by the drainer (sent, retried, dead, lost_claim)",
    ["outcome"],
)
OUTBOX_QUEUED = Gauge(
    "sidan_outbox_queued",
    "Outbox rows waiting (pending or sending)",
    multiprocess_mode="mostrecent",
)
DRAIN_LAG = Gauge(
    "sidan_outbox_drain_lag_seconds",
    "Age of the oldest due outbox row at the last drain",
    multiprocess_mode="mostrecent",
)
SWEEP_SECONDS = Histogram(
    "sidan_sweep_seconds",
    "Time of one deadline sweep",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
SWEEP_BACKLOG = Gauge(
    "sidan_sweep_due_backlog",
    "Tickets due for the sweep when it started",
    multiprocess_mode="mostrecent",
)


def touch() -> None:
    """Nothing to do: importing this module registers the metrics (so /metrics lists them)."""
