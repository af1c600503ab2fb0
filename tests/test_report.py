"""fer_app.report: uploads analysed in memory, kept between reruns of the page, and the CSV / JSON downloads."""

from __future__ import annotations

import csv
import io
import json

import pytest
from PIL import Image

from conftest import needs_shipped_model

skdata = pytest.importorskip("skimage.data")
pytestmark = needs_shipped_model


def png_bytes(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def classifier():
    from fer_app.model import load_classifier

    return load_classifier()


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    return png_bytes(skdata.astronaut())


def test_upload_results_reuse_a_result_only_for_the_same_file_and_settings(classifier, astronaut):
    from fer_app.report import UploadResults

    cache = UploadResults()
    first = cache.analyze("a.png", astronaut, "haar", 20, False, classifier)
    assert first.error is None and len(first.faces) == 1 and cache.analysed == 1
    assert cache.analyze("a.png", astronaut, "haar", 20, False, classifier) is first and cache.analysed == 1
    # another setting, another name or other bytes: analysed again
    with_tta = cache.analyze("a.png", astronaut, "haar", 20, True, classifier)
    assert with_tta is not first and cache.analysed == 2
    assert with_tta.faces[0].box == first.faces[0].box
    assert with_tta.faces[0].probabilities != first.faces[0].probabilities
    mirrored = png_bytes(skdata.astronaut()[:, ::-1])
    cache.analyze("a.png", mirrored, "haar", 20, False, classifier)
    cache.analyze("b.png", astronaut, "haar", 20, False, classifier)
    assert cache.analysed == 4 and len(cache) == 4
    # only the files still on the page are kept
    cache.keep([UploadResults.key("a.png", astronaut, "haar", 20, False)])
    assert len(cache) == 1
    assert cache.analyze("a.png", astronaut, "haar", 20, False, classifier) is first and cache.analysed == 4


def test_a_bad_upload_is_a_result_with_a_message_not_an_exception(classifier):
    from fer_app.report import analyze_upload

    r = analyze_upload("notes.png", b"this is not an image", "haar", classifier=classifier)
    assert r.faces == [] and r.image is None and "notes.png: not a readable image" in r.error


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
