"""How sharp are augmented training faces, against the faces the model is evaluated on?

Sharpness = mean absolute Laplacian of a face (high-frequency content). Every augmentation in
``training.data.AUGMENTATIONS`` runs at strength 1.0 on the same validation faces; the script prints each
one's sharpness as a share of the un-augmented faces'. Validation faces only (no model involved).

    python benchmarks/augmentation_sharpness.py --data ../shared/fer2013 [--faces 1024]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def sharpness(faces) -> float:
    import cv2

    return float(np.mean([np.abs(cv2.Laplacian(np.asarray(f, np.float32), cv2.CV_32F)).mean() for f in faces]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--faces", type=int, default=1024)
    p.add_argument("--strength", type=float, default=1.0)
    args = p.parse_args(argv)

    import keras

    from training.data import AUGMENTATIONS, load_split, make_augmenter

    faces = load_split(args.data, "val").x[:args.faces]
    base = sharpness(faces)
    print(f"{len(faces)} validation faces, sharpness {base:.1f} (mean |Laplacian|)")
    for kind in AUGMENTATIONS:
        keras.utils.set_random_seed(0)
        out = np.asarray(make_augmenter(args.strength, 0, kind)(faces[..., None].astype(np.float32)))[..., 0]
        print(f"{kind:>16}: {sharpness(out):5.1f} = {sharpness(out) / base:.2f} of the original")
    return 0


if __name__ == "__main__":
    sys.exit(main())
