"""Annotated copies of images: numbered boxes with the top emotion and its probability."""

from __future__ import annotations

import numpy as np

from fer_app.labels import colour_rgb


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def annotate(rgb: np.ndarray, faces, numbered: bool = True) -> np.ndarray:
    """A copy of ``rgb`` with each face's box and '#n emotion p%' label; the input is not modified."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.asarray(rgb, np.uint8)).convert("RGB")
    d = ImageDraw.Draw(img)
    h, w = rgb.shape[:2]
    thick = max(2, round(max(h, w) / 400))
    font = _font(max(12, round(max(h, w) / 50)))
    for i, face in enumerate(faces, start=1):
        x, y, bw, bh = face.box
        colour = colour_rgb(face.emotion)
        d.rectangle([x, y, x + bw, y + bh], outline=colour, width=thick)
        number = f"#{i} " if numbered else ""
        label = f"{number}{face.emotion} {face.probabilities[face.emotion] * 100:.0f}%"
        tb = d.textbbox((0, 0), label, font=font)
        tw, th = tb[2] - tb[0] + 6, tb[3] - tb[1] + 6
        ty = y - th if y - th >= 0 else y + bh
        tx = min(max(0, x), max(0, w - tw))
        d.rectangle([tx, ty, tx + tw, ty + th], fill=colour)
        d.text((tx + 3, ty + 3 - tb[1]), label, fill="white", font=font)
    return np.asarray(img)


def to_png_bytes(rgb: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
