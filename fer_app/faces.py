"""Face detection and FER-style cropping.

Two built-in detectors behind one interface (``detect(rgb) -> list[Detection]``), both offline with
models that ship inside their PyPI packages:

* ``"haar"``: OpenCV 4.x's frontal-face Haar cascade (in ``cv2.data``; OpenCV 5 removed it, hence
  the pin). A few milliseconds on a downscaled webcam frame: the default for video. Optional extra
  passes on rotated copies find faces rolled by up to ~30 degrees.
* ``"mtcnn"``: the ``mtcnn`` package's three-stage CNN (weights bundled, runs on TensorFlow).
  Slower, finds rolled, small and partly turned faces, and gives eye positions used to level the
  crop: the default for photos.

:func:`crop_face` cuts a square around a detection, levelled by the face's roll angle and scaled so
the crop is framed like FER-2013's faces (brow to chin). The framing factors were calibrated per
detector by ``benchmarks/calibrate_crop.py`` (see docs/crop_calibration.md).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

#: Longest image side used for detection; larger images are downscaled first (boxes mapped back).
DETECT_MAX_SIDE = 1280

#: Crop framing per detector: side = scale * detector box side, centre moved down by shift * side.
#: Calibrated by benchmarks/calibrate_crop.py (docs/crop_calibration.md).
CROP_FRAMING = {
    "haar": {"scale": 1.1, "shift": 0.0},
    "mtcnn": {"scale": 1.0, "shift": 0.0},
}


@dataclass(frozen=True)
class Detection:
    """One face: ``box`` = (x, y, w, h) in pixels of the original image, ``score`` in [0, 1],
    ``angle`` = in-plane roll in degrees (positive = counter-clockwise in the image)."""

    box: tuple[int, int, int, int]
    score: float
    angle: float = 0.0
    detector: str = ""


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def non_max_suppression(dets: list[Detection], threshold: float = 0.3) -> list[Detection]:
    keep: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(iou(d.box, k.box) < threshold for k in keep):
            keep.append(d)
    return keep


def _downscale(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    import cv2

    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return rgb, 1.0
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


class HaarDetector:
    """OpenCV Haar cascade. ``angles``: in-plane rotations (degrees) to search, e.g. (0, -25, 25).

    ``min_score``: hits whose cascade confidence (the stage weight through a logistic) is lower are
    dropped; 0.8 removed the false positives seen on scaled test photos (tests/test_faces.py) while
    keeping real faces (typically > 0.9). The grey image is *not* histogram-equalised: on frames with
    large flat backgrounds equalisation squashed the face's contrast and lost it.
    """

    name = "haar"
    #: Rotated passes see more background: their weak hits are dropped (false positives on no-face photos).
    ROTATED_MIN_SCORE = 0.9

    def __init__(self, min_face: int = 40, angles=(0.0,), scale_factor: float = 1.1, min_neighbors: int = 5,
                 max_side: int = DETECT_MAX_SIDE, min_score: float = 0.8):
        import cv2

        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path} (needs opencv-python-headless 4.x)")
        self.min_face, self.angles, self.min_score = min_face, tuple(angles), min_score
        self.scale_factor, self.min_neighbors, self.max_side = scale_factor, min_neighbors, max_side
        self._lock = threading.Lock()  # CascadeClassifier is not documented as thread-safe

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        import cv2

        small, s = _downscale(rgb, self.max_side)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        min_px = max(12, int(round(self.min_face * s)))
        h, w = gray.shape
        found: list[Detection] = []
        for angle in self.angles:
            if angle:
                m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
                img = cv2.warpAffine(gray, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
                inv = cv2.invertAffineTransform(m)
            else:
                img, inv = gray, None
            with self._lock:
                boxes, _, weights = self._cascade.detectMultiScale3(
                    img, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                    minSize=(min_px, min_px), outputRejectLevels=True)
            for (x, y, bw, bh), wt in zip(np.reshape(boxes, (-1, 4)), np.ravel(weights)):
                cx, cy = x + bw / 2, y + bh / 2
                if inv is not None:
                    cx, cy = inv @ np.array([cx, cy, 1.0])
                score = float(1.0 / (1.0 + math.exp(-(float(wt) - 1.0))))  # cascade weight -> (0, 1)
                if score < (max(self.min_score, self.ROTATED_MIN_SCORE) if angle else self.min_score):
                    continue
                box = ((cx - bw / 2) / s, (cy - bh / 2) / s, bw / s, bh / s)
                found.append(Detection(tuple(int(round(v)) for v in box), score, -float(angle), self.name))
        if len(self.angles) > 1:  # a face seen at several angles: keep the upright pass's box if present
            found = non_max_suppression(found, 0.3)
        return found


class MTCNNDetector:
    """The ``mtcnn`` package (TensorFlow). Boxes with confidence >= ``threshold`` are kept."""

    name = "mtcnn"

    def __init__(self, min_face: int = 20, threshold: float = 0.9, max_side: int = DETECT_MAX_SIDE):
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from mtcnn import MTCNN

        self.min_face, self.threshold, self.max_side = min_face, threshold, max_side
        self._mtcnn = MTCNN()
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        small, s = _downscale(rgb, self.max_side)
        # mtcnn 1.0's pyramid misses faces well above a large min_face_size (an 85 px face was lost
        # at 28 px): search from at most 20 px and drop small boxes afterwards
        min_px = max(12, min(20, int(round(0.7 * self.min_face * s))))
        with self._lock:
            results = self._mtcnn.detect_faces(np.ascontiguousarray(small), min_face_size=min_px,
                                               threshold_onet=self.threshold)
        found = []
        for r in results:
            if r["confidence"] < self.threshold:
                continue
            x, y, w, h = r["box"]
            kp = r.get("keypoints") or {}
            angle = 0.0
            if "left_eye" in kp and "right_eye" in kp:
                (lx, ly), (rx, ry) = kp["left_eye"], kp["right_eye"]
                angle = -math.degrees(math.atan2(ry - ly, rx - lx))
            box = tuple(int(round(v / s)) for v in (x, y, w, h))
            if max(box[2], box[3]) >= self.min_face:
                found.append(Detection(box, float(r["confidence"]), angle, self.name))
        return found


DETECTORS = {"mtcnn": MTCNNDetector, "haar": HaarDetector}
_cache: dict[tuple, object] = {}
_cache_lock = threading.Lock()


def get_detector(name: str = "mtcnn", **options):
    """A shared detector instance per (name, options) in this process."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
    key = (name, tuple(sorted(options.items())))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = DETECTORS[name](**options)
        return _cache[key]


def crop_face(rgb: np.ndarray, det: Detection, scale: float | None = None, shift: float | None = None,
              level: bool = True) -> np.ndarray:
    """Square crop around ``det`` framed like FER-2013 (brow to chin), rotated upright when the
    detection has a roll angle; regions outside the image are filled by replicating the border."""
    import cv2

    framing = CROP_FRAMING.get(det.detector, {"scale": 1.0, "shift": 0.0})
    scale = framing["scale"] if scale is None else scale
    shift = framing["shift"] if shift is None else shift
    x, y, w, h = det.box
    side = max(2.0, scale * max(w, h))
    angle = det.angle if level else 0.0
    rad = math.radians(angle)
    # the shift is "down the face", which is rotated by the roll angle
    cx = x + w / 2 + shift * side * math.sin(rad)
    cy = y + h / 2 + shift * side * math.cos(rad)
    out = max(8, int(round(side)))
    # affine map: output pixel -> rotate about the face centre -> input pixel
    m = cv2.getRotationMatrix2D((cx, cy), -angle, out / side) if angle else None
    if m is None:
        m = np.array([[out / side, 0, 0], [0, out / side, 0]], np.float64)
        m[:, 2] = [out / 2 - cx * out / side, out / 2 - cy * out / side]
    else:
        m[:, 2] += [out / 2 - cx, out / 2 - cy]
    interp = cv2.INTER_AREA if side > out else cv2.INTER_LINEAR
    return cv2.warpAffine(rgb, m, (out, out), flags=interp, borderMode=cv2.BORDER_REPLICATE)
