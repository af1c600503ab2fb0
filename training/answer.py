"""Fit the priors of a two-head model's heads on validation faces and make a combined answer the app's.

    python -m training.answer --model models --data FER2013 --weights crowd=0.5,fer2013=0.5 --prior-power 1

Writes the answer into the model's ``config.json`` (``heads[NAME]``, see :mod:`fer_app.answers`) and makes it the
``app_head``, so the Photos page, the webcam, the video path and ``fer predict`` all report it. Which weights and
power: ``docs/real_faces.md`` (chosen by plan v20 on real faces; ``python -m benchmarks.real_faces``). The priors
are the mean of each head's calibrated 10-view probabilities over the validation split (carved from train), so no
test face and no real photograph enters them. TensorFlow is not needed (LiteRT runs the model).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fer_app import answers
from fer_app.model import EmotionClassifier, ModelLoadError
from training.data import DatasetError, load_model_split


def head_priors(head_probs: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """{head: the mean of its probabilities over the faces}: the prior each head learned."""
    return {head: [round(float(v), 6) for v in probs.mean(axis=0)] for head, probs in head_probs.items()}


def validation_head_probs(clf: EmotionClassifier, data, cache_dir=None):
    """(validation split, {head: calibrated 10-view probabilities}) of the model's network heads."""
    val = load_model_split(data, "val", clf.config.get("settings", {}), cache_dir)
    return val, clf.predict_heads(val.x[..., None], tta=True)


def answer_spec(weights: dict[str, float], prior_power: float, priors: dict[str, list[float]]) -> dict:
    spec = {answers.COMBINE: weights, answers.PRIOR_POWER: prior_power}
    if prior_power:
        spec[answers.PRIORS] = {head: priors[head] for head in weights}
    return spec


def parse_weights(text: str) -> dict[str, float]:
    try:
        pairs = [part.split("=") for part in text.split(",")]
        return {name.strip(): float(value) for name, value in pairs}
    except ValueError:
        raise SystemExit(f"--weights {text!r}: write HEAD=WEIGHT pairs, for example crowd=0.5,fer2013=0.5") from None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.answer", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="models", help="model folder whose config.json gets the answer")
    p.add_argument("--data", required=True, help="FER-2013 (Kaggle folders or fer2013.csv): its validation split")
    p.add_argument("--weights", default="crowd=0.5,fer2013=0.5", type=parse_weights)
    p.add_argument("--prior-power", type=float, default=1.0)
    p.add_argument("--name", default="answer", help="the answer's name among the heads")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--verbose", action="store_true", help="accepted for the recipe's steps; LiteRT needs no TensorFlow")
    args = p.parse_args(argv)
    try:
        clf = EmotionClassifier(args.model, backend="tflite")
        unknown = set(args.weights) - set(clf.network_heads)
        if unknown:
            raise SystemExit(f"--weights names {', '.join(sorted(unknown))}, but the model's heads are "
                             f"{', '.join(clf.network_heads)}")
        _, probs = validation_head_probs(clf, args.data, args.cache_dir)
    except (ModelLoadError, DatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    config_path = Path(clf.model_dir) / "config.json"
    config = json.loads(config_path.read_text())
    config["heads"][args.name] = answer_spec(args.weights, args.prior_power, head_priors(probs))
    config["app_head"] = args.name
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"{config_path}: the app's answer is now {args.name!r}: {json.dumps(config['heads'][args.name])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
