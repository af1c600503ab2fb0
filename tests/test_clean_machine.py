"""What a user on a clean machine gets: the FER+ votes shipped with the project, the shipped model evaluated from a
folder with no ../shared beside it, and no path of the development machine in any shipped file."""

from __future__ import annotations

import gzip
import json
import re

import pytest


from conftest import MODELS, SHARED_FER, needs_shared_fer, needs_shipped_model, run_cli
from training.ferplus import SHIPPED_VOTES, read_votes, recorded_votes, resolve_votes

#: paths of the machine the model was made on: the shared data beside the checkout, absolute home or work folders
MACHINE_PATHS = re.compile(r"\.\./shared|/work/|/root/|/home/|/tmp/")


def test_the_votes_for_the_kaggle_folders_ship_with_the_project_and_are_credited():
    votes = read_votes(SHIPPED_VOTES)
    train = [k for k in votes if k.startswith("train/")]
    test = [k for k in votes if k.startswith("test/")]
    assert len(train) == 28558 and len(test) == 3579  # every train and PublicTest file FER+ kept
    assert SHIPPED_VOTES.stat().st_size < 1_000_000
    credit = (SHIPPED_VOTES.parent / "FERPLUS_VOTES.md").read_text()
    assert "MIT License" in credit and "Microsoft" in credit and "Barsoum" in credit
    # a config records the shipped file by its name, and reading that name back finds the file
    assert recorded_votes(SHIPPED_VOTES) == SHIPPED_VOTES.name and resolve_votes(SHIPPED_VOTES.name) == SHIPPED_VOTES


@needs_shared_fer
def test_the_shipped_votes_are_the_shared_votes_unchanged():
    shared = (SHARED_FER / "ferplus_votes.csv").read_bytes()
    assert gzip.decompress(SHIPPED_VOTES.read_bytes()) == shared


@needs_shipped_model
def test_no_shipped_file_names_a_folder_of_the_development_machine():
    found = {}
    for path in [*MODELS.glob("*.json"), *MODELS.glob("*.csv"), MODELS / "MODEL_CARD.md"]:
        hits = MACHINE_PATHS.findall(path.read_text())
        if hits:
            found[path.name] = hits
    assert not found, found
    config = json.loads((MODELS / "config.json").read_text())
    assert resolve_votes(config["settings"]["ferplus"]) == SHIPPED_VOTES


@needs_shipped_model
@pytest.mark.slow
def test_evaluate_runs_on_the_shipped_model_from_a_folder_without_shared(tiny_data, tmp_path):
    """A user's folder: no ../shared beside it. The shipped model's recorded votes are the shipped file; the tiny
    FER-2013 folder's files match none of them, so the report gives FER-2013's truth and says in one line why."""
    home = tmp_path / "user" / "project"
    home.mkdir(parents=True)
    assert not (home.parent / "shared").exists()
    r = run_cli("-m", "training.evaluate", "--data", str(tiny_data["folders"]), "--json", cwd=home)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads(r.stdout)
    assert m["n"] == 42 and "ferplus" not in m and m["answer"]["head"] == "balanced"
    notes = [line for line in r.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "none of these 42 faces has FER+ votes" in notes[0], r.stderr
    assert "Traceback" not in r.stderr and "Error" not in r.stderr
    r = run_cli("-m", "training.evaluate", "--data", str(tiny_data["folders"]), "--ferplus", "none", cwd=home)
    assert r.returncode == 0 and "accuracy=" in r.stdout and "note:" not in r.stderr
    r = run_cli("-m", "training.evaluate", "--data", str(tiny_data["folders"]), "--ferplus", "votes.csv", cwd=home)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "no such votes file" in r.stderr
