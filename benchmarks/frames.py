"""The test frames the latency and detector benchmarks share: a 640x480 frame with one or four real faces."""

from __future__ import annotations

import numpy as np


def make_frame(n_faces: int) -> np.ndarray:
    import cv2
    from skimage import data

    face = data.astronaut()[20:300, 120:340]
    frame = np.full((480, 640, 3), 100, np.uint8)
    if n_faces == 1:
        frame[100:380, 210:430] = face
    else:
        small = cv2.resize(face, (132, 168))
        for i, (y, x) in enumerate([(40, 60), (40, 420), (260, 60), (260, 420)][:n_faces]):
            frame[y:y + 168, x:x + 132] = small if i % 2 == 0 else small[:, ::-1]
    return frame
