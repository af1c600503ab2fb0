"""First-stage ablation on a lent GPU: the choices issue #4 asks about, one run each, all at once.

The shipped recipe runs on CPU with TensorFlow (``training.train``); the GPU machine this workplace lends
has JAX but no TensorFlow. This script trains the same classifier (``training.model.build_model``, the same
``lr_at`` schedule, loss, class weights and validation split) on Keras 3 with any backend, so that one
short GPU session can measure what the CPU cannot afford: many 37-epoch runs side by side. Its
augmentation is ``training.augment.augment_faces`` (the CPU pipeline's "affine-once-v2"; the runs of
2026-11-29 used a bilinear copy of it, commit 853cba2), its random erasing and mixup are NumPy copies of
``training.data``'s, and it adds cutmix. Figures from it compare runs with each other; they are not the
CPU pipeline's figures (other kernels, TF32 arithmetic, full batches only).

Validation only: the packed data holds the carved train and validation splits, never the test split.

Three steps::

    # here (TensorFlow venv): decode and pack the carved train/val split (about 51 MB, xz)
    python -m research.gpu_ablation pack --data ../shared/fer2013 --out .gpu/fer_trainval.npz.xz
    # on the GPU machine (KERAS_BACKEND=jax): every run in RUNS as its own process, sharing the GPU
    python -m research.gpu_ablation run --pack .gpu/fer_trainval.npz.xz --weights .gpu/mnv2.weights.h5 \\
        --out $OUT --budget-s 520
    # anywhere: the table
    python -m research.gpu_ablation report --summary summary.json

Runs of one ``group`` get the same number of fine-tuning epochs: each run trains its head epoch and two
fine-tuning epochs (with the 36-epoch schedule), reports its epoch time, and the group's epoch count is
then the largest that lets every member finish inside ``--budget-s`` (at most ``--max-epochs``); the cosine
schedule continues over that count. A run's figures are its best epoch's validation accuracy, single view
and with the app's 10-view TTA.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


from fer_app.labels import EMOTIONS
from fer_app.preprocess import mean_over_views, tta_views
from training.augment import augment_faces

#: the first stage of the shipped recipe (``m96`` in ``training.recipe``)
BASE = {"img_size": 96, "alpha": 1.0, "init": "imagenet", "lr": 5e-4, "head_lr": 1e-3, "min_lr_ratio": 0.02,
        "label_smoothing": 0.1, "class_weight": "sqrt", "augment": 1.0, "erase": 0.0, "mixup": 0.0,
        "cutmix": 0.0, "seed": 0, "batch_size": 128, "dropout": 0.3, "bn_momentum": 0.9, "head_epochs": 1,
        "group": "96px"}
#: name -> (what it changes, overrides of BASE); one process each
RUNS = {
    "base": ("the shipped first stage (m96)", {}),
    "base_seed1": ("the same, seed 1 (data order, augmentation, head init): run-to-run noise", {"seed": 1}),
    "no_smoothing": ("label smoothing 0.1 -> 0", {"label_smoothing": 0.0}),
    "cw_none": ("class weights sqrt -> none", {"class_weight": "none"}),
    "cw_balanced": ("class weights sqrt -> balanced", {"class_weight": "balanced"}),
    "aug_0.5": ("augmentation strength 1.0 -> 0.5", {"augment": 0.5}),
    "cutmix": ("+ cutmix (probability 0.5 per image)", {"cutmix": 0.5}),
    "random_init": ("ImageNet -> random initialisation", {"init": "none"}),
    "px128": ("input 96 -> 128 px", {"img_size": 128, "group": "128px"}),
    "px160": ("input 96 -> 160 px", {"img_size": 160, "group": "160px"}),
}
FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 48}, {"id": lzma.FILTER_LZMA2, "preset": 9}]


# ----------------------------------------------------------------------------- data

def pack(data: str, out: Path) -> dict:
    """The carved train and validation splits (``training.data``'s defaults) -> one xz-compressed .npz."""
    from training.data import load_model_split

    train, val = (load_model_split(data, s, {}) for s in ("train", "val"))
    buf = io.BytesIO()
    np.savez(buf, x_train=train.x, y_train=train.y.astype(np.int8), x_val=val.x, y_val=val.y.astype(np.int8))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buf.getvalue(), format=lzma.FORMAT_XZ, filters=FILTERS))
    info = {"train": len(train), "val": len(val), "train_fingerprint": train.fingerprint(),
            "val_fingerprint": val.fingerprint(), "bytes": out.stat().st_size}
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def load_pack(path: Path) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(lzma.decompress(Path(path).read_bytes()))) as z:
        return {k: z[k].astype(np.int64) if k.startswith("y") else z[k] for k in z.files}


def random_erase(x: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    """``training.augment.random_erase`` in NumPy: one noise rectangle of 2-20 % area, aspect 0.3-3.3."""
    n, h, w = x.shape
    for i in np.flatnonzero(rng.random(n) < probability):
        area = rng.uniform(0.02, 0.2) * h * w
        ratio = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
        eh, ew = min(int(np.sqrt(area * ratio)), h), min(int(np.sqrt(area / ratio)), w)
        y0, x0 = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
        x[i, y0:y0 + eh, x0:x0 + ew] = rng.uniform(0, 255, (eh, ew))
    return x


def mixup(x: np.ndarray, y: np.ndarray, alpha: float, rng: np.random.Generator):
    """``training.augment.mixup``: lam ~ Beta(alpha, alpha) per image, folded to >= 0.5."""
    lam = rng.beta(alpha, alpha, len(x))
    lam = np.maximum(lam, 1 - lam).astype(np.float32)
    perm = rng.permutation(len(x))
    return (lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm],
            lam[:, None] * y + (1 - lam[:, None]) * y[perm])


def cutmix(x: np.ndarray, y: np.ndarray, probability: float, rng: np.random.Generator):
    """CutMix (Yun et al. 2019): with ``probability`` per image, a box of area 1 - lam (lam ~ U(0, 1))
    from a shuffled partner replaces that part of the face; the labels mix by the pasted area."""
    n, h, w = x.shape
    perm = rng.permutation(n)
    src_x, src_y = x[perm].copy(), y[perm].copy()
    x, y = x.copy(), y.copy()
    for i in np.flatnonzero(rng.random(n) < probability):
        cut = np.sqrt(1.0 - rng.random())
        bh, bw = int(h * cut), int(w * cut)
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        y0, y1 = max(cy - bh // 2, 0), min(cy + bh // 2, h)
        x0, x1 = max(cx - bw // 2, 0), min(cx + bw // 2, w)
        x[i, y0:y1, x0:x1] = src_x[i, y0:y1, x0:x1]
        pasted = (y1 - y0) * (x1 - x0) / (h * w)
        y[i] = (1 - pasted) * y[i] + pasted * src_y[i]
    return x, y


def make_stream(x: np.ndarray, y: np.ndarray, cfg: dict, weights: dict | None):
    """A ``keras.utils.PyDataset`` of augmented (faces (N, 48, 48, 1), soft labels, sample weights) batches;
    ``set_epoch`` reshuffles. Full batches only (one compiled step shape); the class weight of a mixed face is
    its own label's, as Keras' ``class_weight`` does with the argmax of a mixed label folded to >= 0.5."""
    import keras

    k = len(EMOTIONS)
    sample_w = np.ones(len(y), np.float32) if weights is None else np.array([weights[c] for c in y], np.float32)

    class Stream(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=3, use_multiprocessing=False, max_queue_size=16)
            self.set_epoch(0)

        def set_epoch(self, epoch: int):
            self.epoch = epoch
            self.order = np.random.default_rng([cfg["seed"], epoch]).permutation(len(y))

        def __len__(self):
            return len(y) // cfg["batch_size"]

        def __getitem__(self, i):
            rng = np.random.default_rng([cfg["seed"], self.epoch, i, 1])
            idx = self.order[i * cfg["batch_size"]:(i + 1) * cfg["batch_size"]]
            xb = augment_faces(x[idx], cfg["augment"], rng)
            yb = np.eye(k, dtype=np.float32)[y[idx]]
            if cfg["erase"] > 0:
                xb = random_erase(xb, cfg["erase"], rng)
            if cfg["mixup"] > 0:
                xb, yb = mixup(xb, yb, cfg["mixup"], rng)
            if cfg["cutmix"] > 0:
                xb, yb = cutmix(xb, yb, cfg["cutmix"], rng)
            return xb[..., None], yb, sample_w[idx]

    return Stream()


# ----------------------------------------------------------------------------- one run (a child process)

def plan_epochs(t_epoch: float, seconds_left: float, tail_s: float, max_epochs: int) -> int:
    """Fine-tuning epochs that fit: the two already run plus as many ``t_epoch`` as ``seconds_left`` holds
    after ``tail_s`` (the TTA evaluation), at least 2 and at most ``max_epochs``."""
    more = int(max(0.0, seconds_left - tail_s) // max(t_epoch, 1e-6))
    return int(min(max_epochs, max(2, 2 + more)))


def train_run(name: str, cfg: dict, data: dict, weights_file: str, work: Path, deadline: float,
              max_epochs: int, limit: int = 0) -> dict:
    import keras

    from training.data import class_weights
    from training.model import build_model, set_backbone_trainable
    from training.train import compile_model, lr_at

    record = {"name": name, "what": RUNS[name][0], "settings": cfg, "history": [], "status": "running"}
    path = work / f"{name}.json"

    def save():
        path.write_text(json.dumps(record, indent=1) + "\n")

    keras.utils.set_random_seed(cfg["seed"])
    x_tr, y_tr, x_val, y_val = data["x_train"], data["y_train"], data["x_val"], data["y_val"]
    if limit:  # a smoke test: random subsets
        pick = np.random.default_rng(0).permutation(len(y_tr))[:limit]
        pick_val = np.random.default_rng(1).permutation(len(y_val))[:limit // 4]
        x_tr, y_tr, x_val, y_val = x_tr[pick], y_tr[pick], x_val[pick_val], y_val[pick_val]
    stream = make_stream(x_tr, y_tr, cfg, class_weights(y_tr, cfg["class_weight"]))
    model = build_model(cfg["img_size"], cfg["alpha"], weights_file if cfg["init"] == "imagenet" else "none",
                        cfg["dropout"], cfg["bn_momentum"])

    def val_accuracy(faces, tta=False):
        xv = faces[..., None]
        if tta:
            p = mean_over_views(model.predict(tta_views(xv), batch_size=256, verbose=0), len(xv))
        else:
            p = model.predict(xv, batch_size=256, verbose=0)
        return float((p.argmax(1) == y_val).mean())

    set_backbone_trainable(model, False)
    compile_model(model, cfg["head_lr"], cfg["label_smoothing"])
    schedule = dict(cfg, epochs=max_epochs)
    best, best_weights, epoch = -1.0, None, 0
    fine_tune_epochs = max_epochs
    while epoch < cfg["head_epochs"] + fine_tune_epochs:
        if epoch == cfg["head_epochs"]:
            set_backbone_trainable(model, True)
            compile_model(model, cfg["lr"], cfg["label_smoothing"])
        lr = lr_at(epoch, schedule)
        model.optimizer.learning_rate = lr
        stream.set_epoch(epoch)
        t0 = time.time()
        fit = model.fit(stream, epochs=epoch + 1, initial_epoch=epoch, verbose=0).history
        acc = val_accuracy(x_val)
        seconds = time.time() - t0
        epoch += 1
        record["history"].append({"epoch": epoch, "lr": lr, "loss": round(fit["loss"][-1], 5),
                                  "accuracy": round(fit["accuracy"][-1], 5), "val_accuracy": round(acc, 5),
                                  "seconds": round(seconds, 1)})
        if acc > best and epoch > cfg["head_epochs"]:
            best, best_weights = acc, [w.copy() for w in model.get_weights()]
            record.update(best_epoch=epoch, best_val_accuracy=round(acc, 5))
        if epoch == cfg["head_epochs"] + 2:  # ask the parent for the group's epoch count
            record["status"] = "planning"
            record["t_epoch"] = seconds
            save()
            plan = work / f"plan_{cfg['group']}.json"
            t_wait = time.time()
            while not plan.exists() and time.time() - t_wait < 180:
                time.sleep(0.5)
            fine_tune_epochs = (json.loads(plan.read_text())["epochs"] if plan.exists()
                                else plan_epochs(seconds, deadline - time.time(), 60, max_epochs))
            schedule = dict(cfg, epochs=fine_tune_epochs)
            record.update(status="running", fine_tune_epochs=fine_tune_epochs)
        elif ("fine_tune_epochs" in record and time.time() + seconds + 45 > deadline
              and epoch < cfg["head_epochs"] + fine_tune_epochs):
            # only once planned: before that an epoch's time includes compiling (50-200 s with ten processes)
            record["cut_at_epoch"] = epoch  # the deadline came first: report the best epoch so far
            break
        save()
    model.set_weights(best_weights)
    record["val_accuracy_tta"] = round(val_accuracy(x_val, tta=True), 5)
    record["status"] = "done"
    save()
    return record


# ----------------------------------------------------------------------------- the parent

def run_all(args) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    deadline = start + args.budget_s
    names = args.runs or list(RUNS)
    # a share of the GPU's memory each, and no CUDA graphs: ten processes growing their pools and graphs
    # without a cap ran the H200 out of memory at their first prediction
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false", PYTHONUNBUFFERED="1",
               XLA_PYTHON_CLIENT_MEM_FRACTION=str(round(0.9 / len(names), 3)),
               XLA_FLAGS="--xla_gpu_enable_command_buffer=")
    procs = {}
    for name in names:
        cmd = [sys.executable, __file__, "child", "--name", name, "--pack", args.pack, "--weights", args.weights,
               "--work", str(work), "--deadline", str(deadline), "--max-epochs", str(args.max_epochs),
               "--limit", str(args.limit)]
        procs[name] = subprocess.Popen(cmd, env=env, stdout=open(work / f"{name}.log", "w"), stderr=subprocess.STDOUT)
    groups = {}
    for name in names:
        groups.setdefault(dict(BASE, **RUNS[name][1])["group"], []).append(name)
    planned, failed = set(), set()

    def records():
        found = {}
        for name in names:
            p = work / f"{name}.json"
            if p.is_file():
                try:
                    found[name] = json.loads(p.read_text())
                except json.JSONDecodeError:
                    pass
        return found

    def write_summary(recs):
        summary = {"budget_s": args.budget_s, "elapsed_s": round(time.time() - start, 1), "runs": recs,
                   "exit_codes": {n: p.poll() for n, p in procs.items()}}
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        return summary

    last_write = 0.0
    while True:
        recs = records()
        for group, members in groups.items():
            alive = [m for m in members if procs[m].poll() is None]
            if group in planned or not alive:
                continue
            if all(recs.get(m, {}).get("status") == "planning" for m in alive):
                t_epoch = max(recs[m]["t_epoch"] for m in alive)
                epochs = plan_epochs(t_epoch, deadline - time.time(), 60, args.max_epochs)
                (work / f"plan_{group}.json").write_text(json.dumps({"epochs": epochs, "t_epoch": t_epoch}))
                planned.add(group)
                print(f"[{time.time() - start:6.0f} s] group {group}: {epochs} fine-tuning epochs "
                      f"({t_epoch:.1f} s/epoch, members {', '.join(alive)})", flush=True)
        for name, p in procs.items():
            if p.poll() not in (None, 0) and name not in failed:
                failed.add(name)
                print(f"run {name} failed (exit {p.poll()}):\n" + (work / f"{name}.log").read_text()[-3000:],
                      flush=True)
        if time.time() - last_write > 15:
            write_summary(recs)
            last_write = time.time()
        if all(p.poll() is not None for p in procs.values()) or time.time() > deadline + 30:
            break
        time.sleep(1)
    for p in procs.values():
        if p.poll() is None:
            p.kill()
    summary = write_summary(records())
    for name in names:  # the last lines of every log, for the reply
        tail = (work / f"{name}.log").read_text().strip().splitlines()[-3:]
        print(f"--- {name}: " + " | ".join(tail)[-600:])
    return summary


def report(summary: dict) -> str:
    rows = ["| run | what | input | fine-tuning epochs | best val acc (epoch) | val acc, TTA | s/epoch |",
            "|---|---|---|---|---|---|---|"]
    for name, r in summary["runs"].items():
        ft = [h["seconds"] for h in r["history"][r["settings"]["head_epochs"] + 2:]]
        cut = f", cut at {r['cut_at_epoch']}" if "cut_at_epoch" in r else ""
        rows.append(f"| `{name}` | {r['what']} | {r['settings']['img_size']} px | {r.get('fine_tune_epochs', '?')}{cut} "
                    f"| {100 * r.get('best_val_accuracy', 0):.2f} % ({r.get('best_epoch', '?')}) "
                    f"| {100 * r['val_accuracy_tta']:.2f} % | {np.median(ft) if ft else float('nan'):.1f} |"
                    if "val_accuracy_tta" in r else f"| `{name}` | {r['what']} | – | – | {r['status']} | – | – |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack")
    a.add_argument("--data", required=True)
    a.add_argument("--out", required=True)
    a = sub.add_parser("run")
    a.add_argument("--pack", required=True)
    a.add_argument("--weights", required=True, help="mobilenetv2_imagenet_notop.weights.h5")
    a.add_argument("--out", required=True)
    a.add_argument("--work", default="/tmp/gpu_ablation")
    a.add_argument("--runs", nargs="+", choices=list(RUNS), default=None)
    a.add_argument("--budget-s", type=float, default=520)
    a.add_argument("--max-epochs", type=int, default=36)
    a.add_argument("--limit", type=int, default=0, help="train on the first N faces only (a smoke test)")
    a = sub.add_parser("child")
    for flag in ("--name", "--pack", "--weights", "--work"):
        a.add_argument(flag, required=True)
    a.add_argument("--deadline", type=float, required=True)
    a.add_argument("--max-epochs", type=int, required=True)
    a.add_argument("--limit", type=int, default=0)
    a = sub.add_parser("report")
    a.add_argument("--summary", required=True)
    args = p.parse_args(argv)
    if args.cmd == "pack":
        print(json.dumps(pack(args.data, Path(args.out)), indent=2))
    elif args.cmd == "run":
        print(report(run_all(args)))
    elif args.cmd == "child":
        cfg = dict(BASE, **RUNS[args.name][1])
        train_run(args.name, cfg, load_pack(Path(args.pack)), args.weights, Path(args.work), args.deadline,
                  args.max_epochs, args.limit)
    else:
        print(report(json.loads(Path(args.summary).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
