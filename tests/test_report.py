"""fer_app.report: uploads analysed in memory, kept between reruns of the page, and the CSV / JSON downloads."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from fer_app.draw import png_bytes
from conftest import needs_shipped_model

skdata = pytest.importorskip("skimage.data")
pytestmark = needs_shipped_model


@pytest.fixture(scope="module")
def classifier():
    from fer_app.model import load_classifier

    return load_classifier()


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    return png_bytes(skdata.astronaut())


def test_photo_session_keeps_photos_in_order_and_reuses_results_until_a_setting_changes(classifier, astronaut):
    from fer_app.report import PhotoSession

    photos = PhotoSession()
    a = photos.add("a.png", astronaut)
    assert photos.add("a.png", astronaut) == a and len(photos) == 1  # the same photo twice is one photo
    b = photos.add("b.png", png_bytes(skdata.coffee()))
    assert photos.keys() == [a, b] and photos.data(a) == astronaut
    first = photos.result(a, "haar", 20, False, classifier)
    assert first.error is None and len(first.faces) == 1 and photos.analysed == 1
    assert photos.result(a, "haar", 20, False, classifier) is first and photos.analysed == 1
    with_tta = photos.result(a, "haar", 20, True, classifier)  # another setting: analysed again
    assert with_tta is not first and photos.analysed == 2
    assert with_tta.faces[0].box == first.faces[0].box
    assert with_tta.faces[0].probabilities != first.faces[0].probabilities
    photos.remove(a)
    assert photos.keys() == [b]
    photos.clear()
    assert len(photos) == 0


def test_display_copies_are_small_and_the_boxes_stay_in_full_image_pixels(classifier):
    from fer_app.report import DISPLAY_MAX_SIDE, analyze_upload

    big = np.kron(skdata.astronaut(), np.ones((5, 5, 1), np.uint8))  # 2560 x 2560
    r = analyze_upload("big.png", png_bytes(big), "haar", 40, False, classifier)
    assert max(r.annotated.shape[:2]) == DISPLAY_MAX_SIDE
    x, y, w, h = r.faces[0].box
    assert 800 < x < 1000 and w > 400  # her face, in the 2560 px image's pixels


def test_a_bad_upload_is_a_result_with_a_message_not_an_exception(classifier):
    from fer_app.report import analyze_upload

    r = analyze_upload("notes.png", b"this is not an image", "haar", classifier=classifier)
    assert r.faces == [] and r.annotated is None and "notes.png is not a readable image" in r.error


def test_csv_and_json_downloads_have_a_row_per_face_and_per_failed_file(classifier, astronaut):
    from fer_app.labels import EMOTIONS
    from fer_app.report import analyze_upload, results_csv, results_json

    results = [analyze_upload(name, data, "haar", classifier=classifier)
               for name, data in [("astro.png", astronaut), ("bad.png", b"nope"),
                                  ("cup.png", png_bytes(skdata.coffee()))]]
    rows = list(csv.DictReader(io.StringIO(results_csv(results))))
    assert [r["image"] for r in rows] == ["astro.png", "bad.png", "cup.png"]
    face, bad, cup = rows
    face_obj = results[0].faces[0]
    assert face["face"] == "1" and face["emotion"] == face_obj.emotion and face["error"] == ""
    assert [int(face[k]) for k in "xywh"] == list(face_obj.box)
    assert abs(sum(float(face[e]) for e in EMOTIONS) - 1) < 1e-3
    assert "not a readable image" in bad["error"] and cup["error"] == "no face found"
    records = json.loads(results_json(results))
    assert [r["image"] for r in records] == ["astro.png", "bad.png", "cup.png"]
    assert records[0]["faces"][0]["emotion"] == face_obj.emotion and records[0]["error"] is None
    assert records[1]["faces"] == [] and records[1]["error"] and records[2]["error"] is None
