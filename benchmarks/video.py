"""Speed of video-file analysis, as multiples of real time (clip seconds per second of work).

    python -m benchmarks.video [--runs 3] [--seconds 10] [--out FILE]

Clips are made here and encoded in memory with libx264 (like a phone or screen recording): scikit-image's
astronaut face moving over a slowly panning photo background (or plain grey) with light sensor noise, 30 fps.
For each clip: ``analyze_video`` without the annotated copy (what the CSV/JSON need) and with it (H.264 MP4),
analysing every frame and at the default rate (15 frames a second), each the median of ``--runs`` runs.
Cases: 640x480 with one face (the issue's target: >= 3x real time for the CSV, >= 1x with the annotated
video), 640x480 with four faces, 1280x720 with one and with four faces.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def make_frames(width: int, height: int, faces: int, seconds: float, fps: int = 30, seed: int = 0,
                plain: bool = False):
    """Frames of ``faces`` astronaut faces (a third of the frame height) moving over a panning photo, or over
    plain grey (``plain``, as benchmarks/latency.py): the Haar detector takes 3-5x longer on a busy background."""
    import cv2
    from skimage import data

    rng = np.random.default_rng(seed)
    side = height // 3
    face = cv2.resize(data.astronaut()[20:300, 120:340], (int(side * 220 / 280), side))
    fh, fw = face.shape[:2]
    background = np.full((height, width + 200, 3), 100, np.uint8) if plain else \
        cv2.resize(data.coffee(), (width + 200, height))
    slots = [(0.2, 0.3), (0.65, 0.3), (0.2, 0.7), (0.65, 0.7)][:faces]
    for i in range(int(seconds * fps)):
        frame = background[:, i % 200:i % 200 + width].copy()
        for k, (fx, fy) in enumerate(slots):
            x = int(fx * width + 40 * np.sin(i / 20 + k)) - fw // 2
            y = int(fy * height + 15 * np.cos(i / 25 + k)) - fh // 2
            frame[y:y + fh, x:x + fw] = face if k % 2 == 0 else face[:, ::-1]
        noise = rng.integers(-3, 4, frame.shape, dtype=np.int16)
        yield np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def encode_clip(frames, fps: int = 30) -> bytes:
    """H.264 MP4 bytes of RGB frames (libx264 'medium', as a camera or editor export would be)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = None
        for i, rgb in enumerate(frames):
            if stream is None:
                stream = out.add_stream("libx264", rate=fps, options={"crf": "23"})
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def speed(clip: bytes, seconds: float, annotate: bool, runs: int, classifier,
          every: int | None = None) -> tuple[float, float, int, list[int]]:
    """(median multiple of real time by the clock, the same by CPU time of all threads, frames, tracks found)
    of ``analyze_video`` on ``clip``. CPU time hardly depends on what else the machine runs; on an idle
    machine the clock is at most the CPU time (one thread always works), so its figure is a lower bound."""
    from fer_app.video.file import analyze_video

    wall, cpu, result = [], [], None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        result = analyze_video(clip, annotate=annotate, classifier=classifier, every=every)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return seconds / statistics.median(wall), seconds / statistics.median(cpu), result.frames, result.tracks


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--out", default=None, help="also write the table (Markdown) here")
    args = p.parse_args()
    from fer_app.model import load_classifier
    from fer_app.video.encode import available_format

    clf = load_classifier()
    codec = available_format()[0]
    lines = [f"Machine: {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}; model backend "
             f"{clf.backend}; {args.seconds:g} s clips at 30 fps; median of {args.runs} runs; annotated copy with "
             f"{codec}; load average before: {_load()}.", "",
             "Multiples of real time, by the clock / by CPU time; every frame analysed (`--every 1`), then the "
             "default (15 frames a second: every 2nd):", "",
             "| clip | background | faces | tracks found | every frame: CSV/JSON only | every frame: with annotated "
             "video | default: CSV/JSON only | default: with annotated video |", "|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    cases = ((640, 480, 1, False), (640, 480, 1, True), (640, 480, 4, False), (1280, 720, 1, False),
             (1280, 720, 4, False))
    for width, height, faces, plain in cases:
        clip = encode_clip(make_frames(width, height, faces, args.seconds, plain=plain))
        cells, frames, tracks = [], 0, []
        for every in (1, None):
            for annotate in (False, True):
                clock, cpu, frames, found = speed(clip, args.seconds, annotate, args.runs, clf, every)
                cells.append(f"{clock:.1f}x / {cpu:.1f}x")
                tracks = tracks or found
        lines.append(f"| {width}x{height}, {frames} frames | {'plain' if plain else 'photo'} | {faces} | {len(tracks)} "
                     f"| {' | '.join(cells)} |")
        print(lines[-1], flush=True)
    lines += ["", f"Load average after: {_load()}."]
    print(lines[-1])
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
