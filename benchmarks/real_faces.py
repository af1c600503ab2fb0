"""What the app answers on real photographs: candidate answers side by side, on real faces and on validation.

    python -m benchmarks.real_faces --data ../shared/real_faces [--fer2013 ../shared/fer2013] [--json out.json]

``--data``: a folder of photographs with ``labels.csv`` (``filename,emotion,...``; one clear expression each).
Each photo goes through the app's photo path (``fer_app.pipeline.detect``: MTCNN, faces from 20 px; the largest
face; ``fer_app.faces.crop_face``; 10-view TTA); a photo where no face is found counts as a miss. Every candidate
answer of plan v20 (``docs/research/plans/v20_plan.txt``) is computed from the same pass of the shipped network
through :func:`fer_app.answers.combine`, the function the app uses, and scored: top-1, top-2, macro-F1, recall
per emotion, the confusion matrix, and how many non-neutral faces are answered neutral. With ``--fer2013`` each
candidate is also scored on the validation split (carved from train; test is never read here) against FER+'s
crowd majority and FER-2013's labels, the priors are fitted there (``training.answer``), and plan v20's rule is
applied. Results: ``docs/real_faces.md``. Needs requirements-train.txt (scikit-learn).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from fer_app.answers import combine
from fer_app.faces import crop_face
from fer_app.labels import EMOTIONS, INDEX
from fer_app.model import EmotionClassifier, ModelLoadError
from fer_app.pipeline import detect
from fer_app.io import load_image
from fer_app.preprocess import prepare_batch

#: Plan v20's candidates, in its order: (name, head weights, prior power).
CANDIDATES = (
    ("crowd", {"crowd": 1.0}, 0.0),
    ("fer2013", {"fer2013": 1.0}, 0.0),
    ("fused", {"crowd": 0.5, "fer2013": 0.5}, 0.0),
    ("crowd/prior", {"crowd": 1.0}, 1.0),
    ("fer2013/prior", {"fer2013": 1.0}, 1.0),
    ("fused/prior", {"crowd": 0.5, "fer2013": 0.5}, 1.0),
    ("crowd/sqrt-prior", {"crowd": 1.0}, 0.5),
    ("fused/sqrt-prior", {"crowd": 0.5, "fer2013": 0.5}, 0.5),
)
NEUTRAL = INDEX["neutral"]
MISS = -1  # no face found


def read_labels(folder: Path) -> list[tuple[str, str]]:
    with open(folder / "labels.csv", newline="") as fh:
        return [(r["filename"], r["emotion"]) for r in csv.DictReader(fh) if r["emotion"] in INDEX]


def largest_faces(folder: Path, rows) -> tuple[np.ndarray, np.ndarray]:
    """(prepared faces (M, 48, 48, 1) of the photos where one was found, found mask (N,)) on the app's path."""
    crops, found = [], []
    for name, _ in rows:
        rgb = load_image(folder / "photos" / name if (folder / "photos" / name).is_file() else folder / name)
        dets = detect(rgb)
        found.append(bool(dets))
        if dets:
            main = max(dets, key=lambda d: d.box[2] * d.box[3])
            crops.append(crop_face(rgb, main))
    return prepare_batch(crops), np.array(found)


def real_face_scores(probs: np.ndarray, found: np.ndarray, y: np.ndarray) -> dict:
    """Scores of one answer; ``probs`` has a row per found face, photos without one are misses."""
    from sklearn.metrics import confusion_matrix, f1_score, recall_score

    pred = np.full(len(y), MISS)
    pred[found] = probs.argmax(axis=1)
    second = np.full(len(y), MISS)
    second[found] = np.argsort(probs, axis=1)[:, -2]
    labels = list(range(len(EMOTIONS)))
    recall = recall_score(y, pred, labels=labels, average=None, zero_division=0)
    non_neutral = y != NEUTRAL
    return {
        "n": int(len(y)), "no_face": int((~found).sum()),
        "top1": int((pred == y).sum()), "top2": int(((pred == y) | (second == y)).sum()),
        "macro_f1": round(float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)), 4),
        "recall": {name: round(float(r), 4) for name, r in zip(EMOTIONS, recall)},
        "non_neutral": int(non_neutral.sum()), "called_neutral": int((pred[non_neutral] == NEUTRAL).sum()),
        # rows: true emotion; columns: the 7 answers, then "no face"
        "confusion": confusion_matrix(y, np.where(pred == MISS, len(EMOTIONS), pred),
                                      labels=labels + [len(EMOTIONS)])[:len(EMOTIONS)].tolist(),
    }


def validation_scores(probs: np.ndarray, labels: np.ndarray, majority: np.ndarray) -> dict:
    known = majority >= 0
    pred = probs.argmax(axis=1)
    v_plus, v = float((pred[known] == majority[known]).mean()), float((pred == labels).mean())
    return {"val_ferplus": round(v_plus, 4), "val_fer2013": round(v, 4), "val_mean": round((v_plus + v) / 2, 4)}


def choose(results: dict) -> tuple[str, str]:
    """Plan v20's rule -> (chosen answer, the reason in one line)."""
    base = results["crowd"]
    eligible = [name for name, r in results.items() if r["val_mean"] >= base["val_mean"] - 0.01]
    order = list(results)
    best = min(eligible, key=lambda n: (-results[n]["top1"], results[n]["called_neutral"], order.index(n)))
    if results[best]["top1"] - base["top1"] < 4:
        return "crowd", f"{best} ({results[best]['top1']}) does not beat crowd ({base['top1']}) by 4 photos"
    return best, f"{best}: highest real-face top-1 among {len(eligible)} eligible, +{results[best]['top1'] - base['top1']} photos"


def print_table(results: dict, app: str) -> None:
    print(f"{'answer':<18}{'top-1':>12}{'top-2':>8}{'macro-F1':>9}{'min recall':>11}{'->neutral':>10}"
          f"{'val FER+':>9}{'val FER':>8}{'val mean':>9}")
    for name, r in results.items():
        n = r["n"]
        val = (f"{r['val_ferplus'] * 100:>8.1f}%{r['val_fer2013'] * 100:>7.1f}%{r['val_mean'] * 100:>8.1f}%"
               if "val_mean" in r else "")
        print(f"{name + (' (app)' if name == app else ''):<18}{r['top1']:>4}/{n} {r['top1'] / n * 100:4.1f}%"
              f"{r['top2']:>4}/{n}{r['macro_f1']:>9.3f}{min(r['recall'].values()):>11.2f}"
              f"{r['called_neutral']:>4}/{r['non_neutral']}{val}")
    print("\nrecall per emotion:")
    print(f"{'answer':<18}" + "".join(f"{e:>9}" for e in EMOTIONS))
    for name, r in results.items():
        print(f"{name:<18}" + "".join(f"{r['recall'][e]:>9.2f}" for e in EMOTIONS))


def print_confusion(name: str, r: dict) -> None:
    print(f"\nconfusion of {name} (rows: true, columns: answered; last column: no face found)")
    print(f"{'':<10}" + "".join(f"{e[:7]:>8}" for e in EMOTIONS) + f"{'no face':>8}")
    for e, row in zip(EMOTIONS, r["confusion"]):
        print(f"{e:<10}" + "".join(f"{v:>8}" for v in row))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.real_faces", description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/real_faces", help="photos + labels.csv")
    p.add_argument("--model", default="models")
    p.add_argument("--fer2013", default=None, help="FER-2013: validation figures, priors and plan v20's rule")
    p.add_argument("--votes", default=None, help="FER+ votes (default: ferplus_votes.csv in --fer2013)")
    p.add_argument("--json", default=None, help="write every figure to this file")
    args = p.parse_args(argv)
    folder = Path(args.data)
    rows = read_labels(folder)
    y = np.array([INDEX[e] for _, e in rows])
    try:  # a run folder before training.export has only model.keras: then Keras runs it (requirements-train.txt)
        clf = EmotionClassifier(args.model, backend="auto")
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    x, found = largest_faces(folder, rows)
    heads = clf.predict_heads(x, tta=True)
    priors, val_truth = None, None
    if args.fer2013:
        from training.answer import head_priors, validation_head_probs
        from training.ferplus import crowd_labels, read_votes

        val, val_heads = validation_head_probs(clf, args.fer2013)
        priors = head_priors(val_heads)
        votes = args.votes or Path(args.fer2013) / "ferplus_votes.csv"
        val_truth = (val_heads, val.y, crowd_labels(val, read_votes(votes)).majority())
    results = {}
    for name, weights, power in CANDIDATES:
        if power and priors is None:
            continue
        results[name] = real_face_scores(combine(heads, weights, priors, power), found, y)
        if val_truth:
            results[name].update(validation_scores(combine(val_truth[0], weights, priors, power), *val_truth[1:]))
    app = clf.head
    if app not in results:  # a combined answer in the model's config: scored as the app's classifier computes it
        results[app] = real_face_scores(clf.answer_from_heads(heads), found, y)
    print(f"{len(rows)} photos in {folder} ({int((~found).sum())} without a face found); largest face, MTCNN, "
          f"10-view TTA; model {args.model}")
    print_table(results, app)
    for name in dict.fromkeys([app, "crowd"]):
        print_confusion(name, results[name])
    if val_truth:
        chosen, why = choose({k: v for k, v in results.items() if "val_mean" in v})
        print(f"\nplan v20's rule chooses: {chosen} ({why})")
        print_confusion(chosen, results[chosen])
    if args.json:  # models/real_faces.json is what the Model page and the card show
        counts = {e: int((y == INDEX[e]).sum()) for e in EMOTIONS}
        Path(args.json).write_text(json.dumps({"set": folder.name, "photos": len(rows), "per_emotion": counts,
                                               "app": app, "priors": priors, "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
