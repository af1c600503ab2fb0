"""fer_app.model_charts: the history chart marks where each training phase starts."""

from __future__ import annotations

import pandas as pd

from fer_app.model_charts import history_chart, lr_chart, phase_starts


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


def test_result_charts_are_plain_vega_lite_without_pandas_or_altair():
    """The Photos and Live webcam pages draw these; building them must not import pandas or Altair (93 MB)."""
    import json
    import subprocess
    import sys

    code = ("import json, sys; from fer_app.charts import probability_chart, share_chart, timeline_chart; "
            "specs = [probability_chart({'angry': .1, 'disgust': 0, 'fear': 0, 'happy': .7, 'neutral': .2, 'sad': 0, "
            "'surprise': 0}, 'Main face'), share_chart({'happy': .75, 'sad': .25}), "
            "timeline_chart([{'t': 0.5, 'emotion': 'happy', 'p': 0.9}])]; "
            "print(json.dumps({'specs': specs, 'loaded': [m for m in ('pandas', 'altair') if m in sys.modules]}))")
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["loaded"] == []
    probability, share, timeline = out["specs"]
    bars = probability["layer"][0]["data"]["values"]
    assert [r["emotion"] for r in bars] == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert [r["emotion"] for r in bars if r["top"]] == ["happy"] and bars[3]["label"] == "70.0%"
    assert probability["title"] == "Main face"
    assert all(r["top"] for r in share["layer"][0]["data"]["values"])  # shares are all drawn opaque
    assert [r["share"] for r in share["layer"][0]["data"]["values"]][3:6] == [0.75, 0.0, 0.25]
    assert timeline["layer"][0]["data"]["values"] == [{"t": 0.5, "emotion": "happy", "p": 0.9}]
    assert all("data" not in spec for spec in out["specs"])  # layer data only: Streamlit sends it without pandas
