"""Run the app under gunicorn from the `sidan serve` command."""

from gunicorn.app.base import Application

from bot.app import create_app


class _Gunicorn(Application):
    def __init__(self, options: dict, config_file: str | None = None):
        self.options = options
        self.config_file = config_file
        super().__init__()

    def load_config(self):
        # A deploy's gunicorn file first (deploy/gunicorn.conf.py), then what the command gave.
        if self.config_file:
            self.load_config_from_file(self.config_file)
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


def run_gunicorn(host: str | None, port: int | None, workers: int | None, threads: int | None,
                 config_file: str | None = None) -> None:  # fmt: skip
    """Serve with gthread workers (blocking). With `config_file` (a gunicorn config), the file
    sets everything and only the arguments that are not None override it; without it, Sidan's
    defaults apply."""
    if config_file:
        options = {}
    else:
        options = {
            "worker_class": "gthread",
            "preload_app": True,
            # WeChat gives up after 5 s; a request still running at 30 s is stuck.
            "timeout": 30,
            "accesslog": "-",
            "loglevel": "info",
            "child_exit": _child_exit,
        }
        host, port, threads = host or "127.0.0.1", port or 8000, threads or 8
    if host is not None or port is not None:
        options["bind"] = f"{host or '127.0.0.1'}:{port or 8000}"
    if workers is not None:
        options["workers"] = workers
    if threads is not None:
        options["threads"] = threads
    _Gunicorn(options, config_file).run()


def _child_exit(server, worker) -> None:
    """A dead worker's live gauges leave /metrics (prometheus-client multiprocess mode)."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
