"""End to end in a real headless Chromium (Debian's package, driven by Playwright): `streamlit run`
on localhost, a photo upload, and the live webcam fed by Chromium's fake camera.

Skipped when /usr/bin/chromium or Playwright is missing, unless FER_REQUIRE_BROWSER=1 (CI), where a
missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, needs_shipped_model

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRED = os.environ.get("FER_REQUIRE_BROWSER") == "1"
if not Path(CHROMIUM).exists() or not shutil.which("chromium") and not Path("/usr/bin/chromium").exists():
    if REQUIRED:
        raise RuntimeError("FER_REQUIRE_BROWSER=1 but Debian's chromium is not installed")
    pytest.skip("chromium not installed (apt-get install chromium)", allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api")
skdata = pytest.importorskip("skimage.data")
pytestmark = needs_shipped_model

BASE_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    # the server's output goes to a file: an unread pipe fills up and blocks the server mid-stream
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
                             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + log_path.read_text()[-3000:])
    yield {"url": url, "proc": proc, "log": log_path}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def write_face_y4m(path: Path, frames: int = 60) -> None:
    """A 640x480 Y4M clip of the astronaut's face sliding slowly, for --use-file-for-fake-video-capture."""
    import cv2

    face = cv2.resize(skdata.astronaut()[20:300, 120:340], (220, 280))
    with open(path, "wb") as fh:
        fh.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for i in range(frames):
            frame = np.full((480, 640, 3), 110, np.uint8)
            x = 150 + int(60 * np.sin(i / 10))
            frame[100:380, x:x + 220] = face
            fh.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())


def webcam_state(page, video, server_log: Path, shot: Path) -> str:
    """What the page showed when no face status came: for the failure message."""
    width = body = "unknown"
    try:  # the state report must not raise
        page.screenshot(path=str(shot), full_page=True)
        width = video.evaluate("v => v.videoWidth", timeout=5_000)
        body = " ".join(page.locator("[data-testid='stMain']").first.inner_text(timeout=5_000).split())[:600]
    except Exception as exc:
        body += f" ({type(exc).__name__})"
    return f"video width {width}; page: {body!r}; server log tail: {server_log.read_text()[-1500:]!r}; screenshot {shot}"


def test_upload_a_face_photo_and_see_the_emotion_and_chart(server, tmp_path):
    from PIL import Image

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(skdata.astronaut()).save(photo)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BASE_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server["url"], timeout=60_000)
        page.get_by_text("Upload a photo to start.").wait_for(timeout=60_000)
        page.locator("input[type=file]").first.set_input_files(str(photo))
        face = page.get_by_text("Face #1:")
        face.wait_for(timeout=120_000)
        text = face.inner_text()
        assert any(e in text for e in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"))
        page.locator(".vega-embed").first.wait_for(timeout=30_000)
        assert page.locator(".vega-embed").count() >= 1
        page.screenshot(path=str(tmp_path / "photos.png"), full_page=True)
        browser.close()


def test_live_webcam_returns_annotated_frames(server, tmp_path):
    clip = tmp_path / "face.y4m"
    write_face_y4m(clip)
    flags = BASE_FLAGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                          f"--use-file-for-fake-video-capture={clip}"]
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"])
        page = ctx.new_page()
        page.goto(server["url"], timeout=60_000)
        page.get_by_text("Upload a photo to start.").wait_for(timeout=60_000)
        page.locator("label").filter(has_text="Live webcam").click()
        frame = page.frame_locator("iframe[title='streamlit_webrtc.component.webrtc_streamer']")
        video = frame.locator("video").first
        # the page's status line is written from what the frame callback published. A WebRTC start
        # can fail for reasons outside the app (one CI run in four timed out here while the CPU was
        # shared); then the test does what a user would: STOP, START once more, and reports the
        # first attempt's state as a warning so a recurring failure stays visible.
        for attempt in (1, 2):
            frame.get_by_role("button", name="START").click(timeout=60_000)
            try:
                page.get_by_text("face(s) ·").first.wait_for(timeout=90_000)
                break
            except playwright_api.TimeoutError:
                state = webcam_state(page, video, server["log"], tmp_path / f"attempt{attempt}.png")
                if attempt == 2:
                    pytest.fail("no face status after two STARTs; last state: " + state)
                warnings.warn("webcam attempt 1 showed no face status in 90 s; " + state)
                frame.get_by_role("button", name="STOP").click(timeout=30_000)
                page.get_by_text("The live chart appears here").wait_for(timeout=60_000)
        deadline = time.time() + 60
        while time.time() < deadline and video.evaluate("v => v.videoWidth") == 0:
            time.sleep(0.5)
        assert video.evaluate("v => v.videoWidth") == 640
        shot = tmp_path / "webcam.png"
        time.sleep(2)
        video.screenshot(path=str(shot))
        browser.close()
    # annotated: the returned video shows a filled label box in one of the emotion colours,
    # which the fake camera's frames never contain
    from PIL import Image

    from fer_app.labels import EMOTIONS, colour_rgb

    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    hits = max(int((np.abs(img - np.array(colour_rgb(e))).max(axis=2) < 20).sum()) for e in EMOTIONS)
    assert hits > 200, hits
