"""python -m fer_app predict: JSON lines, errors per input, exit codes, annotation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import MODELS, needs_shipped_model, run_cli

pytestmark = needs_shipped_model
skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    Image.fromarray(skdata.astronaut()).save(d / "astronaut.png")
    Image.fromarray(skdata.coffee()).save(d / "coffee.webp")
    (d / "notes.txt").write_text("not an image")
    (d / "empty.jpg").write_bytes(b"")
    return d


def test_json_lines_bad_inputs_reported_and_exit_code_1(inputs, tmp_path):
    paths = [inputs / "astronaut.png", inputs / "notes.txt", inputs / "missing.jpg", inputs / "empty.jpg",
             inputs / "coffee.webp"]
    r = run_cli("-m", "fer_app", "predict", *map(str, paths), "--json", "--annotate", str(tmp_path))
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout
    records = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert [rec["image"] for rec in records] == list(map(str, paths))
    good, notes, missing, empty, coffee = records
    assert good["error"] is None and len(good["faces"]) == 1
    assert {rec["head"] for rec in records} == {json.loads((MODELS / "config.json").read_text()).get("app_head", "fer2013")}
    face = good["faces"][0]
    assert set(face) == {"box", "score", "emotion", "probabilities"} and len(face["box"]) == 4
    assert abs(sum(face["probabilities"].values()) - 1) < 1e-3
    assert "not a readable image" in notes["error"] and "no such file" in missing["error"]
    assert "an empty file" in empty["error"]
    assert coffee["error"] is None and coffee["faces"] == []
    assert (tmp_path / "astronaut_annotated.png").is_file()


def test_all_good_inputs_exit_0_with_the_fast_detector(inputs):
    r = run_cli("-m", "fer_app", "predict", str(inputs / "astronaut.png"), "--detector", "haar")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "face 1 at" in r.stdout


def test_usage_errors_exit_2(inputs):
    r = run_cli("-m", "fer_app", "predict", str(inputs / "astronaut.png"), "--detector", "nope")
    assert r.returncode == 2
    r = run_cli("-m", "fer_app", "predict", str(inputs / "astronaut.png"), "--model", str(inputs))
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("-m", "fer_app", "predict", str(inputs / "astronaut.png"), "--head", "nobody")
    assert r.returncode == 2 and r.stderr.startswith("error: this model has no 'nobody' head") and "Traceback" not in r.stderr
    r = run_cli("-m", "fer_app", "predict", str(inputs / "astronaut.png"), "--min-face=-5")
    assert r.returncode == 2 and "--min-face is a face side in pixels, at least 1; got -5" in r.stderr


def test_annotate_into_a_file_is_a_usage_error(inputs, tmp_path):
    not_a_dir = tmp_path / "taken.txt"
    not_a_dir.write_text("a file, not a folder")
    r = run_cli("-m", "fer_app", "predict", str(inputs / "astronaut.png"), "--annotate", str(not_a_dir))
    assert r.returncode == 2 and "Traceback" not in r.stderr + r.stdout
    assert f"error: cannot write annotated images into {not_a_dir}" in r.stderr


def test_inputs_with_the_same_name_get_separate_annotated_copies(inputs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    Image.open(inputs / "astronaut.png").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(other / "astronaut.png")
    out = tmp_path / "annotated"
    r = run_cli("-m", "fer_app", "predict", str(inputs / "astronaut.png"), str(other / "astronaut.png"),
                "--detector", "haar", "--annotate", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    first, second = out / "astronaut_annotated.png", out / "astronaut_2_annotated.png"
    assert {p.name for p in out.iterdir()} == {first.name, second.name}
    # each copy is its own input's picture: the second is the mirror image of the first
    a, b = (np.asarray(Image.open(p).convert("L"), np.int16) for p in (first, second))
    assert np.abs(a - b).mean() > 5
