"""Build step: rewrite the shipped model's figures in ``models/`` after ``training.ship`` (writes into models/).

    python -m scripts.refresh_model_figures --data FER2013 --real-faces REAL_FACES

Runs, one after the other, each in its own process:

1. ``training.evaluate --tta --out models``: metrics.json (both truths, the app's answer, validation), the
   confusion matrices and the test-face galleries;
2. ``benchmarks.real_faces --json models/real_faces.json`` (with ``--real-faces``): the app's answer on real
   photographs, which the Model page and the card show;
3. ``benchmarks.explain_faithfulness --out models``: explain_average.png and explain_metrics.json.

The Model page, the card's tables and ``tests/test_shipped_model.py`` read these files; the card's prose is edited by
hand. About 15 minutes on this project's 2-core machine, most of it the explanations' deletion test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def steps(data: str, real_faces: str | None, models: str) -> list[list[str]]:
    out = [["training.evaluate", "--data", data, "--tta", "--out", models]]
    if real_faces:
        out.append(["benchmarks.real_faces", "--data", real_faces, "--fer2013", data, "--model", models,
                    "--json", str(Path(models) / "real_faces.json")])
    out.append(["benchmarks.explain_faithfulness", "--data", data, "--model", models, "--out", models])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.refresh_model_figures", description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="FER-2013 (Kaggle folders or fer2013.csv)")
    p.add_argument("--real-faces", default=None, help="the real-face development set (photos + labels.csv)")
    p.add_argument("--models", default="models", help="the model folder to refresh (default models/)")
    args = p.parse_args(argv)
    for step in steps(args.data, args.real_faces, args.models):
        print("$ python -m " + " ".join(step), flush=True)
        code = subprocess.call([sys.executable, "-m", *step], cwd=ROOT)
        if code:
            print(f"error: {step[0]} stopped with exit code {code}; the files it had not written yet are unchanged",
                  file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
