"""Training the classifier (scikit-learn) and exporting it as a small numpy artefact.

Only `sidan classify --retrain`, the tests and the benchmarks import this module: the running
app loads the artefact (handlers/data/model.npz) with numpy alone, see handlers/classifier.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from handlers.clf_features import DATA_DIR, FEATURES_VERSION

# The training data, oldest first (see data/corpus/PROVENANCE.md).
TRAINING_FILES = (
    "training.tsv",
    "corpus/train_a.tsv",
    "corpus/train_b.tsv",
    "corpus/train_c.tsv",
    "corpus/train_d.tsv",
    "corpus/train_e.tsv",
    "corpus/train_f.tsv",
    "corpus/train_h.tsv",
    "corpus/train_i.tsv",
    "corpus/train_j.tsv",
    "corpus/train_l.tsv",
    "corpus/train_m.tsv",
    "corpus/train_n.tsv",
)
# Dispatchers' corrections exported by `sidan classify --retrain` (may be absent).
CORRECTIONS_FILE = "corrections.tsv"


def load_rows(path: Path | str) -> list[tuple[str, str, str]]:
    """Rows (text, category, urgency) of a labelled TSV with a header line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if lines and lines[0].split("\t") != ["text", "category", "urgency"]:
        raise ValueError(f"{path}: the first line must be text<TAB>category<TAB>urgency")
    rows = []
    for line in lines[1:]:
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0].strip() and not line.startswith("#"):
            rows.append((parts[0].strip(), parts[1].strip(), parts[2].strip()))
    return rows


def training_files() -> list[Path]:
    files = [DATA_DIR / name for name in TRAINING_FILES]
    if (DATA_DIR / CORRECTIONS_FILE).exists():
        files.append(DATA_DIR / CORRECTIONS_FILE)
    return files


def training_rows() -> list[tuple[str, str, str]]:
    """All training rows; a later file's label wins for the same (normalised) text."""
    from handlers.clf_features import normalize

    by_text: dict[str, tuple[str, str, str]] = {}
    for path in training_files():
        for row in load_rows(path):
            by_text[normalize(row[0])] = row
    return list(by_text.values())


def data_fingerprint() -> str:
    """Hash of everything the model is learnt from, stored in the artefact."""
    digest = hashlib.sha256()
    for path in training_files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for name in ("userdict.txt", "typos.tsv"):
        digest.update((DATA_DIR / name).read_bytes())
    digest.update(FEATURES_VERSION.encode())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------- fitting

# Hyper-parameters, chosen by 5-fold cross-validation on the training data (bench/).
CATEGORY_C = 1.0  # LinearSVC regularisation for the category model
DANGER_C = 10.0  # LogisticRegression (classes balanced) for the danger (urgent) model
LEVEL_C = 0.5  # LinearSVC for difficult / hot / normal among the non-urgent
MIN_DF = 2  # a feature seen in one message only is noise (and triples the artefact)
FOLDS = 5
# The danger band: above HIGH the message is urgent; between LOW and HIGH the bot asks.
# HIGH keeps false alarms at FALSE_URGENT_BUDGET of non-urgent messages in cross-validation;
# LOW asks for at most MISS_BUDGET of urgent messages to be missed outright.
FALSE_URGENT_BUDGET = 0.01
MISS_BUDGET = 0.002


def _ident(x):
    return x


def _folds(labels):
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0).split(labels, labels)


def _softmax_rows(scores, temp):
    import numpy as np

    z = scores * temp
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_temperature(scores, gold_index) -> float:
    """The softmax temperature that minimises the log-loss of out-of-fold decision scores."""
    import numpy as np

    best = (float("inf"), 1.0)
    for temp in (1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20):
        p = _softmax_rows(scores, temp)[np.arange(len(gold_index)), gold_index]
        best = min(best, (-np.mean(np.log(p + 1e-12)), float(temp)))
    return best[1]


def _danger_band(p, is_urgent) -> tuple[float, float]:
    """(low, high) thresholds on out-of-fold danger probabilities (see the budgets above)."""
    import numpy as np

    neg = np.sort(p[~is_urgent])[::-1]
    pos = np.sort(p[is_urgent])
    high = float(neg[int(FALSE_URGENT_BUDGET * len(neg))]) if len(neg) else 0.5
    low = float(pos[int(MISS_BUDGET * len(pos))]) if len(pos) else 0.5
    low = min(low, high)
    return max(low, 0.01), max(high, 0.05)


def _models():
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    return (
        lambda: LinearSVC(C=CATEGORY_C),
        lambda: LogisticRegression(C=DANGER_C, solver="liblinear", class_weight="balanced"),
        lambda: LinearSVC(C=LEVEL_C),
    )


def cross_validated(rows):
    """Out-of-fold category scores and danger probabilities for ``rows`` (for calibration)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from handlers.clf_features import features, normalize

    feats = np.array([features(normalize(t)) for t, _, _ in rows], dtype=object)
    cats = np.array([c for _, c, _ in rows])
    urgent = np.array([u == "urgent" for _, _, u in rows])
    make_cat, make_danger, _ = _models()
    classes = np.unique(cats)
    cat_scores = np.zeros((len(rows), len(classes)))
    danger = np.zeros(len(rows))
    for train, test in _folds(cats):
        vec = TfidfVectorizer(analyzer=_ident, sublinear_tf=True, min_df=MIN_DF)
        x_train = vec.fit_transform(feats[train])
        x_test = vec.transform(feats[test])
        model = make_cat().fit(x_train, cats[train])
        index = np.searchsorted(classes, model.classes_)
        cat_scores[np.ix_(test, index)] = model.decision_function(x_test)
        danger[test] = make_danger().fit(x_train, urgent[train]).predict_proba(x_test)[:, 1]
    return classes, cat_scores, danger, cats, urgent


def fit(rows) -> dict:
    """Fit the three models on ``rows`` and return the artefact's arrays (see classifier.py)."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from handlers.clf_features import features, normalize

    classes, oof_scores, oof_danger, cats, urgent = cross_validated(rows)
    gold = np.searchsorted(classes, cats)
    temp = _fit_temperature(oof_scores, gold)
    low, high = _danger_band(oof_danger, urgent)

    feats = [features(normalize(t)) for t, _, _ in rows]
    vec = TfidfVectorizer(analyzer=_ident, sublinear_tf=True, min_df=MIN_DF, dtype=np.float32)
    x = vec.fit_transform(feats)
    make_cat, make_danger, make_level = _models()
    cat = make_cat().fit(x, cats)
    danger = make_danger().fit(x, urgent)
    levels = np.array([u for _, _, u in rows])
    calm = ~urgent
    level = make_level().fit(x[calm], levels[calm])
    level_coef = level.coef_ if len(level.classes_) > 2 else np.vstack([-level.coef_, level.coef_])
    level_bias = (
        level.intercept_
        if len(level.classes_) > 2
        else np.concatenate([-level.intercept_, level.intercept_])
    )
    vocab = vec.get_feature_names_out()
    oof_top1 = classes[np.argmax(oof_scores, axis=1)]
    recall = {c: float(np.mean(oof_top1[cats == c] == c)) for c in classes}
    return {
        "vocab": np.array(vocab, dtype=str),
        "idf": vec.idf_.astype(np.float32),
        "cat_classes": np.array(cat.classes_, dtype=str),
        "cat_coef": cat.coef_.T.astype(np.float32),
        "cat_bias": cat.intercept_.astype(np.float32),
        "cat_temp": np.float32(temp),
        "danger_coef": danger.coef_[0].astype(np.float32),
        "danger_bias": np.float32(danger.intercept_[0]),
        "danger_band": np.array([low, high], dtype=np.float32),
        "level_classes": np.array(level.classes_, dtype=str),
        "level_coef": np.asarray(level_coef).T.astype(np.float32),
        "level_bias": np.asarray(level_bias).astype(np.float32),
        "cv_top1": np.float32(np.mean(oof_top1 == cats)),
        "cv_recall_classes": np.array(list(recall), dtype=str),
        "cv_recall": np.array(list(recall.values()), dtype=np.float32),
        "n_rows": np.int64(len(rows)),
    }


def retrain(path: Path, extra_rows=()) -> dict:
    """Fit on the training files plus ``extra_rows`` (dispatchers' corrections); save to path."""
    import numpy as np

    from handlers.classifier import CATEGORIES, URGENCIES
    from handlers.clf_features import normalize

    by_text = {normalize(row[0]): row for row in training_rows()}
    extra = [row for row in extra_rows if row[1] in CATEGORIES and row[2] in URGENCIES]
    by_text.update((normalize(row[0]), row) for row in extra)  # a dispatcher's label wins
    arrays = fit(list(by_text.values()))
    arrays["fingerprint"] = np.array(data_fingerprint())
    arrays["n_extra"] = np.int64(len(extra))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return arrays
