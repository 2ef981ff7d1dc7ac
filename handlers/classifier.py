"""Resident message -> problem category (DESIGN §5) and urgency.

Category: multinomial naive Bayes over jieba words and character bigrams, learnt from
``data/training.tsv``, plus a weighted keyword table (``data/keywords.tsv``).
Urgency: rules from ``data/urgency_rules.tsv`` (an urgent phrase anywhere wins).

Everything is loaded lazily on the first call to :func:`classify` and cached; nothing
happens at import time and nothing is fetched over the network.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"

CATEGORY_NAMES: dict[str, str] = {
    "fire_safety": "消防安全",
    "elevator": "电梯",
    "water_supply": "供水/漏水",
    "drainage": "排水/污水",
    "power_lighting": "供电/照明",
    "sanitation": "环境卫生",
    "illegal_construction": "违规搭建",
    "parking_charging": "停车/充电",
    "noise": "噪音扰民",
    "neighbor_dispute": "邻里纠纷",
    "property_fee": "物业收费",
    "property_service": "物业服务",
    "greenery": "绿化",
    "public_facility": "公共设施",
    "security": "治安安全",
    "pets": "宠物",
    "elderly_help": "助老帮困/微心愿",
    "consultation": "政策法律咨询",
    "renovation": "改造/加装",
    "health": "卫生健康",
    "other": "其他",
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_NAMES)
URGENCIES: tuple[str, ...] = ("urgent", "difficult", "hot", "normal")

# Below this top-1 probability the conversation offers the top 3 as numbered choices.
CONFIDENT_THRESHOLD = 0.5

# Model hyper-parameters (chosen by cross-validation on the training set only).
NB_ALPHA = 1.0  # additive smoothing
KEYWORD_SCALE = 3.0  # log-score bonus per unit of keyword weight
TEMPERATURE = 2.0  # softmax temperature applied to the combined log scores
WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5

_SPLIT_RE = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_HAS_CONTENT_RE = re.compile(r"[0-9a-z\u3400-\u9fff]")
_CLAUSE_BREAK_RE = re.compile(r"[\s，。！？!?,.;；、~]")
_NEGATED_RE = re.compile(r"(没有|没|未|不是|并非|无|不|别)(闻到|看到|发现|见|再|有)?$")
_HYPOTHETICAL_RE = re.compile(r"万一|如果|要是|一旦|假如|担心|以防|防止|以免|隐患|会$|怕$")


@dataclass(frozen=True)
class Classification:
    """Result of :func:`classify`."""

    category: str
    urgency: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)

    @property
    def is_confident(self) -> bool:
        """False when the bot should let the resident pick from the top 3."""
        return self.confidence >= CONFIDENT_THRESHOLD

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES[self.category]


@dataclass
class _Rule:
    level: str
    pattern: re.Pattern[str]
    context: re.Pattern[str] | None


@dataclass
class _Model:
    tokenizer: object
    log_prior: dict[str, float]
    log_lik: dict[str, dict[str, float]]  # feature -> {category: log P(f|c)}
    log_unseen: dict[str, float]  # category -> log P(unseen feature | c)
    keyword_re: re.Pattern[str] | None
    keywords: dict[str, list[tuple[str, float]]]  # keyword -> [(category, weight)]
    rules: list[_Rule]


_model: _Model | None = None
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # gunicorn forks workers from a master that may be training the model in another thread;
    # a child would inherit the lock held by a thread that does not exist in it, for ever.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), lower case, collapse whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text or "").lower().split())


def _data_lines(name: str) -> list[list[str]]:
    rows = []
    for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


def load_training(name: str = "training.tsv") -> list[tuple[str, str, str]]:
    """Rows (text, category, urgency) of a labelled TSV in ``data/`` (header skipped)."""
    rows = _data_lines(name)
    return [(r[0], r[1], r[2]) for r in rows[1:] if len(r) >= 3]


@cache
def _stopwords() -> frozenset[str]:
    return frozenset(row[0] for row in _data_lines("stopwords.txt"))


def _make_tokenizer():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    tok.load_userdict(str(DATA_DIR / "userdict.txt"))
    return tok


def _features(tokenizer, text: str) -> Counter[str]:
    """Weighted bag of features: jieba words (w:) and character bigrams (b:)."""
    feats: Counter[str] = Counter()
    stopwords = _stopwords()
    for seg in _SPLIT_RE.split(text):
        if not seg:
            continue
        for word in tokenizer.lcut(seg, HMM=False):
            if word not in stopwords and not word.isdigit():
                feats["w:" + word] += WORD_WEIGHT
        for i in range(len(seg) - 1):
            feats["b:" + seg[i : i + 2]] += BIGRAM_WEIGHT
    return feats


def _train(tokenizer, rows, alpha: float = NB_ALPHA):
    counts: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
    docs: Counter[str] = Counter()
    for text, category, _urgency in rows:
        counts[category].update(_features(tokenizer, normalize(text)))
        docs[category] += 1
    vocab = set().union(*counts.values())
    total_docs = sum(docs.values())
    log_prior = {}
    log_unseen = {}
    log_lik: dict[str, dict[str, float]] = {f: {} for f in vocab}
    for c in CATEGORIES:
        # A flattened prior: class sizes in hand-written training data mean little.
        log_prior[c] = 0.3 * math.log((docs[c] + 1) / (total_docs + len(CATEGORIES)))
        denom = sum(counts[c].values()) + alpha * len(vocab)
        log_unseen[c] = math.log(alpha / denom)
        for f, n in counts[c].items():
            log_lik[f][c] = math.log((n + alpha) / denom)
    return log_prior, log_lik, log_unseen


def _load_keywords():
    keywords: dict[str, list[tuple[str, float]]] = {}
    for row in _data_lines("keywords.tsv"):
        word, category, weight = normalize(row[0]), row[1], float(row[2])
        if category not in CATEGORY_NAMES:
            raise ValueError(f"keywords.tsv: unknown category {category!r}")
        keywords.setdefault(word, []).append((category, weight))
    if not keywords:
        return None, keywords
    ordered = sorted(keywords, key=len, reverse=True)  # longest match wins at a position
    return re.compile("|".join(re.escape(k) for k in ordered)), keywords


def _load_rules() -> list[_Rule]:
    rules = []
    for row in _data_lines("urgency_rules.tsv"):
        context = re.compile(row[2]) if len(row) > 2 and row[2] else None
        rules.append(_Rule(row[0], re.compile(row[1]), context))
    return rules


def build_model(rows=None, alpha: float = NB_ALPHA, tokenizer=None) -> _Model:
    """Build a model (from ``training.tsv`` unless rows are given); used by cross-validation."""
    tokenizer = tokenizer or _make_tokenizer()
    rows = load_training() if rows is None else rows
    log_prior, log_lik, log_unseen = _train(tokenizer, rows, alpha)
    keyword_re, keywords = _load_keywords()
    return _Model(tokenizer, log_prior, log_lik, log_unseen, keyword_re, keywords, _load_rules())


def get_model() -> _Model:
    """The cached default model, built on first use (thread-safe)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = build_model()
    return _model


def _category_scores(model: _Model, text: str) -> dict[str, float] | None:
    """Combined log scores per category, or None when nothing in the text is known."""
    known = [(f, n) for f, n in _features(model.tokenizer, text).items() if f in model.log_lik]
    matched = model.keyword_re.findall(text) if model.keyword_re else []
    if not known and not matched:
        return None
    scores = dict(model.log_prior)
    for f, n in known:
        lik = model.log_lik[f]
        for c in CATEGORIES:
            scores[c] += n * lik.get(c, model.log_unseen[c])
    for word in matched:
        for c, weight in model.keywords[word]:
            scores[c] += KEYWORD_SCALE * weight
    return scores


def _softmax(scores: dict[str, float]) -> list[tuple[str, float]]:
    top = max(scores.values())
    exp = {c: math.exp((s - top) / TEMPERATURE) for c, s in scores.items()}
    total = sum(exp.values())
    return sorted(((c, e / total) for c, e in exp.items()), key=lambda x: -x[1])


def _guarded(text: str, start: int) -> bool:
    """True when the phrase at ``start`` is negated or hypothetical in its clause."""
    before = text[max(0, start - 8) : start]
    parts = _CLAUSE_BREAK_RE.split(before)
    clause = parts[-1] if parts else ""
    return bool(_NEGATED_RE.search(clause) or _HYPOTHETICAL_RE.search(clause))


def _rule_hits(rule: _Rule, text: str, guard: bool) -> bool:
    if rule.context is not None and not rule.context.search(text):
        return False
    return any(not guard or not _guarded(text, m.start()) for m in rule.pattern.finditer(text))


def urgency_of(text: str, category: str | None = None, model: _Model | None = None) -> str:
    """Urgency of a (normalised) message; ``category`` lets renovation default to difficult."""
    rules = (model or get_model()).rules
    levels = {r.level for r in rules if _rule_hits(r, text, guard=r.level == "urgent")}
    if "urgent" in levels:
        return "urgent"
    if "difficult_strong" in levels or category == "renovation":
        return "difficult"
    if "hot" in levels:
        return "hot"
    if "difficult" in levels:
        return "difficult"
    return "normal"


def classify(text: str, model: _Model | None = None) -> Classification:
    """Classify one resident message. Never raises on odd input (empty, emoji, huge)."""
    clean = normalize(text if isinstance(text, str) else "")[:2000]
    if not _HAS_CONTENT_RE.search(clean):
        return Classification("other", "normal", 0.0, [("other", 0.0)])
    model = model or get_model()
    scores = _category_scores(model, clean)
    if scores is None:
        ranked = [("other", 0.0)]
    else:
        ranked = [(c, round(p, 4)) for c, p in _softmax(scores)[:3]]
    category, confidence = ranked[0]
    return Classification(category, urgency_of(clean, category, model), confidence, ranked)
