"""The only place pixels become model input: shared by training, evaluation, the CLI and the app.

Two stages, both used by training *and* inference:

1. :func:`normalize_face` (NumPy/OpenCV): any face crop (grayscale, RGB or RGBA, any size, uint8)
   -> grayscale -> resize to the stored face size (48x48, FER-2013's own) -> per-image histogram
   equalisation. The training cache stores exactly this output, and inference applies it to every
   detected face.
2. :func:`model_input_stage` (Keras layers, built into the model itself): uint8-valued 48x48x1 faces
   -> resize to the network's input size -> scale to [-1, 1] (identical to
   ``keras.applications.mobilenet_v2.preprocess_input``) -> 3 identical channels for the ImageNet
   backbone. Because this runs inside the model, the dataset is never copied at 224x224 or as RGB,
   and a model exported to TFLite carries its own preprocessing.

Why histogram equalisation: the shared FER-2013 copies are per-image equalised, users' Kaggle
downloads and webcam crops are not. Equalisation is (up to rounding) invariant to any monotonic
brightness change (gamma, contrast, exposure) and (nearly) idempotent, so equalised and raw copies of
the same face give the same model input; ``tests/test_preprocess.py`` measures both properties.
"""

from __future__ import annotations

import numpy as np

#: Side of the stored face crop (FER-2013's native resolution).
FACE_SIZE = 48
#: Version tag of this preprocessing; part of the data-cache key and of every model's config.
PREPROCESSING_VERSION = "gray-area48-equalizehist-v1"
#: Model scaling: x * SCALE + OFFSET maps [0, 255] to [-1, 1] (MobileNetV2's preprocess_input).
SCALE = 1.0 / 127.5
OFFSET = -1.0

DESCRIPTION = {
    "version": PREPROCESSING_VERSION,
    "steps": [
        "RGB/RGBA -> grayscale (ITU-R BT.601 luma, cv2.COLOR_RGB2GRAY)",
        f"resize to {FACE_SIZE}x{FACE_SIZE} (cv2.INTER_AREA when shrinking, INTER_LINEAR when enlarging)",
        "per-image histogram equalisation (cv2.equalizeHist)",
        "[in the model] bilinear resize to the network input size",
        "[in the model] x / 127.5 - 1 (mobilenet_v2.preprocess_input), gray repeated to 3 channels",
    ],
}


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 image (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA -> uint8 (H, W)."""
    import cv2

    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY)
    raise ValueError(f"expected an image of shape (H, W[, 1|3|4]), got {image.shape}")


def normalize_face(face: np.ndarray) -> np.ndarray:
    """One face crop (uint8, gray/RGB/RGBA, any size) -> equalised uint8 (FACE_SIZE, FACE_SIZE)."""
    import cv2

    gray = to_gray(face)
    if gray.size == 0:
        raise ValueError("empty face crop")
    if gray.shape != (FACE_SIZE, FACE_SIZE):
        shrinking = gray.shape[0] >= FACE_SIZE and gray.shape[1] >= FACE_SIZE
        interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        gray = cv2.resize(gray, (FACE_SIZE, FACE_SIZE), interpolation=interp)
    return cv2.equalizeHist(np.ascontiguousarray(gray))


def prepare_batch(faces) -> np.ndarray:
    """Face crops -> uint8 array (N, FACE_SIZE, FACE_SIZE, 1), ready for the model."""
    out = np.zeros((len(faces), FACE_SIZE, FACE_SIZE, 1), np.uint8)
    for i, face in enumerate(faces):
        out[i, :, :, 0] = normalize_face(face)
    return out


def model_input_stage(x, img_size: int):
    """Keras layers applied inside the model to a (N, 48, 48, 1) tensor of 0..255 values.

    Returns the tensor the MobileNetV2 backbone takes: (N, img_size, img_size, 3) in [-1, 1].
    """
    from keras import layers

    x = layers.Rescaling(SCALE, offset=OFFSET, name="scale_to_unit")(x)
    if img_size != FACE_SIZE:
        x = layers.Resizing(img_size, img_size, interpolation="bilinear", name="resize_to_input")(x)
    return layers.Concatenate(axis=-1, name="gray_to_3ch")([x, x, x])


#: Test-time augmentation: every face is seen at these (dy, dx) pixel shifts, each also mirrored, and
#: the softmax outputs are averaged (10 views). Chosen on the validation split
#: (``research/tta_views.py``, ``docs/research/experiments.md``); calibration fits ``temperature_tta`` for it.
TTA_SHIFTS = ((0, 0), (-1, -1), (1, 1), (-1, 1), (1, -1))
TTA_VERSION = "flip-x-diag1-v1"


def shift_faces(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move the crop window of a batch (N, H, W[, C]) by (dy, dx) pixels: ``out[r, c] = x[r + dy, c + dx]``,
    with the edge pixels repeated where the window leaves the image."""
    if dy == 0 and dx == 0:
        return x
    py, px = abs(dy), abs(dx)
    pad = [(0, 0), (py, py), (px, px)] + [(0, 0)] * (x.ndim - 3)
    padded = np.pad(x, pad, mode="edge")
    h, w = x.shape[1], x.shape[2]
    return padded[:, py + dy:py + dy + h, px + dx:px + dx + w]


def tta_views(x: np.ndarray, shifts=TTA_SHIFTS) -> np.ndarray:
    """(N, H, W[, C]) prepared faces -> (V * N, H, W[, C]): each shift, then each shift mirrored."""
    views = [shift_faces(x, dy, dx) for dy, dx in shifts]
    views += [v[:, :, ::-1] for v in views]
    return np.concatenate(views)


def mean_over_views(view_outputs: np.ndarray, n: int) -> np.ndarray:
    """The model's outputs for :func:`tta_views` of ``n`` faces, (V * n, ...) -> their mean per face (n, ...)."""
    return view_outputs.reshape(-1, n, *view_outputs.shape[1:]).mean(axis=0)
