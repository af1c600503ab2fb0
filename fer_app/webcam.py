"""Live-webcam plumbing for the app, free of Streamlit: WebRTC configuration and the thread-safe
channel through which the frame callback (a WebRTC worker thread) hands results to the page.

ICE/TURN configuration, first match wins:

1. ``FER_ICE_SERVERS`` (environment or Streamlit secret): a JSON list of RTCIceServer objects,
   e.g. ``[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]``;
2. ``TURN_URL`` + ``TURN_USERNAME`` + ``TURN_CREDENTIAL`` (environment or secrets);
3. ``TWILIO_ACCOUNT_SID`` + ``TWILIO_AUTH_TOKEN``: short-lived TURN credentials from Twilio
   (needs internet; done by streamlit-webrtc);
4. nothing: no ICE servers, which works on localhost and on a LAN, not through most NATs.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

import numpy as np


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


def ice_servers(secrets: Mapping | None = None) -> tuple[list[dict], str]:
    """(iceServers list, where it came from) following the order in the module docstring.

    A ``FER_ICE_SERVERS`` that is not a JSON list of objects with "urls" is skipped, and the returned
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
    sid, token = _lookup("TWILIO_ACCOUNT_SID", secrets), _lookup("TWILIO_AUTH_TOKEN", secrets)
    if sid and token:
        try:
            from streamlit_webrtc import get_twilio_ice_servers

            return get_twilio_ice_servers(twilio_sid=str(sid), twilio_token=str(token)), "Twilio" + note
        except Exception as exc:  # offline, bad credentials ...
            return [], f"Twilio failed ({type(exc).__name__}); no ICE servers" + note
    return [], "none (localhost/LAN only)" + note


class LiveResults:
    """Thread-safe: the frame callback ``publish``es; the page reads ``snapshot`` and ``timeline``."""

    def __init__(self, max_points: int = 1800):
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

    def timeline(self) -> list[dict]:
        with self._lock:
            return list(self._timeline)

    def clear(self) -> None:
        with self._lock:
            self._latest, self._t0, self.frames = None, None, 0
            self._timeline.clear()
            self._frame_times.clear()


def make_frame_callback(analyzer, channel: LiveResults) -> Callable:
    """streamlit-webrtc ``video_frame_callback``: av.VideoFrame in -> annotated av.VideoFrame out.

    Never touches Streamlit; results leave through ``channel``. A failing frame is passed through.
    """

    def callback(frame):
        import av

        rgb = frame.to_ndarray(format="rgb24")
        try:
            annotated, result = analyzer.annotate_frame(np.ascontiguousarray(rgb))
        except Exception:  # keep the stream alive whatever happens to one frame
            return frame
        channel.publish(result.faces, result.timings)
        out = av.VideoFrame.from_ndarray(annotated, format="rgb24")
        if frame.time_base is not None:
            out.pts, out.time_base = frame.pts, frame.time_base
        return out

    return callback
