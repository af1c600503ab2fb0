"""training.data (both layouts, caching, read-only, corrupt files, error paths, stratified split) and
training.augment (one warp per face, random erasing, mixup)."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from conftest import run_cli, tree_digest
from fer_app.labels import EMOTIONS
from training.data import DatasetError, load_model_split, load_model_splits, load_split, stratified_split


def test_csv_and_folders_give_the_same_images_and_labels(tiny_data):
    a = load_split(tiny_data["folders"], "test", tiny_data["cache"])
    b = load_split(tiny_data["csv"], "test", tiny_data["cache"])
    assert len(a) == len(b) == 6 * len(EMOTIONS)
    # the folder reader sorts by class then file; the CSV keeps row order, which we wrote the same way
    assert np.array_equal(a.y, b.y)
    assert np.array_equal(a.x, b.x)
    assert a.fingerprint() == b.fingerprint()


def test_corrupt_and_empty_files_are_skipped_counted_and_named(tiny_data, caplog, tmp_path):
    with caplog.at_level(logging.WARNING):
        full = load_split(tiny_data["folders"], "train", tmp_path / "fresh-cache", val_fraction=0.1)
        full_val = load_split(tiny_data["folders"], "val", tmp_path / "fresh-cache", val_fraction=0.1)
    assert len(full.skipped) == 2
    assert any("zz_corrupt.jpg" in s for s in full.skipped) and any("zz_empty.png" in s for s in full.skipped)
    assert "skipped 2 unreadable" in caplog.text and "zz_corrupt.jpg" in caplog.text
    assert len(full) + len(full_val) == 14 * len(EMOTIONS)
    csv_train = load_split(tiny_data["csv"], "train", tmp_path / "fresh-cache")
    assert len(csv_train.skipped) == 1  # the broken CSV row


@pytest.mark.slow
def test_dataset_directory_is_byte_identical_after_loading_and_training(tiny_data, tiny_model):
    before = tree_digest(tiny_data["folders"])
    load_split(tiny_data["folders"], "train", tiny_data["cache"])
    load_split(tiny_data["folders"], "test", tiny_data["cache"])
    assert tree_digest(tiny_data["folders"]) == before
    # and the cache went where we asked, outside the dataset, as .npz (no pickle)
    cached = list(tiny_data["cache"].glob("*.npz"))
    assert cached and not list(tiny_data["folders"].rglob("*.npz"))


def test_second_load_comes_from_the_cache(tiny_data, tmp_path, monkeypatch):
    cache = tmp_path / "c"
    first = load_split(tiny_data["folders"], "test", cache)
    import training.data as data

    monkeypatch.setattr(data, "_read_folder_split", lambda *a: pytest.fail("cache not used"))
    second = load_split(tiny_data["folders"], "test", cache)
    assert np.array_equal(first.x, second.x)


def test_cache_inside_dataset_is_refused(tiny_data):
    with pytest.raises(DatasetError, match="inside the dataset"):
        load_split(tiny_data["folders"], "test", tiny_data["folders"] / "cache")


def test_a_models_split_is_drawn_with_its_own_val_fraction_and_seed(tiny_data):
    root, cache = tiny_data["folders"], tiny_data["cache"]
    settings = {"val_fraction": 0.25, "seed": 7, "img_size": 96}
    val = load_model_split(root, "val", settings, cache)
    train = load_model_split(root, "train", settings, cache)
    assert np.array_equal(val.x, load_split(root, "val", cache, 0.25, 7).x)
    assert set(val.sources).isdisjoint(train.sources)
    assert len(val) > len(load_split(root, "val", cache, 0.1, 7))  # the fraction was applied
    assert val.sources != load_split(root, "val", cache, 0.25, 0).sources  # and so was the seed
    # a config without the keys gets training's defaults
    assert load_model_split(root, "val", {}, cache).sources == load_split(root, "val", cache).sources
    # both splits from one read are the same as from two
    both = load_model_splits(root, settings, cache)
    assert [s.name for s in both] == ["train", "val"]
    for one, alone in zip(both, (train, val)):
        assert np.array_equal(one.x, alone.x) and np.array_equal(one.y, alone.y) and one.sources == alone.sources


def test_stratified_split_is_seeded_and_keeps_class_proportions():
    y = np.repeat(np.arange(7), [400, 40, 400, 700, 500, 480, 310])
    tr, va = stratified_split(y, 0.1, seed=3)
    tr2, va2 = stratified_split(y, 0.1, seed=3)
    assert np.array_equal(va, va2) and not set(tr) & set(va) and len(tr) + len(va) == len(y)
    counts = np.bincount(y[va], minlength=7)
    assert np.array_equal(counts, np.round(np.bincount(y) * 0.1).astype(int))
    _, va3 = stratified_split(y, 0.1, seed=4)
    assert not np.array_equal(va, va3)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["missing_class", "empty_class", "not_a_dataset", "no_such_path"])
def test_bad_datasets_stop_with_one_line_and_exit_2(case, tiny_data, tmp_path):
    root = tmp_path / "data"
    if case == "no_such_path":
        root = tmp_path / "nothing-here"
    elif case == "not_a_dataset":
        (root / "holiday").mkdir(parents=True)
        (root / "holiday" / "a.txt").write_text("hi")
    else:
        shutil.copytree(tiny_data["folders"], root)
        if case == "missing_class":
            shutil.rmtree(root / "train" / "Disgust")
        else:
            for f in (root / "train" / "Disgust").iterdir():
                f.unlink()
    r = run_cli("-m", "training.train", "--data", str(root), "--out", str(tmp_path / "out"),
                "--weights", "none", "--cache-dir", str(tmp_path / "cache"))
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in r.stderr
    expected = {"missing_class": "missing class folder", "empty_class": "has no images",
                "not_a_dataset": "not a FER-2013 dataset", "no_such_path": "no such file"}[case]
    assert expected in lines[0]


@pytest.mark.slow
def test_random_erasing_replaces_one_rectangle_in_about_the_requested_share_of_faces():
    from training.augment import random_erase

    x = np.full((400, 48, 48, 1), 100.0, np.float32)
    out = np.asarray(random_erase(x, 0.5))
    changed = (out != 100.0)[..., 0]
    hit = changed.reshape(len(x), -1).any(axis=1)
    assert 0.38 < hit.mean() < 0.62
    areas = changed.reshape(len(x), -1).mean(axis=1)[hit]
    assert areas.min() >= 0.01 and areas.max() <= 0.22
    for m in changed[hit][:50]:  # the erased pixels form one axis-aligned rectangle
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        assert m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].mean() > 0.97
    assert out.min() >= 0.0 and out.max() <= 255.0
    np.testing.assert_array_equal(np.asarray(random_erase(x, 0.0)), x)


@pytest.mark.slow
def test_mixup_blends_images_and_labels_with_the_same_weight():
    import tensorflow as tf

    from training.augment import mixup

    tf.random.set_seed(0)  # Beta(0.2, 0.2) leaves about a quarter of the images unmixed: fix the draw
    n = 64
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None, None, None], 4, axis=1).repeat(4, axis=2)
    y = np.eye(len(EMOTIONS), dtype=np.float32)[np.arange(n) % len(EMOTIONS)]
    xm, ym = (np.asarray(t) for t in mixup(tf.constant(x), tf.constant(y), 0.2))
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, atol=1e-5)
    own = ym[np.arange(n), np.arange(n) % len(EMOTIONS)]
    assert (own >= 0.5 - 1e-6).all()  # every image keeps its own label as the larger part
    assert (np.abs(xm - x) > 1e-3).any()  # something was mixed
    # where the partner has another class, the label weight is the image weight: x = lam*i + (1-lam)*j
    k = len(EMOTIONS)
    checked = 0
    for i in range(n):
        lam = own[i]
        if lam > 0.999:
            continue
        j = (xm[i, 0, 0, 0] - lam * i) / (1.0 - lam)
        assert abs(j - round(j)) < 1e-2 and 0 <= round(j) < n
        assert ym[i, round(j) % k] == pytest.approx(1.0 - lam, abs=1e-5)
        checked += 1
    assert checked > n // 3


def _smooth_faces(n=64, seed=0):
    """Face-like test images: smoothed noise stretched to 0..255 (natural images' high frequencies are weak)."""
    import cv2

    rng = np.random.default_rng(seed)
    f = np.stack([cv2.GaussianBlur(rng.uniform(0, 255, (48, 48)).astype(np.float32), (0, 0), 1.0) for _ in range(n)])
    return cv2.normalize(f, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def test_augment_faces_keeps_shape_and_range_and_strength_zero_only_mirrors():
    from training.augment import augment_faces

    x = _smooth_faces()
    out = augment_faces(x, 1.0, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0 and not np.allclose(out, x)
    flips = augment_faces(x, 0.0, np.random.default_rng(0))
    same = [np.array_equal(f, o) for f, o in zip(flips, x)]
    mirrored = [np.array_equal(f, o[:, ::-1]) for f, o in zip(flips, x)]
    assert all(s or m for s, m in zip(same, mirrored)) and 10 < sum(mirrored) < 54
    moved = {s: np.abs(augment_faces(x, s, np.random.default_rng(1)) - augment_faces(x, 0.0, np.random.default_rng(1))).mean()
             for s in (0.2, 1.5)}
    assert moved[0.2] < moved[1.5]


def test_training_faces_stay_sharp_with_one_warp_and_blur_with_the_keras_chain():
    """The train/serve skew fixed by one warp per face: a chain of Keras layers resamples each face three times."""
    from research.augmentation_sharpness import augmenters, sharpness

    x = _smooth_faces()
    sharp = sharpness(x)
    for kind, augment in augmenters(1.0, 0).items():
        low, high = (0.85, 1.15) if kind == "affine-once-v2" else (0.0, 0.75)
        assert low <= sharpness(augment(x[..., None].astype(np.float32))[..., 0]) / sharp <= high, kind


def test_one_warp_augmentation_is_fresh_every_batch_and_epoch_and_repeatable():
    import keras

    from training.augment import augment_dataset
    from training.data import Split, make_dataset

    face = _smooth_faces(1)
    split = Split("t", np.repeat(face, 256, axis=0), np.zeros(256, int))

    def two_epochs():
        keras.utils.set_random_seed(5)
        ds = make_dataset(split, 128, True, 5, lambda batches: augment_dataset(batches, 1.0, 5))
        return [np.concatenate([b[0].numpy() for b in ds]) for _ in range(2)]

    first, second = two_epochs()
    assert len({f.tobytes() for f in first}) > 250  # 256 copies of one face, (almost) all transformed apart
    assert not np.allclose(first, second)  # the next epoch draws new transforms
    again = two_epochs()
    np.testing.assert_array_equal(first, again[0])
    np.testing.assert_array_equal(second, again[1])
