"""The Streamlit app through streamlit.testing.v1.AppTest: every page, the photo flow, navigation, failures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_app.draw import png_bytes
from conftest import MODELS, ROOT, needs_shipped_model

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

skdata = pytest.importorskip("skimage.data")
APP = str(ROOT / "streamlit_app.py")
INTERNALS = ("Error:", "0x", "<_io", "Traceback", "Exception")


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=180)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "warning", "info", "error", "caption", "subheader") for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


def upload(at: AppTest, files) -> AppTest:
    uploader = next(u for u in at.get("file_uploader") if str(u.key).startswith("uploads_"))
    return uploader.set_value(files).run()


@needs_shipped_model
def test_photos_page_starts_with_an_invitation_and_only_photo_settings():
    at = app().run()
    no_exceptions(at)
    assert at.title[0].value == "Emotions in photos"
    assert any("Add a photo" in i.value for i in at.info)
    assert [s.label for s in at.sidebar.slider] == ["Minimum face size (px)"]  # no webcam sliders here
    assert [b.label for b in at.button][:3] == ["Astronaut", "Grace Hopper", "Cameraman"]


@needs_shipped_model
def test_a_sample_photo_gives_a_result_in_one_click():
    at = app().run()
    at.button(key="sample_astronaut.jpg").click().run()
    no_exceptions(at)
    assert any(m.value.startswith("**Face #1: happy**") for m in at.markdown)
    assert "astronaut.jpg" in page_text(at) and "1 face" in page_text(at)


@needs_shipped_model
def test_explain_shows_each_face_the_crop_its_map_and_a_reading_for_a_chosen_emotion():
    at = app().run()
    at.button(key="sample_astronaut.jpg").click().run()
    at.toggle(key="explain").set_value(True).run()
    no_exceptions(at)
    selector = next(b for b in at.selectbox if b.label == "Face #1: explain which emotion?")
    assert selector.value == "happy"
    readings = [m.value for m in at.markdown if "happy" in m.value and ("mostly" in m.value or "spread" in m.value)]
    assert readings, [m.value for m in at.markdown]
    selector.set_value("sad").run()  # "why not sad?"
    no_exceptions(at)
    assert any("sad" in m.value and ("mostly" in m.value or "spread" in m.value) for m in at.markdown)


@needs_shipped_model
def test_batch_overview_details_and_a_plain_message_for_a_broken_file():
    at = app().run()
    tiled = np.hstack([skdata.astronaut(), skdata.astronaut()[:, ::-1]])
    upload(at, [("astronauts.png", png_bytes(tiled), "image/png"),
                ("bad.jpg", b"this is not an image", "image/jpeg"),
                ("coffee.png", png_bytes(skdata.coffee()), "image/png")])
    no_exceptions(at)
    text = page_text(at)
    assert "Overview: 3 photos" in text
    assert "**astronauts.png** · 2 faces · #1 " in text  # one overview row per photo, faces and emotions
    assert "bad.jpg is not a readable image; use JPEG, PNG, WebP, BMP or TIFF" in text
    assert not any(s in text for s in INTERNALS)
    assert sum(m.value.startswith("**Face #") for m in at.markdown) == 2  # the good photos still show
    assert any("No face found in coffee.png" in i.value for i in at.info)
    labels = [b.label for b in at.get("download_button")]
    assert "Download all results (CSV)" in labels and "Download annotated image (PNG)" in labels


@needs_shipped_model
def test_results_survive_a_page_switch_and_unrelated_settings_until_a_photo_setting_changes():
    at = app().run()
    upload(at, [("astronaut.png", png_bytes(skdata.astronaut()), "image/png"),
                ("coffee.png", png_bytes(skdata.coffee()), "image/png")])
    photos = at.session_state["photos"]
    assert photos.analysed == 2 and len(photos) == 2
    at.switch_page("app_pages/model.py").run()
    no_exceptions(at)
    at.switch_page("app_pages/webcam.py").run()
    at.sidebar.slider(key="smoothing").set_value(0.3).run()  # a webcam setting
    at.switch_page("app_pages/photos.py").run()
    no_exceptions(at)
    assert photos.analysed == 2 and "Overview: 2 photos" in page_text(at)
    assert sum(m.value.startswith("**Face #") for m in at.markdown) == 1
    assert at.session_state["smoothing"] == 0.3  # the webcam setting kept its value too
    at.sidebar.checkbox(key="tta").set_value(False).run()  # a photo setting: both analysed again
    no_exceptions(at)
    assert photos.analysed == 4 and len(photos) == 2
    at.button(key=f"remove_{photos.keys()[0][1]}").click().run()
    assert len(photos) == 1 and "Overview: 1 photo" in page_text(at)


@needs_shipped_model
def test_model_page_for_examiners():
    at = app()
    at.switch_page("app_pages/model.py").run()
    no_exceptions(at)
    text = page_text(at)
    assert "**What it is.**" in text and "**Limits.**" in text
    shipped = json.loads((MODELS / "metrics.json").read_text())["accuracy"]  # FER-2013's labels (its head)
    assert any(m.label.startswith("Test accuracy") and m.value == f"{shipped * 100:.1f}%" for m in at.metric)
    headers = [h.value for h in at.header]
    assert "Training history" in headers and "Test-set results" in headers
    assert "Test faces: right answers and most confident mistakes" in headers
    assert not any(s in text for s in ("m24v2", "soup24v2", "issue #", "plan v"))  # no research log here


@needs_shipped_model
def test_webcam_page_renders_without_a_server_runtime_with_its_own_settings():
    at = app()
    at.switch_page("app_pages/webcam.py").run()
    no_exceptions(at)
    assert at.title[0].value == "Live webcam"
    assert [s.label for s in at.sidebar.slider] == ["Smoothing", "Find faces every N frames"]


def test_missing_model_gives_a_notice_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_MODEL_DIR", str(tmp_path))
    at = app().run()
    at.button(key="sample_astronaut.jpg").click().run()
    no_exceptions(at)
    assert any("could not be loaded" in e.value for e in at.error)
    at.switch_page("app_pages/model.py").run()
    no_exceptions(at)
    assert any("No model found" in e.value for e in at.error)
