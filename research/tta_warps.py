"""Do zoomed and rotated test-time views help beyond the app's 10 shifted/mirrored ones? Validation only.

    python -m research.tta_warps --data ../shared/fer2013 [--model models]

Training warps every face once (rotation +-10 deg, zoom +-10 %, shift +-10 %; ``training.data``), so
zoomed and rotated copies of a test face are views the model has learnt. Each distinct view of the
validation faces goes through the model once; the view sets below average the softmax over their views
(each view also mirrored) and are compared on the *validation* split, which chooses the app's TTA
(``fer_app.preprocess.TTA_SHIFTS``). The test split is not read.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fer_app.preprocess import TTA_SHIFTS
from research.tta_views import classifier_and_val

#: name -> (kind, parameters); every view is also used mirrored
VIEWS = {
    **{f"shift{dy:+d}{dx:+d}": ("shift", (dy, dx)) for dy, dx in TTA_SHIFTS},
    "zoom-in 6%": ("warp", (0.0, 1.06)),
    "zoom-out 6%": ("warp", (0.0, 0.94)),
    "rotate +6": ("warp", (6.0, 1.0)),
    "rotate -6": ("warp", (-6.0, 1.0)),
}
SHIFTS = [f"shift{dy:+d}{dx:+d}" for dy, dx in TTA_SHIFTS]
ZOOMS, ROTATIONS = ["zoom-in 6%", "zoom-out 6%"], ["rotate +6", "rotate -6"]
VIEW_SETS = {
    "app: 5 diagonal shifts (10 views)": SHIFTS,
    "5 shifts + 2 zooms (14)": SHIFTS + ZOOMS,
    "5 shifts + 2 rotations (14)": SHIFTS + ROTATIONS,
    "5 shifts + 2 zooms + 2 rotations (18)": SHIFTS + ZOOMS + ROTATIONS,
    "face + 2 zooms + 2 rotations (10)": SHIFTS[:1] + ZOOMS + ROTATIONS,
}


def warp_faces(x: np.ndarray, angle: float, zoom: float) -> np.ndarray:
    """Rotate (degrees, counter-clockwise) and zoom (> 1 magnifies) each face (N, H, W[, 1]) about its
    centre, the way ``training.data.augment_faces`` warps: bicubic, reflected borders."""
    import cv2

    faces = x[..., 0] if x.ndim == 4 else x
    h, w = faces.shape[1:3]
    m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), angle, zoom)
    out = np.stack([cv2.warpAffine(f, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
                    for f in faces])
    return out.reshape(x.shape)


def view_probs(clf, x: np.ndarray, kind: str, params) -> np.ndarray:
    """Mean softmax of one view and its mirror, through the app's own TTA path (``predict_raw_tta``)."""
    if kind == "shift":
        return clf.predict_raw_tta(x, (params,))
    return clf.predict_raw_tta(warp_faces(x, *params), ((0, 0),))


def main() -> None:
    clf, val = classifier_and_val(__doc__.split("\n")[0])
    x = val.x[..., None]
    t0 = time.time()
    probs = {name: view_probs(clf, x, kind, params) for name, (kind, params) in VIEWS.items()}
    rows = {}
    for set_name, names in VIEW_SETS.items():
        mean = sum(probs[n] for n in names)
        rows[set_name] = round(float((mean.argmax(1) == val.y).mean()), 4)
        print(f"{set_name:<40} val accuracy {rows[set_name]:.4f}")
    single = {n: round(float((probs[n].argmax(1) == val.y).mean()), 4) for n in VIEWS}
    print(json.dumps({"model": str(clf.path), "backend": clf.backend, "split": "val", "n": len(val),
                      "view_sets": rows, "each_view_with_mirror": single, "seconds": round(time.time() - t0)}))


if __name__ == "__main__":
    main()
