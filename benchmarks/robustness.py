"""Accuracy under pixel-statistics changes (issue: users' photos are not histogram-equalised).

    python -m benchmarks.robustness --data ../shared/fer2013 [--model models] [--tta] [--head fer2013]

Every test face gets a random gamma in [0.6, 1.6] and a random contrast factor in [0.6, 1.4]
(about mid-grey), then goes through the normal preprocessing; the accuracy is compared with the
clean figure. Prints one JSON object; docs/robustness.md records the result.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def perturb(face: np.ndarray, gamma: float, contrast: float) -> np.ndarray:
    x = 255.0 * (face / 255.0) ** gamma
    x = 127.5 + contrast * (x - 127.5)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model", default=None)
    p.add_argument("--split", default="test")
    p.add_argument("--tta", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--head", default="fer2013",
                   help="the head judged against FER-2013's labels (a two-head model's app head is the crowd's)")
    args = p.parse_args()
    from fer_app.model import EmotionClassifier
    from fer_app.preprocess import normalize_face
    from training.data import load_model_split
    from training.evaluate import evaluate

    clf = (EmotionClassifier(model_path=args.model) if args.model else EmotionClassifier()).with_head(args.head)
    split = load_model_split(args.data, args.split, clf.config.get("settings", {}))
    rng = np.random.default_rng(args.seed)
    gammas = rng.uniform(0.6, 1.6, len(split))
    contrasts = rng.uniform(0.6, 1.4, len(split))
    changed = np.stack([normalize_face(perturb(f, g, c)) for f, g, c in zip(split.x, gammas, contrasts)])
    # without equalisation the same changes would reach the model as they are: measured for contrast
    unequalised = np.stack([perturb(f, g, c) for f, g, c in zip(split.x, gammas, contrasts)])
    clean = evaluate(clf, split.x, split.y, args.tta)
    pert = evaluate(clf, changed, split.y, args.tta)
    raw = evaluate(clf, unequalised, split.y, args.tta)
    print(json.dumps({
        "model": str(clf.path), "head": clf.head, "split": args.split, "n": len(split), "tta": args.tta,
        "clean_accuracy": round(clean["accuracy"], 4),
        "perturbed_accuracy": round(pert["accuracy"], 4),
        "drop_points": round(100 * (clean["accuracy"] - pert["accuracy"]), 2),
        "perturbed_without_equalisation_accuracy": round(raw["accuracy"], 4),
    }))


if __name__ == "__main__":
    main()
