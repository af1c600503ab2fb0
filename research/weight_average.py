"""Can fine-tuned models be averaged into one ("model soup")? Validation accuracy only, no TTA.

    python -m research.weight_average --data ../shared/fer2013 --models runs/m96 runs/s96

The members must share the architecture and the validation split (``training.soup.member_configs``).
Prints the validation accuracy (single view) of each member, of the element-wise mean of their weights
(BatchNorm statistics averaged too) and of that mean after ``training.soup.reestimate_batchnorm`` (the
exact mean over 50 clean training batches), the same two functions ``python -m training.soup`` ships
with. One member (``--models A A``) measures BatchNorm re-estimation alone. ``--first-weight W ...``
(two members) also tries weighted means, W on the first member and 1 - W on the second, each with its
BatchNorm statistics re-estimated and also scored with flip TTA (the face and its mirror image). A soup
ships at a single model's size; an ensemble (``research/ensemble.py``) multiplies it.

Until commit 98c23b8 this script had its own BatchNorm update (a running average with momentum 0.9 over
50 batches); the ``m96`` + ``r96`` figures in ``docs/research/experiments.md`` come from that version.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from fer_app.preprocess import mean_over_views, tta_views
from training.data import load_model_split
from training.soup import average_weights, load_member, member_configs, reestimate_batchnorm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--bn-batches", type=int, default=50)
    p.add_argument("--first-weight", type=float, nargs="*", default=[],
                   help="weighted means to try (two members): weight of the first member")
    args = p.parse_args()
    if args.first_weight and len(args.models) != 2:
        p.error("--first-weight needs exactly two --models")
    members = [Path(m) for m in args.models]
    settings = member_configs(members)[-1]["settings"]
    val, train = (load_model_split(args.data, name, settings) for name in ("val", "train"))
    x = val.x[..., None].astype(np.float32)
    models = [load_member(m) for m in members]
    originals = [m.get_weights() for m in models]  # models[0] becomes the soup

    def acc(m, flip: bool = False) -> float:
        views = tta_views(x, ((0, 0),)) if flip else x  # the app's TTA views with no shift: face, mirror
        probs = m.predict(views, batch_size=64, verbose=0)
        probs = mean_over_views(probs, len(x)) if flip else probs
        return round(float((probs.argmax(1) == val.y).mean()), 4)

    result = {str(m): acc(model) for m, model in zip(members, models)}
    soup = models[0]
    soup.set_weights(average_weights(models))
    result["average"] = acc(soup)
    reestimate_batchnorm(soup, train, args.bn_batches)
    result["average, BatchNorm re-estimated"] = acc(soup)
    if args.first_weight:
        result["average, BatchNorm re-estimated, flip"] = acc(soup, flip=True)
        for w in args.first_weight:
            for model, weights in zip(models, originals):  # restore models[0], the soup, to its member
                model.set_weights(weights)
            soup.set_weights(average_weights(models, [w, 1.0 - w]))
            reestimate_batchnorm(soup, train, args.bn_batches)
            result[f"{w:g} x first, BatchNorm re-estimated"] = acc(soup)
            result[f"{w:g} x first, BatchNorm re-estimated, flip"] = acc(soup, flip=True)
    for k, v in result.items():
        print(f"{k:<44} val accuracy {v:.4f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
