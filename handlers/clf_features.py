"""Text -> feature strings for the classifier, shared by training and run time.

Features are jieba words (``w:``) and character 1-3-grams (``c:``) of the normalised text.
A word or character that stands in the scope of a negation ("没有冒烟"), a hypothesis or
worry ("万一着火", "担心"), the past ("上次着火后") or advice ("建议装烟感") carries a ``~``
mark, so the model learns separate weights for "冒烟" and "~冒烟" from the labelled data
instead of a hand-written phrase list deciding. The cue words only mark; they decide nothing.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
# Bump when features() changes what it returns: the shipped model is then stale and must be
# rebuilt with `sidan classify --retrain --out handlers/data/model.npz` (a test checks).
FEATURES_VERSION = "4"  # 4: places (3号楼, 502室) and numbers but 119/120/110/… are no feature

# Content: digits, latin letters, CJK. Everything else splits segments (emoji are kept as
# their own one-character segments: 🔥 and 😭 say something).
_SEGMENT_RE = re.compile(r"[0-9a-z]+|[\u3400-\u9fff]+|[\U0001f300-\U0001faff\u2600-\u27bf]")
# Words or letters: a bare number ("1", a menu answer) says nothing to classify.
_HAS_CONTENT_RE = re.compile(r"[a-z\u3400-\u9fff]")
_CLAUSE_BREAK_RE = re.compile(r"[，。！？!?,.;；、~\n]")

# Words that open a marked scope for the rest of the clause (or until a "now" word).
SCOPE_CUES = frozenset(
    [
        "万一",
        "如果",
        "要是",
        "假如",
        "假设",
        "一旦",
        "担心",
        "担忧",
        "害怕",
        "生怕",
        "怕",
        "以防",
        "防止",
        "以免",
        "避免",
        "预防",
        "隐患",
        "上次",
        "上回",
        "之前",
        "以前",
        "去年",
        "前年",
        "曾经",
        "前几天",
        "前些天",
        "前阵子",
        "上个月",
        "上周",
        "昨天",
        "前天",
        "当年",
        "建议",
        "会不会",
        "演练",
        "培训",
        "宣传",
        "排查",
    ]
)
# Words that negate only what follows closely (the next two words).
NEGATION_CUES = frozenset(["没有", "没", "未", "不是", "并非", "并没有", "无", "没什么", "不再"])
# Words that close a scope: what follows is happening now.
NOW_CUES = frozenset(
    [
        "现在",
        "刚才",
        "刚刚",
        "此刻",
        "正在",
        "这会儿",
        "眼下",
        "目前",
        "又",
        "突然",
        "结果",
        "但是",
        "可是",
    ]
)
# Grammar words: pronouns, particles, auxiliaries, plain verbs of coming, going and looking.
# A message made of these only ('我到了', '在看', '他来了吗') says nothing of a problem, however
# the model weighs them: urgent reports are written in the first person and the present ('我被困
# 在电梯里了'), so 在, 了 and 我 lean urgent, and alone they would make a false alarm.
_FUNCTION_WORDS = (
    "我 你 您 他 她 它 我们 你们 他们 她们 咱 咱们 俺 大家 自己 人家 "
    "这 那 这个 那个 这里 那里 这边 那边 这儿 那儿 这样 那样 "
    "了 的 地 得 着 过 在 到 是 有 没 没有 不 也 都 就 还 又 再 才 很 太 挺 "
    "吧 呢 啊 吗 嘛 呀 哦 哈 啦 么 嗯 噢 哎 诶 "
    "去 来 看 看看 看到 看见 听 说 要 会 能 想 好 行 弄 搞 做 干 等 "
    "一下 一 个 下 正在 已经 现在 刚 刚才 刚刚 马上 然后 那么 什么 怎么 哪 哪里 谁"
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
# Numbers that do say something: the fire, ambulance and police lines, the city hotline.
EMERGENCY_NUMBERS = frozenset(["119", "120", "110", "12345", "12319"])
NEGATION_SPAN = 2
SCOPE_SPAN = 6  # voice text has no punctuation: a scope ends after this many words


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), lower case, common typos fixed, whitespace collapsed."""
    clean = " ".join(unicodedata.normalize("NFKC", text or "").lower().split())
    for wrong, right in _typos():
        clean = clean.replace(wrong, right)
    return clean


def has_content(text: str) -> bool:
    return bool(_HAS_CONTENT_RE.search(text))


@cache
def _typos() -> tuple[tuple[str, str], ...]:
    """Homophone typos of voice input and pinyin IMEs (data/typos.tsv), longest first."""
    pairs = []
    for line in (DATA_DIR / "typos.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            wrong, right = line.split("\t")[:2]
            pairs.append((wrong, right))
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))


# jieba's dictionary holds 349,046 words; the 269,000 seen fewer than 20 times in its corpus
# (rare names, idioms, technical terms) cost about 48 MB in every process that loads it, and
# leaving them out changes the classifier's figures by less than their noise (held-out top-1
# 95.0/91.8/95.1 % with them, 95.2/92.1/95.3 % without, same training data; README).
MIN_WORD_FREQ = 20


def jieba_dictionary() -> str:
    """jieba's own dictionary without its words rarer than MIN_WORD_FREQ, written once per
    machine beside jieba's cache (atomically: gunicorn workers may race)."""
    import jieba

    out = Path(tempfile.gettempdir()) / f"sidan-jieba-{jieba.__version__}-f{MIN_WORD_FREQ}.txt"
    if not out.exists():
        source = Path(jieba.__file__).with_name("dict.txt").read_text(encoding="utf-8")
        kept = [line for line in source.splitlines(keepends=True)
                if int(line.split()[1]) >= MIN_WORD_FREQ]  # fmt: skip
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, out)
    return str(out)


@cache
def tokenizer():
    """A private jieba tokenizer over jieba_dictionary(), with the project's user dictionary
    (data/userdict.txt)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer(dictionary=jieba_dictionary())
    tok.initialize()
    tok.load_userdict(str(DATA_DIR / "userdict.txt"))
    return tok


def _marked_words(text: str) -> list[tuple[str, bool]]:
    """(word, in a negated/hypothetical/past scope) for each jieba word of a normalised text;
    ("", False) ends each clause."""
    out: list[tuple[str, bool]] = []
    tok = tokenizer()
    for clause in _CLAUSE_BREAK_RE.split(text):
        scoped = 0
        negate_left = 0
        for seg in _SEGMENT_RE.findall(clause):
            if seg.isdigit() and seg not in EMERGENCY_NUMBERS:
                continue  # a number says nothing about the problem (see _PLACE_RE below)
            words = tok.lcut(seg, HMM=False) if seg[0] >= "\u3400" else [seg]
            for word in words:
                if word in NOW_CUES:
                    scoped = negate_left = 0
                    out.append((word, False))
                    continue
                out.append((word, scoped > 0 or negate_left > 0))
                scoped, negate_left = max(0, scoped - 1), max(0, negate_left - 1)
                if word in SCOPE_CUES:
                    scoped = SCOPE_SPAN
                elif word in NEGATION_CUES:
                    negate_left = NEGATION_SPAN
        out.append(("", False))
    return out


# "3号楼", "2单元", "502室", "十二栋", "8楼" (not the "楼" of "502楼上", upstairs of 502): where
# the problem is, never what it is. The urgent training messages name their building far more
# often than the calm ones (14 % against 3 %), while residents name it in calm reports too: as
# features, these words taught the danger model that a named place means danger, and
# '3号楼502楼上一直往下滴水' was filed urgent. The place is read from the message elsewhere
# (handlers/places.py); the classifier reads the problem. This pattern stays apart from that
# module's on purpose: the shipped model is fitted on these features, and a change to how the
# chat reads places must not change them silently (FEATURES_VERSION).
_PLACE_RE = re.compile(
    r"(?:\d+|[一二三四五六七八九十两百零]+)\s*(?:号楼|号院|栋|幢|座|单元|门洞|室|层|号|楼(?![上下道顶梯]))"
)


def without_places(text: str) -> str:
    """The normalised text with its building, unit, floor and room numbers cut out."""
    return _PLACE_RE.sub(" ", text)


_GRAMMAR_CHARS = frozenset(word for word in FUNCTION_WORDS if len(word) == 1)


def is_grammar(feature: str) -> bool:
    """A feature made of grammar words only: the word 在, the characters 我在 or 了。"""
    kind, _, body = feature.partition(":")
    body = body.lstrip("~")
    if kind == "w":
        return body in FUNCTION_WORDS
    return bool(body) and all(ch in _GRAMMAR_CHARS for ch in body)


def only_grammar(feats: list[str]) -> bool:
    """True when every word of a message's features is a grammar word (FUNCTION_WORDS)."""
    words = [f for f in feats if f.startswith("w:")]
    return bool(words) and all(is_grammar(f) for f in words)


def features(text: str) -> list[str]:
    """Feature strings of one normalised message (see the module docstring)."""
    words = _marked_words(without_places(text))
    feats = [("w:~" if marked else "w:") + word for word, marked in words if word]
    # Character n-grams within a clause, marked like the word they start in.
    chars: list[tuple[str, bool]] = []
    for word, marked in words:
        if word:
            chars.extend((ch, marked) for ch in word)
            continue
        for i in range(len(chars)):
            mark = "~" if chars[i][1] else ""
            gram = ""
            for ch, _ in chars[i : i + 3]:
                gram += ch
                feats.append(f"c{len(gram)}:{mark}{gram}")
        chars = []
    return feats
