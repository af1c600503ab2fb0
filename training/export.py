"""Export a trained Keras model to TensorFlow Lite and check it agrees with the Keras model.

``python -m training.export --model DIR_OR_model.keras [--data PATH --split test] [--min-agreement 0.995]``

Writes ``model.tflite`` beside ``model.keras`` (which is re-saved without its optimizer state). With
``--data``, both models classify the split and the top-1 agreement must reach ``--min-agreement`` (exit
code 1 otherwise). The export is float32: the model carries its own resize/scaling layers, so the TFLite
file takes the same 48x48 faces.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fer_app.model import EmotionClassifier, ModelLoadError, model_dir_of
from training.data import DatasetError, load_split
from training.quiet import quiet_tensorflow


def export_tflite(keras_path: Path, out_path: Path) -> int:
    """Write the TFLite model; also re-save ``keras_path`` without optimizer state (a third of the size)."""
    import contextlib
    import io

    import keras
    import tensorflow as tf

    model = keras.models.load_model(keras_path, compile=False)
    model.save(keras_path)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints every captured tensor
        data = converter.convert()
    out_path.write_bytes(data)
    return len(data)


def agreement(model_dir: Path, x: np.ndarray) -> dict:
    """Top-1 agreement and max probability difference between the Keras and TFLite models."""
    pk = EmotionClassifier(model_dir, backend="keras").predict_raw(x)
    pt = EmotionClassifier(model_dir, backend="tflite").predict_raw(x)
    return {"n": len(x), "top1_agreement": float((pk.argmax(1) == pt.argmax(1)).mean()),
            "max_abs_prob_diff": float(np.abs(pk - pt).max())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="model directory or its model.keras")
    p.add_argument("--data", default=None, help="dataset for the agreement check")
    p.add_argument("--split", default="test")
    p.add_argument("--min-agreement", type=float, default=0.995)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up notices")
    args = p.parse_args(argv)
    if not 0.0 <= args.min_agreement <= 1.0:
        p.error(f"--min-agreement is a fraction of faces, in [0, 1]; got {args.min_agreement}")
    try:
        model_dir = model_dir_of(args.model)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keras_path = model_dir / "model.keras"
    if not keras_path.is_file():
        print(f"error: {keras_path} not found", file=sys.stderr)
        return 2
    quiet_tensorflow(args.verbose)
    size = export_tflite(keras_path, model_dir / "model.tflite")
    print(f"wrote {model_dir / 'model.tflite'} ({size / 1e6:.1f} MB)")
    if args.data:
        try:
            split = load_split(args.data, args.split, args.cache_dir)
            result = agreement(model_dir, split.x)
        except (DatasetError, ModelLoadError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        result.update(split=args.split, tflite_bytes=size)
        (model_dir / "tflite_check.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result))
        if result["top1_agreement"] < args.min_agreement:
            print(f"error: TFLite agrees with Keras on only {result['top1_agreement']:.4f} "
                  f"(< {args.min_agreement})", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
