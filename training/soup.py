"""Average trained models' weights and re-estimate BatchNorm statistics on clean training faces.

``python -m training.soup --data PATH --models runs/m24v2 runs/s24v2 --out runs/soup24v2``

Two things, each measured on validation in ``docs/research/experiments.md``:

1. **BatchNorm re-estimation.** A network trained on erased, mixed-up batches keeps BatchNorm running
   statistics of those batches, not of the clean faces it is asked about at inference. Here the
   statistics are reset to the clean training faces (the carved training split, never validation or
   test): ``--bn-batches`` forward passes in training mode, with the running averages reset and
   accumulated as an exact mean over the batches.
2. **Weight averaging** ("model soup"): the element-wise mean of the members' weights. It works for
   members on one training trajectory (a run and its warm restart, ``--init-from``); networks trained
   apart from ImageNet are too far apart (``research/weight_average.py``). One member = BatchNorm
   re-estimation only. A member is a run directory (its best model) or a ``.keras`` file in one.

The result is an ordinary model directory (``model.keras``, ``config.json``, ``history.csv``),
calibrated on validation like a training run, ready for ``training.export``, ``training.evaluate`` and
``training.ship``. Its ``history.csv`` is the last member's whole lineage (``RunDir.lineage``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from fer_app.model import ModelLoadError
from training.data import DatasetError, Split, load_model_splits
from training.memory import peak_rss_mb
from training.quiet import quiet_tensorflow
from training.run_dir import RunDir, model_file

log = logging.getLogger("training.soup")

#: settings every member must share (same network, same validation split)
SHARED_SETTINGS = ("img_size", "alpha", "val_fraction", "seed")


def load_member(member):
    import keras

    return keras.models.load_model(model_file(member), compile=False)


def member_configs(members: list[Path]) -> list[dict]:
    configs = [RunDir(model_file(m).parent).read_config() for m in members]
    for key in SHARED_SETTINGS:
        values = {c["settings"].get(key) for c in configs}
        if len(values) > 1:
            raise ValueError(f"the members differ in {key} ({sorted(map(str, values))}): they cannot be averaged")
    if len({tuple(c.get("heads") or ()) for c in configs}) > 1:
        raise ValueError("the members have different heads (one was trained with --ferplus): they cannot be averaged")
    return configs


def average_weights(models, coefficients=None) -> list[np.ndarray]:
    """Element-wise mean of the models' weights (BatchNorm statistics included); ``coefficients`` (one
    per model, summing to 1) make it a weighted mean."""
    if coefficients is None:
        coefficients = [1.0 / len(models)] * len(models)
    if len(coefficients) != len(models) or min(coefficients) < 0 or abs(sum(coefficients) - 1.0) > 1e-6:
        raise ValueError(f"need one non-negative coefficient per model, summing to 1; got {list(coefficients)}")
    per_model = [m.get_weights() for m in models]
    return [sum(c * w.astype(np.float64) for c, w in zip(coefficients, ws)).astype(ws[0].dtype)
            for ws in zip(*per_model)]


def reestimate_batchnorm(model, train: Split, batches: int, batch_size: int = 128, seed: int = 0) -> None:
    """Set every BatchNorm layer's moving mean and variance to the mean, over ``batches`` random clean
    training batches, of its batch statistics (momentum 1/k on the k-th batch: an exact average)."""
    from keras import layers

    bns = [layer for layer in _all_layers(model) if isinstance(layer, layers.BatchNormalization)]
    if not bns:
        raise ValueError("the model has no BatchNormalization layers")
    saved = [(bn.momentum, bn.trainable) for bn in bns]
    for bn in bns:
        bn.trainable = True  # a frozen BatchNorm layer ignores training=True
    rng = np.random.default_rng(seed)
    for k in range(1, batches + 1):
        for bn in bns:
            bn.momentum = 0.0 if k == 1 else 1.0 - 1.0 / k  # new = m * old + (1 - m) * batch
        x = train.x[rng.choice(len(train), min(batch_size, len(train)), replace=False)]
        model(x[..., None].astype(np.float32), training=True)
    for bn, (momentum, trainable) in zip(bns, saved):
        bn.momentum, bn.trainable = momentum, trainable


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def make_soup(data, members: list[Path], out: Path, bn_batches: int = 50, batch_size: int = 128,
              cache_dir=None, seed: int = 0, command: str = "") -> dict:
    from training.calibrate import calibrate

    t0 = time.time()
    configs = member_configs(members)
    settings = configs[-1]["settings"]
    train, val = load_model_splits(data, settings, cache_dir)
    models = [load_member(m) for m in members]
    soup = models[0]
    if len(models) > 1:
        soup.set_weights(average_weights(models))
    del models[1:]
    reestimate_batchnorm(soup, train, bn_batches, batch_size, seed)

    run = RunDir(out)
    out.mkdir(parents=True, exist_ok=True)
    soup.save(run.model_path)
    rows = RunDir(model_file(members[-1]).parent).lineage(int(configs[-1]["best_epoch"]))
    run.write_history(rows)
    # the last member's config, less what described that member's own run (its calibration, memory, time)
    own_run = ("temperature", "val_", "peak_rss", "tta", "train_seconds", "stopped_early")
    config = {k: v for k, v in configs[-1].items() if not k.startswith(own_run)}
    config["settings"] = dict(settings, init_from=None)  # the lineage is already in history.csv
    config.update({
        "soup": {"members": [str(m) for m in members], "bn_batches": bn_batches, "bn_batch_size": batch_size,
                 "bn_seed": seed, "members_train_seconds": [c.get("train_seconds") for c in configs]},
        "command": command,
        "best_epoch": int(rows[-1]["epoch"]) if rows else 0,
        "epochs_run": len(rows),
    })
    run.write_config(config)
    result = calibrate(run, val)
    config = run.update_config(soup_seconds=round(time.time() - t0, 1), peak_rss_mb_soup=round(peak_rss_mb(), 1))
    return {**result, "soup_seconds": config["soup_seconds"], "peak_rss_mb": config["peak_rss_mb_soup"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.soup", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="FER-2013 root (train/ and test/ folders) or fer2013.csv")
    p.add_argument("--models", nargs="+", required=True,
                   help="members of one trajectory: run directories or their .keras files")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--bn-batches", type=int, default=50, help="clean training batches for BatchNorm (default 50)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up notices")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.bn_batches < 1 or args.batch_size < 1:
        p.error(f"--bn-batches and --batch-size must be at least 1, got {args.bn_batches} and {args.batch_size}")
    quiet_tensorflow(args.verbose)
    try:
        result = make_soup(args.data, [Path(m) for m in args.models], Path(args.out), args.bn_batches,
                           args.batch_size, args.cache_dir, args.seed,
                           command="python -m training.soup " + " ".join(sys.argv[1:] if argv is None else argv))
    except (DatasetError, ModelLoadError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
