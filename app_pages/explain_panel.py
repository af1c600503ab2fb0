"""'Why this emotion' on the app's pages: per-face maps (Photos page) and the average maps (Model page).

Everything is computed by :mod:`fer_app.explain` on the run-time path (LiteRT); nothing is written to disk.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import streamlit as st

from fer_app.labels import EMOTIONS

#: Side in screen pixels of the enlarged 48x48 face and its heatmap.
SHOWN = 192


@st.cache_data(max_entries=256, show_spinner=False)
def _explain(crop: np.ndarray, emotion: str, model_key: str, _classifier) -> tuple:
    """(face the model saw, overlay, reading, probability) for one crop; cached so reruns from other
    widgets do not recompute it. ``model_key`` keeps maps of different models apart."""
    from fer_app import explain

    ex = explain.explain_crops(_classifier, [crop], [emotion])[0]
    return ex.face, explain.overlay(ex.face, ex.importance, SHOWN), ex.reading, ex.probability


def _crop(rgb: np.ndarray, face, detector: str) -> np.ndarray:
    from fer_app.faces import Detection, crop_face

    return crop_face(rgb, Detection(tuple(face.box), face.score, face.angle, detector))


def _enlarged(face: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(face, (SHOWN, SHOWN), interpolation=cv2.INTER_NEAREST)


def show_explanations(rgb: np.ndarray, faces, key_prefix: str, detector: str | None = None,
                      classifier=None) -> None:
    """Per face: the crop the model saw, the heatmap over it, a one-line reading and an emotion selector.

    ``faces``: :class:`fer_app.pipeline.Face` objects found in ``rgb`` by ``detector``, whose crop framing is
    used again (default: the page's "detector" setting, else the photo detector); ``key_prefix`` keeps the
    selectors of different images apart.
    """
    from fer_app.faces import DETECTORS
    from fer_app.model import load_classifier
    from fer_app.pipeline import PHOTO_DETECTOR

    if not faces:
        return
    classifier = classifier or load_classifier()
    if detector not in DETECTORS:
        detector = st.session_state.get("detector") if st.session_state.get("detector") in DETECTORS else PHOTO_DETECTOR
    model_key = str(getattr(classifier, "path", ""))
    st.caption("The heatmap shows where hiding part of the face lowers the chosen emotion's probability most: "
               "brighter and redder = the model relied on it more. It explains one view of the face.")
    for i, face in enumerate(faces, start=1):
        emotion = st.selectbox(f"Face #{i}: explain which emotion?", EMOTIONS, index=EMOTIONS.index(face.emotion),
                               key=f"{key_prefix}_explain_{i}")
        seen, heat, reading, prob = _explain(_crop(rgb, face, detector), emotion, model_key, classifier)
        left, right, text = st.columns([1, 1, 1.3])
        left.image(_enlarged(seen), caption="What the model saw (48x48, enlarged)", width=SHOWN)
        right.image(heat, caption=f"Where it looks for '{emotion}'", width=SHOWN)
        text.markdown(f"**{emotion}**: {prob * 100:.0f} % for this view.  \nWhere: **{reading}**.")


def _metrics_table(metrics: dict) -> str:
    rows = ["| deleted by | 10 % | 20 % | 30 % |", "|---|---|---|---|"]
    for kind, per in metrics.get("deletion", {}).items():
        cells = " | ".join(f"{m * 100:.1f} ({lo * 100:.1f} to {hi * 100:.1f})" for m, lo, hi in per.values())
        rows.append(f"| {kind} | {cells} |")
    return "\n".join(rows)


def show_average_maps(model_dir) -> None:
    """The average map per emotion over the test set and the faithfulness figures behind the maps."""
    model_dir = Path(model_dir)
    image, metrics_path = model_dir / "explain_average.png", model_dir / "explain_metrics.json"
    st.subheader("Where the model looks")
    if not image.is_file() or not metrics_path.is_file():
        st.info("No explanation figures for this model yet: run "
                "`python -m benchmarks.explain_faithfulness --out models` (about 10 minutes).")
        return
    try:
        metrics = json.loads(metrics_path.read_text())
    except (OSError, ValueError):
        st.warning(f"{metrics_path.name} could not be read, so the figures are not shown.")
        return
    st.image(str(image), caption="Average occlusion map per emotion over the test faces of that emotion, "
                                 "on their average face (brighter and redder = more important), for the answer "
                                 "the app shows.")
    readings = metrics.get("average_maps", {})
    if readings:
        st.markdown("  \n".join(f"**{name}**: {v['reading']} ({v['faces']} faces)" for name, v in readings.items()))
    st.markdown(f"**Is the map faithful?** On {metrics.get('faces', '?')} test faces, deleting the pixels the map "
                "ranks highest (filled with the face's mean grey) lowers the predicted emotion's probability far "
                "more than deleting random regions of the same size. Mean drop in percentage points "
                "(95 % confidence interval):")
    st.markdown(_metrics_table(metrics))
    sanity = metrics.get("randomisation", {})
    if sanity:
        st.markdown("**Sanity check**: maps from copies of the model with redrawn weights should not resemble "
                    "the trained model's. Mean Spearman rank correlation per face:  \n" + "  \n".join(
                        f"{kind}: {v['spearman'][0]:.2f} ({v['spearman'][1]:.2f} to {v['spearman'][2]:.2f})"
                        for kind, v in sanity.items()))
    timing = metrics.get("latency", {})
    if timing.get("ms_per_face"):
        times = ", ".join(f"{k} {v['wall']:.0f} ms" for k, v in timing["ms_per_face"].items())
        st.caption(f"Time per face (median on the benchmark machine, {timing.get('cores', '?')} cores, load "
                   f"{timing.get('load_average_1min', '?')}): {times}. Command: `{metrics.get('command', '')}`")
