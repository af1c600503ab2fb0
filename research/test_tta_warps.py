"""research/tta_warps.py: its zoomed and rotated test-time views (a measured negative result)."""

from __future__ import annotations

import numpy as np
import pytest


def test_tta_warp_views_keep_the_identity_and_zoom_and_rotate_about_the_centre():
    """research/tta_warps.py's zoomed/rotated views (a measured negative result, docs/research/experiments.md)."""
    from research.tta_warps import warp_faces

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (3, 48, 48, 1), dtype=np.uint8)
    assert np.array_equal(warp_faces(faces, 0.0, 1.0), faces)
    dot = np.zeros((1, 48, 48), np.uint8)
    dot[0, 23:25, 33:35] = 255  # 10 px right of the centre (23.5, 23.5)

    def centre_x(img):
        w = img[0].astype(float)
        return (w.sum(0) * np.arange(48)).sum() / w.sum()

    assert centre_x(warp_faces(dot, 0.0, 1.06)) == pytest.approx(23.5 + 10 * 1.06, abs=0.15)
    assert centre_x(warp_faces(dot, 0.0, 0.94)) == pytest.approx(23.5 + 10 * 0.94, abs=0.15)
    turned = warp_faces(dot, 90.0, 1.0)[0]  # counter-clockwise: right of centre goes above it
    row, col = np.unravel_index(turned.argmax(), turned.shape)
    assert row < 20 and 21 <= col <= 26
