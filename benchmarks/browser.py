"""What the browser tests, the resource and load benchmarks and the screenshot script share: a Streamlit server
on a free loopback port, Debian's Chromium through Playwright, and a fake camera clip of a real face."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Chromium as root, offline and headless (no sandbox, no background calls to Google's servers).
BASE_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
WEBRTC_FRAME = "iframe[title='streamlit_webrtc.component.webrtc_streamer']"


def go_to_page(page, url_path: str) -> None:
    """Click the sidebar link of the page at ``url_path`` ('photos', 'webcam', 'video', 'model'), in the same
    browser session, as people do (the links' text includes their icons' names, so match the address)."""
    end = "/" if url_path == "photos" else f"/{url_path}"  # the default page's link is the app's root
    page.locator(f"[data-testid='stSidebarNav'] a[href$='{end}']").first.click(timeout=120_000)


def camera_flags(clip: Path) -> list[str]:
    """Flags that make Chromium's camera play ``clip`` (Y4M) and grant it without a prompt."""
    return BASE_FLAGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-video-capture={clip}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_path: Path, port: int | None = None, env: dict | None = None,
                 timeout: float = 120, script: Path = ROOT / "streamlit_app.py",
                 cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """``streamlit run streamlit_app.py`` (or ``script``) on 127.0.0.1; returns (process, URL) once it answers
    health checks.

    The server's output goes to ``log_path``: an unread pipe fills up and blocks the server mid-stream.
    """
    port = port or free_port()
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script),
                             "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=cwd or ROOT, env={**os.environ, **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(OSError):
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("streamlit did not start: " + log_path.read_text()[-3000:])


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def vm_mb(pid: int, key: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def write_face_y4m(path: Path, frames: int = 60, leave_after: int | None = None) -> None:
    """A 640x480 15 fps Y4M clip of the astronaut's face sliding slowly (from frame ``leave_after`` on,
    an empty scene), for ``--use-file-for-fake-video-capture``."""
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut()[20:300, 120:340], (220, 280))
    with open(path, "wb") as fh:
        fh.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for i in range(frames):
            frame = np.full((480, 640, 3), 110, np.uint8)
            if leave_after is None or i < leave_after:
                x = 150 + int(60 * np.sin(i / 10))
                frame[100:380, x:x + 220] = face
            fh.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())


#: The Live webcam page's status line, read in one step inside the page: it is redrawn twice a second, and on a
#: loaded machine Playwright's locate-then-read (``get_by_text(...).inner_text()``) could lose the element between
#: its two steps again and again (30 s time-outs while the page kept streaming).
READ_STATUS = ("() => [...document.querySelectorAll('[data-testid=stMarkdownContainer]')]"
               ".map(e => e.innerText).find(t => t.includes(' fps')) || ''")


def status_line(page) -> str:
    return page.evaluate(READ_STATUS)


#: In-page conditions for timing: the Photos page's uploader, and the first face's result.
HAS_UPLOADER = "() => document.querySelector('input[type=file]') !== null"
HAS_FIRST_FACE = "() => document.body.textContent.includes('Face #1:')"


def wait_until_shown(page, condition: str, timeout_ms: float = 60_000) -> None:
    """Return as soon as ``condition`` (JavaScript) holds in the page, checked on every animation frame.

    Timing needs this rather than a locator's wait_for: Playwright re-checks a locator at growing intervals (up to
    half a second), so it noticed the uploader up to 0.45 s after the page had drawn it (measured against a
    MutationObserver's timestamp in the page)."""
    page.wait_for_function(condition, polling="raf", timeout=timeout_ms)
