"""FER+ crowd votes (Microsoft FER+, ten annotators per face) matched to our FER-2013 splits.

The votes file (``ferplus_votes.csv``: ``image,ferplus_name`` then ten vote columns) names each face twice:
by its Kaggle path (``train/<emotion>/Training_*.jpg``) and by FER+'s own name (``ferNNNNNNN.png``, row
NNNNNNN of ``fer2013.csv``), so both dataset layouts find their votes.

What the seven classes take from the ten columns:

* ``contempt``, ``unknown`` and ``NF`` (not a face) votes are dropped: FER-2013 has no contempt class, and
  "cannot tell" or "not a face" says nothing about which of the seven it is. The crowd distribution is the
  seven emotion votes divided by their sum.
* A face with no votes (FER+ dropped 151 train files) or with none of the seven (all its votes were contempt,
  unknown or not-a-face) has no crowd distribution: its target is its FER-2013 label alone.
* The *crowd majority* (the second benchmark's truth) is the column with the most of the ten votes when it is
  unique and one of the seven; other faces are left out of that benchmark and counted.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_app.labels import NUM_CLASSES

#: FER+'s ten vote columns, in the file's order
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
#: for each of our EMOTIONS (angry, disgust, fear, happy, neutral, sad, surprise): its FER+ column
OUR_COLUMNS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
_PICK = [VOTE_COLUMNS.index(c) for c in OUR_COLUMNS]
#: The votes of the Kaggle folders' train and PublicTest files, shipped with the project (MIT, Microsoft's FER+;
#: ``training/FERPLUS_VOTES.md``): the recipe's and ``training.evaluate``'s default.
SHIPPED_VOTES = Path(__file__).resolve().with_name("ferplus_votes.csv.gz")


def recorded_votes(path) -> str:
    """What a run's config records for the votes file ``path``: the shipped file by its name alone, so no config
    names a folder of the machine that trained it; another file by the path given."""
    path = Path(path)
    return SHIPPED_VOTES.name if path.is_file() and path.resolve() == SHIPPED_VOTES else str(path)


def resolve_votes(recorded) -> Path | None:
    """The votes file a config's ``settings.ferplus`` means (None: the model was trained without votes)."""
    if not recorded:
        return None
    if recorded == SHIPPED_VOTES.name and not Path(recorded).is_file():
        return SHIPPED_VOTES
    return Path(recorded)


class VotesError(Exception):
    """The votes file is missing or not FER+'s (the message says why, on one line)."""


@dataclass
class CrowdLabels:
    """FER+ votes of one split, row by row with the split's faces."""

    votes: np.ndarray  # (N, 10) float32, zeros where the face has no votes
    has_votes: np.ndarray  # (N,) bool

    def distribution(self) -> np.ndarray:
        """(N, 7) crowd distribution over our emotions; rows without any of the seven votes are zeros."""
        ours = self.votes[:, _PICK]
        total = ours.sum(axis=1, keepdims=True)
        return np.where(total > 0, ours / np.maximum(total, 1e-9), 0.0).astype(np.float32)

    def majority(self) -> np.ndarray:
        """(N,) index of the unique majority among the ten columns when it is one of our seven, else -1."""
        top = self.votes.max(axis=1, keepdims=True)
        unique = ((self.votes == top).sum(axis=1) == 1) & self.has_votes & (top[:, 0] > 0)
        column = self.votes.argmax(axis=1)
        ours = np.full(len(self.votes), -1, np.int64)
        for index, col in enumerate(_PICK):
            ours[unique & (column == col)] = index
        return ours


def read_votes(path) -> dict[str, np.ndarray]:
    """{key: (10,) votes}; each row is keyed by its Kaggle path and by its FER+ name."""
    path = Path(path)
    if not path.is_file():
        raise VotesError(f"{path}: no such votes file (FER+ votes: ferplus_votes.csv)")
    votes: dict[str, np.ndarray] = {}
    opener = gzip.open if path.suffix == ".gz" else open
    expected = f"image,ferplus_name,{','.join(VOTE_COLUMNS)}"
    try:
        with opener(path, "rt", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            if tuple(h.strip() for h in header[2:]) != VOTE_COLUMNS:
                raise VotesError(f"{path}: not a FER+ votes file (expected {expected})")
            for row in reader:
                v = np.array([float(x) for x in row[2:12]], np.float32)
                votes[row[0]] = v
                votes[row[1]] = v
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        raise VotesError(f"{path}: not a readable FER+ votes file (expected CSV rows {expected})") from None
    return votes


def source_key(source: str, split_name: str) -> str:
    """The votes key of one face named as :class:`training.data.Split` names it: a path inside its split folder
    (``angry/Training_1.jpg``) or a CSV line (``line 2``, the first data row, FER+'s ``fer0000000.png``)."""
    if source.startswith("line "):
        return f"fer{int(source[5:]) - 2:07d}.png"
    folder = "test" if split_name == "test" else "train"  # val is carved out of train
    return f"{folder}/{source}"


def crowd_labels(split, votes: dict[str, np.ndarray]) -> CrowdLabels:
    """The votes of every face of ``split`` (a :class:`training.data.Split`), zeros where it has none."""
    out = np.zeros((len(split), len(VOTE_COLUMNS)), np.float32)
    has = np.zeros(len(split), bool)
    for i, source in enumerate(split.sources):
        v = votes.get(source_key(source, split.name))
        if v is not None:
            out[i], has[i] = v, True
    return CrowdLabels(out, has)


def mixed_targets(y: np.ndarray, crowd: CrowdLabels, lam: float) -> np.ndarray:
    """(N, 7) targets ``lam * one-hot(y) + (1 - lam) * crowd distribution``; the one-hot alone where a face
    has no crowd distribution."""
    onehot = np.eye(NUM_CLASSES, dtype=np.float32)[y]
    dist = crowd.distribution()
    known = dist.sum(axis=1, keepdims=True) > 0
    return np.where(known, lam * onehot + (1.0 - lam) * dist, onehot).astype(np.float32)
