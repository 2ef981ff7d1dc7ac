"""gunicorn settings for Sidan's web workers: `sidan serve --config deploy/gunicorn.conf.py`
(what sidan-web.service and the Docker image run; `gunicorn -c` reads it too).

Workers are gthread: a webhook request waits on I/O (Redis, PostgreSQL, WeChat photo fetch),
and each message is handled in a reply thread of its own. Each worker holds at most
DB_POOL_SIZE PostgreSQL connections (docs/operations.md has the sizing rule).
"""

import os
import shutil

# Prometheus multiprocess mode: must be set before the app (and prometheus_client) loads.
# Fresh files per start (old workers' samples must not be summed again); made here, since
# preload_app loads the app before any server hook runs.
# gunicorn reads this file again on HUP (a reload): wipe only at the master's first start.
metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/run/sidan/metrics")
if not os.environ.get("SIDAN_METRICS_DIR_READY"):
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.environ["SIDAN_METRICS_DIR_READY"] = "1"
os.makedirs(metrics_dir, exist_ok=True)

wsgi_app = "bot.app:create_app()"
bind = os.environ.get("SIDAN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", (os.cpu_count() or 1) * 2 + 1))
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_class = "gthread"
# Load the app (and train the classifier) once in the master; workers fork ready to answer.
preload_app = True
# WeChat gives up after 5 s; a request still running at 30 s is stuck.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then (memory held by a burst is given back).
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
loglevel = "info"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """JSON logs for the app's own loggers."""
    from bot import logs

    logs.configure(os.environ.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO"))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
