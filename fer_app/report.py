"""Per-image results as plain data and downloadable CSV / JSON (used by the app and the CLI)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field

import numpy as np

from fer_app.defaults import PHOTO_MIN_FACE
from fer_app.io import ImageLoadError, load_image
from fer_app.labels import EMOTIONS
from fer_app.pipeline import Face, analyze_array


@dataclass
class ImageResult:
    """What one uploaded image produced. ``error`` is a message for people, or None."""

    name: str
    faces: list[Face] = field(default_factory=list)
    annotated: np.ndarray | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {"image": self.name, "faces": [f.to_dict() for f in self.faces], "error": self.error}


#: Longest side of the annotated copy kept for display (4.9 MB as RGB); the faces are found on the full image.
DISPLAY_MAX_SIDE = 1280


def analyze_upload(name: str, data: bytes, detector: str, min_face: int = PHOTO_MIN_FACE, tta: bool = False,
                   classifier=None) -> ImageResult:
    """Decode and analyse one uploaded file, in memory only; never raises for bad images.

    ``annotated`` is a display copy at most :data:`DISPLAY_MAX_SIDE` px long (with no face, the photo itself;
    the boxes in ``faces`` stay in the full image's pixels), so a session holding ten camera photos stays small.
    """
    from fer_app.draw import annotate, display_copy

    try:
        rgb = load_image(data, name=name)
    except ImageLoadError as exc:
        return ImageResult(name, error=str(exc))
    faces = analyze_array(rgb, detector, min_face, tta, classifier)
    small, scale = display_copy(rgb, DISPLAY_MAX_SIDE)
    return ImageResult(name, faces, annotate(small, faces, scale=scale))


class PhotoSession:
    """The photos a user added during one browser session (their bytes, in memory) and their results.

    Streamlit reruns a page for every widget change and forgets a file uploader's files when the user visits
    another page, so the app keeps what was added here, in upload order, until the user removes it. Results
    are kept for the current analysis settings only: changing a photo setting analyses every photo again,
    anything else reuses them.
    """

    def __init__(self) -> None:
        self._photos: dict[tuple, tuple[str, bytes]] = {}
        self._results: dict[tuple, ImageResult] = {}
        self._settings: tuple | None = None
        #: how many files were analysed (not found here), for tests and diagnostics
        self.analysed = 0

    @staticmethod
    def key(name: str, data: bytes) -> tuple:
        return name, hashlib.blake2b(data, digest_size=16).hexdigest()

    def add(self, name: str, data: bytes) -> tuple:
        """Add a photo (once: the same name and bytes again is the same photo); returns its key."""
        key = self.key(name, data)
        self._photos.setdefault(key, (name, bytes(data)))
        return key

    def remove(self, key: tuple) -> None:
        self._photos.pop(key, None)
        self._results.pop(key, None)

    def clear(self) -> None:
        self._photos.clear()
        self._results.clear()

    def keys(self) -> list[tuple]:
        return list(self._photos)

    def data(self, key: tuple) -> bytes:
        return self._photos[key][1]

    def result(self, key: tuple, detector: str, min_face: int = PHOTO_MIN_FACE, tta: bool = False,
               classifier=None) -> ImageResult:
        """The photo's result for these settings, analysed now if it is not known yet."""
        settings = (detector, int(min_face), bool(tta))
        if settings != self._settings:
            self._results, self._settings = {}, settings
        if key not in self._results:
            name, data = self._photos[key]
            self._results[key] = analyze_upload(name, data, detector, min_face, tta, classifier)
            self.analysed += 1
        return self._results[key]

    def __len__(self) -> int:
        return len(self._photos)


def results_json(results: list[ImageResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2)


def results_csv(results: list[ImageResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["image", "face", "x", "y", "w", "h", "score", "emotion", *EMOTIONS, "error"])
    for r in results:
        if r.error or not r.faces:
            w.writerow([r.name, "", "", "", "", "", "", "", *[""] * len(EMOTIONS), r.error or "no face found"])
        for i, f in enumerate(r.faces, start=1):
            w.writerow([r.name, i, *f.box, f.score, f.emotion, *[round(f.probabilities[e], 5) for e in EMOTIONS], ""])
    return buf.getvalue()
