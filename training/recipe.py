"""The shipped model's whole recipe in one command: ``python -m training.recipe --data PATH --weights W``.

Two training runs (three with ``--with-distillation``), each an ordinary, resumable ``training.train``
run under ``--out``:

1. ``m96``: MobileNetV2 (ImageNet init) at 96 px, 1 head + 36 fine-tuning epochs, label smoothing;
2. ``s96`` (shipped): started from ``m96``'s weights and trained 12 more epochs with random erasing and
   mixup, a warm restart of the learning rate;
3. ``d96`` (only with ``--with-distillation``): ``s96``'s recipe again from ``m96``, but with targets
   that are 70 % the mean of ``m96`` and ``s96`` on the same augmented batches (``training.distill``)
   and 30 % the label. Measured here: 0.35 point better on validation than ``s96``, but it takes the
   recipe from about 2.4 to about 3.3 hours and its epochs to about 4 GB, over issue #4's budget;

then TFLite export with its agreement check and the test-split report of the last stage. Rerunning the
command after a kill continues where it stopped (finished runs are skipped, a cut run resumes).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

#: (name, training.train arguments after --data/--out) of every stage, in order.
STAGES = [
    ("m96", ["--img-size", "96", "--alpha", "1.0", "--epochs", "36", "--head-epochs", "1", "--lr", "5e-4",
             "--augment", "1.0", "--label-smoothing", "0.1", "--class-weight", "sqrt", "--patience", "8"]),
    ("s96", ["--init-from", "{out}/m96", "--head-epochs", "0", "--img-size", "96", "--alpha", "1.0",
             "--epochs", "12", "--lr", "2e-4", "--augment", "1.0", "--label-smoothing", "0.1", "--erase", "0.5",
             "--mixup", "0.2", "--class-weight", "sqrt", "--patience", "12"]),
    ("d96", ["--init-from", "{out}/m96", "--teacher", "{out}/m96", "{out}/s96", "--distill", "0.7",
             "--head-epochs", "0", "--img-size", "96", "--alpha", "1.0", "--epochs", "{student_epochs}",
             "--lr", "2e-4", "--augment", "1.0", "--label-smoothing", "0.1", "--erase", "0.5", "--mixup", "0.2",
             "--class-weight", "sqrt", "--patience", "{student_epochs}"]),
]
DISTILLED = "d96"


def stage_names(with_distillation: bool) -> list[str]:
    """The stages to run, in order; the last one is the model the recipe exports and reports."""
    return [name for name, _ in STAGES if name != DISTILLED or with_distillation]


def stage_args(name: str, args) -> list[str]:
    template = dict(STAGES)[name]
    values = {"out": args.out, "student_epochs": str(args.student_epochs)}
    argv = ["--data", args.data, "--out", f"{args.out}/{name}", "--resume", "--quiet"]
    if name == "m96":
        argv += ["--weights", args.weights]
    if args.cache_dir:
        argv += ["--cache-dir", args.cache_dir]
    return argv + [a.format(**values) for a in template]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.recipe", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="FER-2013 root (train/ and test/ folders) or fer2013.csv")
    p.add_argument("--weights", default="imagenet", help="ImageNet MobileNetV2 weights: 'imagenet' or a .weights.h5 file")
    p.add_argument("--out", default="runs/recipe", help="one subfolder per stage (default runs/recipe)")
    p.add_argument("--with-distillation", action="store_true", help="add the d96 stage (about +1 hour)")
    p.add_argument("--student-epochs", type=int, default=10)
    p.add_argument("--cache-dir", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from training import evaluate, export, train

    stages = stage_names(args.with_distillation)
    for name in stages:
        logging.info("stage %s", name)
        code = train.main(stage_args(name, args))
        if code:
            return code
    shipped = str(Path(args.out) / stages[-1])
    data = ["--data", args.data] + (["--cache-dir", args.cache_dir] if args.cache_dir else [])
    code = export.main(["--model", shipped] + data)
    if code:
        return code
    return evaluate.main(["--model", shipped, "--tta", "--out", shipped] + data)


if __name__ == "__main__":
    sys.exit(main())
