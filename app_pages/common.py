"""What the app's pages share: the process-wide classifier, its notice when it cannot load, and settings
that keep their value when the user visits another page."""

from __future__ import annotations

import threading

import streamlit as st

#: Widget keys whose values outlive a visit to another page (Streamlit forgets the state of widgets that a
#: run does not draw; writing a value back under its key each run keeps it).
PERSISTENT_KEYS = ("detector", "min_face", "tta", "explain", "smoothing", "detect_every", "webcam_tta", "video_every")


def keep_settings() -> None:
    """Called by the router on every run, before the page draws its widgets."""
    for key in PERSISTENT_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


_warm = threading.Event()


def warm_up() -> None:
    """Once per process, in a background thread: load the model and the photo detector while the first visitor
    is still choosing a photo, so that the first result comes sooner."""
    if _warm.is_set():
        return
    _warm.set()

    def work() -> None:
        import numpy as np

        from fer_app.faces import get_detector
        from fer_app.model import ModelLoadError, load_classifier

        try:
            load_classifier().predict_prepared(np.zeros((1, 48, 48, 1), np.uint8), tta=True)
        except ModelLoadError:  # the page says so when it needs the model
            pass
        get_detector("mtcnn").detect(np.zeros((64, 64, 3), np.uint8))

    threading.Thread(target=work, name="fer-warm-up", daemon=True).start()


def classifier_or_notice():
    """The process-wide classifier, or None after a notice on the page (missing or broken model files)."""
    from fer_app.model import ModelLoadError, load_classifier

    try:
        return load_classifier()
    except ModelLoadError as exc:
        st.error(f"The emotion model could not be loaded ({exc}). Restore the `models/` folder from the "
                 "repository, or train a model (see the README).")
        return None


def head_caption(clf) -> str:
    """One line under the app's charts: which of the model's heads the probabilities come from."""
    from fer_app.model import HEAD_MEANING

    if len(clf.heads) == 1:
        return (f"Probabilities: {HEAD_MEANING.get(clf.head, clf.head)}. The Model page compares them with what ten "
                "annotators per face said (FER+).")
    return f"Probabilities: {HEAD_MEANING.get(clf.head, clf.head)}. The Model page explains the model's two heads."


def views_text(tta: bool) -> str:
    """The settings line's words for test-time augmentation (the Photos and Live webcam pages)."""
    return "10 views per face" if tta else "one view per face"


def settings_popover(title: str):
    """The page's settings: a button in the sidebar that opens them (the line under it says what is set)."""
    return st.sidebar.popover(title, icon=":material/tune:", width="stretch")
