"""Altair charts for the app (usable anywhere Altair is): probabilities, history, confusion matrix."""

from __future__ import annotations

import altair as alt
import pandas as pd

from fer_app.labels import COLOURS, EMOTIONS

_SCALE = alt.Scale(domain=list(EMOTIONS), range=[COLOURS[e] for e in EMOTIONS])


def probability_chart(probabilities: dict[str, float], title: str = "", height: int = 220) -> alt.Chart:
    """Horizontal bars of the 7 probabilities in the fixed label order; the top emotion is opaque and
    labelled, the others faded."""
    top = max(probabilities, key=probabilities.get)
    df = pd.DataFrame({"emotion": list(EMOTIONS), "probability": [float(probabilities[e]) for e in EMOTIONS]})
    df["top"] = df["emotion"] == top
    df["label"] = df["probability"].map(lambda p: f"{p * 100:.1f}%")
    base = alt.Chart(df, title=title or alt.Undefined, height=height).encode(
        y=alt.Y("emotion:N", sort=list(EMOTIONS), title=None, axis=alt.Axis(labelOverlap=False)),
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="probability"),
    )
    bars = base.mark_bar().encode(
        color=alt.Color("emotion:N", scale=_SCALE, legend=None),
        opacity=alt.condition("datum.top", alt.value(1.0), alt.value(0.35)),
        tooltip=["emotion", alt.Tooltip("probability:Q", format=".1%")],
    )
    text = base.mark_text(align="left", dx=3).encode(text="label:N")
    return bars + text


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


def timeline_chart(records: list[dict], title: str = "Emotion timeline (main face)") -> alt.Chart:
    """Emotion of the main face over time: records of {'t': seconds, 'emotion': name, 'p': prob}."""
    df = pd.DataFrame(records or [{"t": 0.0, "emotion": "neutral", "p": 0.0}])
    return alt.Chart(df, title=title, height=200).mark_circle(size=40).encode(
        x=alt.X("t:Q", title="seconds"), y=alt.Y("emotion:N", sort=list(EMOTIONS), title=None),
        color=alt.Color("emotion:N", scale=_SCALE, legend=None), opacity=alt.Opacity("p:Q", legend=None),
        tooltip=["t", "emotion", alt.Tooltip("p:Q", format=".0%")])


def share_chart(shares: dict[str, float], title: str = "Share of time per emotion") -> alt.LayerChart:
    """Horizontal bars: the share of frames (or time) each emotion was the top one."""
    df = pd.DataFrame({"emotion": list(EMOTIONS), "share": [float(shares.get(e, 0.0)) for e in EMOTIONS]})
    df["label"] = df["share"].map(lambda p: f"{p * 100:.0f}%")
    base = alt.Chart(df, title=title, height=220).encode(
        y=alt.Y("emotion:N", sort=list(EMOTIONS), title=None, axis=alt.Axis(labelOverlap=False)),
        x=alt.X("share:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="share of time"))
    bars = base.mark_bar().encode(color=alt.Color("emotion:N", scale=_SCALE, legend=None),
                                  tooltip=["emotion", alt.Tooltip("share:Q", format=".1%")])
    return bars + base.mark_text(align="left", dx=3).encode(text="label:N")
