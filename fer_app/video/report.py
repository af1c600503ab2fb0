"""What a video file produced, as plain data: per-frame rows, a summary per person, CSV, JSON and a chart.

A *person* (the ``track`` column) is one face followed through the clip by :class:`fer_app.video.tracker.VideoAnalyzer`,
numbered 1, 2, ... in order of first appearance. Times are the frames' own time stamps in seconds from the
first frame, so variable-frame-rate clips get a true time axis; shares of time weight every analysed frame by
how long it stays on screen (until the next analysed frame).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np

from fer_app.labels import EMOTIONS

#: CSV columns, one row per analysed frame and face.
CSV_COLUMNS = ("time", "track", "x", "y", "w", "h", *EMOTIONS, "emotion")


@dataclass
class FaceRow:
    """One face in one analysed frame. ``box`` = (x, y, w, h) in pixels of the source clip (upright)."""

    frame: int
    time: float
    track: int
    box: tuple[int, int, int, int]
    probabilities: tuple[float, ...]
    emotion: str


@dataclass
class VideoResult:
    """Everything one clip produced. ``notice`` is a sentence for people (e.g. no face found), or None."""

    name: str
    width: int
    height: int
    duration: float
    fps: float
    frames: int = 0
    every: int = 1
    detect_every: int = 5
    times: list[float] = field(default_factory=list)
    rows: list[FaceRow] = field(default_factory=list)
    notice: str | None = None
    video: bytes | None = None
    video_mime: str = ""
    video_suffix: str = ""
    video_codec: str = ""
    video_size: tuple[int, int] = (0, 0)
    seconds: float = 0.0

    @property
    def analysed(self) -> int:
        return len(self.times)

    @property
    def tracks(self) -> list[int]:
        return sorted({r.track for r in self.rows})

    def weights(self) -> np.ndarray:
        """Seconds each analysed frame stands for: the gap to the next analysed frame (to the end for the last)."""
        t = np.asarray(self.times, np.float64)
        if len(t) == 0:
            return t
        gaps = np.diff(t)
        typical = float(np.median(gaps)) if len(gaps) else 1.0 / max(self.fps, 1e-6) * self.every
        last = self.duration - t[-1] if self.duration > t[-1] else typical
        return np.append(gaps, min(last, typical * 2) if len(gaps) else last)

    def people(self) -> list[dict]:
        """Per person: first/last time seen, seconds on screen, share of that time per emotion, dominant one."""
        w = self.weights()
        out = []
        for track in self.tracks:
            rows = [r for r in self.rows if r.track == track]
            seconds = dict.fromkeys(EMOTIONS, 0.0)
            for r in rows:
                seconds[r.emotion] += float(w[r.frame])
            total = sum(seconds.values()) or 1.0
            shares = {e: round(s / total, 4) for e, s in seconds.items()}
            out.append({"track": track, "first_seen": round(rows[0].time, 3), "last_seen": round(rows[-1].time, 3),
                        "seconds": round(sum(seconds.values()), 3), "frames": len(rows), "shares": shares,
                        "dominant": max(shares, key=shares.get)})
        return out

    def summary_text(self) -> list[str]:
        """One line per person, e.g. 'person 1: 12.3 s on screen, mostly happy (64%); neutral 30%, ...'."""
        lines = []
        for p in self.people():
            rest = sorted((e for e in EMOTIONS if e != p["dominant"] and p["shares"][e] >= 0.005),
                          key=lambda e: -p["shares"][e])
            tail = ", ".join(f"{e} {p['shares'][e] * 100:.0f}%" for e in rest)
            lines.append(f"person {p['track']}: {p['seconds']:.1f} s on screen ({p['first_seen']:.1f}-"
                         f"{p['last_seen']:.1f} s), mostly {p['dominant']} ({p['shares'][p['dominant']] * 100:.0f}%)"
                         + (f"; {tail}" if tail else ""))
        return lines


def to_csv(result: VideoResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in result.rows:
        w.writerow([f"{r.time:.3f}", r.track, *r.box, *[f"{p:.5f}" for p in r.probabilities], r.emotion])
    return buf.getvalue()


def to_dict(result: VideoResult) -> dict:
    by_frame: dict[int, list[FaceRow]] = {}
    for r in result.rows:
        by_frame.setdefault(r.frame, []).append(r)
    frames = [{"time": round(t, 3), "faces": [
        {"track": r.track, "box": list(r.box), "emotion": r.emotion,
         "probabilities": {e: round(p, 5) for e, p in zip(EMOTIONS, r.probabilities)}}
        for r in by_frame.get(i, [])]} for i, t in enumerate(result.times)]
    return {"video": result.name, "width": result.width, "height": result.height,
            "duration": round(result.duration, 3), "fps": round(result.fps, 3), "frames": result.frames,
            "analysed_frames": result.analysed, "every": result.every, "detect_every": result.detect_every,
            "labels": list(EMOTIONS), "notice": result.notice, "people": result.people(), "timeline": frames}


def to_json(result: VideoResult) -> str:
    return json.dumps(to_dict(result), indent=1)


#: Most time bins per person in the timeline chart: keeps the chart light for a long clip.
MAX_BINS = 1500


def timeline_segments(result: VideoResult) -> list[dict]:
    """Runs of one emotion per person, {'track', 'start', 'end', 'emotion', 'p'}: the chart's bars.

    Frames are grouped into at most :data:`MAX_BINS` time bins per person (a bin takes the emotion that held
    most of its time), neighbouring bins with the same emotion are joined, and a gap in which the face was
    not seen ends a bar.
    """
    w = result.weights()
    width = max(result.duration / MAX_BINS, 1e-6)
    segments = []
    for track in result.tracks:
        bins: dict[int, dict] = {}
        for r in (r for r in result.rows if r.track == track):
            b = bins.setdefault(int(r.time // width), {"start": r.time, "end": r.time, "w": {}, "p": []})
            b["end"] = r.time + float(w[r.frame])
            b["w"][r.emotion] = b["w"].get(r.emotion, 0.0) + float(w[r.frame])
            b["p"].append(r.probabilities[EMOTIONS.index(r.emotion)])
        current = None
        for b in (bins[k] for k in sorted(bins)):
            emotion = max(b["w"], key=b["w"].get)
            gap = current is not None and b["start"] - current["end"] > max(0.5, 2 * width)
            if current is None or gap or current["emotion"] != emotion:
                current = {"track": track, "start": b["start"], "end": b["end"], "emotion": emotion, "p": []}
                segments.append(current)
            current["end"] = b["end"]
            current["p"].extend(b["p"])
    for s in segments:
        s["p"] = round(float(np.mean(s["p"])), 3)
        s["start"], s["end"] = round(s["start"], 3), round(s["end"], 3)
    return segments


def timeline_chart(result: VideoResult):
    """One Altair chart: a row per person, bars coloured by emotion along the clip's time."""
    import altair as alt
    import pandas as pd

    from fer_app.charts import EMOTION_SCALE

    df = pd.DataFrame(timeline_segments(result), columns=["track", "start", "end", "emotion", "p"])
    df["person"] = df["track"].map(lambda t: f"#{t}")
    order = [f"#{t}" for t in result.tracks]
    scale = alt.Scale(**EMOTION_SCALE)
    # a height per row (Step), not for the whole chart: Streamlit fits a fixed height around the legend too,
    # which squeezed the rows to nothing
    return alt.Chart(df, title="Emotion over time, per person", height=alt.Step(36)).mark_bar().encode(
        x=alt.X("start:Q", title="seconds", scale=alt.Scale(domain=[0, max(result.duration, 1e-3)])),
        x2="end:Q", y=alt.Y("person:N", sort=order, title="person", scale=alt.Scale(paddingInner=0.25)),
        color=alt.Color("emotion:N", scale=scale, legend=alt.Legend(orient="bottom", title=None)),
        tooltip=["person", "emotion", alt.Tooltip("start:Q", format=".1f", title="from (s)"),
                 alt.Tooltip("end:Q", format=".1f", title="to (s)"), alt.Tooltip("p:Q", format=".0%", title="mean p")])
