"""Photos page: add photos (upload, snapshot or a sample), an overview of every photo, then details."""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

from app_pages.common import classifier_or_notice, head_caption, settings_popover, views_text
from fer_app.defaults import PHOTO_MIN_FACE
from fer_app.io import READABLE_TYPES, limit_text
from fer_app.labels import EMOTIONS
from fer_app.report import PhotoSession, results_csv, results_json

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
SAMPLES = {"Astronaut": "astronaut.jpg", "Grace Hopper": "grace_hopper.jpg", "Cameraman": "cameraman.jpg"}
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]
#: Largest photo file (the uploader refuses bigger ones; the server's own limit is the Video page's).
MAX_PHOTO_MB = 25


def settings() -> dict:
    # in a popover: widgets drawn on the first page make the browser fetch their code before it shows the
    # uploader (0.27 s on a bare page: docs/resources.md); a closed popover's widgets are not drawn until opened
    with settings_popover("Photo settings"):
        options = {
            "detector": st.selectbox(
                "Face detector", ["mtcnn", "haar"], key="detector",
                help="mtcnn: finds tilted, small and partly hidden faces (about 0.1-0.3 s per photo). "
                     "haar: OpenCV cascade, fast, upright faces only."),
            "min_face": st.slider("Minimum face size (px)", 12, 200, PHOTO_MIN_FACE, step=4, key="min_face"),
            "tta": st.checkbox("Average 10 shifted and mirrored views of each face", value=True, key="tta",
                               help="Test-time augmentation: a little more accurate, still fast."),
        }
    st.sidebar.caption(f"{ {'mtcnn': 'MTCNN', 'haar': 'Haar'}[options['detector']]} detector, "
                       f"faces from {options['min_face']} px, {views_text(options['tta'])}")
    return options


def photo_session() -> PhotoSession:
    return st.session_state.setdefault("photos", PhotoSession())


def add_photos(photos: PhotoSession) -> None:
    """The upload, snapshot and sample widgets; what they bring is moved into the session's photos."""
    n = st.session_state.setdefault("uploader_round", 0)
    uploads = st.file_uploader(f"Add photos ({READABLE_TYPES}; up to {MAX_PHOTO_MB} MB and {limit_text()} each)",
                               type=PHOTO_TYPES, accept_multiple_files=True, key=f"uploads_{n}",
                               max_upload_size=MAX_PHOTO_MB)
    cols = st.columns([1.2, 1, 1, 1, 2], vertical_alignment="center")
    cols[0].caption("Or try a sample:")
    for col, (label, file) in zip(cols[1:4], SAMPLES.items()):
        if col.button(label, key=f"sample_{file}", width="stretch"):
            photos.add(file, (SAMPLES_DIR / file).read_bytes())
    with st.expander("Take a snapshot with your camera"):
        snapshot = st.camera_input("Snapshot", key=f"snapshot_{n}")
    new = list(uploads or []) + ([snapshot] if snapshot is not None else [])
    for f in new:
        if f.size > MAX_PHOTO_MB * 1024 * 1024:
            st.session_state.setdefault("refused", []).append(
                f"{f.name} is {f.size / 2**20:.0f} MB; photos can be up to {MAX_PHOTO_MB} MB, so shrink it first")
        else:
            photos.add(f.name, f.getvalue())
    if new:  # empty the widgets: the photos now live in the session, and a page switch keeps them
        st.session_state.uploader_round = n + 1
        st.rerun()


def face_summary(result) -> str:
    if result.error:
        return "could not be read"
    if not result.faces:
        return "no face found"
    return ", ".join(f"#{i} {f.emotion} {f.probabilities[f.emotion] * 100:.0f}%"
                     for i, f in enumerate(result.faces, start=1))


def overview(photos: PhotoSession, results: list) -> None:
    """One row per photo: thumbnail, name, faces found, each face's top emotion, and a remove button."""
    st.subheader(f"Overview: {len(results)} photo{'s' if len(results) != 1 else ''}")
    for key, r in zip(photos.keys(), results):
        c_img, c_text, c_btn = st.columns([1, 6, 1], vertical_alignment="center")
        if r.annotated is not None:
            c_img.image(r.annotated, width=96)
        c_text.markdown(f"**{r.name}** · {len(r.faces)} face{'s' if len(r.faces) != 1 else ''} · {face_summary(r)}")
        if r.error:
            c_text.warning(r.error)
        if c_btn.button("Remove", key=f"remove_{key[1]}"):
            photos.remove(key)
            st.rerun()


def details(result, key: str, explain_data: bytes | None) -> None:
    from fer_app.charts import probability_chart
    from fer_app.draw import png_bytes

    st.markdown(f"#### {result.name}")
    if result.error:
        st.warning(result.error)
        return
    if not result.faces:
        st.info(f"No face found in {result.name}. Faces smaller than {st.session_state.get('min_face', PHOTO_MIN_FACE)} px "
                "are skipped; lower the minimum face size or try the other detector.")
        st.image(result.annotated, width=420)
        return
    left, right = st.columns([3, 2])
    left.image(result.annotated, caption=f"{len(result.faces)} face(s) found", width="stretch")
    # a callable is encoded only when clicked, not for every photo on every run of the page
    left.download_button("Download annotated image (PNG)", functools.partial(png_bytes, result.annotated),
                         file_name=f"{Path(result.name).stem}_annotated.png", mime="image/png", key=f"png-{key}",
                         on_click="ignore")
    with right:
        for i, face in enumerate(result.faces, start=1):
            st.markdown(f"**Face #{i}: {face.emotion}** ({face.probabilities[face.emotion] * 100:.0f}%)")
            st.vega_lite_chart(spec=probability_chart(face.probabilities), width="stretch")
    if explain_data is not None:
        show_explanations(result, explain_data, key)


def show_explanations(result, data: bytes, key: str) -> None:
    """Per face: the crop the model saw and what drove its emotion (``app_pages/explain_panel.py``)."""
    from app_pages.explain_panel import show_explanations as panel
    from fer_app.io import load_image

    panel(load_image(data, name=result.name), result.faces, key_prefix=key)


def downloads(results: list) -> None:
    c1, c2, c3 = st.columns([2, 2, 1])
    c1.download_button("Download all results (CSV)", results_csv(results), "emotions.csv", "text/csv",
                       on_click="ignore")
    c2.download_button("Download all results (JSON)", results_json(results), "emotions.json", "application/json",
                       on_click="ignore")
    if c3.button("Clear all"):
        photo_session().clear()
        st.rerun()


def main() -> None:
    options = settings()
    st.title("Emotions in photos")
    st.write("Every face is found, cropped and classified into " + ", ".join(EMOTIONS) + ". Photos stay in "
             "this browser session's memory and are never stored.")
    photos = photo_session()
    add_photos(photos)
    for message in st.session_state.pop("refused", []):
        st.warning(message)
    if not len(photos):
        st.info("Add a photo, or click a sample above to start.")
        return
    classifier = classifier_or_notice()
    if classifier is None:
        return
    st.caption(head_caption(classifier))
    results = []
    with st.spinner("Analysing ..."):
        for key in photos.keys():
            try:
                results.append(photos.result(key, **options, classifier=classifier))
            except Exception:  # one bad file never takes the page down
                from fer_app.report import ImageResult

                results.append(ImageResult(key[0], error=f"{key[0]} could not be analysed; try another photo"))
    overview(photos, results)
    downloads(results)
    explain = st.toggle("Explain: show which parts of each face drove its emotion", key="explain")
    st.divider()
    for n, (key, r) in enumerate(zip(photos.keys(), results)):
        details(r, str(n), photos.data(key) if explain else None)
        st.divider()


main()
