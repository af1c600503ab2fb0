"""What the app's pages share: the process-wide classifier, its notice when it cannot load, and settings
that keep their value when the user visits another page."""

from __future__ import annotations

import streamlit as st

#: Widget keys whose values outlive a visit to another page (Streamlit forgets the state of widgets that a
#: run does not draw; writing a value back under its key each run keeps it).
PERSISTENT_KEYS = ("detector", "min_face", "tta", "explain", "smoothing", "detect_every", "webcam_tta", "video_every")


def keep_settings() -> None:
    """Called by the router on every run, before the page draws its widgets."""
    for key in PERSISTENT_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


@st.cache_resource(show_spinner="Loading the emotion model ...")
def _classifier(model_dir: str):
    from fer_app.model import EmotionClassifier

    return EmotionClassifier(model_dir or None)


def classifier_or_notice():
    """The shared classifier, or None after a notice on the page (missing or broken model files)."""
    from fer_app.model import ModelLoadError, default_model_dir

    try:
        return _classifier(str(default_model_dir()))
    except ModelLoadError as exc:
        st.error(f"The emotion model could not be loaded ({exc}). Restore the `models/` folder from the "
                 "repository, or train a model (see the README).")
        return None
