"""Can two fine-tuned models be averaged into one ("model soup")? Validation accuracy only.

    python benchmarks/weight_average.py --data ../shared/fer2013 --models runs/m96 runs/r96

Both models must share the architecture (same input size and alpha) and the default validation split.
Averages every weight (BatchNorm statistics included), then re-estimates the BatchNorm statistics on 50
training batches (momentum 0.9), and prints the validation accuracy (no TTA) of each step. A soup would
ship at a single model's size; an ensemble doubles it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from training.data import load_split  # noqa: E402


def main() -> None:
    import keras

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--models", nargs=2, required=True)
    args = p.parse_args()
    val, train = load_split(args.data, "val"), load_split(args.data, "train")
    x = val.x[..., None].astype(np.float32)
    models = [keras.models.load_model(Path(d) / "model.keras", compile=False) for d in args.models]

    def acc(m) -> float:
        return round(float((m.predict(x, batch_size=256, verbose=0).argmax(1) == val.y).mean()), 4)

    result = {d: acc(m) for d, m in zip(args.models, models)}
    soup = models[0]
    soup.set_weights([0.5 * (u + v) for u, v in zip(models[0].get_weights(), models[1].get_weights())])
    result["average"] = acc(soup)
    rng = np.random.default_rng(0)
    for _ in range(50):
        soup(train.x[rng.choice(len(train), 128, replace=False)][..., None].astype(np.float32), training=True)
    result["average, BatchNorm re-estimated"] = acc(soup)
    for k, v in result.items():
        print(f"{k:<34} val accuracy {v:.4f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
