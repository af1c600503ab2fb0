"""Answers made of the model's heads: a weighted geometric mean of their probabilities, each divided by a power
of the prior that head learned.

A two-head model (``config.json``'s ``heads``) has the ``fer2013`` and ``crowd`` heads; a third entry with a
``combine`` key is an answer computed from them instead of columns of the network::

    "answer": {"combine": {"crowd": 0.5, "fer2013": 0.5}, "prior_power": 1.0,
               "priors": {"crowd": [7 floats], "fer2013": [7 floats]}}

    p(e) ∝ exp( Σ_h w_h · (log p_h(e) − k · log π_h(e)) )        (w normalised to sum to 1, k = prior_power)

Why a prior: each head's argmax is right for faces drawn with its training prior (FER+'s votes: a third of
them neutral; disgust and fear barely 1-3 %). Real photographs of clear expressions come with every emotion
about equally often; dividing by the prior (k = 1) is the Bayes correction for that label shift, k = 0 leaves
the head as trained. ``π_h`` is the mean of the head's calibrated probabilities over validation faces
(training-side data, ``training.answer``); ``docs/real_faces.md`` measures which answer the app uses.
"""

from __future__ import annotations

import numpy as np

#: Keys of a combined answer's entry in ``config["heads"]``.
COMBINE, PRIOR_POWER, PRIORS = "combine", "prior_power", "priors"


def is_combined(spec: dict) -> bool:
    return COMBINE in spec


def combine(head_probs: dict[str, np.ndarray], weights: dict[str, float], priors: dict | None = None,
            prior_power: float = 0.0) -> np.ndarray:
    """(N, K) probabilities of the answer from each head's calibrated (N, K) probabilities (see the module)."""
    total = float(sum(weights.values()))
    if total <= 0:
        raise ValueError("an answer needs at least one head with a positive weight")
    log = 0.0
    for head, weight in weights.items():
        part = np.log(np.clip(np.asarray(head_probs[head], np.float64), 1e-12, 1.0))
        if prior_power and priors:
            part = part - prior_power * np.log(np.clip(np.asarray(priors[head], np.float64), 1e-12, 1.0))
        log = log + (weight / total) * part
    log = log - np.max(log, axis=-1, keepdims=True)
    e = np.exp(log)
    return e / e.sum(axis=-1, keepdims=True)


def combine_spec(head_probs: dict[str, np.ndarray], spec: dict) -> np.ndarray:
    """:func:`combine` with the weights, priors and power of a config entry."""
    return combine(head_probs, spec[COMBINE], spec.get(PRIORS), float(spec.get(PRIOR_POWER, 0.0)))
