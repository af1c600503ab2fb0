"""Video path: tracking between detections, smoothing, the WebRTC callback and its channel."""

from __future__ import annotations

import logging
import threading
from collections import deque

import cv2
import numpy as np
import pytest

from conftest import needs_shipped_model

pytestmark = needs_shipped_model
skdata = pytest.importorskip("skimage.data")


def moving_face_frames(n=20, step=6):
    """640x480 frames with the astronaut's head (about 100 px) sliding right by ``step`` px a frame."""
    face = cv2.resize(skdata.astronaut()[20:300, 120:340], (176, 224))
    frames = []
    for i in range(n):
        frame = np.full((480, 640, 3), 90, np.uint8)
        x = 100 + i * step
        frame[120:344, x:x + 176] = face
        frames.append(frame)
    return frames


def test_tracks_one_face_across_frames_with_detection_every_5():
    from fer_app.video.tracker import VideoAnalyzer

    va = VideoAnalyzer(detect_every=5, smoothing=0.6)
    ids, xs, detected = [], [], []
    for frame in moving_face_frames():
        r = va.process(frame)
        assert len(r.faces) == 1
        ids.append(r.track_ids[0])
        xs.append(r.faces[0].box[0])
        detected.append(r.detected)
    assert len(set(ids)) == 1
    assert sum(detected) == 4  # frames 0, 5, 10, 15
    assert xs[-1] - xs[0] > 80  # the box followed the face between detections too
    assert all(b >= a - 2 for a, b in zip(xs, xs[1:]))


@pytest.mark.parametrize("leave_at", [1, 3, 5])
def test_a_face_that_leaves_drops_out_within_a_detection_interval_and_two_frames(leave_at):
    """No ghost: at 15 frames/s with detection every 5th frame, the box is gone within 7 frames (< 0.5 s)."""
    from fer_app.video.tracker import VideoAnalyzer

    va = VideoAnalyzer(detect_every=5)
    frames = moving_face_frames(leave_at, step=2) + [np.full((480, 640, 3), 90, np.uint8)] * 12
    counts = [len(va.process(f).faces) for f in frames]
    assert counts[:leave_at] == [1] * leave_at
    gone = next(i for i in range(leave_at, len(counts)) if counts[i] == 0)
    assert gone - leave_at <= 7 and not any(counts[gone:]), counts


def test_a_face_that_jumps_between_analysed_frames_keeps_its_track():
    """A slow stream drops frames, so a face can move most of its width between two analysed frames: still one
    face with one number, never a second box beside it."""
    from fer_app.video.tracker import VideoAnalyzer

    va = VideoAnalyzer(detect_every=1)
    results = [va.process(f) for f in moving_face_frames(6, step=60)]  # 60 px jumps of a ~75 px box: IoU < 0.25
    assert [len(r.faces) for r in results] == [1] * 6
    assert len({r.track_ids[0] for r in results}) == 1


def test_smoothing_damps_frame_to_frame_changes():
    from fer_app.video.tracker import VideoAnalyzer

    rng = np.random.default_rng(0)
    frames = [np.clip(f.astype(int) + rng.integers(-40, 40, f.shape), 0, 255).astype(np.uint8)
              for f in moving_face_frames(12, step=0)]

    def jitter(smoothing):
        va = VideoAnalyzer(detect_every=3, smoothing=smoothing)
        probs = [np.array(list(va.process(f).faces[0].probabilities.values())) for f in frames]
        return np.mean([np.abs(a - b).sum() for a, b in zip(probs, probs[1:])])

    assert jitter(0.8) < jitter(0.0)


def test_frame_callback_returns_annotated_frames_and_publishes_results():
    import av

    from fer_app.video.tracker import VideoAnalyzer
    from fer_app.video.webcam import LiveResults, make_frame_callback

    live = LiveResults()
    cb = make_frame_callback(VideoAnalyzer(), live)
    frame = moving_face_frames(1)[0]
    out = cb(av.VideoFrame.from_ndarray(frame, format="rgb24"))
    arr = out.to_ndarray(format="rgb24")
    assert arr.shape == frame.shape and not np.array_equal(arr, frame)
    snap = live.snapshot()
    assert snap["main"] is not None and len(live.timeline()) == 1
    # a tiny frame is analysed (no face) and comes back as it is
    assert cb(av.VideoFrame.from_ndarray(np.zeros((2, 2, 3), np.uint8), format="rgb24")).width == 2


def test_a_failing_frame_passes_through_and_is_logged_once(caplog):
    import av

    from fer_app.video.webcam import LiveResults, make_frame_callback

    class Failing:
        def annotate_frame(self, rgb):
            raise RuntimeError("the detector broke")

    live = LiveResults()
    cb = make_frame_callback(Failing(), live)
    frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 7, np.uint8), format="rgb24")
    with caplog.at_level(logging.ERROR, logger="fer_app.video.webcam"):
        outs = [cb(frame) for _ in range(3)]
    assert all(out is frame for out in outs) and live.snapshot() is None  # shown as it came, nothing published
    assert cb.failures == 3 and len(caplog.records) == 1 and caplog.records[0].exc_info is not None
    assert "could not be analysed" in caplog.records[0].getMessage()


def test_live_results_are_thread_safe():
    from fer_app.pipeline import Face
    from fer_app.video.webcam import LiveResults

    live = LiveResults(max_points=10_000)
    face = Face((0, 0, 10, 10), 1.0, {"happy": 1.0, **{e: 0.0 for e in ("angry", "disgust", "fear", "neutral", "sad", "surprise")}}, "happy")

    def writer():
        for _ in range(500):
            live.publish([face], {})

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(200):
        live.snapshot(), live.timeline()
    for t in threads:
        t.join()
    assert live.frames == 2000 and len(live.timeline()) == 2000
    # by design, not by the GIL's luck: publishing touches the shared deques only while holding the lock
    held = []

    class Spy(deque):
        def append(self, item):
            held.append(live._lock.locked())
            super().append(item)

    live._timeline, live._frame_times = Spy(maxlen=10), Spy(maxlen=10)
    live.publish([face], {})
    assert held == [True, True]


def test_the_live_timeline_keeps_the_last_minute_and_the_summary_everything(monkeypatch):
    from fer_app.video import webcam
    from fer_app.pipeline import Face

    clock = iter(range(0, 600, 2))  # one face every 2 s of stream, 5 minutes
    monkeypatch.setattr(webcam.time, "monotonic", lambda: float(next(clock)))
    live = webcam.LiveResults()
    face = Face((0, 0, 10, 10), 1.0, {"sad": 0.9, **{e: 0.0 for e in ("angry", "disgust", "fear", "neutral")},
                                      "happy": 0.1, "surprise": 0.0}, "sad")
    for _ in range(150):
        live.publish([face], {})
    recent = live.timeline(last_seconds=60)
    assert [r["t"] for r in recent] == list(range(238, 300, 2))
    assert len(live.timeline()) == 150 and live.timeline()[0]["t"] == 0


def test_ice_configuration_from_environment(monkeypatch):
    from fer_app.video.webcam import ice_servers

    for k in ("FER_ICE_SERVERS", "TURN_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    # nothing set: None, so that streamlit-webrtc's own provider chain (Cloudflare, Twilio, HF, STUN) decides
    servers, source = ice_servers()
    assert servers is None and source.startswith("streamlit-webrtc")
    monkeypatch.setenv("FER_ICE_SERVERS", "[]")
    assert ice_servers() == ([], "FER_ICE_SERVERS")  # explicitly none: localhost and LAN only
    monkeypatch.delenv("FER_ICE_SERVERS")
    monkeypatch.setenv("TURN_URL", "turn:t.example:3478")
    monkeypatch.setenv("TURN_USERNAME", "u")
    monkeypatch.setenv("TURN_CREDENTIAL", "p")
    servers, source = ice_servers()
    assert source == "TURN_URL" and servers[0]["urls"] == ["turn:t.example:3478"] and servers[0]["username"] == "u"
    monkeypatch.setenv("FER_ICE_SERVERS", '[{"urls": "stun:s.example:3478"}]')
    assert ice_servers({"ignored": 1})[0] == [{"urls": "stun:s.example:3478"}]
    monkeypatch.delenv("FER_ICE_SERVERS")
    monkeypatch.delenv("TURN_URL")
    assert ice_servers({"TURN_URL": "turn:x:1"})[1] == "TURN_URL"  # from secrets
    # a malformed FER_ICE_SERVERS is skipped with a note, never an exception on the webcam page
    for bad in ("[{urls: stun:s}]", '{"urls": "stun:s.example"}', '["stun:s.example"]', "[1]"):
        monkeypatch.setenv("FER_ICE_SERVERS", bad)
        servers, source = ice_servers()
        assert servers is None and source.startswith("streamlit-webrtc") and "FER_ICE_SERVERS ignored" in source, bad
    servers, source = ice_servers({"TURN_URL": "turn:x:1"})
    assert servers[0]["urls"] == ["turn:x:1"] and source.startswith("TURN_URL; FER_ICE_SERVERS ignored")


#: Run in a fresh process: aiortc loads pylibsrtp, which crashes a process that imported TensorFlow before it.
RELAY_SCRIPT = """
import asyncio, json, types
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from streamlit.runtime import Runtime
from fer_app.video.webcam import latest_frame_relay, use_latest_frame_relay

class Camera(MediaStreamTrack):  # 100 numbered frames, one a millisecond; the last stays 0.2 s before the end
    kind = "video"
    def __init__(self):
        super().__init__()
        self.n = 0
    async def recv(self):
        await asyncio.sleep(0.001 if self.n < 100 else 0.2)
        self.n += 1
        if self.n > 100:
            raise MediaStreamError
        return self.n

async def slow_consumer(relay):  # takes 20 ms a frame, like an encoder that cannot keep up
    proxy, got = relay.subscribe(Camera()), []
    try:
        while True:
            got.append(await proxy.recv())
            await asyncio.sleep(0.02)
    except MediaStreamError:
        return got

runtime = types.SimpleNamespace()
use_latest_frame_relay(runtime)
installed = vars(runtime).copy()
use_latest_frame_relay(runtime)  # a second page run keeps the relay its streams already use
Runtime.instance = classmethod(lambda cls: runtime)
from streamlit_webrtc.relay import get_global_relay
print(json.dumps({"buffered": asyncio.run(slow_consumer(MediaRelay())),
                  "latest": asyncio.run(slow_consumer(latest_frame_relay())),
                  "installed_once": vars(runtime) == installed and len(installed) == 1,
                  "webrtc_uses_it": get_global_relay() is next(iter(installed.values()))}))
"""


def test_the_webcam_relay_hands_a_slow_consumer_the_newest_frame_and_streamlit_webrtc_uses_it():
    import json
    import subprocess
    import sys

    from conftest import ROOT

    run = subprocess.run([sys.executable, "-c", RELAY_SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["buffered"] == list(range(1, 101))  # aiortc's default queues every frame: the backlog we replace
    latest = out["latest"]
    assert 1 <= len(latest) < 50 and latest == sorted(set(latest)) and latest[-1] == 100  # skips, never goes back
    assert out["installed_once"] and out["webrtc_uses_it"]
