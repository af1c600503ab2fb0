"""Annotated copies of images: numbered boxes with the top emotion and its probability."""

from __future__ import annotations

import functools

import numpy as np

from fer_app.labels import colour_rgb


@functools.lru_cache(maxsize=16)
def _font(size: int):
    """Pillow's bundled font at ``size`` px, loaded once per size: loading it is most of a label's cost, which
    a video pays on every frame (benchmarks/video.py)."""
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


def _outline(out: np.ndarray, x0: int, y0: int, x1: int, y1: int, colour, width: int) -> None:
    """A rectangle's outline ``width`` px thick, inside the corners (x0, y0)-(x1, y1) (inclusive, as Pillow's),
    drawn into ``out`` by slicing and clipped to it."""
    h, w = out.shape[:2]
    for top, bottom, left, right in ((y0, y0 + width, x0, x1 + 1), (y1 - width + 1, y1 + 1, x0, x1 + 1),
                                     (y0, y1 + 1, x0, x0 + width), (y0, y1 + 1, x1 - width + 1, x1 + 1)):
        top, bottom, left, right = max(0, top), min(h, bottom), max(0, left), min(w, right)
        if top < bottom and left < right:
            out[top:bottom, left:right] = colour


@functools.lru_cache(maxsize=512)
def _label_patch(text: str, colour: tuple, size: int, pad: int) -> np.ndarray:
    """The label's pixels: ``text`` on a ``colour`` box with a black edge (Pillow renders only this small patch;
    a whole frame through Pillow and back costs about a millisecond at 640x480, on every frame of a video)."""
    from PIL import Image, ImageDraw

    font = _font(size)
    tb = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    tw, th = tb[2] - tb[0] + 2 * pad, tb[3] - tb[1] + 2 * pad
    img = Image.new("RGB", (tw + 1, th + 1), tuple(colour))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, tw, th], outline="black")
    d.text((pad, pad - tb[1]), text, fill=_text_colour(colour), font=font)
    return np.asarray(img)


def annotate(rgb: np.ndarray, faces, numbered: bool = True, scale: float = 1.0, numbers=None,
             in_place: bool = False) -> np.ndarray:
    """``rgb`` with each face's box and '#n emotion p%' label: a copy (the input is not modified), or ``rgb``
    itself with ``in_place`` (a video's frames). The one drawing of labels in the project: photos, the webcam and
    the annotated video copy all come through here.

    ``numbers``: the label's number per face (a video's person numbers; default 1, 2, ... left to right, or none
    with ``numbered=False``). ``scale`` maps the faces' boxes onto ``rgb`` (for a display copy). Boxes get a thin
    black line outside and a white one inside, so every emotion colour stands out on light and dark photos;
    line width and label size grow with the image, so labels stay readable at any size.
    """
    rgb = np.asarray(rgb, np.uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    out = rgb[..., :3] if in_place else np.array(rgb[..., :3], copy=True)
    h, w = out.shape[:2]
    thick = max(2, round(max(h, w) / 300))
    size, pad = max(13, round(max(h, w) / 38)), max(3, thick)
    numbers = list(numbers) if numbers is not None else range(1, len(faces) + 1)
    for i, face in zip(numbers, faces):
        x, y, bw, bh = (int(round(v * scale)) for v in face.box)
        colour = colour_rgb(face.emotion)
        _outline(out, x - 1, y - 1, x + bw + 1, y + bh + 1, (0, 0, 0), 1)
        _outline(out, x, y, x + bw, y + bh, colour, thick)
        _outline(out, x + thick, y + thick, x + bw - thick, y + bh - thick, (255, 255, 255), 1)
        number = f"#{i} " if numbered else ""
        patch = _label_patch(f"{number}{face.emotion} {face.probabilities[face.emotion] * 100:.0f}%", tuple(colour),
                             size, pad)
        ph, pw = patch.shape[:2]
        ty = y - ph if y - ph >= 0 else min(y + bh, h - ph)
        tx = min(max(0, x), max(0, w - pw))
        ty, tx = max(0, ty), max(0, tx)
        ch, cw = min(ph, h - ty), min(pw, w - tx)
        out[ty:ty + ch, tx:tx + cw] = patch[:ch, :cw]
    return out


def png_bytes(image: np.ndarray) -> bytes:
    """PNG file contents for a uint8 grayscale or RGB array (downloads, the CLI's files, heat maps)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
