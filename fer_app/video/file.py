"""Video files: each person's emotion over time, and an annotated copy, from a clip held in memory.

    >>> from fer_app.video.file import analyze_video      # or fer_app.analyze_video
    >>> from fer_app.video.report import to_csv
    >>> result = analyze_video(open("clip.mp4", "rb"), name="clip.mp4")
    >>> result.people(), to_csv(result), result.video   # summary per person, rows, annotated MP4 bytes

The clip (bytes or a file object; a path for the command line) is decoded by PyAV and never written to
disk. Every frame goes through the webcam's engine, :class:`fer_app.video.tracker.VideoAnalyzer` (detect every few
frames, track in between, smooth), with the frame's own time stamp, so variable-frame-rate clips get a true
time axis. Anything wrong with the clip raises :class:`VideoError` with one sentence for people; a clip
without faces is not an error but a ``notice`` in the result.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from fer_app.video.clip_pass import ClipPass, FrameReader
from fer_app.video.limits import (MAX_BYTES, MAX_LONG_SIDE, MAX_MB, MAX_SECONDS, MAX_SHORT_SIDE, MIN_FACE, VideoCancelled,
                                  VideoError, too_long)
from fer_app.video.report import VideoResult


def _fail(message: str):
    raise VideoError(message) from None


def _open_source(source) -> tuple[io.IOBase, int]:
    """(readable binary file object, size in bytes) for bytes, a file object or a path."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        fh = io.BytesIO(source)
    elif isinstance(source, (str, Path)):
        try:
            fh = open(source, "rb")  # noqa: SIM115 (closed by analyze_video)
        except IsADirectoryError:
            _fail("This is a folder, not a video file: name the clip itself.")
        except OSError as exc:
            _fail(f"The file cannot be opened ({(exc.strerror or 'unreadable').lower()}): check its name and "
                  "permissions.")
    else:
        fh = source
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    if size == 0:
        _fail("The file is empty (0 bytes): choose the clip again, or export it again from the camera or editor.")
    if size > MAX_BYTES:
        _fail(f"The file is {size / 1024 ** 2:.0f} MB, over the {MAX_MB:g} MB limit: trim the clip or export it "
              "at a lower resolution (720p is plenty for faces).")
    return fh, size


def _open_container(fh):
    import av

    try:
        container = av.open(fh, mode="r")
    except (av.error.FFmpegError, OSError, ValueError, EOFError):
        _fail("This file could not be read as a video (it is damaged or not a video format): "
              "export it again as MP4 (H.264) and upload that.")
    return container


def _video_stream(container):
    """The clip's video stream, after the checks that need only the container's header."""
    fmt = container.format.name
    if fmt.endswith("_pipe") or fmt == "image2":
        kind = fmt.split("_")[0].upper()
        _fail(f"This file is a still {kind} image, not a video clip: analyse photos on the Photos page "
              "(or with python -m fer_app predict).")
    if not container.streams.video:
        if container.streams.audio:
            _fail("This file has sound but no picture (audio only): upload a clip with a video track.")
        _fail("This file has no video track: upload a clip with pictures.")
    stream = container.streams.video[0]
    w, h = stream.codec_context.width, stream.codec_context.height
    if max(w, h) > MAX_LONG_SIDE or min(w, h) > MAX_SHORT_SIDE:
        _fail(f"The video is {w}x{h} pixels, above the {MAX_LONG_SIDE}x{MAX_SHORT_SIDE} (4K) limit: export it at "
              "4K or lower (1080p is plenty for faces).")
    duration = _duration(container, stream)
    if duration is not None and duration > MAX_SECONDS:
        raise too_long(duration)
    return stream


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


#: Seconds between two progress calls (the page redraws its bar this often)
PROGRESS_INTERVAL = 0.2


class _Progress:
    """Calls ``callback(fraction, seconds_left or None)`` at most every :data:`PROGRESS_INTERVAL` seconds."""

    def __init__(self, callback, duration: float | None, fh, size: int):
        self.callback, self.duration, self.fh, self.size = callback, duration, fh, size
        self.start = self.last = time.monotonic()

    def update(self, t: float, done: bool = False) -> None:
        now = time.monotonic()
        if self.callback is None or (not done and now - self.last < PROGRESS_INTERVAL):
            return
        self.last = now
        if done:
            self.callback(1.0, 0.0)
            return
        try:  # by time when the clip states its duration, else by how far the file has been read
            fraction = t / self.duration if self.duration else self.fh.tell() / self.size
        except (OSError, ValueError):
            fraction = 0.0
        fraction = min(max(fraction, 0.0), 0.999)
        left = (now - self.start) * (1 - fraction) / fraction if fraction >= 0.01 else None
        self.callback(fraction, left)


def analyze_video(source, name: str = "", every: int | None = None, detect_every: int | None = None,
                  annotate: bool = True,
                  progress=None, cancel=None, classifier=None, min_face: int = MIN_FACE,
                  prefer_webm: bool = False) -> VideoResult:
    """Analyse a clip (bytes, a binary file object or a path) and return a :class:`VideoResult`.

    ``every``: analyse every N-th frame (default: :data:`ANALYSES_PER_SECOND` frames a second; the annotated
    copy keeps all frames, showing the latest boxes);
    ``detect_every``: run the face detector on every N-th analysed frame and track in between (default:
    :data:`DETECTIONS_PER_SECOND` times a second); ``min_face``: smallest face side in the clip's pixels;
    ``annotate``: also encode the annotated copy (``result.video``: H.264 MP4, or WebM where this FFmpeg has
    no H.264 encoder or ``prefer_webm``); ``progress(fraction, seconds_left or None)`` is called a few times
    a second; ``cancel()`` returning True stops the work with :class:`VideoCancelled`.
    Raises :class:`VideoError` (one sentence for people) for clips that cannot be analysed.
    """
    if any(n is not None and int(n) < 1 for n in (every, detect_every)):
        raise ValueError("every and detect_every must be at least 1")

    fh, size = _open_source(source)
    container = run = reader = None
    try:
        container = _open_container(fh)
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        run = ClipPass(stream, name, every, detect_every, annotate, classifier, min_face, prefer_webm)
        meter = _Progress(progress, _duration(container, stream), fh, size)
        reader = FrameReader(container, stream, run.damaged)
        for frame in reader:
            if cancel is not None and cancel():
                raise VideoCancelled("The analysis was cancelled before the end of the clip.")
            run.step(frame)
            meter.update(run.last_t)
        result = run.finish()
        meter.update(result.duration, done=True)
        return result
    finally:
        if run is not None:
            run.abort()
        if reader is not None:
            reader.close()
        if container is not None:
            container.close()
        if fh is not source:
            fh.close()
