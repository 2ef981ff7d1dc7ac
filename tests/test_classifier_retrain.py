"""Learning from dispatchers: `sidan classify --retrain` folds their corrections into the model,
`--report` prints per-category recall and the confusion pairs of real corrections."""

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import main
from handlers.classifier import classify, load_model
from models.corrections import Correction
from models.lifecycle import submit

# Invented words the training data has never seen, corrected to a category they do not suggest.
ODD = "小区东头的嘟嘟噜噜机又嘟嘟噜噜了"


@pytest.fixture
def sidan(config, monkeypatch, db):
    monkeypatch.setenv("DATABASE_URL", config.DATABASE_URL)
    monkeypatch.setenv("REDIS_URL", config.REDIS_URL)
    monkeypatch.setenv("REDIS_PREFIX", config.REDIS_PREFIX)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def _correct(demo, text, old, new, times=1):
    for _ in range(times):
        ticket = submit(demo.resident_1, text, category=old, urgency="normal")
        Correction.create(ticket=ticket, text=text, old_category=old, new_category=new,
                          old_urgency="normal", new_urgency="normal",
                          corrected_by=demo.dispatcher_1)  # fmt: skip
        ticket.category = new
        ticket.save()


def test_retrain_folds_the_corrections_into_a_new_model(sidan, demo, tmp_path):
    before = classify(ODD)
    assert before.category != "pets"
    _correct(demo, ODD, before.category, "pets")
    out = tmp_path / "model.npz"
    result = sidan("classify", "--retrain", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "1 from dispatchers' corrections" in result.output
    retrained = load_model(out)
    with np.load(out) as arrays:
        assert int(arrays["n_extra"]) == 1
    assert classify(ODD, model=retrained).category == "pets"
    assert classify(ODD).category == before.category  # the shipped model is untouched


def test_report_prints_recall_and_the_confusions_of_real_corrections(sidan, demo):
    _correct(demo, "小区路灯坏了", "public_facility", "power_lighting", times=2)
    submit(demo.resident_1, "楼道灯坏了", category="power_lighting", urgency="normal")
    out = sidan("classify", "--report").output
    assert "public_facility -> power_lighting: 2" in out
    line = next(row for row in out.splitlines() if row.startswith("power_lighting"))
    # CV recall, 3 tickets, 2 corrected, live recall 1/3
    assert line.split()[2:] == ["3", "2", "0.333"]
    assert "fire_safety" in out and "cross-validated" in out


def test_on_a_database_never_initialised_report_and_retrain_use_the_training_files_alone(
    tmp_path, monkeypatch, config
):
    """A fresh machine (no `sidan init-db` yet): no traceback, a note, and the work done."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("REDIS_URL", config.REDIS_URL)
    runner = CliRunner()
    report = runner.invoke(main, ["classify", "--report"], catch_exceptions=False)
    assert report.exit_code == 0
    assert "sidan init-db" in report.output and "none yet" in report.output
    out = tmp_path / "model.npz"
    retrain = runner.invoke(main, ["classify", "--retrain", "--out", str(out)],
                            catch_exceptions=False)  # fmt: skip
    assert retrain.exit_code == 0
    assert "0 from dispatchers' corrections" in retrain.output and out.exists()
