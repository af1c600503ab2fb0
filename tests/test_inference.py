"""fer_app on the shipped model: classifier, thread safety, backends, pipeline results, drawing."""

from __future__ import annotations

import csv
import json
import shutil
import threading

import numpy as np
import pytest

from conftest import MODELS, SHARED_PHOTOS, needs_photos, needs_shipped_model
from fer_app.labels import EMOTIONS

pytestmark = needs_shipped_model
skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def clf():
    from fer_app.model import load_classifier

    return load_classifier()


def faces(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (rng.integers(40, 200),) * 2 + (3,), dtype=np.uint8) for _ in range(n)]


def test_classifier_is_loaded_once_and_returns_distributions(clf):
    from fer_app.model import load_classifier

    assert load_classifier() is clf
    p = clf.predict_proba(faces(5))
    assert p.shape == (5, len(EMOTIONS))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert clf.predict_proba([]).shape == (0, len(EMOTIONS))


def test_concurrent_calls_give_the_same_answers_as_serial_ones(clf):
    batches = [faces(4, seed=s) for s in range(8)]
    serial = [clf.predict_proba(b) for b in batches]
    out = [None] * len(batches)

    def work(i):
        for _ in range(3):
            out[i] = clf.predict_proba(batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(serial, out):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_every_call_into_the_interpreter_holds_the_lock(clf, monkeypatch):
    """What makes the concurrent test above pass by design rather than by luck: LiteRT's interpreter keeps its
    tensors between set_tensor and invoke, so two threads in it at once could swap their inputs."""
    real, held = clf._raw_tflite, []
    monkeypatch.setattr(clf, "_raw_tflite", lambda x: (held.append(clf._lock.locked()), real(x))[1])
    clf.predict_proba(faces(3))
    clf.with_head("fer2013").predict_proba(faces(2), tta=True)  # a head's view shares the interpreter and its lock
    assert held and all(held)


def test_tflite_and_keras_backends_agree():
    from fer_app.model import EmotionClassifier

    crops = faces(12)
    k = EmotionClassifier(backend="keras").predict_proba(crops)
    t = EmotionClassifier(backend="tflite").predict_proba(crops)
    assert (k.argmax(1) == t.argmax(1)).all()
    np.testing.assert_allclose(k, t, atol=1e-3)


def test_tta_temperature_and_mirror_invariance(clf):
    crops = faces(6)
    mirrored = [c[:, ::-1] for c in crops]
    np.testing.assert_allclose(clf.predict_proba(crops, tta=True), clf.predict_proba(mirrored, tta=True), atol=1e-5)


def test_config_that_disagrees_with_the_code_is_refused(tmp_path):
    from fer_app.model import EmotionClassifier, ModelLoadError

    shutil.copy(MODELS / "model.tflite", tmp_path)
    cfg = json.loads((MODELS / "config.json").read_text())
    cfg["labels"] = list(reversed(cfg["labels"]))
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="label order"):
        EmotionClassifier(tmp_path)
    with pytest.raises(ModelLoadError, match="no model config"):
        EmotionClassifier(tmp_path / "empty")


def test_pipeline_results_are_plain_data_and_the_drawing_is_a_copy():
    from fer_app.draw import annotate
    from fer_app.pipeline import analyze

    img = np.ascontiguousarray(np.hstack([skdata.astronaut(), skdata.astronaut()[:, ::-1]]))
    before = img.copy()
    found = analyze(img)
    assert len(found) == 2 and found[0].box[0] < found[1].box[0]  # left to right
    for f in found:
        assert set(f.probabilities) == set(EMOTIONS)
        assert abs(sum(f.probabilities.values()) - 1) < 1e-6
        assert f.emotion == max(f.probabilities, key=f.probabilities.get)
        json.dumps(f.to_dict())
    drawn = annotate(img, found)
    assert np.array_equal(img, before) and drawn.shape == img.shape and not np.array_equal(drawn, img)
    assert analyze(skdata.coffee()) == []


@needs_photos
@pytest.mark.slow
def test_labelled_photos_smoke():
    """15 photos carry an obvious emotion: the label should be among the top two for most of them,
    and every broad smile should read as happy."""
    from fer_app.pipeline import analyze

    rows = [r for r in csv.DictReader(open(SHARED_PHOTOS / "labels.csv")) if r["emotion"]]
    top2, happy_ok, happy_n = 0, 0, 0
    for r in rows:
        found = analyze(SHARED_PHOTOS / r["filename"], tta=True)
        assert found, r["filename"]
        main = max(found, key=lambda f: f.box[2] * f.box[3])
        ranked = sorted(main.probabilities, key=main.probabilities.get, reverse=True)
        top2 += r["emotion"] in ranked[:2]
        if r["emotion"] == "happy":
            happy_n += 1
            happy_ok += ranked[0] == "happy"
    assert top2 >= 0.7 * len(rows), f"{top2}/{len(rows)}"
    assert happy_ok >= happy_n - 1


def test_tta_views_are_the_documented_shifts_and_mirrors():
    from fer_app.preprocess import TTA_SHIFTS, mean_over_views, shift_faces, tta_views

    x = np.arange(2 * 48 * 48, dtype=np.uint8).reshape(2, 48, 48, 1)
    v = tta_views(x)
    assert v.shape == (2 * len(TTA_SHIFTS) * 2, 48, 48, 1)
    np.testing.assert_array_equal(v[:2], x)  # first view: the face itself
    np.testing.assert_array_equal(v[2 * len(TTA_SHIFTS):2 * len(TTA_SHIFTS) + 2], x[:, :, ::-1])
    s = shift_faces(x, 1, -1)  # the window moves down 1, left 1: out[r, c] = x[r + 1, c - 1]
    np.testing.assert_array_equal(s[:, :-1, 1:], x[:, 1:, :-1])
    np.testing.assert_array_equal(s[:, -1, 1:], x[:, -1, :-1])  # edges repeat
    np.testing.assert_array_equal(s[:, :-1, 0], x[:, 1:, 0])
    # mean_over_views undoes the layout: view after view, each holding every face in order
    per_view = np.random.default_rng(0).random((2 * len(TTA_SHIFTS), 2, 7))
    np.testing.assert_allclose(mean_over_views(np.concatenate(per_view), 2), per_view.mean(axis=0))


def test_tta_prediction_is_the_calibrated_mean_over_the_views(clf):
    """For each head of the network (the app's combined answer is made of them: tests/test_real_faces.py)."""
    from fer_app.calibration import apply_temperature
    from fer_app.preprocess import prepare_batch, tta_views

    x = prepare_batch(faces(3))
    for head in clf.network_heads:
        one = clf.with_head(head)
        per_view = one.predict_raw(tta_views(x)).reshape(-1, 3, 7)
        expected = apply_temperature(per_view.mean(axis=0), one.temperature_tta)
        np.testing.assert_allclose(one.predict_prepared(x, tta=True), expected, atol=1e-6)
    assert not np.allclose(per_view[0], per_view[1], atol=1e-4)  # the views really differ
