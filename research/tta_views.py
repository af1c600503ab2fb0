"""Which test-time views help? Accuracy on the *validation* split for several TTA view sets.

    python -m research.tta_views --data ../shared/fer2013 [--model models]

Chooses the TTA the app uses (``fer_app.preprocess.TTA_SHIFTS``) without touching the test split:
each set averages the model's softmax over its views (every shift, each also mirrored).
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fer_app.model import EmotionClassifier
from training.data import load_model_split

VIEW_SETS = {
    "none": None,
    "flip": ((0, 0),),
    "flip x 4 axis shifts of 2 px": ((0, 0), (-2, 0), (2, 0), (0, -2), (0, 2)),
    "flip x 4 axis shifts of 1 px": ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)),
    "flip x 4 diagonal shifts of 1 px": ((0, 0), (-1, -1), (1, 1), (-1, 1), (1, -1)),
    "flip x 4 diagonal shifts of 2 px": ((0, 0), (-2, -2), (2, 2), (-2, 2), (2, -2)),
}


def classifier_and_val(description: str):
    """``--data`` and ``--model`` from the command line -> (the classifier, its model's validation split)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="models")
    args = p.parse_args()
    clf = EmotionClassifier(args.model)
    return clf, load_model_split(args.data, "val", clf.config.get("settings", {}))


def main() -> None:
    clf, val = classifier_and_val(__doc__.split("\n")[0])
    rows = {}
    for name, shifts in VIEW_SETS.items():
        probs = clf.predict_raw(val.x) if shifts is None else clf.predict_raw_tta(val.x, shifts)
        rows[name] = round(float((probs.argmax(1) == val.y).mean()), 4)
        print(f"{name:<36} views {1 if shifts is None else 2 * len(shifts):>2}  val accuracy {rows[name]:.4f}")
    print(json.dumps({"model": str(clf.path), "split": "val", "n": len(val), "accuracy": rows}))


if __name__ == "__main__":
    main()
