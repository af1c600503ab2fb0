"""training.train / evaluate / export on the tiny dataset: one epoch, resume, metrics, TFLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, run_cli
from fer_app.labels import EMOTIONS


def test_one_epoch_run_writes_model_history_and_config(tiny_model, tiny_data):
    cfg = json.loads((tiny_model / "config.json").read_text())
    assert cfg["labels"] == list(EMOTIONS)
    assert cfg["preprocessing"]["version"]
    for key in ("epochs", "img_size", "alpha", "weights", "batch_size", "seed", "augment", "class_weight"):
        assert key in cfg["settings"]
    assert cfg["settings"]["erase"] == 0.5 and cfg["settings"]["mixup"] == 0.2 and cfg["settings"]["cutmix"] == 0.5
    assert cfg["tta"] == "flip-x-diag1-v1" and 0.25 <= cfg["temperature_tta"] <= 5.0
    assert len(cfg["data"]["train_fingerprint"]) == 16 and cfg["data"]["skipped_files"] == 2
    assert 0.25 <= cfg["temperature"] <= 5.0
    # peak memory of the training epochs and of the calibration process, both recorded by the run
    assert 100 < cfg["peak_rss_mb_training"] < 20000 and 100 < cfg["peak_rss_mb_calibration"] < 20000
    lines = (tiny_model / "history.csv").read_text().strip().splitlines()
    assert lines[0].split(",") == ["epoch", "phase", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert [line.split(",")[1] for line in lines[1:]] == ["head", "finetune"]
    assert (tiny_model / "model.keras").is_file()


def test_resume_after_a_kill_continues_from_the_last_epoch(tiny_data, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(out),
           "--epochs", "5", "--head-epochs", "1", "--img-size", "32", "--alpha", "0.35", "--weights", "none",
           "--batch-size", "32", "--cache-dir", str(tiny_data["cache"]), "--quiet",
           "--optimizer", "sgd", "--weight-decay", "0.001"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline:
        if state.is_file() and json.loads(state.read_text())["epochs_done"] >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = json.loads(state.read_text())["epochs_done"]
    assert 2 <= done_before < 6, "the run finished before it could be interrupted"
    # a different setting on the resumed command is ignored, and the run says so
    r = subprocess.run(cmd + ["--resume", "--lr", "0.002"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"resuming after epoch {done_before}" in r.stderr
    assert "--resume keeps the run's lr = 0.0005" in r.stderr and "the given 0.002 is ignored" in r.stderr
    assert json.loads((out / "config.json").read_text())["settings"]["lr"] == 0.0005
    # the resumed session draws a new data stream instead of replaying the first epoch's batches
    assert f"shuffling and augmenting with seed {1009 * done_before} (seed 0, resumed after epoch {done_before})" \
        in r.stderr
    final = json.loads(state.read_text())
    assert final["finished"] and final["epochs_done"] == 6
    epochs = [int(line.split(",")[0]) for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert epochs == [1, 2, 3, 4, 5, 6]
    # the resumed session fine-tuned with the run's own optimizer, restored from its checkpoint
    import keras

    opt = keras.models.load_model(out / "checkpoints" / "last.keras").optimizer
    assert type(opt).__name__ == "SGD" and opt.nesterov and opt.momentum == 0.9
    assert opt.weight_decay == pytest.approx(0.001)


def test_weight_decay_shrinks_every_weight_by_lr_times_decay_per_step():
    import keras

    from training.train import make_optimizer

    def one_step(optimizer):  # one update with a zero gradient: only the decay moves the weight
        w = keras.Variable(np.full((3,), 2.0, "float32"))
        optimizer.apply_gradients([(keras.ops.zeros((3,)), w)])
        return np.asarray(w)

    np.testing.assert_allclose(one_step(make_optimizer("adam", 0.1, 0.05)), 2.0 * (1 - 0.1 * 0.05), rtol=1e-6)
    np.testing.assert_allclose(one_step(make_optimizer("sgd", 0.1, 0.05)), 2.0 * (1 - 0.1 * 0.05), rtol=1e-6)
    np.testing.assert_array_equal(one_step(make_optimizer("adam", 0.1)), 2.0)  # no decay by default
    assert type(make_optimizer("adam", 1e-3)).__name__ == "Adam"


def test_ignored_settings_names_each_difference_from_the_stored_run():
    from training.train import RUN_SETTINGS, ignored_settings, parse_args

    args = parse_args(["--data", "D", "--out", "O", "--lr", "1e-3", "--epochs", "24"])
    stored = {k: getattr(args, k) for k in RUN_SETTINGS}
    assert ignored_settings(stored, args) == {}
    assert ignored_settings({**stored, "lr": 5e-4, "epochs": 36}, args) == {"lr": (1e-3, 5e-4), "epochs": (24, 36)}
    older = {k: v for k, v in stored.items() if k != "cutmix"}  # a run from before --cutmix existed
    assert ignored_settings(older, parse_args(["--data", "D", "--out", "O", "--lr", "1e-3", "--epochs", "24",
                                               "--cutmix", "0.5"])) == {}


def test_a_resumed_session_does_not_replay_the_first_epochs_batches(tiny_data):
    import keras

    from training.data import load_split, make_dataset
    from training.train import data_stream_seed

    split = load_split(tiny_data["folders"], "train", tiny_data["cache"])

    def first_batch(seed):  # the order a training process started with this seed feeds its faces in
        keras.utils.set_random_seed(seed)
        x, _ = next(iter(make_dataset(split, 16, True, None, seed)))
        return np.asarray(x)

    fresh = data_stream_seed(0, 0)
    assert fresh == 0  # an uninterrupted run keeps its seed
    # the problem: a session started with the same seed replays the same batches
    np.testing.assert_array_equal(first_batch(fresh), first_batch(fresh))
    assert np.abs(first_batch(fresh) - first_batch(data_stream_seed(0, 3))).mean() > 10
    assert len({data_stream_seed(0, k) for k in range(50)}) == 50


def test_evaluation_json_is_consistent_with_its_confusion_matrix(tiny_model, tiny_data, tmp_path):
    r = run_cli("-m", "training.evaluate", "--model", str(tiny_model / "model.keras"), "--data",
                str(tiny_data["folders"]), "--split", "test", "--json", "--tta", "--out", str(tmp_path),
                "--cache-dir", str(tiny_data["cache"]))
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads(r.stdout)
    for key in ("accuracy", "macro_f1", "per_class", "confusion_matrix", "labels", "n"):
        assert key in m
    cm = np.array(m["confusion_matrix"])
    assert m["labels"] == list(EMOTIONS) and cm.shape == (7, 7)
    assert cm.sum() == m["n"] == 42
    assert abs(np.trace(cm) / cm.sum() - m["accuracy"]) < 1e-9
    for i, name in enumerate(EMOTIONS):
        c = m["per_class"][name]
        assert c["support"] == cm[i].sum() == 6
        assert abs(c["recall"] - cm[i, i] / cm[i].sum()) < 1e-3
        if cm[:, i].sum():
            assert abs(c["precision"] - cm[i, i] / cm[:, i].sum()) < 1e-3
    f1 = [m["per_class"][n]["f1"] for n in EMOTIONS]
    assert abs(np.mean(f1) - m["macro_f1"]) < 1e-3
    assert json.loads((tmp_path / "metrics.json").read_text())["n"] == 42
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000


def test_evaluation_on_val_uses_the_models_own_split_unless_overridden(tiny_model, tiny_data):
    from training.data import load_model_split, load_split

    settings = json.loads((tiny_model / "config.json").read_text())["settings"]
    for extra, expected in (
        ([], load_model_split(tiny_data["folders"], "val", settings, tiny_data["cache"])),
        (["--val-fraction", "0.3"], load_split(tiny_data["folders"], "val", tiny_data["cache"], 0.3, settings["seed"])),
    ):
        r = run_cli("-m", "training.evaluate", "--model", str(tiny_model), "--data", str(tiny_data["folders"]),
                    "--split", "val", "--json", "--cache-dir", str(tiny_data["cache"]), *extra)
        assert r.returncode == 0, r.stderr[-2000:]
        m = json.loads(r.stdout)
        assert (m["n"], m["data_fingerprint"]) == (len(expected), expected.fingerprint())


def test_tflite_export_agrees_with_keras(tiny_model, tiny_data):
    r = run_cli("-m", "training.export", "--model", str(tiny_model), "--data", str(tiny_data["folders"]),
                "--cache-dir", str(tiny_data["cache"]))
    assert r.returncode == 0, r.stderr[-2000:]
    check = json.loads((tiny_model / "tflite_check.json").read_text())
    assert check["n"] == 42 and check["top1_agreement"] >= 0.995


def test_evaluate_reports_bad_data_in_one_line(tiny_model, tmp_path):
    r = run_cli("-m", "training.evaluate", "--model", str(tiny_model), "--data", str(tmp_path / "missing"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no such file or directory" in errors[0]


def test_evaluate_refuses_an_unwritable_report_folder_before_evaluating(tiny_model, tiny_data, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    r = run_cli("-m", "training.evaluate", "--model", str(tiny_model), "--data", str(tiny_data["folders"]),
                "--out", str(taken))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"error: cannot write the report into {taken}" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("module", ["evaluate", "calibrate", "export"])
def test_a_mistyped_model_path_is_named_in_one_line(module, tiny_data, tmp_path):
    missing = tmp_path / "runs" / "m96_typo"
    r = run_cli("-m", f"training.{module}", "--model", str(missing), "--data", str(tiny_data["folders"]))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {missing}: no such model folder or file"]


def test_distillation_target_mixes_calibrated_teachers_with_the_label(tiny_model):
    import tensorflow as tf

    from training.distill import make_target_fn, model_file, teacher_temperature

    rng = np.random.default_rng(1)
    x = tf.constant(rng.integers(0, 256, (5, 48, 48, 1)).astype(np.float32))
    y = tf.one_hot([0, 1, 2, 3, 4], len(EMOTIONS))
    import keras

    teacher = keras.models.load_model(model_file(tiny_model), compile=False)
    t = teacher_temperature(model_file(tiny_model))
    assert t == json.loads((tiny_model / "config.json").read_text())["temperature"]
    p = np.asarray(teacher(x, training=False), np.float64)
    soft = np.exp(np.log(np.maximum(p, 1e-7)) / t)
    soft /= soft.sum(axis=1, keepdims=True)
    # two copies of the same teacher average to that teacher
    target = np.asarray(make_target_fn([tiny_model, model_file(tiny_model)], 0.7)(x, y))
    np.testing.assert_allclose(target, 0.7 * soft + 0.3 * np.asarray(y), atol=1e-5)
    np.testing.assert_allclose(target.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError):
        make_target_fn([tiny_model], 0.0)
    with pytest.raises(FileNotFoundError):
        model_file(tiny_model / "missing")
    r = run_cli("-m", "training.train", "--data", "x", "--out", "y", "--teacher", str(tiny_model), "--distill", "0")
    assert r.returncode == 2 and "--distill must be in (0, 1]" in r.stderr and "Traceback" not in r.stderr


def test_init_from_and_teacher_start_a_run_from_a_trained_model(tiny_model, tiny_data, tmp_path):
    import keras

    out = tmp_path / "student"
    # a different input size: the weights do not depend on it
    r = run_cli("-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(out),
                "--init-from", str(tiny_model), "--teacher", str(tiny_model), "--distill", "0.5",
                "--epochs", "1", "--head-epochs", "0", "--img-size", "40", "--alpha", "0.35", "--lr", "1e-9",
                "--batch-size", "32", "--cache-dir", str(tiny_data["cache"]), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "starting from the weights of" in r.stderr and "distilling from" in r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["settings"]["init_from"] == str(tiny_model) and cfg["settings"]["teacher"] == [str(tiny_model)]
    assert cfg["img_size"] == 40
    phases = [line.split(",")[1] for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert phases == ["distill"]
    # with a learning rate of 1e-9 the student's convolution weights are still the teacher's
    a = keras.models.load_model(tiny_model / "model.keras", compile=False)
    b = keras.models.load_model(out / "model.keras", compile=False)
    wa, wb = a.get_layer("backbone").get_layer("Conv1").kernel, b.get_layer("backbone").get_layer("Conv1").kernel
    np.testing.assert_allclose(np.asarray(wb), np.asarray(wa), atol=1e-6)


def test_recipe_refuses_a_missing_dataset_or_weights_file_before_writing_anything(tiny_data, tmp_path):
    out = tmp_path / "recipe"
    r = run_cli("-m", "training.recipe", "--data", str(tmp_path / "fer2013"), "--weights", "none", "--out", str(out))
    assert r.returncode == 2 and f"--data {tmp_path / 'fer2013'}: no such file or folder" in r.stderr
    r = run_cli("-m", "training.recipe", "--data", str(tiny_data["folders"]), "--weights", str(tmp_path / "w.h5"),
                "--out", str(out))
    assert r.returncode == 2 and f"--weights {tmp_path / 'w.h5'}: no such file" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_recipe_chains_resumable_stages_from_teacher_to_student():
    import argparse

    from training import recipe
    from training.train import parse_args

    args = argparse.Namespace(data="D", weights="W.h5", out="runs/r", student_epochs=7, cache_dir=None,
                              first_epochs=recipe.FIRST_EPOCHS, first_lr=recipe.FIRST_LR, augmentation="affine-once-v2")
    parsed = {name: parse_args(recipe.stage_args(name, args)) for name, _ in recipe.STAGES}
    assert list(parsed) == ["m96", "s96", "d96"] and recipe.DISTILLED == "d96"
    assert all(a.resume and a.data == "D" and a.out == f"runs/r/{n}" for n, a in parsed.items())
    assert parsed["m96"].weights == "W.h5" and parsed["m96"].init_from is None
    # the shipped model's first stage: 1 head + 24 fine-tuning epochs; --first-epochs changes only that
    assert recipe.FIRST_EPOCHS == 24 and parsed["m96"].epochs == 24 and parsed["m96"].head_epochs == 1
    longer = argparse.Namespace(**{**vars(args), "first_epochs": 36})
    assert parse_args(recipe.stage_args("m96", longer)).epochs == 36
    assert recipe.stage_args("s96", longer) == recipe.stage_args("s96", args)
    r = run_cli("-m", "training.recipe", "--data", "D", "--first-epochs", "0")
    assert r.returncode == 2 and "--first-epochs and --student-epochs must be at least 1" in r.stderr
    # the shipped first stage peaks at 5e-4; --first-lr changes only that stage's --lr
    assert recipe.FIRST_LR == 5e-4 and parsed["m96"].lr == 5e-4 and parsed["s96"].lr == 2e-4
    faster = argparse.Namespace(**{**vars(args), "first_lr": 1e-3})
    assert parse_args(recipe.stage_args("m96", faster)).lr == 1e-3
    assert [a for a in recipe.stage_args("m96", faster) if a != "0.001"] == \
        [a for a in recipe.stage_args("m96", args) if a != "0.0005"]
    assert recipe.stage_args("s96", faster) == recipe.stage_args("s96", args)
    r = run_cli("-m", "training.recipe", "--data", "D", "--first-lr", "0")
    assert r.returncode == 2 and "--first-lr must be in (0, 0.1]" in r.stderr
    assert parsed["s96"].init_from == "runs/r/m96" and parsed["s96"].mixup > 0
    d = parsed["d96"]
    assert d.init_from == "runs/r/m96" and d.teacher == ["runs/r/m96", "runs/r/s96"] and d.epochs == 7
    assert {a.img_size for a in parsed.values()} == {96}
    # every stage trains with the one-warp augmentation, training.train's own default; the model shipped
    # before this one is reproduced with --first-epochs 36 --augmentation keras-chain-v1
    assert {a.augmentation for a in parsed.values()} == {"affine-once-v2"}
    assert parse_args(["--data", "D", "--out", "O"]).augmentation == "affine-once-v2"
    legacy = argparse.Namespace(**{**vars(args), "first_epochs": 36, "augmentation": "keras-chain-v1"})
    assert {parse_args(recipe.stage_args(n, legacy)).augmentation for n in recipe.stage_names(True)} == {"keras-chain-v1"}
    r = run_cli("-m", "training.recipe", "--data", "D", "--augmentation", "blur")
    assert r.returncode == 2 and "invalid choice: 'blur'" in r.stderr
    assert recipe.stage_names(False) == ["m96", "s96"] and recipe.stage_names(True) == ["m96", "s96", "d96"]
    # without distillation the recipe ends with the weight average of m96 and s96
    assert recipe.final_model(False) == "soup96" and recipe.final_model(True) == "d96"
    from training.soup import main as soup_main  # noqa: F401  (the step exists)

    soup = recipe.soup_args(args)
    assert soup[soup.index("--models") + 1:soup.index("--models") + 3] == ["runs/r/m96", "runs/r/s96"]
    assert soup[soup.index("--out") + 1] == "runs/r/soup96"


def test_recipe_measures_each_step_in_its_own_process(tmp_path, monkeypatch):
    """The recipe's time and peak-RSS ledger: real child processes, a failure, a step cut by a kill."""
    from training import recipe

    # a stand-in step: touches N MB, then exits with the given code
    (tmp_path / "alloc_step.py").write_text("import sys\nb = b'x' * (int(sys.argv[1]) * 2**20)\nsys.exit(int(sys.argv[2]))\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    out = tmp_path / "recipe"
    ballast = b"y" * (700 * 2**20)  # a large parent: a child's ru_maxrss would start at its mark
    assert recipe.run_step("big", "alloc_step", ["300", "0"], out) == 0
    assert recipe.run_step("small", "alloc_step", ["20", "3"], out) == 3
    del ballast
    assert not list(out.glob(".peak_*"))
    ends = [json.loads(line) for line in (out / recipe.LEDGER).read_text().splitlines() if '"end"' in line]
    peaks = {e["step"]: e["peak_rss_mb"] for e in ends}
    # each step's own peak, not the largest so far, nor this (large) test process's
    assert 300 < peaks["big"] < 450 and peaks["small"] < 150, peaks
    summary = recipe.summarise(out)
    assert set(summary["steps_seconds"]) == {"big", "small"} and summary["failed_steps"] == ["small"]
    assert summary["seconds"] == round(sum(e["seconds"] for e in ends), 1) and summary["seconds"] > 0
    assert summary["sessions"] == 1 and summary["cut_steps"] == []
    # a later session whose step was killed: its start has no end, so it is listed, not counted
    with open(out / recipe.LEDGER, "a") as f:
        f.write(json.dumps({"step": "m96", "event": "start", "started": "2026-01-01T00:00:00+00:00", "pid": 1}) + "\n")
    later = recipe.write_summary(out)
    assert later["cut_steps"] == ["m96"] and later["sessions"] == 2 and later["seconds"] == summary["seconds"]
    assert json.loads((out / recipe.SUMMARY).read_text()) == later
    # the failed step finishes in a later attempt: retried, no longer failed, both attempts' time counted
    assert recipe.run_step("small", "alloc_step", ["20", "0"], out) == 0
    again = recipe.summarise(out)
    assert again["failed_steps"] == [] and again["retried_steps"] == ["small"]
    small = [json.loads(line)["seconds"] for line in (out / recipe.LEDGER).read_text().splitlines()
             if '"end"' in line and '"small"' in line]
    assert len(small) == 2 and again["steps_seconds"]["small"] == round(sum(small), 1)

    # the order of the steps, and a failed stage stops the recipe
    calls = []

    def fake_step(step, module, argv, out_dir, fail=None):
        calls.append((step, module))
        return 1 if step == fail else 0

    monkeypatch.setattr(recipe, "run_step", fake_step)
    data, weights = tmp_path / "fer2013", tmp_path / "W.h5"  # the recipe checks that both exist
    data.mkdir()
    weights.write_bytes(b"")
    assert recipe.main(["--data", str(data), "--weights", str(weights), "--out", str(tmp_path / "r2")]) == 0
    assert calls == [("m96", "training.train"), ("s96", "training.train"), ("soup96", "training.soup"),
                     ("export", "training.export"), ("evaluate", "training.evaluate")]
    calls.clear()
    monkeypatch.setattr(recipe, "run_step", lambda *a: fake_step(*a, fail="s96"))
    assert recipe.main(["--data", str(data), "--out", str(tmp_path / "r3"), "--with-distillation"]) == 1
    assert calls == [("m96", "training.train"), ("s96", "training.train")]


def test_ship_copies_a_run_with_its_whole_lineage(tiny_model, tiny_data, tmp_path):
    from training.ship import FILES

    out = tmp_path / "child"
    r = run_cli("-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(out),
                "--init-from", str(tiny_model), "--epochs", "2", "--head-epochs", "0", "--img-size", "32",
                "--alpha", "0.35", "--batch-size", "32", "--cache-dir", str(tiny_data["cache"]), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    dest = tmp_path / "shipped"
    r = run_cli("-m", "training.ship", "--model", str(out), "--to", str(dest))
    assert r.returncode == 2 and "training.export" in r.stderr and "Traceback" not in r.stderr
    data = ["--data", str(tiny_data["folders"]), "--cache-dir", str(tiny_data["cache"])]
    for cmd in (["training.export", "--model", str(out)], ["training.evaluate", "--model", str(out), "--tta", "--out", str(out)]):
        r = run_cli("-m", *cmd, *data)
        assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli("-m", "training.ship", "--model", str(out), "--to", str(dest))
    assert r.returncode == 0, r.stderr[-2000:]
    for f in FILES:
        assert (dest / f).read_bytes() == (out / f).read_bytes(), f
    parent_best = json.loads((tiny_model / "config.json").read_text())["best_epoch"]
    parent_rows = (tiny_model / "history.csv").read_text().strip().splitlines()[1:1 + parent_best]
    rows = [line.split(",") for line in (dest / "history.csv").read_text().strip().splitlines()[1:]]
    assert [r[0] for r in rows] == [str(i) for i in range(1, parent_best + 3)]
    assert [",".join(r) for r in rows[:parent_best]] == parent_rows
    assert [r[1] for r in rows[parent_best:]] == ["restart", "restart"]
    own = [line.split(",")[2:] for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert [r[2:] for r in rows[parent_best:]] == own


def test_batchnorm_reestimation_is_the_exact_mean_of_clean_batch_statistics():
    import keras

    from training.data import Split
    from training.soup import reestimate_batchnorm

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (40, 48, 48), dtype=np.uint8)
    train = Split("train", x, np.zeros(40, dtype=np.int64), [f"{i}" for i in range(40)], [])
    inp = keras.Input((48, 48, 1))
    bn = keras.layers.BatchNormalization(momentum=0.99, name="bn")
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(bn(inp)))
    bn.trainable = False  # as in a model saved while its backbone was frozen
    reestimate_batchnorm(model, train, batches=5, batch_size=8, seed=3)
    pick = np.random.default_rng(3)
    batches = [x[pick.choice(40, 8, replace=False)].astype(np.float64) for _ in range(5)]
    np.testing.assert_allclose(np.asarray(bn.moving_mean), [np.mean([b.mean() for b in batches])], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(bn.moving_variance), [np.mean([b.var() for b in batches])], rtol=2e-3)
    assert bn.momentum == 0.99 and not bn.trainable  # restored


def test_average_weights_is_the_plain_or_weighted_mean_and_refuses_bad_coefficients():
    import keras

    from training.soup import average_weights

    def dense(value):
        m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
        m.set_weights([np.full((2, 3), value, np.float32), np.full(3, -value, np.float32)])
        return m

    a, b = dense(1.0), dense(4.0)
    plain = average_weights([a, b])
    np.testing.assert_allclose(plain[0], 2.5)
    np.testing.assert_allclose(plain[1], -2.5)
    weighted = average_weights([a, b], [0.75, 0.25])
    np.testing.assert_allclose(weighted[0], 1.75)
    assert weighted[0].dtype == np.float32
    for bad in ([0.5], [0.7, 0.7], [1.5, -0.5]):
        with pytest.raises(ValueError, match="coefficient"):
            average_weights([a, b], bad)


def test_soup_averages_members_into_a_calibrated_model_with_their_lineage(tiny_model, tiny_data, tmp_path):
    import keras

    out = tmp_path / "soup"
    data = ["--data", str(tiny_data["folders"]), "--cache-dir", str(tiny_data["cache"])]
    r = run_cli("-m", "training.soup", *data, "--models", str(tiny_model), str(tiny_model), "--out", str(out),
                "--bn-batches", "3", "--batch-size", "32")
    assert r.returncode == 0, r.stderr[-3000:]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["soup"]["members"] == [str(tiny_model)] * 2 and cfg["soup"]["bn_batches"] == 3
    member_seconds = json.loads((tiny_model / "config.json").read_text())["train_seconds"]
    assert cfg["soup"]["members_train_seconds"] == [member_seconds] * 2
    assert "train_seconds" not in cfg and "stopped_early" not in cfg  # the member's own run, not the soup's
    assert cfg["settings"]["init_from"] is None and cfg["command"].startswith("python -m training.soup")
    assert 0.25 <= cfg["temperature_tta"] <= 5.0 and 0 <= cfg["val_accuracy_tta"] <= 1
    assert 100 < cfg["peak_rss_mb_soup"] < 20000 and cfg["labels"] == list(EMOTIONS)
    best = json.loads((tiny_model / "config.json").read_text())["best_epoch"]
    parent = (tiny_model / "history.csv").read_text().strip().splitlines()
    assert (out / "history.csv").read_text().strip().splitlines() == parent[:1 + best]
    # averaging a model with itself keeps its learned weights; only the BatchNorm statistics change
    a = keras.models.load_model(tiny_model / "model.keras", compile=False)
    b = keras.models.load_model(out / "model.keras", compile=False)
    np.testing.assert_allclose(np.asarray(b.get_layer("emotion").kernel), np.asarray(a.get_layer("emotion").kernel))
    bn_a, bn_b = (m.get_layer("backbone").get_layer("bn_Conv1") for m in (a, b))
    assert not np.allclose(np.asarray(bn_a.moving_mean), np.asarray(bn_b.moving_mean))
    # the app can load it
    from fer_app.model import EmotionClassifier

    probs = EmotionClassifier(out, backend="keras").predict(np.full((1, 48, 48), 128, np.uint8))
    assert probs.shape == (1, len(EMOTIONS))


def test_snapshots_are_every_nth_epoch_of_the_phase_and_soup_averages_them(tiny_model, tiny_data, tmp_path):
    import keras

    from training.soup import load_member
    from training.train import takes_snapshot

    # 1 head epoch, then fine-tuning from epoch 2: every 3rd fine-tuning epoch is 4, 7, 10
    assert [e for e in range(1, 12) if takes_snapshot(e, 2, 3)] == [4, 7, 10]
    assert not any(takes_snapshot(e, 2, 0) for e in range(1, 12))
    # the tiny model was trained with --snapshot-every 1: its one fine-tuning epoch, not the head epoch
    snapshot = tiny_model / "snapshots" / "epoch_002.weights.h5"
    assert sorted(p.name for p in (tiny_model / "snapshots").iterdir()) == [snapshot.name]
    last = keras.models.load_model(tiny_model / "checkpoints" / "last.keras", compile=False)
    for got, want in zip(load_member(snapshot).get_weights(), last.get_weights()):
        np.testing.assert_array_equal(got, want)

    out = tmp_path / "swa"
    data = ["--data", str(tiny_data["folders"]), "--cache-dir", str(tiny_data["cache"])]
    r = run_cli("-m", "training.soup", *data, "--models", str(tiny_model), str(snapshot), "--out", str(out),
                "--bn-batches", "2", "--batch-size", "32")
    assert r.returncode == 0, r.stderr[-3000:]
    soup = keras.models.load_model(out / "model.keras", compile=False)
    best = keras.models.load_model(tiny_model / "model.keras", compile=False)
    mean = (np.asarray(best.get_layer("emotion").kernel) + np.asarray(last.get_layer("emotion").kernel)) / 2
    np.testing.assert_allclose(np.asarray(soup.get_layer("emotion").kernel), mean, rtol=1e-5, atol=1e-7)
    # the soup's history ends at the snapshot's epoch (2), whatever the run's best epoch
    rows = (out / "history.csv").read_text().strip().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == [1, 2]
    missing = run_cli("-m", "training.soup", *data, "--models", str(tiny_model / "snapshots" / "epoch_009.weights.h5"),
                      "--out", str(tmp_path / "x"))
    assert missing.returncode == 2 and "no snapshot" in missing.stderr and "Traceback" not in missing.stderr


def test_soup_refuses_members_of_different_networks(tiny_model, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["settings"]["img_size"] = 48
    (other / "config.json").write_text(json.dumps(cfg))
    r = run_cli("-m", "training.soup", "--data", "x", "--models", str(tiny_model), str(other), "--out", str(tmp_path / "s"))
    assert r.returncode == 2 and "differ in img_size" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("flag, bad, good, allowed", [
    ("--erase", "1.5", "0.5", "a probability per face, in [0, 1]"),
    ("--cutmix", "-0.1", "0.5", "a probability per face, in [0, 1]"),
    ("--lr", "0", "0.001", "in (0, 0.1]"),
    ("--lr", "1", "0.001", "in (0, 0.1]"),
    ("--head-lr", "-1e-3", "0.002", "in (0, 0.1]"),
    ("--epochs", "-1", "0", "0 or more"),
    ("--head-epochs", "-2", "3", "0 or more"),
    ("--img-size", "24", "32", "at least 32 (MobileNetV2's smallest input)"),
    ("--label-smoothing", "1", "0.2", "in [0, 1)"),
    ("--val-fraction", "0", "0.2", "in (0, 1)"),
    ("--patience", "0", "1", "at least 1"),
    ("--bn-momentum", "1.0", "0.99", "in [0, 1)"),
    ("--batch-size", "0", "16", "at least 1"),
    ("--weight-decay", "-0.01", "0.05", "0 (off) or a decay coefficient in (0, 1]"),
])
def test_numeric_options_out_of_range_are_refused_before_any_work(flag, bad, good, allowed, capsys):
    from training.train import parse_args

    with pytest.raises(SystemExit) as e:
        parse_args(["--data", "D", "--out", "O", f"{flag}={bad}"])  # "=": argparse reads "-1" as an option
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"{flag} must be {allowed}, got " in err
    # a value inside the range is accepted
    assert getattr(parse_args(["--data", "D", "--out", "O", flag, good]), flag[2:].replace("-", "_")) == float(good)


def test_a_run_with_no_epochs_at_all_is_refused(capsys):
    from training.train import parse_args

    with pytest.raises(SystemExit) as e:
        parse_args(["--data", "D", "--out", "O", "--epochs", "0", "--head-epochs", "0"])
    assert e.value.code == 2 and "nothing would be trained" in capsys.readouterr().err
    # head-only training (the notebook's frozen base) is still allowed
    assert parse_args(["--data", "D", "--out", "O", "--epochs", "0"]).head_epochs == 1


def test_soup_and_export_refuse_out_of_range_numbers_with_a_message(capsys):
    from training import export, soup

    with pytest.raises(SystemExit) as e:
        soup.main(["--data", "D", "--models", "a", "--out", "o", "--batch-size", "0"])
    assert e.value.code == 2 and "--batch-size must be at least 1, got 50 and 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        export.main(["--model", "m", "--min-agreement", "99.5"])
    assert e.value.code == 2 and "--min-agreement is a fraction of faces, in [0, 1]; got 99.5" in capsys.readouterr().err
