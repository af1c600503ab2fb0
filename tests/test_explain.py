"""fer_app.explain on the shipped model and real faces: maps, readings, faithfulness on a small sample,
the CLI's --explain, the app panel, and no TensorFlow on the way."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fer_app.draw import png_bytes
from conftest import ROOT, SHARED_FER, needs_shared_fer, needs_shipped_model, run_cli

pytestmark = needs_shipped_model
skdata = pytest.importorskip("skimage.data")

#: The astronaut's face as the photo detector frames it (box from mtcnn on skimage's astronaut()).
ASTRONAUT_BOX = (178, 57, 90, 116)


@pytest.fixture(scope="module")
def classifier():
    from fer_app.model import load_classifier

    return load_classifier()


@pytest.fixture(scope="module")
def astronaut_crop():
    from fer_app.faces import Detection, crop_face

    return crop_face(skdata.astronaut(), Detection(ASTRONAUT_BOX, 1.0, 0.0, "mtcnn"))


def test_map_shape_range_and_target(classifier, astronaut_crop):
    from fer_app import explain
    from fer_app.preprocess import prepare_batch

    ex = explain.explain_crops(classifier, [astronaut_crop])[0]
    probs = classifier.predict_prepared(prepare_batch([astronaut_crop]))[0]
    assert ex.importance.shape == (48, 48) and ex.importance.dtype == np.float32
    assert ex.importance.min() >= 0 and ex.importance.max() == pytest.approx(1.0)
    assert ex.face.shape == (48, 48) and ex.face.dtype == np.uint8
    assert ex.emotion == "happy" and ex.probability == pytest.approx(float(probs.max()), abs=1e-5)
    assert ex.reading.startswith(("mostly", "spread")) and "mouth" in ex.reading
    sad = explain.explain_crops(classifier, [astronaut_crop], "SAD")[0]
    assert sad.emotion == "sad" and sad.probability == pytest.approx(float(probs[5]), abs=1e-5)
    assert not np.allclose(sad.importance, ex.importance)


def test_occlusion_masks_cover_the_face_and_rise_masks_are_soft():
    from fer_app import explain

    masks = explain.occlusion_masks()
    assert masks.shape[1:] == (48, 48) and masks.sum(axis=0).min() >= 1
    assert len(explain.occlusion_masks(8, 4)) == 11 * 11
    rise = explain.rise_masks(16)
    assert rise.shape == (16, 48, 48) and 0 <= rise.min() and rise.max() <= 1


def test_hide_fills_the_mask_with_the_face_mean():
    from fer_app import explain

    face = np.arange(48 * 48, dtype=np.uint16).reshape(48, 48).astype(np.uint8)
    out = explain.hide(face, explain.occlusion_masks()[:1])[0, :, :, 0]
    p = explain.PATCH
    assert np.all(out[:p, :p] == np.rint(face.mean())) and np.array_equal(out[p:, p:], face[p:, p:])


def test_unknown_emotion_is_one_sentence():
    from fer_app import explain

    with pytest.raises(ValueError, match=r"^unknown emotion 'grumpy'; choose from angry, .*surprise$"):
        explain.emotion_index("grumpy")
    assert explain.emotion_index(" Happy ") == 3 and explain.emotion_index(None) is None


def test_readings_name_the_regions():
    from fer_app import explain

    imp = np.zeros((48, 48), np.float32)
    assert explain.read_map(imp) == "no part of the face raises this score"
    imp[31:40, 13:35] = 1.0
    assert explain.read_map(imp) == "mostly the mouth"
    imp[:] = 0
    imp[16:22, 6:42], imp[11:16, 6:42] = 1.0, 0.9
    assert explain.read_map(imp) == "mostly the eyes and the brows"
    flat = np.random.default_rng(0).random((48, 48)).astype(np.float32)
    assert explain.read_map(flat).startswith("spread across the face")
    assert set(explain.region_shares(flat)) == set(explain.REGIONS)


def test_map_png_and_overlay(classifier, astronaut_crop):
    import io

    from fer_app import explain

    ex = explain.explain_crops(classifier, [astronaut_crop])[0]
    gray = Image.open(io.BytesIO(png_bytes(explain.map_image(ex.importance))))
    assert gray.size == (48, 48) and gray.mode == "L"
    arr = np.asarray(gray)
    assert arr[np.unravel_index(np.argmax(ex.importance), arr.shape)] == 255 and arr.min() < 64
    over = explain.overlay(ex.face, ex.importance)
    assert over.shape == (192, 192, 3) and over.dtype == np.uint8


@pytest.mark.slow
@needs_shared_fer
def test_deletion_by_map_beats_random_regions_on_test_faces(classifier):
    from benchmarks.explain_faithfulness import FRACTIONS, deletion_drops, load_faces, maps_for

    from fer_app import explain

    x, _ = load_faces(str(SHARED_FER), "test", 30, classifier.config.get("settings", {}), seed=1)
    predict = explain._predictor(classifier)
    targets = predict(x[..., None]).argmax(axis=1)
    drops = deletion_drops(predict, x, targets, maps_for(classifier, x, targets), np.random.default_rng(0))
    for f in FRACTIONS:
        assert drops["map"][f].mean() > drops["random regions"][f].mean() + 0.1, f


def test_randomised_model_gives_different_maps(classifier, astronaut_crop, tmp_path):
    from benchmarks.explain_faithfulness import randomised_model_dir, spearman_per_face

    from fer_app import explain
    from fer_app.model import EmotionClassifier
    from fer_app.preprocess import prepare_batch

    rand = EmotionClassifier(model_path=randomised_model_dir(classifier.model_dir, 0, "all", tmp_path) / "model.tflite")
    face = prepare_batch([astronaut_crop])[..., 0]
    trained = explain.raw_maps(classifier, face, [3])[0]
    redrawn = explain.raw_maps(rand, face, [3])[0]
    assert abs(spearman_per_face(trained, redrawn)[0]) < 0.5


@pytest.mark.slow
def test_cli_writes_overlay_map_and_json(tmp_path):
    img = tmp_path / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(img)
    out = tmp_path / "why"
    r = run_cli("-m", "fer_app", "predict", str(img), "--json", "--explain", str(out), "--detector", "haar")
    assert r.returncode == 0, r.stderr[-2000:]
    face = json.loads(r.stdout.strip().splitlines()[-1])["faces"][0]
    assert face["explanation"] == str(out / "astronaut_face1_explain.png")
    assert face["explained_emotion"] == face["emotion"] and face["explanation_reading"]
    assert Image.open(face["explanation"]).size == (192, 192)
    raw = Image.open(out / "astronaut_face1_map.png")
    assert raw.size == (48, 48) and raw.mode == "L"
    r = run_cli("-m", "fer_app", "predict", str(img), "--explain", str(out), "--explain-emotion", "Sad",
                "--detector", "haar")
    assert r.returncode == 0 and "face 1 sad: " in r.stdout and "astronaut_face1_explain.png" in r.stdout


def test_cli_unknown_emotion_is_a_one_line_usage_error(tmp_path):
    out = tmp_path / "why"
    r = run_cli("-m", "fer_app", "predict", str(tmp_path / "x.png"), "--explain", str(out),
                "--explain-emotion", "grumpy")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "error: unknown emotion 'grumpy'; choose from angry, disgust, fear, happy, neutral, sad, surprise"]
    assert not out.exists()


def test_no_tensorflow_or_keras_after_explaining():
    code = (
        "import sys, numpy as np\n"
        "from skimage import data\n"
        "from fer_app import explain\n"
        "from fer_app.draw import png_bytes\n"
        "from fer_app.model import EmotionClassifier\n"
        "from fer_app.faces import Detection, crop_face\n"
        f"crop = crop_face(data.astronaut(), Detection({ASTRONAUT_BOX}, 1.0, 0.0, 'mtcnn'))\n"
        "ex = explain.explain_crops(EmotionClassifier(), [crop], 'sad')[0]\n"
        "png_bytes(explain.overlay(ex.face, ex.importance)); ex.reading\n"
        "explain.explain_crops(EmotionClassifier(), [crop], method='rise')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'tf_keras'}))\n")
    r = run_cli("-c", code, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_app_panel_shows_each_face_and_follows_the_selector():
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st
        from skimage import data

        from app_pages.explain_panel import show_average_maps, show_explanations
        from fer_app.pipeline import Face

        probs = dict.fromkeys(("angry", "disgust", "fear", "neutral", "sad", "surprise"), 0.01)
        face = Face((178, 57, 90, 116), 1.0, {**probs, "happy": 0.94}, "happy")
        show_explanations(data.astronaut(), [face], "t", detector="mtcnn")
        show_average_maps(st.session_state.get("model_dir", "/nonexistent"))

    at = AppTest.from_function(page, default_timeout=60)
    at.session_state["model_dir"] = str(ROOT / "models")
    at.run()
    assert not at.exception
    assert len(at.selectbox) == 1 and at.selectbox[0].value == "happy"
    assert any("mouth" in m.value for m in at.markdown)
    at.selectbox[0].set_value("sad").run()
    assert not at.exception and any(m.value.startswith("**sad**") for m in at.markdown)


def test_benchmark_skips_cleanly_without_the_dataset(tmp_path):
    r = run_cli(str(ROOT / "benchmarks" / "explain_faithfulness.py"), "--data", str(tmp_path / "none"),
                "--out", str(tmp_path / "out"), timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("skipped: no FER-2013 test split")
    assert not (tmp_path / "out").exists()
