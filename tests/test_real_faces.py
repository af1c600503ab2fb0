"""The app's answer on real photographs: the shipped model on ../shared/real_faces (skipped without it), the
combined answer's arithmetic, and one answer across the Photos path, the CLI and the video/webcam engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import MODELS, SHARED, needs_shipped_model, run_cli
from fer_app.answers import combine, combine_spec
from fer_app.labels import EMOTIONS, INDEX

REAL_FACES = SHARED / "real_faces"
needs_real_faces = pytest.mark.skipif(not (REAL_FACES / "labels.csv").is_file(), reason="../shared/real_faces not present")
SHIPPED = json.loads((MODELS / "real_faces.json").read_text()) if (MODELS / "real_faces.json").is_file() else None


def test_dividing_by_the_prior_is_bayes_rule_for_a_uniform_prior():
    p = np.array([[0.5, 0.3, 0.2]])
    prior = [0.6, 0.3, 0.1]
    out = combine({"a": p}, {"a": 1.0}, {"a": prior}, 1.0)
    expected = (p / prior) / (p / prior).sum()
    np.testing.assert_allclose(out, expected)
    assert out.argmax() == 2  # the rare class the head under-predicts wins once its prior is taken out
    # power 0 leaves the head as it is; two heads with equal weights give their normalised geometric mean
    np.testing.assert_allclose(combine({"a": p}, {"a": 1.0}, {"a": prior}, 0.0), p)
    q = np.array([[0.2, 0.2, 0.6]])
    g = np.sqrt(p * q)
    np.testing.assert_allclose(combine({"a": p, "b": q}, {"a": 0.5, "b": 0.5}), g / g.sum())
    with pytest.raises(ValueError, match="positive weight"):
        combine({"a": p}, {"a": 0.0})


@needs_shipped_model
def test_the_shipped_answer_is_the_crowd_head_divided_by_its_prior():
    from fer_app.model import load_classifier

    clf = load_classifier()
    config = json.loads((MODELS / "config.json").read_text())
    assert clf.head == config["app_head"] == "balanced" and clf.network_heads == ("fer2013", "crowd")
    spec = config["heads"]["balanced"]
    assert spec["combine"] == {"crowd": 1.0} and spec["prior_power"] == 1.0
    assert max(spec["priors"]["crowd"]) == spec["priors"]["crowd"][INDEX["neutral"]]  # the cause it corrects
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1), dtype=np.uint8)
    heads = clf.predict_heads(faces, tta=True)
    np.testing.assert_allclose(clf.predict_prepared(faces, tta=True), combine_spec(heads, spec), atol=1e-9)
    crowd = clf.with_head("crowd").predict_prepared(faces, tta=True)
    np.testing.assert_allclose(heads["crowd"], crowd, atol=1e-9)
    assert not np.allclose(crowd, clf.predict_prepared(faces, tta=True), atol=1e-3)


@needs_shipped_model
@needs_real_faces
def test_photos_cli_and_video_engine_give_the_same_answer(tmp_path):
    """A real angry photo through fer_app.analyze (the Photos page), `fer predict --json` and the video/webcam
    engine (one frame, 10 views, no smoothing history): the same head and the same probabilities."""
    from fer_app.io import load_image
    from fer_app.pipeline import PHOTO_DETECTOR, analyze
    from fer_app.video.tracker import VideoAnalyzer

    photo = REAL_FACES / "photos" / "HTownGirl17_emotion_recognition__angrygirl.jpg"
    face = max(analyze(photo, tta=True), key=lambda f: f.box[2] * f.box[3])
    r = run_cli("-m", "fer_app", "predict", str(photo), "--json")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["head"] == "balanced"
    cli_face = max(record["faces"], key=lambda f: f["box"][2] * f["box"][3])
    assert cli_face["box"] == list(face.box)
    for e in EMOTIONS:
        assert abs(cli_face["probabilities"][e] - face.probabilities[e]) < 1e-4
    engine = VideoAnalyzer(detector=PHOTO_DETECTOR, min_face=20, tta=True, detect_side=4096)  # the photo path: full size
    video_face = max(engine.process(load_image(photo)).faces, key=lambda f: f.box[2] * f.box[3])
    assert video_face.box == face.box and video_face.emotion == face.emotion
    np.testing.assert_allclose([video_face.probabilities[e] for e in EMOTIONS],
                               [face.probabilities[e] for e in EMOTIONS], atol=1e-6)


@pytest.mark.slow
@needs_shipped_model
@needs_real_faces
def test_the_app_names_the_real_faces_it_shipped_with():
    """The shipped model through the Photos page's path on the development photos: at most one photo in twenty
    fewer named right than models/real_faces.json records, and that record is this model's app answer."""
    from benchmarks.real_faces import largest_faces, read_labels, real_face_scores
    from fer_app.model import load_classifier

    assert SHIPPED is not None and SHIPPED["app"] == load_classifier().head
    rows = read_labels(REAL_FACES)
    assert len(rows) == SHIPPED["photos"] == 132
    y = np.array([INDEX[e] for _, e in rows])
    x, found = largest_faces(REAL_FACES, rows)
    scores = real_face_scores(load_classifier().predict_prepared(x, tta=True), found, y)
    shipped = SHIPPED["results"][SHIPPED["app"]]
    assert scores["top1"] >= shipped["top1"] - len(rows) / 20
    assert abs(scores["top1"] - shipped["top1"]) <= 1  # the record describes this model (a float tie at most)
    assert scores["top1"] > SHIPPED["results"]["crowd"]["top1"]  # the answer beats the head it corrects
    assert min(scores["recall"].values()) >= 0.55
