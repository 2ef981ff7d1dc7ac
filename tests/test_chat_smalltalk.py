"""Residents talk the way people talk: greetings, thanks, 'ok', second thoughts, menus they
answer wrongly. None of it may become a report draft, and no menu may refuse its own choices."""

import re

import pytest

from handlers import resident_texts as rtexts
from handlers import smalltalk
from models.tickets import Ticket

DRAFT_MARKS = ("请确认报事内容", "请回复数字", "问题在哪里")
SMALL_TALK = [
    "你好", "您好！", "谢谢你们", "在吗", "在吗？", "ok", "好的", "嗯", "嗯嗯嗯", "测试", "哈哈哈",
    "早上好", "你是谁", "怎么用", "asdfghjkl", "qwerty", "谢谢，辛苦了", "你好，在吗", "拜拜", "人在吗",
]  # fmt: skip


def filed_number(reply: str) -> int:
    return int(re.search(r"工单号 #(\d+)", reply).group(1))


@pytest.mark.parametrize("text", SMALL_TALK)
def test_small_talk_gets_a_friendly_answer_and_no_draft(chat, demo, text):
    resident = chat("demo_resident_1")
    reply = resident.say(text)
    assert not any(mark in reply for mark in DRAFT_MARKS), reply
    assert "告诉我" in reply  # says what the person can do
    # Nothing is waiting for a confirmation: "确认" next files nothing.
    assert "工单号" not in resident.say("确认")
    assert Ticket.select().count() == 0


def test_a_greeting_before_a_problem_is_left_out_of_the_report(chat, demo):
    summary = chat("demo_resident_1").say("你好，3号楼楼道灯坏了")
    assert "问题：3号楼楼道灯坏了\n" in summary


def test_gibberish_then_a_greeting_never_asks_for_an_unlisted_number(chat, demo):
    resident = chat("demo_resident_1")
    for text in ("asdfghjkl", "你好", "ok", "1"):
        reply = resident.say(text)
        assert "请回复数字" not in reply and "比如“1”" not in reply, (text, reply)


def test_a_text_with_no_category_to_offer_gets_no_empty_menu(chat, demo):
    summary = chat("demo_resident_1").say("龘靐齉爩鱻麤龖龗")  # words the classifier never saw
    assert "请回复数字" not in summary
    assert "类别：其他" in summary


def test_a_choice_outside_the_menu_is_answered_with_the_valid_ones(chat, demo):
    resident = chat("demo_resident_4")
    menu = resident.say("东西坏了好几天了没人管")
    listed = re.findall(r"^(\d)\. ", menu, re.M)
    assert len(listed) >= 3 and listed[-1] == "0"  # some categories, and 其他
    valid = "、".join(listed[:-1]) + " 或 0"
    for wrong in ("7", "你好", "嗯"):
        again = resident.say(wrong)
        assert f"请回复 {valid}" in again and "1. " in again, (wrong, again)
    assert "请确认报事内容" in resident.say("二")  # a Chinese numeral picks too


def test_words_instead_of_a_number_describe_the_problem_further(chat, demo):
    resident = chat("demo_resident_4")
    assert "请回复数字" in resident.say("东西坏了好几天了没人管")
    reply = resident.say("电梯里困了个老人，快来人")
    assert "紧急情况已立即上报" in reply
    assert Ticket.get_by_id(filed_number(reply)).category == "elevator"


@pytest.mark.parametrize("never_mind", ["算了", "不用了", "不报了", "没事了"])
@pytest.mark.parametrize("opening", ["3号楼楼道灯坏了", "东西坏了好几天了没人管"])
def test_second_thoughts_mid_draft_drop_it(chat, demo, opening, never_mind):
    resident = chat("demo_resident_1")
    resident.say(opening)
    assert "已取消" in resident.say(never_mind)
    assert "工单号" not in resident.say("确认")
    assert Ticket.select().count() == 0


def test_second_thoughts_while_asked_for_the_place_drop_it(chat, demo):
    walker = chat("walk_in_9")
    assert "问题在哪里" in walker.say("小区门口的路灯坏了好几盏")
    assert "问题在哪里" in walker.say("你好")  # small talk: the question stands
    assert "已取消" in walker.say("不用了")


@pytest.mark.parametrize("correction", ["不对，是4号楼", "不是3号楼，是4号楼", "应该是4号楼"])
def test_a_corrected_place_replaces_the_old_one_and_stays_out_of_the_text(chat, demo, correction):
    resident = chat("demo_resident_2")
    resident.say("3号楼楼道灯坏了")
    summary = resident.say(correction)
    assert "地点：幸福里小区4号楼" in summary
    assert "问题：3号楼楼道灯坏了\n" in summary
    ticket = Ticket.get_by_id(filed_number(resident.say("确认")))
    assert ticket.building == "4" and ticket.text == "3号楼楼道灯坏了"


def test_the_same_complaint_twice_in_a_draft_is_not_doubled(chat, demo):
    resident = chat("demo_resident_2")
    resident.say("3号楼楼道灯坏了")
    assert "问题：3号楼楼道灯坏了\n" in resident.say("3号楼楼道灯坏了")


@pytest.mark.parametrize("say", [("voice", "确认。"), ("text", "确认！"), ("text", " 确定 ")])
def test_a_spoken_or_punctuated_confirmation_files(chat, demo, say):
    resident = chat("demo_resident_2")
    resident.say("我家楼上天天晚上装修，吵死了")
    kind, words = say
    reply = resident.voice(words) if kind == "voice" else resident.say(words)
    assert "已提交，工单号" in reply


@pytest.mark.parametrize("stray", ["1", "这个", "帮我看看这个"])
def test_a_stray_word_at_the_summary_joins_nothing(chat, demo, stray):
    resident = chat("demo_resident_5")
    resident.say("小区里的路灯晚上不亮")
    again = resident.say(stray)
    assert "请确认报事内容" in again and "问题：小区里的路灯晚上不亮\n" in again
    assert Ticket.get_by_id(filed_number(resident.say("确认"))).text == "小区里的路灯晚上不亮"


@pytest.mark.parametrize("detail", ["已经三天了", "晚上特别黑", "二楼", "还没人管"])
def test_a_short_detail_at_the_summary_is_added(chat, demo, detail):
    resident = chat("demo_resident_5")
    resident.say("小区里的路灯晚上不亮")
    assert f"问题：小区里的路灯晚上不亮；{detail}" in resident.say(detail)


def test_another_problem_at_the_summary_is_filed_apart(chat, demo):
    resident = chat("demo_resident_2")
    resident.say("楼道灯坏了")
    ask = resident.say("三号楼门口的垃圾没人清理")
    assert "另一件事（环境卫生）" in ask and "楼道灯坏了" in ask
    both = resident.say("确认")
    first = filed_number(both)
    assert "另一件事" in both and "问题：三号楼门口的垃圾没人清理" in both
    second = filed_number(resident.say("确认"))
    assert Ticket.get_by_id(first).text == "楼道灯坏了"
    assert Ticket.get_by_id(first).category == "power_lighting"
    assert Ticket.get_by_id(second).category == "sanitation"


def test_another_problem_can_still_be_merged_on_request(chat, demo):
    resident = chat("demo_resident_2")
    resident.say("楼道灯坏了")
    resident.say("小区里有人遛狗不牵绳")
    assert "楼道灯坏了；小区里有人遛狗不牵绳" in resident.say("补充进去")


def test_small_talk_inside_a_draft_keeps_the_question_and_the_draft(chat, demo):
    resident = chat("demo_resident_2")
    resident.say("3号楼楼道灯坏了")
    again = resident.say("谢谢")
    assert "请确认报事内容" in again and "谢谢" not in again.split("问题：")[1]
    ticket = Ticket.get_by_id(filed_number(resident.say("确认")))
    assert ticket.text == "3号楼楼道灯坏了"


def test_a_photo_first_then_a_vague_word_asks_what_the_problem_is(chat, demo):
    resident = chat("demo_resident_2")
    assert "照片" in resident.photo()
    assert "具体是什么问题" in resident.say("这个")
    assert "请确认报事内容" in resident.say("垃圾桶满了没人清")


def _resolved_lamp(chat):
    """demo_resident_1's lamp, filed, taken and resolved: its rating waits. (resident, number)"""
    resident, volunteer = chat("demo_resident_1"), chat("demo_volunteer_1")
    resident.say("3号楼楼道灯坏了")
    n = filed_number(resident.say("确认"))
    chat("demo_dispatcher_1").say(f"派单 #{n} 给 王建国")
    volunteer.say(f"接单 #{n}")
    volunteer.say(f"办结 #{n} 换好了")
    return resident, n


def test_a_second_rating_after_the_rating_is_done_opens_nothing(chat, demo):
    resident, n = _resolved_lamp(chat)
    assert "感谢您的评价" in resident.say("满意")
    for again in ("满意", "好评", "5星", "非常满意！"):
        reply = resident.say(again)
        assert f"#{n} 您已经评价过了" in reply, (again, reply)
    assert Ticket.select().count() == 1


def test_a_rating_word_during_a_draft_rates_and_keeps_the_draft(chat, demo):
    resident, n = _resolved_lamp(chat)
    resident.say("小区健身器材坏了")
    rated = resident.say("满意")
    assert "感谢您的评价" in rated and "还没提交" in rated
    assert "已提交" in resident.say("确认")
    assert Ticket.get_by_id(n).score == 5


@pytest.mark.parametrize(
    "words, score", [("挺好的 谢谢", 5), ("不错不错", 5), ("还可以", 3), ("很差 半天才来", 1)]
)
def test_a_rating_in_ones_own_words_rates_even_during_a_draft(chat, demo, words, score):
    """Found playing a clean clone: '挺好的 谢谢' to the rating request was added to the open
    draft as a detail of another problem, and the ticket stayed unrated."""
    resident, n = _resolved_lamp(chat)
    resident.say("小区健身器材坏了")
    rated = resident.say(words)
    assert ("感谢您的评价" if score > 1 else "很抱歉没让您满意") in rated and "还没提交" in rated
    assert Ticket.get_by_id(n).score == score
    filed = Ticket.get_by_id(filed_number(resident.say("确认")))
    assert filed.text == "小区健身器材坏了"


def test_1_to_the_danger_question_files_urgent_even_while_a_rating_waits(chat, demo):
    """'1' answers the question just asked, never the rating waiting for an older ticket (a
    rating in words during a draft must not let digits in with it)."""
    resident, n = _resolved_lamp(chat)
    assert resident.say("电线垂得很低").startswith("现在有人受伤、被困或有明火/燃气味吗")
    filed = resident.say("1")
    assert "紧急" in filed and "评价" not in filed
    assert Ticket.get_by_id(n).score is None
    assert Ticket.select().where(Ticket.urgency == "urgent").count() == 1


def test_praise_with_nothing_to_rate_is_thanks_not_a_detail_or_a_rating(chat, demo):
    resident = chat("demo_resident_2")
    assert "请确认报事内容" not in resident.say("挺好的")
    resident.say("3号楼楼道灯坏了")
    again = resident.say("挺好的 谢谢")
    assert "问题：3号楼楼道灯坏了\n" in again  # not added to the draft
    assert Ticket.get_by_id(filed_number(resident.say("确认"))).text == "3号楼楼道灯坏了"


@pytest.mark.parametrize("words", ["修得挺快的 谢谢师傅", "师傅很专业 辛苦了", "效率真高，点赞"])
def test_praise_of_the_work_while_a_rating_waits_asks_for_the_score(chat, demo, words):
    """Found playing a clean clone: '修得挺快的 谢谢师傅' to the rating request opened a report
    draft ('问题在哪里？'). Now it asks for the score in one tap and rates nothing by itself."""
    resident, n = _resolved_lamp(chat)
    reply = resident.say(words)
    assert f"给工单 #{n} 打个分" in reply and "问题在哪里" not in reply
    assert Ticket.get_by_id(n).score is None and Ticket.select().count() == 1
    assert "感谢您的评价" in resident.say("满意")
    assert Ticket.get_by_id(n).score == 5


def test_praise_with_a_complaint_while_a_rating_waits_is_not_taken_for_praise(chat, demo):
    resident, n = _resolved_lamp(chat)
    reply = resident.say("谢谢师傅 但是灯又坏了 还是不亮")
    assert "打个分" not in reply
    assert Ticket.get_by_id(n).score is None


def test_words_that_only_begin_like_a_rating_do_not_rate(chat, demo):
    resident, n = _resolved_lamp(chat)
    resident.say("还可以再补充点情况吗")
    resident.say("不好意思 问一下")
    assert Ticket.get_by_id(n).score is None


def test_confirming_a_draft_that_timed_out_says_so(chat, demo, redis_client, redis_prefix):
    resident = chat("demo_resident_1")
    resident.say("小区健身器材坏了")
    redis_client.delete(f"{redis_prefix}conv:demo_resident_1")  # Redis expired it (30 min)
    reply = resident.say("确认")
    assert "太久没有继续" in reply and "重新说一下" in reply
    assert Ticket.select().count() == 0
    assert "告诉我" in resident.say("确认")  # told once; then it is just an "ok"


def test_a_draft_finished_or_cancelled_leaves_no_timeout_notice(chat, demo):
    resident = chat("demo_resident_1")
    resident.say("小区健身器材坏了")
    resident.say("取消")
    assert "太久" not in resident.say("好的")


def test_want_to_report_asks_what_and_waits(chat, demo):
    resident = chat("demo_resident_3")
    assert "请说说遇到了什么问题" in resident.say("我要报事")
    assert "请确认报事内容" in resident.say("楼道里堆满了杂物")


@pytest.mark.parametrize(
    "text, kind",
    [
        ("你好", smalltalk.GREETING), ("您好，在吗？", smalltalk.GREETING),
        ("谢谢你们！", smalltalk.THANKS), ("好的呀", smalltalk.ACK), ("👌", smalltalk.ACK),
        ("哈哈哈哈", smalltalk.LAUGH), ("asdfghjkl", smalltalk.GIBBERISH),
        ("算了", smalltalk.NEVER_MIND), ("我要投诉", smalltalk.WANT_REPORT),
        ("怎么还没人来", smalltalk.CHASE), ("测试", smalltalk.TEST),
        ("你好，3号楼楼道灯坏了", None), ("漏水", None), ("在5号楼", None),
    ],
)  # fmt: skip
def test_what_a_short_message_is(text, kind):
    assert smalltalk.kind(text) == kind


@pytest.mark.parametrize(
    "wish",
    ["在吗 我想反映个事", "你好我要投诉一下", "想跟你们反映一下情况", "有个情况想反映",
     "问个事儿", "我想报个修"],
)  # fmt: skip
def test_saying_you_want_to_report_asks_what_and_files_nothing_of_it(chat, demo, wish):
    """Found playing a clean clone: '在吗 我想反映个事' became a draft ('问题：我想反映个事'),
    the real problem that followed was taken for another one, and a ticket of nothing was
    filed."""
    resident = chat("demo_resident_3")
    assert resident.say(wish) == rtexts.ASK_WHAT
    summary = resident.say("我家楼上天天半夜装修 吵死了")
    assert "问题：我家楼上天天半夜装修 吵死了\n" in summary and "另一件事" not in summary
    ticket = Ticket.get_by_id(filed_number(resident.say("确认")))
    assert ticket.text == "我家楼上天天半夜装修 吵死了" and ticket.category == "noise"
    assert Ticket.select().count() == 1


@pytest.mark.parametrize(
    "text", ["我想反映楼道灯坏了", "投诉楼上噪音", "我想问物业费怎么交", "举报有人飞线充电"]
)
def test_a_wish_that_names_the_problem_is_the_problem(text):
    assert smalltalk.kind(text) is None


@pytest.mark.parametrize(
    "who, words",
    [
        ("demo_worker_1", "我是物业的"),
        ("demo_resident_2", "你好 我是3号楼502的"),
        ("demo_resident_2", "我是新搬来的"),
        ("demo_volunteer_1", "我是志愿者"),
    ],
)
def test_saying_who_you_are_opens_no_report(chat, demo, who, words):
    """Found playing a clean clone: a property worker's '我是物业的' got '问题在哪里？', a draft
    with the problem '我是物业的'."""
    person = chat(who)
    reply = person.say(words)
    assert "遇到了什么问题" in reply and "问题在哪里" not in reply
    assert "请确认报事内容" not in person.say("好的")
    summary = person.say("幸福里3号楼楼道灯坏了")
    assert "问题：幸福里3号楼楼道灯坏了" in summary  # the draft holds the problem alone


def test_who_you_are_with_the_problem_is_a_report(chat, demo):
    resident = chat("demo_resident_2")
    assert "请确认报事内容" in resident.say("我是3号楼的 楼道灯坏了")


def test_asking_how_to_report_is_answered_not_drafted(chat, demo):
    """Found playing a clean clone: '你们这个公众号怎么报修啊' became a report whose problem was
    that question, and the real problem that followed was lost (below)."""
    resident = chat("demo_resident_2")
    reply = resident.say("你们这个公众号怎么报修啊")
    assert "直接用文字" in reply and "问题在哪里" not in reply
    assert "请确认报事内容" in resident.say("3号楼楼道灯坏了")
    assert "请确认报事内容" in chat("demo_resident_3").say("电梯怎么报修 3号楼电梯不动了")


def test_the_problem_told_while_the_place_is_asked_is_kept(chat, demo):
    newcomer = chat("someone_new")  # no home compound: the place is asked
    assert "问题在哪里" in newcomer.say("我家这边灯坏了")
    kept = newcomer.say("不对 是楼道灯 好几天不亮了")
    assert kept.startswith("好的，记下了") and "问题在哪里" in kept
    assert "没找到这个小区" in newcomer.say("阳光花园")  # an unknown place is still a place
    assert "没找到这个小区" in newcomer.say("火星小区")  # whatever its 火 makes the model think
    summary = newcomer.say("丹桂苑2号楼")
    assert "楼道灯 好几天不亮了" in summary and "地点：丹桂苑2号楼" in summary
    assert "类别：供电/照明" in summary
