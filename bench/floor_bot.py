"""The same-work floor: the least code that does what filing a ticket by WeChat must do.

Flask + wechatpy + redis-py + psycopg2, no ORM, no framework of ours. For every message it:
  1. checks the signature and that the timestamp is fresh (as Sidan does);
  2. parses the XML;
  3. claims FromUserName+MsgId in Redis with SET NX (dedup);
  4. loads the sender's conversation from Redis and saves it back (with a TTL);
  5. writes a ticket, its event and one outbox row in one PostgreSQL transaction;
  6. renders the passive reply with the ticket number.

Any webhook that files tickets on this stack pays at least this much per message, so Sidan's
throughput over the floor's (same gunicorn settings, same run) measures what our own layers
cost. It keeps its own three tables (floor_*) in the benchmark database.

    DATABASE_URL=postgresql://… REDIS_URL=redis://… .venv/bin/python -m bench.floor_bot --port 8102
"""

import argparse
import json
import os
import time

import psycopg2
import psycopg2.pool
import redis as redis_lib
from flask import Flask, Response, abort, request
from wechatpy import create_reply, parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

TOKEN = os.environ.get("WECHAT_TOKEN", "sidan-dev-token")
MAX_SIGNATURE_AGE_S = 300
DEDUP_TTL_S = 600
CONVERSATION_TTL_S = 1800
SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_ticket (
    id serial PRIMARY KEY, openid varchar(64) NOT NULL, text text NOT NULL,
    state varchar(16) NOT NULL, created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS floor_event (
    id serial PRIMARY KEY, ticket_id integer NOT NULL REFERENCES floor_ticket(id),
    action varchar(16) NOT NULL, created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS floor_outbound (
    id serial PRIMARY KEY, openid varchar(64) NOT NULL, text text NOT NULL,
    ticket_id integer REFERENCES floor_ticket(id), status varchar(16) NOT NULL DEFAULT 'pending');
"""

app = Flask(__name__)
_clients: dict = {}


def _pg():
    if "pg" not in _clients:  # one pool per worker process, opened after the fork
        # minconn = maxconn: psycopg2's pool closes every connection handed back while
        # `minconn` idle ones wait, so a smaller minconn opens a new connection for most
        # requests under load (as Sidan's pooled peewee database does not). With 1 here the
        # floor ran at ~400 req/s on 0.6 cores, its threads waiting in putconn's close.
        size = int(os.environ.get("FLOOR_PG_POOL", "1"))  # main(): one per gunicorn thread
        _clients["pg"] = psycopg2.pool.ThreadedConnectionPool(
            size, size, os.environ["DATABASE_URL"]
        )
    return _clients["pg"]


def _redis():
    if "redis" not in _clients:
        _clients["redis"] = redis_lib.Redis.from_url(os.environ["REDIS_URL"])
    return _clients["redis"]


def _file(openid: str, text: str) -> int:
    pool = _pg()
    conn = pool.getconn()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO floor_ticket (openid, text, state) VALUES (%s, %s, 'submitted') "
                "RETURNING id",
                (openid, text),
            )
            ticket_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO floor_event (ticket_id, action) VALUES (%s, 'submit')", (ticket_id,)
            )
            cur.execute(
                "INSERT INTO floor_outbound (openid, text, ticket_id) VALUES (%s, %s, %s)",
                (openid, f"已收到您的报事，工单号 #{ticket_id}", ticket_id),
            )
        return ticket_id
    finally:
        pool.putconn(conn)


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
    prefix = os.environ.get("REDIS_PREFIX", "floor:")
    r = _redis()
    if not r.set(f"{prefix}msg:{message.source}:{message.id}", "1", nx=True, ex=DEDUP_TTL_S):
        return "success"
    conv_key = f"{prefix}conv:{message.source}"
    conversation = json.loads(r.get(conv_key) or "{}")
    text = getattr(message, "content", "") or ""
    ticket_id = _file(message.source, text)
    conversation.update(last_ticket=ticket_id, turns=conversation.get("turns", 0) + 1)
    r.set(conv_key, json.dumps(conversation), ex=CONVERSATION_TTL_S)
    reply = create_reply(f"已提交，工单号 #{ticket_id}", message).render()
    return Response(reply, mimetype="application/xml")


@app.get("/healthz")
def healthz():
    return {"ok": True}


def create_schema(url: str) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
    conn.close()


def main(argv=None) -> None:
    """Serve `app` through bot.wsgi_server.run_gunicorn, so it gets Sidan's gunicorn options."""
    from bot import wsgi_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--threads", type=int, default=8)
    opts = parser.parse_args(argv)
    create_schema(os.environ["DATABASE_URL"])
    wsgi_server.create_app = lambda *a, **kw: app  # the only difference: which app is served
    os.environ["FLOOR_PG_POOL"] = str(opts.threads)
    wsgi_server.run_gunicorn(opts.host, opts.port, opts.workers, opts.threads)


if __name__ == "__main__":
    main()
