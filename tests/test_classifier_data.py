"""The classifier's training data and shipped model: well-formed, apart from the held-out sets,
and the model in handlers/data/model.npz is the one the data produces."""

import re
from pathlib import Path

import numpy as np

from handlers.classifier import CATEGORY_NAMES, SHIPPED_MODEL, URGENCIES
from handlers.clf_features import normalize
from handlers.clf_train import data_fingerprint, load_rows, training_files, training_rows

HELD_OUT = [
    Path(__file__).parent / "data" / n
    for n in (
        "labelled_messages.tsv",
        "heldout_dev.tsv",
        "heldout_blind.tsv",
        "heldout_fresh.tsv",
        "heldout_unseen.tsv",
        "heldout_sixth.tsv",
    )
]
NEAR_COPY = 0.6  # character-bigram Jaccard similarity


def _bigrams(text: str) -> set[str]:
    t = re.sub(r"[^0-9a-z\u3400-\u9fff]", "", normalize(text))
    return {t[i : i + 2] for i in range(len(t) - 1)} or {t}


def test_every_training_row_has_a_known_category_and_urgency():
    for path in training_files():
        for text, category, urgency in load_rows(path):
            assert category in CATEGORY_NAMES, (path.name, text)
            assert urgency in URGENCIES, (path.name, text)


def test_the_training_data_is_large_and_covers_every_category():
    rows = training_rows()
    assert len(rows) >= 3500
    per_category = {c: 0 for c in CATEGORY_NAMES}
    for _, category, _ in rows:
        per_category[category] += 1
    assert min(per_category.values()) >= 80
    assert sum(u == "urgent" for _, _, u in rows) >= 400


def test_no_held_out_message_or_near_copy_is_in_the_training_data():
    held = [_bigrams(t) for path in HELD_OUT for t, _, _ in load_rows(path)]
    leaks = [
        text
        for text, _, _ in training_rows()
        if any(len(g & h) / len(g | h) >= NEAR_COPY for g in [_bigrams(text)] for h in held)
    ]
    assert not leaks


def test_the_shipped_model_is_fitted_on_the_current_data():
    with np.load(SHIPPED_MODEL) as arrays:
        assert str(arrays["fingerprint"]) == data_fingerprint(), (
            "training data changed: run `sidan classify --retrain --out handlers/data/model.npz`"
        )
        assert int(arrays["n_rows"]) == len(training_rows())
        assert list(arrays["cat_classes"]) == sorted(CATEGORY_NAMES)
