"""Screenshots of each page of the app for the README: ``python -m scripts.screenshots [--out docs/screenshots]``.

Starts the app on a free loopback port, opens it in Debian's Chromium (Playwright) with a fake camera showing a
real face, and saves one small PNG per page: Photos (two sample photos, its settings open), Live webcam (streaming), Video and
Model (the first screen of each).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.browser import (CHROMIUM, ROOT, WEBRTC_FRAME, camera_flags, go_to_page, start_server, stop_server,
                                write_face_y4m)

WIDTH = 1000  # px of the saved PNGs


def save(page, path: Path) -> None:
    from PIL import Image

    raw = path.with_suffix(".raw.png")
    page.screenshot(path=str(raw))
    img = Image.open(raw).convert("RGB")
    img.resize((WIDTH, round(img.height * WIDTH / img.width)), Image.Resampling.LANCZOS).save(path, optimize=True)
    raw.unlink()
    print(f"{path}: {path.stat().st_size // 1024} KB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    out, tmp = Path(args.out), Path(tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    clip = tmp / "face.y4m"
    write_face_y4m(clip, frames=90)
    proc, url = start_server(tmp / "server.log")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=camera_flags(clip))
            page = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"]).new_page()
            page.goto(url, timeout=60_000)
            for sample in ("Astronaut", "Grace Hopper"):
                page.get_by_role("button", name=sample).click(timeout=60_000)
                page.get_by_text(f"{sample.lower().replace(' ', '_')}.jpg").first.wait_for(timeout=120_000)
            page.get_by_text("Face #1:").first.wait_for(timeout=120_000)
            page.get_by_role("button", name="Photo settings").click(timeout=30_000)  # shown open in the README
            page.get_by_text("Minimum face size (px)").wait_for(timeout=30_000)
            time.sleep(1)
            save(page, out / "photos.png")
            page.keyboard.press("Escape")
            go_to_page(page, "webcam")
            page.frame_locator(WEBRTC_FRAME).get_by_role("button", name="START").click(timeout=60_000)
            page.get_by_text("face(s) ·").first.wait_for(timeout=120_000)
            time.sleep(6)
            save(page, out / "webcam.png")
            page.frame_locator(WEBRTC_FRAME).get_by_role("button", name="STOP").click(timeout=30_000)
            page.get_by_text("Summary of the last session").wait_for(timeout=60_000)
            go_to_page(page, "video")
            page.get_by_text("Emotions in a video").wait_for(timeout=60_000)
            time.sleep(1)
            save(page, out / "video.png")
            go_to_page(page, "model")
            page.get_by_text("What it is.").wait_for(timeout=60_000)
            time.sleep(2)
            save(page, out / "model.png")
            browser.close()
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
