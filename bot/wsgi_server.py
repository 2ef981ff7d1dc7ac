"""Run the app under gunicorn from the `sidan serve` command."""

from gunicorn.app.base import BaseApplication

from bot.app import create_app


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Preloaded in the master: the classifier is trained once and the workers share it,
        # instead of each worker spending seconds of CPU on it while WeChat's 5 s run.
        from bot import logs
        from bot.config import Config
        from handlers.classifier import get_model

        config = Config()
        logs.configure(config.LOG_FORMAT, config.LOG_LEVEL)
        app = create_app(config, warm_classifier=False)
        get_model()
        return app


def run_gunicorn(host: str, port: int, workers: int, threads: int) -> None:
    """Serve on host:port with gthread workers (blocking)."""
    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "preload_app": True,
            # WeChat gives up after 5 s; a request still running at 30 s is stuck.
            "timeout": 30,
            "accesslog": "-",
            "loglevel": "info",
            "child_exit": _child_exit,
        }
    ).run()


def _child_exit(server, worker) -> None:
    """A dead worker's live gauges leave /metrics (prometheus-client multiprocess mode)."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
