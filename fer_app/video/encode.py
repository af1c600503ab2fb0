"""The annotated copy of a clip: boxes and person numbers drawn on each frame, encoded in memory.

Browsers play H.264 in MP4 (libx264, yuv420p) everywhere, so that is the first choice; VP9 and then VP8 in
WebM are the fallbacks for FFmpeg builds without libx264. Nothing is written to disk: the container goes
into a :class:`io.BytesIO`, and the MP4's index (``moov``) is moved in front of the frames afterwards by
:func:`faststart`, because FFmpeg's own ``movflags=+faststart`` reopens the output *by file name* for its
second pass, which an in-memory output does not have.
"""

from __future__ import annotations

import io
import queue
import struct
import threading
from fractions import Fraction

import numpy as np


#: (codec, container, MIME type, file suffix, encoder options), in order of preference.
#: ``veryfast`` keeps 720p encoding well above real time on two cores at a file size close to ``medium``.
FORMATS = (
    ("libx264", "mp4", "video/mp4", ".mp4", {"preset": "veryfast", "crf": "23"}),
    ("libvpx-vp9", "webm", "video/webm", ".webm", {"deadline": "realtime", "cpu-used": "8", "crf": "34", "b": "0"}),
    ("libvpx", "webm", "video/webm", ".webm", {"deadline": "realtime", "cpu-used": "8", "b": "1M"}),
)


def available_format(prefer_webm: bool = False):
    """The first entry of :data:`FORMATS` whose encoder this FFmpeg build has (WebM first if asked)."""
    import av

    order = sorted(FORMATS, key=lambda f: f[1] != "webm") if prefer_webm else FORMATS
    for fmt in order:
        try:
            av.codec.Codec(fmt[0], "w")
            return fmt
        except Exception:  # av raises UnknownCodecError or ValueError depending on the version
            continue
    return None


class VideoWriter:
    """Encode RGB frames (all of one even size) with their presentation times into an in-memory file.

    Encoding runs on a thread of its own (PyAV releases the GIL while converting and encoding), so on a
    machine with two cores it overlaps the face analysis instead of adding to it; ``write`` hands a frame
    over and returns. Only that thread touches the output container.
    """

    def __init__(self, width: int, height: int, fps: float, time_base: Fraction, prefer_webm: bool = False):
        import av

        fmt = available_format(prefer_webm)
        if fmt is None:
            raise RuntimeError("this FFmpeg build has no H.264, VP9 or VP8 encoder")
        self.codec, container, self.mime, self.suffix, options = fmt
        self._buf = io.BytesIO()
        self._out = av.open(self._buf, "w", format=container)
        self._stream = self._out.add_stream(self.codec, rate=Fraction(fps).limit_denominator(1001), options=options)
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, "yuv420p"
        self._stream.codec_context.time_base = time_base
        self._time_base = time_base
        self._last_pts: int | None = None
        self.frames = 0
        # a few frames of slack: enough to smooth out a slow frame, little memory even at 1080p
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._encode_all, name="video-encoder", daemon=True)
        self._thread.start()

    def _encode_all(self) -> None:
        import av

        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # keep draining so that write() never blocks on a dead encoder
            rgb, pts = item
            try:
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = pts, self._time_base
                self._out.mux(self._stream.encode(frame))
            except BaseException as exc:  # handed to the caller's thread by _finish()
                self._error = exc

    def write(self, rgb: np.ndarray, seconds: float) -> None:
        """Queue one frame (the array must not be changed afterwards) shown at ``seconds``."""
        pts = int(round(seconds / self._time_base))
        # encoders refuse a repeated or decreasing time stamp (rounding, broken source stamps)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        self._queue.put((rgb, pts))
        self.frames += 1

    def _finish(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def close(self) -> bytes:
        """Flush the encoder and return the finished file (MP4 with its index first)."""
        self._finish()
        self._out.mux(self._stream.encode(None))
        self._out.close()
        data = self._buf.getvalue()
        return faststart(data) if self.suffix == ".mp4" else data

    def abort(self) -> None:
        """Stop without a result (cancel, a bad clip): the thread ends and the partial output is dropped."""
        try:
            self._finish()
            self._out.close()
        except Exception:  # an encoder stopped half-way may refuse to finish: nothing is kept anyway
            pass


def _atoms(data: bytes, start: int, end: int):
    """(type, offset, size, header size) of each MP4 box between ``start`` and ``end``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos, size, header
        pos += size


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, shift: int) -> None:
    for kind, pos, size, header in list(_atoms(bytes(moov), start, end)):
        if kind in _CONTAINERS:
            _shift_chunk_offsets(moov, pos + header, pos + size, shift)
        elif kind in (b"stco", b"co64"):
            fmt, width = (">I", 4) if kind == b"stco" else (">Q", 8)
            count = struct.unpack(">I", moov[pos + header + 4:pos + header + 8])[0]
            first = pos + header + 8
            for i in range(count):
                at = first + i * width
                value = struct.unpack(fmt, moov[at:at + width])[0] + shift
                if kind == b"stco" and value >= 2 ** 32:
                    raise OverflowError("chunk offset beyond 4 GB")
                moov[at:at + width] = struct.pack(fmt, value)


def faststart(data: bytes) -> bytes:
    """The MP4 with its ``moov`` box moved before ``mdat`` (chunk offsets fixed), so a browser can start
    playing before the whole file arrived; the input unchanged if it already is so or cannot be parsed."""
    boxes = list(_atoms(data, 0, len(data)))
    kinds = [b[0] for b in boxes]
    if b"moov" not in kinds or b"mdat" not in kinds or kinds.index(b"moov") < kinds.index(b"mdat"):
        return data
    _, mpos, msize, mheader = boxes[kinds.index(b"moov")]
    moov = bytearray(data[mpos:mpos + msize])
    try:
        _shift_chunk_offsets(moov, mheader, msize, msize)
    except OverflowError:
        return data
    head = [b for b in boxes if b[0] in (b"ftyp",)]
    rest = [b for b in boxes if b[0] not in (b"ftyp", b"moov")]
    out = bytearray()
    for _, pos, size, _ in head:
        out += data[pos:pos + size]
    out += moov
    for _, pos, size, _ in rest:
        out += data[pos:pos + size]
    return bytes(out)
