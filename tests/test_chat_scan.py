"""Scanning a compound's QR code: the first scan binds; moving an existing binding asks first."""

from models.org import User


def home_of(openid: str) -> str | None:
    user = User.get(User.openid == openid)
    return user.compound.name if user.compound_id else None


def test_a_first_scan_binds_at_once(chat, demo):
    assert "已为您绑定小区：阳光水岸" in chat("newcomer").event("SCAN", "compound_12")
    assert home_of("newcomer") == "阳光水岸"


def test_a_scan_elsewhere_asks_before_rebinding_and_1_confirms(chat, demo):
    resident = chat("demo_resident_4")  # 丹桂苑
    ask = resident.event("SCAN", "compound_12")
    assert "您现在绑定的是丹桂苑，要改为阳光水岸吗？回复 1 确认" in ask
    assert home_of("demo_resident_4") == "丹桂苑"
    assert "已改为阳光水岸" in resident.say("1")
    assert home_of("demo_resident_4") == "阳光水岸"


def test_a_scan_in_the_same_street_asks_too(chat, demo):
    resident = chat("demo_resident_1")  # 幸福里小区; 丹桂苑 is next door, same grid
    assert "要改为丹桂苑吗" in resident.event("SCAN", "compound_2")
    assert "仍然是幸福里小区" in resident.say("不")
    assert home_of("demo_resident_1") == "幸福里小区"


def test_anything_else_leaves_the_binding_and_is_handled_as_usual(chat, demo):
    resident = chat("demo_resident_4")
    resident.event("SCAN", "compound_12")
    summary = resident.say("单元门的门禁坏了")
    assert "请确认报事内容" in summary and "丹桂苑" in summary
    assert "已提交" in resident.say("确认")
    resident.say("1")  # the question has lapsed: "1" rebinds nothing now
    assert home_of("demo_resident_4") == "丹桂苑"


def test_scanning_ones_own_compound_says_so(chat, demo):
    assert "您绑定的就是丹桂苑" in chat("demo_resident_4").event("SCAN", "compound_2")


def test_a_scan_in_the_middle_of_a_report_keeps_the_report_and_the_home(chat, demo):
    resident = chat("demo_resident_4")
    resident.say("东西坏了好几天了没人管")  # a numbered menu is waiting
    assert "请先回复“确认”或“取消”" in resident.event("SCAN", "compound_12")
    assert "请确认报事内容" in resident.say("1")  # the menu's 1, not a rebind
    assert home_of("demo_resident_4") == "丹桂苑"
