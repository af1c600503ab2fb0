"""Cold start and memory of the Streamlit app, measured through a real browser.

    python -m benchmarks.app_resources [--runs 3] [--photos 10] [--webcam-seconds 60] [--cold-only]
                                       [--against OTHER_CHECKOUT]

Each run starts a fresh server and, in headless Chromium (Debian's package, via Playwright):

1. opens the app and uploads one face photo; the time from the server process's start to the first prediction
   shown in the browser is the **cold start** (the browser itself is started before the clock starts); also
   printed: when the uploader appeared and how many JavaScript files the browser had fetched by then (Streamlit
   loads each widget's code when the first run's elements arrive);
2. uploads more photos until ``--photos`` are analysed and shown;
3. opens the Live webcam page with Chromium's fake camera (a Y4M clip of a face), streams for
   ``--webcam-seconds``, and reads the server process's **peak resident memory** (VmHWM).

Prints each run and the medians. ``--bare`` measures Streamlit's own floor on this machine instead: a page holding
only a title and a file uploader, served the same way, timed to the moment its uploader appears.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.browser import (go_to_page, CHROMIUM, HAS_FIRST_FACE, HAS_UPLOADER, ROOT, WEBRTC_FRAME, camera_flags,
                                start_server, status_line, stop_server, vm_mb, wait_until_shown, write_face_y4m)


def make_photos(folder: Path, n: int) -> list[Path]:
    """``n`` different JPEG photos (the astronaut and the cameraman at several sizes, mirrored or not)."""
    import cv2
    from PIL import Image
    from skimage import data

    sources = [data.astronaut(), cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2RGB)]
    paths = []
    for i in range(n):
        img = sources[i % 2][:, ::-1] if i % 4 >= 2 else sources[i % 2]
        side = 512 + 256 * (i // 2)  # 512 ... 1536 px and more: phone-photo sizes near the end
        path = folder / f"photo_{i:02d}.jpg"
        Image.fromarray(cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)).save(path, quality=90)
        paths.append(path)
    return paths


def one_run(browser_type, photos: list[Path], clip: Path, seconds: float | None, tmp: Path, env: dict,
            app: Path = ROOT / "streamlit_app.py") -> dict:
    browser = browser_type.launch(executable_path=CHROMIUM, args=camera_flags(clip))  # not counted
    page = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"]).new_page()
    t0 = time.perf_counter()
    proc, url = start_server(tmp / "server.log", env=env, script=app, cwd=app.parent)
    try:
        t_server = time.perf_counter() - t0
        page.goto(url, timeout=60_000)
        wait_until_shown(page, HAS_UPLOADER)
        t_page = time.perf_counter() - t0
        chunks = page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.endsWith('.js'))"
                               ".map(e => e.responseEnd)")
        page.locator("input[type=file]").first.set_input_files(str(photos[0]))
        wait_until_shown(page, HAS_FIRST_FACE, timeout_ms=180_000)
        t_cold = time.perf_counter() - t0
        if seconds is None:  # --cold-only
            return {"server_s": t_server, "page_s": t_page, "js_chunks": len(chunks), "cold_s": t_cold}
        for i, photo in enumerate(photos[1:], start=2):  # one at a time, as people add them
            page.locator("input[type=file]").first.set_input_files(str(photo))
            page.get_by_text(f"Overview: {i} photos").wait_for(timeout=300_000)
        rss_photos, rss_after_photos = vm_mb(proc.pid, "VmHWM"), vm_mb(proc.pid, "VmRSS")
        go_to_page(page, "webcam")
        page.frame_locator(WEBRTC_FRAME).get_by_role("button", name="START").click(timeout=60_000)
        page.get_by_text("face(s) ·").first.wait_for(timeout=120_000)
        time.sleep(seconds)
        status = status_line(page)
        return {"server_s": t_server, "page_s": t_page, "js_chunks": len(chunks), "cold_s": t_cold, "peak_after_photos_mb": rss_photos,
                "rss_after_photos_mb": rss_after_photos,
                "rss_mb": vm_mb(proc.pid, "VmRSS"), "peak_mb": vm_mb(proc.pid, "VmHWM"), "status": status}
    finally:
        browser.close()
        stop_server(proc)


BARE_PAGE = 'import streamlit as st\nst.title("Emotions in photos")\nst.file_uploader("Add photos")\n'
_SETTINGS = 'st.selectbox("Face detector", ["mtcnn", "haar"])\n{i}st.slider("Minimum face size", 12, 200, 20)\n{i}st.checkbox("TTA")\n'
#: --bare pages: the uploader alone, and with the Photos page's three kinds of setting in the sidebar or in a
#: sidebar popover (drawn only when opened)
BARE_PAGES = {
    "bare page (title and uploader)": BARE_PAGE,
    "with the settings in the sidebar": BARE_PAGE + "with st.sidebar:\n    " + _SETTINGS.format(i="    "),
    "with the settings in a sidebar popover": (BARE_PAGE + 'with st.sidebar.popover("Photo settings"):\n    '
                                               + _SETTINGS.format(i="    ")),
}


def bare_run(browser_type, tmp: Path, page_source: str = BARE_PAGE) -> float:
    """Seconds from the server process's start to the uploader of a page with nothing else on it."""
    script = tmp / "bare_page.py"
    script.write_text(page_source)
    browser = browser_type.launch(executable_path=CHROMIUM)
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    t0 = time.perf_counter()
    proc, url = start_server(tmp / "server.log", script=script)
    try:
        page.goto(url, timeout=60_000)
        wait_until_shown(page, HAS_UPLOADER)
        return time.perf_counter() - t0
    finally:
        browser.close()
        stop_server(proc)


def run_line(r: dict, args) -> str:
    line = (f"server up {r['server_s']:.1f} s, uploader shown {r['page_s']:.2f} s (after {r['js_chunks']} JavaScript "
            f"files), cold start {r['cold_s']:.2f} s")
    if args.cold_only:
        return line
    return (f"{line}, peak RSS {r['peak_after_photos_mb']:.0f} MB after {args.photos} photos (RSS then "
            f"{r['rss_after_photos_mb']:.0f} MB), {r['peak_mb']:.0f} MB after {args.webcam_seconds:.0f} s of webcam "
            f"(RSS now {r['rss_mb']:.0f} MB; last status: {r['status']})")


def median_line(runs: list[dict], args) -> str:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "status"}
    line = (f"median of {len(runs)} runs: cold start {med['cold_s']:.2f} s (server answering after "
            f"{med['server_s']:.1f} s, uploader shown after {med['page_s']:.2f} s)")
    if args.cold_only:
        return line
    return (f"{line}; peak RSS {med['peak_after_photos_mb']:.0f} MB after {args.photos} photos, "
            f"{med['peak_mb']:.0f} MB with the webcam streaming {args.webcam_seconds:.0f} s")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--photos", type=int, default=10)
    p.add_argument("--webcam-seconds", type=float, default=60)
    p.add_argument("--glibc-defaults", action="store_true",
                   help="run the server with glibc's allocator defaults (fer_app/allocator.py not applied)")
    p.add_argument("--cold-only", action="store_true",
                   help="time the cold start alone (one photo; no more photos, no webcam, no memory figures)")
    p.add_argument("--against", type=Path, metavar="CHECKOUT",
                   help="also measure another checkout of this project (e.g. a git worktree of an older commit), "
                        "alternating with this one run by run, and print both medians and their ratio")
    p.add_argument("--bare", action="store_true",
                   help="time Streamlit alone: a page with only a title and a file uploader")
    p.add_argument("--bare-variants", action="store_true",
                   help="with --bare: also that page with the Photos page's settings in the sidebar, and in a popover")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    env = {"FER_GLIBC_DEFAULTS": "1"} if args.glibc_defaults else {}
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp())
    if args.bare:
        pages = BARE_PAGES if args.bare_variants else dict(list(BARE_PAGES.items())[:1])
        shown = {name: [] for name in pages}
        with sync_playwright() as pw:
            for _ in range(args.runs):
                for name, source in pages.items():  # alternating, as with --against
                    shown[name].append(bare_run(pw.chromium, tmp, source))
        for name, times in shown.items():
            print(f"{name}: uploader shown after " + ", ".join(f"{t:.2f}" for t in times)
                  + f" s; median {statistics.median(times):.2f} s")
        return
    photos, clip = make_photos(tmp, 1 if args.cold_only else args.photos), tmp / "face.y4m"
    write_face_y4m(clip, frames=90)
    apps = {"this checkout": ROOT / "streamlit_app.py"}
    if args.against:
        apps[str(args.against)] = args.against.resolve() / "streamlit_app.py"
    runs = {name: [] for name in apps}
    with sync_playwright() as pw:
        for i in range(args.runs):
            for name, app in apps.items():  # alternating, so that both see the machine's drift alike
                r = one_run(pw.chromium, photos, clip, None if args.cold_only else args.webcam_seconds, tmp, env, app)
                runs[name].append(r)
                print(f"run {i + 1}{f' ({name})' if args.against else ''}: {run_line(r, args)}", flush=True)
    for name in apps:
        print(f"{name + ': ' if args.against else ''}{median_line(runs[name], args)}")
    if args.against:
        this, other = (statistics.median(r["cold_s"] for r in runs[name]) for name in apps)
        print(f"cold start, this checkout / {args.against}: {this / other:.2f}")


if __name__ == "__main__":
    main()
