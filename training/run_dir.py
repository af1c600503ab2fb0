"""The run folder: what a training run, a soup or a shipped model keeps on disk, read and written only here.

    config.json    settings, labels, preprocessing, data fingerprints, calibration, timings
    history.csv    one row per epoch: epoch (from 1), phase, lr, loss, accuracy, val_loss, val_accuracy, seconds
    model.keras    the model of the best epoch (by validation accuracy)
    state.json     progress of a run: epochs done, best so far, early-stopping count, finished
    checkpoints/   Keras' BackupAndRestore backups, one folder per phase, for ``--resume``

A run started from another model's weights (``--init-from``) has a *lineage*: that model's history up to
its best epoch, then its own epochs, numbered on (:meth:`RunDir.lineage`).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

from fer_app.model import model_dir_of

CONFIG, HISTORY, STATE, MODEL, CHECKPOINTS = "config.json", "history.csv", "state.json", "model.keras", "checkpoints"
HISTORY_FIELDS = ["epoch", "phase", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "seconds",
                  "crowd_accuracy", "val_crowd_accuracy"]  # the crowd head's (training.two_heads), NA without one
NEW_STATE = {"epochs_done": 0, "best_val_accuracy": -1.0, "best_epoch": 0, "wait": 0,
             "stopped_early": False, "finished": False, "peak_rss_mb": None}


def model_file(path) -> Path:
    """A model folder or a ``.keras`` file -> the ``.keras`` file (the folder's ``model.keras``)."""
    path = Path(path)
    file = path if path.is_file() else model_dir_of(path) / MODEL
    if not file.is_file():
        raise FileNotFoundError(f"no trained model at {path} (expected a .keras file or a folder with {MODEL})")
    return file


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class RunDir:
    """One run or model folder. ``RunDir.of(path)`` accepts the folder or a file in it."""

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def of(cls, path) -> RunDir:
        return cls(model_dir_of(path))

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # ------------------------------------------------------------------ config.json

    def has_config(self) -> bool:
        return (self.path / CONFIG).is_file()

    def read_config(self) -> dict:
        if not self.has_config():
            raise FileNotFoundError(f"no model config at {self.path / CONFIG}")
        return json.loads((self.path / CONFIG).read_text())

    def write_config(self, config: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.path / CONFIG, json.dumps(config, indent=2) + "\n")

    def update_config(self, **fields) -> dict:
        config = self.read_config()
        config.update(fields)
        self.write_config(config)
        return config

    def settings(self) -> dict:
        """The settings the model was trained with (empty for a config without them)."""
        return self.read_config().get("settings", {})

    # ------------------------------------------------------------------ history.csv

    def read_history(self, upto_epoch: int | None = None) -> list[dict]:
        """The rows of history.csv, one per epoch: an epoch a resumed run trained again keeps its last row."""
        path = self.path / HISTORY
        if not path.is_file():
            return []
        with open(path, newline="") as fh:
            rows = {int(r["epoch"]): r for r in csv.DictReader(fh) if None not in r.values()}  # not a cut-off row
        return [rows[e] for e in sorted(rows) if upto_epoch is None or e <= upto_epoch]

    def write_history(self, rows: list[dict]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / (HISTORY + ".tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, self.path / HISTORY)

    def lineage(self, upto_epoch: int | None = None, depth: int = 0) -> list[dict]:
        """History rows of this run preceded by those of the model it started from (recursively)."""
        if depth > 10:
            raise ValueError(f"{self.path}: --init-from chain is too deep (a cycle?)")
        own = self.read_history(upto_epoch)
        parent = self.settings().get("init_from")
        if not parent:
            return own
        parent_run = RunDir(model_file(parent).parent)
        if not parent_run.has_config():
            raise FileNotFoundError(f"{self.path} started from {parent}, which has no {CONFIG}: "
                                    "its history cannot be traced")
        before = parent_run.lineage(int(parent_run.read_config()["best_epoch"]), depth + 1)
        offset = int(before[-1]["epoch"]) if before else 0
        return before + [dict(r, epoch=int(r["epoch"]) + offset) for r in own]

    # ------------------------------------------------------------------ state.json and checkpoints

    def read_state(self) -> dict | None:
        path = self.path / STATE
        return json.loads(path.read_text()) if path.is_file() else None

    def write_state(self, state: dict) -> None:
        _write_atomic(self.path / STATE, json.dumps(state, indent=2) + "\n")

    def started_by_older_code(self) -> bool:
        """A run folder of a ``training.train`` that kept ``checkpoints/last.keras`` (before BackupAndRestore)."""
        return (self.path / CHECKPOINTS / "last.keras").is_file()

    def start(self) -> dict:
        """Forget a previous run's progress in this folder (history, state, backups); the new run's state."""
        self.path.mkdir(parents=True, exist_ok=True)
        for name in (HISTORY, STATE):
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / CHECKPOINTS, ignore_errors=True)
        state = dict(NEW_STATE)
        self.write_state(state)
        return state

    def tidy_history(self) -> None:
        """Rewrite history.csv with one complete row per epoch (a kill can cut a row, or come before the
        backup of an epoch whose row was written, which the resumed run then trains and writes again)."""
        self.write_history(self.read_history())

    def epoch_callbacks(self, phase: str, state: dict, early_stopping=None) -> list:
        """Keras callbacks that keep this folder up to date after every epoch of ``phase``: history.csv,
        the best model, state.json (``state`` updated in place) and the phase's BackupAndRestore backup."""
        import keras

        from training.callbacks import HistoryCSV, RunProgress

        best = keras.callbacks.ModelCheckpoint(self.model_path, monitor="val_accuracy", mode="max", save_best_only=True,
                                               initial_value_threshold=state["best_val_accuracy"])
        # state.json last: it counts only epochs whose backup is complete; the backup keeps the one before it
        # (double_checkpoint) for a kill during its own writing
        backup = keras.callbacks.BackupAndRestore(str(self.path / CHECKPOINTS / phase), double_checkpoint=True,
                                                  delete_checkpoint=False)
        return [HistoryCSV(self.path / HISTORY, phase, HISTORY_FIELDS), best, backup, RunProgress(state, self.write_state, best, early_stopping)]

