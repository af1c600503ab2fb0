"""Why this emotion: a per-face importance map over the 48x48 face the model saw, on the run-time path.

The default method is occlusion sensitivity: the face is copied once per square patch position, each copy
has one patch filled with the face's mean grey, and all copies go through the classifier in one batch.
A pixel's importance is the mean drop of the explained emotion's probability over the patches covering
it: a region matters when hiding it lowers the score. ``"rise"`` (random smooth masks, weighted by the
score each masked copy keeps) is the comparison method. Both only call the classifier (LiteRT), so no
TensorFlow or Keras is imported here. The choice of method, patch and stride, and the faithfulness
figures behind it, are in docs/explanations.md (``benchmarks/explain_faithfulness.py``).

Maps explain one view of the face (no test-time augmentation): the 10-view average would cost ten
times as much, and one view is the computation the map can be checked against.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from fer_app.labels import EMOTIONS, INDEX
from fer_app.preprocess import FACE_SIZE, prepare_batch

METHODS = ("occlusion", "rise")
#: Occlusion patch side and step in pixels of the 48x48 face, chosen on the validation split by the
#: deletion test and the 100 ms budget (docs/explanations.md).
PATCH, STRIDE = 12, 6
#: RISE: number of random masks, grid cells per side, fraction of cells kept.
RISE_MASKS, RISE_CELLS, RISE_KEEP = 128, 8, 0.5

#: Face regions of FER-2013's framing (brow to chin), as (name, rows, columns) rectangles painted in
#: order on the 48x48 grid, later ones on top; placed on the mean test face (docs/explanations.md).
REGION_BOXES = (
    ("edges of the crop", (0, 48), (0, 48)),
    ("forehead", (0, 11), (8, 40)),
    ("brows", (11, 16), (6, 42)),
    ("eyes", (16, 22), (6, 42)),
    ("cheeks", (22, 40), (6, 42)),
    ("nose", (22, 31), (17, 31)),
    ("mouth", (31, 40), (13, 35)),
    ("chin", (40, 48), (10, 38)),
)
REGIONS = tuple(name for name, _, _ in REGION_BOXES)


@functools.lru_cache(maxsize=1)
def region_labels() -> np.ndarray:
    """(48, 48) int array: the index in :data:`REGIONS` of each pixel's face region."""
    labels = np.zeros((FACE_SIZE, FACE_SIZE), np.int8)
    for i, (_, (y0, y1), (x0, x1)) in enumerate(REGION_BOXES):
        labels[y0:y1, x0:x1] = i
    return labels


@dataclass
class Explanation:
    """One face's map. ``importance`` is (48, 48) float32 in [0, 1] over ``face``, 1 = most important."""

    face: np.ndarray
    emotion: str
    probability: float
    importance: np.ndarray
    method: str = "occlusion"

    @property
    def reading(self) -> str:
        return read_map(self.importance)


def emotion_index(name: str | None) -> int | None:
    """Index of an emotion name (any case), None for None. ValueError (one sentence) when unknown."""
    if name is None:
        return None
    key = str(name).strip().lower()
    if key not in INDEX:
        raise ValueError(f"unknown emotion '{name}'; choose from {', '.join(EMOTIONS)}")
    return INDEX[key]


@functools.lru_cache(maxsize=8)
def occlusion_masks(patch: int = PATCH, stride: int = STRIDE) -> np.ndarray:
    """(M, 48, 48) float32, 1 inside one patch: a square grid of positions that always reaches the far edges."""
    last = FACE_SIZE - patch
    starts = sorted(set(range(0, last + 1, stride)) | {last})
    masks = np.zeros((len(starts) ** 2, FACE_SIZE, FACE_SIZE), np.float32)
    for k, (y, x) in enumerate((y, x) for y in starts for x in starts):
        masks[k, y:y + patch, x:x + patch] = 1.0
    return masks


@functools.lru_cache(maxsize=8)
def rise_masks(n: int = RISE_MASKS, cells: int = RISE_CELLS, keep: float = RISE_KEEP, seed: int = 0) -> np.ndarray:
    """(n, 48, 48) float32 in [0, 1], 1 = hidden: random coarse grids, smoothly enlarged and randomly shifted."""
    import cv2

    rng = np.random.default_rng(seed)
    cell = int(np.ceil(FACE_SIZE / cells))
    up = (cells + 1) * cell
    out = np.empty((n, FACE_SIZE, FACE_SIZE), np.float32)
    for i in range(n):
        grid = (rng.random((cells + 1, cells + 1)) >= keep).astype(np.float32)
        big = cv2.resize(grid, (up, up), interpolation=cv2.INTER_LINEAR)
        dy, dx = rng.integers(0, cell, 2)
        out[i] = big[dy:dy + FACE_SIZE, dx:dx + FACE_SIZE]
    return out


def hide(face: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Copies of one (48, 48) uint8 face, each with its mask's area filled with the face's mean: (M, 48, 48, 1)."""
    f = face.astype(np.float32)
    out = f * (1.0 - masks) + float(f.mean()) * masks
    return np.rint(out).astype(np.uint8)[..., None]


def _predictor(model):
    """A function (N, 48, 48, 1) uint8 -> (N, 7) probabilities: the classifier's one-view prediction."""
    if hasattr(model, "predict_prepared"):
        return lambda x: model.predict_prepared(x, tta=False)
    return model


def raw_maps(model, faces: np.ndarray, targets=None, method: str = "occlusion",
             **options) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signed maps (N, 48, 48) for prepared faces (N, 48, 48), the faces' probabilities (N, 7) and the
    explained emotion indices (N,). ``targets``: an emotion index per face, None for the predicted one.
    The faces and all their masked copies go through the classifier in one call."""
    if method not in METHODS:
        raise ValueError(f"unknown explanation method '{method}'; choose from {', '.join(METHODS)}")
    faces = np.asarray(faces, np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE)
    n = len(faces)
    masks = occlusion_masks(**options) if method == "occlusion" else rise_masks(**options)
    probs = _predictor(model)(np.concatenate([faces[..., None]] + [hide(f, masks) for f in faces]))
    base, masked = probs[:n], probs[n:].reshape(n, len(masks), -1)
    targets = [None] * n if targets is None else list(targets)
    targets = np.array([int(np.argmax(p)) if t is None else int(t) for t, p in zip(targets, base)])
    scores = masked[np.arange(n), :, targets]  # (N, M)
    if method == "occlusion":
        drops = base[np.arange(n), targets][:, None] - scores
        maps = np.einsum("nm,mhw->nhw", drops, masks) / masks.sum(axis=0)
    else:
        # the score a copy keeps, credited to what it showed; centred so an average copy counts 0
        shown = 1.0 - masks
        kept = scores - scores.mean(axis=1, keepdims=True)
        maps = np.einsum("nm,mhw->nhw", kept, shown) / shown.sum(axis=0)
    return maps.astype(np.float32), base, targets


def importance_of(raw: np.ndarray) -> np.ndarray:
    """A signed map -> [0, 1]: the positive part over its maximum (all zeros when nothing supports the class)."""
    pos = np.clip(np.asarray(raw, np.float32), 0.0, None)
    top = float(pos.max()) if pos.size else 0.0
    return pos / top if top > 0 else np.zeros_like(pos)


def explain_prepared(model, faces: np.ndarray, emotions=None, method: str = "occlusion",
                     **options) -> list[Explanation]:
    """Maps for prepared faces (N, 48, 48[, 1]) uint8. ``emotions``: one name (or None = the predicted one)
    for all faces, or a list with one per face. ``model``: an EmotionClassifier or a predict function;
    ``options`` go to the masks (patch/stride, or n/cells/keep)."""
    faces = np.asarray(faces, np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE)
    if len(faces) == 0:
        return []
    names = list(emotions) if isinstance(emotions, (list, tuple)) else [emotions] * len(faces)
    raw, probs, targets = raw_maps(model, faces, [emotion_index(n) for n in names], method, **options)
    return [Explanation(f, EMOTIONS[t], float(p[t]), importance_of(r), method)
            for f, t, p, r in zip(faces, targets, probs, raw)]


def explain_crops(model, crops, emotions=None, method: str = "occlusion") -> list[Explanation]:
    """Maps for face crops of any size (as from :func:`fer_app.faces.crop_face`), through the same
    preprocessing as classification."""
    return explain_prepared(model, prepare_batch(crops)[..., 0], emotions, method)


def region_shares(importance: np.ndarray, top: float = 0.2) -> dict[str, float]:
    """How the importance of the map's brightest ``top`` fraction of pixels splits over the face regions,
    largest share first (zero-importance pixels count for nothing, so ties at zero do not matter)."""
    imp = np.asarray(importance, np.float32).ravel()
    k = max(1, int(round(top * imp.size)))
    idx = np.argsort(-imp, kind="stable")[:k]
    mass = np.bincount(region_labels().ravel()[idx], weights=imp[idx], minlength=len(REGIONS))
    total = float(mass.sum())
    shares = {name: (float(m) / total if total > 0 else 0.0) for name, m in zip(REGIONS, mass)}
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def _join(names: list[str]) -> str:
    names = [f"the {n}" for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def read_map(importance: np.ndarray) -> str:
    """A one-line plain reading of a map, e.g. 'mostly the mouth and the cheeks'. A region is named when it
    holds at least 1.5 times the share of importance its area would give it."""
    if float(np.max(importance)) <= 0:
        return "no part of the face raises this score"
    area = np.bincount(region_labels().ravel(), minlength=len(REGIONS)) / region_labels().size
    picked, total = [], 0.0
    for name, share in region_shares(importance).items():
        if share < 1.5 * area[REGIONS.index(name)] or share < 0.1:
            continue
        picked.append(name)
        total += share
        if total >= 0.6 or len(picked) == 3:
            break
    if total >= 0.6:
        return f"mostly {_join(picked)}"
    return f"spread across the face, most in {_join(picked)}" if picked else "spread across the face"


def map_image(importance: np.ndarray) -> np.ndarray:
    """The map as a (48, 48) uint8 grayscale image, brighter = more important."""
    return np.rint(np.clip(importance, 0, 1) * 255).astype(np.uint8)


def overlay(face: np.ndarray, importance: np.ndarray, size: int = 192) -> np.ndarray:
    """RGB (size, size, 3) uint8: the enlarged face with the map as a heat colour, stronger where it matters."""
    import cv2

    gray = cv2.resize(np.asarray(face, np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    imp = cv2.resize(np.clip(importance, 0, 1).astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    heat = cv2.applyColorMap(np.rint(imp * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    alpha = (0.1 + 0.6 * imp)[..., None]
    base = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    return np.rint(base * (1 - alpha) + heat * alpha).astype(np.uint8)
