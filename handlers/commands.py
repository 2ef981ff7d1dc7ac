"""Reading typed commands: `接单 #12`, `派单 ＃12 给 志愿者`, `合并 12 到 13` …"""

import re
from dataclasses import dataclass

_COMMAND = re.compile(
    r"^(?P<verb>[\u4e00-\u9fff]{2,4})\s*(?:#\s*)?(?P<number>\d{1,12})?\s*(?P<rest>.*)$"
)
_NUMBER = re.compile(r"#?\s*(\d{1,12})")

VERBS = {
    "查询", "催单", "撤销", "评价", "接单", "抢单", "进度", "办结", "退单", "派单", "转单",
    "提级", "协办", "关闭", "合并", "督办", "回访", "关注",
    "改类", "撤销合并", "取消合并", "补充",
}  # fmt: skip
# Incentives (handlers.incentives, handlers.wishes): shop, wishes, service menu, property lists.
VERBS |= {
    "兑换", "取消兑换", "核销", "微心愿", "微心", "代办心愿", "认领心愿", "认领", "我的服务",
    "停止服务", "预约", "复核", "一票否决",
}  # fmt: skip
FIXED = {
    "帮助": "help", "菜单": "help", "?": "help", "？": "help", "help": "help",
    "取消": "cancel", "算了": "cancel", "退出": "cancel",
    "我的工单": "my_tickets", "我的报事": "my_tickets", "进度查询": "my_tickets",
    "附近工单": "nearby", "志愿接单": "nearby", "接单大厅": "nearby",
    "我的任务": "my_tasks", "我的积分": "my_points",
    "待派单": "queue", "超时工单": "overdue", "今日概况": "today", "今天概况": "today",
    "今日情况": "today", "今天情况": "today", "本周概况": "this_week", "本周情况": "this_week",
    "这周概况": "this_week", "这周情况": "this_week",
    "物业评价": "property_report", "物业红黑榜": "property_report", "红榜": "property_report",
    "大屏": "dashboard", "数据大屏": "dashboard", "看板": "dashboard",
}  # fmt: skip
# Pinyin-input slips of the menu words (附进 for 附近, 人物 for 任务, 积份 for 积分).
FIXED |= {
    "附进工单": "nearby", "附近的工单": "nearby", "附近订单": "nearby", "附近单子": "nearby",
    "我的人物": "my_tasks", "我的任物": "my_tasks", "我的积份": "my_points",
    "我的公单": "my_tickets",
}  # fmt: skip
FIXED |= {
    "积分商城": "shop", "信用超市": "shop", "积分超市": "shop", "我的兑换": "my_redemptions",
    "心愿墙": "wish_wall", "待审心愿": "wishes_to_review", "服务菜单": "service_menu",
    "积分复核": "points_review", "物业公示": "property_lists", "红黑名单": "property_lists",
    "物业超市": "property_market",
}  # fmt: skip
RATINGS = {"非常满意": 5, "满意": 5, "基本满意": 3, "一般": 3, "不满意": 1, "很不满意": 1,
           "好评": 5, "五星好评": 5, "差评": 1}  # fmt: skip
UNSOLVED = ("没解决", "没有解决", "没修好", "还没好", "没弄好")
# How people rate in their own words. Counted only while a ticket waits for the person's
# rating (resident.try_rating), since "挺好的" or "还可以" also say other things. A good or
# middling word must stand alone (thanks aside: "挺好的 谢谢"); a bad one may carry a complaint.
COLLOQUIAL_RATINGS = {
    "挺好": 5, "挺好的": 5, "很好": 5, "非常好": 5, "特别好": 5, "不错": 5, "挺不错": 5,
    "很不错": 5, "真不错": 5, "挺满意": 5, "很满意": 5, "特别满意": 5, "十分满意": 5,
    "还行": 3, "还可以": 3, "凑合": 3, "马马虎虎": 3, "一般般": 3, "还凑合": 3,
    "不太满意": 1, "不怎么样": 1, "很差": 1, "太差": 1, "太差了": 1, "差劲": 1, "不满": 1,
}  # fmt: skip
_ONLY_THANKS = re.compile(
    r"^(?:[\s,，。.!！~～]|谢谢你们|谢谢您|谢谢你|谢谢|谢啦|谢了|多谢|感谢|辛苦你们了|辛苦了|的|啊|呀|哈|啦)*$"
)


# Only what parsing needs: ＃, full-width digits and letters, the ideographic space. NFKC on
# the whole text would also turn the Chinese commas in a volunteer's note into ASCII ones.
_FULL_WIDTH = {0xFF03: "#", 0x3000: " "}
_FULL_WIDTH.update({cp: chr(cp - 0xFEE0) for cp in range(0xFF10, 0xFF1A)})  # ０-９
_FULL_WIDTH.update({cp: chr(cp - 0xFEE0) for cp in range(0xFF21, 0xFF3B)})  # Ａ-Ｚ
_FULL_WIDTH.update({cp: chr(cp - 0xFEE0) for cp in range(0xFF41, 0xFF5B)})  # ａ-ｚ


def normalize(text: str) -> str:
    """Full-width #, digits and letters made ASCII; trimmed, inner whitespace folded."""
    return " ".join((text or "").translate(_FULL_WIDTH).split())


@dataclass(frozen=True)
class Command:
    verb: str
    number: int | None
    rest: str


def parse_command(text: str) -> Command | None:
    """A verb command with an optional ticket number, or None if it is not one."""
    text = normalize(text)
    match = _COMMAND.match(text)
    if not match:
        return None
    verb = match.group("verb")
    for candidate in (verb, verb[:2]):
        if candidate in VERBS:
            rest = (verb[len(candidate) :] + " " + match.group("rest")).strip()
            number = match.group("number")
            if number is None and candidate == verb[:2] != verb:
                # "接单12" style: the number follows the cut-off characters.
                found = _NUMBER.match(rest)
                number, rest = (
                    (found.group(1), rest[found.end() :].strip()) if found else (None, rest)
                )
            return Command(candidate, int(number) if number else None, rest)
    return None


def fixed_command(text: str) -> str | None:
    """The keyword commands that take no argument (帮助, 我的工单, 待派单 …)."""
    return FIXED.get(normalize(text).lower())


# A volunteer's everyday ways of asking for work ('有单吗', '今天有啥单子', '有什么活可以干'):
# short, an order word and a question. Words with 单 that are no order (单车, 单元 …) never count.
_ORDER_ASK = re.compile(
    r"(有|啥|什么|哪些|没有|看看|可以接|能接|找点?).{0,4}(单子|单|活儿?|任务)"
    r"|(单子|单|活儿?|任务).{0,3}(吗|么|没|呢|不)"
    r"|(有没有|有什么|有啥|哪里).{0,4}需要帮"
)
_NOT_ORDERS = (
    "单车", "单元", "账单", "清单", "名单", "单位", "菜单", "传单", "订单", "单独", "简单",
    "活动", "生活", "活该", "干活", "死活", "任务书",
)  # fmt: skip
_OWN = ("我的", "我手上", "我手里", "手上", "手里", "我接的")
ORDER_ASK_MAX = 16
# "My to-do" in office words: for someone who takes orders, the jobs in hand; for staff, what
# waits for them (_STAFF_ASKS: the queue to a dispatcher, the overdue list to a supervisor).
_TODO = re.compile(r"^(?:我的|我)?(?:待办|待处理)(?:事项|工单|的|的单子?)?(?:有哪些|呢|吗)?[?？]?$")


def asks_for_orders(text: str) -> str | None:
    """'有单吗' → 'nearby', '我手上还有啥单' → 'my_tasks'; None when it is not such a question."""
    text = normalize(text)
    if _TODO.match(text):
        return "my_tasks"
    if len(text) > ORDER_ASK_MAX or any(w in text for w in _NOT_ORDERS):
        return None
    if not _ORDER_ASK.search(text):
        return None
    return "my_tasks" if any(w in text for w in _OWN) else "nearby"


# Staff's everyday word order: '把3号单派给志愿者', '3号单提级', '#12转给物业'.
_NUMBER_FIRST = re.compile(
    r"^把?\s*(?:#\s*)?(?P<number>\d{1,12})\s*(?:号单|号工单|号)?\s*"
    r"(?P<verb>派单|派给|派到|转单|转给|转到|提级|督办|催办|关闭|回访|查询|改类)\s*(?P<rest>.*)$"
)
_NUMBER_FIRST_VERBS = {
    "派给": "派单",
    "派到": "派单",
    "转给": "转单",
    "转到": "转单",
    "催办": "督办",
}
_GIVE = {"派给": "给", "派到": "给", "转给": "给", "转到": "给"}
# Staff asking for their lists in their own words ('有新单吗', '超时的有几个').
_STAFF_ASKS = (
    (re.compile(r"新单|待派|没派|要派的|派单的"), "queue"),
    (_TODO, "todo"),  # the queue to a dispatcher, the overdue to a supervisor
    (re.compile(r"超时|逾期|过期没办|拖了"), "overdue"),
    (re.compile(r"(今天|今日).{0,3}(怎么样|咋样|如何|多少)"), "today"),
    (
        re.compile(r"(这周|本周|这星期|这礼拜).{0,3}(怎么样|咋样|如何|多少)|最慢|较慢|哪个网格"),
        "this_week",
    ),
)
STAFF_ASK_MAX = 12


def staff_canonical(text: str) -> str:
    """'把3号单派给志愿者' → '派单 #3 给 志愿者'; anything else unchanged."""
    match = _NUMBER_FIRST.match(normalize(text))
    if not match:
        return text
    said = match.group("verb")
    verb = _NUMBER_FIRST_VERBS.get(said, said)
    rest = " ".join(p for p in (_GIVE.get(said, ""), match.group("rest").strip()) if p)
    return f"{verb} #{match.group('number')} {rest}".strip()


def staff_asks(text: str) -> str | None:
    """'有新单吗' → 'queue', '超时的有几个' → 'overdue'; None when it is no such question."""
    text = normalize(text)
    if len(text) > STAFF_ASK_MAX or _COMMAND.match(text) and parse_command(text):
        return None
    return next((name for pattern, name in _STAFF_ASKS if pattern.search(text)), None)


def parse_rating(text: str, colloquial: bool = False) -> tuple[int, str] | None:
    """'满意' → (5, ''), '4分 挺快的' → (4, '挺快的'), '不满意 没修好' → (1, '没修好'); with
    `colloquial`, also '挺好的 谢谢' → (5, '') and '很差 半天没人来' → (1, '半天没人来')."""
    text = normalize(text)
    strict = _parse_strict_rating(text)
    if strict is not None or not colloquial:
        return strict
    for word in sorted(COLLOQUIAL_RATINGS, key=len, reverse=True):
        if not text.startswith(word):
            continue
        score, rest = COLLOQUIAL_RATINGS[word], text[len(word) :]
        if _ONLY_THANKS.match(rest.replace(word, "")):  # '不错不错', '挺好的 谢谢'
            return score, ""
        if score == 1:
            return score, rest.strip(" ,，。!！")
        return None
    return None


def _parse_strict_rating(text: str) -> tuple[int, str] | None:
    for word in sorted(RATINGS, key=len, reverse=True):
        if text.startswith(word):
            return RATINGS[word], text[len(word) :].strip(" ,，。!！")
    match = re.match(r"^([1-5])\s*(?:分|星)?(?:\s+|[,，。!！]|$)(.*)$", text)
    if match:
        return int(match.group(1)), match.group(2).strip()
    if any(text.startswith(w) for w in UNSOLVED):
        return 1, text
    return None


def strip_target(rest: str) -> str:
    """'给 志愿者' → '志愿者'; '到 #13' → '#13'."""
    return re.sub(r"^(给|到|至|派给|转给|交给)\s*", "", rest.strip()).strip()


def number_in(text: str) -> int | None:
    match = _NUMBER.search(normalize(text))
    return int(match.group(1)) if match else None
