"""The Streamlit app through streamlit.testing.v1.AppTest: every page, the upload flow, failures."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, needs_shipped_model

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

skdata = pytest.importorskip("skimage.data")
APP = str(ROOT / "streamlit_app.py")


def png_bytes(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=180)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


@needs_shipped_model
def test_photos_page_starts_with_an_invitation():
    at = app().run()
    no_exceptions(at)
    assert at.title[0].value == "Emotions in photos"
    assert any("Upload a photo" in i.value for i in at.info)
    assert [s.label for s in at.sidebar.slider][:1] == ["Minimum face size (px)"]


@needs_shipped_model
def test_upload_flow_shows_annotated_image_chart_numbers_and_downloads():
    at = app().run()
    tiled = np.hstack([skdata.astronaut(), skdata.astronaut()[:, ::-1]])
    at.file_uploader(key="uploads").set_value([
        ("astronauts.png", png_bytes(tiled), "image/png"),
        ("notes.png", b"this is not an image", "image/png"),
        ("coffee.png", png_bytes(skdata.coffee()), "image/png"),
    ]).run()
    no_exceptions(at)
    faces = [m.value for m in at.markdown if m.value.startswith("**Face #")]
    assert len(faces) == 2  # two astronauts, one chart each
    assert any("could not read" in w.value.lower() for w in at.warning)  # the bad file, politely
    assert any("No face found" in i.value for i in at.info)  # the coffee cup
    assert [s.value for s in at.subheader] == ["astronauts.png", "notes.png", "coffee.png"]
    labels = [b.label for b in at.get("download_button")]
    assert "Download all results (CSV)" in labels and "Download all results (JSON)" in labels
    assert "Download annotated image (PNG)" in labels
    assert len(at.get("arrow_vega_lite_chart")) >= 2 or len(at.get("vega_lite_chart")) >= 2


@needs_shipped_model
def test_reruns_reuse_the_analysed_uploads_until_a_photo_setting_changes():
    at = app().run()
    at.file_uploader(key="uploads").set_value([
        ("astronaut.png", png_bytes(skdata.astronaut()), "image/png"),
        ("coffee.png", png_bytes(skdata.coffee()), "image/png"),
    ]).run()
    no_exceptions(at)
    cache = at.session_state["photo_results"]
    assert cache.analysed == 2 and len(cache) == 2
    at.sidebar.slider(key="smoothing").set_value(0.3).run()  # a webcam setting: nothing to redo
    no_exceptions(at)
    assert cache.analysed == 2
    assert sum(m.value.startswith("**Face #") for m in at.markdown) == 1
    at.sidebar.checkbox(key="tta").set_value(False).run()  # a photo setting: both analysed again
    no_exceptions(at)
    assert cache.analysed == 4 and len(cache) == 2  # the results for the old setting are dropped


@needs_shipped_model
def test_model_page_shows_history_confusion_metrics_and_card():
    at = app().run()
    at.sidebar.radio(key="page").set_value("Model").run()
    no_exceptions(at)
    headers = [h.value for h in at.header]
    assert "Training history" in headers and "Test-set results" in headers
    assert any(m.label == "Test accuracy" for m in at.metric)


@needs_shipped_model
def test_webcam_page_renders_without_a_server_runtime():
    at = app().run()
    at.sidebar.radio(key="page").set_value("Live webcam").run()
    no_exceptions(at)
    assert at.title[0].value == "Live webcam"


def test_missing_model_gives_a_notice_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_MODEL_DIR", str(tmp_path))
    at = app().run()
    at.file_uploader(key="uploads").set_value(("a.png", png_bytes(skdata.astronaut()), "image/png")).run()
    no_exceptions(at)
    assert any("could not be loaded" in e.value for e in at.error)
    at.sidebar.radio(key="page").set_value("Model").run()
    no_exceptions(at)
    assert any("No model found" in e.value for e in at.error)
