"""What would an ensemble give? Averages the TTA softmax of several trained models.

    python -m research.ensemble --data ../shared/fer2013 --models models runs/b48 [runs/...]

Prints validation accuracy, and test accuracy and macro-F1, for every model alone and for the equal-weight
average of all of them. Not used to choose anything: it answers "how much would shipping an ensemble
(or distilling one) be worth", for docs/research/experiments.md.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from fer_app.model import EmotionClassifier
from training.data import load_model_split
from training.evaluate import classification_metrics


def scores(probs: np.ndarray, y: np.ndarray) -> dict:
    m = classification_metrics(y, probs.argmax(axis=1))
    return {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--models", nargs="+", required=True, help="model directories (config.json + model file)")
    args = p.parse_args()
    classifiers = {d: EmotionClassifier(d) for d in args.models}
    settings = [c.config.get("settings", {}) for c in classifiers.values()]
    splits = {(s.get("val_fraction", 0.1), s.get("seed", 0)) for s in settings}
    if len(splits) > 1:
        raise SystemExit(f"the models were validated on different splits {sorted(splits)}: "
                         "a val figure would include some models' training images")
    val = load_model_split(args.data, "val", settings[0])
    test = load_model_split(args.data, "test", settings[0])
    val_probs, test_probs, rows = [], [], {}
    for d, clf in classifiers.items():
        val_probs.append(clf.predict_raw_tta(val.x))
        test_probs.append(clf.predict_raw_tta(test.x))
        rows[d] = {"val": scores(val_probs[-1], val.y), "test": scores(test_probs[-1], test.y)}
    rows["ensemble (mean)"] = {"val": scores(np.mean(val_probs, axis=0), val.y),
                               "test": scores(np.mean(test_probs, axis=0), test.y)}
    for name, r in rows.items():
        print(f"{name:<20} val acc {r['val']['accuracy']:.4f}  test acc {r['test']['accuracy']:.4f}  "
              f"test macro-F1 {r['test']['macro_f1']:.4f}   (TTA)")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
