"""What a short message is when it is not a problem: a greeting, thanks, "ok", a test …

Residents type the way they talk to people: `你好`, `在吗`, `谢谢你们`, `嗯`, `算了`. None of
these describes a problem, so none may become a report draft. `kind()` names what such a
message is (or None when it may describe something); `describes_problem()` says whether a
message is worth starting a draft from. Both are pure text functions, no database.
"""

import re
import unicodedata
from functools import lru_cache

from handlers.classifier import classify
from handlers.commands import COLLOQUIAL_RATINGS

GREETING, THANKS, ACK, BYE, TEST, LAUGH, ABOUT, NEVER_MIND, WANT_REPORT, CHASE, GIBBERISH = (
    "greeting", "thanks", "ack", "bye", "test", "laugh", "about", "never_mind", "want_report",
    "chase", "gibberish",
)  # fmt: skip
WHEN = "when"  # "多久能修好": asks how long, says nothing new about the problem
VAGUE = "vague"  # "帮我看看这个": points at something without saying what

# Whole clauses (after folding case, dropping punctuation and trailing particles).
PHRASES = {
    GREETING: (
        "你好 您好 你们好 大家好 hello hi hey 嗨 哈喽 哈罗 早 早啊 早上好 上午好 中午好 下午好 "
        "晚上好 早安 午安 晚安 在吗 在不在 在么 有人吗 有人在吗 人在吗 人呢 有没有人 喂 请问 打扰了 "
        "你好在吗 您好在吗 师傅好 领导好 网格员好 请问一下 请问下 打扰一下 打扰下 麻烦一下 "
        "麻烦问一下 麻烦问下"
    ),
    THANKS: (
        "谢谢 谢谢你 谢谢您 谢谢你们 谢谢啦 多谢 多谢了 感谢 感谢你们 非常感谢 太感谢了 "
        "辛苦了 辛苦 辛苦你们了 麻烦了 麻烦你们了 thanks thank thankyou thx 3q 谢了 给力 点赞 "
        "赞 棒 真棒 太好了 好评 很好的"
    )
    # Praise ('挺好的', '不错'): a rating while one waits (handlers.commands), thanks otherwise.
    + " "
    + " ".join(word for word, score in COLLOQUIAL_RATINGS.items() if score == 5),
    ACK: (
        "ok okay okk 好 好的 好滴 好嘞 好吧 行 行吧 可以 嗯 嗯嗯 恩 恩恩 哦 哦哦 噢 喔 额 呃 "
        "知道了 明白 明白了 了解 收到 懂了 没问题 是 是的 对 对的 yes no 不 不是 确认 确定 提交"
    ),
    BYE: "再见 拜拜 bye 88 回头见 下次见",
    TEST: "测试 测试一下 试试 试一下 test testing 123 测试测试",
    ABOUT: (
        "你是谁 你是机器人吗 是机器人吗 你是人吗 怎么用 怎么用啊 这个怎么用 能做什么 "
        "可以做什么 你能做什么 你能干什么 干什么的 有什么用 怎么操作 怎么报事 功能 使用说明"
    ),
    NEVER_MIND: (
        "算了 不用了 不要了 不报了 不用报了 不需要了 没事了 没事 没什么 搞错了 发错了 "
        "不弄了 先不报了 已经好了 好了不用了 自己解决了 取消 取消吧 撤回 撤销 不提交了 不想报了 "
        "我不报了 取消报事 取消一下 不用管了 别管了"
    ),
    # Most ways of saying it are a pattern (_WANT_REPORT_RE below); these are not.
    WANT_REPORT: "帮帮忙 帮个忙 我想问问",
    VAGUE: (
        "这个 那个 这里 那里 这边 看看 看一下 看这个 你看看 你看 你们看看 帮我看看 帮我看看这个 "
        "帮忙看看 帮忙看一下 帮我看一下 帮我看下 看下 麻烦看看 麻烦看一下 怎么办 咋办 怎么弄 "
        "咋整 如图 见图 看图"
    ),
    CHASE: (
        "怎么还没人来 还没人来 还没来 什么时候来 什么时候修 什么时候处理 怎么还没修 还没修 "
        "还没处理 怎么还没处理 快点 快一点 快点啊 能快点吗 有人管吗 没人管吗 没人管 到哪了 "
        "进度呢 处理了吗 修了吗 有人来吗"
    ),
    WHEN: (
        "多久能修好 多久能好 多久能修 多久修好 多久能处理 多久处理 多久来 多久能来 要多久 "
        "还要多久 需要多久 得多久 大概多久 大概要多久 多长时间 要多长时间 什么时候能好 "
        "什么时候能修好 什么时候修好 什么时候能处理好 啥时候来 啥时候修 啥时候能好 啥时候修好 "
        "几时来 几时修 几时能好 几天能修好 几天能好 几天能处理 几天能办好 什么时候办好 "
        # Whether it is done yet: the same answer (where it stands, and by when).
        "修好了吗 修好没 修好了没 修好没有 好了吗 好了没 好了没有 弄好了吗 弄好没 弄好了没 "
        "处理好了吗 处理好没 处理完了吗 处理完没 解决了吗 解决没 解决了没 办好了吗 办好没 "
        "修完了吗 修完没 有结果了吗 有进展吗 有进展了吗 进展如何 怎么样了 咋样了"
    ),
}
_WORDS = {kind: set(words.split()) for kind, words in PHRASES.items()}
# Kinds in the order they win when clauses differ ("你好，谢谢" is thanks).
_PRECEDENCE = (
    NEVER_MIND, WANT_REPORT, CHASE, WHEN, VAGUE, ABOUT, THANKS, BYE, TEST, GREETING, ACK, LAUGH,
)  # fmt: skip

_PARTICLES = "啊呀呢吧哦啦嘛哈么哇噢喔~"
# "我想反映个事", "想跟你们反映一下情况", "要投诉", "有个情况想反映", "问个事儿": the wish to report,
# said in any of the ways people say it, with nothing of the problem yet. Whole clause only.
_WHO = r"(?:我|我们|俺|咱|本人)?"
_WISH = r"(?:想|要|想要|需要|得|来|准备)?"
_TO_YOU = r"(?:跟|和|给|向|找)?(?:你们|您们|你|您|社区|网格员|物业|领导)?"
_VERB = r"(?:反映|反应|投诉|举报|报事|报修|报个修|报|求助|咨询|问|请教|说|讲|提)"
_HOW_MUCH = r"(?:一下|一哈|下|个|一个|一件|件|点|一点)?"
_WHAT = r"(?:事|事儿|事情|问题|情况|意见|建议|东西)?"
_WANT_REPORT_RE = re.compile(
    rf"^(?:{_WHO}{_WISH}{_TO_YOU}{_VERB}{_HOW_MUCH}{_WHAT}"
    rf"|{_WHO}有{_HOW_MUCH}{_WHAT}{_WISH}{_TO_YOU}{_VERB}?{_HOW_MUCH}"
    rf"|(?:有事|有点事|有个事|有件事){_WISH}{_TO_YOU}{_VERB}?{_HOW_MUCH})$"
)
# "你们这个公众号怎么报修", "请问怎么反映问题", "这个咋用": how to use the account, no problem.
_HOW_TO_RE = re.compile(
    r"^(?:请问|问下|问一下)?(?:你们|您们)?(?:这个|这)?(?:公众号|平台|系统|小程序|号|这里|这儿)?(?:上|里)?"
    r"(?:要|该|应该|可以)?(?:怎么|怎样|如何|咋|怎么样)(?:才能|才可以)?"
    r"(?:报修|报事|报|反映|反应|投诉|求助|用|使用|操作|提交|上报|找你们|联系你们|联系)"
    r"(?:问题|情况|事情|东西)?$"
)
_CLAUSE = re.compile(r"[\s,，.。!！?？;；、~～…]+")
_LAUGH = re.compile(r"^(哈|呵|嘿|嘻|h|l|o|啊){2,}$|^lol$|^hh+$|^233+$")
_ASCII_WORD = re.compile(r"^[a-z]+$")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")

# A short text names a problem only when the classifier is fairly sure of a category.
PROBLEM_CONFIDENCE = 0.3
# A text of this many Chinese characters is a description worth a draft, even if vague.
DESCRIPTION_MIN_HAN = 6


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").lower().strip()


def clauses(text: str) -> list[str]:
    """The message cut at punctuation, each clause without trailing particles; no empties."""
    out = []
    for part in _CLAUSE.split(_fold(text)):
        part = "".join(ch for ch in part if ch.isalnum())
        stripped = part.rstrip(_PARTICLES) or part
        if stripped:
            out.append(stripped)
    return out


def _clause_kind(clause: str) -> str | None:
    for kind in _PRECEDENCE:
        if clause in _WORDS.get(kind, ()):
            return kind
    if _wants_to_report(clause):
        return WANT_REPORT
    if _HOW_TO_RE.match(clause):
        return ABOUT
    run_on = _run_on_kinds(clause)
    if run_on:  # '算了不报了', '好的谢谢': phrases typed without a comma between them
        return min(run_on, key=_PRECEDENCE.index)
    if _LAUGH.match(clause):
        return LAUGH
    if len(set(clause)) == 1 and len(clause) >= 2:  # 嗯嗯嗯, 啊啊啊, 。。。
        return ACK
    if _ASCII_WORD.match(clause) and _looks_random(clause):
        return GIBBERISH
    return None


def _wants_to_report(clause: str) -> bool:
    """The whole clause is the wish to report and nothing of the problem; a bare verb ('我说',
    '问') is not."""
    return (
        len(clause) >= 2
        and _WANT_REPORT_RE.match(clause) is not None
        and not re.fullmatch(r"(?:我|我们)?(?:说|讲|提|问|报)", clause)
    )


@lru_cache(maxsize=4096)
def _run_on_kinds(clause: str) -> tuple[str, ...]:
    """The kinds of the known phrases (two characters or more) that make up the whole clause,
    or () when it does not split into them."""
    if len(clause) < 4:
        return ()
    for cut in range(2, len(clause) - 1):
        head = next((k for k in _PRECEDENCE if clause[:cut] in _WORDS.get(k, ())), None)
        if head is None:
            continue
        tail = next((k for k in _PRECEDENCE if clause[cut:] in _WORDS.get(k, ())), None)
        if tail is None and _wants_to_report(clause[cut:]):  # '你好我想反映个事'
            tail = WANT_REPORT
        rest = (tail,) if tail else _run_on_kinds(clause[cut:])
        if rest:
            return (head, *rest)
    return ()


def _looks_random(word: str) -> bool:
    """Latin letters that are no command we know: keyboard mashing, or too few vowels."""
    if any(word in row or row in word for row in _KEYBOARD_ROWS) and len(word) >= 3:
        return True
    vowels = sum(ch in "aeiou" for ch in word)
    return len(word) >= 4 and vowels / len(word) < 0.2 or len(word) >= 8


@lru_cache(maxsize=4096)  # one message is asked about several times on its way
def kind(text: str) -> str | None:
    """What the message is when every clause of it is small talk; None when any clause may
    say something (a problem, a place, a detail). Emoji and punctuation only is small talk."""
    parts = clauses(text)
    if not parts:
        return ACK if (text or "").strip() else None
    kinds = [_clause_kind(p) for p in parts]
    if any(k is None for k in kinds):
        return None
    return min(kinds, key=lambda k: _PRECEDENCE.index(k) if k in _PRECEDENCE else 99)


# '修好了', '搞定', '清理完了': a job that sounds finished, unless negated ('还没修好', '没弄好').
# A taker's words about the job (handlers.resident_chat) and a resident's take-back use both.
DONE_CUES = ("修好", "弄好", "搞定", "处理好", "处理完", "换好", "清理好", "清理完", "办好", "完工")
NOT_DONE_RE = re.compile(
    r"(?:没|未|没有|还没|还没有|不能|没法)\s*(?:" + "|".join((*DONE_CUES, "解决", "好")) + ")"
)


def says_done(text: str) -> bool:
    return any(cue in text for cue in DONE_CUES) and not NOT_DONE_RE.search(text)


# A clause that ends like this takes the matter back ('那个垃圾的事不用管了', '已经自己解决了'):
# the longer never-mind phrases, 'no need to come or fix it', and the job done.
_WITHDRAW_TAILS = (
    *(w for w in _WORDS[NEVER_MIND] if len(w) >= 3),
    "不用处理了", "不用来了", "不用修了", "不用办了", "解决了",
    *(f"{cue}了" for cue in DONE_CUES),
)  # fmt: skip


def takes_back(text: str) -> bool:
    """Some clause of the message withdraws the matter ('算了', '不用管了', '已经自己解决了'),
    though other clauses may say more; '还没修好了吗' does not."""
    for clause in clauses(text):
        if _clause_kind(clause) == NEVER_MIND:
            return True
        if clause.endswith(_WITHDRAW_TAILS) and not NOT_DONE_RE.search(clause):
            return True
    return False


# "我是物业的", "你好 我是3号楼502的", "我是新搬来的": who is writing, and nothing of a problem.
_NUM = r"[0-9一二三四五六七八九十两]+"
_PLACE = rf"(?:{_NUM}(?:号楼|栋|幢|单元|楼|号)?(?:{_NUM}(?:单元|室|号)?)*)"
_WHO_IS = (
    r"(?:住户|业主|居民|租户|房东|物业|物业公司|保安|保洁|志愿者|党员|网格员|楼长|社区|居委会|"
    r"工作人员|新来的|新搬来的|老住户)"
)
_INTRO_RE = re.compile(
    rf"^(?:(?:你好|您好|喂|哈喽|hello|hi)[,，\s!！]*)?我是(?:这里|这个小区|本小区|小区|{_PLACE})?"
    rf"的?{_WHO_IS}?的?[啊呀哈]?[。.!！]?$"
)


def introduces_self(text: str) -> bool:
    """The whole message says who is writing ('我是物业的') and nothing else."""
    clean = _fold(text)
    return bool(_INTRO_RE.match(clean)) and not re.fullmatch(
        r"(?:.*[\s,，])?我是的?[。.!！]?", clean
    )


def without_small_talk(text: str) -> str:
    """'你好，3号楼灯坏了' → '3号楼灯坏了': leading greetings are no part of a description."""
    pieces = re.split(r"(?<=[,，.。!！?？;；~～\s])", text.strip())
    while len(pieces) > 1 and kind(pieces[0]) in (GREETING, THANKS, ACK, TEST):
        pieces.pop(0)
    return "".join(pieces).strip()


def _han(text: str) -> int:
    return sum("\u4e00" <= ch <= "\u9fff" for ch in text)


def says_something(text: str) -> bool:
    """A detail worth keeping on a draft or a filed ticket ('已经三天了', '二楼', '还没人管'):
    some words that are not small talk or a vague pointer. A stray '1' is not."""
    if kind(text) not in (None, CHASE):
        return False
    return _han(text) >= 2 or describes_problem(text)


def describes_problem(text: str) -> bool:
    """Worth a report draft: small talk never is; a sure category, an urgent phrase or a
    sentence of some length is."""
    if kind(text) is not None:
        return False
    if _han(text) >= DESCRIPTION_MIN_HAN:
        return True
    result = classify(text)
    if result.urgency == "urgent":
        return True
    return result.category != "other" and result.confidence >= PROBLEM_CONFIDENCE
