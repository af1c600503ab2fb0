"""The seven FER-2013 emotions: names, order and chart colours.

This is the only place the labels are defined. The model's output index ``i`` means ``EMOTIONS[i]``;
training, evaluation, the CLI and the app all import this module (and the shipped model's
``config.json`` records the same order, which :mod:`fer_app.model` checks on load).
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
NUM_CLASSES = len(EMOTIONS)

#: Index of each emotion in the model's output.
INDEX: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}

#: Label indices of the original ``fer2013.csv`` (Kaggle / ICML 2013 challenge):
#: 0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral.
CSV_CODES: dict[int, str] = {0: "angry", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}

#: One colour per emotion (hex), used by charts and annotated images alike.
COLOURS: dict[str, str] = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#2ca02c",
    "neutral": "#7f7f7f",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
}


def colour_rgb(emotion: str) -> tuple[int, int, int]:
    """The emotion's colour as an (R, G, B) tuple of ints."""
    h = COLOURS[emotion].lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
