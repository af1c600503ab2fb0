"""``python -m fer_app video IN [--csv OUT.csv] [--json OUT.json] [--annotate OUT.mp4] [--every N]``.

Prints one summary line per person (share of on-screen time per emotion) on stdout, with a progress bar on
stderr; ``--csv``/``--json`` write the per-frame results (``-`` for stdout), ``--annotate`` the annotated copy
(H.264 MP4, or WebM for a ``.webm`` name or where FFmpeg has no H.264 encoder). Exit codes as ``predict``'s:
0 done (a clip without faces included: it says so), 1 the clip cannot be analysed (one line says why),
2 a usage or model problem.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def add_parser(sub) -> None:
    from fer_app.video.limits import ANALYSES_PER_SECOND, DETECTIONS_PER_SECOND, MAX_MB, MAX_MINUTES, MIN_FACE

    v = sub.add_parser("video", help="analyse a video file: each person's emotion over time",
                       description=f"Analyse a video file (MP4, MOV, WebM, AVI, MKV; up to {MAX_MB} MB and "
                                   f"{MAX_MINUTES} minutes): each person's emotion over time.")
    v.add_argument("input", metavar="IN", help="the video file")
    v.add_argument("--csv", metavar="OUT.csv", help="one row per analysed frame and face ('-': stdout)")
    v.add_argument("--json", metavar="OUT.json", help="summary per person and every analysed frame ('-': stdout)")
    v.add_argument("--annotate", metavar="OUT.mp4", help="write the annotated video (H.264 MP4; VP9 for .webm)")
    v.add_argument("--every", type=int, default=None, metavar="N",
                   help=f"analyse every N-th frame (default: {ANALYSES_PER_SECOND} frames a second of video, every "
                        "2nd at 30 fps; 1: all); the annotated video keeps every frame")
    v.add_argument("--detect-every", type=int, default=None, metavar="N",
                   help="run the face detector on every N-th analysed frame, tracking in between (default: "
                        f"{DETECTIONS_PER_SECOND} times a second of video, every 10th frame at 30 fps)")
    v.add_argument("--min-face", type=int, default=MIN_FACE,
                   help=f"smallest face side in pixels (default {MIN_FACE})")
    v.add_argument("--model", default=None, help="model directory (default: the shipped models/)")
    v.add_argument("--quiet", action="store_true", help="no progress bar")


class ProgressBar:
    """A bar on stderr: redrawn in place on a terminal, one line per tenth otherwise (logs, pipes)."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width, self.tty = width, self.stream.isatty()
        self.step = -1

    def __call__(self, fraction: float, seconds_left: float | None) -> None:
        if not self.tty and int(fraction * 10) == self.step:
            return
        self.step = int(fraction * 10)
        filled = int(round(fraction * self.width))
        left = "" if seconds_left is None else f"  {seconds_left:.0f} s left"
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {fraction * 100:3.0f}%{left}"
        self.stream.write(f"\r{line:<60}" if self.tty else line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _check_outputs(args) -> str | None:
    """A usage error for an output that cannot be written, checked before minutes of work."""
    from fer_app.io import folder_problem

    for flag in ("csv", "json", "annotate"):
        path = getattr(args, flag)
        if not path or path == "-" and flag != "annotate":
            continue
        out = Path(path)
        if out.is_dir():
            return f"--{flag} {path} is a folder: give a file name"
        problem = folder_problem(out.parent)
        if problem:
            return f"cannot write --{flag} {path}: {problem}"
    return None


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")


def _save(args, result) -> None:
    from fer_app.video.report import to_csv, to_json

    if args.csv:
        _write(args.csv, to_csv(result))
    if args.json:
        _write(args.json, to_json(result))
    if args.annotate and result.video is not None:
        out = Path(args.annotate)
        if out.suffix.lower() != result.video_suffix:
            out = out.with_suffix(result.video_suffix)
            print(f"note: this FFmpeg has no H.264 encoder, so the annotated video is WebM: {out}", file=sys.stderr)
        out.write_bytes(result.video)


def run(args) -> int:
    from fer_app.model import ModelLoadError, load_classifier
    from fer_app.video.limits import VideoError
    from fer_app.video.file import analyze_video

    if any(n is not None and n < 1 for n in (args.every, args.detect_every)):
        print("error: --every and --detect-every count frames: give 1 or more", file=sys.stderr)
        return 2
    problem = _check_outputs(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        classifier = load_classifier(args.model)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar = None if args.quiet else ProgressBar()
    start = time.perf_counter()
    try:
        result = analyze_video(args.input, name=Path(args.input).name, every=args.every,
                               detect_every=args.detect_every, annotate=bool(args.annotate), progress=bar,
                               classifier=classifier, min_face=args.min_face,
                               prefer_webm=str(args.annotate or "").lower().endswith(".webm"))
    except VideoError as exc:
        print(f"error: {args.input}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncancelled", file=sys.stderr)
        return 130
    except Exception:  # never a traceback for a clip
        print(f"error: {args.input} could not be analysed (an unexpected problem while decoding it); "
              "export it again as MP4 (H.264) and retry", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.end()
    took = time.perf_counter() - start
    print(f"{args.input}: {result.frames} frames, {result.duration:.1f} s of video analysed in {took:.1f} s "
          f"({result.duration / max(took, 1e-9):.1f}x real time)", file=sys.stderr)
    _save(args, result)
    info = sys.stderr if "-" in (args.csv, args.json) else sys.stdout  # stdout may carry the CSV/JSON
    for line in ([result.notice] if result.notice else []) + result.summary_text():
        print(f"{args.input}: {line}", file=info)
    return 0
