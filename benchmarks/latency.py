"""Latency of the inference engine on 640x480 frames with one and with four faces.

    python benchmarks/latency.py [--runs 30] [--out docs/latency.md]

For each detector: median and p90 of detection, classification (all faces in one batch, and per
face) and end-to-end (detect + crop + classify) times; then the video path (VideoAnalyzer: Haar
every 5th frame, template tracking in between, classification and smoothing every frame) in frames
per second. Faces come from scikit-image's astronaut photo, scaled and tiled into the frame.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def make_frame(n_faces: int) -> np.ndarray:
    import cv2
    from skimage import data

    face = data.astronaut()[20:300, 120:340]
    frame = np.full((480, 640, 3), 100, np.uint8)
    if n_faces == 1:
        frame[100:380, 210:430] = face
    else:
        small = cv2.resize(face, (132, 168))
        for i, (y, x) in enumerate([(40, 60), (40, 420), (260, 60), (260, 420)][:n_faces]):
            frame[y:y + 168, x:x + 132] = small if i % 2 == 0 else small[:, ::-1]
    return frame


def stats(ms: list[float]) -> str:
    return f"{statistics.median(ms):.1f} / {np.percentile(ms, 90):.1f}"


def timed(fn, runs: int, *args) -> list[float]:
    fn(*args)  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(*args)
        out.append((time.perf_counter() - t) * 1e3)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    from fer_app.faces import crop_face, get_detector
    from fer_app.model import load_classifier
    from fer_app.pipeline import analyze_array
    from fer_app.video import VideoAnalyzer

    clf = load_classifier()
    lines = [f"Machine: {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}; model backend "
             f"{clf.backend} ({clf.config.get('img_size')} px input); {args.runs} runs each; times in ms as median / p90.",
             "", "| detector | faces | found | detection | classification (batch) | per face | end-to-end |",
             "|---|---|---|---|---|---|---|"]
    for name in ("haar", "mtcnn"):
        det = get_detector(name, min_face=40, max_side=640)
        for n in (1, 4):
            frame = make_frame(n)
            dets = det.detect(frame)
            crops = [crop_face(frame, d) for d in dets]
            t_det = timed(det.detect, args.runs, frame)
            t_cls = timed(clf.predict, args.runs, crops) if crops else [float("nan")]
            per_face = [t / max(1, len(crops)) for t in t_cls]
            t_e2e = timed(analyze_array, args.runs, frame, name, 40, False, clf)
            lines.append(f"| {name} | {n} | {len(dets)} | {stats(t_det)} | {stats(t_cls)} | {stats(per_face)} | {stats(t_e2e)} |")
            print(lines[-1], flush=True)
    lines += ["", "Classifier backends (prepared 48x48 faces, calibrated probabilities; TTA = the app's 10 views):", "",
              "| backend | TTA | 1 face | 4 faces |", "|---|---|---|---|"]
    from fer_app.model import EmotionClassifier

    rng = np.random.default_rng(0)
    for backend, tta in (("tflite", False), ("tflite", True), ("keras", False)):
        c = EmotionClassifier(backend=backend)
        cells = [stats(timed(lambda x: c.predict_prepared(x, tta=tta), args.runs,
                             rng.integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)))
                 for n in (1, 4)]
        lines.append(f"| {backend} | {'on' if tta else 'off'} | {cells[0]} | {cells[1]} |")
        print(lines[-1], flush=True)
    lines += ["", "Video path (VideoAnalyzer, Haar on a 320 px copy every 5th frame, tracking between, "
              "classification + smoothing every frame), 150 frames with the face moving:", "",
              "| faces | TTA | per frame median / p90 (ms) | frames per second |", "|---|---|---|---|"]
    for n, tta in ((1, False), (4, False), (1, True), (4, True)):
        base = make_frame(n)
        va = VideoAnalyzer(detect_every=5, classifier=clf, tta=tta)
        frames = [np.roll(base, (i % 20) * 3, axis=1) for i in range(150)]
        ms = []
        for f in frames:
            t = time.perf_counter()
            va.annotate_frame(f)
            ms.append((time.perf_counter() - t) * 1e3)
        ms = ms[5:]
        lines.append(f"| {n} | {'on' if tta else 'off'} | {stats(ms)} | {1000 / statistics.mean(ms):.0f} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text("# Inference latency (benchmarks/latency.py)\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
