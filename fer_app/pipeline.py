"""Image -> faces -> emotions, as plain data.

    >>> from fer_app.pipeline import analyze
    >>> faces = analyze("photo.jpg")                 # path, bytes, file object or RGB array
    >>> faces[0].emotion, faces[0].probabilities["happy"], faces[0].box

All faces of an image are classified in one batch through ``fer_app.preprocess`` (the same code as
training) by the process-wide classifier from ``fer_app.model``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from fer_app.defaults import PHOTO_DETECTOR, PHOTO_MIN_FACE, VIDEO_DETECTOR  # noqa: F401 (the pipeline's names)
from fer_app.faces import Detection, crop_face, get_detector
from fer_app.io import load_image
from fer_app.labels import EMOTIONS
from fer_app.model import EmotionClassifier, load_classifier



@dataclass
class Face:
    """One classified face. ``box`` = (x, y, w, h) in pixels of the (EXIF-rotated) image."""

    box: tuple[int, int, int, int]
    score: float
    probabilities: dict[str, float]
    emotion: str
    angle: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["box"] = list(self.box)
        return d


def faces_from_probs(dets: list[Detection], probs: np.ndarray) -> list[Face]:
    out = []
    for det, p in zip(dets, probs):
        p = np.asarray(p, np.float64)
        p = p / p.sum()
        out.append(Face(tuple(int(v) for v in det.box), round(float(det.score), 4),
                        {name: float(v) for name, v in zip(EMOTIONS, p)},
                        EMOTIONS[int(np.argmax(p))], round(float(det.angle), 1)))
    return out


def classify_detections(rgb: np.ndarray, dets: list[Detection], classifier: EmotionClassifier | None = None,
                        tta: bool = False) -> list[Face]:
    """Crop every detection and classify them all in one batch."""
    if not dets:
        return []
    classifier = classifier or load_classifier()
    crops = [crop_face(rgb, d) for d in dets]
    return faces_from_probs(dets, classifier.predict_proba(crops, tta=tta))


def detect(rgb: np.ndarray, detector: str = PHOTO_DETECTOR, min_face: int = PHOTO_MIN_FACE) -> list[Detection]:
    dets = get_detector(detector).detect(rgb, min_face=min_face)
    dets = [d for d in dets if min(d.box[2], d.box[3]) >= min_face]
    return sorted(dets, key=lambda d: (d.box[0], d.box[1]))


def analyze_array(rgb: np.ndarray, detector: str = PHOTO_DETECTOR, min_face: int = PHOTO_MIN_FACE, tta: bool = False,
                  classifier: EmotionClassifier | None = None) -> list[Face]:
    """uint8 RGB array -> list of :class:`Face`, left to right."""
    return classify_detections(rgb, detect(rgb, detector, min_face), classifier, tta)


def analyze(source, detector: str = PHOTO_DETECTOR, min_face: int = PHOTO_MIN_FACE, tta: bool = True,
            classifier: EmotionClassifier | None = None) -> list[Face]:
    """Any image input (path, bytes, file object, array) -> list of :class:`Face`, as the Photos page and
    ``fer predict`` answer (10-view averaging unless ``tta=False``).

    Raises :class:`fer_app.io.ImageLoadError` for inputs that are not readable images.
    """
    return analyze_array(load_image(source), detector, min_face, tta, classifier)
