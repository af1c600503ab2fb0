"""fer_app.charts: the history chart marks where each training phase starts."""

from __future__ import annotations

import pandas as pd

from fer_app.charts import history_chart, lr_chart, phase_starts


def _history(phases):
    n = len(phases)
    return pd.DataFrame({"epoch": range(1, n + 1), "phase": phases, "lr": [1e-3] * n, "loss": [1.0] * n,
                         "accuracy": [0.5] * n, "val_loss": [1.1] * n, "val_accuracy": [0.45] * n})


def test_every_phase_change_gets_a_marked_boundary():
    df = _history(["head", "finetune", "finetune", "distill", "distill", "restart"])
    starts = phase_starts(df)
    assert starts["epoch"].tolist() == [1.5, 3.5, 5.5]
    assert starts["text"].tolist() == ["fine-tuning starts", "distillation starts", "warm restart starts"]
    assert phase_starts(_history(["finetune"] * 3)).empty
    for chart in (history_chart(df, "accuracy"), history_chart(df, "loss"), lr_chart(df)):
        spec = chart.to_dict()
        rules = [layer for layer in spec["layer"] if any(sub.get("mark", {}).get("type") == "rule"
                                                         for sub in layer.get("layer", []))]
        assert len(rules) == 1, "no phase rule in the chart"
        drawn = spec["datasets"][rules[0]["data"]["name"]]
        assert [(row["epoch"], row["text"]) for row in drawn] == [
            (1.5, "fine-tuning starts"), (3.5, "distillation starts"), (5.5, "warm restart starts")]
