"""Cold start and memory of the Streamlit app, measured through a real browser.

    python benchmarks/app_resources.py [--webcam-seconds 20]

1. starts ``streamlit run streamlit_app.py`` (t = 0), opens it in headless Chromium (Debian's package,
   via Playwright), uploads a face photo and waits for the first prediction on the page: **cold start**;
2. opens the Live webcam page with Chromium's fake camera (a Y4M clip of a face), streams for
   ``--webcam-seconds``, and reads the server process's peak resident memory (VmHWM): **memory with
   the webcam running**.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def vm(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--webcam-seconds", type=float, default=20)
    p.add_argument("--port", type=int, default=8611)
    args = p.parse_args()
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from skimage import data

    from test_e2e_browser import BASE_FLAGS, CHROMIUM, write_face_y4m

    tmp = Path(tempfile.mkdtemp())
    photo, clip = tmp / "astronaut.jpg", tmp / "face.y4m"
    Image.fromarray(data.astronaut()).save(photo)
    write_face_y4m(clip, frames=90)
    flags = BASE_FLAGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                          f"--use-file-for-fake-video-capture={clip}"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=flags)  # browser start not counted
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
                                 "--server.port", str(args.port), "--server.headless", "true"], cwd=ROOT,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{args.port}"
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
        t_server = time.perf_counter() - t0
        page = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"]).new_page()
        page.goto(url)
        page.get_by_text("Upload a photo to start.").wait_for(timeout=120_000)
        page.locator("input[type=file]").first.set_input_files(str(photo))
        page.get_by_text("Face #1:").wait_for(timeout=180_000)
        t_cold = time.perf_counter() - t0
        rss_photo = vm(proc.pid, "VmHWM")
        page.locator("label").filter(has_text="Live webcam").click()
        frame = page.frame_locator("iframe[title='streamlit_webrtc.component.webrtc_streamer']")
        frame.get_by_role("button", name="START").click(timeout=60_000)
        page.get_by_text("face(s) ·").first.wait_for(timeout=120_000)
        time.sleep(args.webcam_seconds)
        status = page.get_by_text("face(s) ·").first.inner_text()
        rss_now, rss_peak = vm(proc.pid, "VmRSS"), vm(proc.pid, "VmHWM")
        browser.close()
        proc.terminate()
        proc.wait(20)
    print(f"server answering health checks: {t_server:.1f} s after process start")
    print(f"cold start (process start -> first prediction shown in the browser): {t_cold:.1f} s")
    print(f"peak RSS after the first photo: {rss_photo:.0f} MB")
    print(f"webcam for {args.webcam_seconds:.0f} s: RSS {rss_now:.0f} MB, peak RSS {rss_peak:.0f} MB; last status: {status}")


if __name__ == "__main__":
    main()
