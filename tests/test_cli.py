"""The `sidan` command, run as an operator would (click's runner, real database and Redis)."""

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from models.org import InviteCode, User
from models.outbox import Outbound


@pytest.fixture
def sidan(config, monkeypatch, db):
    monkeypatch.setenv("DATABASE_URL", config.DATABASE_URL)
    monkeypatch.setenv("REDIS_URL", config.REDIS_URL)
    monkeypatch.setenv("REDIS_PREFIX", config.REDIS_PREFIX)
    monkeypatch.delenv("WECHAT_SECRET", raising=False)
    runner = CliRunner()

    def run(*args, input=None):
        result = runner.invoke(main, list(args), input=input, catch_exceptions=False)
        return result

    return run


def test_help_lists_the_operator_commands(sidan):
    out = sidan("--help").output
    for command in ("serve", "scheduler", "run", "seed-demo", "init-db", "chat", "classify",
                    "scenes", "invite", "menu", "outbox"):  # fmt: skip
        assert command in out


def test_init_db_is_idempotent_and_seed_demo_runs_twice(sidan):
    assert "up to date" in sidan("init-db").output
    assert "demo city created" in sidan("seed-demo").output
    assert "already present" in sidan("seed-demo").output
    assert User.select().where(User.openid.startswith("demo_")).count() == 14


def test_scenes_and_invites(sidan):
    sidan("seed-demo")
    scenes = sidan("scenes").output.splitlines()
    assert len(scenes) == 12 and scenes[0].startswith("compound_1\t")
    result = sidan("invite", "--role", "worker", "--unit", "红管家物业", "--count", "2")
    codes = [line.split("\t")[0] for line in result.output.splitlines()]
    assert len(codes) == 2 and all(c.startswith("WOR-") for c in codes)
    assert InviteCode.get(InviteCode.code == codes[0]).work_unit.name == "红管家物业"
    bad = CliRunner().invoke(main, ["invite", "--role", "worker", "--unit", "不存在"])
    assert bad.exit_code != 0 and "没有找到单位" in bad.output


def test_classify_prints_json_one_line_per_message(sidan, tmp_path):
    row = json.loads(sidan("classify", "楼道里有人飞线充电").output)
    assert row["category"] == "fire_safety"
    assert set(row) == {
        "category", "urgency", "confidence", "alternatives", "danger", "urgency_unsure",
    }  # fmt: skip
    messages = tmp_path / "hotline.txt"
    messages.write_text("电梯困人了\n小区垃圾没人清运\n", encoding="utf-8")
    rows = [
        json.loads(line) for line in sidan("classify", "--file", str(messages)).output.splitlines()
    ]
    assert [r["category"] for r in rows] == ["elevator", "sanitation"]
    assert rows[0]["urgency"] == "urgent"


def test_outbox_dead_letters_can_be_listed_and_retried(sidan, demo):
    from models.outbox import enqueue

    enqueue(demo.resident_1, "测试消息")
    Outbound.update(status="dead", attempts=8, last_error="45009 api freq").execute()
    listing = sidan("outbox", "dead").output
    assert "demo_resident_1" in listing and "1 dead letter" in listing
    assert "1 message(s) queued again" in sidan("outbox", "retry").output
    assert Outbound.get().status == "pending"


def test_menu_installs_through_the_api(sidan, monkeypatch, fake_wechat):
    monkeypatch.setenv("WECHAT_APPID", "wx_test")
    monkeypatch.setenv("WECHAT_SECRET", "secret")
    monkeypatch.setenv("WECHAT_API_BASE", fake_wechat.base_url)
    result = sidan("menu", "--install")
    assert "menu installed" in result.output
    sent = fake_wechat.sent("/cgi-bin/menu/create")
    assert [b["name"] for b in sent[-1]["body"]["button"]] == ["报事", "我的工单", "更多"]


def test_init_db_reset_empties_a_filled_database(sidan, demo):
    from models import lifecycle
    from models.tickets import Ticket

    lifecycle.submit(demo.resident_1, "路灯坏了", "power_lighting")
    assert "created schema" in sidan("init-db", "--reset").output
    assert Ticket.select().count() == 0 and User.select().count() == 0


def test_property_report_prints_the_lists(sidan, demo):
    out = sidan("property-report", "--days", "30").output
    assert "全市近30天物业评价" in out
    bad = CliRunner().invoke(main, ["property-report", "--unit", "火星街道"])
    assert bad.exit_code != 0 and "no org unit" in bad.output


def test_api_settings_come_from_the_environment(monkeypatch):
    from bot.config import Config

    monkeypatch.setenv("API_RATE_LIMIT_LOGIN", "5/minute")
    assert Config().API_RATE_LIMIT_LOGIN == "5/minute"
    monkeypatch.delenv("API_RATE_LIMIT_LOGIN")
    assert not hasattr(Config(), "API_RATE_LIMIT_LOGIN")  # bot/api's default applies
