"""`sidan shop`, `sidan volunteers report` and `sidan property`, run as an operator would."""

import csv
import io
from datetime import datetime

import pytest
from click.testing import CliRunner

from bot.cli import main
from models import clock
from models.property_lists import PropertyListing
from models.shop import ShopItem, ShopStaff
from models.tickets import PointsEntry


@pytest.fixture
def sidan(config, monkeypatch, demo):
    monkeypatch.setenv("DATABASE_URL", config.DATABASE_URL)
    monkeypatch.setenv("REDIS_URL", config.REDIS_URL)
    monkeypatch.setenv("REDIS_PREFIX", config.REDIS_PREFIX)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_shop_add_item_opens_a_shop_and_lists_it(sidan):
    out = sidan(
        "shop",
        "add-item",
        "--shop",
        "东湖爱心面馆",
        "--unit",
        "东湖街道",
        "--merchant",
        "--name",
        "牛肉面一碗",
        "--price",
        "25",
        "--stock",
        "30",
        "--until",
        "2026-12-31",
    )
    assert "25 points, 30 in stock" in out.output
    item = ShopItem.get(ShopItem.name == "牛肉面一碗")
    assert (item.shop.kind, item.valid_until) == ("merchant", datetime(2026, 12, 31, 15, 59, 59))
    assert (
        "东湖爱心面馆\t牛肉面一碗\t25 points\t30 in stock\tuntil 2026-12-31"
        in sidan("shop", "items").output
    )


def test_shop_add_item_refuses_bad_input_without_writing(sidan):
    before = ShopItem.select().count()
    bad = sidan(
        "shop", "add-item", "--shop", "无名店", "--name", "x", "--price", "5", "--stock", "1"
    )
    assert bad.exit_code != 0 and "指定所属社区" in bad.output
    bad = sidan("shop", "add-item", "--shop", "幸福社区信用超市", "--name", "x", "--price", "0",
                "--stock", "1")  # fmt: skip
    assert bad.exit_code != 0 and ShopItem.select().count() == before


def test_shop_add_staff(sidan, demo):
    assert (
        "now confirms codes"
        in sidan(
            "shop", "add-staff", "--shop", "幸福社区信用超市", "--openid", "demo_worker_1"
        ).output
    )
    assert ShopStaff.select().where(ShopStaff.user == demo.worker_1).exists()
    assert sidan("shop", "add-staff", "--shop", "幸福社区信用超市", "--openid", "nobody").exit_code


def test_volunteers_report_is_a_csv_for_the_year(sidan, demo):
    PointsEntry.create(user=demo.volunteer_1, reason="rating", points=10)
    out = sidan("volunteers", "report", "--year", "2026", "--unit", "幸福社区").output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 5
    wang = next(r for r in rows if r["name"] == "王建国")
    assert (wang["party_member"], wang["points_earned"], wang["stars"]) == ("yes", "10", "")


def test_property_publish_then_lists_and_market(sidan):
    clock.set_now(datetime(2026, 10, 8, 1, 0))
    out = sidan("property", "publish", "--quarter", "2026q3")
    assert out.exit_code == 0 and "2026Q3 物业红黑榜" in out.output
    assert sidan("property", "publish", "--quarter", "2026Q3").exit_code != 0
    assert "2026Q3" in sidan("property", "lists").output
    assert PropertyListing.select().count() == 2  # both demo companies, on record without tickets
    assert "1. 安居物业 样本不足" in sidan("property", "market").output
