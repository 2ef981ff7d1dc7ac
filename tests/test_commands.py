"""Reading typed commands."""

import pytest

from handlers.commands import Command, fixed_command, parse_command, parse_rating


@pytest.mark.parametrize(
    "text, expected",
    [
        ("接单 #12", Command("接单", 12, "")),
        ("接单#12", Command("接单", 12, "")),
        ("接单12", Command("接单", 12, "")),
        ("接单 ＃１２", Command("接单", 12, "")),
        ("派单 #3 给 红管家物业", Command("派单", 3, "给 红管家物业")),
        ("合并 #4 到 #5", Command("合并", 4, "到 #5")),
        ("进度 #7 已买好灯泡，马上去换", Command("进度", 7, "已买好灯泡，马上去换")),
        ("办结 #2", Command("办结", 2, "")),
    ],
)
def test_commands_with_ticket_numbers(text, expected):
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["楼道灯坏了", "你好", "12", "#12", "abc"])
def test_ordinary_messages_are_not_commands(text):
    assert parse_command(text) is None


def test_keyword_commands():
    assert fixed_command(" 帮助 ") == "help"
    assert fixed_command("我的工单") == "my_tickets"
    assert fixed_command("待派单") == "queue"
    assert fixed_command("楼道灯坏了") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("满意", (5, "")),
        ("基本满意", (3, "")),
        ("不满意 灯还是不亮", (1, "灯还是不亮")),
        ("非常满意！", (5, "")),
        ("4分 挺快的", (4, "挺快的")),
        ("５", (5, "")),
        ("没解决", (1, "没解决")),
        ("楼道灯坏了", None),
        ("12号楼", None),
    ],
)
def test_ratings_in_words_and_numbers(text, expected):
    assert parse_rating(text) == expected
