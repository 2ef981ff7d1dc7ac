"""Serve Sidan by calling bot.wsgi_server.run_gunicorn directly (`--launcher direct`).

`sidan serve` (the default launcher) is a FlaskGroup command: the Flask CLI builds an app in
the gunicorn master before forking, and create_app starts the classifier warm-up thread
there. Before commit d9f8104 (preload + training in the master) a worker forked while that
thread held the classifier's lock inherited the lock held forever: every classify() in it
blocked and each message answered "success" after the 3.5 s budget (3 req/s; see
docs/benchmarks.md). This entry point runs the same server without the CLI's app, to tell
such launcher effects apart from the app's own cost.
"""

import argparse
import os

from bot.wsgi_server import run_gunicorn


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--threads", type=int, default=8)
    opts = parser.parse_args(argv)
    run_gunicorn(opts.host, opts.port, opts.workers, opts.threads)


if __name__ == "__main__":
    main()
