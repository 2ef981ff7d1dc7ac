"""`sidan owners …` and `sidan votes …`: the operator's side of the owner roll and votes."""

from pathlib import Path

import click
from flask.cli import with_appcontext

from models.errors import TicketError


@click.group("owners")
def owners_group():
    """The owner roll (业主名册): import it, bind households to WeChat users."""


@owners_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--codes", "codes_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the new households' one-use bind codes to this CSV.")  # fmt: skip
@with_appcontext
def import_cmd(path, dry_run, codes_out):
    """Import a roll CSV: compound,building,unit,room,area_m2,owner_name,owner_phone[,committee].

    One row per owner; co-owners repeat the household with the same area. Bad rows are listed
    with their line number and reason, and the good ones are imported.
    """
    from models.owners import import_roll

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException("the file is not UTF-8 (save it as CSV UTF-8)") from None
    try:
        report = import_roll(text, dry_run=dry_run)
    except TicketError as exc:
        raise click.ClickException(exc.message) from None
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo("dry run: nothing was written")
    elif codes_out and report.codes:
        rows = ["compound,household,bind_code"] + [",".join(c) for c in report.codes]
        codes_out.write_text("\n".join(rows) + "\n", encoding="utf-8")
        click.echo(f"{len(report.codes)} bind code(s) written to {codes_out}")


@owners_group.command("bind")
@click.argument("compound")
@click.argument("household")
@click.argument("openid")
@with_appcontext
def bind_cmd(compound, household, openid):
    """Bind HOUSEHOLD (e.g. 1-1-101) of COMPOUND to the WeChat user OPENID (deed seen in person)."""
    from models.org import Compound, User
    from models.owners import bind_by_operator

    place = Compound.get_or_none(Compound.name == compound)
    user = User.get_or_none(User.openid == openid)
    if place is None or user is None:
        raise click.ClickException("unknown compound or openid")
    try:
        bound = bind_by_operator(place, household, user)
    except TicketError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{place.name} {bound.label} ({bound.area_text} m²) bound to {openid}")


@click.group("votes")
def votes_group():
    """Owners' votes: list them, run the scheduler's vote steps now."""


@votes_group.command("list")
@with_appcontext
def list_cmd():
    """Every vote with its status and, once closed, its tally hash."""
    from models.votes import Vote

    for vote in Vote.select().order_by(Vote.id):
        tail = vote.tally_hash or f"closes {vote.closes_at:%Y-%m-%d %H:%M} UTC"
        click.echo(f"{vote.number}\t{vote.status}\t{vote.compound.name}\t{vote.question}\t{tail}")


@votes_group.command("run-due")
@with_appcontext
def run_due_cmd():
    """Open, remind and close whatever is due now (what the scheduler does every minute)."""
    from scheduler.votes import votes_job

    done = votes_job()
    click.echo(", ".join(f"{k}: {v}" for k, v in done.items()) or "nothing due")


def init_cli(main) -> None:
    main.add_command(owners_group)
    main.add_command(votes_group)
