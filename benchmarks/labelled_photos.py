"""The shared photos with an obvious emotion, read by two models side by side (each head of each).

    python -m benchmarks.labelled_photos --models runs/soup24v2 models [--photos ../shared/photos]

``labels.csv`` names an emotion for 15 of the 40 photos. For each model and each of its heads, the largest
face of each photo is classified as the app does (MTCNN, 10-view TTA) and the labelled emotion is scored:
top-1 hits, top-2 hits, and the probability given to it (median). Prints one row per model and head, then
the photos whose top answer differs between the first model's app head and the last model's.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

from fer_app.model import EmotionClassifier
from fer_app.pipeline import analyze


def read_labelled(photos: Path) -> list[tuple[str, str]]:
    with open(photos / "labels.csv", newline="") as fh:
        return [(r["filename"], r["emotion"]) for r in csv.DictReader(fh) if r["emotion"]]


def score(clf: EmotionClassifier, photos: Path, rows) -> tuple[dict, dict]:
    """({top1, top2, median_p, n}, {filename: top answer}) for the largest face of each labelled photo."""
    top1 = top2 = 0
    probs, answers = [], {}
    for name, emotion in rows:
        faces = analyze(photos / name, tta=True, classifier=clf)
        if not faces:
            answers[name] = "(no face)"
            continue
        main = max(faces, key=lambda f: f.box[2] * f.box[3])
        ranked = sorted(main.probabilities, key=main.probabilities.get, reverse=True)
        top1 += ranked[0] == emotion
        top2 += emotion in ranked[:2]
        probs.append(main.probabilities[emotion])
        answers[name] = ranked[0]
    return {"top1": top1, "top2": top2, "median_p": statistics.median(probs) if probs else 0.0, "n": len(rows)}, answers


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.labelled_photos", description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["models"], help="model folders (the first is the reference)")
    p.add_argument("--photos", default="../shared/photos")
    args = p.parse_args(argv)
    photos = Path(args.photos)
    rows = read_labelled(photos)
    print(f"{len(rows)} labelled photos in {photos}; largest face, MTCNN, 10-view TTA")
    print(f"{'model':<28}{'head':<10}{'app head':>9}{'top-1':>8}{'top-2':>8}{'median p(label)':>17}")
    first_answers = last_answers = None
    for path in args.models:
        clf = EmotionClassifier(path, backend="tflite")
        for head in clf.heads:
            s, answers = score(clf.with_head(head), photos, rows)
            is_app = head == clf.head
            print(f"{path:<28}{head:<10}{'yes' if is_app else '':>9}{s['top1']:>5}/{s['n']}{s['top2']:>5}/{s['n']}"
                  f"{s['median_p']:>17.2f}")
            if is_app:
                first_answers = first_answers or answers
                last_answers = answers
    changed = [(n, e) for n, e in rows if first_answers[n] != last_answers[n]]
    print(f"photos whose app-head answer changed ({len(changed)}):")
    for name, emotion in changed:
        print(f"  {name}: label {emotion}; {first_answers[name]} -> {last_answers[name]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
