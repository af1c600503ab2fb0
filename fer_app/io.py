"""Safe image decoding: paths, bytes, file objects or arrays -> uint8 RGB array (H, W, 3).

Handles JPEG, PNG, WebP, BMP, TIFF (whatever Pillow reads), applies the EXIF orientation, converts
grayscale, RGBA (composited on white), palette, 16-bit and float images to 8-bit RGB, and refuses
decompression bombs. Every failure raises :class:`ImageLoadError` with a message meant for people.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from fer_app.errors import FERError

#: Hard cap on decoded pixels (width x height). Larger files are refused before decoding.
MAX_PIXELS = 50_000_000
#: The image types Pillow reads here, as people name them.
READABLE_TYPES = "JPEG, PNG, WebP, BMP or TIFF"


def folder_problem(folder) -> str | None:
    """Create ``folder`` (and its parents) for a CLI's output; why it cannot be, in plain words, or None."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def limit_text() -> str:
    """The pixel limit, said the same way in every message (app, CLI, docs)."""
    return f"{MAX_PIXELS / 1e6:g} megapixels"


def too_large(label: str, w: int | None = None, h: int | None = None) -> str:
    size = f" ({w}x{h} pixels)" if w and h else ""
    return f"{label} is too large{size}; the limit is {limit_text()}, so shrink it and try again"


class ImageLoadError(FERError, ValueError):
    """The input is not a readable image (missing, empty, truncated, not an image, or too large)."""


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        hi = 1.0 if float(np.nanmax(arr, initial=0.0)) <= 1.0 else 255.0
        return np.clip(np.nan_to_num(arr) / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if arr.dtype in (np.uint16, np.int32, np.uint32, np.int64, np.int16):
        peak = 65535.0 if arr.dtype == np.uint16 or float(arr.max(initial=0)) > 255 else 255.0
        return np.clip(arr.astype(np.float64) / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
    raise ImageLoadError(f"pixels of type {arr.dtype} are not supported; use 8- or 16-bit integers or floats")


def array_to_rgb(arr: np.ndarray) -> np.ndarray:
    """Any image array (H, W), (H, W, 1|3|4) of uint8/uint16/float/bool -> contiguous uint8 RGB."""
    arr = np.asarray(arr)
    if arr.ndim not in (2, 3) or arr.size == 0 or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageLoadError(f"this array is not an image (shape {arr.shape}); pass (H, W), (H, W, 3) or (H, W, 4)")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise ImageLoadError(too_large("the image", arr.shape[1], arr.shape[0]))
    arr = _to_uint8(arr)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        rgb = arr[:, :, :3].astype(np.float32)
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (rgb * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _pil_to_rgb(img) -> np.ndarray:
    from PIL import ImageOps

    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        return array_to_rgb(np.asarray(img))
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return array_to_rgb(np.asarray(img))
    if img.mode != "RGB":
        img = img.convert("RGB")
    return array_to_rgb(np.asarray(img))


def load_image(source, name: str | None = None) -> np.ndarray:
    """Decode ``source`` (path, bytes, binary file object or array) to a uint8 RGB array (H, W, 3).

    Raises :class:`ImageLoadError` for a missing, empty, truncated, oversized or non-image input.
    """
    from PIL import Image

    if isinstance(source, np.ndarray):
        return array_to_rgb(source)
    label = name
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = label or str(path)
        if path.is_dir():
            raise ImageLoadError(f"{label} is a folder, not an image file; pass the images in it, e.g. {path}/*.jpg")
        if not path.is_file():
            raise ImageLoadError(f"{label}: no such file; check the path")
        data = path.read_bytes()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
        label = label or getattr(source, "name", None)
    else:
        raise ImageLoadError("this input is not an image; pass a file path, bytes, a file object or an array")
    label = label or "image"
    if not data:
        raise ImageLoadError(f"{label} is an empty file (0 bytes); choose the photo again")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise ImageLoadError(too_large(label, w, h))
                img.load()
                return _pil_to_rgb(img)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(too_large(label)) from None
    except Exception as exc:  # Pillow raises many types for bad data; people need what to do, not which
        if "truncated" in str(exc).lower():
            raise ImageLoadError(f"{label} is truncated or corrupt (only part of the file is there); "
                                 "save or download it again") from None
        raise ImageLoadError(f"{label} is not a readable image; use {READABLE_TYPES}") from None


def load_gray(source) -> np.ndarray:
    """Decode a (dataset) image straight to uint8 grayscale (H, W) without an RGB copy."""
    from PIL import Image

    try:
        with Image.open(source) as img:
            img.load()
            if img.mode != "L":
                img = img.convert("L")
            arr = np.asarray(img)
    except Exception:
        raise ImageLoadError(f"{source} is not a readable image; use {READABLE_TYPES}") from None
    if arr.size == 0:
        raise ImageLoadError(f"{source} is an empty image")
    return arr
