"""How sharp are augmented training faces, against the faces the model is evaluated on?

Sharpness = mean absolute Laplacian of a face (high-frequency content). Two augmentations with the same
ranges run at strength 1.0 on the same validation faces: "affine-once-v2" (``training.augment``, one warp per
face, what training uses) and "keras-chain-v1" (the chain of Keras preprocessing layers training used
before, each resampling the face; defined here); the script prints each one's sharpness as a share of the
un-augmented faces'. Validation faces only (no model involved).

    python -m research.augmentation_sharpness --data ../shared/fer2013 [--faces 1024]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np



def sharpness(faces) -> float:
    import cv2

    return float(np.mean([np.abs(cv2.Laplacian(np.asarray(f, np.float32), cv2.CV_32F)).mean() for f in faces]))


def keras_chain(strength: float = 1.0, seed: int = 0):
    """"keras-chain-v1": Keras preprocessing layers, one bilinear resampling per geometric layer."""
    import keras
    from keras import layers

    s = strength
    chain = keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(10 / 360 * s, fill_mode="reflect", seed=seed + 1),
        layers.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="reflect", seed=seed + 2),
        layers.RandomZoom(0.1 * s, fill_mode="reflect", seed=seed + 3),
        layers.RandomContrast(0.2 * s, value_range=(0, 255), seed=seed + 4),
        layers.RandomBrightness(0.1 * s, value_range=(0, 255), seed=seed + 5),
    ], name="augment")
    return lambda x: np.clip(np.asarray(chain(x, training=True)), 0.0, 255.0)


def augmenters(strength: float = 1.0, seed: int = 0) -> dict:
    """{name: function (N, 48, 48, 1) float faces -> augmented}, for both augmentations."""
    from training.augment import make_augmenter

    one_warp = make_augmenter(strength, seed)
    return {"keras-chain-v1": keras_chain(strength, seed), "affine-once-v2": lambda x: np.asarray(one_warp(x))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--faces", type=int, default=1024)
    p.add_argument("--strength", type=float, default=1.0)
    args = p.parse_args(argv)

    import keras

    from training.data import load_split

    faces = load_split(args.data, "val").x[:args.faces]
    base = sharpness(faces)
    print(f"{len(faces)} validation faces, sharpness {base:.1f} (mean |Laplacian|)")
    for kind, augment in augmenters(args.strength).items():
        keras.utils.set_random_seed(0)
        out = augment(faces[..., None].astype(np.float32))[..., 0]
        print(f"{kind:>16}: {sharpness(out):5.1f} = {sharpness(out) / base:.2f} of the original")
    return 0


if __name__ == "__main__":
    sys.exit(main())
