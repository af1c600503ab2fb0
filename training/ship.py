"""Copy a finished, exported and evaluated run into the app's model folder.

``python -m training.ship --model runs/recipe/d96 [--to models]``

Copies ``model.keras``, ``model.tflite``, ``config.json``, ``metrics.json``, ``confusion_matrix.png`` and
``tflite_check.json``, and writes ``history.csv`` as the model's whole lineage: a run started from
another model's weights (``--init-from``) gets that model's history up to the epoch whose weights it
started from, then its own epochs, numbered on from there. ``MODEL_CARD.md`` is left as it is (it is
written by hand).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from training.distill import model_file
from training.train import read_history, write_history

FILES = ("model.keras", "model.tflite", "config.json", "metrics.json", "confusion_matrix.png", "tflite_check.json")


def lineage(run_dir: Path, upto_epoch: int | None = None, depth: int = 0) -> list[dict]:
    """History rows of ``run_dir`` preceded by those of the model it started from (recursively)."""
    if depth > 10:
        raise ValueError(f"{run_dir}: --init-from chain is too deep (a cycle?)")
    config = json.loads((run_dir / "config.json").read_text())
    own = read_history(run_dir / "history.csv", upto_epoch if upto_epoch is not None else 10**9)
    parent = config.get("settings", {}).get("init_from")
    if not parent:
        return own
    parent_dir = model_file(parent).parent
    if not (parent_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} started from {parent}, which has no config.json: its history cannot be traced")
    parent_best = int(json.loads((parent_dir / "config.json").read_text())["best_epoch"])
    before = lineage(parent_dir, parent_best, depth + 1)
    offset = int(before[-1]["epoch"]) if before else 0
    return before + [dict(r, epoch=int(r["epoch"]) + offset) for r in own]


def ship(run_dir: Path, to: Path) -> list[str]:
    missing = [f for f in FILES if not (run_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir} lacks {', '.join(missing)}: run training.export and "
                                f"training.evaluate --tta --out {run_dir} first")
    rows = lineage(run_dir)
    to.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copyfile(run_dir / f, to / f)
    write_history(to / "history.csv", rows)
    return [*FILES, "history.csv"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.ship", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="the run directory to ship")
    p.add_argument("--to", default="models", help="destination (default models/)")
    args = p.parse_args(argv)
    try:
        copied = ship(Path(args.model), Path(args.to))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"shipped {args.model} -> {args.to}: {', '.join(copied)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
