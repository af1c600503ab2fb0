"""Calibrate each detector's crop framing so crops look like FER-2013's faces.

    python -m benchmarks.calibrate_crop --data ../shared/fer2013 [--n 700] [--detectors mtcnn haar]

Method: validation faces (carved from train; the test split is not used) are enlarged 3x and pasted
into a larger canvas (edges replicated, so there is no frame to find). Each detector runs on the
canvas; where it finds the face we know the true FER crop box, so we report

* the geometric fit: median of (true side / detector box side) and of the vertical offset of the
  true centre (in true sides), and
* the accuracy of the shipped classifier on crops made with a grid of (scale, shift) values,

and recommend the (scale, shift) with the best accuracy. Results go to docs/crop_calibration.md by hand.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from fer_app.defaults import PHOTO_MIN_FACE

UPSCALE, CANVAS = 3, 400


def embed(face48: np.ndarray, rng) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    import cv2

    side = 48 * UPSCALE
    face = cv2.resize(face48, (side, side), interpolation=cv2.INTER_CUBIC)
    x0, y0 = rng.integers(40, CANVAS - side - 40, 2)
    canvas = cv2.copyMakeBorder(face, int(y0), int(CANVAS - side - y0), int(x0), int(CANVAS - side - x0),
                                cv2.BORDER_REPLICATE)
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2RGB), (int(x0), int(y0), side, side)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model", default=None)
    p.add_argument("--n", type=int, default=700)
    p.add_argument("--detectors", nargs="+", default=["mtcnn", "haar"])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from fer_app.faces import crop_face, get_detector
    from fer_app.model import EmotionClassifier
    from training.data import load_model_split

    clf = EmotionClassifier(model_path=args.model) if args.model else EmotionClassifier()
    val = load_model_split(args.data, "val", clf.config.get("settings", {}))
    rng = np.random.default_rng(args.seed)
    idx = rng.choice(len(val), min(args.n, len(val)), replace=False)
    scales = [0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4]
    shifts = [-0.1, -0.05, 0.0, 0.05, 0.1]
    reference = float((clf.predict_prepared(val.x[idx, :, :, None]).argmax(1) == val.y[idx]).mean())
    report = {"n": len(idx), "accuracy_on_true_crops": round(reference, 4), "detectors": {}}
    for name in args.detectors:
        det = get_detector(name)
        found = []
        for i in idx:
            canvas, true = embed(val.x[i], rng)
            d = det.detect(canvas, min_face=PHOTO_MIN_FACE)
            if d:
                best = max(d, key=lambda x: x.score)
                found.append((i, canvas, true, best))
        ratios = [t[2] / max(b.box[2], b.box[3]) for _, _, t, b in found]
        offsets = [((t[1] + t[3] / 2) - (b.box[1] + b.box[3] / 2)) / t[3] for _, _, t, b in found]
        grid = {}
        for sc in scales:
            for sh in shifts:
                crops = [crop_face(c, b, scale=sc, shift=sh, level=False) for _, c, _, b in found]
                pred = clf.predict_proba(crops).argmax(1)
                grid[f"{sc:.2f},{sh:+.2f}"] = float((pred == val.y[[i for i, *_ in found]]).mean())
        best_key = max(grid, key=grid.get)
        report["detectors"][name] = {
            "detected": len(found), "detection_rate": round(len(found) / len(idx), 4),
            "geometric_scale": round(float(np.median(ratios)), 3) if ratios else None,
            "geometric_shift": round(float(np.median(offsets)), 3) if offsets else None,
            "accuracy_by_scale_shift": {k: round(v, 4) for k, v in grid.items()},
            "best": {"scale": float(best_key.split(",")[0]), "shift": float(best_key.split(",")[1]),
                     "accuracy": round(grid[best_key], 4)},
        }
        print(json.dumps({name: {k: v for k, v in report["detectors"][name].items() if k != "accuracy_by_scale_shift"}}),
              flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
