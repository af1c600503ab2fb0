"""Find and load the shipped classifier and predict batches of faces, thread-safely.

The app and the CLIs run ``model.tflite`` through LiteRT (``ai_edge_litert``), without TensorFlow; the
Keras file (``backend="keras"``) is for training-side evaluation and needs ``requirements-train.txt``.

A model directory holds ``config.json`` (labels, face size, input size, temperature, ...) and
``model.tflite`` and/or ``model.keras``. The config is the truth about the model: its label order
must equal :data:`fer_app.labels.EMOTIONS` and its preprocessing version must equal
:data:`fer_app.preprocess.PREPROCESSING_VERSION`, or loading fails with :class:`ModelLoadError`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import threading
from pathlib import Path

import numpy as np

from fer_app import answers, preprocess
from fer_app.calibration import apply_temperature
from fer_app.errors import FERError
from fer_app.labels import EMOTIONS

#: The model shipped with the project (``FER_MODEL_DIR`` in the environment points elsewhere).
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "models"


def default_model_dir() -> Path:
    return Path(os.environ.get("FER_MODEL_DIR") or SHIPPED_MODEL_DIR)


#: What each head's probabilities stand for, in the words the app shows (``config.json``'s ``heads``)
HEAD_MEANING = {
    "crowd": "how ten people would label this face (trained on FER+'s ten annotators per face)",
    "fer2013": "learned from FER-2013's labels (one annotator's guess per training face)",
    "balanced": ("the crowd head with every emotion weighted as equally likely: its probabilities divided by how often "
                 "it expects each emotion on FER+'s faces (a third of them neutral), so clear expressions on real "
                 "photographs are not pulled towards neutral"),
}


class ModelLoadError(FERError, RuntimeError):
    """The model files are missing, unreadable or do not match this code's labels/preprocessing."""


def model_dir_of(path) -> Path:
    """The model directory named by ``path``: the directory itself, or the folder of a model file in it.

    Raises :class:`ModelLoadError` when ``path`` does not exist, so a mistyped ``--model`` is reported as
    itself rather than as a missing ``config.json`` somewhere else.
    """
    path = Path(path)
    if path.is_dir():
        return path
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model folder or file")
    return path.parent


@contextlib.contextmanager
def native_stderr_hidden():
    """Send what native code writes to file descriptor 2 to /dev/null meanwhile (Python's own errors are
    raised after it, so they still show). Also used by ``training.quiet`` for TensorFlow's import."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _native_stderr_quiet():
    """:func:`native_stderr_hidden`, unless ``TF_CPP_MIN_LOG_LEVEL=0``.

    LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on every allocation; it ignores
    ``TF_CPP_MIN_LOG_LEVEL`` set from Python (only a value in the environment at process start counts).
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        yield
        return
    with native_stderr_hidden():
        yield


class EmotionClassifier:
    """A loaded classifier. ``predict_proba(faces)`` -> (N, 7) calibrated probabilities; ``predict(faces)`` -> names.

    ``backend``: 'tflite', 'keras' or 'auto' (TFLite when the file exists: it is faster here).
    Safe to share between threads: each call holds a lock around the interpreter/model.
    """

    def __init__(self, model_dir=None, backend: str = "auto", model_path=None, head: str | None = None):
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        if model_path is not None:
            model_path = Path(model_path)
            self.model_dir = model_dir_of(model_path)
            if model_path.is_dir():
                model_path = None
        config_path = self.model_dir / "config.json"
        if not config_path.is_file() and self.model_dir == SHIPPED_MODEL_DIR and not SHIPPED_MODEL_DIR.is_dir():
            raise ModelLoadError("the shipped model is not installed with the package (it lives in the repository's "
                                 "models/ folder): install from a checkout with pip install -e ., or set FER_MODEL_DIR "
                                 "to a model folder")
        if not config_path.is_file():
            raise ModelLoadError(f"no model config at {config_path}: train a model or restore models/")
        self.config = json.loads(config_path.read_text())
        labels = tuple(self.config.get("labels", ()))
        if labels != EMOTIONS:
            raise ModelLoadError(f"{config_path}: label order {labels} does not match {EMOTIONS}")
        version = self.config.get("preprocessing", {}).get("version")
        if version != preprocess.PREPROCESSING_VERSION:
            raise ModelLoadError(f"{config_path}: preprocessing {version!r} differs from this code's "
                                 f"{preprocess.PREPROCESSING_VERSION!r}; retrain or update")
        self._choose_head(head or self.config.get("app_head"))
        if model_path is None:
            tfl, ker = self.model_dir / "model.tflite", self.model_dir / "model.keras"
            if backend == "keras" or (backend == "auto" and not tfl.is_file()):
                model_path = ker
            else:
                model_path = tfl
        if not model_path.is_file():
            raise ModelLoadError(f"model file not found: {model_path}")
        self.path = model_path
        self.backend = "tflite" if model_path.suffix == ".tflite" else "keras"
        self._lock = threading.Lock()
        try:
            if self.backend == "tflite":
                self._load_tflite(model_path)
            else:
                os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
                import keras

                self._keras = keras.models.load_model(model_path, compile=False)
        except Exception:
            raise ModelLoadError(f"{model_path} is not a model file this app can load (damaged, or from another "
                                 "version); restore models/ from the repository") from None

    def _choose_head(self, head: str | None) -> None:
        """Which head's columns and temperatures this classifier reports (``config["heads"]``; a one-head model
        has one, ``fer2013``); a head without its own temperatures uses the config's top-level ones. An entry with
        a ``combine`` key is an answer made of the other heads (:mod:`fer_app.answers`), already calibrated."""
        self._specs = self.config.get("heads") or {"fer2013": {}}
        self.heads = tuple(self._specs)
        self.head = head or self.heads[0]
        if self.head not in self._specs:
            raise ModelLoadError(f"this model has no {self.head!r} head (it has: {', '.join(self.heads)})")
        spec = self._specs[self.head]
        self._combined = spec if answers.is_combined(spec) else None
        self._columns = tuple(spec["columns"]) if "columns" in spec else None
        if self._combined:
            self.temperature = self.temperature_tta = 1.0
        else:
            self.temperature, self.temperature_tta = self._temperatures(spec)

    def _temperatures(self, spec: dict) -> tuple[float, float]:
        t = float(spec.get("temperature", self.config.get("temperature", 1.0)))
        return t, float(spec.get("temperature_tta", self.config.get("temperature_tta", t)))

    @property
    def network_heads(self) -> tuple[str, ...]:
        """The heads that are columns of the network (not answers combined from them)."""
        return tuple(name for name, spec in self._specs.items() if not answers.is_combined(spec))

    def with_head(self, head: str) -> EmotionClassifier:
        """The same loaded network reporting another head (no second copy of the model in memory)."""
        other = copy.copy(self)
        other._choose_head(head)
        return other

    @staticmethod
    def _new_interpreter(path: Path):
        # LiteRT runs the TensorFlow-Lite export without TensorFlow (~60 MB installed instead of 1.3 GB)
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter(model_path=str(path), num_threads=min(4, os.cpu_count() or 1))

    def _load_tflite(self, path: Path) -> None:
        self._interp = self._new_interpreter(path)
        inp = self._interp.get_input_details()[0]
        self._in_index = inp["index"]
        self._out_index = self._interp.get_output_details()[0]["index"]
        self._allocated = {"batch": None}  # shared by with_head() copies, which share the interpreter

    def _raw_tflite(self, x: np.ndarray) -> np.ndarray:
        if self._allocated["batch"] != len(x):
            self._interp.resize_tensor_input(self._in_index, list(x.shape))
            with _native_stderr_quiet():
                self._interp.allocate_tensors()
            self._allocated["batch"] = len(x)
        self._interp.set_tensor(self._in_index, x)
        self._interp.invoke()
        return self._interp.get_tensor(self._out_index).copy()

    #: Largest batch sent to the model at once; bigger inputs (a whole test split) are chunked. Keras runs
    #: eagerly here and its peak memory grows with the batch: calibrating a 96 px model on validation
    #: peaked at 5.5 GB RSS in batches of 256 and 2.2 GB in batches of 64 (docs/research/experiments.md).
    MAX_BATCH = 256
    MAX_BATCH_KERAS = 64

    def _outputs(self, faces_u8: np.ndarray) -> np.ndarray:
        """Every column of the network (all heads) for prepared faces (N, 48, 48[, 1]) uint8, any N."""
        x = np.asarray(faces_u8, np.float32)
        if x.ndim == 3:
            x = x[..., None]
        if len(x) == 0:
            width = max((spec["columns"][1] for spec in self._specs.values() if "columns" in spec), default=len(EMOTIONS))
            return np.zeros((0, width), np.float32)
        parts = []
        step = self.MAX_BATCH if self.backend == "tflite" else self.MAX_BATCH_KERAS
        for i in range(0, len(x), step):
            chunk = x[i:i + step]
            with self._lock:
                parts.append(self._raw_tflite(chunk) if self.backend == "tflite"
                             else np.asarray(self._keras(chunk, training=False)))
        return np.concatenate(parts)

    def _outputs_tta(self, faces_u8: np.ndarray, shifts=preprocess.TTA_SHIFTS) -> np.ndarray:
        x = np.asarray(faces_u8)
        if len(x) == 0:
            return self._outputs(x)
        return preprocess.mean_over_views(self._outputs(preprocess.tta_views(x, shifts)), len(x))

    def _head_columns(self, outputs: np.ndarray, head: str) -> np.ndarray:
        spec = self._specs[head]
        return outputs[:, spec["columns"][0]:spec["columns"][1]] if "columns" in spec else outputs

    def _calibrated_heads(self, outputs: np.ndarray, tta: bool) -> dict[str, np.ndarray]:
        return {head: apply_temperature(self._head_columns(outputs, head), self._temperatures(self._specs[head])[tta])
                for head in self.network_heads}

    def _answer(self, outputs: np.ndarray, tta: bool) -> np.ndarray:
        if self._combined:
            return self.answer_from_heads(self._calibrated_heads(outputs, tta))
        return self._head_columns(outputs, self.head)

    def answer_from_heads(self, head_probs: dict[str, np.ndarray]) -> np.ndarray:
        """This classifier's calibrated answer from :meth:`predict_heads`' output (no second pass)."""
        if self._combined:
            return answers.combine_spec(head_probs, self._combined)
        return head_probs[self.head]

    def predict_raw(self, faces_u8: np.ndarray) -> np.ndarray:
        """Uncalibrated softmax for prepared faces (N, 48, 48[, 1]) uint8 -> (N, 7), any N (a combined answer
        is made of calibrated heads: its own temperature is 1)."""
        return self._answer(self._outputs(faces_u8), tta=False)

    def predict_raw_tta(self, faces_u8: np.ndarray, shifts=preprocess.TTA_SHIFTS) -> np.ndarray:
        """Uncalibrated softmax averaged over the test-time views (:func:`preprocess.tta_views`)."""
        return self._answer(self._outputs_tta(faces_u8, shifts), tta=True)

    def predict_heads(self, faces_u8: np.ndarray, tta: bool = False) -> dict[str, np.ndarray]:
        """{head: calibrated (N, 7) probabilities} for every head of the network, from one pass over the faces."""
        outputs = self._outputs_tta(faces_u8) if tta else self._outputs(faces_u8)
        return self._calibrated_heads(outputs, tta)

    def predict_prepared(self, faces_u8: np.ndarray, tta: bool = False) -> np.ndarray:
        """Calibrated probabilities for prepared faces; ``tta`` averages over shifted and mirrored views."""
        if tta:
            return apply_temperature(self.predict_raw_tta(faces_u8), self.temperature_tta)
        return apply_temperature(self.predict_raw(faces_u8), self.temperature)

    def predict_proba(self, faces, tta: bool = False) -> np.ndarray:
        """Face crops (uint8 arrays of any size, gray/RGB/RGBA) -> (N, 7) calibrated probabilities, columns in
        :data:`fer_app.labels.EMOTIONS` order (scikit-learn's verb)."""
        return self.predict_prepared(preprocess.prepare_batch(faces), tta=tta)

    def predict(self, faces, tta: bool = False) -> list[str]:
        """Face crops -> the most probable emotion of each, by name (scikit-learn's verb: labels, not probabilities)."""
        return [EMOTIONS[i] for i in self.predict_proba(faces, tta=tta).argmax(axis=1)]


_shared: dict[tuple, EmotionClassifier] = {}
_shared_lock = threading.Lock()


def load_classifier(model_dir=None, backend: str = "auto") -> EmotionClassifier:
    """One classifier per (directory, backend) per process."""
    key = (str(Path(model_dir or default_model_dir()).resolve()), backend)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = EmotionClassifier(model_dir, backend)
        return _shared[key]
