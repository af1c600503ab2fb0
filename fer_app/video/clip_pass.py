"""One pass over a decoded clip, for :func:`fer_app.video.file.analyze_video`: frames in time order through
:class:`fer_app.video.tracker.VideoAnalyzer`, rows per face, person numbers, and the annotated copy."""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fer_app.video.limits import ANALYSES_PER_SECOND, DETECTIONS_PER_SECOND, MAX_DETECT_SIDE, MAX_SECONDS, REENTRY_SECONDS, VideoError, too_long, work_size
from fer_app.video.report import FaceRow, VideoResult

#: Smallest face (pixels) OpenCV's frontal Haar cascade can find: its detection window.
HAAR_WINDOW = 24


def detect_side(long_side: int, min_face: int) -> int:
    """Detection resolution for a frame of ``long_side`` px: the engine's 320 px where a ``min_face`` face
    still covers the cascade's window there, larger for bigger frames (else their small faces are lost)."""
    return min(long_side, MAX_DETECT_SIDE, max(320, math.ceil(long_side * HAAR_WINDOW / max(1, min_face))))


class PersonNumbers:
    """Person numbers (1, 2, ... by first appearance) for the analyzer's track ids; see REENTRY_SECONDS."""

    def __init__(self):
        self.of: dict[int, int] = {}
        self.last: dict[int, tuple[float, tuple]] = {}

    def numbers(self, track_ids, boxes, t: float) -> list[int]:
        active = {self.of[i] for i in track_ids if i in self.of}
        out = []
        for tid, box in zip(track_ids, boxes):
            if tid not in self.of:
                self.of[tid] = self._returning(box, t, active) or len(self.last) + 1
                active.add(self.of[tid])
            self.last[self.of[tid]] = (t, box)
            out.append(self.of[tid])
        return out

    def _returning(self, box, t: float, active: set) -> int | None:
        best = None
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        for person, (seen, b) in self.last.items():
            if person in active or t - seen > REENTRY_SECONDS or not 0.6 <= box[2] / max(1, b[2]) <= 1 / 0.6:
                continue
            d = float(np.hypot(cx - b[0] - b[2] / 2, cy - b[1] - b[3] / 2))
            if d <= 1.5 * max(box[2], b[2]) and (best is None or d < best[0]):
                best = (d, person)
        return best[1] if best else None

def decoded_frames(container, stream, damaged: list):
    """Decoded frames; a packet that fails to decode is skipped (the decoder resyncs at the next key frame)
    and noted in ``damaged``, a container that cannot be read further ends the clip there."""
    import av

    demux = container.demux(stream)
    while True:
        try:
            packet = next(demux)
        except StopIteration:
            return
        except (av.error.FFmpegError, OSError):
            damaged.append("demux")
            return
        try:
            decoded = packet.decode()
        except (av.error.FFmpegError, OSError):
            damaged.append("decode")
            continue
        yield from decoded


@dataclass
class Picture:
    """One decoded frame, converted to RGB at the working size, with what the pass needs of the original."""

    time: float | None
    rotation: int
    width: int
    height: int
    work: tuple[int, int]
    rgb: np.ndarray


class FrameReader:
    """Decodes ahead on a thread of its own, so decoding and the RGB conversion (PyAV releases the GIL for
    both) overlap the analysis of earlier frames; the only thread that touches the container until
    :meth:`close`."""

    def __init__(self, container, stream, damaged: list, depth: int = 4):
        self._source, self._damaged = decoded_frames(container, stream, damaged), damaged
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="video-decoder", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        import av

        work = None
        try:
            for frame in self._source:
                work = work or work_size(frame.width, frame.height)
                try:
                    rgb = frame.reformat(width=work[0], height=work[1], format="rgb24").to_ndarray()
                except (av.error.FFmpegError, ValueError):  # a frame the converter refuses counts as damage
                    self._damaged.append("convert")
                    continue
                if not self._put(Picture(frame.time, frame.rotation or 0, frame.width, frame.height, work, rgb)):
                    return
            self._put(None)
        except BaseException as exc:  # handed over to the reading thread, which raises it
            self._put(exc)

    def __iter__(self):
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._source.close()


class ClipPass:
    """One pass over a clip: analyse every ``every``-th frame, draw and encode every frame.

    When no face has been tracked for ``detect_every`` frames, only every ``detect_every``-th analysed frame
    is given to the analyzer (which would otherwise run the detector on each one): a live view needs a new
    face at once, a file can wait those few frames, and footage without people (slides, scenery) then costs a
    fraction. Right after a face is lost it is still looked for on every frame, as the analyzer does.
    """

    def __init__(self, stream, name: str, every: int | None, detect_every: int | None, annotate: bool, classifier,
                 min_face: int, prefer_webm: bool):
        from fer_app.video.tracker import VideoAnalyzer

        self.fps = float(stream.average_rate or stream.guessed_rate or 30)
        every = int(every or max(1, round(self.fps / ANALYSES_PER_SECOND)))
        self.stream, self.every, self.annotate, self.prefer_webm = stream, every, annotate, prefer_webm
        detect_every = int(detect_every or max(1, round(self.fps / every / DETECTIONS_PER_SECOND)))
        self.min_face, self.detect_every, self.empty = min_face, detect_every, 0
        self.analyzer = VideoAnalyzer(detect_every=detect_every, min_face=min_face, classifier=classifier)
        self.people = PersonNumbers()
        cc = stream.codec_context
        self.result = VideoResult(name, cc.width, cc.height, 0.0, self.fps, every=every, detect_every=detect_every)
        self.writer = None
        self.index, self.t0, self.last_t = 0, None, 0.0
        self.drawn: tuple[list, list] = ([], [])
        self.damaged: list[str] = []
        self.started = time.monotonic()

    def _setup(self, frame: Picture) -> None:
        from fer_app.video.encode import VideoWriter

        self.turns = int(round(frame.rotation / 90)) % 4  # quarter turns counter-clockwise to upright
        w, h = frame.width, frame.height
        self.work = frame.work
        # min_face is in the clip's pixels; the analyzer sees the (possibly smaller) working copy
        self.analyzer.min_face = max(HAAR_WINDOW, round(self.min_face * max(self.work) / max(w, h)))
        self.analyzer.detect_side = detect_side(max(self.work), self.analyzer.min_face)
        if self.turns % 2:
            w, h = h, w
        upright_work = self.work[::-1] if self.turns % 2 else self.work
        self.result.width, self.result.height = w, h
        self.scale = (w / upright_work[0], h / upright_work[1])
        self.result.video_size = upright_work
        if self.annotate:
            self.writer = VideoWriter(*upright_work, self.fps, self.stream.time_base or Fraction(1, 90000),
                                      self.prefer_webm)

    def _time(self, frame: Picture) -> float:
        if frame.time is None:  # no time stamp (some AVI files): one nominal frame after the last
            return self.last_t + 1 / self.fps if self.index else 0.0
        if self.t0 is None:
            self.t0 = frame.time
        return frame.time - self.t0

    def step(self, frame: Picture) -> None:
        if self.index == 0:
            self._setup(frame)
        t = self._time(frame)
        if t > MAX_SECONDS:
            raise too_long(t)
        rgb = frame.rgb
        if self.turns:
            rgb = np.ascontiguousarray(np.rot90(rgb, self.turns))
        if self.index % self.every == 0:
            self._analyse(rgb, t)
        self.index, self.last_t = self.index + 1, t
        if self.writer is not None:
            from fer_app.draw import annotate

            faces, numbers = self.drawn
            self.writer.write(annotate(rgb, faces, numbers=numbers, in_place=True) if faces else rgb, t)

    def _analyse(self, rgb: np.ndarray, t: float) -> None:
        from fer_app.labels import EMOTIONS

        self.empty = 0 if self.analyzer.tracks else self.empty + 1
        if self.empty > self.detect_every and self.empty % self.detect_every:
            self.result.times.append(t)
            self.drawn = ([], [])
            return
        r = self.analyzer.process(rgb)
        numbers = self.people.numbers(r.track_ids, [f.box for f in r.faces], t)
        frame_no = len(self.result.times)
        self.result.times.append(t)
        sx, sy = self.scale
        for f, n in zip(r.faces, numbers):
            x, y, w, h = f.box
            box = (int(round(x * sx)), int(round(y * sy)), int(round(w * sx)), int(round(h * sy)))
            self.result.rows.append(FaceRow(frame_no, t, n, box, tuple(f.probabilities[e] for e in EMOTIONS),
                                            f.emotion))
        self.drawn = (r.faces, numbers)

    def finish(self) -> VideoResult:
        res = self.result
        if self.index == 0:
            raise VideoError("No picture in this file could be decoded (it is damaged or uses an unsupported "
                             "codec): export it again as MP4 (H.264).")
        res.frames = self.index
        res.duration = self.last_t + (self.last_t / (self.index - 1) if self.index > 1 else 1 / self.fps)
        if self.writer is not None:
            res.video, self.writer = self.writer.close(), None
            res.video_mime, res.video_suffix = ("video/mp4", ".mp4") if res.video[4:8] == b"ftyp" else \
                ("video/webm", ".webm")
            res.video_codec = "H.264" if res.video_suffix == ".mp4" else "VP9/VP8"
        notices = []
        if self.damaged:
            notices.append(f"Part of this clip is damaged, so the results cover the {res.frames} frames that could "
                           "be decoded.")
        if not res.rows:
            notices.append(f"No face was found in this clip: faces need to be upright, in view and at least "
                           f"{self.min_face} pixels wide, so try a clip where they are closer or larger.")
        res.notice = " ".join(notices) or None
        res.seconds = time.monotonic() - self.started
        return res

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None


