"""Face detection and cropping on real photographs (scikit-image's astronaut, ../shared/photos)."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from conftest import SHARED_PHOTOS, needs_photos
from fer_app.faces import Detection, crop_face, get_detector
from fer_app.io import load_image

skdata = pytest.importorskip("skimage.data")
ASTRONAUT_FACE = (180, 65, 90, 100)  # x, y, w, h of her face, by eye


def astronaut():
    return skdata.astronaut()


def rotate(img, angle):
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def centre_in(det: Detection, box, tol=0.5) -> bool:
    x, y, w, h = det.box
    bx, by, bw, bh = box
    cx, cy = x + w / 2, y + h / 2
    return abs(cx - (bx + bw / 2)) < tol * bw and abs(cy - (by + bh / 2)) < tol * bh


@pytest.mark.parametrize("name", ["mtcnn", "haar"])
def test_finds_the_one_face_in_a_photo(name):
    dets = get_detector(name).detect(astronaut())
    assert len(dets) == 1 and centre_in(dets[0], ASTRONAUT_FACE)
    assert 0.5 < dets[0].score <= 1.0


@pytest.mark.parametrize("name,options", [("mtcnn", {}), ("haar", {"angles": (0, -25, 25)})])
@pytest.mark.parametrize("angle", [-30, 30])
def test_finds_faces_tilted_30_degrees_and_reports_the_roll(name, options, angle):
    img = rotate(astronaut(), angle)
    dets = get_detector(name).detect(img, **options)
    assert len(dets) >= 1
    best = max(dets, key=lambda d: d.score)
    assert np.sign(best.angle) == np.sign(angle) and abs(best.angle) >= 15


@pytest.mark.parametrize("name", ["mtcnn", "haar"])
def test_finds_a_40px_face(name):
    img = cv2.resize(astronaut(), None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)  # face ~40 px
    dets = get_detector(name).detect(img, min_face=30)
    assert len(dets) == 1 and 30 <= dets[0].box[2] <= 60


@pytest.mark.parametrize("name", ["mtcnn", "haar"])
def test_finds_every_face_in_a_tiled_group(name):
    a = cv2.resize(astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    tiled = np.vstack([np.hstack([a, a[:, ::-1], a]), np.hstack([a[:, ::-1], a, a[:, ::-1]])])
    dets = get_detector(name).detect(np.ascontiguousarray(tiled))
    assert len(dets) == 6


@pytest.mark.parametrize("name", ["mtcnn", "haar"])
def test_nothing_on_blank_noise_and_landscape(name):
    rng = np.random.default_rng(0)
    det = get_detector(name)
    assert det.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert det.detect(np.full((480, 640, 3), 255, np.uint8)) == []
    assert det.detect(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) == []
    assert det.detect(skdata.coffee()) == []


def test_crop_is_square_levelled_and_clamped_at_the_border():
    img = astronaut()
    det = get_detector("mtcnn").detect(rotate(img, 30))[0]
    crop = crop_face(rotate(img, 30), det)
    assert crop.shape[0] == crop.shape[1] and crop.shape[2] == 3
    # levelled: the eyes (darkest horizontal band in the upper half) are roughly horizontal ->
    # the crop of the rotated photo resembles the crop of the upright one
    upright = crop_face(img, get_detector("mtcnn").detect(img)[0])
    a = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (48, 48)).astype(float)
    b = cv2.resize(cv2.cvtColor(upright, cv2.COLOR_RGB2GRAY), (48, 48)).astype(float)
    unlevelled = cv2.resize(cv2.cvtColor(crop_face(rotate(img, 30), det, level=False), cv2.COLOR_RGB2GRAY), (48, 48)).astype(float)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > np.corrcoef(unlevelled.ravel(), b.ravel())[0, 1]
    # a box hanging over the edge still gives a full square crop
    edge = crop_face(img, Detection((-40, -30, 100, 100), 1.0, 0.0, "mtcnn"))
    assert edge.shape[:2] == (100, 100) or edge.shape[0] == edge.shape[1]


def _labels():
    with open(SHARED_PHOTOS / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def photo_detections() -> dict:
    """The photo default's detections on every shared photo, by file name (found once for the tests below)."""
    det = get_detector("mtcnn")
    return {row["filename"]: det.detect(load_image(SHARED_PHOTOS / row["filename"])) for row in _labels()}


@needs_photos
@pytest.mark.slow
def test_mtcnn_counts_faces_on_real_photographs(photo_detections):
    """The photo default: every single-face photo finds its face, busy groups within +-1,
    the no-face scenes find none (children_circle_rotated_6 has faces upside down: at least 4)."""
    misses = []
    for row in _labels():
        n = int(row["num_faces"])
        found = len(photo_detections[row["filename"]])
        if row["filename"] == "children_circle_rotated_6.jpg":
            ok = found >= 4
        elif n == 0:
            ok = found == 0
        elif n == 1:
            ok = 1 <= found <= 2
        else:
            ok = abs(found - n) <= 1
        if not ok:
            misses.append((row["filename"], n, found))
    assert not misses, misses


@needs_photos
@pytest.mark.slow
def test_photo_detector_finds_119_of_120_faces_none_on_empty_scenes_and_half_faces_at_the_border(photo_detections):
    """At least 119 of the 120 counted faces of the shared photos and none on the no-face scenes: a fixed bar, the
    figure the TensorFlow ``mtcnn`` package reached when the app used it (docs/detectors.md; that package is not
    installed here, so the test compares with the recorded figure, not with it); and faces cut through the middle
    by the image border in the group photos (benchmarks/detectors.py)."""
    from benchmarks.detectors import _clip, cut_cases, reference_faces
    from fer_app.faces import iou

    det, rows = get_detector("mtcnn"), _labels()
    found = false = 0
    for row in rows:
        n, k = int(row["num_faces"]), len(photo_detections[row["filename"]])
        found, false = found + min(n, k), false + (k if n == 0 else 0)
    assert found >= 119 and false == 0
    # the app's detector is the benchmark's reference (MTCNN, faces from 20 px): its detections are the reference's
    cases = [c for c in cut_cases(SHARED_PHOTOS, reference_faces(SHARED_PHOTOS, rows, photo_detections)) if c[2]]
    hits = sum(any(iou(_clip(d.box, img), visible) >= 0.3 for d in det.detect(np.ascontiguousarray(img)))
               for img, visible, _ in cases)
    # 167 of 168 (docs/detectors.md: the one miss is a face looking down, whose visible half is scalp and ear)
    assert len(cases) == 168 and hits >= 167, (hits, len(cases))
