"""Annotated copies of images: numbered boxes with the top emotion and its probability."""

from __future__ import annotations

import numpy as np

from fer_app.labels import colour_rgb


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def display_copy(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """(copy at most ``max_side`` px long, its scale relative to ``rgb``); ``rgb`` itself when small enough."""
    from PIL import Image

    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return rgb, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS)), scale


def _text_colour(rgb: tuple[int, int, int]) -> str:
    """Black or white, whichever reads better on a label filled with ``rgb`` (relative luminance)."""
    return "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 150 else "white"


def annotate(rgb: np.ndarray, faces, numbered: bool = True, scale: float = 1.0, numbers=None) -> np.ndarray:
    """A copy of ``rgb`` with each face's box and '#n emotion p%' label; the input is not modified. The one
    drawing of labels in the project: photos, the webcam and the annotated video copy all come through here.

    ``numbers``: the label's number per face (a video's person numbers; default 1, 2, ... left to right, or none
    with ``numbered=False``). ``scale`` maps the faces' boxes onto ``rgb`` (for a display copy). Boxes get a thin
    black line outside and a white one inside, so every emotion colour stands out on light and dark photos;
    line width and label size grow with the image, so labels stay readable at any size.
    """
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.asarray(rgb, np.uint8)).convert("RGB")
    d = ImageDraw.Draw(img)
    h, w = rgb.shape[:2]
    thick = max(2, round(max(h, w) / 300))
    font = _font(max(13, round(max(h, w) / 38)))
    numbers = list(numbers) if numbers is not None else range(1, len(faces) + 1)
    for i, face in zip(numbers, faces):
        x, y, bw, bh = (v * scale for v in face.box)
        colour = colour_rgb(face.emotion)
        d.rectangle([x - 1, y - 1, x + bw + 1, y + bh + 1], outline="black", width=1)
        d.rectangle([x, y, x + bw, y + bh], outline=colour, width=thick)
        d.rectangle([x + thick, y + thick, x + bw - thick, y + bh - thick], outline="white", width=1)
        number = f"#{i} " if numbered else ""
        label = f"{number}{face.emotion} {face.probabilities[face.emotion] * 100:.0f}%"
        tb = d.textbbox((0, 0), label, font=font)
        pad = max(3, thick)
        tw, th = tb[2] - tb[0] + 2 * pad, tb[3] - tb[1] + 2 * pad
        ty = y - th if y - th >= 0 else min(y + bh, h - th)
        tx = min(max(0, x), max(0, w - tw))
        d.rectangle([tx, ty, tx + tw, ty + th], fill=colour, outline="black")
        d.text((tx + pad, ty + pad - tb[1]), label, fill=_text_colour(colour), font=font)
    return np.asarray(img)


def png_bytes(image: np.ndarray) -> bytes:
    """PNG file contents for a uint8 grayscale or RGB array (downloads, the CLI's files, heat maps)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
