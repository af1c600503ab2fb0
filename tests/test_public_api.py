"""What ``import fer_app`` offers a user: the README's three lines, lazily; scikit-learn's verbs; one error base;
and a non-editable install that is refused in one sentence (the model lives in the repository, not the package)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, needs_shipped_model


def fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter (cwd: the repository) and return the JSON it prints."""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_import_fer_app_is_cheap_and_offers_the_public_names():
    out = fresh("import json, sys, fer_app; print(json.dumps({'modules': sorted(m for m in sys.modules if m.startswith("
                "('fer_app', 'numpy', 'cv2', 'ai_edge_litert'))), 'all': fer_app.__all__, 'version': fer_app.__version__}))")
    assert out["modules"] == ["fer_app", "fer_app.labels"]  # nothing heavy until a name is used
    for name in ("analyze", "analyze_video", "Face", "load_classifier", "FERError", "ImageLoadError", "ModelLoadError",
                 "VideoError", "EMOTIONS", "__version__"):
        assert name in out["all"], name
    import tomllib

    assert "version" in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dynamic"]
    assert out["version"].count(".") == 2


def test_every_error_for_bad_input_shares_one_base():
    import fer_app

    for error in (fer_app.ImageLoadError, fer_app.ModelLoadError, fer_app.VideoError):
        assert issubclass(error, fer_app.FERError)
    with pytest.raises(fer_app.FERError, match="not a readable image|not an image|cannot be read"):
        fer_app.analyze(b"this is not an image")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fer_app.nope  # noqa: B018


@needs_shipped_model
def test_the_readme_three_lines_give_the_apps_answer():
    import fer_app
    from fer_app.pipeline import analyze

    faces = fer_app.analyze(ROOT / "samples" / "astronaut.jpg")
    assert faces and faces[0].emotion == "happy" and isinstance(faces[0], fer_app.Face)
    assert faces == analyze(ROOT / "samples" / "astronaut.jpg", tta=True)  # the Photos page's default: 10 views
    clf = fer_app.load_classifier()
    crops = [np.full((48, 48), 90, np.uint8), np.random.default_rng(0).integers(0, 256, (60, 50, 3), dtype=np.uint8)]
    proba = clf.predict_proba(crops)
    assert proba.shape == (2, 7) and np.allclose(proba.sum(axis=1), 1)
    assert clf.predict(crops) == [fer_app.EMOTIONS[i] for i in proba.argmax(axis=1)]


@pytest.mark.slow
def test_a_non_editable_install_refuses_in_one_sentence(tmp_path):
    """``pip install .`` copies the packages, not models/: ``fer predict`` then says so and how to fix it."""
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                        str(target), str(ROOT)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    if r.returncode != 0 and "setuptools" in r.stderr:
        pytest.skip("setuptools is not installed in this environment")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (target / "training" / "ferplus_votes.csv.gz").is_file()  # the votes are package data
    r = subprocess.run([sys.executable, "-m", "fer_app", "predict", str(ROOT / "samples" / "astronaut.jpg")],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path, env={"PYTHONPATH": str(target),
                                                                                      "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "pip install -e ." in r.stderr and "FER_MODEL_DIR" in r.stderr
