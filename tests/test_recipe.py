"""The steps after training, as training.recipe chains them: soup, export, evaluate, ship; and the recipe itself."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import MODELS, run_cli
from fer_app.labels import EMOTIONS



@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_tflite_export_agrees_with_keras(tiny_model, tiny_data):
    r = run_cli("-m", "training.export", "--model", str(tiny_model), "--data", str(tiny_data["folders"]),
                "--cache-dir", str(tiny_data["cache"]))
    assert r.returncode == 0, r.stderr[-2000:]
    check = json.loads((tiny_model / "tflite_check.json").read_text())
    assert check["n"] == 42 and check["top1_agreement"] >= 0.995


def test_evaluate_reports_bad_data_in_one_line(tmp_path):
    r = run_cli("-m", "training.evaluate", "--model", str(MODELS), "--data", str(tmp_path / "missing"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no such file or directory" in errors[0]


def test_evaluate_refuses_an_unwritable_report_folder_before_evaluating(tiny_data, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    r = run_cli("-m", "training.evaluate", "--model", str(MODELS), "--data", str(tiny_data["folders"]),
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


def test_recipe_refuses_a_missing_dataset_or_weights_file_before_writing_anything(tiny_data, tmp_path):
    out = tmp_path / "recipe"
    r = run_cli("-m", "training.recipe", "--data", str(tmp_path / "fer2013"), "--weights", "none", "--out", str(out))
    assert r.returncode == 2 and f"--data {tmp_path / 'fer2013'}: no such file or folder" in r.stderr
    r = run_cli("-m", "training.recipe", "--data", str(tiny_data["folders"]), "--weights", str(tmp_path / "w.h5"),
                "--out", str(out))
    assert r.returncode == 2 and f"--weights {tmp_path / 'w.h5'}: no such file" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_recipe_chains_resumable_stages_into_the_shipped_soup(tmp_path):
    import argparse

    from training import recipe
    from training.train import parse_args

    args = argparse.Namespace(data="D", weights="W.h5", out="runs/r", cache_dir=None, verbose=False,
                              first_epochs=recipe.FIRST_EPOCHS, first_lr=recipe.FIRST_LR, ferplus=None)
    parsed = {name: parse_args(recipe.stage_args(name, args)) for name, _ in recipe.STAGES}
    assert list(parsed) == ["first", "restart"]
    assert all(a.resume and a.data == "D" and a.out == f"runs/r/{n}" and not a.verbose for n, a in parsed.items())
    assert parsed["first"].weights == "W.h5" and parsed["first"].init_from is None
    # the shipped model's first stage: 1 head + 18 fine-tuning epochs; --first-epochs changes only that
    assert recipe.FIRST_EPOCHS == 18 and parsed["first"].epochs == 18 and parsed["first"].head_epochs == 1
    longer = argparse.Namespace(**{**vars(args), "first_epochs": 36})
    assert parse_args(recipe.stage_args("first", longer)).epochs == 36
    assert recipe.stage_args("restart", longer) == recipe.stage_args("restart", args)
    r = run_cli("-m", "training.recipe", "--data", "D", "--first-epochs", "0")
    assert r.returncode == 2 and "--first-epochs must be at least 1" in r.stderr
    # the shipped first stage peaks at 5e-4; --first-lr changes only that stage's --lr
    assert recipe.FIRST_LR == 5e-4 and parsed["first"].lr == 5e-4 and parsed["restart"].lr == 2e-4
    faster = argparse.Namespace(**{**vars(args), "first_lr": 1e-3})
    assert parse_args(recipe.stage_args("first", faster)).lr == 1e-3
    assert [a for a in recipe.stage_args("first", faster) if a != "0.001"] == \
        [a for a in recipe.stage_args("first", args) if a != "0.0005"]
    assert recipe.stage_args("restart", faster) == recipe.stage_args("restart", args)
    r = run_cli("-m", "training.recipe", "--data", "D", "--first-lr", "0")
    assert r.returncode == 2 and "--first-lr must be in (0, 0.1]" in r.stderr
    # the warm restart: from first's weights, with erasing and mixup
    s = parsed["restart"]
    assert s.init_from == "runs/r/first" and s.head_epochs == 0 and s.erase == 0.5 and s.mixup == 0.2
    assert {a.img_size for a in parsed.values()} == {96}
    # then the weight average of first and restart; --cache-dir and --verbose reach every step
    soup = recipe.soup_args(args)
    assert soup[soup.index("--models") + 1:soup.index("--models") + 3] == ["runs/r/first", "runs/r/restart"]
    assert soup[soup.index("--out") + 1] == "runs/r/soup"
    loud = argparse.Namespace(**{**vars(args), "verbose": True, "cache_dir": "C"})
    for argv in (recipe.stage_args("first", loud), recipe.stage_args("restart", loud), recipe.soup_args(loud)):
        assert "--verbose" in argv and argv[argv.index("--cache-dir") + 1] == "C"
    # with --ferplus both training stages train the crowd head too; nothing else changes
    assert all(a.ferplus is None for a in parsed.values())
    (tmp_path / "V.csv").write_text("")
    votes = argparse.Namespace(**{**vars(args), "ferplus": str(tmp_path / "V.csv")})
    for name, _ in recipe.STAGES:
        argv = recipe.stage_args(name, votes)
        assert parse_args(argv).ferplus == votes.ferplus and parse_args(argv).ferplus_lam == 0
        assert argv[:argv.index("--ferplus")] + argv[argv.index("--ferplus") + 2:] == recipe.stage_args(name, args)


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
        f.write(json.dumps({"step": "first", "event": "start", "started": "2026-01-01T00:00:00+00:00", "pid": 1}) + "\n")
    later = recipe.write_summary(out)
    assert later["cut_steps"] == ["first"] and later["sessions"] == 2 and later["seconds"] == summary["seconds"]
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
    assert recipe.main(["--data", str(data), "--weights", str(weights), "--out", str(tmp_path / "r2"),
                        "--ferplus", "none"]) == 0
    assert calls == [("first", "training.train"), ("restart", "training.train"), ("soup", "training.soup"),
                     ("export", "training.export"), ("evaluate", "training.evaluate")]
    calls.clear()
    votes = tmp_path / "votes.csv"
    votes.write_text("")
    assert recipe.main(["--data", str(data), "--out", str(tmp_path / "r4"), "--ferplus", str(votes)]) == 0
    assert calls == [("first", "training.train"), ("restart", "training.train"), ("soup", "training.soup"),
                     ("export", "training.export"), ("answer", "training.answer"), ("evaluate", "training.evaluate")]
    import argparse

    from training.answer import main as answer_main  # the answer step's arguments are training.answer's own

    with pytest.raises(SystemExit) as parsed:
        answer_main(recipe.answer_args(str(tmp_path / "r4" / "soup"), argparse.Namespace(data=str(data), cache_dir=None,
                                                                                          verbose=True)) + ["--help"])
    assert parsed.value.code == 0 and recipe.ANSWER[recipe.ANSWER.index("--name") + 1] == "balanced"
    calls.clear()
    monkeypatch.setattr(recipe, "run_step", lambda *a: fake_step(*a, fail="restart"))
    assert recipe.main(["--data", str(data), "--out", str(tmp_path / "r3")]) == 1  # with the shipped votes
    assert calls == [("first", "training.train"), ("restart", "training.train")]


@pytest.mark.slow
def test_ship_copies_a_run_with_its_whole_lineage(tiny_model, tiny_data, tiny_restart, tmp_path):
    from training.ship import FIGURES, FILES

    out = tiny_restart["path"]  # a warm restart of tiny_model: 2 epochs of its own after the parent's
    dest = tmp_path / "shipped"
    r = run_cli("-m", "training.ship", "--model", str(out), "--to", str(dest))
    assert r.returncode == 2 and "training.export" in r.stderr and "Traceback" not in r.stderr
    data = ["--data", str(tiny_data["folders"]), "--cache-dir", str(tiny_data["cache"])]
    for cmd in (["training.export", "--model", str(out)], ["training.evaluate", "--model", str(out), "--tta", "--out", str(out)]):
        r = run_cli("-m", *cmd, *data)
        assert r.returncode == 0, r.stderr[-2000:]
    dest.mkdir()
    for stale in ("confusion_matrix_ferplus.png", "explain_average.png", "explain_metrics.json"):
        (dest / stale).write_bytes(b"another model's figure")
    r = run_cli("-m", "training.ship", "--model", str(out), "--to", str(dest))
    assert r.returncode == 0, r.stderr[-2000:]
    for f in FILES + ("gallery_happy.png",):
        assert (dest / f).read_bytes() == (out / f).read_bytes(), f
    assert not (out / "confusion_matrix_ferplus.png").exists() and not (dest / "confusion_matrix_ferplus.png").exists()
    assert not (dest / "explain_average.png").exists() and not (dest / "explain_metrics.json").exists()
    assert sorted(f.name for f in dest.glob("gallery_*.png")) == sorted(f for f in FIGURES if f.startswith("gallery"))
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


@pytest.mark.slow
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

    probs = EmotionClassifier(out, backend="keras").predict_proba(np.full((1, 48, 48), 128, np.uint8))
    assert probs.shape == (1, len(EMOTIONS))


@pytest.mark.slow
def test_soup_refuses_members_of_different_networks(tiny_model, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["settings"]["img_size"] = 48
    (other / "config.json").write_text(json.dumps(cfg))
    r = run_cli("-m", "training.soup", "--data", "x", "--models", str(tiny_model), str(other), "--out", str(tmp_path / "s"))
    assert r.returncode == 2 and "differ in img_size" in r.stderr and "Traceback" not in r.stderr


def test_soup_and_export_refuse_out_of_range_numbers_with_a_message(capsys):
    from training import export, soup

    with pytest.raises(SystemExit) as e:
        soup.main(["--data", "D", "--models", "a", "--out", "o", "--batch-size", "0"])
    assert e.value.code == 2 and "--batch-size must be at least 1, got 50 and 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        export.main(["--model", "m", "--min-agreement", "99.5"])
    assert e.value.code == 2 and "--min-agreement is a fraction of faces, in [0, 1]; got 99.5" in capsys.readouterr().err
