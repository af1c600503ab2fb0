"""Knowledge distillation targets: trained teacher models label every augmented training batch.

The teachers see exactly the batch the student sees (after flips, shifts, erasing and mixup), so the
student learns the teachers' function on the same views ("consistent" distillation), not just their
opinion of the clean training faces, which they have mostly memorised. Each teacher's softmax is
calibrated with its own validation-fitted temperature (``config.json: temperature``) before the
teachers are averaged; the training target is ``distill * teachers + (1 - distill) * true label``.
"""

from __future__ import annotations

import json
from pathlib import Path


def model_file(path) -> Path:
    """A model directory (holding ``model.keras``) or a ``.keras`` file -> the ``.keras`` file."""
    path = Path(path)
    file = path / "model.keras" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no trained model at {path} (expected a .keras file or a directory with model.keras)")
    return file


def teacher_temperature(file: Path) -> float:
    """The single-view temperature stored beside a teacher (1.0 when it has none)."""
    config = file.parent / "config.json"
    if config.is_file():
        return float(json.loads(config.read_text()).get("temperature", 1.0))
    return 1.0


def make_target_fn(teacher_paths, weight: float):
    """A tf function (x, y) -> weight * mean calibrated teacher softmax(x) + (1 - weight) * y."""
    import keras
    import tensorflow as tf

    if not 0.0 < weight <= 1.0:
        raise ValueError(f"distillation weight must be in (0, 1], got {weight}")
    files = [model_file(p) for p in teacher_paths]
    teachers = [keras.models.load_model(f, compile=False) for f in files]
    for t in teachers:
        t.trainable = False
    temperatures = [teacher_temperature(f) for f in files]

    def target(x, y):
        probs = []
        for model, temp in zip(teachers, temperatures):
            p = model(x, training=False)
            probs.append(tf.nn.softmax(tf.math.log(tf.maximum(p, 1e-7)) / temp, axis=-1))
        soft = tf.add_n(probs) / len(probs)
        return weight * soft + (1.0 - weight) * y

    return target
