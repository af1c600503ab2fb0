"""Video files: each person's emotion over time, and an annotated copy, from a clip held in memory.

    >>> from fer_app.video_file import analyze_video
    >>> from fer_app.video_report import to_csv
    >>> result = analyze_video(open("clip.mp4", "rb"), name="clip.mp4")
    >>> result.people(), to_csv(result), result.video   # summary per person, rows, annotated MP4 bytes

The clip (bytes or a file object; a path for the command line) is decoded by PyAV and never written to
disk. Every frame goes through the webcam's engine, :class:`fer_app.video.VideoAnalyzer` (detect every few
frames, track in between, smooth), with the frame's own time stamp, so variable-frame-rate clips get a true
time axis. Anything wrong with the clip raises :class:`VideoError` with one sentence for people; a clip
without faces is not an error but a ``notice`` in the result.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from fer_app.errors import FERError
from fer_app.video_report import VideoResult

#: Limits, stated on the Video page and checked before any frame is decoded.
MAX_MB = 200
MAX_BYTES = MAX_MB * 1024 * 1024
MAX_MINUTES = 20
MAX_SECONDS = MAX_MINUTES * 60
#: Largest frame: 4K UHD (3840x2160) in either orientation; 8K is refused.
MAX_LONG_SIDE, MAX_SHORT_SIDE = 3840, 2160
#: Frames with a longer side are scaled down to this for analysis and the annotated copy: faces in a 4K
#: frame are large enough at half size, and decoding is then the only cost that grows with the source.
WORK_MAX_SIDE = 1920
#: A face that vanishes for at most this long and reappears near where it was keeps its number (a turned
#: head, a hand in front of the face); the tracker alone would start a new track.
REENTRY_SECONDS = 2.0
#: Faces smaller than this (pixels, in the clip) are not looked for: the webcam's effective limit (its
#: analyzer detects on a 320 px copy of a 640 px frame, where the Haar cascade's 24 px window is 48 px).
MIN_FACE = 48
#: Largest copy of a frame the detector searches: faces under 1/40 of a frame's long side are not looked
#: for in clips larger than 1920 px either (the detector's time grows with this copy's area).
MAX_DETECT_SIDE = 960
#: Frames analysed per second of video when ``every`` is not given: every 2nd frame at 30 fps, every 4th at
#: 60 fps. Faces are classified and tracked on each analysed frame (the annotated copy keeps every frame); a
#: face's expression does not change between two frames 1/30 s apart, and this halves the analysis, whose
#: cost is the classifier and tracker per face and frame (benchmarks/video.py, docs/video.md).
ANALYSES_PER_SECOND = 15
#: How often the face detector runs, per second of video, when ``detect_every`` is not given: every 10th
#: frame at 30 fps, every 20th at 60 fps (the same work per second of video). The detector is half the cost
#: of analysing a frame on a busy background (benchmarks/video.py); the tracker follows faces in between,
#: and on the benchmark clip fewer detections lost the face less often (a track ends after two missed ones).
DETECTIONS_PER_SECOND = 3
#: Accepted file types (the page's uploader; any container FFmpeg reads works from the command line).
VIDEO_TYPES = ("mp4", "mov", "webm", "avi", "mkv")
LIMITS_TEXT = (f"up to {MAX_MB} MB, {MAX_MINUTES} minutes and {MAX_LONG_SIDE}x{MAX_SHORT_SIDE} (4K) per clip")


class VideoError(FERError, ValueError):
    """The clip cannot be analysed; ``str(error)`` is one sentence saying what is wrong and what to do."""


class VideoCancelled(VideoError):
    """The caller's cancel check asked to stop."""


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


def too_long(seconds: float) -> VideoError:
    return VideoError(f"The video is {int(seconds // 60)} min {int(seconds % 60)} s long, over the {MAX_MINUTES}-minute "
                      f"limit: cut it into parts of up to {MAX_MINUTES} minutes and analyse each.")


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def work_size(w: int, h: int) -> tuple[int, int]:
    """Frame size for analysis and the annotated copy: at most :data:`WORK_MAX_SIDE`, even (yuv420p)."""
    scale = min(1.0, WORK_MAX_SIDE / max(w, h))
    return max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)


class _Progress:
    """Calls ``callback(fraction, seconds_left or None)`` at most every ``interval`` seconds."""

    def __init__(self, callback, duration: float | None, fh, size: int, interval: float = 0.2):
        self.callback, self.duration, self.fh, self.size, self.interval = callback, duration, fh, size, interval
        self.start = self.last = time.monotonic()

    def update(self, t: float, done: bool = False) -> None:
        now = time.monotonic()
        if self.callback is None or (not done and now - self.last < self.interval):
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
    from fer_app.video_pass import ClipPass, FrameReader

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
