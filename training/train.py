"""Train the FER-2013 emotion classifier: ``python -m training.train --data PATH --out DIR``.

Steps, top to bottom:
1. load the training images (cached uint8 48x48) and carve a stratified, seeded validation split;
2. build MobileNetV2 + head (``training.model``) with ImageNet, local or no weights;
3. phase "head": train only the new head on the frozen backbone;
4. phase "finetune" ("restart" when the run started ``--init-from`` a trained model, "distill" when
   ``--teacher`` models supply soft targets): unfreeze
   everything, lower learning rate, cosine or plateau schedule, early stopping and best-checkpointing
   on validation accuracy;
5. fit the softmax temperature on validation (``training.calibrate``, in a fresh process so its memory
   does not add to training's); write ``model.keras``, ``history.csv``, ``config.json`` (every
   setting, labels, preprocessing, data fingerprints, timings, peak RAM of training and calibration).

Every epoch saves ``checkpoints/last.keras`` (model + optimizer) and ``state.json``: a killed run
continues from its last completed epoch with ``--resume``, always with the settings stored in its
``config.json`` (a setting given differently on the resumed command is ignored, with a warning naming it).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import logging
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path


from fer_app import preprocess
from fer_app.labels import EMOTIONS
from training.data import (AUGMENTATIONS, DEFAULT_AUGMENTATION, LEGACY_AUGMENTATION, DatasetError, class_weights,
                           load_model_split, make_augmenter, make_dataset)
from training.memory import peak_rss_mb

log = logging.getLogger("training.train")

HISTORY_FIELDS = ["epoch", "phase", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
#: Settings that define a run; --resume reuses the stored ones.
RUN_SETTINGS = ["epochs", "head_epochs", "img_size", "alpha", "weights", "batch_size", "seed", "lr",
                "head_lr", "min_lr_ratio", "schedule", "label_smoothing", "class_weight", "augment",
                "erase", "mixup", "cutmix", "val_fraction", "patience", "dropout", "bn_momentum", "init_from",
                "teacher", "distill", "snapshot_every", "augmentation", "optimizer", "weight_decay"]


def ignored_settings(stored: dict, args) -> dict:
    """{setting: (given, stored)} for each setting a resumed run keeps although the command gave another value.

    A resumed run always continues with the settings in its ``config.json``; settings the stored run
    predates (absent from it) are not compared.
    """
    return {k: (getattr(args, k), stored[k]) for k in RUN_SETTINGS
            if k in stored and getattr(args, k) != stored[k]}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="FER-2013 root (train/ and test/ folders) or fer2013.csv")
    p.add_argument("--out", required=True, help="output directory for the model, history and config")
    p.add_argument("--epochs", type=int, default=20, help="fine-tuning epochs (default 20)")
    p.add_argument("--head-epochs", type=int, default=1, help="head-only epochs on the frozen base (default 1)")
    p.add_argument("--img-size", type=int, default=48, help="network input size; faces are upsampled in the model")
    p.add_argument("--alpha", type=float, default=1.0, help="MobileNetV2 width multiplier")
    p.add_argument("--weights", default="imagenet",
                   help="'imagenet' (Keras download), a local no-top .weights.h5 file, or 'none'")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=5e-4, help="peak fine-tuning learning rate")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam",
                   help="fine-tuning optimizer: Adam, or SGD with Nesterov momentum 0.9 (the head phase always "
                        "uses Adam at --head-lr)")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="decoupled weight decay of the fine-tuning optimizer (Keras' weight_decay: each step "
                        "w -= lr x decay x w, on every trainable weight); Adam with it is AdamW (default 0 = off)")
    p.add_argument("--head-lr", type=float, default=1e-3, help="head-phase learning rate")
    p.add_argument("--min-lr-ratio", type=float, default=0.02, help="cosine floor as a fraction of --lr")
    p.add_argument("--schedule", choices=["cosine", "plateau"], default="cosine",
                   help="fine-tuning schedule: cosine decay per epoch, or ReduceLROnPlateau (factor 0.5, patience 2)")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--class-weight", choices=["sqrt", "balanced", "none"], default="sqrt")
    p.add_argument("--augment", type=float, default=0.5, help="augmentation strength (0 = flips only)")
    p.add_argument("--augmentation", choices=AUGMENTATIONS, default=DEFAULT_AUGMENTATION,
                   help="how faces are augmented: 'affine-once-v2' (one warp per face) or 'keras-chain-v1' (the "
                        "Keras-layer chain the previously shipped model was trained with, which blurs training faces)")
    p.add_argument("--erase", type=float, default=0.0,
                   help="random-erasing probability per training image (0 = off)")
    p.add_argument("--mixup", type=float, default=0.0,
                   help="mixup Beta(alpha, alpha) parameter (0 = off; 0.2 is typical)")
    p.add_argument("--cutmix", type=float, default=0.0,
                   help="cutmix probability per face (0 = off): a box from another face of the batch, labels mixed by area")
    p.add_argument("--init-from", default=None,
                   help="start from a trained model's weights (a model directory or .keras file of the same "
                        "alpha; any input size) instead of --weights; usually with --head-epochs 0")
    p.add_argument("--teacher", nargs="+", default=None, metavar="MODEL",
                   help="distil from these trained models (directories or .keras files): their mean, "
                        "temperature-calibrated softmax on each augmented batch becomes part of the target")
    p.add_argument("--distill", type=float, default=0.7,
                   help="weight of the teachers' probabilities in the target (the rest: the true label)")
    p.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                   help="also keep the weights of every N-th fine-tuning epoch as snapshots/epoch_NNN.weights.h5, "
                        "for training.soup to average (0 = off)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--patience", type=int, default=6, help="early-stopping patience (epochs)")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--bn-momentum", type=float, default=0.9)
    p.add_argument("--cache-dir", default=None, help="where decoded images are cached (default ~/.cache/fer_app)")
    p.add_argument("--resume", action="store_true", help="continue a killed run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.teacher and not 0.0 < args.distill <= 1.0:
        p.error(f"--distill must be in (0, 1], got {args.distill}")
    for option in _RANGES:
        value = getattr(args, option.replace("-", "_"))
        allowed = outside_range(option, value)
        if allowed:
            p.error(f"--{option} must be {allowed}, got {value}")
    if args.epochs + args.head_epochs < 1:
        p.error("--epochs and --head-epochs are both 0: nothing would be trained")
    return args


#: {option: (test, what it allows)} for every numeric training.train option, checked before any data is read
_RANGES = {
    "epochs": (lambda v: v >= 0, "0 or more"),
    "head-epochs": (lambda v: v >= 0, "0 or more"),
    "img-size": (lambda v: v >= 32, "at least 32 (MobileNetV2's smallest input)"),
    "alpha": (lambda v: v > 0, "positive"),
    "batch-size": (lambda v: v >= 1, "at least 1"),
    "lr": (lambda v: 0 < v <= 0.1, "in (0, 0.1]"),
    "head-lr": (lambda v: 0 < v <= 0.1, "in (0, 0.1]"),
    "min-lr-ratio": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "label-smoothing": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "augment": (lambda v: v >= 0, "0 (flips only) or more"),
    "erase": (lambda v: 0 <= v <= 1, "a probability per face, in [0, 1]"),
    "mixup": (lambda v: v >= 0, "0 (off) or a positive Beta parameter"),
    "cutmix": (lambda v: 0 <= v <= 1, "a probability per face, in [0, 1]"),
    "snapshot-every": (lambda v: v >= 0, "0 (off) or a number of epochs"),
    "val-fraction": (lambda v: 0 < v < 1, "in (0, 1)"),
    "patience": (lambda v: v >= 1, "at least 1"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "bn-momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "weight-decay": (lambda v: 0 <= v <= 1, "0 (off) or a decay coefficient in (0, 1]"),
}


def outside_range(option: str, value) -> str | None:
    """What ``--option`` allows, when ``value`` is outside it (None when it is inside)."""
    ok, allowed = _RANGES[option]
    return None if ok(value) else allowed


# ----------------------------------------------------------------------------- small helpers

def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def lr_at(epoch: int, s: dict) -> float:
    """Learning rate of (0-based, global) ``epoch``: head phase constant, then cosine."""
    if epoch < s["head_epochs"]:
        return s["head_lr"]
    t = (epoch - s["head_epochs"]) / max(1, s["epochs"] - 1)
    floor = s["lr"] * s["min_lr_ratio"]
    return floor + 0.5 * (s["lr"] - floor) * (1.0 + math.cos(math.pi * min(t, 1.0)))


def read_history(path: Path, upto_epoch: int) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return [r for r in csv.DictReader(fh) if int(r["epoch"]) <= upto_epoch]


def write_history(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def takes_snapshot(epoch: int, first_epoch: int, every: int) -> bool:
    """Whether ``--snapshot-every`` ``every`` keeps (1-based, global) ``epoch``: every ``every``-th epoch of
    the phase that starts at ``first_epoch``."""
    return every > 0 and epoch >= first_epoch and (epoch - first_epoch + 1) % every == 0


#: how ``--snapshot-every`` files end (Keras' weights-only format), as ``training.soup`` recognises them
SNAPSHOT_SUFFIX = ".weights.h5"


def snapshot_path(out: Path, epoch: int) -> Path:
    """Where ``--snapshot-every`` keeps the weights after (1-based, global) ``epoch``."""
    return out / "snapshots" / f"epoch_{epoch:03d}{SNAPSHOT_SUFFIX}"


def snapshot_epoch(snapshot: Path) -> int:
    """The epoch of a :func:`snapshot_path` file: ``epoch_012.weights.h5`` -> 12."""
    match = re.fullmatch(r"epoch_(\d+)" + re.escape(SNAPSHOT_SUFFIX), Path(snapshot).name)
    if not match:
        raise ValueError(f"{snapshot}: not a snapshot name (epoch_NNN{SNAPSHOT_SUFFIX})")
    return int(match.group(1))


def make_epoch_callback(out: Path, state: dict, history: list[dict], phase: str, patience: int,
                        snapshot_every: int = 0, first_epoch: int = 1):
    """Keras callback: after every epoch, record history, save last/best checkpoints and state; with
    ``snapshot_every`` N, also the weights after epochs ``first_epoch + N - 1``, ``first_epoch + 2N - 1``, ..."""
    import keras

    class EpochRecorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            row = {"epoch": epoch + 1, "phase": phase,
                   "lr": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
                   "seconds": round(time.time() - self.t0, 1)}
            row.update({k: round(float(logs[k]), 5) for k in HISTORY_FIELDS if k in logs})
            history.append(row)
            val_acc = float(logs.get("val_accuracy", 0.0))
            if val_acc > state["best_val_accuracy"]:
                state.update(best_val_accuracy=val_acc, best_epoch=epoch + 1, wait=0)
                self.model.save(out / "model.keras")
            elif phase != "head":
                state["wait"] += 1
            if takes_snapshot(epoch + 1, first_epoch, snapshot_every):
                snapshot_path(out, epoch + 1).parent.mkdir(exist_ok=True)
                self.model.save_weights(snapshot_path(out, epoch + 1))
            self.model.save(out / "checkpoints" / "last.keras")
            state.update(epochs_done=epoch + 1, phase=phase,
                         peak_rss_mb=round(max(state.get("peak_rss_mb") or 0.0, peak_rss_mb()), 1))
            write_history(out / "history.csv", history)
            _write_json(out / "state.json", state)
            if phase != "head" and state["wait"] >= patience:
                state["stopped_early"] = True
                _write_json(out / "state.json", state)
                self.model.stop_training = True

    return EpochRecorder()


# ----------------------------------------------------------------------------- main steps

def calibrate_in_subprocess(out: Path, args) -> float:
    """Run ``python -m training.calibrate`` on the finished run; returns the child's own peak RSS in MB
    (which it reports itself: see ``training.memory``)."""
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-m", "training.calibrate", "--model", str(out.resolve()),
           "--data", str(Path(args.data).resolve())]
    if args.cache_dir:
        cmd += ["--cache-dir", str(Path(args.cache_dir).resolve())]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"calibration failed (rerun: {' '.join(cmd[1:])}):\n{r.stderr[-2000:]}")
    return round(float(json.loads(r.stdout.strip().splitlines()[-1])["peak_rss_mb"]), 1)


#: fine-tuning optimizers --optimizer names, as (Keras class name, fixed arguments)
OPTIMIZERS = {"adam": ("Adam", {}), "sgd": ("SGD", {"momentum": 0.9, "nesterov": True})}


def make_optimizer(name: str, lr: float, weight_decay: float = 0.0):
    """The Keras optimizer ``--optimizer name`` stands for; ``weight_decay`` > 0 adds Keras' decoupled decay.

    Keras stores ``weight_decay``, ``momentum`` and ``nesterov`` in the optimizer's config, so a run resumed
    from ``checkpoints/last.keras`` continues with the same optimizer.
    """
    import keras

    cls, fixed = OPTIMIZERS[name]
    return getattr(keras.optimizers, cls)(learning_rate=lr, weight_decay=weight_decay or None, **fixed)


def compile_model(model, lr: float, label_smoothing: float, optimizer: str = "adam", weight_decay: float = 0.0):
    import keras

    model.compile(optimizer=make_optimizer(optimizer, lr, weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                  metrics=["accuracy"])


def data_stream_seed(seed: int, epochs_done: int) -> int:
    """Seed of the shuffling, augmentation and mixup streams for a session starting after ``epochs_done``.

    A fresh run uses ``seed`` itself. tf.data and the augmentation layers restart their streams in every
    process, so a resumed session seeded like the first one would replay the first epoch's batches in
    the same order with the same augmentation (measured: a resumed warm restart's training accuracy
    jumped from 64 % to 73 % for that epoch and fell back after it). Each resume point gets its own seed.
    """
    return seed if epochs_done == 0 else seed + 1009 * epochs_done


def train(args) -> dict:
    import keras

    # imported now, not after hours of training: a run uses the code it started with throughout
    from training.distill import make_target_fn, model_file
    from training.model import build_model, set_backbone_trainable

    out = Path(args.out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    state_path, config_path = out / "state.json", out / "config.json"

    if args.resume and state_path.is_file():
        state = json.loads(state_path.read_text())
        settings = json.loads(config_path.read_text())["settings"]
        log.info("resuming after epoch %d (phase %s)", state["epochs_done"], state["phase"])
        for key, (given, stored) in ignored_settings(settings, args).items():
            log.warning("--resume keeps the run's %s = %r from %s; the given %r is ignored (use a new --out "
                        "to train with it)", key, stored, config_path, given)
    else:
        if args.resume:
            log.info("nothing to resume in %s: starting a new run", out)
        state = {"epochs_done": 0, "phase": "head", "best_val_accuracy": -1.0, "best_epoch": 0,
                 "wait": 0, "stopped_early": False, "finished": False}
        settings = {k: getattr(args, k) for k in RUN_SETTINGS}
    if state.get("finished"):
        log.info("run in %s already finished", out)
        return json.loads(config_path.read_text())

    # the seed draws the validation split (always settings["seed"]) and the data order and augmentation;
    # a resumed session re-seeds those from the epoch it starts at, or it would replay the run's first epoch
    stream_seed = data_stream_seed(settings["seed"], state["epochs_done"])
    if stream_seed != settings["seed"]:
        log.info("shuffling and augmenting with seed %d (seed %d, resumed after epoch %d)",
                 stream_seed, settings["seed"], state["epochs_done"])
    keras.utils.set_random_seed(stream_seed)
    t_load = time.time()
    train_split = load_model_split(args.data, "train", settings, args.cache_dir)
    val_split = load_model_split(args.data, "val", settings, args.cache_dir)
    log.info("data: %d train / %d val images in %.1f s", len(train_split), len(val_split), time.time() - t_load)

    config = {
        "settings": settings,
        "labels": list(EMOTIONS),
        "preprocessing": preprocess.DESCRIPTION,
        "face_size": preprocess.FACE_SIZE,
        "img_size": settings["img_size"],
        "alpha": settings["alpha"],
        "backbone": "MobileNetV2",
        "data": {"source": str(args.data), "train_fingerprint": train_split.fingerprint(),
                 "val_fingerprint": val_split.fingerprint(), "train_counts": train_split.class_counts(),
                 "val_counts": val_split.class_counts(), "skipped_files": len(train_split.skipped)},
        "command": "python -m training.train " + " ".join(sys.argv[1:]),
    }
    if not args.resume or not config_path.is_file():
        _write_json(config_path, config)

    weights = class_weights(train_split.y, settings["class_weight"])
    # runs started before the setting existed were trained with the Keras chain
    augmenter = make_augmenter(settings["augment"], stream_seed, settings.get("augmentation", LEGACY_AUGMENTATION))
    target_fn = None
    if settings.get("teacher"):
        log.info("distilling from %s (weight %.2f)", ", ".join(settings["teacher"]), settings["distill"])
        target_fn = make_target_fn(settings["teacher"], settings["distill"])
    train_ds = make_dataset(train_split, settings["batch_size"], True, augmenter, stream_seed,
                            erase=settings.get("erase", 0.0), mixup_alpha=settings.get("mixup", 0.0),
                            target_fn=target_fn, cutmix_probability=settings.get("cutmix", 0.0))
    val_ds = make_dataset(val_split, settings["batch_size"], False)
    history = read_history(out / "history.csv", state["epochs_done"])
    verbose = 2 if (args.quiet or not sys.stdout.isatty()) else 1
    head_end = settings["head_epochs"]
    total = head_end + settings["epochs"]

    last = out / "checkpoints" / "last.keras"
    if state["epochs_done"] > 0 and last.is_file():
        model = keras.models.load_model(last)
    else:
        init_from = settings.get("init_from")
        model = build_model(settings["img_size"], settings["alpha"], "none" if init_from else settings["weights"],
                            settings["dropout"], settings["bn_momentum"])
        if init_from:
            log.info("starting from the weights of %s", model_file(init_from))
            model.load_weights(model_file(init_from))
        set_backbone_trainable(model, False)
        compile_model(model, settings["head_lr"], settings["label_smoothing"])

    # phase 1: head only, frozen backbone
    if state["epochs_done"] < head_end:
        log.info("phase head: epochs %d-%d, frozen backbone", state["epochs_done"] + 1, head_end)
        model.fit(train_ds, validation_data=val_ds, initial_epoch=state["epochs_done"], epochs=head_end,
                  class_weight=weights, verbose=verbose,
                  callbacks=[make_epoch_callback(out, state, history, "head", settings["patience"])])

    # phase 2: fine-tune everything
    if state["epochs_done"] < total and not state.get("stopped_early"):
        if state["phase"] == "head":  # fresh start of the phase: unfreeze, new optimizer
            set_backbone_trainable(model, True)
            # runs from before --optimizer existed were fine-tuned with plain Adam
            compile_model(model, settings["lr"], settings["label_smoothing"], settings.get("optimizer", "adam"),
                          settings.get("weight_decay", 0.0))
        # a run started from a trained model's weights is a warm restart; with teachers, a distillation
        phase = "distill" if target_fn is not None else "restart" if settings.get("init_from") else "finetune"
        log.info("phase %s: epochs %d-%d, schedule %s", phase, state["epochs_done"] + 1, total, settings["schedule"])
        callbacks = [make_epoch_callback(out, state, history, phase, settings["patience"],
                                         settings.get("snapshot_every", 0), head_end + 1)]
        if settings["schedule"] == "cosine":
            callbacks.insert(0, keras.callbacks.LearningRateScheduler(lambda e, _: lr_at(e, settings)))
        else:
            callbacks.insert(0, keras.callbacks.ReduceLROnPlateau("val_accuracy", factor=0.5, patience=2,
                                                                  min_lr=settings["lr"] * settings["min_lr_ratio"]))
        model.fit(train_ds, validation_data=val_ds, initial_epoch=state["epochs_done"], epochs=total,
                  class_weight=weights, verbose=verbose, callbacks=callbacks)

    # finish: calibrate the best model on validation in a fresh process (training.calibrate), so its
    # inference memory does not stack on what training held; then write the config
    del model, train_ds, val_ds, target_fn
    keras.backend.clear_session()
    gc.collect()
    calibration_rss = calibrate_in_subprocess(out, args)
    config = json.loads(config_path.read_text())
    config.update({
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epochs_done"],
        "stopped_early": state.get("stopped_early", False),
        "train_seconds": round(sum(float(r["seconds"]) for r in history), 1),
        "peak_rss_mb_last_session": round(peak_rss_mb(), 1),
        "peak_rss_mb_training": state.get("peak_rss_mb"),
        "peak_rss_mb_calibration": calibration_rss,
    })
    _write_json(config_path, config)
    state["finished"] = True
    _write_json(state_path, state)
    log.info("done: best val accuracy %.4f at epoch %d, temperature %.3f",
             config["val_accuracy"], state["best_epoch"], config["temperature"])
    return config


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    try:
        train(args)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
