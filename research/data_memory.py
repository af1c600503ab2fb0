"""Peak memory of the training data pipeline alone (no model): load + one augmented epoch.

    python -m research.data_memory --data ../shared/fer2013 [--batch-size 128]

The pipeline holds only uint8 48x48 faces; resizing to the network's input happens inside the model,
so this figure does not depend on --img-size. Prints the process's peak RSS (``training.memory``).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    import tensorflow as tf  # noqa: F401  (counted in the baseline)

    from training.augment import augment_dataset
    from training.data import load_split, make_dataset
    from training.memory import peak_rss_mb as rss_mb

    base = rss_mb()
    t = time.time()
    train = load_split(args.data, "train")
    print(f"loaded {len(train)} faces ({train.x.nbytes / 1e6:.0f} MB of uint8) in {time.time() - t:.1f} s; "
          f"peak RSS {rss_mb():.0f} MB (TensorFlow imported: {base:.0f} MB)")
    t = time.time()
    n = 0
    for x, _ in make_dataset(train, args.batch_size, True, 0, lambda ds: augment_dataset(ds, 1.0, 0)):
        n += int(x.shape[0])
    print(f"one augmented epoch of {n} faces in {time.time() - t:.1f} s; peak RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
