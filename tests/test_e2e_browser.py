"""End to end in a real headless Chromium (Debian's package, driven by Playwright): `streamlit run` on
localhost, photos (a batch with a broken file, a sample, a page switch), and the live webcam fed by
Chromium's fake camera (START, STOP, START).

Skipped when /usr/bin/chromium or Playwright is missing, unless FER_REQUIRE_BROWSER=1 (CI), where a
missing browser is a failure.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from benchmarks.browser import (BASE_FLAGS, CHROMIUM, WEBRTC_FRAME, camera_flags, go_to_page, start_server,
                                stop_server, write_face_y4m)
from conftest import needs_shipped_model, require_browser

require_browser()
playwright_api = pytest.importorskip("playwright.sync_api")
skdata = pytest.importorskip("skimage.data")
pytestmark = [needs_shipped_model, pytest.mark.browser]
INTERNALS = ("Error:", "0x", "<_io", "Traceback", "UnidentifiedImage")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    proc, url = start_server(log)
    yield {"url": url, "proc": proc, "log": log}
    stop_server(proc)


def main_text(page) -> str:
    return page.locator("[data-testid='stMain']").first.inner_text(timeout=10_000)


def test_photo_batch_survives_a_page_switch_and_a_broken_file_reads_plainly(server, tmp_path):
    from PIL import Image

    photo, broken = tmp_path / "astronaut.jpg", tmp_path / "bad.jpg"
    Image.fromarray(skdata.astronaut()).save(photo)
    broken.write_bytes(b"this is not an image")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BASE_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server["url"], timeout=60_000)
        page.get_by_text("Add a photo, or click a sample").wait_for(timeout=60_000)
        page.locator("input[type=file]").first.set_input_files([str(photo), str(broken)])
        page.get_by_text("Face #1:").first.wait_for(timeout=120_000)
        text = main_text(page)
        assert "bad.jpg is not a readable image; use JPEG, PNG, WebP, BMP or TIFF" in text
        assert not any(s in text for s in INTERNALS), text
        assert re.search(r"Face #1: (angry|disgust|fear|happy|neutral|sad|surprise)", text)
        go_to_page(page, "model")
        page.get_by_text("What it is.").wait_for(timeout=60_000)
        go_to_page(page, "photos")
        page.get_by_text("Face #1:").first.wait_for(timeout=60_000)  # still there, not uploaded again
        assert "Overview: 2 photos" in main_text(page)
        page.screenshot(path=str(tmp_path / "photos.png"), full_page=True)
        browser.close()


def test_a_sample_photo_in_one_click(server):
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BASE_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server["url"], timeout=60_000)
        page.get_by_role("button", name="Grace Hopper").click(timeout=60_000)
        page.get_by_text("Face #1:").first.wait_for(timeout=120_000)
        assert "grace_hopper.jpg" in main_text(page)
        browser.close()


def start_stream(page, frame, tmp_path: Path, server) -> None:
    """Press START until the page shows a face status (a WebRTC start can fail for reasons outside the app
    while the CPU is shared: then, as a user would, STOP and START once more, with a warning)."""
    for attempt in (1, 2):
        frame.get_by_role("button", name="START").click(timeout=60_000)
        try:
            page.get_by_text("face(s) ·").first.wait_for(timeout=90_000)
            return
        except playwright_api.TimeoutError:
            page.screenshot(path=str(tmp_path / f"attempt{attempt}.png"), full_page=True)
            state = f"page: {main_text(page)[:600]!r}; server log: {server['log'].read_text()[-1500:]!r}"
            if attempt == 2:
                pytest.fail("no face status after two STARTs; " + state)
            warnings.warn("webcam attempt 1 showed no face status in 90 s; " + state)
            frame.get_by_role("button", name="STOP").click(timeout=30_000)


def stop_stream(page, frame) -> float:
    """Press STOP; returns the seconds the summary reports."""
    frame.get_by_role("button", name="STOP").click(timeout=30_000)
    heading = page.get_by_text("Summary of the last session")
    heading.wait_for(timeout=60_000)
    return float(re.search(r"\((\d+) s with a face", heading.inner_text()).group(1))


def test_live_webcam_start_stop_start_gives_one_fresh_timeline_and_a_summary(server, tmp_path):
    clip = tmp_path / "face.y4m"
    write_face_y4m(clip)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=camera_flags(clip))
        page = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"]).new_page()
        page.goto(server["url"] + "/webcam", timeout=60_000)
        frame = page.frame_locator(WEBRTC_FRAME)
        video = frame.locator("video").first
        start_stream(page, frame, tmp_path, server)
        time.sleep(8)
        shot = tmp_path / "webcam.png"
        video.screenshot(path=str(shot))
        assert video.evaluate("v => v.videoWidth") == 640
        first = stop_stream(page, frame)
        page.get_by_role("button", name="Download the timeline (CSV)").wait_for(timeout=30_000)
        start_stream(page, frame, tmp_path, server)
        time.sleep(2)
        second = stop_stream(page, frame)
        assert first >= 5 and second < first  # the second START began a new timeline
        page.get_by_role("button", name="Download the timeline (CSV)").wait_for(timeout=30_000)
        assert page.get_by_text("Summary of the last session").count() == 1
        assert page.locator("[data-testid='stMain'] .vega-embed").count() == 2  # shares + one timeline
        page.screenshot(path=str(tmp_path / "summary.png"), full_page=True)
        browser.close()
    # annotated: the returned video shows a filled label box in one of the emotion colours,
    # which the fake camera's frames never contain
    from PIL import Image

    from fer_app.labels import EMOTIONS, colour_rgb

    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    hits = max(int((np.abs(img - np.array(colour_rgb(e))).max(axis=2) < 20).sum()) for e in EMOTIONS)
    assert hits > 200, hits


def test_photos_draw_charts_without_pandas_and_settings_survive_quietly(tmp_path):
    """The result charts are plain Vega-Lite specs (fer_app/charts.py): a session on the Photos page must not
    load pandas or Arrow (67 MB) into the server; the webcam's charts draw too (its WebRTC component loads
    both itself); the server log stays free of warnings (keep_settings writes settings back every run)."""
    clip = tmp_path / "face.y4m"
    write_face_y4m(clip)
    log = tmp_path / "server.log"
    proc, url = start_server(log)
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=camera_flags(clip))
            page = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"]).new_page()
            page.goto(url, timeout=60_000)
            page.get_by_role("button", name="Astronaut").click(timeout=60_000)
            page.get_by_text("Face #1:").first.wait_for(timeout=120_000)
            page.locator("[data-testid='stMain'] .vega-embed").first.wait_for(timeout=30_000)
            libraries = Path(f"/proc/{proc.pid}/maps").read_text()
            assert "/site-packages/numpy/" in libraries  # the check reads the right process
            assert "/site-packages/pandas/" not in libraries and "/site-packages/pyarrow/" not in libraries
            go_to_page(page, "webcam")
            frame = page.frame_locator(WEBRTC_FRAME)
            start_stream(page, frame, tmp_path, {"log": log})
            page.locator("[data-testid='stMain'] .vega-embed").nth(1).wait_for(timeout=30_000)  # bars + timeline
            stop_stream(page, frame)
            browser.close()
        assert not re.search(r"WARNING|ERROR|Traceback|Stack \(most recent", log.read_text()), log.read_text()[-2000:]
    finally:
        stop_server(proc)
