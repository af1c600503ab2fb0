"""Is the explanation faithful to the model? Deletion test, model-randomisation check, latency.

    python -m benchmarks.explain_faithfulness --data ../shared/fer2013 --out models     # report (test split)
    python -m benchmarks.explain_faithfulness --split val --faces 300 --sweep            # choose patch/stride

* Deletion: the most important 10/20/30 % of each face's pixels by its map (for the emotion the model
  predicts, one view) are filled with the face's mean grey; the drop of that emotion's probability is
  compared with deleting random regions of the same size (smooth random maps, thresholded the same way)
  and random pixels. Mean drops with 95 % bootstrap intervals over faces.
* Randomisation: maps of a copy of the TFLite model whose convolution and dense weights are redrawn
  (Gaussian, each tensor's own spread) must differ from the trained model's: Spearman rank correlation
  per face. Done on the flatbuffer with ai_edge_litert's tools, no TensorFlow.
* Latency: median ms per face for one face per call, as the CLI and the app explain.

``--out DIR`` writes ``explain_average.png`` (mean map per emotion over the split's faces of that
emotion) and ``explain_metrics.json``. Without the dataset it says so and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fer_app import explain
from fer_app.labels import EMOTIONS

ROOT = Path(__file__).resolve().parent.parent

FRACTIONS = (0.1, 0.2, 0.3)
COMMAND = "python -m benchmarks.explain_faithfulness "
SWEEP = [("occlusion", {"patch": p, "stride": s}) for p, s in ((6, 3), (8, 4), (12, 4), (12, 6), (16, 4))]
SWEEP += [("rise", {"n": 128, "cells": c}) for c in (4, 6, 8)]


def delete_top(faces: np.ndarray, maps: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Faces (N, 48, 48) with the ``fraction`` highest-ranked pixels of each map filled with the face's mean
    (ties broken at random, so flat maps delete random pixels)."""
    n, h, w = faces.shape
    k = int(round(fraction * h * w))
    keys = maps.reshape(n, -1) + rng.uniform(0, 1e-6, (n, h * w)) * (np.ptp(maps.reshape(n, -1), axis=1, keepdims=True) + 1e-12)
    top = np.argsort(-keys, axis=1)[:, :k]
    out = faces.reshape(n, -1).astype(np.float32).copy()
    means = out.mean(axis=1)
    np.put_along_axis(out, top, means[:, None], axis=1)
    return np.rint(out).astype(np.uint8).reshape(n, h, w)


def random_region_maps(n: int, rng, sigma: float = 4.0) -> np.ndarray:
    """Smooth random maps: their top pixels form blobs about as large as the explanation's."""
    import cv2

    noise = rng.standard_normal((n, 48, 48)).astype(np.float32)
    return np.stack([cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT) for m in noise])


def deletion_drops(predict, faces, targets, maps, rng) -> dict:
    """{'map'|'random regions'|'random pixels': {fraction: per-face probability drops (N,)}}."""
    idx = np.arange(len(faces))
    base = predict(faces[..., None])[idx, targets]
    kinds = {"map": maps, "random regions": random_region_maps(len(faces), rng),
             "random pixels": rng.random(maps.shape)}
    out = {}
    for kind, m in kinds.items():
        out[kind] = {f: base - predict(delete_top(faces, m, f, rng)[..., None])[idx, targets] for f in FRACTIONS}
    return out


def mean_ci(values, rng, n_boot: int = 2000) -> list[float]:
    """[mean, low, high]: the mean and its 95 % percentile-bootstrap interval."""
    v = np.asarray(values, np.float64)
    boots = v[rng.integers(0, len(v), (n_boot, len(v)))].mean(axis=1)
    return [round(float(v.mean()), 4), round(float(np.percentile(boots, 2.5)), 4),
            round(float(np.percentile(boots, 97.5)), 4)]


def summarise(drops: dict, rng) -> dict:
    out = {kind: {str(f): mean_ci(d, rng) for f, d in per.items()} for kind, per in drops.items()}
    out["map minus random regions"] = {str(f): mean_ci(drops["map"][f] - drops["random regions"][f], rng)
                                       for f in FRACTIONS}
    return out


def randomised_model_dir(model_dir: Path, seed: int, scope: str, where: Path) -> Path:
    """A copy of the model folder whose model.tflite has re-drawn weights: every conv/dense layer ('all')
    or only the dense layers, the classifier heads ('head'; a two-head model has one per head, and the last
    alone may not be the head the maps explain). Each tensor keeps its own mean and spread."""
    from ai_edge_litert.tools import flatbuffer_utils as fu

    model = fu.read_model(str(model_dir / "model.tflite"))
    graph = model.subgraphs[0]
    rng = np.random.default_rng(seed)
    layers = [op for op in graph.operators
              if fu.opcode_to_name(model, op.opcodeIndex) in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    if scope == "head":
        layers = [op for op in layers if fu.opcode_to_name(model, op.opcodeIndex) == "FULLY_CONNECTED"]
    for op in layers:
        for t in op.inputs[1:3]:
            buf = model.buffers[graph.tensors[t].buffer]
            w = np.frombuffer(bytes(buf.data), np.float32)
            new = rng.normal(w.mean(), w.std() + 1e-8, w.shape).astype(np.float32)
            buf.data = np.frombuffer(new.tobytes(), np.uint8).copy()
    out = where / f"random_{scope}_{seed}"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_dir / "config.json", out / "config.json")
    (out / "model.tflite").write_bytes(fu.convert_object_to_bytearray(model))
    return out


def spearman_per_face(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.stats import spearmanr

    r = [spearmanr(x.ravel(), y.ravel())[0] for x, y in zip(a, b)]
    return np.nan_to_num(np.asarray(r, np.float64))  # a constant map (no output change) ranks as unrelated


def maps_for(model, faces, targets, method="occlusion", options=None, chunk=8) -> np.ndarray:
    options = options or {}
    parts = [explain.raw_maps(model, faces[i:i + chunk], targets[i:i + chunk], method, **options)[0]
             for i in range(0, len(faces), chunk)]
    return np.concatenate(parts)


def latency_ms(clf, faces, method="occlusion", options=None) -> dict:
    """Median wall time and process CPU time (all threads) per face, one face per call."""
    options = options or {}
    explain.explain_prepared(clf, faces[:1], method=method, **options)  # warm-up: batch size, mask cache
    wall, cpu = [], []
    for f in faces:
        t, c = time.perf_counter(), time.process_time()
        explain.explain_prepared(clf, f[None], method=method, **options)
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return {"wall": round(statistics.median(wall), 1), "cpu": round(statistics.median(cpu), 1)}


def timing(clf, faces) -> dict:
    # the machine is shared: the 1-minute load average says how busy it was while timing
    return {"ms_per_face": {m: latency_ms(clf, faces, m) for m in explain.METHODS},
            "load_average_1min": round(os.getloadavg()[0], 2), "cores": os.cpu_count()}


def load_faces(data: str, split: str, n: int, settings: dict, seed: int):
    """(x, y) of ``n`` faces drawn at random from the split (all of them for n <= 0); None without the data."""
    from training.data import DatasetError, load_model_split

    try:
        s = load_model_split(data, split, settings)
    except (DatasetError, OSError) as exc:
        print(f"skipped: no FER-2013 {split} split at {data} ({exc})")
        return None
    idx = np.arange(len(s)) if n <= 0 or n >= len(s) else np.sort(np.random.default_rng(seed).choice(len(s), n, False))
    return s.x[idx], s.y[idx]


def sweep(clf, x, rng) -> None:
    predict = explain._predictor(clf)
    targets = predict(x[..., None]).argmax(axis=1)
    print("| method | options | copies per face | drop 10 % | 20 % | 30 % | random regions 20 % | ms per face |")
    print("|---|---|---|---|---|---|---|---|")
    for method, opts in SWEEP:
        maps = maps_for(clf, x, targets, method, opts)
        s = summarise(deletion_drops(predict, x, targets, maps, rng), rng)
        copies = len(explain.occlusion_masks(**opts) if method == "occlusion" else explain.rise_masks(**opts))
        cells = " | ".join(f"{s['map'][str(f)][0]:.3f}" for f in FRACTIONS)
        print(f"| {method} | {opts} | {copies} | {cells} | {s['random regions']['0.2'][0]:.3f} | "
              f"{latency_ms(clf, x[:20], method, opts)['wall']} |", flush=True)


def loo_average_maps(maps: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each face's emotion's mean map over the *other* faces with that emotion: a map that knows the
    emotion but not the face, to show whether per-face maps carry more than a fixed pattern."""
    imp = np.stack([explain.importance_of(m) for m in maps])
    out = np.empty_like(imp)
    for e in np.unique(labels):
        sel = labels == e
        total = imp[sel].sum(axis=0)
        out[sel] = (total[None] - imp[sel]) / max(1, sel.sum() - 1)
    return out


def sanity(clf, x, targets, trained: dict, where: Path, seed: int) -> dict:
    """Spearman between trained and randomised-model maps, per method and randomisation scope."""
    from fer_app.model import EmotionClassifier

    out = {}
    rng = np.random.default_rng(seed)
    for scope in ("all", "head"):
        rand = EmotionClassifier(model_path=randomised_model_dir(clf.model_dir, seed, scope, where) / "model.tflite")
        for method, maps in trained.items():
            r = spearman_per_face(maps, maps_for(rand, x, targets, method))
            out[f"{method}, {scope} weights redrawn"] = {"spearman": mean_ci(r, rng),
                                                         "median": round(float(np.median(r)), 4)}
    return out


def average_png(x, y, maps, path: Path, tile: int = 96) -> dict:
    """One tile per emotion: the mean map of the faces of that emotion over their mean face."""
    from PIL import Image, ImageDraw, ImageFont

    sheet = Image.new("RGB", (tile * len(EMOTIONS), tile + 18), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default(size=12)
    info = {}
    for i, name in enumerate(EMOTIONS):
        sel = y == i
        if not sel.any():
            continue
        mean_map = np.mean([explain.importance_of(m) for m in maps[sel]], axis=0)
        mean_map = mean_map / max(float(mean_map.max()), 1e-12)
        face = np.rint(x[sel].mean(axis=0)).astype(np.uint8)
        sheet.paste(Image.fromarray(explain.overlay(face, mean_map, tile)), (i * tile, 0))
        draw.text((i * tile + 4, tile + 2), f"{name} ({int(sel.sum())})", fill="black", font=font)
        info[name] = {"faces": int(sel.sum()), "reading": explain.read_map(mean_map)}
    sheet.quantize(colors=128).save(path, optimize=True)  # a palette keeps the PNG small for the app
    return info


def table(title: str, summary: dict) -> None:
    print(f"\n{title}\n\n| deleted by | " + " | ".join(f"{int(f * 100)} %" for f in FRACTIONS) + " |")
    print("|---|" + "---|" * len(FRACTIONS))
    for kind, per in summary.items():
        cells = " | ".join(f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in per.values())
        print(f"| {kind} | {cells} |")


def report(clf, x, y, args) -> dict:
    rng = np.random.default_rng(args.seed)
    predict = explain._predictor(clf)
    pred = predict(x[..., None]).argmax(axis=1)
    t0 = time.perf_counter()
    true_maps = maps_for(clf, x, y)  # where the model looks for each face's own emotion (average maps)
    maps = true_maps.copy()
    wrong = pred != y
    if wrong.any():
        maps[wrong] = maps_for(clf, x[wrong], pred[wrong])
    print(f"maps for {len(x)} faces in {time.perf_counter() - t0:.0f} s", flush=True)
    drops = deletion_drops(predict, x, pred, maps, rng)
    average = loo_average_maps(maps, pred)
    drops["the emotion's average map"] = {f: predict(x[..., None])[np.arange(len(x)), pred]
                                          - predict(delete_top(x, average, f, rng)[..., None])[np.arange(len(x)), pred]
                                          for f in FRACTIONS}
    result = {"faces": len(x), "accuracy_one_view": round(float((pred == y).mean()), 4),
              "deletion": summarise(drops, rng)}
    sub = rng.permutation(len(x))[:args.compare]
    xs, ts = x[sub], pred[sub]
    rise = maps_for(clf, xs, ts, "rise")
    variants = {"occlusion": maps[sub], "rise": rise,
                "occlusion, stride 4": maps_for(clf, xs, ts, "occlusion", {"patch": explain.PATCH, "stride": 4})}
    # the same random regions for every variant (a fresh generator each), so their rows compare directly
    result["comparison"] = {"faces": len(sub), **{
        k: summarise(deletion_drops(predict, xs, ts, m, np.random.default_rng(args.seed + 1)), rng)
        for k, m in variants.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        result["randomisation"] = sanity(clf, xs, ts, {"occlusion": maps[sub], "rise": rise}, Path(tmp), args.seed)
    result["latency"] = timing(clf, x[:args.latency_faces])
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        result["average_maps"] = average_png(x, y, true_maps, out / "explain_average.png")
    return result


def retime(clf, faces, out) -> None:
    """Timing alone; on a quieter machine it replaces the timing in ``out``'s existing JSON."""
    result = timing(clf, faces)
    print(json.dumps(result))
    path = Path(out or "") / "explain_metrics.json"
    if out and path.is_file():
        metrics = json.loads(path.read_text())
        metrics["latency"] = {**result, "command": COMMAND + " ".join(sys.argv[1:])}
        path.write_text(json.dumps(metrics, indent=1) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "fer2013"))
    p.add_argument("--split", default="test")
    p.add_argument("--faces", type=int, default=0, help="faces drawn from the split (default all)")
    p.add_argument("--compare", type=int, default=300, help="faces for RISE and the randomisation check")
    p.add_argument("--latency-faces", type=int, default=50)
    p.add_argument("--sweep", action="store_true", help="compare patch/stride and RISE settings instead")
    p.add_argument("--latency-only", action="store_true", help="only time the methods")
    p.add_argument("--model", default=None, help="model folder (default: the shipped models/)")
    p.add_argument("--out", default=None, help="write explain_average.png and explain_metrics.json here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from fer_app.model import EmotionClassifier

    clf = EmotionClassifier(args.model) if args.model else EmotionClassifier()
    loaded = load_faces(args.data, args.split, args.faces, clf.config.get("settings", {}), args.seed)
    if loaded is None:
        return 0
    x, y = loaded
    if args.sweep:
        sweep(clf, x, np.random.default_rng(args.seed))
        return 0
    if args.latency_only:
        retime(clf, x[:args.latency_faces], args.out)
        return 0
    result = {"command": COMMAND + " ".join(sys.argv[1:]),
              # which model and head these figures describe (tests/test_shipped_model.py checks the shipped pair)
              "model_sha256": hashlib.sha256(Path(clf.path).read_bytes()).hexdigest(), "head": clf.head,
              "split": args.split, "method": "occlusion", "patch": explain.PATCH, "stride": explain.STRIDE,
              **report(clf, x, y, args)}
    table(f"Deletion ({result['faces']} faces): mean probability drop [95 % CI]", result["deletion"])
    for method, summary in result["comparison"].items():
        if method != "faces":
            table(f"{method} ({result['comparison']['faces']} faces)", summary)
    print("\n" + json.dumps({k: result[k] for k in ("randomisation", "latency")}, indent=1))
    if args.out:
        (Path(args.out) / "explain_metrics.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
