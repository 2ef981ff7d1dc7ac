"""`sidan classify --retrain` and `--report`: learning from dispatchers' corrections (改类).

Every re-categorisation is a Correction row (models/corrections.py). --retrain refits the
model on the training files plus those rows and writes the artefact; --report prints the
model's cross-validated per-category recall, the live recall seen by dispatchers, and the
confusion pairs of real corrections. Both run inside an app context (they read the database).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from handlers.classifier import CATEGORY_NAMES, get_model, model_path, reset_model


def retrain(out: str | None = None, corrections: bool = True) -> str:
    """Refit with every dispatcher's correction folded in (none with `corrections` False: a
    database without tables); returns a summary line."""
    from handlers.clf_train import retrain as fit_and_save
    from models.corrections import labelled_examples

    path = Path(out) if out else model_path()
    extra = labelled_examples() if corrections else []
    arrays = fit_and_save(path, extra)
    if not out or Path(out) == model_path():
        reset_model()
    low, high = (float(x) for x in arrays["danger_band"])
    return (
        f"model written to {path}: {int(arrays['n_rows'])} examples "
        f"({len(extra)} from dispatchers' corrections); cross-validated top-1 "
        f"{float(arrays['cv_top1']):.3f}; danger question band {low:.2f}–{high:.2f}"
    )


def live_recall() -> dict[str, tuple[int, int]]:
    """Per final category: (tickets, tickets whose category a dispatcher had to correct)."""
    from models.corrections import Correction
    from models.tickets import Ticket

    corrected = {
        row.ticket_id
        for row in Correction.select(Correction.ticket).where(
            Correction.old_category != Correction.new_category
        )
    }
    total, fixed = Counter(), Counter()
    for ticket in Ticket.select(Ticket.id, Ticket.category):
        total[ticket.category] += 1
        fixed[ticket.category] += ticket.id in corrected
    return {c: (total[c], fixed[c]) for c in total}


def report(live: bool = True) -> str:
    """The report; with `live` False (a database without tables) the live columns are empty."""
    from models.corrections import confusion_pairs

    model = get_model()
    cv = dict(
        zip(
            model.arrays["cv_recall_classes"].tolist(),
            model.arrays["cv_recall"].tolist(),
            strict=True,
        )
    )
    live = live_recall() if live else {}
    lines = [
        f"model: {int(model.arrays['n_rows'])} training examples, cross-validated top-1 "
        f"{float(model.arrays['cv_top1']):.3f}",
        f"{'category':<22}{'CV recall':>10}{'tickets':>9}{'corrected':>11}{'live recall':>13}",
    ]
    for code in CATEGORY_NAMES:
        n, fixed = live.get(code, (0, 0))
        live_cell = f"{(n - fixed) / n:13.3f}" if n else f"{'-':>13}"
        lines.append(f"{code:<22}{cv.get(code, 0.0):10.3f}{n:9d}{fixed:11d}{live_cell}")
    pairs = confusion_pairs() if live else []
    lines.append("confusions in dispatchers' corrections (classified as -> corrected to):")
    lines += [f"  {old} -> {new}: {n}" for old, new, n in pairs] or ["  none yet"]
    return "\n".join(lines)
