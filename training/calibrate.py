"""Fit the softmax temperature of a trained model on its validation split and store it in config.json.

``python -m training.calibrate --model DIR --data PATH``

Two temperatures are fitted (by NLL on validation): ``temperature`` for single predictions and
``temperature_tta`` for test-time-augmented ones (``fer_app.preprocess.tta_views``), since averaging
changes the confidence. Training runs this at the end; it can be rerun on any model directory. The test
split is never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fer_app import preprocess
from fer_app.calibration import apply_temperature, expected_calibration_error, fit_temperature
from fer_app.model import EmotionClassifier, ModelLoadError, model_dir_of
from training.data import DatasetError, Split, load_model_split
from training.memory import peak_rss_mb


def calibrate(model_dir: Path, val: Split) -> dict:
    clf = EmotionClassifier(model_dir, backend="keras")
    raw = clf.predict_raw(val.x)
    tta = clf.predict_raw_tta(val.x)
    t, t_tta = fit_temperature(raw, val.y), fit_temperature(tta, val.y)
    result = {
        "temperature": t,
        "temperature_tta": t_tta,
        "tta": preprocess.TTA_VERSION,
        "val_accuracy": float((raw.argmax(1) == val.y).mean()),
        "val_accuracy_tta": float((tta.argmax(1) == val.y).mean()),
        "val_ece_raw": expected_calibration_error(raw, val.y),
        "val_ece_calibrated": expected_calibration_error(apply_temperature(raw, t), val.y),
        "val_ece_tta_calibrated": expected_calibration_error(apply_temperature(tta, t_tta), val.y),
    }
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text())
    config.update(result)
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.calibrate", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="model directory (config.json + model.keras)")
    p.add_argument("--data", required=True)
    p.add_argument("--cache-dir", default=None)
    args = p.parse_args(argv)
    try:
        model_dir = model_dir_of(args.model)
        config_path = model_dir / "config.json"
        if not config_path.is_file():
            raise ModelLoadError(f"no model config at {config_path}")
        settings = json.loads(config_path.read_text()).get("settings", {})
        val = load_model_split(args.data, "val", settings, args.cache_dir)
        result = calibrate(model_dir, val)
        print(json.dumps({**result, "peak_rss_mb": round(peak_rss_mb(), 1)}))
    except (DatasetError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
