"""research/gpu_ablation.py: its NumPy erasing, mixup and cutmix keep training.data's contract, its data
pack round-trips, and the epoch planner stays inside the time budget. (Its augmentation is
training.data.augment_faces, tested in test_data.py.)"""

from __future__ import annotations

from research import gpu_ablation as ga
import numpy as np
import pytest

from fer_app.labels import EMOTIONS

K = len(EMOTIONS)


def faces(n=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_random_erase_paints_one_rectangle_in_about_the_requested_share():
    x = np.full((400, 48, 48), 100.0, np.float32)
    out = ga.random_erase(x.copy(), 0.5, np.random.default_rng(0))
    changed = out != 100.0
    hit = changed.reshape(len(x), -1).any(axis=1)
    assert 0.38 < hit.mean() < 0.62
    areas = changed.reshape(len(x), -1).mean(axis=1)[hit]
    assert areas.max() <= 0.22
    for m in changed[hit][:50]:
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        assert m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].mean() > 0.97


def test_mixup_keeps_each_faces_own_label_as_the_larger_part():
    rng = np.random.default_rng(0)
    x = faces().astype(np.float32)
    y = np.eye(K, dtype=np.float32)[np.arange(64) % K]
    xm, ym = ga.mixup(x, y, 0.2, rng)
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, atol=1e-5)
    assert (ym[np.arange(64), np.arange(64) % K] >= 0.5 - 1e-6).all()
    assert (np.abs(xm - x) > 1e-3).any()


def test_cutmix_label_weights_equal_the_pasted_area():
    n = 200
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None, None], 48, 1).repeat(48, 2)  # face i is all i
    y = np.eye(K, dtype=np.float32)[np.arange(n) % K]
    xm, ym = ga.cutmix(x, y, 0.5, np.random.default_rng(0))
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, atol=1e-5)
    pasted = (xm != x).reshape(n, -1).mean(axis=1)
    assert 0.3 < (pasted > 0).mean() < 0.6
    own = ym[np.arange(n), np.arange(n) % K]
    partner_same_class = np.array([len(np.unique(xm[i])) == 1 for i in range(n)])  # nothing or all pasted
    checked = 0
    for i in np.flatnonzero(pasted > 0):
        j = int(np.setdiff1d(np.unique(xm[i]), [i])[0])
        if j % K != i % K:  # a partner of another class: the label moved by exactly the pasted area
            assert own[i] == pytest.approx(1.0 - pasted[i], abs=1e-5)
            checked += 1
    assert checked > 40
    assert not partner_same_class.all()
    np.testing.assert_array_equal(ga.cutmix(x, y, 0.0, np.random.default_rng(0))[0], x)


def test_pack_round_trips_the_carved_split(tiny_data, tmp_path, monkeypatch):
    from training.data import load_model_split

    monkeypatch.setenv("FER_CACHE_DIR", str(tiny_data["cache"]))
    info = ga.pack(str(tiny_data["folders"]), tmp_path / "p.npz.xz")
    data = ga.load_pack(tmp_path / "p.npz.xz")
    train = load_model_split(tiny_data["folders"], "train", {}, tiny_data["cache"])
    val = load_model_split(tiny_data["folders"], "val", {}, tiny_data["cache"])
    np.testing.assert_array_equal(data["x_train"], train.x)
    np.testing.assert_array_equal(data["y_train"], train.y)
    np.testing.assert_array_equal(data["x_val"], val.x)
    np.testing.assert_array_equal(data["y_val"], val.y)
    assert info["train_fingerprint"] == train.fingerprint() and info["val"] == len(val)
    assert "x_test" not in data  # the test split never travels


@pytest.mark.parametrize("t_epoch, left, expected", [(10.0, 400.0, 36), (10.0, 160.0, 12), (100.0, 50.0, 2)])
def test_plan_epochs_fits_the_budget(t_epoch, left, expected):
    epochs = ga.plan_epochs(t_epoch, left, tail_s=60, max_epochs=36)
    assert epochs == expected
    assert epochs == 2 or (epochs - 2) * t_epoch <= left - 60


def test_every_run_is_a_valid_recipe():
    for name, (what, overrides) in ga.RUNS.items():
        assert set(overrides) <= set(ga.BASE), name
        assert what
