"""Training augmentation of batches of faces (float32 (N, 48, 48, 1) in [0, 255], one-hot labels).

Three steps, in this order, applied by :func:`augment_dataset` to the training batches only (with
``photo`` > 0, :func:`photo_faces` comes first: sharpening, blur, rescaling or JPEG, as real cameras differ):

1. one geometric and photometric warp per face (:func:`augment_faces`): a mirror, then rotation, shift and
   zoom composed into **one** bicubic warp, then contrast and brightness. Chaining Keras' ``RandomRotation``,
   ``RandomTranslation`` and ``RandomZoom`` instead resamples every face three times and blurs it to 40 %
   of its sharpness while validation, test and the app see sharp faces (one warp keeps 81 %;
   ``research/augmentation_sharpness.py``), which cost 3.8 validation points (``docs/research/``);
2. random erasing (``erase`` > 0), 3. mixup (``mixup`` > 0): the warm restart's regularisation.
"""

from __future__ import annotations

import numpy as np

#: the name of this augmentation in a run's config.json ("settings": "augmentation")
AUGMENTATION = "affine-once-v2"


def augment_faces(faces: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Augment a batch of faces (N, 48, 48) in [0, 255] -> float32, same shape.

    Per face: a mirror with probability 0.5; then, scaled by ``strength`` (0 keeps only the mirror),
    rotation +-10 deg, shift +-10 %, zoom +-10 % composed into one affine warp (bicubic, reflected
    borders), contrast +-20 % around the face's mean and brightness +-10 % of the range, clipped to
    [0, 255].
    """
    import cv2

    n, h, w = faces.shape
    out = np.array(faces, np.float32)
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    if strength <= 0:
        return out
    s = strength
    angle = rng.uniform(-10 * s, 10 * s, n)
    zoom = 1.0 + rng.uniform(-0.1 * s, 0.1 * s, n)
    shift = rng.uniform(-0.1 * s, 0.1 * s, (n, 2)) * (w, h)
    for i in range(n):
        m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), angle[i], 1.0 / zoom[i])
        m[:, 2] += shift[i]
        out[i] = cv2.warpAffine(out[i], m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    mean = out.mean(axis=(1, 2), keepdims=True)
    contrast = rng.uniform(1 - 0.2 * s, 1 + 0.2 * s, (n, 1, 1))
    brightness = rng.uniform(-0.1 * s, 0.1 * s, (n, 1, 1)) * 255.0
    return np.clip((out - mean) * contrast + mean + brightness, 0.0, 255.0).astype(np.float32)


def photo_faces(faces: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    """Make a share ``probability`` of the faces (N, 48, 48) in [0, 255] look like crops of other cameras, one
    change each, drawn uniformly: sharpened (unsharp mask, amount 0.5-1.5: a sharp photo shrunk to 48 px is
    crisper than FER-2013's web faces), blurred (Gaussian, sigma 0.5-1.2 px), shrunk to 16-32 px and enlarged
    back, or JPEG-compressed (quality 20-60). Returns float32, same shape."""
    import cv2

    out = np.array(faces, np.float32)
    n, h, w = out.shape
    for i in np.flatnonzero(rng.random(n) < probability):
        face = np.clip(out[i], 0, 255).astype(np.uint8)
        kind = rng.integers(4)
        if kind == 0:
            soft = cv2.GaussianBlur(face, (0, 0), 1.0).astype(np.float32)
            out[i] = np.clip(face + rng.uniform(0.5, 1.5) * (face - soft), 0, 255)
        elif kind == 1:
            out[i] = cv2.GaussianBlur(face, (0, 0), rng.uniform(0.5, 1.2))
        elif kind == 2:
            side = int(rng.integers(16, 33))
            small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
            out[i] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            ok, buf = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 61))])
            out[i] = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return out


def make_augmenter(strength: float = 1.0, seed: int = 0, photo: float = 0.0):
    """``augment(x, batch_seed=None)``: :func:`augment_faces` as a TensorFlow op on a batch (N, 48, 48, 1).

    Each call draws from a NumPy generator seeded by ``batch_seed`` (``seed`` when None);
    :func:`augment_dataset` gives every batch of every epoch its own seed, so transforms are fresh each
    epoch and a run is repeatable.
    """
    import tensorflow as tf

    def run(x, batch_seed):
        rng = np.random.default_rng(int(batch_seed) % 2**63)
        faces = photo_faces(x[..., 0], photo, rng) if photo > 0 else x[..., 0]
        return augment_faces(faces, strength, rng)[..., None]

    def augment(x, batch_seed=None):
        batch_seed = tf.constant(seed, tf.int64) if batch_seed is None else batch_seed
        out = tf.numpy_function(run, [x, batch_seed], tf.float32, stateful=False)
        out.set_shape(x.shape)
        return out

    return augment


def _inside_boxes(h, w, y0, y1, x0, x1):
    """(N, H, W) bool: pixel (r, c) of image i lies in the box [y0[i], y1[i]) x [x0[i], x1[i]) (float32 bounds)."""
    import tensorflow as tf

    rows = tf.range(h)[None, :, None]
    cols = tf.range(w)[None, None, :]
    return ((rows >= y0[:, None, None]) & (rows < y1[:, None, None])
            & (cols >= x0[:, None, None]) & (cols < x1[:, None, None]))


def random_erase(x, probability: float):
    """Random erasing (Zhong et al. 2017) on a float batch (N, H, W, 1) in [0, 255].

    With ``probability`` per image, one rectangle covering 2-20 % of the face (aspect ratio 0.3-3.3)
    is replaced by uniform noise: the network cannot rely on any single region (mouth, eyes).
    """
    import tensorflow as tf

    shape = tf.shape(x)
    n, h, w = shape[0], tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    rng = tf.random.uniform
    area = rng([n], 0.02, 0.2) * h * w
    log_ratio = rng([n], tf.math.log(0.3), tf.math.log(3.3))
    eh = tf.minimum(tf.sqrt(area * tf.exp(log_ratio)), h)
    ew = tf.minimum(tf.sqrt(area / tf.exp(log_ratio)), w)
    y0 = rng([n], 0.0, 1.0) * (h - eh)
    x0 = rng([n], 0.0, 1.0) * (w - ew)
    inside = _inside_boxes(h, w, y0, y0 + eh, x0, x0 + ew)
    chosen = rng([n], 0.0, 1.0) < probability
    mask = (inside & chosen[:, None, None])[..., None]
    noise = rng(tf.shape(x), 0.0, 255.0)
    return tf.where(mask, noise, x)


def mixup(x, y, alpha: float):
    """Mixup (Zhang et al. 2018) of a batch with a shuffled copy of itself.

    ``y`` are one-hot (or soft) labels; one mixing weight lam ~ Beta(alpha, alpha) per image, folded to
    lam >= 0.5 so every mixed image keeps its own label as the larger part.
    """
    import tensorflow as tf

    n = tf.shape(x)[0]
    g1 = tf.random.gamma([n], alpha)
    g2 = tf.random.gamma([n], alpha)
    lam = g1 / (g1 + g2 + 1e-12)
    lam = tf.maximum(lam, 1.0 - lam)
    perm = tf.random.shuffle(tf.range(n))
    lx = lam[:, None, None, None]
    x = lx * x + (1.0 - lx) * tf.gather(x, perm)
    y = lam[:, None] * y + (1.0 - lam[:, None]) * tf.gather(y, perm)
    return x, y


def augment_dataset(ds, strength: float, seed: int, erase: float = 0.0, mixup_alpha: float = 0.0, photo: float = 0.0):
    """The batched training dataset ``ds`` of (x, one-hot y), augmented: photo-like changes (``photo`` > 0), warp,
    then erasing, then mixup."""
    import tensorflow as tf

    augmenter = make_augmenter(strength, seed, photo)
    # one seed per batch from a seeded stream that differs every epoch, zipped in before the parallel map:
    # a random op inside the map would either restart every epoch (seeded op) or hand its draws to
    # whichever batch runs first (a shared generator), making runs unrepeatable
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, seeds).map(lambda xy, s: (augmenter(xy[0], s), xy[1]),
                                            num_parallel_calls=tf.data.AUTOTUNE)
    if erase > 0:
        ds = ds.map(lambda x, y: (random_erase(x, erase), y), num_parallel_calls=tf.data.AUTOTUNE)
    if mixup_alpha > 0:
        ds = ds.map(lambda x, y: mixup(x, y, mixup_alpha), num_parallel_calls=tf.data.AUTOTUNE)
    return ds
