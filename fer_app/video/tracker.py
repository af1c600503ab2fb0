"""Video path: frame in -> annotated frame + per-face (smoothed) probabilities out.

Detection runs every ``detect_every`` frames (Haar on a downscaled frame by default); in between,
each tracked face is followed by normalised cross-correlation template matching in a small search
window. Every tracked face is classified on every frame (one batch), and its probabilities are
smoothed with an exponential moving average, so labels do not flicker.

One :class:`VideoAnalyzer` per stream (it keeps the tracks); the classifier and detector it uses are
process-wide and thread-safe.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from fer_app.draw import annotate
from fer_app.faces import Detection, get_detector, iou
from fer_app.model import EmotionClassifier, load_classifier
from fer_app.defaults import VIDEO_DETECTOR, WEBCAM_MIN_FACE
from fer_app.pipeline import Face, faces_from_probs


@dataclass
class Track:
    id: int
    det: Detection
    probs: np.ndarray | None = None
    template: np.ndarray | None = None
    missed: int = 0


@dataclass
class FrameResult:
    """What one frame produced: faces (with track ids, left to right), timings in milliseconds."""

    faces: list[Face]
    track_ids: list[int]
    detected: bool
    timings: dict[str, float] = field(default_factory=dict)


class VideoAnalyzer:
    def __init__(self, detector: str = VIDEO_DETECTOR, detect_every: int = 5, smoothing: float = 0.6,
                 min_face: int = WEBCAM_MIN_FACE, tta: bool = False, classifier: EmotionClassifier | None = None,
                 detect_side: int = 320):
        self.detector_name, self.detect_every, self.smoothing = detector, max(1, int(detect_every)), smoothing
        self.min_face, self.tta, self.detect_side = min_face, tta, detect_side
        self.classifier = classifier or load_classifier()
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self._frame = 0
        self._lock = threading.Lock()

    # -- tracking helpers -------------------------------------------------------------------
    def _detect(self, rgb: np.ndarray) -> list[Detection]:
        dets = get_detector(self.detector_name).detect(rgb, min_face=self.min_face, max_side=self.detect_side)
        return [d for d in dets if min(d.box[2:]) >= self.min_face]

    @staticmethod
    def _template(gray: np.ndarray, box) -> np.ndarray | None:
        x, y, w, h = box
        h_img, w_img = gray.shape
        x0, y0, x1, y1 = max(0, x), max(0, y), min(w_img, x + w), min(h_img, y + h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        return gray[y0:y1, x0:x1].copy()

    def _follow(self, gray: np.ndarray, track: Track) -> None:
        import cv2

        if track.template is None:
            return
        x, y, w, h = track.det.box
        th, tw = track.template.shape
        pad = max(8, w // 3)
        h_img, w_img = gray.shape
        sx0, sy0 = max(0, x - pad), max(0, y - pad)
        sx1, sy1 = min(w_img, x + w + pad), min(h_img, y + h + pad)
        window = gray[sy0:sy1, sx0:sx1]
        if window.shape[0] < th or window.shape[1] < tw:
            return
        res = cv2.matchTemplate(window, track.template, cv2.TM_CCOEFF_NORMED)
        _, best, _, loc = cv2.minMaxLoc(res)
        if best > 0.5:
            nx, ny = sx0 + loc[0] - (max(0, x) - x), sy0 + loc[1] - (max(0, y) - y)
            track.det = Detection((int(nx), int(ny), w, h), track.det.score, track.det.angle, track.det.detector)

    @staticmethod
    def _same_face(a: Detection, b: Detection) -> float:
        """How well two boxes fit one face, 0 for not at all: their IoU, or, when a face moved further between
        two analysed frames than its box overlaps (a slow stream drops frames), a centre distance under 0.9
        box sides still counts (scored below any overlap); two faces side by side are at least a side apart."""
        overlap = iou(a.box, b.box)
        if overlap > 0.25:
            return 1.0 + overlap
        (ax, ay, aw, ah), (bx, by, bw, bh) = a.box, b.box
        side = max(aw, ah, bw, bh)
        dist = np.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2)
        return max(0.0, 1.0 - dist / (0.9 * side)) if 0.5 < aw / max(bw, 1) < 2 else 0.0

    def _match(self, dets: list[Detection], gray: np.ndarray) -> None:
        unmatched = list(dets)
        for track in self.tracks:
            best = max(unmatched, key=lambda d: self._same_face(d, track.det), default=None)
            if best is not None and self._same_face(best, track.det) > 0:
                track.det, track.missed = best, 0
                unmatched.remove(best)
            else:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed < 2]
        for d in unmatched:
            self.tracks.append(Track(next(self._ids), d))
        for t in self.tracks:
            t.template = self._template(gray, t.det.box)

    # -- public -----------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.tracks, self._frame = [], 0

    def process(self, rgb: np.ndarray) -> FrameResult:
        """Analyse one RGB frame (uint8, H x W x 3)."""
        import cv2

        from fer_app.faces import crop_face

        with self._lock:
            t0 = time.perf_counter()
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            # a track that a detection pass missed gets another pass on the next frame: a face that left is
            # dropped after two misses in a row (2 frames), not after two detection intervals
            detected = self._frame % self.detect_every == 0 or not self.tracks or any(t.missed for t in self.tracks)
            if detected:
                self._match(self._detect(rgb), gray)
            else:
                for t in self.tracks:
                    self._follow(gray, t)
            t1 = time.perf_counter()
            self._frame += 1
            faces: list[Face] = []
            if self.tracks:
                crops = [crop_face(rgb, t.det) for t in self.tracks]
                probs = self.classifier.predict_proba(crops, tta=self.tta)
                for t, p in zip(self.tracks, probs):
                    t.probs = p if t.probs is None else self.smoothing * t.probs + (1 - self.smoothing) * p
                faces = faces_from_probs([t.det for t in self.tracks], [t.probs for t in self.tracks])
            t2 = time.perf_counter()
            return FrameResult(faces, [t.id for t in self.tracks], detected,
                               {"detect_or_track_ms": (t1 - t0) * 1e3, "classify_ms": (t2 - t1) * 1e3,
                                "total_ms": (t2 - t0) * 1e3})

    def annotate_frame(self, rgb: np.ndarray) -> tuple[np.ndarray, FrameResult]:
        """Process a frame and return (annotated copy, result)."""
        result = self.process(rgb)
        return annotate(rgb, result.faces), result
