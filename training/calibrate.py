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
import subprocess
import sys
from pathlib import Path

from fer_app import preprocess
from fer_app.calibration import apply_temperature, expected_calibration_error, fit_temperature
from fer_app.model import EmotionClassifier, ModelLoadError
from training.data import DatasetError, Split, load_model_split
from training.ferplus import resolve_votes
from training.memory import peak_rss_mb
from training.quiet import quiet_tensorflow
from training.run_dir import RunDir


def calibrate(run: RunDir, val: Split) -> dict:
    """Fit both temperatures of the model in ``run`` on ``val`` and add them (and the validation figures)
    to its config.json."""
    clf = EmotionClassifier(run.path, backend="keras", head="fer2013")
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
    if "crowd" in clf.heads:
        result["heads"] = calibrate_crowd_head(clf.with_head("crowd"), val, run.read_config()["heads"],
                                               resolve_votes(run.settings()["ferplus"]))
    run.update_config(**result)
    return result


def calibrate_crowd_head(clf: EmotionClassifier, val: Split, heads: dict, votes_path) -> dict:
    """``heads`` with the crowd head's temperatures, fitted on the validation faces that have a crowd majority
    (``training.ferplus``), and its validation accuracy against that majority."""
    from training.ferplus import crowd_labels, read_votes

    majority = crowd_labels(val, read_votes(votes_path)).majority()
    known = majority >= 0
    raw, tta = clf.predict_raw(val.x)[known], clf.predict_raw_tta(val.x)[known]
    y = majority[known]
    crowd = {**heads["crowd"], "temperature": fit_temperature(raw, y), "temperature_tta": fit_temperature(tta, y),
             "val_ferplus_accuracy": float((raw.argmax(1) == y).mean()),
             "val_ferplus_accuracy_tta": float((tta.argmax(1) == y).mean()), "val_ferplus_n": int(known.sum())}
    return {**heads, "crowd": crowd}


def calibrate_in_subprocess(model_dir: Path, data, cache_dir=None, verbose: bool = False) -> float:
    """Run ``python -m training.calibrate`` on ``model_dir`` in a fresh process (so that its memory does not
    stack on the caller's); returns the child's own peak RSS in MB, which it reports itself (``training.memory``)."""
    cmd = [sys.executable, "-m", "training.calibrate", "--model", str(Path(model_dir).resolve()),
           "--data", str(Path(data).resolve())]
    cmd += ["--cache-dir", str(Path(cache_dir).resolve())] if cache_dir else []
    cmd += ["--verbose"] if verbose else []
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"calibration failed (rerun: {' '.join(cmd[1:])}):\n{r.stderr[-2000:]}")
    return round(float(json.loads(r.stdout.strip().splitlines()[-1])["peak_rss_mb"]), 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.calibrate", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="model directory (config.json + model.keras)")
    p.add_argument("--data", required=True)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up notices")
    args = p.parse_args(argv)
    try:
        run = RunDir.of(args.model)
        settings = run.settings()
        quiet_tensorflow(args.verbose)
        val = load_model_split(args.data, "val", settings, args.cache_dir)
        result = calibrate(run, val)
        print(json.dumps({**result, "peak_rss_mb": round(peak_rss_mb(), 1)}))
    except (DatasetError, ModelLoadError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
