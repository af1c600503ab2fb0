"""One source of truth for preprocessing: training and inference give identical model inputs."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import SHARED_FER, needs_shared_fer
from fer_app import preprocess
from fer_app.io import load_image
from training.data import load_split, make_dataset


def test_training_pipeline_and_inference_give_identical_tensors(tiny_data):
    split = load_split(tiny_data["folders"], "test", tiny_data["cache"])
    ds = make_dataset(split, batch_size=len(split), training=False)
    x_train, _ = next(iter(ds))
    root = tiny_data["folders"] / "test"
    files = [root / s for s in split.sources]
    x_infer = preprocess.prepare_batch([load_image(f) for f in files])  # the app's path: RGB decode
    assert x_train.shape == x_infer.shape == (len(split), 48, 48, 1)
    assert np.array_equal(np.asarray(x_train), x_infer.astype(np.float32))


def test_model_input_stage_matches_keras_mobilenet_preprocess_input():
    import keras

    x = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 1)).astype(np.float32)
    inp = keras.Input((48, 48, 1))
    m = keras.Model(inp, preprocess.model_input_stage(inp, 48))
    ref = keras.applications.mobilenet_v2.preprocess_input(np.repeat(x, 3, axis=-1).copy())
    np.testing.assert_allclose(np.asarray(m(x)), ref, atol=1e-6)
    m96 = keras.Model(inp, preprocess.model_input_stage(inp, 96))
    assert tuple(m96(x).shape) == (2, 96, 96, 3)


def test_normalize_face_handles_colour_sizes_and_rejects_bad_input():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (120, 100, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((120, 100), 255, np.uint8)])
    out = preprocess.normalize_face(rgb)
    assert out.shape == (48, 48) and out.dtype == np.uint8
    assert np.array_equal(out, preprocess.normalize_face(rgba))
    assert preprocess.normalize_face(rng.integers(0, 256, (20, 30), dtype=np.uint8)).shape == (48, 48)
    with pytest.raises(ValueError):
        preprocess.normalize_face(np.zeros((10, 10), np.float32))


def _gamma(img, g):
    return np.clip(255.0 * (img / 255.0) ** g + 0.5, 0, 255).astype(np.uint8)


@needs_shared_fer
def test_equalisation_makes_raw_and_equalised_copies_nearly_identical():
    """The shared copies are equalised; a Kaggle download is raw. Equalising again (what our
    preprocessing does) changes an equalised face very little, and brightness/contrast changes of
    a face mostly vanish after equalisation."""
    files = sorted((SHARED_FER / "test" / "happy").glob("*.jpg"))[:200]
    faces = [np.asarray(load_image(f))[:, :, 0] for f in files]
    again = [np.abs(preprocess.normalize_face(f).astype(int) - f.astype(int)).mean() for f in faces]
    assert np.median(again) < 3.0  # grey levels out of 255
    diffs, raw_diffs = [], []
    for f in faces:
        ref = preprocess.normalize_face(f)
        for g in (0.6, 1.6):
            changed = _gamma(f, g)
            diffs.append(np.abs(preprocess.normalize_face(changed).astype(int) - ref.astype(int)).mean())
            raw_diffs.append(np.abs(changed.astype(int) - f.astype(int)).mean())
    assert np.median(diffs) < 4.0
    assert np.median(diffs) < np.median(raw_diffs) / 5
