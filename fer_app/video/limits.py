"""What a video clip may be, how often its frames are analysed, and the error for a clip that cannot be: shared
by the clip reader (:mod:`fer_app.video.file`), its frame pass (:mod:`fer_app.video.clip_pass`), the Video page
and ``fer video``."""

from __future__ import annotations

from fer_app.defaults import VIDEO_MIN_FACE
from fer_app.errors import FERError

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
#: Faces smaller than this (pixels, in the clip) are not looked for (fer_app.defaults says why)
MIN_FACE = VIDEO_MIN_FACE
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


def too_long(seconds: float) -> VideoError:
    return VideoError(f"The video is {int(seconds // 60)} min {int(seconds % 60)} s long, over the {MAX_MINUTES}-minute "
                      f"limit: cut it into parts of up to {MAX_MINUTES} minutes and analyse each.")


def work_size(w: int, h: int) -> tuple[int, int]:
    """Frame size for analysis and the annotated copy: at most :data:`WORK_MAX_SIDE`, even (yuv420p)."""
    scale = min(1.0, WORK_MAX_SIDE / max(w, h))
    return max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
