"""Training throughput of the classifier on this machine (images/second, full fine-tune).

    python -m benchmarks.train_throughput --sizes 48 64 96 --alphas 1.0 --steps 12
    python -m benchmarks.train_throughput --sizes 96 --precisions float32 mixed_bfloat16
    python -m benchmarks.train_throughput --sizes 96 --jit off xla --repeats 3

Random data, batch 128, Adam, the same model as training.model; the first 3 steps are warm-up.
``--precisions``: Keras dtype policies; ``mixed_bfloat16`` computes in bfloat16 (this CPU has AVX512-BF16)
with float32 weights; the loss casts the output to float32 itself (Keras losses compute in floatx).
``--jit``: ``off`` is Keras' default on a CPU-only machine (no XLA), ``xla`` compiles the train step with XLA
(``jit_compile=True``); ``--repeats`` runs the whole list again, alternating, so that the machine's drift
falls on every setting alike.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[48, 64, 96])
    p.add_argument("--alphas", type=float, nargs="+", default=[1.0])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--precisions", nargs="+", default=["float32"], choices=["float32", "mixed_bfloat16"])
    p.add_argument("--jit", nargs="+", default=["off"], choices=["off", "xla"])
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    import keras
    import numpy as np
    import tensorflow as tf

    from training.model import build_model

    x = np.random.default_rng(0).integers(0, 256, (args.batch_size, 48, 48, 1)).astype(np.float32)
    y = tf.one_hot(np.arange(args.batch_size) % 7, 7)
    print(f"{'precision':>15} {'jit':>4} {'size':>5} {'alpha':>6} {'img/s':>8} {'min/epoch(25.8k)':>17}")
    settings = itertools.product(range(args.repeats), args.precisions, args.jit, args.alphas, args.sizes)
    for _, precision, jit, alpha, size in settings:
        keras.mixed_precision.set_global_policy(precision)
        model = build_model(size, alpha, None)
        model.compile(keras.optimizers.Adam(1e-4), "categorical_crossentropy", jit_compile=jit == "xla")
        times = []
        for _ in range(args.steps):
            t = time.perf_counter()
            model.train_on_batch(x, y)
            times.append(time.perf_counter() - t)
        ips = args.batch_size / statistics.median(times[3:])
        print(f"{precision:>15} {jit:>4} {size:>5} {alpha:>6} {ips:>8.0f} {25837 / ips / 60:>17.1f}", flush=True)


if __name__ == "__main__":
    main()
