"""The ceiling for this stack: a bare Flask + wechatpy bot that verifies, parses and echoes.

It does what any WeChat webhook must do and nothing else: check the signature (and, as Sidan
does, that the timestamp is fresh), parse the XML, render a text reply. It is served by
bot.wsgi_server.run_gunicorn, the function `sidan serve` calls, so it always gets Sidan's
gunicorn options (gthread, threads, preload, access log) and the ratio Sidan / echo
measures Sidan's own work.

    .venv/bin/python -m bench.echo_bot --port 8101 --workers 5 --threads 8
"""

import argparse
import os
import time

from flask import Flask, Response, abort, request
from wechatpy import create_reply, parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

TOKEN = os.environ.get("WECHAT_TOKEN", "sidan-dev-token")
MAX_SIGNATURE_AGE_S = 300

app = Flask(__name__)


@app.post("/wechat")
def receive():
    args = request.args
    timestamp = args.get("timestamp", "")
    try:
        if abs(time.time() - int(timestamp)) > MAX_SIGNATURE_AGE_S:
            abort(403)
        check_signature(TOKEN, args.get("signature", ""), timestamp, args.get("nonce", ""))
    except (ValueError, InvalidSignatureException):
        abort(403)
    message = parse_message(request.get_data())
    text = getattr(message, "content", "") or "success"
    return Response(create_reply(text, message).render(), mimetype="application/xml")


@app.get("/healthz")
def healthz():
    return {"ok": True}


def main(argv=None) -> None:
    """Serve `app` through bot.wsgi_server.run_gunicorn itself, so the echo bot always gets
    exactly the gunicorn options Sidan gets (worker class, threads, preload, access log)."""
    from bot import wsgi_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--threads", type=int, default=8)
    opts = parser.parse_args(argv)
    wsgi_server.create_app = lambda *a, **kw: app  # the only difference: which app is served
    wsgi_server.run_gunicorn(opts.host, opts.port, opts.workers, opts.threads)


if __name__ == "__main__":
    main()
