"""`sidan shop …`, `sidan volunteers report`, `sidan property …`: thin wrappers over models."""

import csv
import sys
from datetime import datetime, timedelta

import click
from flask.cli import with_appcontext

from models.errors import TicketError


def _unit(name: str | None):
    from models.org import OrgUnit

    if not name:
        return None
    unit = OrgUnit.get_or_none(OrgUnit.name == name)
    if unit is None:
        raise click.ClickException(f"no org unit named {name!r}")
    return unit


def _until(value: str | None):
    """A date (Beijing) as the naive UTC end of that day."""
    if not value:
        return None
    from models.clock import CHINA

    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None
    return day + timedelta(days=1) - CHINA.utcoffset(None) - timedelta(seconds=1)


@click.group("shop")
def shop_group():
    """The points shop (信用超市): items and the staff who confirm codes."""


@shop_group.command("add-item")
@click.option("--shop", "shop_name", required=True, help="Shop name, e.g. 幸福社区信用超市.")
@click.option("--name", required=True, help="What is offered, e.g. 洗衣液一瓶.")
@click.option("--price", required=True, type=int, help="Price in points.")
@click.option("--stock", required=True, type=int)
@click.option("--service", is_flag=True, help="A service (理发券 …) rather than goods.")
@click.option("--until", default=None, help="Last day it can be redeemed, YYYY-MM-DD.")
@click.option("--unit", default=None, help="The shop's community, when opening a new shop.")
@click.option("--merchant", is_flag=True, help="A new shop is a merchant, not the community's.")
@with_appcontext
def add_item_cmd(shop_name, name, price, stock, service, until, unit, merchant):
    """Put an item on a shop's shelf (opening the shop with --unit if it is new)."""
    from models import shop

    try:
        item = shop.add_item(
            shop_name, name, price, stock, unit=_unit(unit),
            kind="service" if service else "goods",
            shop_kind="merchant" if merchant else "community", valid_until=_until(until),
        )  # fmt: skip
    except TicketError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"item {item.id}: {item.name}, {item.price} points, {item.stock} in stock")


@shop_group.command("add-staff")
@click.option("--shop", "shop_name", required=True)
@click.option("--openid", required=True, help="The staff member's openid.")
@with_appcontext
def add_staff_cmd(shop_name, openid):
    """Let someone confirm codes (核销) at a shop's counter."""
    from models import shop
    from models.org import User

    user = User.get_or_none(User.openid == openid)
    if user is None:
        raise click.ClickException(f"no user with openid {openid!r}")
    try:
        shop.add_staff(shop_name, user)
    except TicketError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{openid} now confirms codes at {shop_name}")


@shop_group.command("items")
@with_appcontext
def items_cmd():
    """Every item of every shop, with stock."""
    from models.shop import Shop, ShopItem

    for item in ShopItem.select(ShopItem, Shop).join(Shop).order_by(Shop.name, ShopItem.id):
        until = f"\tuntil {item.valid_until:%Y-%m-%d}" if item.valid_until else ""
        click.echo(
            f"{item.id}\t{item.shop.name}\t{item.name}\t{item.price} points\t"
            f"{item.stock} in stock{until}"
        )


@click.group("volunteers")
def volunteers_group():
    """Volunteers' records."""


@volunteers_group.command("report")
@click.option("--year", type=int, default=None, help="Calendar year (default: this one).")
@click.option("--unit", default=None, help="Only this org unit's subtree, e.g. 幸福社区.")
@with_appcontext
def volunteers_report_cmd(year, unit):
    """Each volunteer's year for 民主评议: services, ratings, points, stars (CSV)."""
    from models import stars
    from models.clock import CHINA, now

    year = year or (now() + CHINA.utcoffset(None)).year
    out = csv.writer(sys.stdout)
    out.writerow(["name", "party_member", "orders", "wishes", "bookings", "ratings",
                  "average_rating", "points_earned", "points_spent", "stars"])  # fmt: skip
    for row in stars.yearly(year, _unit(unit)):
        out.writerow([
            row.name, "yes" if row.party_member else "no", row.orders, row.wishes, row.bookings,
            row.ratings, "" if row.average is None else row.average, row.earned, row.spent,
            "★" * row.stars,
        ])  # fmt: skip


@click.group("property")
def property_group():
    """Property companies: the quarter's 红榜 / 黑名单 and the 物业超市."""


@property_group.command("publish")
@click.option("--quarter", required=True, help="A finished quarter, e.g. 2026Q3.")
@click.option("--unit", default=None, help="Only this org unit's subtree (default: the city).")
@with_appcontext
def property_publish_cmd(quarter, unit):
    """Publish a finished quarter's 红榜 / 黑名单 with reasons (once; kept for audit)."""
    from models import property_lists

    scope = _unit(unit)
    try:
        rows = property_lists.publish(quarter.upper(), scope)
    except TicketError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(property_lists.render_lists(rows))


@property_group.command("lists")
@click.option("--quarter", default=None, help="Default: the latest published.")
@with_appcontext
def property_lists_cmd(quarter):
    """Show a published quarter's lists."""
    from models import property_lists

    click.echo(property_lists.render_lists(property_lists.published(quarter)))


@property_group.command("market")
@with_appcontext
def property_market_cmd():
    """物业超市: companies in good standing with their scores."""
    from models import property_lists

    click.echo(property_lists.render_market(property_lists.market()))


COMMANDS = (shop_group, volunteers_group, property_group)
