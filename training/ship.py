"""Copy a finished, exported and evaluated run into the app's model folder.

``python -m training.ship --model runs/recipe/soup [--to models]``

Copies ``model.keras``, ``model.tflite``, ``config.json``, ``metrics.json``, ``confusion_matrix.png`` and
``tflite_check.json``, the evaluation's other figures where the run has them (``confusion_matrix_ferplus.png``,
``gallery_<emotion>.png``, the explanation figures; a figure the run lacks is removed from the destination, so that
no page shows another model's), and writes ``history.csv`` as the model's whole lineage: a run started from
another model's weights (``--init-from``) gets that model's history up to the epoch whose weights it
started from, then its own epochs, numbered on from there. ``MODEL_CARD.md`` is left as it is (it is
written by hand).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from fer_app.labels import EMOTIONS
from fer_app.model import ModelLoadError
from training.run_dir import RunDir

FILES = ("model.keras", "model.tflite", "config.json", "metrics.json", "confusion_matrix.png", "tflite_check.json")
#: figures copied where the run has them and removed from the destination where it does not; the explanation
#: figures are written into models/ by ``benchmarks.explain_faithfulness --out models`` after shipping
FIGURES = ("confusion_matrix_ferplus.png", *(f"gallery_{e}.png" for e in EMOTIONS),
           "explain_average.png", "explain_metrics.json")


def ship(run_dir: Path, to: Path) -> list[str]:
    missing = [f for f in FILES if not (run_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir} lacks {', '.join(missing)}: run training.export and "
                                f"training.evaluate --tta --out {run_dir} first")
    rows = RunDir(run_dir).lineage()
    to.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copyfile(run_dir / f, to / f)
    figures = []
    for f in FIGURES:
        if (run_dir / f).is_file():
            shutil.copyfile(run_dir / f, to / f)
            figures.append(f)
        else:
            (to / f).unlink(missing_ok=True)
    RunDir(to).write_history(rows)
    return [*FILES, *figures, "history.csv"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.ship", description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="the run directory to ship")
    p.add_argument("--to", default="models", help="destination (default models/)")
    args = p.parse_args(argv)
    try:
        copied = ship(Path(args.model), Path(args.to))
    except (FileNotFoundError, ModelLoadError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"shipped {args.model} -> {args.to}: {', '.join(copied)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
