"""Probability calibration: temperature scaling and expected calibration error (ECE).

The model outputs softmax probabilities p; with temperature T the calibrated probabilities are
softmax(log p / T), i.e. p ** (1/T) renormalised. T is fitted on the validation split by
minimising the negative log-likelihood and stored in the model's config.json.
"""

from __future__ import annotations

import numpy as np


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale probabilities (N, K) by a temperature; rows still sum to 1."""
    probs = np.asarray(probs, np.float64)
    if temperature == 1.0:
        return probs / probs.sum(axis=-1, keepdims=True)
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / float(temperature)
    logits -= logits.max(axis=-1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=-1, keepdims=True)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0))))


def fit_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """Temperature in [0.25, 5] minimising the NLL of ``probs`` for labels ``y`` (grid + refinement)."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(5.0), 121))
    losses = [nll(apply_temperature(probs, t), y) for t in grid]
    best = int(np.argmin(losses))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    fine = np.linspace(lo, hi, 41)
    return float(fine[int(np.argmin([nll(apply_temperature(probs, t), y) for t in fine]))])


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins (top-1 confidence vs accuracy)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)
