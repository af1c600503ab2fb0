"""Reading FER-2013: Kaggle folders or the original ``fer2013.csv`` -> cached uint8 faces -> tf.data.

* Read-only: nothing is ever written inside the dataset directory.
* Every image goes through :func:`fer_app.preprocess.normalize_face` once, and the 48x48 uint8
  results are cached as ``.npz`` (no pickle) outside the dataset, keyed by a fingerprint of the
  files (names, sizes, modification times) and the preprocessing version.
* The validation set is a stratified, seeded split of train; the test split is only read by
  evaluation.
* Batches are resized inside the model and augmented on the fly (``training.augment``), so memory stays
  at ~2.3 KB per image whatever the network's input size.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_app.io import ImageLoadError, load_gray
from fer_app.labels import CSV_CODES, EMOTIONS, INDEX
from fer_app.preprocess import FACE_SIZE, PREPROCESSING_VERSION, normalize_face

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
#: Split names: folder name (case-insensitive) or CSV ``Usage`` -> our name.
FOLDER_SPLITS = {"train": "train", "training": "train", "test": "test", "publictest": "test",
                 "privatetest": "private"}
CSV_SPLITS = {"training": "train", "publictest": "test", "privatetest": "private"}
SPLITS = ("train", "val", "test", "private")


class DatasetError(Exception):
    """The path is not a usable FER-2013 dataset (the message says why, on one line)."""


@dataclass
class Split:
    """Decoded, preprocessed faces of one split: x uint8 (N, 48, 48), y int (N,)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    sources: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=len(EMOTIONS))
        return {name: int(c) for name, c in zip(EMOTIONS, counts)}

    def fingerprint(self) -> str:
        """sha256 of the decoded pixels and labels: the same data gives the same value anywhere."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.x).tobytes())
        h.update(np.ascontiguousarray(self.y, dtype=np.int64).tobytes())
        return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    return Path(os.environ.get("FER_CACHE_DIR", Path.home() / ".cache" / "fer_app"))


# ----------------------------------------------------------------------------- layout detection

def _find_split_dirs(root: Path) -> dict[str, Path]:
    found = {}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in FOLDER_SPLITS:
            found.setdefault(FOLDER_SPLITS[child.name.lower()], child)
    return found


def _find_csv(root: Path) -> Path | None:
    if root.is_file() and root.suffix.lower() == ".csv":
        return root
    if root.is_dir():
        for name in ("fer2013.csv", "icml_face_data.csv"):
            if (root / name).is_file():
                return root / name
    return None


def describe_layout(root: Path) -> tuple[str, Path | dict[str, Path]]:
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such file or directory")
    csv_path = _find_csv(root)
    if csv_path is not None:
        return "csv", csv_path
    if root.is_dir():
        splits = _find_split_dirs(root)
        if splits:
            return "folders", splits
    raise DatasetError(f"{root}: not a FER-2013 dataset (expected train/ and test/ folders of "
                       f"emotion subfolders, or fer2013.csv)")


# ----------------------------------------------------------------------------- readers

def _class_dirs(split_dir: Path) -> dict[str, Path]:
    dirs = {}
    for child in sorted(split_dir.iterdir()):
        if child.is_dir() and child.name.lower() in INDEX:
            dirs[child.name.lower()] = child
    missing = [e for e in EMOTIONS if e not in dirs]
    if missing:
        raise DatasetError(f"{split_dir}: missing class folder(s): {', '.join(missing)}")
    return dirs


def _folder_files(split_dir: Path) -> list[tuple[Path, int]]:
    files = []
    dirs = _class_dirs(split_dir)
    for name in EMOTIONS:  # label order, whatever the folders' case
        d = dirs[name]
        class_files = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
        if not class_files:
            raise DatasetError(f"{d}: class '{name}' has no images")
        files.extend((p, INDEX[name]) for p in class_files)
    return files


def _read_folder_split(name: str, split_dir: Path) -> Split:
    files = _folder_files(split_dir)
    x = np.zeros((len(files), FACE_SIZE, FACE_SIZE), np.uint8)
    y = np.zeros(len(files), np.int64)
    kept, skipped, sources = 0, [], []
    for path, label in files:
        try:
            if path.stat().st_size == 0:
                raise ImageLoadError(f"{path}: empty file")
            face = normalize_face(load_gray(path))
        except (ImageLoadError, ValueError):
            skipped.append(str(path))
            continue
        x[kept], y[kept] = face, label
        sources.append(str(path.relative_to(split_dir)))
        kept += 1
    return Split(name, x[:kept], y[:kept], sources, skipped)


def _read_csv(csv_path: Path) -> dict[str, Split]:
    rows: dict[str, tuple[list, list, list, list]] = {s: ([], [], [], []) for s in CSV_SPLITS.values()}
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        fields = {f.strip().lower(): f for f in (reader.fieldnames or [])}
        if not {"emotion", "pixels"} <= set(fields):
            raise DatasetError(f"{csv_path}: not a FER-2013 CSV (needs columns emotion,pixels[,Usage])")
        usage_key = fields.get("usage")
        for lineno, row in enumerate(reader, start=2):
            split = CSV_SPLITS.get((row.get(usage_key) or "Training").strip().lower()) if usage_key else "train"
            xs, ys, srcs, bad = rows[split or "train"]
            where = f"{csv_path}:{lineno}"
            try:
                code = int(row[fields["emotion"]])
                pixels = np.array(row[fields["pixels"]].split(), dtype=np.int64)
                if code not in CSV_CODES or pixels.size != FACE_SIZE * FACE_SIZE or pixels.min() < 0 or pixels.max() > 255:
                    raise ValueError("bad row")
            except (ValueError, TypeError, AttributeError):
                bad.append(where)
                continue
            xs.append(normalize_face(pixels.astype(np.uint8).reshape(FACE_SIZE, FACE_SIZE)))
            ys.append(INDEX[CSV_CODES[code]])
            srcs.append(f"line {lineno}")
    out = {}
    for split, (xs, ys, srcs, bad) in rows.items():
        if xs or bad:
            x = np.stack(xs) if xs else np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8)
            out[split] = Split(split, x, np.array(ys, np.int64), srcs, bad)
    return out


# ----------------------------------------------------------------------------- cache

def _stat_key(paths: list[Path]) -> str:
    h = hashlib.sha256(PREPROCESSING_VERSION.encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def _cache_load(path: Path, name: str) -> Split | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return Split(name, z["x"], z["y"], meta["sources"], meta["skipped"])
    except Exception:  # a damaged cache is rebuilt, never trusted
        return None


def _cache_save(path: Path, split: Split) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    meta = json.dumps({"sources": split.sources, "skipped": split.skipped})
    np.savez(tmp, x=split.x, y=split.y, meta=np.array(meta))
    os.replace(tmp, path)


def _guard_outside(cache_dir: Path, data_root: Path) -> None:
    c, d = cache_dir.resolve(), data_root.resolve()
    if d.is_dir() and (c == d or d in c.parents):
        raise DatasetError(f"cache directory {cache_dir} is inside the dataset {data_root}; choose another")


def _warn_skipped(split: Split) -> None:
    if split.skipped:
        shown = ", ".join(split.skipped[:5]) + (" ..." if len(split.skipped) > 5 else "")
        log.warning("%s: skipped %d unreadable file(s)/row(s): %s", split.name, len(split.skipped), shown)


def load_split(root, split: str, cache_dir=None, val_fraction: float = 0.1, seed: int = 0) -> Split:
    """Load one split ('train', 'val', 'test' or 'private') of the dataset at ``root``.

    'train' and 'val' are the stratified, seeded partition of the dataset's training images.
    """
    if split not in SPLITS:
        raise DatasetError(f"unknown split '{split}' (choose from {', '.join(SPLITS)})")
    if split in ("train", "val"):
        train, val = load_model_splits(root, {"val_fraction": val_fraction, "seed": seed}, cache_dir)
        return train if split == "train" else val
    return _load_source_split(Path(root), split, cache_dir)


def load_model_split(root, split: str, settings: dict, cache_dir=None) -> Split:
    """``split`` as the model trained with ``settings`` (its config's "settings") saw it: 'train' and
    'val' are drawn with that model's ``val_fraction`` and ``seed`` (defaults 0.1 and 0, as in training),
    so a tool that evaluates or calibrates the model on 'val' never touches its training images."""
    return load_split(root, split, cache_dir, settings.get("val_fraction", 0.1), settings.get("seed", 0))


def load_model_splits(root, settings: dict, cache_dir=None) -> tuple[Split, Split]:
    """('train', 'val') as the model trained with ``settings`` saw them, from one read of the dataset."""
    full = _load_source_split(Path(root), "train", cache_dir)
    train_idx, val_idx = stratified_split(full.y, settings.get("val_fraction", 0.1), settings.get("seed", 0))
    return _subset(full, "train", train_idx), _subset(full, "val", val_idx)


def _subset(full: Split, name: str, idx: np.ndarray) -> Split:
    return Split(name, full.x[idx], full.y[idx], [full.sources[i] for i in idx], full.skipped)


def _load_source_split(root: Path, split: str, cache_dir) -> Split:
    kind, where = describe_layout(root)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    _guard_outside(cache_dir, root)
    if kind == "folders":
        if split not in where:
            raise DatasetError(f"{root}: has no '{split}' folder")
        files = [p for p, _ in _folder_files(where[split])]
        cache_path = cache_dir / f"fer_{split}_{_stat_key(files)}.npz"
        result = _cache_load(cache_path, split)
        if result is None:
            result = _read_folder_split(split, where[split])
            _check_classes(result, where[split])
            _cache_save(cache_path, result)
    else:
        cache_path = cache_dir / f"fer_csv_{_stat_key([where])}_{split}.npz"
        result = _cache_load(cache_path, split)
        if result is None:
            splits = _read_csv(where)
            if split not in splits:
                raise DatasetError(f"{where}: has no rows for the '{split}' split")
            result = splits[split]
            _check_classes(result, where)
            _cache_save(cache_path, result)
    _warn_skipped(result)
    return result


def _check_classes(split: Split, where) -> None:
    empty = [name for name, c in split.class_counts().items() if c == 0]
    if empty:
        raise DatasetError(f"{where}: no readable images for class(es) {', '.join(empty)} in '{split.name}'")


# not scikit-learn's train_test_split(stratify=y): with seed 0 its validation set shares 272 of FER-2013's 2,872
# validation faces with this one, so every recorded validation figure would change
def stratified_split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): ``val_fraction`` of every class goes to val, chosen by ``seed``."""
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"validation fraction must be between 0 and 1, got {val_fraction}")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n_val = max(1, int(round(len(idx) * val_fraction))) if len(idx) > 1 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


# ----------------------------------------------------------------------------- tf.data

def class_weights(y: np.ndarray, mode: str = "sqrt") -> dict[int, float] | None:
    """Per-class loss weights: scikit-learn's 'balanced' (n / (k * n_c)), 'sqrt' (its square root) or 'none'."""
    from sklearn.utils.class_weight import compute_class_weight

    if mode == "none":
        return None
    if mode not in ("sqrt", "balanced"):
        raise ValueError(f"unknown class-weight mode {mode!r}")
    w = compute_class_weight("balanced", classes=np.arange(len(EMOTIONS)), y=y)
    return {i: float(v) for i, v in enumerate(np.sqrt(w) if mode == "sqrt" else w)}


def make_dataset(split: Split, batch_size: int, training: bool = False, seed: int = 0, augment=None,
                 crowd_targets: np.ndarray | None = None, class_weight: dict | None = None):
    """tf.data pipeline of (faces float32 (N, 48, 48, 1) in [0, 255], one-hot labels) batches.

    Only the uint8 48x48 faces live in memory. ``training`` shuffles every epoch (seeded by ``seed``);
    ``augment`` (``training.augment.augment_dataset``, training only) maps the batched dataset to its
    augmented version. Resizing to the network's input size and scaling happen inside the model
    (``fer_app.preprocess.model_input_stage``).

    With ``crowd_targets`` (N, 7) (a two-head model, ``training.ferplus``) the labels are the one-hot and the
    crowd targets side by side, (N, 14), and ``class_weight`` becomes per-face weights after the augmentation,
    by each face's FER-2013 label (Keras' own ``class_weight`` takes one label per face, as Keras would).
    """
    import tensorflow as tf

    labels = split.y.astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices((split.x[..., None], labels) if crowd_targets is None
                                            else (split.x[..., None], labels, crowd_targets.astype(np.float32)))
    if training:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if crowd_targets is None:
        ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), tf.one_hot(y, len(EMOTIONS))), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, y, c: (tf.cast(x, tf.float32), tf.concat([tf.one_hot(y, len(EMOTIONS)), c], axis=1)),
                    num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        ds = augment(ds)
    if crowd_targets is not None and class_weight:
        per_class = tf.constant([class_weight[i] for i in range(len(EMOTIONS))], tf.float32)
        ds = ds.map(lambda x, y: (x, y, tf.gather(per_class, tf.argmax(y[:, :len(EMOTIONS)], axis=1))),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
