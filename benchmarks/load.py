"""The app under load, on loopback only: several browser sessions at once, then a long webcam soak.

    python -m benchmarks.load [--webcams 4] [--uploaders 2] [--seconds 120] [--soak-minutes 10] [--probe-queues]

Load: one server; ``--webcams`` Chromium sessions stream a fake camera (odd sessions a face, even sessions an
empty room) while ``--uploaders`` sessions keep uploading their own photos, for ``--seconds``. Checked: no error
in any page (browser console errors, page exceptions, an exception box) or in the server log; each session sees
only its own results (an empty-room webcam never reports a face, an uploader's overview lists only its own
photos); reported: each webcam session's frame rate and the server's RSS at the start and the end.
Soak: one webcam session for ``--soak-minutes``; RSS sampled every 10 s; growth after the first minute.
``--probe-queues``: the server also logs, every 5 s, how many frames wait in each of its streams' relay queues
(``benchmarks/queue_probe``); the longest queue and when it peaked are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.browser import (go_to_page, BASE_FLAGS, CHROMIUM, WEBRTC_FRAME, camera_flags, start_server, status_line,
                                stop_server, vm_mb, write_face_y4m)

ERROR_WORDS = ("Traceback", "Exception", "Error:")


#: Console lines about a media file of an earlier run of the page: Streamlit drops a run's images and download
#: data when the next run replaces them, and a browser still fetching one gets a 404 (the page then shows the
#: new run's). Seen only when a session reruns faster than its images load; not counted as errors.
MEDIA_CLEANUP = ("Failed to load resource", "Image source error", "Download Button source error")


def watch_errors(page, errors: list) -> None:
    """Page exceptions, console errors and failed requests, except the media clean-up above."""
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 and "/media/" not in r.url else None)
    page.on("console", lambda msg: errors.append(f"console: {msg.text}")
            if msg.type == "error" and not any(m in msg.text for m in MEDIA_CLEANUP) else None)


def guarded(session, *args) -> None:
    """Run a session; a browser step that times out is that session's error, not a crashed thread."""
    out = args[-1]
    try:
        session(*args)
    except Exception as exc:  # Playwright timeouts on an overloaded machine
        step = f" ({out['step']}; page: {out.get('page', '')!r})" if "step" in out else ""
        out.setdefault("errors", []).append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}{step}")
        out["ok"] = False


def webcam_session(url: str, clip: Path, seconds: float, face: bool, out: dict) -> None:
    """Stream ``clip`` for ``seconds``; ``out`` gets fps samples, faces seen, errors."""
    from playwright.sync_api import sync_playwright

    out.update(fps=[], faces_seen=0, errors=[])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=camera_flags(clip))
        page = browser.new_context(viewport={"width": 1200, "height": 900}, permissions=["camera"]).new_page()
        watch_errors(page, out["errors"])
        page.goto(url, timeout=120_000)  # then the menu, as people do (a deep link logs two harmless 404s)
        go_to_page(page, "webcam")
        page.frame_locator(WEBRTC_FRAME).get_by_role("button", name="START").click(timeout=120_000)
        page.get_by_text(" fps").first.wait_for(timeout=180_000)
        end = time.time() + seconds
        while time.time() < end:
            status = status_line(page)
            if m := re.search(r"([\d.]+) fps", status):
                out["fps"].append(float(m.group(1)))
            if m := re.search(r"(\d+) face\(s\)", status):
                out["faces_seen"] = max(out["faces_seen"], int(m.group(1)))
            time.sleep(2)
        if page.locator("[data-testid='stException']").count():
            out["errors"].append("an exception box on the page")
        browser.close()
    out["ok"] = (out["faces_seen"] >= 1) == face and not out["errors"]


def upload_session(url: str, photos: list[Path], seconds: float, out: dict) -> None:
    """Upload this session's photos, check the overview lists only them, clear, repeat for ``seconds``."""
    from playwright.sync_api import sync_playwright

    out.update(rounds=0, foreign=[], errors=[])
    own = {p.name for p in photos}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BASE_FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        watch_errors(page, out["errors"])
        page.goto(url, timeout=120_000)
        end = time.time() + seconds
        while time.time() < end:
            out["step"] = "uploading"
            page.locator("input[type=file]").first.set_input_files([str(p) for p in photos], timeout=120_000)
            out["step"] = "waiting for the overview"
            page.get_by_text(f"Overview: {len(photos)} photos").wait_for(timeout=240_000)
            text = page.locator("[data-testid='stMain']").first.inner_text()
            out["foreign"] += sorted(set(re.findall(r"\b(\w+_photo_\d+\.jpg)", text)) - own)
            out["rounds"] += 1
            out["step"] = "clearing"
            page.get_by_role("button", name="Clear all").click(timeout=60_000)
            out["step"] = "waiting for the empty page"
            try:
                page.get_by_text("Add a photo, or click a sample").wait_for(timeout=120_000)
            except Exception:
                out["page"] = page.locator("[data-testid='stMain']").first.inner_text()[-1500:]  # the end: what follows the widgets
                raise
        browser.close()
    out["ok"] = out["rounds"] > 0 and not out["foreign"] and not out["errors"]


def session_photos(folder: Path, session: int, n: int = 2) -> list[Path]:
    from PIL import Image
    from skimage import data

    paths = []
    for i in range(n):
        path = folder / f"s{session}_photo_{i}.jpg"
        Image.fromarray(data.astronaut()[:, ::-1] if i % 2 else data.astronaut()).save(path, quality=90)
        paths.append(path)
    return paths


def run_load(url: str, proc, webcams: int, uploaders: int, seconds: float, tmp: Path) -> dict:
    face, empty = tmp / "face.y4m", tmp / "empty.y4m"
    write_face_y4m(face, frames=90)
    write_face_y4m(empty, frames=30, leave_after=0)
    sessions, threads = [], []
    for i in range(webcams):
        out = {"kind": "webcam", "face": i % 2 == 0}
        threads.append(threading.Thread(target=guarded, args=(webcam_session, url, face if out["face"] else empty,
                                                               seconds, out["face"], out)))
        sessions.append(out)
    for i in range(uploaders):
        out = {"kind": "upload"}
        threads.append(threading.Thread(target=guarded, args=(upload_session, url, session_photos(tmp, i), seconds, out)))
        sessions.append(out)
    rss_start = vm_mb(proc.pid, "VmRSS")
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"sessions": sessions, "rss_start": rss_start, "rss_end": vm_mb(proc.pid, "VmRSS"),
            "peak": vm_mb(proc.pid, "VmHWM")}


def server_errors(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if any(w in line for w in ERROR_WORDS)]


def report_load(result: dict, log: Path) -> bool:
    for i, s in enumerate(result["sessions"], start=1):
        detail = (f"{s.get('rounds', 0)} upload rounds, foreign photos seen: {s.get('foreign')}" if s["kind"] == "upload"
                  else f"{'face' if s['face'] else 'empty room'}, median {statistics.median(s['fps'] or [0]):.1f} fps, "
                       f"most faces seen {s.get('faces_seen')}")
        print(f"session {i} ({s['kind']}): {'ok' if s.get('ok') else 'FAILED'}; {detail}; errors: {s.get('errors')}")
    errors = server_errors(log)
    print(f"server RSS {result['rss_start']:.0f} MB at the start, {result['rss_end']:.0f} MB at the end "
          f"(peak {result['peak']:.0f} MB); server log errors: {errors or 'none'}")
    return all(s.get("ok") for s in result["sessions"]) and not errors


def soak(url: str, proc, minutes: float, tmp: Path) -> None:
    out, samples = {}, []
    clip = tmp / "face.y4m"
    thread = threading.Thread(target=guarded, args=(webcam_session, url, clip, minutes * 60, True, out))
    t0 = time.time()
    thread.start()
    while thread.is_alive():
        samples.append((time.time() - t0, vm_mb(proc.pid, "VmRSS")))
        time.sleep(10)
    after_1 = next((r for t, r in samples if t >= 60), samples[-1][1])
    print(f"soak {minutes:g} min: RSS {after_1:.0f} MB after the first minute, {samples[-1][1]:.0f} MB at the end "
          f"({100 * (samples[-1][1] - after_1) / after_1:+.1f} %), median {statistics.median(out['fps'] or [0]):.1f} fps; "
          f"errors: {out.get('errors') or 'none'}")


PROBE = Path(__file__).with_name("queue_probe")


def report_queues(probe_log: Path) -> None:
    """The longest relay queue the server's probe saw (frames waiting for a consumer), and the RSS then."""
    rows = [[int(v) for v in line.split()] for line in probe_log.read_text().splitlines() if line.strip()]
    if not rows:
        print("relay queues: no sample (the probe did not run)")
        return
    t, rss, *queues = max(rows, key=lambda r: max(r[2:], default=0))
    proxies = max(len(r) - 2 for r in rows)
    print(f"relay queues: at most {max(queues, default=0)} frames waiting for one consumer ({t} s in, server RSS "
          f"{rss} MB); up to {proxies} relay proxies at once, {len(rows)} samples, every 5 s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--webcams", type=int, default=4)
    p.add_argument("--uploaders", type=int, default=2)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--soak-minutes", type=float, default=10)
    p.add_argument("--probe-queues", action="store_true")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    log, probe_log = tmp / "server.log", tmp / "queues.log"
    env = ({"PYTHONPATH": os.pathsep.join(filter(None, [str(PROBE), os.environ.get("PYTHONPATH")])),
            "FER_QUEUE_PROBE_LOG": str(probe_log)} if args.probe_queues else None)
    proc, url = start_server(log, env=env)
    try:
        ok = report_load(run_load(url, proc, args.webcams, args.uploaders, args.seconds, tmp), log)
        if args.probe_queues:
            report_queues(probe_log)
        if args.soak_minutes > 0:
            soak(url, proc, args.soak_minutes, tmp)
    finally:
        stop_server(proc)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
