"""Does the network do better at another input size at test time? Accuracy on the *validation* split.

    python -m research.resolution --data ../shared/fer2013 [--model models] [--sizes 88 96 104 112]

MobileNetV2 ends in global average pooling, so the same weights run at any input size; the 48 px face
is resized inside the model (``fer_app.preprocess.model_input_stage``), so only that layer's target size
changes. Training-time zoom or crop augmentation can make a somewhat larger test size pay off ("FixRes",
Touvron et al. 2019). Each size is evaluated single-view and with the app's TTA views; the last line
also averages the TTA softmaxes of the trained size and every other size (multi-scale TTA).
The test split is not read.
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
from training.model import build_model


def predict(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x, batch_size=64, verbose=0)


def predict_tta(model, x: np.ndarray) -> np.ndarray:
    return mean_over_views(predict(model, tta_views(x)), len(x))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="models")
    p.add_argument("--sizes", type=int, nargs="+", default=[88, 96, 104, 112])
    args = p.parse_args()
    import keras

    model_dir = Path(args.model)
    config = json.loads((model_dir / "config.json").read_text())
    s = config.get("settings", {})
    trained = int(s["img_size"])
    trained_model = keras.models.load_model(model_dir / "model.keras", compile=False)
    weights = trained_model.get_weights()
    val = load_model_split(args.data, "val", s)
    x = val.x.astype(np.float32)[..., None]
    rows, tta_probs = {}, {}
    for size in sorted(set(args.sizes) | {trained}):
        model = trained_model if size == trained else build_model(size, float(s.get("alpha", 1.0)))
        if model is not trained_model:
            model.set_weights(weights)
        single = float((predict(model, x).argmax(1) == val.y).mean())
        tta_probs[size] = predict_tta(model, x)
        tta = float((tta_probs[size].argmax(1) == val.y).mean())
        rows[size] = {"val_accuracy": round(single, 4), "val_accuracy_tta": round(tta, 4)}
        mark = " (trained size)" if size == trained else ""
        print(f"{size:>4} px  val accuracy {single:.4f}  with TTA {tta:.4f}{mark}", flush=True)
    multi = {}
    for size in tta_probs:
        if size != trained:
            mean = (tta_probs[trained] + tta_probs[size]) / 2
            multi[f"{trained}+{size}"] = round(float((mean.argmax(1) == val.y).mean()), 4)
            print(f"TTA at {trained} and {size} px, averaged: val accuracy {multi[f'{trained}+{size}']:.4f}")
    print(json.dumps({"model": str(model_dir), "split": "val", "n": len(val), "trained_size": trained,
                      "sizes": rows, "multi_scale_tta": multi}))


if __name__ == "__main__":
    main()
