"""The Model page's Altair charts: training history, learning rate, confusion matrix, class balance.

The charts of results (photos, webcam) are in ``fer_app.charts``, which needs neither Altair nor pandas."""

from __future__ import annotations

import altair as alt
import pandas as pd

from fer_app.charts import EMOTION_SCALE
from fer_app.labels import EMOTIONS

_SCALE = alt.Scale(**EMOTION_SCALE)


def load_history(path) -> pd.DataFrame | None:
    """The training history CSV written by training.train (None when missing or empty)."""
    try:
        df = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    return df if len(df) else None


def history_chart(df: pd.DataFrame, metric: str, title: str | None = None) -> alt.LayerChart:
    """Train vs validation ``metric`` ('accuracy', 'loss' or 'crowd_accuracy') per epoch; the phase boundary is a rule."""
    long = df.melt(id_vars=["epoch", "phase"], value_vars=[metric, f"val_{metric}"], var_name="split", value_name="value")
    long["split"] = long["split"].map({metric: "train", f"val_{metric}": "validation"})
    lines = alt.Chart(long, title=title or metric.capitalize(), height=240).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch"), y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
        color=alt.Color("split:N", title=None), tooltip=["epoch", "phase", "split", alt.Tooltip("value:Q", format=".4f")])
    return lines + _phase_rule(df)


def lr_chart(df: pd.DataFrame) -> alt.LayerChart:
    line = alt.Chart(df, title="Learning rate", height=200).mark_line(point=True).encode(
        x="epoch:Q", y=alt.Y("lr:Q", title="learning rate", scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e")),
        color=alt.Color("phase:N"), tooltip=["epoch", "phase", alt.Tooltip("lr:Q", format=".2e")])
    return line + _phase_rule(df)


#: What the rule at the start of each training phase says.
PHASE_STARTS = {"head": "head training starts", "finetune": "fine-tuning starts",
                "restart": "warm restart starts", "distill": "distillation starts"}


def phase_starts(df: pd.DataFrame) -> pd.DataFrame:
    """One row (epoch boundary, text) for every phase change in a history, e.g. head -> finetune."""
    phases = df["phase"].tolist()
    epochs = df["epoch"].tolist()
    rows = [{"epoch": float(epochs[i - 1]) + 0.5, "text": PHASE_STARTS.get(phases[i], f"{phases[i]} starts")}
            for i in range(1, len(phases)) if phases[i] != phases[i - 1]]
    return pd.DataFrame(rows, columns=["epoch", "text"])


def _phase_rule(df: pd.DataFrame) -> alt.Chart:
    rule_df = phase_starts(df)
    rule = alt.Chart(rule_df).mark_rule(strokeDash=[4, 4], color="gray").encode(x="epoch:Q")
    label = alt.Chart(rule_df).mark_text(align="left", dx=4, color="gray").encode(x="epoch:Q", y=alt.value(8), text="text:N")
    return rule + label


def confusion_chart(cm, labels=EMOTIONS) -> alt.LayerChart:
    """Heatmap of the row-normalised confusion matrix (rows true, columns predicted) with counts."""
    rows = []
    for i, t in enumerate(labels):
        total = max(1, sum(cm[i]))
        for j, p in enumerate(labels):
            rows.append({"true": t, "predicted": p, "count": int(cm[i][j]), "share": cm[i][j] / total})
    df = pd.DataFrame(rows)
    base = alt.Chart(df, height=360, width=400).encode(
        x=alt.X("predicted:N", sort=list(labels)), y=alt.Y("true:N", sort=list(labels)))
    heat = base.mark_rect().encode(color=alt.Color("share:Q", scale=alt.Scale(scheme="blues"), title="row share"),
                                   tooltip=["true", "predicted", "count", alt.Tooltip("share:Q", format=".1%")])
    text = base.mark_text().encode(text=alt.Text("share:Q", format=".0%"),
                                   color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")))
    return heat + text


def distribution_chart(counts: dict[str, int], title: str = "Training images per class") -> alt.Chart:
    df = pd.DataFrame({"emotion": list(EMOTIONS), "images": [int(counts.get(e, 0)) for e in EMOTIONS]})
    return alt.Chart(df, title=title, height=220).mark_bar().encode(
        x=alt.X("emotion:N", sort=list(EMOTIONS)), y="images:Q",
        color=alt.Color("emotion:N", scale=_SCALE, legend=None), tooltip=["emotion", "images"])
