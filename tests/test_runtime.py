"""The run-time path (photos, the CLI, video and the webcam callback) never loads TensorFlow or Keras, and
keeps one detector per kind per process whatever the settings."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT, needs_shipped_model

pytestmark = needs_shipped_model

NO_TF_CHECK = textwrap.dedent("""
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
    print(json.dumps({"loaded": loaded, "result": result}))
""")


def run_fresh(body: str) -> dict:
    """Run ``body`` (which sets ``result``) in a new interpreter; returns what it printed as JSON."""
    code = "import json, sys\n" + textwrap.dedent(body) + NO_TF_CHECK
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_photo_path_without_tensorflow():
    out = run_fresh("""
        from skimage import data
        from fer_app.pipeline import analyze
        faces = analyze(data.astronaut(), detector="mtcnn", tta=True)
        faces += analyze(data.astronaut(), detector="haar")
        result = [f.emotion for f in faces]
    """)
    assert out["result"] == ["happy", "happy"] and out["loaded"] == []


def test_cli_without_tensorflow(tmp_path):
    from PIL import Image
    from skimage import data

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    out = run_fresh(f"""
        from fer_app.__main__ import main
        result = main(["predict", {str(photo)!r}, "--json", "--annotate", {str(tmp_path / "out")!r}])
    """)
    assert out["result"] == 0 and out["loaded"] == []
    assert (tmp_path / "out" / "astronaut_annotated.png").is_file()


def test_video_and_webcam_callback_without_tensorflow():
    out = run_fresh("""
        import av, numpy as np
        from skimage import data
        from fer_app.video.tracker import VideoAnalyzer
        from fer_app.video.webcam import LiveResults, make_frame_callback
        frame = np.full((480, 640, 3), 100, np.uint8)
        frame[100:380, 210:430] = data.astronaut()[20:300, 120:340]
        live = LiveResults()
        callback = make_frame_callback(VideoAnalyzer(tta=True), live)
        for i in range(6):
            callback(av.VideoFrame.from_ndarray(np.roll(frame, 4 * i, axis=1), format="rgb24"))
        result = [live.frames, live.snapshot()["main"].emotion]
    """)
    assert out["result"] == [6, "happy"] and out["loaded"] == []


def test_one_detector_per_kind_whatever_the_minimum_face_size():
    from skimage import data

    from fer_app import faces

    img = data.astronaut()
    for name in ("mtcnn", "haar"):
        first = faces.get_detector(name)
        counts = [len(first.detect(img, min_face=m)) for m in (12, 20, 40, 80, 120)]
        assert faces.get_detector(name) is first
        assert counts[:4] == [1, 1, 1, 1] and counts[4] == 0  # her face is ~100 px: a filter, not a new network
    assert set(faces._cache) <= {"mtcnn", "haar"}


def test_a_face_cut_by_the_image_border_is_found():
    """The photo detector pads the image: half of the astronaut's face at the left border is still a face."""
    from skimage import data

    from fer_app.faces import get_detector

    img = data.astronaut()
    x, y, w, h = get_detector("mtcnn").detect(img)[0].box
    cut = np.ascontiguousarray(img[:, x + w // 2:])  # the left half of her face is outside the image
    found = get_detector("mtcnn").detect(cut)
    assert len(found) == 1
    fx, fy, fw, fh = found[0].box
    assert fx < 0 < fx + fw and abs(fy - y) < h / 3  # the box reaches beyond the border, at her face's height


@pytest.mark.parametrize("name", ["mtcnn", "haar"])
def test_detector_thread_safety_under_concurrent_calls(name):
    """Streamlit serves sessions from threads: concurrent calls on the shared detector give the same boxes."""
    from concurrent.futures import ThreadPoolExecutor

    from skimage import data

    from fer_app.faces import get_detector

    det, img = get_detector(name), data.astronaut()
    sizes = [20, 60, 20, 60, 20, 60]
    expected = {m: [d.box for d in det.detect(img, min_face=m)] for m in set(sizes)}
    with ThreadPoolExecutor(4) as pool:
        boxes = list(pool.map(lambda m: [d.box for d in det.detect(img, min_face=m)], sizes))
    assert boxes == [expected[m] for m in sizes]


def test_the_allocator_settings_apply_on_glibc():
    import platform

    from fer_app.allocator import tune_allocator

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert tune_allocator() is True and tune_allocator() is True  # idempotent
