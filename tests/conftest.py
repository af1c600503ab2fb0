"""Shared fixtures: a tiny FER-2013 the tests write themselves (folders + CSV, with a corrupt file),
a tiny model trained once per session, and paths to ../shared data (tests skip when absent)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# As in streamlit_app.py: aiortc's SRTP library segfaults when first imported after TensorFlow, so the
# app tests (AppTest runs the app in this process) crash when a TensorFlow test ran before them.
try:
    import streamlit_webrtc  # noqa: E402,F401
except ImportError:  # the app's tests skip without it
    pass

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHARED_FER = SHARED / "fer2013"
SHARED_PHOTOS = SHARED / "photos"
SHARED_WEIGHTS = SHARED / "weights" / "mobilenetv2_imagenet_notop.weights.h5"
MODELS = ROOT / "models"
from fer_app.labels import CSV_CODES, EMOTIONS  # noqa: E402  (after the WebRTC import above)

PER_CLASS = {"train": 14, "test": 6}


def synthetic_face(label: int, rng: np.random.Generator) -> np.ndarray:
    """A 48x48 uint8 image whose pattern depends on the class (so a model can learn it)."""
    yy, xx = np.mgrid[0:48, 0:48] / 47.0
    base = np.sin((label + 1) * np.pi * xx) * np.cos((label % 3 + 1) * np.pi * yy)
    img = 128 + 90 * base + rng.normal(0, 12, (48, 48))
    return np.clip(img, 0, 255).astype(np.uint8)


def run_cli(*args, cwd=ROOT, timeout=600, own_logging=False):
    """``python *args``; TensorFlow's C++ log is silenced unless ``own_logging`` (the CLI must quieten itself)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    if own_logging:
        del env["TF_CPP_MIN_LOG_LEVEL"]
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> dict:
    """{'folders': root, 'csv': path, 'corrupt': path, 'cache': dir}: the same images in both layouts."""
    from PIL import Image

    rng = np.random.default_rng(0)
    base = tmp_path_factory.mktemp("tinyfer")
    folders, csv_path = base / "fer_folders", base / "fer2013.csv"
    code_of = {name: code for code, name in CSV_CODES.items()}
    rows = []
    for split, usage in (("train", "Training"), ("test", "PublicTest")):
        for label, name in enumerate(EMOTIONS):
            # mixed-case folder names: the reader must not care
            d = folders / split / (name.capitalize() if label % 2 else name)
            d.mkdir(parents=True)
            for i in range(PER_CLASS[split]):
                img = synthetic_face(label, rng)
                Image.fromarray(img).save(d / f"{i:03d}.png")
                rows.append((code_of[name], " ".join(map(str, img.ravel())), usage))
    corrupt = folders / "train" / "angry" / "zz_corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folders / "train" / "angry" / "zz_empty.png").write_bytes(b"")
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["emotion", "pixels", "Usage"])
        w.writerows(rows)
        w.writerow([3, "1 2 3", "Training"])  # a broken row: skipped and counted
    return {"folders": folders, "csv": csv_path, "corrupt": corrupt, "cache": base / "cache", "base": base}


@pytest.fixture(scope="session")
def tiny_model(tiny_data, tmp_path_factory) -> Path:
    """A model trained for 1 head + 2 fine-tune epochs on the tiny dataset (small and fast); its figures are
    pinned in tests/test_train.py (the same command before and after the training code's refactor)."""
    out = tmp_path_factory.mktemp("tinymodel")
    r = run_cli("-m", "training.train", "--data", str(tiny_data["folders"]), "--out", str(out), *TINY_MODEL_ARGS,
                "--cache-dir", str(tiny_data["cache"]), "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def tiny_restart(tiny_model, tiny_data, tmp_path_factory) -> dict:
    """{'path': run, 'output': what the command printed}: the recipe's warm restart on the tiny model (2 epochs from
    its weights), trained once for the tests of the pipeline's figures and of shipping a run with its lineage."""
    out = tmp_path_factory.mktemp("tinyrestart") / "restart"
    r = run_cli("-m", "training.train", "--data", str(tiny_data["folders"]), "--cache-dir", str(tiny_data["cache"]),
                "--out", str(out), "--init-from", str(tiny_model), "--head-epochs", "0", "--img-size", "32",
                "--alpha", "0.35", "--epochs", "2", "--lr", "2e-4", "--label-smoothing", "0.1", "--batch-size", "32",
                "--patience", "2", "--quiet", timeout=900, own_logging=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return {"path": out, "output": r.stdout + r.stderr}


TINY_MODEL_ARGS = ["--epochs", "2", "--head-epochs", "1", "--img-size", "32", "--alpha", "0.35", "--weights", "none",
                   "--batch-size", "32", "--label-smoothing", "0.1", "--seed", "0"]


@pytest.fixture(scope="session", autouse=True)
def decoded_image_cache_in_tmp(tmp_path_factory):
    """Tests that read a dataset without naming a cache folder cache it here, not in ~/.cache/fer_app
    (``training.data.default_cache_dir``; CLIs started by the tests inherit it); Keras's settings file
    (~/.keras/keras.json, written on first import) goes here too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FER_CACHE_DIR", str(tmp_path_factory.mktemp("fer_cache")))
        mp.setenv("KERAS_HOME", str(tmp_path_factory.mktemp("keras_home")))
        yield


def tree_digest(root: Path) -> dict[str, tuple[int, str]]:
    import hashlib

    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*")) if p.is_file()}


needs_shared_fer = pytest.mark.skipif(not SHARED_FER.is_dir(), reason="../shared/fer2013 not present")
needs_photos = pytest.mark.skipif(not SHARED_PHOTOS.is_dir(), reason="../shared/photos not present")
needs_shipped_model = pytest.mark.skipif(not (MODELS / "config.json").is_file(), reason="no shipped model")

#: fixtures that train or load a Keras model: a test using one needs TensorFlow (marker ``tensorflow``)
TENSORFLOW_FIXTURES = {"tiny_model", "tiny_restart", "two_head_model"}


def require_browser() -> str:
    """Debian's Chromium and Playwright, or skip the calling test or module; with ``FER_REQUIRE_BROWSER=1`` (CI) a
    missing browser fails instead. The one browser gate of the suite: every browser test goes through it."""
    from benchmarks.browser import CHROMIUM

    missing = ("Debian's chromium is not installed (apt-get install chromium)" if not Path(CHROMIUM).exists() else
               None)
    if missing is None:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright is not installed (pip install -r requirements-dev.txt)"
    if missing and os.environ.get("FER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"FER_REQUIRE_BROWSER=1 but {missing}", pytrace=False)
    if missing:
        pytest.skip(missing, allow_module_level=True)
    return CHROMIUM


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Markers from what a test needs: ``browser`` tests are also ``slow`` (the quick subset starts no server and
    no browser); tests using a TensorFlow fixture get ``tensorflow``; tests skipped without ../shared get
    ``shared``."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
        if TENSORFLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.tensorflow)
        if any("../shared" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")):
            item.add_marker(pytest.mark.shared)
