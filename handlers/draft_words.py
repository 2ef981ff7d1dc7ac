"""What the words of a message add to a report draft: a correction, a repeat, a menu choice,
a detail, or another problem altogether. Pure text rules over the classifier, no state."""

import re

from handlers import smalltalk
from handlers.classifier import CATEGORY_NAMES, classify
from handlers.places import cn_to_int, extract_place
from models.places import compound_names

# Categories that often describe how a problem is handled, not another problem.
DETAIL_CATEGORIES = ("other", "property_service", "consultation")
# A different category this sure is another problem: at 0.85 or more the top category was right
# for 99 % of the messages of the old, dev, blind and fresh held-out sets (1,529 of 1,764), and
# for 97.5 % of the unseen set's, which played no part in choosing it (428 of 439).
SEPARATE_CONFIDENCE = 0.85
# "不对，是4号楼" / "应该是丹桂苑" / "改成5号楼": the place after the marker replaces the old one.
CORRECTION_MARKERS = ("不对", "不是", "错了", "应该是", "改成", "改为", "更正", "说错了")


def correction(text: str) -> str | None:
    """The corrected part of '不对，是4号楼' ('是4号楼'), or None when it corrects nothing."""
    for marker in CORRECTION_MARKERS:
        at = text.find(marker)
        if 0 <= at <= 2:
            rest = text[at + len(marker) :]
            for lead in ("是", "，是", ",是", "应该是"):
                cut = rest.rfind(lead)
                if cut >= 0:
                    return rest[cut + len(lead) :]
            return rest
    return None


def already_said(text: str, said: str) -> bool:
    """The same complaint sent twice adds nothing to the draft."""
    core = "".join(ch for ch in text if ch.isalnum())
    return bool(core) and core in "".join(ch for ch in said if ch.isalnum())


# Two-character pieces too common in complaints to show that two reports are about one thing.
_COMMON = (
    "坏了 了好 好几 几天 天了 多天 小区 号楼 单元 楼的 一下 没人 人管 怎么 什么 这个 那个 我们 "
    "你们 已经 问题 师傅 麻烦 谢谢 请问 一直 晚上 今天 昨天 现在 还是 不了 了吗 处理 反映 希望 "
    "赶紧 尽快 有人 一个 好久 门口 旁边 附近 里面 这里 那里 老是 总是 能不 不能"
)
_COMMON_PIECES = frozenset(_COMMON.split())


def _pieces(text: str, places=()) -> set[str]:
    """Character pairs of the Chinese words, place names and common pairs left out."""
    for name in places:
        text = text.replace(name, " ")
    runs = re.findall(r"[\u4e00-\u9fff]+", text)
    return {run[i : i + 2] for run in runs for i in range(len(run) - 1)} - _COMMON_PIECES


def same_subject(text: str, other: str) -> bool:
    """Whether two reports of one category share what they are about ('楼道灯坏了' and
    '楼道的灯不亮了' share 楼道; '门口路灯坏了' and '电线冒火花' share nothing). A draft with no
    words yet (a photo) is open to any."""
    places = compound_names().keys()
    mine = _pieces(text, places)
    return not mine or bool(mine & _pieces(other, places))


def choice_number(text: str) -> int | None:
    """'2', '２', '二', '第二个', '2号' → 2; anything else None."""
    core = text.strip(" 。.!！")
    core = core.removeprefix("第").removesuffix("个").removesuffix("项").removesuffix("号")
    value = cn_to_int(core) if core else None
    return value if value is not None and value < 100 else None


def options(count: int, zero: bool = False) -> str:
    """'1、2、3 或 0' — exactly the numbers a menu takes."""
    numbers = [str(i) for i in range(1, count + 1)]
    if zero:
        numbers.append("0")
    if len(numbers) == 1:
        return numbers[0]
    return "、".join(numbers[:-1]) + " 或 " + numbers[-1]


def adds_something(text: str) -> bool:
    """A place, a correction or some words add to a draft; '1' or '这个' does not."""
    if correction(text) is not None:
        return True
    if not extract_place(text, compound_names().keys()).is_empty:
        return True
    return smalltalk.says_something(text)


def describes_more(text: str) -> bool:
    """A place, a correction or words about the problem ('灯一直在闪'); a word that answers
    something else ('满意', '好的') does not."""
    if correction(text) is not None:
        return True
    if not extract_place(text, compound_names().keys()).is_empty:
        return True
    return smalltalk.describes_problem(text)


def separate_problem(text: str, category: str | None) -> str | None:
    """The category name when `text` alone is surely another kind of problem than the draft
    ('楼道灯坏了' then '三号楼门口的垃圾没人清理'); None for details of the same one."""
    if correction(text) is not None or not smalltalk.describes_problem(text):
        return None
    result = classify(text)
    if result.category in (category, *DETAIL_CATEGORIES):
        return None
    return CATEGORY_NAMES[result.category] if result.confidence >= SEPARATE_CONFIDENCE else None
