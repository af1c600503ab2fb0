"""Live-webcam plumbing for the app, free of Streamlit: WebRTC configuration, the relay that hands each
stage of the stream only the newest frame, and the thread-safe channel through which the frame callback (a
WebRTC worker thread) hands results to the page.

ICE/TURN configuration, first match wins:

1. ``FER_ICE_SERVERS`` (environment or Streamlit secret): a JSON list of RTCIceServer objects,
   e.g. ``[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]``
   (``[]`` means none at all: localhost and LAN only);
2. ``TURN_URL`` + ``TURN_USERNAME`` + ``TURN_CREDENTIAL`` (environment or secrets);
3. nothing of ours: ``None``, and streamlit-webrtc picks servers itself from its own secrets/environment
   (``CLOUDFLARE_TURN_KEY_ID`` + ``CLOUDFLARE_TURN_KEY_API_TOKEN``, then ``TWILIO_ACCOUNT_SID`` +
   ``TWILIO_AUTH_TOKEN``, then ``HF_TOKEN``, else Google's public STUN server).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

import numpy as np

log = logging.getLogger("fer_app.video.webcam")


def _lookup(name: str, secrets: Mapping | None):
    if os.environ.get(name):
        return os.environ[name]
    try:
        return secrets[name] if secrets is not None and name in secrets else None
    except Exception:  # st.secrets raises when no secrets file exists
        return None


def _server_list(raw) -> list[dict] | None:
    """``FER_ICE_SERVERS`` as a list of RTCIceServer dicts (each with "urls"), or None if it is not one."""
    try:
        servers = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(servers, (list, tuple)) or not all(isinstance(s, Mapping) and "urls" in s for s in servers):
        return None
    return [dict(s) for s in servers]


def ice_servers(secrets: Mapping | None = None) -> tuple[list[dict] | None, str]:
    """(iceServers list or None, where it came from) following the order in the module docstring.

    ``None`` leaves the choice to streamlit-webrtc's provider chain (passing an empty list would switch it
    off). A ``FER_ICE_SERVERS`` that is not a JSON list of objects with "urls" is skipped, and the returned
    description says so (the page shows it), instead of the webcam page failing.
    """
    note = ""
    raw = _lookup("FER_ICE_SERVERS", secrets)
    if raw:
        servers = _server_list(raw)
        if servers is not None:
            return servers, "FER_ICE_SERVERS"
        note = "; FER_ICE_SERVERS ignored: not a JSON list of objects with \"urls\""
    url, user, cred = (_lookup(k, secrets) for k in ("TURN_URL", "TURN_USERNAME", "TURN_CREDENTIAL"))
    if url:
        servers = [{"urls": [u.strip() for u in str(url).split(",")], "username": user or "", "credential": cred or ""}]
        return servers, "TURN_URL" + note
    return None, "streamlit-webrtc's own choice (Cloudflare, Twilio or Hugging Face TURN, else Google STUN)" + note


@functools.cache
def _latest_frame_relay_class():
    from aiortc.contrib.media import MediaRelay  # imported here: aiortc is only needed once a stream starts

    class LatestFrameRelay(MediaRelay):
        """An aiortc ``MediaRelay`` whose every consumer receives only the newest frame (``buffered=False``)."""

        def subscribe(self, track, buffered: bool = False):
            return super().subscribe(track, buffered=False)

    return LatestFrameRelay


def latest_frame_relay():
    """A relay for streamlit-webrtc that drops stale frames instead of queueing them.

    streamlit-webrtc relays the camera's frames to the analysis and the analysed frames to the video
    encoder through an aiortc ``MediaRelay`` whose queues have no bound. When the server encodes the returned
    video more slowly than the camera sends frames (four webcams at once on 2 cores), each session's queue to
    the encoder grew by about 7 frames a second, to about 800 frames after two minutes (the server at 1.7 GB),
    and the video sent back fell as many frames behind the camera (``python -m benchmarks.load
    --probe-queues``, docs/resources.md). The analysis only wants the newest frame (``async_processing`` skips
    the others already); so does a live view.
    """
    return _latest_frame_relay_class()()


def use_latest_frame_relay(runtime) -> None:
    """Make the streams of the server whose Streamlit ``Runtime`` is ``runtime`` use ``latest_frame_relay``.

    streamlit-webrtc takes its relay from an attribute of Streamlit's runtime and makes one there when it finds
    none; setting ours there first is the one way in (``webrtc_streamer`` has no relay argument).
    ``tests/test_video.py`` checks that the pinned streamlit-webrtc's ``get_global_relay``, which each stream's
    worker calls when it starts, returns it; ``benchmarks.load --probe-queues`` sees the effect in a real server.
    Server-wide: a recorder or an audio stream added later would get only the newest frames too.
    """
    from streamlit_webrtc import relay

    name = relay._SERVER_GLOBAL_RELAY_ATTR_NAME_
    if not isinstance(getattr(runtime, name, None), _latest_frame_relay_class()):
        setattr(runtime, name, latest_frame_relay())


class LiveResults:
    """Thread-safe: the frame callback ``publish``es; the page reads ``snapshot`` and ``timeline``."""

    def __init__(self, max_points: int = 20_000):  # ~20 minutes at 15 frames/s
        self._lock = threading.Lock()
        self._latest: dict | None = None
        self._timeline: deque = deque(maxlen=max_points)
        self._frame_times: deque = deque(maxlen=30)
        self._t0: float | None = None
        self.frames = 0

    def publish(self, faces, timings: dict) -> None:
        now = time.monotonic()
        with self._lock:
            self._t0 = self._t0 if self._t0 is not None else now
            self.frames += 1
            self._frame_times.append(now)
            main = max(faces, key=lambda f: f.box[2] * f.box[3]) if faces else None
            self._latest = {"faces": faces, "main": main, "timings": timings, "t": now - self._t0}
            if main is not None:
                self._timeline.append({"t": round(now - self._t0, 2), "emotion": main.emotion,
                                       "p": round(main.probabilities[main.emotion], 3)})

    def snapshot(self) -> dict | None:
        with self._lock:
            if self._latest is None:
                return None
            fps = 0.0
            if len(self._frame_times) > 1:
                fps = (len(self._frame_times) - 1) / max(1e-6, self._frame_times[-1] - self._frame_times[0])
            return dict(self._latest, fps=fps, frames=self.frames)

    def timeline(self, last_seconds: float | None = None) -> list[dict]:
        """Every record, or those of the last ``last_seconds`` of the stream."""
        with self._lock:
            if last_seconds is None or not self._timeline:
                return list(self._timeline)
            since = self._timeline[-1]["t"] - last_seconds
            return [r for r in self._timeline if r["t"] >= since]

    def clear(self) -> None:
        with self._lock:
            self._latest, self._t0, self.frames = None, None, 0
            self._timeline.clear()
            self._frame_times.clear()


def session_summary(records: list[dict]) -> dict[str, float]:
    """Share of the timeline's frames per emotion of the main face (the seven emotions, in label order)."""
    from fer_app.labels import EMOTIONS

    n = len(records)
    return {e: (sum(r["emotion"] == e for r in records) / n if n else 0.0) for e in EMOTIONS}


def timeline_csv(records: list[dict]) -> str:
    """The timeline as CSV: seconds since START, the main face's emotion and its probability."""
    lines = ["seconds,emotion,probability"] + [f"{r['t']},{r['emotion']},{r['p']}" for r in records]
    return "\n".join(lines) + "\n"


def make_frame_callback(analyzer, channel: LiveResults) -> Callable:
    """streamlit-webrtc ``video_frame_callback``: av.VideoFrame in -> annotated av.VideoFrame out.

    Never touches Streamlit; results leave through ``channel``. A failing frame is passed through, so the stream
    goes on; the first failure is logged with its traceback, later ones are counted (``callback.failures``).
    """

    def callback(frame):
        import av

        rgb = frame.to_ndarray(format="rgb24")
        try:
            annotated, result = analyzer.annotate_frame(np.ascontiguousarray(rgb))
        except Exception:  # keep the stream alive whatever happens to one frame
            callback.failures += 1
            if callback.failures == 1:
                log.exception("a webcam frame (%dx%d) could not be analysed; it is shown as it came, and later "
                              "failures of this stream are counted, not logged", rgb.shape[1], rgb.shape[0])
            return frame
        channel.publish(result.faces, result.timings)
        out = av.VideoFrame.from_ndarray(annotated, format="rgb24")
        if frame.time_base is not None:
            out.pts, out.time_base = frame.pts, frame.time_base
        return out

    callback.failures = 0
    return callback
