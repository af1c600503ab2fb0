"""Train the FER-2013 emotion classifier: ``python -m training.train --data PATH --out DIR``.

:func:`train` runs these steps, each a function below, in the order of keras-io's transfer-learning examples:

1. :func:`resume_or_start`: a new run's settings, or a killed run's own (``--resume``);
2. :func:`load_data`: the cached uint8 faces, a stratified seeded validation split, tf.data pipelines with
   the training augmentation (``training.data``, ``training.augment``);
3. :func:`build`: MobileNetV2 with a new head (``training.model``) from ImageNet, local or no weights, or
   from a trained model's weights (``--init-from``); backbone frozen;
4. :func:`head_phase`: train only the head;
5. :func:`fine_tune`: unfreeze everything, lower learning rate with a cosine decay per epoch, early
   stopping on validation accuracy (the phase is called "restart" when the run started ``--init-from``);
6. :func:`finish`: fit the softmax temperature on validation (``training.calibrate``, in a fresh process so
   that its memory does not add to training's) and complete ``config.json``.

Every epoch updates the run folder (``training.run_dir``): ``history.csv``, ``model.keras`` (the best epoch
so far), ``state.json`` and a BackupAndRestore backup. A killed run continues from its last completed epoch
with ``--resume``, always with the settings stored in its ``config.json`` (a setting given differently on
the resumed command is ignored, with a warning naming it).
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fer_app import preprocess
from fer_app.labels import EMOTIONS
from fer_app.model import ModelLoadError
from training.augment import AUGMENTATION, augment_dataset
from training.calibrate import calibrate_in_subprocess
from training.data import DatasetError, class_weights, load_model_splits, make_dataset
from training.ferplus import VotesError, recorded_votes, resolve_votes
from training.memory import peak_rss_mb
from training.model import HEAD_COLUMNS
from training.quiet import quiet_tensorflow
from training.run_dir import RunDir, model_file

log = logging.getLogger("training.train")

#: Settings that define a run; --resume reuses the stored ones.
RUN_SETTINGS = ["epochs", "head_epochs", "img_size", "alpha", "weights", "batch_size", "seed", "lr", "head_lr",
                "min_lr_ratio", "label_smoothing", "class_weight", "augment", "erase", "mixup", "val_fraction",
                "patience", "dropout", "bn_momentum", "init_from", "ferplus", "ferplus_lam", "photo"]

#: {option: (test, what it allows)} for every numeric option, checked before any data is read
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
    "photo": (lambda v: 0 <= v <= 1, "a probability per face, in [0, 1]"),
    "val-fraction": (lambda v: 0 < v < 1, "in (0, 1)"),
    "patience": (lambda v: v >= 1, "at least 1"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "bn-momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "ferplus-lam": (lambda v: 0 <= v <= 1, "in [0, 1]"),
}


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
    p.add_argument("--lr", type=float, default=5e-4, help="peak fine-tuning learning rate (Adam)")
    p.add_argument("--head-lr", type=float, default=1e-3, help="head-phase learning rate")
    p.add_argument("--min-lr-ratio", type=float, default=0.02, help="cosine floor as a fraction of --lr")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--class-weight", choices=["sqrt", "balanced", "none"], default="sqrt")
    p.add_argument("--augment", type=float, default=0.5, help="augmentation strength (0 = flips only)")
    p.add_argument("--erase", type=float, default=0.0, help="random-erasing probability per training image (0 = off)")
    p.add_argument("--mixup", type=float, default=0.0, help="mixup Beta(alpha, alpha) parameter (0 = off; 0.2 is typical)")
    p.add_argument("--photo", type=float, default=0.0,
                   help="probability per training face of a photo-like change: sharpening, blur, rescaling or JPEG (0 = off)")
    p.add_argument("--init-from", default=None,
                   help="start from a trained model's weights (a model directory or .keras file of the same "
                        "alpha; any input size) instead of --weights; usually with --head-epochs 0")
    p.add_argument("--ferplus", default=None,
                   help="FER+ crowd votes (ferplus_votes.csv): adds a second head, 'crowd', trained on them (training.ferplus)")
    p.add_argument("--ferplus-lam", type=float, default=0.0,
                   help="the crowd head's targets: lam * one-hot(FER-2013 label) + (1 - lam) * crowd distribution (default 0)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--patience", type=int, default=6, help="early-stopping patience (epochs)")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--bn-momentum", type=float, default=0.9)
    p.add_argument("--cache-dir", default=None, help="where decoded images are cached (default ~/.cache/fer_app)")
    p.add_argument("--resume", action="store_true", help="continue a killed run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up notices")
    args = p.parse_args(argv)
    for option in _RANGES:
        value = getattr(args, option.replace("-", "_"))
        allowed = outside_range(option, value)
        if allowed:
            p.error(f"--{option} must be {allowed}, got {value}")
    if args.ferplus and not Path(args.ferplus).is_file():
        p.error(f"--ferplus {args.ferplus}: no such votes file (FER+ votes: ferplus_votes.csv)")
    if args.ferplus:
        args.ferplus = recorded_votes(args.ferplus)
    if args.epochs + args.head_epochs < 1:
        p.error("--epochs and --head-epochs are both 0: nothing would be trained")
    return args


def outside_range(option: str, value) -> str | None:
    """What ``--option`` allows, when ``value`` is outside it (None when it is inside)."""
    ok, allowed = _RANGES[option]
    return None if ok(value) else allowed


def ignored_settings(stored: dict, args) -> dict:
    """{setting: (given, stored)} for each setting a resumed run keeps although the command gave another value."""
    return {k: (getattr(args, k), stored[k]) for k in RUN_SETTINGS if k in stored and getattr(args, k) != stored[k]}


def lr_at(epoch: int, s: dict) -> float:
    """Learning rate of (0-based, global) ``epoch``: head phase constant, then cosine decay to the floor."""
    if epoch < s["head_epochs"]:
        return s["head_lr"]
    t = (epoch - s["head_epochs"]) / max(1, s["epochs"] - 1)
    floor = s["lr"] * s["min_lr_ratio"]
    return floor + 0.5 * (s["lr"] - floor) * (1.0 + math.cos(math.pi * min(t, 1.0)))


def data_stream_seed(seed: int, epochs_done: int) -> int:
    """Seed of the shuffling and augmentation streams for a session starting after ``epochs_done``.

    tf.data restarts its streams in every process, so a resumed session seeded like the first one would
    replay the first epoch's batches in the same order with the same augmentation (measured: a resumed
    warm restart's training accuracy jumped from 64 % to 73 % for that epoch). Each resume point gets its own.
    """
    return seed if epochs_done == 0 else seed + 1009 * epochs_done


def compile_model(model, lr: float, label_smoothing: float, crowd_head: bool = False) -> None:
    import keras

    if crowd_head:
        from training.two_heads import crowd_accuracy, fer2013_accuracy, two_head_loss

        loss, metrics = two_head_loss(label_smoothing), [fer2013_accuracy(), crowd_accuracy()]
    else:
        loss, metrics = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing), ["accuracy"]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss, metrics=metrics)


# ----------------------------------------------------------------------------- the steps


def resume_or_start(run: RunDir, args) -> tuple[dict, dict]:
    """(settings, state): the stored run's with ``--resume`` when there is one, else a new run's."""
    state = run.read_state() if args.resume else None
    if state is not None and run.has_config():
        if run.started_by_older_code() and not state.get("finished"):
            raise RuntimeError(f"{run.path} was started by an older training.train (checkpoints/last.keras); "
                               "finish it with that version (docs/research/removed_options.md) or use a new --out")
        settings = run.settings()
        log.info("resuming after epoch %d", state["epochs_done"])
        for key, (given, stored) in ignored_settings(settings, args).items():
            log.warning("--resume keeps the run's %s = %r from %s; the given %r is ignored (use a new --out "
                        "to train with it)", key, stored, run.path / "config.json", given)
        run.tidy_history()
        return settings, state
    if args.resume:
        log.info("nothing to resume in %s: starting a new run", run.path)
    if args.init_from:
        model_file(args.init_from)  # a mistyped path fails now, not after the data is read
    settings = {k: getattr(args, k) for k in RUN_SETTINGS}
    settings["augmentation"] = AUGMENTATION
    return settings, run.start()


@dataclass
class Data:
    train: object  # tf.data.Dataset of augmented training batches
    val: object
    class_weight: dict | None


def load_data(run: RunDir, args, settings: dict, state: dict) -> Data:
    """Read the faces (one read for the carved train and validation splits) and build their pipelines; a new
    run also writes its ``config.json`` here, with the data's fingerprints."""
    import keras

    # the seed draws the validation split (always settings["seed"]) and the data order and augmentation;
    # a resumed session re-seeds those from the epoch it starts at, or it would replay the run's first epoch
    stream_seed = data_stream_seed(settings["seed"], state["epochs_done"])
    if stream_seed != settings["seed"]:
        log.info("shuffling and augmenting with seed %d (seed %d, resumed after epoch %d)",
                 stream_seed, settings["seed"], state["epochs_done"])
    keras.utils.set_random_seed(stream_seed)
    t0 = time.time()
    train_split, val_split = load_model_splits(args.data, settings, args.cache_dir)
    log.info("data: %d train / %d val images in %.1f s", len(train_split), len(val_split), time.time() - t0)
    if state["epochs_done"] == 0:
        run.write_config({
            "settings": settings, "labels": list(EMOTIONS), "preprocessing": preprocess.DESCRIPTION,
            "face_size": preprocess.FACE_SIZE, "img_size": settings["img_size"], "alpha": settings["alpha"],
            "backbone": "MobileNetV2",
            # the dataset folder's name only: no config names a folder of the machine that trained it
            "data": {"source": Path(args.data).name, "train_fingerprint": train_split.fingerprint(),
                     "val_fingerprint": val_split.fingerprint(), "train_counts": train_split.class_counts(),
                     "val_counts": val_split.class_counts(), "skipped_files": len(train_split.skipped)},
            "command": "python -m training.train " + " ".join(sys.argv[1:]),
            # a two-head model's probabilities in the app follow the crowd head (what people see)
            **({"heads": {name: {"columns": cols} for name, cols in HEAD_COLUMNS.items()}, "app_head": "crowd"}
               if settings.get("ferplus") else {}),
        })
    augment = functools.partial(augment_dataset, strength=settings["augment"], seed=stream_seed,
                                erase=settings["erase"], mixup_alpha=settings["mixup"], photo=settings.get("photo", 0.0))
    weights = class_weights(train_split.y, settings["class_weight"])
    if not settings.get("ferplus"):
        return Data(train=make_dataset(train_split, settings["batch_size"], True, stream_seed, augment),
                    val=make_dataset(val_split, settings["batch_size"]), class_weight=weights)
    train_crowd, val_crowd = crowd_targets(settings, train_split, val_split)
    return Data(train=make_dataset(train_split, settings["batch_size"], True, stream_seed, augment, train_crowd, weights),
                val=make_dataset(val_split, settings["batch_size"], crowd_targets=val_crowd), class_weight=None)


def crowd_targets(settings: dict, *splits) -> list:
    """The crowd head's targets of each split (``training.ferplus``), with how many faces have crowd votes."""
    from training.ferplus import crowd_labels, mixed_targets, read_votes

    votes = read_votes(resolve_votes(settings["ferplus"]))
    targets = []
    for split in splits:
        crowd = crowd_labels(split, votes)
        log.info("FER+ votes: %d of %d %s faces have a crowd distribution", int((crowd.distribution().sum(1) > 0).sum()),
                 len(split), split.name)
        targets.append(mixed_targets(split.y, crowd, settings["ferplus_lam"]))
    return targets


def build(settings: dict):
    """The classifier with its backbone frozen, compiled for the head phase."""
    from training.model import build_model, load_init_weights, set_backbone_trainable

    init_from = settings["init_from"]
    crowd = bool(settings.get("ferplus"))
    model = build_model(settings["img_size"], settings["alpha"], "none" if init_from else settings["weights"],
                        settings["dropout"], settings["bn_momentum"], crowd_head=crowd)
    if init_from:
        log.info("starting from the weights of %s", model_file(init_from))
        load_init_weights(model, model_file(init_from))
    set_backbone_trainable(model, False)
    compile_model(model, settings["head_lr"], settings["label_smoothing"], crowd)
    return model


def head_phase(model, data: Data, run: RunDir, settings: dict, state: dict, verbose: int) -> None:
    """Train the new head on the frozen backbone. Resumed, BackupAndRestore restores the phase's last epoch
    (and trains only the epochs not done yet), so the fine-tuning starts from the same weights."""
    if state["epochs_done"] < settings["head_epochs"]:
        log.info("phase head: epochs %d-%d, frozen backbone", state["epochs_done"] + 1, settings["head_epochs"])
    model.fit(data.train, validation_data=data.val, epochs=settings["head_epochs"], class_weight=data.class_weight,
              verbose=verbose, shuffle=False, callbacks=run.epoch_callbacks("head", state))


def fine_tune(model, data: Data, run: RunDir, settings: dict, state: dict, verbose: int) -> None:
    """Unfreeze the backbone and train everything with a new optimizer at a cosine-decayed learning rate,
    stopping early after ``patience`` epochs without a better validation accuracy."""
    import keras

    from training.callbacks import ContinuedEarlyStopping
    from training.model import set_backbone_trainable

    set_backbone_trainable(model, True)
    compile_model(model, settings["lr"], settings["label_smoothing"], bool(settings.get("ferplus")))
    head_end, total = settings["head_epochs"], settings["head_epochs"] + settings["epochs"]
    phase = "restart" if settings["init_from"] else "finetune"  # a warm restart from a trained model's weights
    log.info("phase %s: epochs %d-%d, cosine schedule", phase, max(state["epochs_done"], head_end) + 1, total)
    early_stopping = ContinuedEarlyStopping(settings["patience"], state["best_val_accuracy"], state["wait"])
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, _: lr_at(epoch, settings))
    model.fit(data.train, validation_data=data.val, initial_epoch=head_end, epochs=total, class_weight=data.class_weight,
              verbose=verbose, shuffle=False,
              callbacks=[schedule, early_stopping, *run.epoch_callbacks(phase, state, early_stopping)])


def finish(run: RunDir, args, state: dict) -> dict:
    """Calibrate the best model in a fresh process and complete config.json; the run is then finished."""
    import keras

    keras.backend.clear_session()
    gc.collect()
    calibration_rss = calibrate_in_subprocess(run.path, args.data, args.cache_dir, args.verbose)
    run.tidy_history()
    config = run.update_config(
        best_epoch=state["best_epoch"],
        epochs_run=state["epochs_done"],
        stopped_early=state["stopped_early"],
        train_seconds=round(sum(float(r["seconds"]) for r in run.read_history()), 1),
        peak_rss_mb_last_session=round(peak_rss_mb(), 1),
        peak_rss_mb_training=state["peak_rss_mb"],
        peak_rss_mb_calibration=calibration_rss,
    )
    state["finished"] = True
    run.write_state(state)
    log.info("done: best val accuracy %.4f at epoch %d, temperature %.3f",
             config["val_accuracy"], state["best_epoch"], config["temperature"])
    return config


def train(args) -> dict:
    run = RunDir(args.out)
    settings, state = resume_or_start(run, args)
    if state["finished"]:
        log.info("run in %s already finished", run.path)
        return run.read_config()
    total = settings["head_epochs"] + settings["epochs"]
    if state["epochs_done"] < total and not state["stopped_early"]:
        verbose = 2 if (args.quiet or not sys.stdout.isatty()) else 1
        data = load_data(run, args, settings, state)
        model = build(settings)
        if settings["head_epochs"]:
            head_phase(model, data, run, settings, state, verbose)
        if settings["epochs"] and not state["stopped_early"]:
            fine_tune(model, data, run, settings, state, verbose)
        del model, data  # the calibration's memory must not stack on training's
    return finish(run, args, state)


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet_tensorflow(args.verbose)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        train(args)
    except (DatasetError, ModelLoadError, FileNotFoundError, VotesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
