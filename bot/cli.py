"""The `sidan` command: thin click wrappers over plain functions."""

import json
import os
import subprocess
import sys
import threading

import click
import redis
from flask.cli import FlaskGroup, with_appcontext

from bot import cli_incentives
from bot.app import create_app, services
from bot.config import Config

# The scheduler's replay of parked messages: how often, and how much one run may do.
REPLAY_EVERY_S = 2.0
REPLAY_BATCH = 5000
REPLAY_BUDGET_S = 1.8  # under REPLAY_EVERY_S: a run never finds the last one still going


def _app_factory():
    return create_app(Config())


@click.group(cls=FlaskGroup, create_app=_app_factory, add_default_commands=False)
def main():
    """Sidan (四单联办): resident orders, dispatch, volunteers and ratings over WeChat."""


@main.command("init-db")
@click.option("--reset", is_flag=True, help="Drop every table first (loses all data).")
@with_appcontext
def init_db(reset):
    """Create the tables, or upgrade an existing database to the latest schema."""
    from models import schema

    if reset:
        schema.drop_all()
    steps = schema.upgrade()
    click.echo("\n".join(steps) if steps else f"schema is up to date (v{schema.LATEST})")


@main.command("seed-demo")
@click.option("--history", is_flag=True, help="Also 30 days of made-up tickets (for 大屏).")
@with_appcontext
def seed_demo_cmd(history):
    """Fill an empty database with the demo city and demo users (safe to run twice)."""
    from models import schema
    from models.demo import seed_demo

    schema.upgrade()
    result = seed_demo()
    if result["created"]:
        click.echo(
            f"demo city created: {result['org_units']} org units, "
            f"{result['compounds']} compounds, {result['users']} users"
        )
    else:
        click.echo("demo city already present")
    if history:
        from models.demo_history import seed_history

        made = seed_history()
        click.echo(f"demo history: {made.get('tickets', 0)} tickets" if made["created"]
                   else "demo history already present")  # fmt: skip


@main.command("serve", with_appcontext=False)
@click.option("--host", default=None, help="Address to listen on  [default: 127.0.0.1]")
@click.option("--port", default=None, type=int, help="Port  [default: 8000]")
@click.option("--workers", default=None, type=int, help="Gunicorn workers (default: by CPU).")
@click.option("--threads", default=None, type=int, help="Threads per worker  [default: 8]")
@click.option("--config", "config_file", default=None,
              type=click.Path(exists=True, dir_okay=False),
              help="A gunicorn config file (deploy/gunicorn.conf.py): it sets bind, workers and "
                   "the rest; the options above override it.")  # fmt: skip
def serve(host, port, workers, threads, config_file):
    """Run the web app (webhook, API) under gunicorn."""
    from bot.wsgi_server import run_gunicorn

    config = Config()
    if workers is None and not config_file:
        # The in-process Redis stand-in is per process: keep one worker without REDIS_URL.
        workers = (os.cpu_count() or 1) * 2 + 1 if config.REDIS_URL else 1
    run_gunicorn(host, port, workers, threads, config_file=config_file)


@main.command("scheduler", with_appcontext=False)
@click.option("--once", is_flag=True, help="Run the sweep and one outbox drain now, then exit.")
@click.option("--digests", is_flag=True, help="With --once: also send today's digests.")
def scheduler_cmd(once, digests):
    """Run the scheduler: deadline sweep, rating loop, digests, outbound delivery."""
    from bot import logs
    from scheduler.runner import run_forever, run_once

    config = Config()
    logs.configure(config.LOG_FORMAT, config.LOG_LEVEL)
    app = create_app(config, warm_classifier=False)  # parked messages load it when needed
    with app.app_context():
        svc = services()
        if once:
            result = run_once(svc.transport, svc.config, digests=digests)
            click.echo(json.dumps(result, ensure_ascii=False))
            return
        run_forever(
            svc.redis, svc.transport, svc.config, extra_jobs=_web_jobs(app),
            lease_ttl_s=config.SCHEDULER_LEASE_TTL_S, drain_every_s=config.SCHEDULER_DRAIN_EVERY_S,
        )  # fmt: skip


def _web_jobs(app) -> list:
    """The scheduler's jobs that belong to the web layer: replaying parked messages."""
    from bot import replay

    def replay_parked():
        with app.app_context():
            # A burst's backlog (bot.webhook sheds it) goes out at full speed, run after run.
            replay.replay_due(services(), limit=REPLAY_BATCH, budget_s=REPLAY_BUDGET_S)

    return [("replay_parked", replay_parked, REPLAY_EVERY_S)]


@main.command("run", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def run_all(host, port):
    """Everything on one machine: database, demo data, web server and scheduler."""
    env = dict(os.environ)
    env.setdefault("LOG_FORMAT", "text")  # a terminal, not a log collector
    redis_server = None
    if not env.get("REDIS_URL"):
        redis_server = _start_embedded_redis()
        env["REDIS_URL"] = "redis://{}:{}/0".format(*redis_server.server_address)
        click.echo(f"embedded Redis stand-in on {env['REDIS_URL']}")
    cmd = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*cmd, "seed-demo"], env=env, check=True)
    scheduler = subprocess.Popen([*cmd, "scheduler"], env=env)
    click.echo(f"web server on http://{host}:{port}  (Ctrl-C stops everything)")
    click.echo("open another terminal and try:  sidan chat --as demo_resident_1")
    try:
        subprocess.run([*cmd, "serve", "--host", host, "--port", str(port)], env=env)
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=10)
        if redis_server is not None:
            redis_server.shutdown()


def _start_embedded_redis():
    """A fakeredis TCP server, so web workers and the scheduler share one Redis stand-in."""
    import fakeredis

    server = fakeredis.TcpFakeServer(("127.0.0.1", 0), server_type="redis")
    server.RequestHandlerClass = _keep_open_handler(server.RequestHandlerClass)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _keep_open_handler(base):
    """fakeredis's TCP server closes a connection after any error reply, a normal one such as
    NOSCRIPT included. redis-py answers NOSCRIPT by loading the script on that same connection,
    so the first Lua call of every worker failed as "Redis unreachable". Reply with the error
    and keep the connection open, as Redis does."""

    class KeepOpenHandler(base):
        def setup(self):
            super().setup()
            client = self.current_client
            read = client.read_response

            def read_response(*args, **kwargs):
                try:
                    return read(*args, **kwargs)
                except redis.exceptions.ResponseError as exc:
                    return exc  # written as an error reply by the handler's writer

            client.read_response = read_response

    return KeepOpenHandler


@main.command("classify", with_appcontext=False)
@click.argument("text", required=False)
@click.option("--file", "path", type=click.File("r", encoding="utf-8"), help="One message a line.")
@click.option("--retrain", is_flag=True, help="Refit the model with the dispatchers' corrections.")
@click.option("--report", is_flag=True, help="Per-category recall and the corrections' confusions.")
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Where --retrain writes.")
def classify_cmd(text, path, retrain, report, out):
    """Print the category and urgency the classifier gives a message, as JSON."""
    if retrain or report:
        from handlers import clf_report
        from models import schema

        app = create_app(Config(), warm_classifier=False)
        with app.app_context():
            # A database never initialised holds no corrections and no tickets: say so and
            # go on with the training files alone.
            has_db = schema.current_version() is not None
            if not has_db:
                click.echo("no Sidan tables in the database yet (sidan init-db creates them): "
                           "using the training files alone", err=True)  # fmt: skip
            if retrain:
                click.echo(clf_report.retrain(out, corrections=has_db))
            if report:
                click.echo(clf_report.report(live=has_db))
        return
    from handlers.classifier import classify

    if (text is None) == (path is None):
        raise click.UsageError('give a message, or --file F: sidan classify "楼道灯坏了"')
    lines = [text] if path is None else [line.rstrip("\n") for line in path]
    for line in lines:
        result = classify(line)
        row = {
            "category": result.category,
            "urgency": result.urgency,
            "confidence": round(result.confidence, 3),
            "alternatives": [[code, round(score, 3)] for code, score in result.alternatives],
            "danger": round(result.danger, 3),
            "urgency_unsure": result.urgency_unsure,
        }
        click.echo(json.dumps(row, ensure_ascii=False))


@main.command("chat", with_appcontext=False)
@click.option("--as", "openid", required=True, help="Whose WeChat to be, e.g. demo_resident_1.")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The server.")
@click.option("--safe", is_flag=True, help="Encrypt messages (safe mode; needs WECHAT_AES_KEY).")
@click.option("--no-pushes", is_flag=True, help="Do not watch the outbox for pushes.")
def chat_cmd(openid, url, safe, no_pushes):
    """Chat with the running server as any user, the way WeChat would send it."""
    from bot.chat import ChatClient, run_repl
    from bot.services import connect_database

    config = Config()
    if safe and not config.WECHAT_AES_KEY:
        raise click.UsageError("--safe needs WECHAT_AES_KEY (the same one the server uses)")
    client = ChatClient(url, config.WECHAT_TOKEN, openid,
                        aes_key=config.WECHAT_AES_KEY if safe else None,
                        appid=config.WECHAT_APPID)  # fmt: skip
    if not no_pushes:
        connect_database(config)
    run_repl(client, openid, watch_pushes=not no_pushes)


@main.command("property-report")
@click.option("--days", default=90, show_default=True, help="Tickets filed in the last N days.")
@click.option("--unit", default=None, help="Only this org unit's subtree, e.g. 东湖街道.")
@with_appcontext
def property_report_cmd(days, unit):
    """Credit evaluation of property companies from their tickets (红榜 / 重点监督)."""
    from datetime import timedelta

    from models import evaluation
    from models.clock import now
    from models.org import OrgUnit

    scope = None
    if unit:
        scope = OrgUnit.get_or_none(OrgUnit.name == unit)
        if scope is None:
            raise click.ClickException(f"no org unit named {unit!r}")
    end = now()
    scores = evaluation.evaluate(end - timedelta(days=days), end, scope)
    click.echo(evaluation.render(scores, f"{unit or '全市'}近{days}天物业评价"))


@main.command("scenes")
@with_appcontext
def scenes_cmd():
    """Print the QR scene string of every compound (民情二维码); scanning one binds a resident."""
    from models.org import Compound

    for compound in Compound.select().order_by(Compound.id):
        click.echo(f"{compound.scene}\t{compound.grid.name}\t{compound.name}")


@main.command("invite")
@click.option(
    "--role", required=True, type=click.Choice(["volunteer", "worker", "dispatcher", "supervisor"])
)
@click.option("--unit", required=True, help="Org unit or work unit name, e.g. 幸福社区.")
@click.option("--count", default=1, show_default=True)
@with_appcontext
def invite_cmd(role, unit, count):
    """Issue one-use invite codes; a user sends “邀请码 CODE” or scans scene invite_CODE."""
    from models.enums import Role
    from models.errors import TicketError
    from models.invites import issue_invites

    try:
        codes = issue_invites(Role(role), unit, count)
    except TicketError as exc:
        raise click.ClickException(exc.message) from None
    for code in codes:
        click.echo(f"{code}\tscene: invite_{code}")


@main.command("menu", with_appcontext=False)
@click.option("--install", is_flag=True, help="Install it through the WeChat API.")
def menu_cmd(install):
    """Show the Official Account menu, or install it (needs WeChat credentials)."""
    from bot import gateway
    from bot.menu import MENU
    from bot.services import make_wechat_client

    click.echo(json.dumps(MENU, ensure_ascii=False, indent=2))
    if not install:
        return
    config = Config()
    if not config.wechat_live:
        raise click.ClickException("set WECHAT_APPID and WECHAT_SECRET to install the menu")
    gateway.create_menu(make_wechat_client(config), MENU)
    click.echo("menu installed")


@main.group("outbox")
def outbox_group():
    """Look at and retry outbound messages."""


@outbox_group.command("dead")
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def outbox_dead(limit):
    """List messages that gave up after all retries."""
    from models.outbox import dead_letters
    from models.privacy import redact

    rows = list(dead_letters(limit))
    for row in rows:
        text = redact(f"{row.last_error[:60]}\t{row.text[:40]}")
        click.echo(f"{row.id}\t{row.openid}\t{row.attempts} tries\t{text}")
    click.echo(f"{len(rows)} dead letter(s)")


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@with_appcontext
def outbox_retry(ids):
    """Queue dead letters again (all of them, or the ids given)."""
    from models.outbox import retry_dead

    click.echo(f"{retry_dead(list(ids) or None)} message(s) queued again")


@main.group("inbox")
def inbox_group():
    """Messages parked because they could not be handled when they arrived."""


@inbox_group.command("status")
@with_appcontext
def inbox_status():
    """How many parked messages wait, and the ones that failed every replay."""
    from bot import replay
    from models import inbound_parked

    click.echo(f"{inbound_parked.waiting()} kept in the database while Redis was down "
               "(queued for replay once it answers)")  # fmt: skip
    box = replay.inbox(services())
    dead = box.dead_entries()
    click.echo(f"{box.waiting()} waiting for replay, {len(dead)} failed every replay")
    for entry in dead:
        click.echo(f"{entry.id}\t{entry.inbound.openid}\t{entry.inbound.kind}\t{entry.reason[:80]}")


@inbox_group.command("replay")
@click.option("--dead", is_flag=True, help="First put the failed ones back in the queue.")
@with_appcontext
def inbox_replay(dead):
    """Replay what is due now (the scheduler does this every 10 s)."""
    from bot import replay

    svc = services()
    if dead:
        click.echo(f"{replay.inbox(svc).revive()} failed message(s) queued again")
    click.echo(f"{replay.replay_due(svc, limit=10_000, budget_s=600)} message(s) replayed")


@main.command("grants")
@with_appcontext
def grants_cmd():
    """Mini-program subscribe-message grants per template: who can still be reached."""
    from models.grants import summary

    rows = summary()
    if not rows:
        click.echo("no subscribe-message grants recorded yet")
        return
    click.echo("template\tpeople with sends left\tsends left\tgranted\tsent\tpeople who refused")
    for row in rows:
        click.echo(f"{row['template_id']}\t{row['people']}\t{row['left']}\t{row['granted']}\t"
                   f"{row['used']}\t{row['refused']}")  # fmt: skip


@main.command("retention")
@click.option("--days", type=int, default=None, help="Override RETENTION_DAYS.")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@with_appcontext
def retention_cmd(days, dry_run):
    """Remove personal data from tickets finished more than RETENTION_DAYS ago."""
    from models.retention import anonymise

    days = days if days is not None else services().config.RETENTION_DAYS
    report = anonymise(days, dry_run=dry_run)
    files = _delete_photos(report.photos)
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} personal data of {report.tickets} ticket(s) finished over {days} days ago: "
        f"{report.events} event note(s), {report.ratings} rating comment(s), "
        f"{report.messages} message text(s), {report.reporters} external reporter(s), "
        f"{files} photo file(s); the event history stays"
    )


def _delete_photos(refs: list[str]) -> int:
    """Delete our stored photos (and thumbnails) named by these refs; others are not ours."""
    from flask import current_app

    from bot.storage import KEY_PATTERN

    store = current_app.extensions["sidan_api"]["storage"]
    deleted = 0
    for ref in refs:
        key = ref.rsplit("/", 1)[-1]
        if KEY_PATTERN.match(key):
            deleted += store.delete(key) + store.delete(key[:32] + "_t.jpg")
    return deleted


# Incentives: the points shop, volunteers' yearly report, property lists (bot/cli_incentives.py).
for _command in cli_incentives.COMMANDS:
    main.add_command(_command)

from bot.cli_owners import init_cli  # noqa: E402 (the groups attach to `main` above)

init_cli(main)

if __name__ == "__main__":
    main()
