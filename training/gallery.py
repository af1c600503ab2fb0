"""Contact sheets of test faces per emotion: what the model gets right, and its most confident mistakes.

``training.evaluate --out DIR`` writes ``DIR/gallery_<emotion>.png`` for each of the seven emotions: a top row
of the faces of that emotion the model classified right with the highest confidence, and a bottom row of the
faces of that emotion it got wrong with the highest confidence in the wrong answer (captioned with it).
Faces stay at their 48x48 size (the Model page enlarges them), so the seven sheets weigh a few hundred KB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_app.labels import EMOTIONS

FACES_PER_ROW = 8
CELL, CAPTION, HEADER = 58, 12, 16


def pick(probs: np.ndarray, y: np.ndarray, label: int, n: int = FACES_PER_ROW) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the ``n`` most confident right answers, of the ``n`` most confident mistakes) for ``label``."""
    pred, conf = probs.argmax(1), probs.max(1)
    right = np.flatnonzero((y == label) & (pred == label))
    wrong = np.flatnonzero((y == label) & (pred != label))
    return right[np.argsort(-conf[right])][:n], wrong[np.argsort(-conf[wrong])][:n]


def contact_sheet(x: np.ndarray, probs: np.ndarray, y: np.ndarray, label: int):
    """One PIL image: the right answers on top, the mistakes below, each face captioned."""
    from PIL import Image, ImageDraw, ImageFont

    right, wrong = pick(probs, y, label)
    row_h = CELL + CAPTION
    img = Image.new("L", (FACES_PER_ROW * CELL, 2 * (HEADER + row_h)), 255)
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=10)
    for r, (indices, title) in enumerate(((right, f"{EMOTIONS[label]}: right"),
                                          (wrong, f"{EMOTIONS[label]}: most confident mistakes"))):
        top = r * (HEADER + row_h)
        d.text((2, top + 2), title, fill=0, font=font)
        for c, i in enumerate(indices):
            x0, y0 = c * CELL + 2, top + HEADER
            img.paste(Image.fromarray(np.asarray(x[i], np.uint8)), (x0, y0))
            p = probs[i].argmax()
            d.text((x0, y0 + 49), f"{EMOTIONS[p][:5]} {probs[i, p] * 100:.0f}%", fill=0, font=font)
    return img


def write_gallery(x: np.ndarray, probs: np.ndarray, y: np.ndarray, out: Path) -> list[Path]:
    """Write ``gallery_<emotion>.png`` for each emotion into ``out``; returns the paths."""
    paths = []
    for label, name in enumerate(EMOTIONS):
        path = Path(out) / f"gallery_{name}.png"
        contact_sheet(x, probs, y, label).save(path, optimize=True)
        paths.append(path)
    return paths
