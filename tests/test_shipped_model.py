"""The shipped model in models/: files, sizes, agreement, and its accuracy on FER-2013's test split
(../shared/fer2013/test, skipped when absent) by both truths, FER-2013's labels and FER+'s crowd majority.
The figures below are what the shipped model achieved (models/metrics.json, `python -m training.evaluate --tta
--ferplus ...`): evaluating it again must give them, to the face."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import MODELS, SHARED_FER, needs_shared_fer, needs_shipped_model
from fer_app.labels import EMOTIONS

pytestmark = needs_shipped_model

ACHIEVED_TTA_ACCURACY = 0.6913  # models/metrics.json of the shipped two-head recipe_ferplus_e18: its FER-2013 head (10-view TTA)
ACHIEVED_TTA_MACRO_F1 = 0.6683
ACHIEVED_FERPLUS_TTA_ACCURACY = 0.8538  # its crowd head (the app's) against FER+'s majority, 3,372 test faces


def test_shipped_files_are_complete_and_small_enough():
    for name in ("model.keras", "model.tflite", "config.json", "history.csv", "metrics.json",
                 "confusion_matrix.png", "MODEL_CARD.md"):
        assert (MODELS / name).is_file(), name
    for name in ("model.keras", "model.tflite"):
        assert (MODELS / name).stat().st_size <= 15 * 1024 * 1024, name
    cfg = json.loads((MODELS / "config.json").read_text())
    assert cfg["labels"] == list(EMOTIONS) and "temperature" in cfg and "temperature_tta" in cfg
    from fer_app.preprocess import TTA_VERSION

    assert cfg["tta"] == TTA_VERSION  # temperature_tta was fitted for the views the code averages
    check = json.loads((MODELS / "tflite_check.json").read_text())
    assert check["top1_agreement"] >= 0.995 and check["n"] >= 3589


def test_shipped_explanation_figures_describe_the_shipped_model():
    """The Model page shows models/explain_average.png and explain_metrics.json: they must come from this
    model.tflite and the head the app shows (``python -m benchmarks.explain_faithfulness --out models``)."""
    import hashlib

    metrics_path = MODELS / "explain_metrics.json"
    if not metrics_path.is_file():
        pytest.skip("no explanation figures shipped (the Model page says how to make them)")
    metrics = json.loads(metrics_path.read_text())
    assert (MODELS / "explain_average.png").is_file()
    assert metrics["model_sha256"] == hashlib.sha256((MODELS / "model.tflite").read_bytes()).hexdigest()
    assert metrics["head"] == json.loads((MODELS / "config.json").read_text()).get("app_head", "fer2013")
    assert metrics["faces"] == 3589 and set(metrics["average_maps"]) == set(EMOTIONS)


def test_history_has_both_phases():
    lines = (MODELS / "history.csv").read_text().strip().splitlines()
    phases = [line.split(",")[1] for line in lines[1:]]
    assert phases[0] == "head" and "finetune" in phases and len(phases) >= 5
    epochs = [int(line.split(",")[0]) for line in lines[1:]]
    assert epochs == list(range(1, len(epochs) + 1))  # one lineage, numbered through (training.ship)


@pytest.fixture(scope="module")
def test_results(tmp_path_factory):
    from fer_app.model import load_classifier
    from training.data import load_split
    from training.evaluate import both_truths

    split = load_split(SHARED_FER, "test", tmp_path_factory.mktemp("fer_cache"))
    return split, both_truths(load_classifier(), split, SHARED_FER / "ferplus_votes.csv", tta=True)[0]


@pytest.mark.slow
@needs_shared_fer
def test_accuracy_on_the_test_split_is_the_shipped_figure(test_results):
    _, m = test_results
    assert m["n"] == 3589
    # the same faces, model and code give the same answers: within one face of 3,589 (a float tie on another CPU)
    assert abs(m["accuracy"] - ACHIEVED_TTA_ACCURACY) < 1 / 3589
    assert abs(m["macro_f1"] - ACHIEVED_TTA_MACRO_F1) < 0.002
    shipped = json.loads((MODELS / "metrics.json").read_text())
    assert abs(shipped["accuracy"] - m["accuracy"]) < 1 / 3589  # metrics.json describes this model


@pytest.mark.slow
@needs_shared_fer
def test_crowd_majority_accuracy_is_the_shipped_figure(test_results):
    _, m = test_results
    f = m["ferplus"]
    assert f["n"] == 3372 and f["head"] == "crowd"
    assert f["accuracy"] >= ACHIEVED_FERPLUS_TTA_ACCURACY - 0.01 and m["accuracy"] >= ACHIEVED_TTA_ACCURACY - 0.01
    assert abs(f["accuracy"] - ACHIEVED_FERPLUS_TTA_ACCURACY) < 1 / 3372  # to the face, as above
    assert abs(json.loads((MODELS / "metrics.json").read_text())["ferplus"]["accuracy"] - f["accuracy"]) < 1 / 3372


@pytest.mark.slow
@needs_shared_fer
def test_the_apps_answer_is_judged_by_both_truths_as_shipped(test_results):
    """The app's answer (``balanced``, combined from the heads) on the same test faces: what metrics.json says."""
    _, m = test_results
    shipped = json.loads((MODELS / "metrics.json").read_text())["answer"]
    assert m["answer"]["head"] == shipped["head"] == json.loads((MODELS / "config.json").read_text())["app_head"]
    for truth, n in (("ferplus_majority", 3372), ("fer2013_labels", 3589)):
        assert m["answer"][truth]["n"] == n
        assert abs(m["answer"][truth]["accuracy"] - shipped[truth]["accuracy"]) < 1 / n


@pytest.mark.slow
@needs_shared_fer
def test_probabilities_are_calibrated(test_results):
    _, m = test_results
    assert m["ece"] <= 0.05


@pytest.mark.slow
@needs_shared_fer
def test_gamma_and_contrast_changes_cost_at_most_1_5_points(test_results):
    from fer_app.model import load_classifier
    from fer_app.preprocess import normalize_face
    from benchmarks.robustness import perturb
    from training.evaluate import evaluate

    split, clean = test_results
    rng = np.random.default_rng(1)
    changed = np.stack([normalize_face(perturb(f, g, c)) for f, g, c in
                        zip(split.x, rng.uniform(0.6, 1.6, len(split)), rng.uniform(0.6, 1.4, len(split)))])
    m = evaluate(load_classifier().with_head("fer2013"), changed, split.y, tta=True)
    assert clean["accuracy"] - m["accuracy"] <= 0.015
