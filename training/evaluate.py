"""Evaluate a trained classifier: ``python -m training.evaluate [--model PATH] --data PATH [--split test]``.

Reports accuracy, macro-F1, per-class precision/recall/F1/support, the confusion matrix (rows = true,
columns = predicted) and calibration (ECE, NLL). Predictions go through ``fer_app.model`` exactly as in
the app, so the temperature stored with the model is applied. ``--tta`` averages each face over the app's
test-time views (``fer_app.preprocess.tta_views``: five 1-pixel shifts, each mirrored). ``--json`` prints
one JSON object; ``--out DIR`` writes ``metrics.json``, ``confusion_matrix.png`` and the
``gallery_<emotion>.png`` contact sheets (``training/gallery.py``). With ``--model`` omitted, the shipped model in ``models/`` is evaluated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from fer_app.calibration import expected_calibration_error, nll
from fer_app.labels import EMOTIONS
from fer_app.model import EmotionClassifier, ModelLoadError
from training.data import DatasetError, load_model_split
from training.ferplus import VotesError
from training.gallery import write_gallery
from training.quiet import native_stderr_hidden, quiet_tensorflow


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """accuracy, macro_f1, per-class precision/recall/f1/support and the confusion matrix (rows true, columns
    predicted), by scikit-learn; a class never predicted has precision 0."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(EMOTIONS)))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "macro_f1": float(f1.mean()),
        "per_class": {name: {"precision": round(float(p), 4), "recall": round(float(r), 4),
                             "f1": round(float(f), 4), "support": int(s)}
                      for name, p, r, f, s in zip(EMOTIONS, precision, recall, f1, support)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "labels": list(EMOTIONS),
        "n": int(len(y_true)),
    }


def evaluate(clf: EmotionClassifier, x: np.ndarray, y: np.ndarray, tta: bool = False, probs=None) -> dict:
    """The report's metrics for faces ``x`` (N, 48, 48) with labels ``y`` (or for their ``probs``, if given)."""
    if probs is None:
        probs = clf.predict_prepared(x[..., None], tta=tta)
    result = classification_metrics(y, probs.argmax(axis=1))
    result.update(ece=round(expected_calibration_error(probs, y), 4), nll=round(nll(probs, y), 4),
                  temperature=clf.temperature_tta if tta else clf.temperature, tta=tta)
    return result


def crowd_truth(head: str, majority: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> dict:
    """The second truth: metrics of ``probs`` against FER+'s crowd ``majority`` (``training.ferplus``; -1 where a
    face has no unique majority among the seven, left out and counted), from ``head``; ``labels`` are FER-2013's."""
    known = majority >= 0
    result = classification_metrics(majority[known], probs[known].argmax(axis=1))
    result.update(head=head, truth="ferplus_majority", left_out=int((~known).sum()),
                  fer2013_labels_agree=round(float((labels[known] == majority[known]).mean()), 4))
    return result


def both_truths(clf: EmotionClassifier, split, votes_path, tta: bool) -> tuple[dict, np.ndarray]:
    """(metrics, the FER-2013 head's probabilities): FER-2013's labels judge the FER-2013 head (the top level, as
    for a one-head model) and FER+'s crowd majority judges the crowd head (``ferplus``, with ``votes_path``);
    ``cross`` gives each head against the other truth; ``answer`` gives the app's answer against both truths when
    it is combined from the heads (``fer_app.answers``). A one-head model is judged by both truths alike. The
    network runs once over the faces for all of them."""
    heads = clf.predict_heads(split.x[..., None], tta=tta)
    fer2013 = clf.with_head("fer2013")
    probs = heads["fer2013"]
    m = evaluate(fer2013, split.x, split.y, tta=tta, probs=probs)
    m["head"] = "fer2013"
    combined = clf.head not in clf.network_heads
    answer = clf.answer_from_heads(heads) if combined else None
    if answer is not None:
        m["answer"] = {"head": clf.head, "fer2013_labels": _brief(classification_metrics(split.y, answer.argmax(axis=1)))}
    if votes_path is None:
        return m, probs
    from training.ferplus import crowd_labels, read_votes

    majority = crowd_labels(split, read_votes(votes_path)).majority()
    if not (majority >= 0).any():
        m["ferplus_missing"] = (f"none of these {len(split):,} faces has FER+ votes in {Path(votes_path).name} (votes are "
                                "matched by the Kaggle file name or the fer2013.csv row), so only FER-2013's labels "
                                "judge the model")
        return m, probs
    crowd_probs = heads.get("crowd", probs)
    m["ferplus"] = crowd_truth("crowd" if "crowd" in heads else "fer2013", majority, split.y, crowd_probs)
    if "crowd" in heads:
        on_crowd = crowd_truth(fer2013.head, majority, split.y, probs)
        on_labels = classification_metrics(split.y, crowd_probs.argmax(axis=1))
        m["cross"] = {"fer2013_head_on_ferplus_majority": {k: on_crowd[k] for k in ("accuracy", "macro_f1", "n")},
                      "crowd_head_on_fer2013_labels": {k: on_labels[k] for k in ("accuracy", "macro_f1", "n")}}
    if answer is not None:
        m["answer"]["ferplus_majority"] = _brief(crowd_truth(clf.head, majority, split.y, answer))
    return m, probs


def _brief(metrics: dict) -> dict:
    """Accuracy, macro-F1, count and recall per emotion of :func:`classification_metrics`' result."""
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "n": metrics["n"],
            "recall": {name: c["recall"] for name, c in metrics["per_class"].items()}}


def draw_confusion_matrix(cm, path: Path, title: str = "") -> None:
    """Row-normalised confusion matrix as a PNG heatmap with counts and percentages."""
    from PIL import Image, ImageDraw, ImageFont

    cm = np.asarray(cm, np.float64)
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k, cell, left, top = len(EMOTIONS), 78, 110, 70
    img = Image.new("RGB", (left + k * cell + 20, top + k * cell + 60), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    d.text((left, 10), title or "Confusion matrix (rows: true, columns: predicted)", fill="black", font=font)
    for j, name in enumerate(EMOTIONS):
        d.text((left + j * cell + 6, top - 22), name, fill="black", font=small)
        d.text((8, top + j * cell + cell // 2 - 8), name, fill="black", font=small)
    for i in range(k):
        for j in range(k):
            v = rows[i, j]
            shade = int(255 - 200 * v)
            colour = (shade, shade, 255) if i != j else (shade, 255, shade)
            x0, y0 = left + j * cell, top + i * cell
            d.rectangle([x0, y0, x0 + cell - 2, y0 + cell - 2], fill=colour)
            ink = "white" if v > 0.6 else "black"
            d.text((x0 + 8, y0 + 20), f"{v * 100:.0f}%", fill=ink, font=font)
            d.text((x0 + 8, y0 + 42), f"n={int(cm[i, j])}", fill=ink, font=small)
    d.text((left, top + k * cell + 15), "predicted emotion", fill="black", font=small)
    img.save(path)


def format_report(m: dict) -> str:
    lines = [f"n={m['n']}  accuracy={m['accuracy']:.4f}  macro-F1={m['macro_f1']:.4f}  "
             f"ECE={m['ece']:.4f}  NLL={m['nll']:.4f}  (T={m['temperature']:.3f}, TTA={'on' if m['tta'] else 'off'})",
             f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, c in m["per_class"].items():
        lines.append(f"{name:<10}{c['precision']:>10.4f}{c['recall']:>10.4f}{c['f1']:>10.4f}{c['support']:>10}")
    lines.append("confusion matrix (rows true, columns predicted; order " + ", ".join(EMOTIONS) + "):")
    lines += ["  " + " ".join(f"{v:>5}" for v in row) for row in m["confusion_matrix"]]
    return "\n".join(lines)


def summary(m: dict) -> dict:
    """Accuracy, macro-F1 and face count of each truth in :func:`both_truths`' metrics, with the head judged."""
    keys = ("accuracy", "macro_f1", "n", "head")
    return {"fer2013_labels": {k: m[k] for k in keys}, **({"ferplus_majority": {k: m["ferplus"][k] for k in keys}}
                                                         if "ferplus" in m else {}),
            **({"answer": m["answer"]} if "answer" in m else {})}


def ferplus_report(m: dict) -> str:
    f = m["ferplus"]
    lines = [f"FER+ crowd majority ({f['head']} head): n={f['n']} ({f['left_out']} faces without a unique 7-class majority "
             f"left out)  accuracy={f['accuracy']:.4f}  macro-F1={f['macro_f1']:.4f}  "
             f"(FER-2013's own labels agree with it on {f['fer2013_labels_agree']:.4f})"]
    for what, c in m.get("cross", {}).items():
        lines.append(f"  {what.replace('_', ' ')}: accuracy={c['accuracy']:.4f}  macro-F1={c['macro_f1']:.4f}  (n={c['n']})")
    if "answer" in m:
        a = m["answer"]
        lines += [f"  the app's answer ({a['head']}) on {truth.replace('_', ' ')}: accuracy={a[truth]['accuracy']:.4f}  "
                  f"macro-F1={a[truth]['macro_f1']:.4f}  (n={a[truth]['n']})" for truth in ("fer2013_labels", "ferplus_majority")
                  if truth in a]
    return "\n".join(lines)


def choose_votes(given: str | None, settings: dict) -> Path | None:
    """The FER+ votes for the second truth: ``--ferplus`` (``none``: no second truth; a missing file is an error),
    else the file the model was trained with where it exists, else the votes shipped for the Kaggle folders."""
    from training.ferplus import SHIPPED_VOTES, resolve_votes

    if given:
        if given.lower() == "none":
            return None
        if not Path(given).is_file():
            raise VotesError(f"{given}: no such votes file (give --ferplus PATH to ferplus_votes.csv, or none)")
        return Path(given)
    recorded = resolve_votes(settings.get("ferplus"))
    return recorded if recorded is not None and recorded.is_file() else SHIPPED_VOTES


def _shown_path(path: Path) -> str:
    """``path`` relative to the working folder when inside it: a report names no folder of the machine it ran on."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="model file (.keras/.tflite) or directory (default: models/)")
    p.add_argument("--data", required=True, help="FER-2013 root or fer2013.csv")
    p.add_argument("--split", default="test", choices=["train", "val", "test", "private"])
    p.add_argument("--tta", action="store_true", help="test-time augmentation: average over shifted and mirrored views")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    p.add_argument("--out", default=None, help="also write metrics.json and confusion_matrix.png here")
    p.add_argument("--backend", default="auto", choices=["auto", "keras", "tflite"])
    p.add_argument("--val-fraction", type=float, default=None, help="default: the model's own setting")
    p.add_argument("--seed", type=int, default=None, help="default: the model's own setting")
    p.add_argument("--ferplus", default=None,
                   help="FER+ votes (ferplus_votes.csv[.gz]) for the second truth, or none; default: the file the model "
                        "was trained with where it exists, else the votes shipped for the Kaggle folders")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up notices")
    args = p.parse_args(argv)
    quiet_tensorflow(args.verbose, import_now=False)  # the TFLite backend needs no TensorFlow
    if args.out:  # before the evaluation, not after it
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"error: cannot write the report into {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    try:
        with contextlib.nullcontext() if args.verbose else native_stderr_hidden():  # a Keras model imports TensorFlow
            clf = EmotionClassifier(model_path=args.model, backend=args.backend) if args.model else EmotionClassifier(backend=args.backend)
        overrides = {"val_fraction": args.val_fraction, "seed": args.seed}
        settings = {**clf.config.get("settings", {}), **{k: v for k, v in overrides.items() if v is not None}}
        split = load_model_split(args.data, args.split, settings, args.cache_dir)
        votes = choose_votes(args.ferplus, settings)
        t0 = time.time()
        m, probs = both_truths(clf, split, votes, args.tta)
    except (DatasetError, ModelLoadError, VotesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "ferplus_missing" in m:
        print(f"note: {m['ferplus_missing']}", file=sys.stderr)
    m.update(split=args.split, model=_shown_path(clf.path), backend=clf.backend,
             data_fingerprint=split.fingerprint(), seconds=round(time.time() - t0, 2))
    if args.out and args.split == "test":  # the report also holds both truths on validation, for comparison
        val = load_model_split(args.data, "val", settings, args.cache_dir)
        m["validation"] = summary(both_truths(clf, val, votes, args.tta)[0])
    if args.out:
        out = Path(args.out)
        (out / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
        draw_confusion_matrix(m["confusion_matrix"], out / "confusion_matrix.png",
                              f"{args.split}: accuracy {m['accuracy'] * 100:.1f}%, macro-F1 {m['macro_f1']:.3f}")
        write_gallery(split.x, probs, split.y, out)
        if "ferplus" in m:
            f = m["ferplus"]
            draw_confusion_matrix(f["confusion_matrix"], out / "confusion_matrix_ferplus.png",
                                  f"{args.split}, {f['head']} head vs crowd majority: accuracy {f['accuracy'] * 100:.1f}%, "
                                  f"macro-F1 {f['macro_f1']:.3f}")
    print(json.dumps(m) if args.json else format_report(m) + (("\n" + ferplus_report(m)) if "ferplus" in m else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
