"""Facial emotion recognition demo: photos, live webcam, and the model's own story.

Run with ``streamlit run streamlit_app.py``. Layout and widgets only: every computation is a call into
``fer_app`` (detection, cropping, classification, charts, reports, webcam plumbing).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import streamlit as st  # noqa: E402

# aiortc's SRTP library (pylibsrtp) segfaults when it is first imported after TensorFlow (clashing
# OpenSSL symbols), so the WebRTC stack is imported before anything loads TensorFlow.
import streamlit_webrtc  # noqa: E402,F401

from fer_app.labels import EMOTIONS  # noqa: E402

st.set_page_config(page_title="Facial emotion recognition", page_icon="🙂", layout="wide")

PAGES = ("Photos", "Live webcam", "Model")
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]


# ----------------------------------------------------------------------------- cached resources

@st.cache_resource(show_spinner="Loading the emotion model ...")
def get_classifier(model_dir: str):
    from fer_app.model import EmotionClassifier

    return EmotionClassifier(model_dir or None)


@st.cache_resource(show_spinner="Loading the face detector ...")
def get_detector_cached(name: str, min_face: int):
    from fer_app.faces import get_detector

    return get_detector(name, min_face=min_face)


def classifier_or_notice():
    """The classifier, or None after showing a friendly notice (missing/broken model files)."""
    from fer_app.model import ModelLoadError, default_model_dir

    try:
        return get_classifier(str(default_model_dir()))
    except ModelLoadError as exc:
        st.error(f"The emotion model could not be loaded: {exc}. "
                 "Restore the `models/` folder from the repository, or train one with "
                 "`python -m training.train` (see the README).")
        return None


def sidebar() -> tuple[str, dict]:
    st.sidebar.title("Emotion recognition")
    page = st.sidebar.radio("Page", PAGES, key="page")
    st.sidebar.header("Settings")
    settings = {
        "detector": st.sidebar.selectbox(
            "Face detector (photos)", ["mtcnn", "haar"], key="detector",
            help="mtcnn: accurate, finds tilted and small faces (about 0.2-0.5 s per photo). "
                 "haar: OpenCV cascade, fast, upright faces only."),
        "min_face": st.sidebar.slider("Minimum face size (px)", 12, 200, 20, step=4, key="min_face"),
        "tta": st.sidebar.checkbox("Test-time augmentation (average 10 shifted and mirrored views)", value=True, key="tta"),
        "smoothing": st.sidebar.slider("Webcam smoothing", 0.0, 0.95, 0.6, step=0.05, key="smoothing",
                                       help="Weight of the previous probabilities in each new frame's."),
        "detect_every": st.sidebar.slider("Webcam: detect every N frames", 1, 15, 5, key="detect_every",
                                          help="Faces are tracked between detections."),
    }
    return page, settings


# ----------------------------------------------------------------------------- photos

def show_result(result, key: str) -> None:
    from fer_app.charts import probability_chart
    from fer_app.draw import to_png_bytes

    st.subheader(result.name)
    if result.error:
        st.warning(f"Could not read this file: {result.error}")
        return
    if not result.faces:
        st.info("No face found in this image. Try a photo where faces are at least "
                f"{st.session_state.get('min_face', 20)} pixels wide, or the other detector.")
        st.image(result.image, width=420)
        return
    left, right = st.columns([3, 2])
    with left:
        st.image(result.annotated, caption=f"{len(result.faces)} face(s) found", width="stretch")
        st.download_button("Download annotated image (PNG)", to_png_bytes(result.annotated),
                           file_name=f"{Path(result.name).stem}_annotated.png", mime="image/png", key=f"png-{key}",
                           on_click="ignore")
    with right:
        for i, face in enumerate(result.faces, start=1):
            top = face.probabilities[face.emotion]
            st.markdown(f"**Face #{i}: {face.emotion}** ({top * 100:.0f}%)")
            st.altair_chart(probability_chart(face.probabilities), width="stretch")
            with st.expander(f"Numbers for face #{i}"):
                st.dataframe({"emotion": list(EMOTIONS),
                              "probability": [round(face.probabilities[e], 4) for e in EMOTIONS]},
                             hide_index=True)
                st.caption(f"box (x, y, w, h) = {face.box}, detector score {face.score:.3f}")


def photos_page(settings: dict) -> None:
    from fer_app.report import ImageResult, UploadResults, results_csv, results_json

    st.title("Emotions in photos")
    st.write("Upload one or more photos (or take a snapshot): every face is found, cropped and classified "
             "into " + ", ".join(EMOTIONS) + ". Images stay in memory and are never stored.")
    uploads = st.file_uploader("Photos", type=PHOTO_TYPES, accept_multiple_files=True, key="uploads")
    with st.expander("Take a snapshot with your camera (works where the live webcam cannot connect)"):
        snapshot = st.camera_input("Snapshot", key="snapshot")
    files = list(uploads or []) + ([snapshot] if snapshot is not None else [])
    if not files:
        st.info("Upload a photo to start.")
        return
    classifier = classifier_or_notice()
    if classifier is None:
        return
    get_detector_cached(settings["detector"], settings["min_face"])
    analysis = (settings["detector"], settings["min_face"], settings["tta"])
    cache = st.session_state.setdefault("photo_results", UploadResults())
    uploads = [(f.name, f.getvalue()) for f in files]
    cache.keep(UploadResults.key(name, data, *analysis) for name, data in uploads)
    results = []
    for n, (name, data) in enumerate(uploads):
        with st.spinner(f"Analysing {name} ..."):
            try:
                r = cache.analyze(name, data, *analysis, classifier=classifier)
            except Exception as exc:  # one bad file never takes the page down
                r = ImageResult(name, error=f"unexpected error ({type(exc).__name__})")
        results.append(r)
        show_result(r, key=str(n))
        st.divider()
    c1, c2 = st.columns(2)
    c1.download_button("Download all results (CSV)", results_csv(results), "emotions.csv", "text/csv",
                       on_click="ignore")
    c2.download_button("Download all results (JSON)", results_json(results), "emotions.json", "application/json",
                       on_click="ignore")


# ----------------------------------------------------------------------------- webcam

def webcam_page(settings: dict) -> None:
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from fer_app.charts import probability_chart, timeline_chart
    from fer_app.video import VideoAnalyzer
    from fer_app.webcam import LiveResults, ice_servers, make_frame_callback

    st.title("Live webcam")
    classifier = classifier_or_notice()
    if classifier is None:
        return
    if "live" not in st.session_state:
        st.session_state.live = LiveResults()
        st.session_state.analyzer = VideoAnalyzer(classifier=classifier)
    live, analyzer = st.session_state.live, st.session_state.analyzer
    # settings reach the callback thread through the analyzer's attributes (plain assignments)
    analyzer.smoothing, analyzer.tta = settings["smoothing"], settings["tta"]
    analyzer.detect_every = settings["detect_every"]
    analyzer.min_face = max(24, settings["min_face"])
    secrets = None
    try:
        secrets = st.secrets
    except Exception:
        pass
    servers, source = ice_servers(secrets)
    left, right = st.columns([3, 2])
    with left:
        try:
            ctx = webrtc_streamer(
                key="fer-webcam", mode=WebRtcMode.SENDRECV, rtc_configuration={"iceServers": servers},
                media_stream_constraints={"video": {"width": 640, "height": 480}, "audio": False},
                video_frame_callback=make_frame_callback(analyzer, live), async_processing=True)
        except Exception as exc:  # e.g. no Streamlit server runtime (bare script, AppTest)
            st.warning(f"The live webcam is not available here ({type(exc).__name__}). "
                       "Use the snapshot on the Photos page instead.")
            return
        st.caption(f"ICE servers: {source}. Press START and allow the camera. Frames are processed in "
                   "memory and never stored.")
    with right:
        status, chart_slot, timeline_slot = st.empty(), st.empty(), st.empty()
    if not ctx.state.playing:
        status.info("The live chart appears here once the stream runs.")
        with right:
            if live.timeline():
                st.altair_chart(timeline_chart(live.timeline()), width="stretch")
        return
    while ctx.state.playing:
        snap = live.snapshot()
        if snap and snap["main"] is not None:
            main = snap["main"]
            status.markdown(f"**{main.emotion}** ({main.probabilities[main.emotion] * 100:.0f}%) · "
                            f"{len(snap['faces'])} face(s) · {snap['fps']:.1f} fps · "
                            f"{snap['timings'].get('total_ms', 0):.0f} ms/frame")
            chart_slot.altair_chart(probability_chart(main.probabilities, "Main face"), width="stretch")
        elif snap:
            status.markdown(f"No face in view · {snap['fps']:.1f} fps")
        timeline_slot.altair_chart(timeline_chart(live.timeline()), width="stretch")
        time.sleep(0.5)


# ----------------------------------------------------------------------------- model

def model_page() -> None:
    from fer_app.charts import confusion_chart, distribution_chart, history_chart, load_history, lr_chart
    from fer_app.model import default_model_dir

    st.title("The model")
    model_dir = default_model_dir()
    config_path, metrics_path = model_dir / "config.json", model_dir / "metrics.json"
    if not config_path.is_file():
        st.error(f"No model found in `{model_dir}`: restore `models/` or train one (see the README).")
        return
    config = json.loads(config_path.read_text())
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    cols = st.columns(4)
    if metrics:
        cols[0].metric("Test accuracy", f"{metrics['accuracy'] * 100:.1f}%")
        cols[1].metric("Test macro-F1", f"{metrics['macro_f1']:.3f}")
        cols[2].metric("Calibration error (ECE)", f"{metrics.get('ece', float('nan')):.3f}")
    cols[3].metric(f"Input (MobileNetV2, α {config.get('alpha')})", f"{config.get('img_size')} px")

    st.header("Training history")
    df = load_history(model_dir / "history.csv")
    if df is not None:
        c1, c2 = st.columns(2)
        c1.altair_chart(history_chart(df, "accuracy"), width="stretch")
        c2.altair_chart(history_chart(df, "loss"), width="stretch")
        st.altair_chart(lr_chart(df), width="stretch")
    else:
        st.info("No training history shipped with this model.")

    st.header("Test-set results")
    if metrics:
        c1, c2 = st.columns([3, 2])
        c1.altair_chart(confusion_chart(metrics["confusion_matrix"], metrics["labels"]), width="stretch")
        c2.dataframe([{"emotion": e, **{k: v for k, v in m.items()}} for e, m in metrics["per_class"].items()],
                     hide_index=True)
        c2.caption(f"{metrics['n']} test images (FER-2013 PublicTest); TTA {'on' if metrics.get('tta') else 'off'}.")
    else:
        st.info("No metrics.json shipped: run `python -m training.evaluate --out models`.")
    counts = config.get("data", {}).get("train_counts")
    if counts:
        st.altair_chart(distribution_chart(counts), width="stretch")
    card = model_dir / "MODEL_CARD.md"
    if card.is_file():
        st.header("Model card")
        st.markdown(card.read_text())


def main() -> None:
    page, settings = sidebar()
    if page == "Photos":
        photos_page(settings)
    elif page == "Live webcam":
        webcam_page(settings)
    else:
        model_page()


main()
