"""Annotated images: every emotion's box stands out on light and dark photos; labels grow with the image."""

from __future__ import annotations

import numpy as np
import pytest

from fer_app.draw import annotate
from fer_app.labels import EMOTIONS
from fer_app.pipeline import Face


def face(emotion: str, box=(40, 60, 100, 100)) -> Face:
    probs = {e: (0.9 if e == emotion else 0.1 / 6) for e in EMOTIONS}
    return Face(box, 1.0, probs, emotion)


@pytest.mark.parametrize("emotion", EMOTIONS)
@pytest.mark.parametrize("background", [0, 128, 255])
def test_every_emotion_box_has_a_dark_and_a_light_edge_on_any_background(emotion, background):
    img = np.full((300, 300, 3), background, np.uint8)
    out = annotate(img, [face(emotion)]).astype(int)
    edge = out[100, 35:50]  # a horizontal cut through the box's left side
    assert edge.min() < 40 and edge.max() > 215  # black outside, white inside: visible on light and dark


def test_labels_grow_with_the_image():
    def label_height(side: int) -> int:
        img = np.full((side, side, 3), 255, np.uint8)
        box = (side // 4, side // 3, side // 3, side // 3)
        out = annotate(img, [face("happy", box)])
        column = out[: box[1], box[0] + 3]  # the label sits above the box
        return int((np.abs(column.astype(int) - [44, 160, 44]).max(axis=1) < 30).sum())

    assert label_height(2400) > 3 * label_height(600)


def test_a_videos_person_numbers_label_its_faces_through_the_same_drawing():
    """The annotated video copy is drawn by fer_app.draw.annotate too, with each face's person number."""
    img = np.full((300, 400, 3), 128, np.uint8)
    faces = [face("happy", (40, 60, 100, 100)), face("sad", (220, 60, 100, 100))]
    numbered = annotate(img, faces, numbers=[7, 12])
    default = annotate(img, faces)
    assert not np.array_equal(numbered, default)  # "#7"/"#12" instead of "#1"/"#2"
    np.testing.assert_array_equal(annotate(img, faces, numbers=[1, 2]), default)
    assert np.array_equal(img, np.full((300, 400, 3), 128, np.uint8))  # the frame itself is left as it is
