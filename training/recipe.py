"""The shipped model's whole recipe in one command: ``python -m training.recipe --data PATH --weights W``.

Two training runs and a weight average, each an ordinary, resumable step under ``--out``:

1. ``first``: MobileNetV2 (ImageNet init) at 96 px, 1 head + 18 fine-tuning epochs (``--first-epochs``) at a
   peak learning rate of 5e-4 (``--first-lr``), label smoothing;
2. ``restart``: started from ``first``'s weights and trained 12 more epochs with random erasing and mixup, a
   warm restart of the learning rate;
3. ``soup`` (shipped): the mean of ``first``'s and ``restart``'s weights with BatchNorm statistics
   re-estimated on clean training faces (``training.soup``, about 3 minutes; ``docs/research/experiments.md``);

both training stages train a second head on FER+'s ten annotators' votes beside FER-2013's (``training.ferplus``,
``training.two_heads``; the soup averages both heads), from the votes shipped for the Kaggle folders or
``--ferplus FILE`` (``--ferplus none``: one head);

every training stage with one affine warp per face (``training.augment``). The shipped model was trained
by these commands run one by one, as ``m24v2``, ``s24v2``, ``soup24v2`` (its name in docs/research/); runs of
this command before 2026-12-06 named their folders ``m96``, ``s96``, ``soup96``;

then TFLite export with its agreement check, for a two-head model the app's answer (``training.answer``: the
crowd head divided by the prior it learned, fitted on validation; ``docs/real_faces.md``), and the test-split
report of the final model. Rerunning the
command after a kill continues where it stopped (finished steps are skipped, a cut run resumes).

Every step runs in a fresh process, so no stage's memory carries into the next, and the recipe measures
itself: ``<out>/recipe_times.jsonl`` gets a line when a step starts and one when it ends (wall seconds, the
step's peak RSS, its exit code), across every session that worked on ``<out>``, and
``<out>/recipe_summary.json`` adds them up (issue #4's 3-hour, 4 GB budget; steps cut by a kill are listed,
their time is not counted).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from training.ferplus import SHIPPED_VOTES
from training.run_dir import RunDir
from training.train import outside_range

#: fine-tuning epochs of the first stage (``first``) in the shipped recipe
FIRST_EPOCHS = 18
#: peak learning rate of the first stage in the shipped recipe
FIRST_LR = 5e-4
#: (name, training.train arguments after --data/--out) of every stage, in order.
STAGES = [
    ("first", ["--img-size", "96", "--alpha", "1.0", "--epochs", "{first_epochs}", "--head-epochs", "1", "--lr", "{first_lr}",
             "--augment", "1.0", "--label-smoothing", "0.1", "--class-weight", "sqrt", "--patience", "8"]),
    ("restart", ["--init-from", "{out}/first", "--head-epochs", "0", "--img-size", "96", "--alpha", "1.0",
             "--epochs", "12", "--lr", "2e-4", "--augment", "1.0", "--label-smoothing", "0.1", "--erase", "0.5",
             "--mixup", "0.2", "--class-weight", "sqrt", "--patience", "12"]),
]
#: the weight average of the two training stages' models, the recipe's final model
SOUP, SOUP_MEMBERS = "soup", ("first", "restart")

def common_args(args) -> list[str]:
    """The options every step takes from the recipe's command."""
    return ((["--cache-dir", args.cache_dir] if args.cache_dir else [])
            + (["--verbose"] if args.verbose else []))


def soup_args(args) -> list[str]:
    argv = ["--data", args.data, "--out", f"{args.out}/{SOUP}", "--models", *(f"{args.out}/{m}" for m in SOUP_MEMBERS)]
    return argv + common_args(args)


def soup_done(out: Path) -> bool:
    run = RunDir(out)
    return run.has_config() and "soup_seconds" in run.read_config()


def stage_args(name: str, args) -> list[str]:
    template = dict(STAGES)[name]
    values = {"out": args.out, "first_epochs": str(args.first_epochs), "first_lr": repr(args.first_lr)}
    argv = ["--data", args.data, "--out", f"{args.out}/{name}", "--resume", "--quiet"]
    if name == "first":
        argv += ["--weights", args.weights]
    if args.ferplus:
        argv += ["--ferplus", args.ferplus]
    return argv + common_args(args) + [a.format(**values) for a in template]


#: the app's answer of a two-head model (plan v20, docs/real_faces.md): the crowd head divided by its learned prior
ANSWER = ["--weights", "crowd=1", "--prior-power", "1", "--name", "balanced"]


def answer_args(model: str, args) -> list[str]:
    return ["--model", model, "--data", args.data] + common_args(args) + ANSWER


#: one JSON object per line: a step's start and end in every session that worked on the recipe's folder
LEDGER = "recipe_times.jsonl"
SUMMARY = "recipe_summary.json"


def _record(out: Path, entry: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LEDGER, "a") as f:
        f.write(json.dumps(entry) + "\n")


def run_step(step: str, module: str, argv: list[str], out: Path) -> int:
    """``python -m module argv`` in a fresh process; its start, wall time and peak RSS go to ``out/LEDGER``.

    The peak is the largest resident set of the step's process and of every process it waited for (a
    training run's calibration), measured by the step itself (``training.step_runner``).
    """
    t0 = time.time()
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # one key per attempt
    _record(out, {"step": step, "event": "start", "started": stamp, "pid": os.getpid()})
    peak_file = out / f".peak_{os.getpid()}_{step}.json"
    peak_file.unlink(missing_ok=True)
    code = subprocess.call([sys.executable, "-m", "training.step_runner", str(peak_file), module, *argv])
    peak = json.loads(peak_file.read_text())["peak_rss_mb"] if peak_file.is_file() else None
    peak_file.unlink(missing_ok=True)
    _record(out, {"step": step, "event": "end", "started": stamp, "pid": os.getpid(),
                  "seconds": round(time.time() - t0, 1), "peak_rss_mb": peak, "exit_code": code})
    return code


def summarise(out: Path) -> dict:
    """Adds up ``out/LEDGER``: seconds per step and in all, the largest peak RSS, the steps a kill cut.

    A step is matched to its end by the session (``pid``) and its start time; a start with no end is a
    step that was killed, whose time is unknown (a training stage's ``history.csv`` still has its epochs).
    A step is failed while its latest attempt failed; one that failed (or was stopped) and then finished
    in a later attempt is listed as retried, and the time of every attempt is counted.
    """
    starts, ends = {}, {}
    for line in (out / LEDGER).read_text().splitlines():
        if line.strip():
            e = json.loads(line)
            (starts if e["event"] == "start" else ends)[(e["pid"], e["started"], e["step"])] = e
    steps: dict[str, float] = {}
    latest_code: dict[str, int] = {}
    ever_failed: set[str] = set()
    for e in ends.values():  # in ledger order
        steps[e["step"]] = round(steps.get(e["step"], 0.0) + e["seconds"], 1)
        latest_code[e["step"]] = e["exit_code"]
        if e["exit_code"] != 0:
            ever_failed.add(e["step"])
    peaks = [e["peak_rss_mb"] for e in ends.values() if e.get("peak_rss_mb") is not None]
    seconds = round(sum(steps.values()), 1)
    return {"seconds": seconds, "hours": round(seconds / 3600, 2), "steps_seconds": steps,
            "peak_rss_mb": max(peaks) if peaks else None, "sessions": len({k[0] for k in starts}),
            "failed_steps": sorted(step for step, code in latest_code.items() if code != 0),
            "retried_steps": sorted(step for step in ever_failed if latest_code[step] == 0),
            "cut_steps": sorted(k[2] for k in starts if k not in ends)}


def write_summary(out: Path) -> dict:
    summary = summarise(out)
    (out / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    notes = "".join(f", {what}: {summary[key]}" for what, key in (("failed", "failed_steps"), ("retried", "retried_steps"),
                                                                    ("cut by a kill", "cut_steps"))
                    if summary[key])
    logging.info("recipe so far: %.2f h over %d session(s), peak RSS %s MB%s (%s)", summary["hours"], summary["sessions"],
                 summary["peak_rss_mb"], notes, out / SUMMARY)
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.recipe", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="FER-2013 root (train/ and test/ folders) or fer2013.csv")
    p.add_argument("--weights", default="imagenet", help="ImageNet MobileNetV2 weights: 'imagenet' or a .weights.h5 file")
    p.add_argument("--out", default="runs/recipe", help="one subfolder per stage (default runs/recipe)")
    p.add_argument("--first-epochs", type=int, default=FIRST_EPOCHS,
                   help=f"fine-tuning epochs of the first stage first (default {FIRST_EPOCHS}, the shipped model's)")
    p.add_argument("--first-lr", type=float, default=FIRST_LR,
                   help=f"peak learning rate of the first stage first (default {FIRST_LR}, the shipped model's)")
    p.add_argument("--ferplus", default=str(SHIPPED_VOTES),
                   help="FER+ crowd votes (ferplus_votes.csv[.gz]): every stage also trains the crowd head; default: the "
                        "votes shipped for the Kaggle folders (training/ferplus_votes.csv.gz); none: one head only")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up notices in every step")
    args = p.parse_args(argv)
    if args.first_epochs < 1:
        p.error("--first-epochs must be at least 1")
    allowed = outside_range("lr", args.first_lr)  # the first stage's --lr, checked before any step starts
    if allowed:
        p.error(f"--first-lr must be {allowed}, got {args.first_lr}")
    # checked before anything is written under --out (a stage would only fail after creating the ledger)
    if not Path(args.data).exists():
        p.error(f"--data {args.data}: no such file or folder")
    if args.ferplus.lower() == "none":
        args.ferplus = None
    if args.ferplus and not Path(args.ferplus).is_file():
        p.error(f"--ferplus {args.ferplus}: no such votes file (FER+ votes: ferplus_votes.csv)")
    if args.weights not in ("imagenet", "none") and not Path(args.weights).is_file():
        p.error(f"--weights {args.weights}: no such file (or 'imagenet' to download them)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    out = Path(args.out)
    try:
        return _run(args, out)
    finally:
        if (out / LEDGER).is_file():
            write_summary(out)


def _run(args, out: Path) -> int:
    for name, _ in STAGES:
        logging.info("stage %s", name)
        code = run_step(name, "training.train", stage_args(name, args), out)
        if code:
            return code
    if not soup_done(out / SOUP):
        logging.info("stage %s", SOUP)
        code = run_step(SOUP, "training.soup", soup_args(args), out)
        if code:
            return code
    shipped = str(out / SOUP)
    data = ["--data", args.data] + common_args(args)
    code = run_step("export", "training.export", ["--model", shipped] + data, out)
    if code:
        return code
    if args.ferplus:
        code = run_step("answer", "training.answer", answer_args(shipped, args), out)
        if code:
            return code
    return run_step("evaluate", "training.evaluate", ["--model", shipped, "--tta", "--out", shipped] + data, out)


if __name__ == "__main__":
    sys.exit(main())
