"""training.train on the tiny dataset: the run folder it writes, resume after a kill, its options, the figures
it trains to (the same as before the training code's refactor) and a quiet terminal."""

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

#: what tiny_model (conftest.TINY_MODEL_ARGS) and its warm restart and soup (below) trained to with the training
#: code before its refactor, commit 5ffa364 (history.csv rounded to 5 decimals then; deterministic on CPU:
#: two runs of that code gave the same figures). Erasing and mixup are left out: their random ops run inside
#: parallel tf.data maps, so which batch gets which draw changes from run to run, before and after.
#: The pins are the learning rates (exact), the losses and the training accuracies. The head phase, with the
#: backbone frozen, reproduces to 1e-4 on every machine so far. The epochs that train the whole network depend on
#: the CPU's kernels: on 2026-12-07's machine (AMD EPYC, AVX-512) both the code of commit a055deb, which passed
#: against these figures on earlier machines, and today's code gave loss 2.444 / 2.241 and training accuracy
#: 0.143 / 0.209 for the tiny model's fine-tune epochs (pinned 2.414 / 2.303 and 0.110 / 0.165), the soup's
#: temperature 1.626 (1.634) and validation ECE 0.372 (0.371); so those are held to the band such a change of
#: machine moved them (LOOSE), which a wrong learning rate, label or phase still leaves. Validation accuracy is not
#: pinned: a 3-epoch model of 98 faces from random weights sits at chance (1/7) on its 14 validation faces, so a
#: broken pipeline would match it too.
LOOSE = {"loss": 0.1, "accuracy": 0.06, "val_loss": 1e-3, "val_ece_raw": 0.005, "temperature": 0.02}
BEFORE = {
    "model": {"history": [(1, "head", 1e-3, 1.94601, 0.13187, 1.94591),
                          (2, "finetune", 5e-4, 2.41365, 0.10989, 1.94619),
                          (3, "finetune", 1e-5, 2.30271, 0.16484, 1.94718)],
              "best_epoch": 1, "val_ece_raw": 0.00021690768854959463},
    "restart": {"history": [(1, "restart", 2e-4, 2.40284, 0.16484, 1.94601),
                            (2, "restart", 4e-6, 2.43606, 0.13187, 1.94645)],
                "best_epoch": 1, "val_ece_raw": 0.002898490854672031},
    "soup": {"history": [(1, "head", 1e-3, 1.94601, 0.13187, 1.94591),
                         (2, "restart", 2e-4, 2.40284, 0.16484, 1.94601)],
             "best_epoch": 2, "val_ece_raw": 0.37095022201538086,
             "temperature": 1.634487535364267},
}
#: what no training CLI may print without --verbose (TensorFlow's, absl's, LiteRT's start-up notices)
NOISE = ("oneDNN", "absl", "XNNPACK", "cuda", "I0000")


def assert_trained_as_before(run, before):
    rows = [(int(r["epoch"]), r["phase"], float(r["lr"]), *(float(r[k]) for k in ("loss", "accuracy", "val_loss")))
            for r in run.read_history()]
    assert [r[:2] for r in rows] == [b[:2] for b in before["history"]]
    for row, pinned in zip(rows, before["history"]):
        assert row[2] == pytest.approx(pinned[2], rel=1e-6), row  # the schedule is exact everywhere
        if row[1] == "head":  # frozen backbone: the same figures on every machine
            np.testing.assert_allclose(row[3:], pinned[3:], rtol=1e-6, atol=1e-4)
        else:
            for value, want, key in zip(row[3:], pinned[3:], ("loss", "accuracy", "val_loss")):
                assert value == pytest.approx(want, abs=LOOSE[key]), (row, key)
    config = run.read_config()
    assert config["best_epoch"] == before["best_epoch"]
    for key in ("val_ece_raw", "temperature"):
        if key in before:
            assert config[key] == pytest.approx(before[key], abs=LOOSE[key]), key


@pytest.mark.slow
def test_the_pipeline_trains_to_the_figures_recorded_before_its_refactor_and_says_nothing_else(tiny_model, tiny_data,
                                                                                             tiny_restart, tmp_path):
    from training.run_dir import RunDir

    assert_trained_as_before(RunDir(tiny_model), BEFORE["model"])
    # the recipe's next two steps on the tiny model: a warm restart (conftest's tiny_restart), then the average of the two
    restart, soup = tiny_restart["path"], tmp_path / "soup"
    assert not [word for word in NOISE if word in tiny_restart["output"]], tiny_restart["output"][-3000:]
    r = run_cli("-m", "training.soup", "--data", str(tiny_data["folders"]), "--cache-dir", str(tiny_data["cache"]),
                "--models", str(tiny_model), str(restart), "--out", str(soup), "--bn-batches", "3", "--batch-size", "32",
                timeout=900, own_logging=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not [word for word in NOISE if word in r.stdout + r.stderr], (r.stdout + r.stderr)[-3000:]
    assert_trained_as_before(RunDir(restart), BEFORE["restart"])
    assert_trained_as_before(RunDir(soup), BEFORE["soup"])


@pytest.mark.slow
def test_a_run_writes_its_model_history_config_and_state(tiny_model, tiny_data):
    cfg = json.loads((tiny_model / "config.json").read_text())
    assert cfg["labels"] == list(EMOTIONS)
    assert cfg["preprocessing"]["version"]
    for key in ("epochs", "img_size", "alpha", "weights", "batch_size", "seed", "augment", "class_weight", "erase", "mixup"):
        assert key in cfg["settings"]
    assert cfg["settings"]["augmentation"] == "affine-once-v2"
    assert cfg["tta"] == "flip-x-diag1-v1" and 0.25 <= cfg["temperature_tta"] <= 5.0
    assert len(cfg["data"]["train_fingerprint"]) == 16 and cfg["data"]["skipped_files"] == 2
    assert 0.25 <= cfg["temperature"] <= 5.0
    # peak memory of the training epochs and of the calibration process, both recorded by the run
    assert 100 < cfg["peak_rss_mb_training"] < 20000 and 100 < cfg["peak_rss_mb_calibration"] < 20000
    assert cfg["epochs_run"] == 3 and cfg["stopped_early"] is False and cfg["train_seconds"] > 0
    lines = (tiny_model / "history.csv").read_text().strip().splitlines()
    assert lines[0].split(",") == ["epoch", "phase", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "seconds",
                                   "crowd_accuracy", "val_crowd_accuracy"]
    assert all(line.endswith(",NA,NA") for line in lines[1:])  # a model without the crowd head (tests/test_ferplus.py)
    assert [line.split(",")[1] for line in lines[1:]] == ["head", "finetune", "finetune"]
    assert (tiny_model / "model.keras").is_file()
    state = json.loads((tiny_model / "state.json").read_text())
    assert state["finished"] and state["epochs_done"] == 3 and state["best_epoch"] == cfg["best_epoch"]


@pytest.mark.slow
def test_resume_after_a_kill_continues_from_the_last_epoch(tiny_data, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(out),
           "--epochs", "5", "--head-epochs", "1", "--img-size", "32", "--alpha", "0.35", "--weights", "none",
           "--batch-size", "32", "--cache-dir", str(tiny_data["cache"]), "--quiet"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / "state.json"
    deadline = time.time() + 600
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
                       timeout=900)
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
    # the fine-tuning optimizer was restored from the killed session's backup, not started again:
    # it took a step for every batch of the 5 fine-tuning epochs (3 batches of the 91 training faces each)
    import h5py

    with h5py.File(out / "checkpoints" / "finetune" / "latest.weights.h5") as f:
        assert int(np.asarray(f["optimizer"]["vars"]["0"])) == 5 * 3


def test_a_resumed_session_does_not_replay_the_first_epochs_batches(tiny_data):
    import keras

    from training.data import load_split, make_dataset
    from training.train import data_stream_seed

    split = load_split(tiny_data["folders"], "train", tiny_data["cache"])

    def first_batch(seed):  # the order a training process started with this seed feeds its faces in
        keras.utils.set_random_seed(seed)
        x, _ = next(iter(make_dataset(split, 16, True, seed)))
        return np.asarray(x)

    fresh = data_stream_seed(0, 0)
    assert fresh == 0  # an uninterrupted run keeps its seed
    # the problem: a session started with the same seed replays the same batches
    np.testing.assert_array_equal(first_batch(fresh), first_batch(fresh))
    assert np.abs(first_batch(fresh) - first_batch(data_stream_seed(0, 3))).mean() > 10
    assert len({data_stream_seed(0, k) for k in range(50)}) == 50


def test_a_resumed_phase_restores_its_last_epoch_instead_of_training_it_again(tmp_path):
    """What resuming relies on: a phase's fit() in a new session, on a freshly built model, restores the weights
    of the phase's last epoch from its BackupAndRestore backup and trains only the epochs not done."""
    import keras

    from training.run_dir import RunDir
    from training.train import compile_model

    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = keras.utils.to_categorical(np.arange(32) % 2, 2)

    def new_model(seed):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        compile_model(model, 0.1, 0.0)
        return model

    run = RunDir(tmp_path)
    state = run.start()
    first = new_model(1)
    first.fit(x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=run.epoch_callbacks("head", state))
    assert state["epochs_done"] == 2 and [r["epoch"] for r in run.read_history()] == ["1", "2"]
    second = new_model(2)
    second.fit(x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=run.epoch_callbacks("head", dict(state)))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(run.read_history()) == 2  # no epoch trained again


def test_a_run_started_by_the_older_training_code_is_not_resumed(tmp_path, capsys):
    from training.run_dir import RunDir
    from training.train import main

    run = RunDir(tmp_path / "old")
    run.write_config({"settings": {"lr": 5e-4}})
    run.write_state({"epochs_done": 3, "phase": "finetune", "finished": False})
    (run.path / "checkpoints").mkdir()
    (run.path / "checkpoints" / "last.keras").write_bytes(b"")
    assert main(["--data", "D", "--out", str(run.path), "--resume", "--weights", "none"]) == 1
    assert "started by an older training.train" in capsys.readouterr().err


def test_ignored_settings_names_each_difference_from_the_stored_run():
    from training.train import RUN_SETTINGS, ignored_settings, parse_args

    args = parse_args(["--data", "D", "--out", "O", "--lr", "1e-3", "--epochs", "24"])
    stored = {k: getattr(args, k) for k in RUN_SETTINGS}
    assert ignored_settings(stored, args) == {}
    assert ignored_settings({**stored, "lr": 5e-4, "epochs": 36}, args) == {"lr": (1e-3, 5e-4), "epochs": (24, 36)}
    older = {k: v for k, v in stored.items() if k != "erase"}  # a run whose config lacks a setting
    assert ignored_settings(older, parse_args(["--data", "D", "--out", "O", "--lr", "1e-3", "--epochs", "24",
                                               "--erase", "0.5"])) == {}


def test_the_learning_rate_is_constant_for_the_head_then_a_cosine_to_the_floor():
    from training.train import lr_at

    s = {"head_epochs": 1, "head_lr": 1e-3, "epochs": 5, "lr": 5e-4, "min_lr_ratio": 0.02}
    rates = [lr_at(e, s) for e in range(6)]
    assert rates[0] == 1e-3 and rates[1] == pytest.approx(5e-4) and rates[5] == pytest.approx(1e-5)
    assert rates[3] == pytest.approx((5e-4 + 1e-5) / 2) and all(a > b for a, b in zip(rates[1:], rates[2:]))


@pytest.mark.slow
def test_init_from_starts_a_run_from_a_trained_models_weights(tiny_model, tiny_data, tmp_path):
    import keras

    out = tmp_path / "restart"
    # a different input size: the weights do not depend on it; with the restart stage's random erasing and mixup,
    # so that a whole training run exercises them too
    r = run_cli("-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(out),
                "--init-from", str(tiny_model), "--epochs", "1", "--head-epochs", "0", "--img-size", "40",
                "--alpha", "0.35", "--lr", "1e-9", "--batch-size", "32", "--erase", "0.5", "--mixup", "0.2",
                "--cache-dir", str(tiny_data["cache"]), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "starting from the weights of" in r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["settings"]["init_from"] == str(tiny_model) and cfg["img_size"] == 40
    assert cfg["settings"]["erase"] == 0.5 and cfg["settings"]["mixup"] == 0.2
    phases = [line.split(",")[1] for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert phases == ["restart"]
    # with a learning rate of 1e-9 the restart's convolution weights are still the trained model's
    a = keras.models.load_model(tiny_model / "model.keras", compile=False)
    b = keras.models.load_model(out / "model.keras", compile=False)
    wa, wb = a.get_layer("backbone").get_layer("Conv1").kernel, b.get_layer("backbone").get_layer("Conv1").kernel
    np.testing.assert_allclose(np.asarray(wb), np.asarray(wa), atol=1e-6)
    missing = run_cli("-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(tmp_path / "x"),
                      "--init-from", str(tmp_path / "nothing"), "--cache-dir", str(tiny_data["cache"]))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert f"{tmp_path / 'nothing'}: no such model folder or file" in missing.stderr


@pytest.mark.parametrize("flag, bad, good, allowed", [
    ("--erase", "1.5", "0.5", "a probability per face, in [0, 1]"),
    ("--mixup", "-0.1", "0.2", "0 (off) or a positive Beta parameter"),
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
    ("--ferplus-lam", "1.5", "0.3", "in [0, 1]"),
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


@pytest.mark.parametrize("option", ["--optimizer", "--weight-decay", "--schedule", "--cutmix", "--teacher",
                                    "--distill", "--snapshot-every", "--augmentation"])
def test_the_options_of_experiments_without_gain_are_gone(option, capsys):
    from training.train import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--data", "D", "--out", "O", option, "1"])
    assert "unrecognized arguments" in capsys.readouterr().err
