"""The charts of results (a face's probabilities, the webcam timeline and its summary) as Vega-Lite specs for
``st.vega_lite_chart``.

Plain dictionaries rather than Altair charts: Altair and the pandas it builds its data with add 93 MB to the
app process and 0.36 s of imports (``research/chart_imports.py``, docs/resources.md), and the Photos and Live
webcam pages need neither for 7 bars. Each layer carries its own inline data: Streamlit converts a spec's top-level data to
Arrow through pandas, but sends a layer's data as it is. The Model page's charts are in ``fer_app.model_charts``.
"""

from __future__ import annotations

from fer_app.labels import COLOURS, EMOTIONS

#: each emotion's colour as a Vega-Lite scale (the Altair charts use it too: ``alt.Scale(**EMOTION_SCALE)``)
EMOTION_SCALE = {"domain": list(EMOTIONS), "range": [COLOURS[e] for e in EMOTIONS]}
_COLOUR = {"field": "emotion", "type": "nominal", "legend": None, "scale": EMOTION_SCALE}
_EMOTION_ROWS = {"field": "emotion", "type": "nominal", "sort": list(EMOTIONS), "title": None,
                 "axis": {"labelOverlap": False}}


def _bars_with_labels(rows: list[dict], field: str, axis_title: str, title: str, height: int) -> dict:
    """Horizontal bars of ``field`` per emotion (0-1, fixed label order) with the percentage beside each; rows
    whose ``top`` is false are faded."""
    x = {"field": field, "type": "quantitative", "scale": {"domain": [0, 1]}, "axis": {"format": "%"},
         "title": axis_title}
    bars = {"data": {"values": rows}, "mark": {"type": "bar"},
            "encoding": {"y": _EMOTION_ROWS, "x": x, "color": _COLOUR,
                         "opacity": {"condition": {"test": "datum.top", "value": 1.0}, "value": 0.35},
                         "tooltip": [{"field": "emotion", "type": "nominal"},
                                     {"field": field, "type": "quantitative", "format": ".1%"}]}}
    text = {"data": {"values": rows}, "mark": {"type": "text", "align": "left", "dx": 3},
            "encoding": {"y": _EMOTION_ROWS, "x": x, "text": {"field": "label", "type": "nominal"}}}
    spec = {"height": height, "layer": [bars, text]}
    return {"title": title, **spec} if title else spec


def probability_chart(probabilities: dict[str, float], title: str = "", height: int = 220) -> dict:
    """Horizontal bars of the 7 probabilities in the fixed label order; the top emotion is opaque, the others
    faded; each bar is labelled with its percentage."""
    top = max(probabilities, key=probabilities.get)
    rows = [{"emotion": e, "probability": float(probabilities[e]), "top": e == top,
             "label": f"{float(probabilities[e]) * 100:.1f}%"} for e in EMOTIONS]
    return _bars_with_labels(rows, "probability", "probability", title, height)


def share_chart(shares: dict[str, float], title: str = "Share of time per emotion") -> dict:
    """Horizontal bars: the share of frames (or time) each emotion was the top one."""
    rows = [{"emotion": e, "share": float(shares.get(e, 0.0)), "top": True,
             "label": f"{float(shares.get(e, 0.0)) * 100:.0f}%"} for e in EMOTIONS]
    return _bars_with_labels(rows, "share", "share of time", title, 220)


def timeline_chart(records: list[dict], title: str = "Emotion timeline (main face)") -> dict:
    """Emotion of the main face over time: records of {'t': seconds, 'emotion': name, 'p': probability}."""
    rows = [{"t": float(r["t"]), "emotion": r["emotion"], "p": float(r["p"])} for r in records] or [
        {"t": 0.0, "emotion": "neutral", "p": 0.0}]
    return {"title": title, "height": 200, "layer": [{
        "data": {"values": rows}, "mark": {"type": "circle", "size": 40},
        "encoding": {"x": {"field": "t", "type": "quantitative", "title": "seconds"},
                     "y": {"field": "emotion", "type": "nominal", "sort": list(EMOTIONS), "title": None},
                     "color": _COLOUR, "opacity": {"field": "p", "type": "quantitative", "legend": None},
                     "tooltip": [{"field": "t", "type": "quantitative"}, {"field": "emotion", "type": "nominal"},
                                 {"field": "p", "type": "quantitative", "format": ".0%"}]}}]}
