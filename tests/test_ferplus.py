"""FER+ crowd votes: what the seven classes take from the ten columns, targets, the crowd majority, and a
two-head model trained, calibrated, exported and evaluated against both truths on the tiny dataset."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from conftest import SHARED_FER, TINY_MODEL_ARGS, needs_shared_fer, run_cli
from fer_app.labels import EMOTIONS, INDEX
from training.ferplus import VOTE_COLUMNS, CrowdLabels, VotesError, crowd_labels, mixed_targets, read_votes, source_key


def votes_row(**counts) -> np.ndarray:
    return np.array([counts.get(c, 0) for c in VOTE_COLUMNS], np.float32)


def test_distribution_drops_contempt_unknown_and_not_a_face_votes():
    crowd = CrowdLabels(np.stack([votes_row(anger=6, disgust=2, contempt=1, NF=1), votes_row(contempt=7, unknown=3),
                                  votes_row()]), np.array([True, True, False]))
    d = crowd.distribution()
    assert d[0, INDEX["angry"]] == pytest.approx(0.75) and d[0, INDEX["disgust"]] == pytest.approx(0.25)
    assert d[0].sum() == pytest.approx(1.0)
    assert not d[1].any() and not d[2].any()  # no vote for any of the seven / no votes at all


def test_crowd_majority_is_a_unique_top_column_among_our_seven():
    rows = [votes_row(happiness=7, neutral=3), votes_row(sadness=4, neutral=4, fear=2),  # clear; tie
            votes_row(contempt=5, anger=4, disgust=1), votes_row(surprise=5, fear=4, NF=1), votes_row()]
    crowd = CrowdLabels(np.stack(rows), np.array([True, True, True, True, False]))
    assert crowd.majority().tolist() == [INDEX["happy"], -1, -1, INDEX["surprise"], -1]


def test_mixed_targets_blend_the_label_with_the_crowd_and_fall_back_to_the_label():
    crowd = CrowdLabels(np.stack([votes_row(happiness=5, surprise=5), votes_row(unknown=10)]), np.array([True, True]))
    y = np.array([INDEX["happy"], INDEX["sad"]])
    t = mixed_targets(y, crowd, lam=0.5)
    assert t[0, INDEX["happy"]] == pytest.approx(0.75) and t[0, INDEX["surprise"]] == pytest.approx(0.25)
    assert t[1].tolist() == np.eye(7)[INDEX["sad"]].tolist()  # no crowd distribution: the label alone
    assert mixed_targets(y, crowd, 1.0)[0].tolist() == np.eye(7)[INDEX["happy"]].tolist()
    np.testing.assert_allclose(t.sum(axis=1), 1.0)


def test_votes_are_found_by_kaggle_path_or_by_fer2013_csv_row():
    assert source_key("angry/Training_1.jpg", "train") == "train/angry/Training_1.jpg"
    assert source_key("angry/Training_1.jpg", "val") == "train/angry/Training_1.jpg"  # val is carved out of train
    assert source_key("fear/PublicTest_9.jpg", "test") == "test/fear/PublicTest_9.jpg"
    assert source_key("line 2", "train") == "fer0000000.png" and source_key("line 35889", "test") == "fer0035887.png"


def test_a_file_that_is_not_a_votes_file_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "votes.csv"
    bad.write_text("image,label\nx.jpg,3\n")
    with pytest.raises(VotesError, match="not a FER\\+ votes file"):
        read_votes(bad)
    with pytest.raises(VotesError, match="no such votes file"):
        read_votes(tmp_path / "missing.csv")


@needs_shared_fer
def test_the_shared_votes_match_the_test_split_as_documented():
    """FERPLUS.md: 3,579 of the 3,589 test files have votes; 3,372 have a unique majority among the seven."""
    from training.data import load_split

    test = load_split(SHARED_FER, "test")
    crowd = crowd_labels(test, read_votes(SHARED_FER / "ferplus_votes.csv"))
    assert int(crowd.has_votes.sum()) == 3579 and int((crowd.majority() >= 0).sum()) == 3372


# ----------------------------------------------------------------------------- a two-head model, end to end


def write_tiny_votes(root, path) -> dict[str, int]:
    """Votes for the tiny dataset's files: most faces unanimous for their folder's emotion; every 4th face's
    crowd prefers the next emotion, every 5th has a tie (no majority). Returns {image: crowd majority or -1}."""
    majority = {}
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "ferplus_name", *VOTE_COLUMNS])
        files = sorted(p for p in root.rglob("*.png") if p.stat().st_size)
        for n, p in enumerate(files):
            label = INDEX[p.parent.name.lower()]
            counts = dict.fromkeys(VOTE_COLUMNS, 0)
            ours = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
            if n % 5 == 0:
                counts[ours[label]], counts[ours[(label + 1) % 7]], major = 5, 5, -1
            elif n % 4 == 0:
                counts[ours[(label + 1) % 7]], counts[ours[label]], major = 8, 2, (label + 1) % 7
            else:
                counts[ours[label]], major = 10, label
            image = str(p.relative_to(root))
            w.writerow([image, f"fer{n:07d}.png", *counts.values()])
            majority[image] = major
    return majority


@pytest.fixture(scope="module")
def two_head_model(tiny_model, tiny_data, tmp_path_factory):
    base = tmp_path_factory.mktemp("twohead")
    votes = base / "votes.csv"
    majority = write_tiny_votes(tiny_data["folders"], votes)
    out = base / "model"
    r = run_cli("-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(out), "--init-from",
                str(tiny_model), "--ferplus", str(votes), "--epochs", "1", "--head-epochs", "0", "--img-size", "32",
                "--alpha", "0.35", "--batch-size", "32", "--cache-dir", str(tiny_data["cache"]), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    return {"dir": out, "votes": votes, "majority": majority}


@pytest.mark.slow
def test_two_head_training_records_both_heads_and_the_app_follows_the_crowd(two_head_model, tiny_data):
    from fer_app.model import EmotionClassifier
    from training.data import load_split

    out = two_head_model["dir"]
    config = json.loads((out / "config.json").read_text())
    assert config["app_head"] == "crowd" and config["settings"]["ferplus"] == str(two_head_model["votes"])
    assert config["heads"]["fer2013"]["columns"] == [0, 7] and config["heads"]["crowd"]["columns"] == [7, 14]
    crowd = config["heads"]["crowd"]
    assert crowd["temperature"] > 0 and 0 <= crowd["val_ferplus_accuracy_tta"] <= 1 and crowd["val_ferplus_n"] > 0
    with open(out / "history.csv") as fh:
        row = next(csv.DictReader(fh))
    assert 0 <= float(row["val_crowd_accuracy"]) <= 1 and 0 <= float(row["val_accuracy"]) <= 1
    clf = EmotionClassifier(out, backend="keras")
    assert clf.head == "crowd" and clf.heads == ("fer2013", "crowd")
    x = load_split(tiny_data["folders"], "test", tiny_data["cache"]).x[:5]
    crowd_p, fer_p = clf.predict_prepared(x), clf.with_head("fer2013").predict_prepared(x)
    assert crowd_p.shape == fer_p.shape == (5, len(EMOTIONS)) and not np.allclose(crowd_p, fer_p)
    np.testing.assert_allclose(crowd_p.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(Exception, match="no 'other' head"):
        clf.with_head("other")


@pytest.mark.slow
def test_two_head_export_and_evaluation_report_both_truths(two_head_model, tiny_data, tmp_path):
    from fer_app.model import EmotionClassifier

    out = two_head_model["dir"]
    r = run_cli("-m", "training.export", "--model", str(out), "--data", str(tiny_data["folders"]),
                "--cache-dir", str(tiny_data["cache"]))
    assert r.returncode == 0, r.stderr[-2000:]
    clf = EmotionClassifier(out, backend="tflite")
    assert clf.head == "crowd" and clf.predict_prepared(np.zeros((2, 48, 48, 1), np.uint8)).shape == (2, 7)
    r = run_cli("-m", "training.evaluate", "--model", str(out), "--data", str(tiny_data["folders"]), "--tta",
                "--json", "--out", str(tmp_path), "--cache-dir", str(tiny_data["cache"]))
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads(r.stdout)
    assert m["head"] == "fer2013" and m["n"] == 42 and m["ferplus"]["head"] == "crowd"
    test_majority = [v for k, v in two_head_model["majority"].items() if k.startswith("test/")]
    assert m["ferplus"]["n"] == sum(v >= 0 for v in test_majority) and m["ferplus"]["left_out"] == test_majority.count(-1)
    assert set(m["cross"]) == {"fer2013_head_on_ferplus_majority", "crowd_head_on_fer2013_labels"}
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["ferplus"]["n"] == m["ferplus"]["n"]
    # the report also holds both truths on validation (the heads as on test)
    assert saved["validation"]["fer2013_labels"]["head"] == "fer2013" and saved["validation"]["fer2013_labels"]["n"] > 0
    assert saved["validation"]["ferplus_majority"]["head"] == "crowd"
    assert (tmp_path / "confusion_matrix_ferplus.png").is_file()


@pytest.mark.slow
def test_a_one_head_model_is_judged_by_the_crowd_too_when_given_the_votes(tiny_model, tiny_data, two_head_model):
    r = run_cli("-m", "training.evaluate", "--model", str(tiny_model), "--data", str(tiny_data["folders"]),
                "--json", "--ferplus", str(two_head_model["votes"]), "--cache-dir", str(tiny_data["cache"]))
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads(r.stdout)
    assert m["ferplus"]["head"] == "fer2013" and "cross" not in m
    r = run_cli("-m", "training.evaluate", "--model", str(tiny_model), "--data", str(tiny_data["folders"]),
                "--ferplus", "nowhere.csv", "--cache-dir", str(tiny_data["cache"]))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such votes file" in r.stderr


def test_training_refuses_a_missing_votes_file_before_reading_data(tiny_data, tmp_path):
    r = run_cli("-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(tmp_path / "o"),
                "--ferplus", str(tmp_path / "none.csv"), *TINY_MODEL_ARGS)
    assert r.returncode == 2 and "no such votes file" in r.stderr and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_a_soup_of_two_head_models_keeps_both_heads_and_refuses_a_one_head_member(two_head_model, tiny_model,
                                                                                  tiny_data, tmp_path):
    data = ["--data", str(tiny_data["folders"]), "--cache-dir", str(tiny_data["cache"]), "--bn-batches", "2",
            "--batch-size", "32"]
    member = str(two_head_model["dir"])
    r = run_cli("-m", "training.soup", *data, "--models", member, member, "--out", str(tmp_path / "soup"))
    assert r.returncode == 0, r.stderr[-3000:]
    config = json.loads((tmp_path / "soup" / "config.json").read_text())
    assert config["app_head"] == "crowd" and config["heads"]["crowd"]["val_ferplus_n"] > 0
    from training.soup import member_configs

    with pytest.raises(ValueError, match="different heads"):
        member_configs([two_head_model["dir"], tiny_model])
