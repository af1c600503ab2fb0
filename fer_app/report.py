"""Per-image results as plain data and downloadable CSV / JSON (used by the app and the CLI)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field

import numpy as np

from fer_app.io import ImageLoadError, load_image
from fer_app.labels import EMOTIONS
from fer_app.pipeline import Face, analyze_array


@dataclass
class ImageResult:
    """What one uploaded image produced. ``error`` is a message for people, or None."""

    name: str
    faces: list[Face] = field(default_factory=list)
    image: np.ndarray | None = None
    annotated: np.ndarray | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {"image": self.name, "faces": [f.to_dict() for f in self.faces], "error": self.error}


def analyze_upload(name: str, data: bytes, detector: str, min_face: int = 20, tta: bool = False,
                   classifier=None) -> ImageResult:
    """Decode and analyse one uploaded file, in memory only; never raises for bad images."""
    from fer_app.draw import annotate

    try:
        rgb = load_image(data, name=name)
    except ImageLoadError as exc:
        return ImageResult(name, error=str(exc))
    faces = analyze_array(rgb, detector, min_face, tta, classifier)
    return ImageResult(name, faces, rgb, annotate(rgb, faces))


class UploadResults:
    """The results of the files on the Photos page, kept in memory between reruns of the page.

    Streamlit reruns the whole page for every widget change (a webcam slider, a page switch and back), so
    without this every upload would be detected and classified again each time. A result is reused only for
    the same file content, name and analysis settings; :meth:`keep` drops the results of files no longer on
    the page, so what is held is what the page shows.
    """

    def __init__(self) -> None:
        self._results: dict[tuple, ImageResult] = {}
        #: how many files were analysed (not found here), for tests and diagnostics
        self.analysed = 0

    @staticmethod
    def key(name: str, data: bytes, detector: str, min_face: int, tta: bool) -> tuple:
        return name, hashlib.blake2b(data, digest_size=16).digest(), detector, int(min_face), bool(tta)

    def keep(self, keys) -> None:
        """Forget every result whose key is not in ``keys``."""
        keys = set(keys)
        self._results = {k: r for k, r in self._results.items() if k in keys}

    def analyze(self, name: str, data: bytes, detector: str, min_face: int = 20, tta: bool = False,
                classifier=None) -> ImageResult:
        """:func:`analyze_upload`, or its earlier result for the same file and settings."""
        key = self.key(name, data, detector, min_face, tta)
        if key not in self._results:
            self._results[key] = analyze_upload(name, data, detector, min_face, tta, classifier)
            self.analysed += 1
        return self._results[key]

    def __len__(self) -> int:
        return len(self._results)


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
