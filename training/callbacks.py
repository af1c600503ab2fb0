"""Keras callbacks of a training run, each a small extension of the library's own.

``training.run_dir.RunDir.epoch_callbacks`` puts the first two in every ``fit()``; ``training.train`` adds
the third in the fine-tuning phase.
"""

from __future__ import annotations

import time

import keras

from training.memory import peak_rss_mb


class HistoryCSV(keras.callbacks.CSVLogger):
    """CSVLogger with history.csv's columns: epochs counted from 1 (Keras counts from 0), the phase, the
    learning rate and the epoch's seconds, appended to the rows of the phase or session before. ``columns``: the
    file's header (``training.run_dir.HISTORY_FIELDS``, given by the run folder, which owns the file's format)."""

    def __init__(self, path, phase: str, columns: list[str]):
        super().__init__(str(path), append=True)
        self.phase, self.columns = phase, list(columns)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.keys = self.columns[1:]  # one column order in every fit(), whatever each one logs

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.time()

    def on_epoch_end(self, epoch, logs=None):
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row = {**(logs or {}), "phase": self.phase, "lr": lr, "seconds": round(time.time() - self.t0, 1)}
        super().on_epoch_end(epoch + 1, row)


class RunProgress(keras.callbacks.Callback):
    """After every epoch, records in ``state`` (and with ``write(state)``) what ModelCheckpoint and
    EarlyStopping know, the epochs done and the peak memory, so that a resumed run starts where it stopped."""

    def __init__(self, state: dict, write, best: keras.callbacks.ModelCheckpoint, early_stopping=None):
        super().__init__()
        self.state, self.write, self.best, self.early_stopping = state, write, best, early_stopping

    def on_epoch_end(self, epoch, logs=None):
        s = self.state
        if self.best.best != s["best_val_accuracy"]:
            s.update(best_val_accuracy=float(self.best.best), best_epoch=epoch + 1, wait=0)
        if self.early_stopping is not None:
            s.update(wait=self.early_stopping.wait, stopped_early=self.early_stopping.stopped_epoch > 0)
        s.update(epochs_done=epoch + 1, peak_rss_mb=round(max(s["peak_rss_mb"] or 0.0, peak_rss_mb()), 1))
        self.write(s)


class ContinuedEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping on validation accuracy that starts from the best value and the count of epochs without
    improvement of the epochs before this ``fit()`` (the head phase, a killed session), which Keras' own
    resets at every ``fit()``."""

    def __init__(self, patience: int, best: float, wait: int):
        super().__init__(monitor="val_accuracy", mode="max", patience=patience)
        self.start = (best, wait)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.best, self.wait = self.start
