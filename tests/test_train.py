"""training.train / evaluate / export on the tiny dataset: one epoch, resume, metrics, TFLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from conftest import ROOT, run_cli
from fer_app.labels import EMOTIONS


def test_one_epoch_run_writes_model_history_and_config(tiny_model, tiny_data):
    cfg = json.loads((tiny_model / "config.json").read_text())
    assert cfg["labels"] == list(EMOTIONS)
    assert cfg["preprocessing"]["version"]
    for key in ("epochs", "img_size", "alpha", "weights", "batch_size", "seed", "augment", "class_weight"):
        assert key in cfg["settings"]
    assert cfg["settings"]["erase"] == 0.5 and cfg["settings"]["mixup"] == 0.2
    assert cfg["tta"] == "flip-x-diag1-v1" and 0.25 <= cfg["temperature_tta"] <= 5.0
    assert len(cfg["data"]["train_fingerprint"]) == 16 and cfg["data"]["skipped_files"] == 2
    assert 0.25 <= cfg["temperature"] <= 5.0
    lines = (tiny_model / "history.csv").read_text().strip().splitlines()
    assert lines[0].split(",") == ["epoch", "phase", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert [line.split(",")[1] for line in lines[1:]] == ["head", "finetune"]
    assert (tiny_model / "model.keras").is_file()


def test_resume_after_a_kill_continues_from_the_last_epoch(tiny_data, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(out),
           "--epochs", "5", "--head-epochs", "1", "--img-size", "32", "--alpha", "0.35", "--weights", "none",
           "--batch-size", "32", "--cache-dir", str(tiny_data["cache"]), "--quiet"]
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
    r = subprocess.run(cmd + ["--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"resuming after epoch {done_before}" in r.stderr
    final = json.loads(state.read_text())
    assert final["finished"] and final["epochs_done"] == 6
    epochs = [int(line.split(",")[0]) for line in (out / "history.csv").read_text().strip().splitlines()[1:]]
    assert epochs == [1, 2, 3, 4, 5, 6]


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
