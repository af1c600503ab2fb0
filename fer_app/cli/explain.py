"""``python -m fer_app predict IMAGES --explain DIR [--explain-emotion NAME]``.

Per face, ``STEM_faceN_explain.png`` (the heatmap over the enlarged 48x48 face the model saw) and
``STEM_faceN_map.png`` (the raw map, 48x48 grayscale, brighter = more important) go into DIR, and the
face's JSON gains ``"explanation"`` (the overlay's path), ``"explained_emotion"`` and
``"explanation_reading"``. The faces are the ones classified: the crops are kept from the same detection.
"""

from __future__ import annotations

from pathlib import Path

from fer_app import explain
from fer_app.draw import png_bytes
from fer_app.io import folder_problem
from fer_app.labels import EMOTIONS


def add_arguments(parser) -> None:
    parser.add_argument("--explain", metavar="DIR",
                        help="write per face STEM_faceN_explain.png (heatmap over the face the model saw) and "
                             "STEM_faceN_map.png (the map itself, brighter = more important) into DIR")
    parser.add_argument("--explain-emotion", metavar="NAME",
                        help="emotion to explain with --explain (default: each face's predicted emotion)")


class Explainer:
    """Keeps each image's face crops from classification to explanation, and the output names taken."""

    def __init__(self, out_dir: Path, emotion: str | None):
        self.out_dir, self.emotion = out_dir, emotion
        self._crops: list = []
        self._stems: set[str] = set()

    @classmethod
    def from_args(cls, args) -> Explainer | None:
        """None without ``--explain``; ValueError (one sentence) for an unknown emotion or an unusable DIR."""
        emotion = getattr(args, "explain_emotion", None)
        if not getattr(args, "explain", None):
            if emotion:
                raise ValueError("--explain-emotion needs --explain DIR")
            return None
        if emotion is not None:
            emotion = EMOTIONS[explain.emotion_index(emotion)]
        out_dir = Path(args.explain)
        problem = folder_problem(out_dir)
        if problem:
            raise ValueError(f"cannot write explanations into {out_dir}: {problem}")
        return cls(out_dir, emotion)

    def analyze(self, rgb, detector: str, min_face: int, tta: bool, classifier) -> list:
        """As :func:`fer_app.pipeline.analyze_array`, keeping the crops for :meth:`write`."""
        from fer_app.faces import crop_face
        from fer_app.pipeline import classify_detections, detect

        dets = detect(rgb, detector, min_face)
        self._crops = [crop_face(rgb, d) for d in dets]  # cropping again is cheaper than changing the pipeline
        return classify_detections(rgb, dets, classifier, tta)

    def _stem(self, path: str) -> str:
        stem, n = Path(path).stem, 2
        name = stem
        while name in self._stems:
            name, n = f"{stem}_{n}", n + 1
        self._stems.add(name)
        return name

    def write(self, path: str, faces: list[dict], classifier) -> None:
        """Explain the last analysed image's faces, write their PNGs and add the keys to ``faces``."""
        if not faces:
            return
        stem = self._stem(path)
        emotions = [self.emotion or f["emotion"] for f in faces]
        for i, (face, ex) in enumerate(zip(faces, explain.explain_crops(classifier, self._crops, emotions)), 1):
            overlay_path = self.out_dir / f"{stem}_face{i}_explain.png"
            overlay_path.write_bytes(png_bytes(explain.overlay(ex.face, ex.importance)))
            (self.out_dir / f"{stem}_face{i}_map.png").write_bytes(png_bytes(explain.map_image(ex.importance)))
            face.update({"explanation": str(overlay_path), "explained_emotion": ex.emotion,
                         "explanation_reading": ex.reading})

