"""Resident message -> problem category (DESIGN §5), urgency, and the danger signal.

Three linear models over the same TF-IDF features (jieba words and character 1-3-grams with
negation/tense scopes marked, see handlers/clf_features.py), learnt with scikit-learn by
handlers/clf_train.py and shipped as a numpy artefact (data/model.npz):

- category: a linear SVM over the 21 categories; a softmax of its scores (temperature fitted by
  cross-validation) gives the confidence and the top 3;
- danger: a logistic regression for "danger to people right now" (urgent). Above the band's
  high edge the message is urgent; inside the band ``urgency_unsure`` is set and the chat asks
  the one-tap danger question; both edges are chosen by cross-validation;
- level: a linear SVM for difficult / hot / normal among the messages that are not urgent.

Run time needs numpy and jieba only. Everything loads lazily on the first call to
:func:`classify` (or :func:`get_model`) and is cached; nothing is fetched over the network.
A missing or stale artefact (its training data changed) is rebuilt in memory with a warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from handlers.clf_features import (
    DATA_DIR,
    features,
    has_content,
    is_grammar,
    normalize,
    only_grammar,
    tokenizer,
)

log = logging.getLogger(__name__)

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
MAX_CHARS = 2000

# The fitted artefact; SIDAN_CLASSIFIER_MODEL points elsewhere (e.g. one retrained with the
# dispatchers' corrections in var/).
SHIPPED_MODEL = DATA_DIR / "model.npz"

__all__ = [
    "CATEGORIES", "CATEGORY_NAMES", "CONFIDENT_THRESHOLD", "URGENCIES", "Classification",
    "classify", "get_model", "model_path", "normalize",
]  # fmt: skip


@dataclass(frozen=True)
class Classification:
    """Result of :func:`classify`.

    ``danger`` is the model's probability that someone is in danger right now; when it falls
    inside the uncertain band ``urgency_unsure`` is True and ``urgency`` is what the message is
    if the answer is no (the chat then asks the one-tap danger question).
    """

    category: str
    urgency: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    danger: float = 0.0
    urgency_unsure: bool = False

    @property
    def is_confident(self) -> bool:
        """False when the bot should let the resident pick from the top 3."""
        return self.confidence >= CONFIDENT_THRESHOLD

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES[self.category]


# A message with at most this many words that are not grammar words is "of few words".
FEW_WORDS = 2


class _Model:
    """The artefact's arrays, ready for scoring one message."""

    def __init__(self, arrays) -> None:
        import numpy as np

        self.np = np
        vocab = arrays["vocab"].tolist()
        self.index = {f: i for i, f in enumerate(vocab)}
        # Features made of grammar words only (w:在, c2:我在): no evidence of danger alone.
        self.grammar = np.fromiter((is_grammar(f) for f in vocab), dtype=bool, count=len(vocab))
        self.content_word = np.fromiter(
            (f.startswith("w:") and not is_grammar(f) for f in vocab), dtype=bool, count=len(vocab)
        )
        self.idf = arrays["idf"]
        self.cat_classes = arrays["cat_classes"].tolist()
        self.cat_coef = arrays["cat_coef"]
        self.cat_bias = arrays["cat_bias"]
        self.cat_temp = float(arrays["cat_temp"])
        self.danger_coef = arrays["danger_coef"]
        self.danger_bias = float(arrays["danger_bias"])
        self.danger_low, self.danger_high = (float(x) for x in arrays["danger_band"])
        self.level_classes = arrays["level_classes"].tolist()
        self.level_coef = arrays["level_coef"]
        self.level_bias = arrays["level_bias"]
        self.fingerprint = str(arrays["fingerprint"]) if "fingerprint" in arrays else ""
        # The rest, for reports; not the vocabulary (2 MB as a numpy array), read into the index.
        self.arrays = {k: v for k, v in arrays.items() if k != "vocab"}

    def vector(self, text: str):
        """(feature indices, TF-IDF weights): sublinear tf, idf, l2 norm, like sklearn's."""
        feats = features(text)
        known = [f for f in feats if f in self.index]
        if all(f.startswith("c1:") for f in known) or only_grammar(feats):
            return None  # single characters or grammar words only: nothing understood
        counts = Counter(self.index[f] for f in known)
        idx = self.np.fromiter(counts.keys(), dtype=self.np.int64, count=len(counts))
        tf = self.np.fromiter(counts.values(), dtype=self.np.float32, count=len(counts))
        w = (1.0 + self.np.log(tf)) * self.idf[idx]
        return idx, w / self.np.linalg.norm(w)

    def scores(self, text: str):
        """(category probabilities in cat_classes order, danger probability, level) or None."""
        vec = self.vector(text)
        if vec is None:
            return None
        idx, w = vec
        cat = w @ self.cat_coef[idx] + self.cat_bias
        z = (cat - cat.max()) * self.cat_temp
        probs = self.np.exp(z)
        probs /= probs.sum()
        coef = self.danger_coef[idx]
        logit = float(w @ coef)
        # In a message of few words, danger must also stand without the grammar words: 在, 了
        # and 我 lean urgent in the model (urgent reports are told in the first person and the
        # present), so '我在楼下' scored 0.87 on them alone. The lower of the two scores counts.
        # A longer message has enough words of its own for the model to weigh.
        grammar = self.grammar[idx]
        if grammar.any() and int(self.content_word[idx].sum()) <= FEW_WORDS:
            content = ~grammar
            norm = float(self.np.linalg.norm(w[content]))
            logit = min(logit, float(w[content] @ coef[content]) / norm if norm else -math.inf)
        logit += self.danger_bias
        danger = 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0
        level = self.level_classes[int(self.np.argmax(w @ self.level_coef[idx] + self.level_bias))]
        return probs, danger, level


_model: _Model | None = None
_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # gunicorn forks workers from a master that may be loading the model in another thread;
    # a child would inherit the lock held by a thread that does not exist in it, for ever.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


def model_path() -> Path:
    return Path(os.environ.get("SIDAN_CLASSIFIER_MODEL") or SHIPPED_MODEL)


def load_model(path: Path | None = None) -> _Model:
    """The artefact at ``path``; rebuilt in memory (slow, logged) when missing or stale."""
    import numpy as np

    from handlers.clf_train import data_fingerprint

    tokenizer()  # jieba's dictionary: part of loading, not of the first message
    path = path or model_path()
    if path.exists():
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        if str(arrays.get("fingerprint", "")) == data_fingerprint():
            return _Model(arrays)
        log.warning("classifier model %s is stale (training data changed); refitting", path)
    else:
        log.warning("classifier model %s is missing; fitting one in memory", path)
    return build_model()


def build_model(rows=None) -> _Model:
    """Fit a model in memory (from the training files unless rows are given)."""
    from handlers.clf_train import data_fingerprint, fit, training_rows

    arrays = fit(training_rows() if rows is None else rows)
    arrays["fingerprint"] = data_fingerprint() if rows is None else ""
    return _Model(arrays)


def get_model() -> _Model:
    """The cached default model, loaded on first use (thread-safe)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = load_model()
    return _model


def reset_model() -> None:
    """Forget the cached model (after a retrain); the next call loads it again."""
    global _model
    with _lock:
        _model = None


# Seconds spent in `classify` by the current message's handling, when someone collects them
# (bot.handling feeds the Prometheus histogram; handlers know nothing of metrics).
_spent: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "classifier_spent", default=None
)


@contextlib.contextmanager
def timing():
    """Collect the time every `classify` call in this context takes: yields the list."""
    token = _spent.set([])
    try:
        yield _spent.get()
    finally:
        _spent.reset(token)


def classify(text: str, model: _Model | None = None) -> Classification:
    """Classify one resident message. Never raises on odd input (empty, emoji, huge)."""
    started = time.perf_counter()
    try:
        return _classify(text, model)
    finally:
        spent = _spent.get()
        if spent is not None:
            spent.append(time.perf_counter() - started)


def _classify(text: str, model: _Model | None) -> Classification:
    clean = normalize(text if isinstance(text, str) else "")[:MAX_CHARS]
    if not has_content(clean):
        return Classification("other", "normal", 0.0, [("other", 0.0)])
    model = model or get_model()
    scored = model.scores(clean)
    if scored is None:
        return Classification("other", "normal", 0.0, [("other", 0.0)])
    probs, danger, level = scored
    top = model.np.argsort(-probs)[:3]
    ranked = [(model.cat_classes[i], round(float(probs[i]), 4)) for i in top]
    category, confidence = ranked[0]
    unsure = model.danger_low <= danger < model.danger_high
    urgency = "urgent" if danger >= model.danger_high else level
    return Classification(category, urgency, confidence, ranked, round(danger, 4), unsure)
