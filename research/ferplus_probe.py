"""How far FER+'s crowd majority can be read from a trained model's frozen features (a linear probe).

    python -m research.ferplus_probe [--model runs/soup24v2] [--data ../shared/fer2013]
        [--votes ../shared/fer2013/ferplus_votes.csv]

Needs requirements-train.txt. The model's pooled features (1280 per face, single view) are computed for the
training and validation faces; a new softmax layer (dropout 0.3, Adam 1e-3, 30 epochs) is fitted on the
training faces' crowd targets (``training.ferplus.mixed_targets``) for several ``lam``, and judged on
validation: FER+ majority accuracy (faces with a unique 7-class majority) and FER-2013 label accuracy. It says
whether the crowd head needs the backbone to move (docs/research/plans/v18_plan.txt); test is never read.
"""

from __future__ import annotations

import argparse

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m research.ferplus_probe", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="models")
    p.add_argument("--data", default="../shared/fer2013")
    p.add_argument("--votes", default="../shared/fer2013/ferplus_votes.csv")
    p.add_argument("--lams", type=float, nargs="+", default=[0.0, 0.3, 0.5])
    args = p.parse_args(argv)
    from training.quiet import quiet_tensorflow

    quiet_tensorflow(False)
    import keras

    from training.data import load_model_splits
    from training.ferplus import crowd_labels, mixed_targets, read_votes
    from training.run_dir import RunDir, model_file

    train, val = load_model_splits(args.data, RunDir.of(args.model).settings())
    votes = read_votes(args.votes)
    model = keras.models.load_model(model_file(args.model), compile=False)
    features = keras.Model(model.input, model.get_layer("pool").output)
    f_train, f_val = (features.predict(s.x[..., None].astype("float32"), batch_size=256, verbose=0) for s in (train, val))
    crowd_train, majority = crowd_labels(train, votes), crowd_labels(val, votes).majority()
    known = majority >= 0
    print(f"{len(train)} train / {len(val)} val faces; {int(known.sum())} val faces with a unique 7-class majority")
    for lam in args.lams:
        keras.utils.set_random_seed(0)
        head = keras.Sequential([keras.Input((f_train.shape[1],)), keras.layers.Dropout(0.3),
                                 keras.layers.Dense(7, activation="softmax")])
        head.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy")
        head.fit(f_train, mixed_targets(train.y, crowd_train, lam), batch_size=256, epochs=30, verbose=0)
        pred = head.predict(f_val, verbose=0).argmax(axis=1)
        print(f"lam {lam:.1f}: FER+ majority {np.mean(pred[known] == majority[known]) * 100:.1f} %, "
              f"FER-2013 labels {np.mean(pred == val.y) * 100:.1f} % (validation, single view)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
