"""Command line: ``python -m fer_app predict PATH... [--json] [--annotate DIR] [--detector NAME]``.

Prints, per input, the faces found and their emotions (or, with ``--json``, one JSON object per
input and line: ``{"image", "faces": [{"box", "score", "emotion", "probabilities"}], "error"}``).
A bad input gets an error line and the others are still processed; the exit code is 1 if any
input failed, 2 for a usage or model problem, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fer_app.cli import explain as cli_explain  # noqa: E402
from fer_app.defaults import PHOTO_MIN_FACE  # noqa: E402


def _parser() -> argparse.ArgumentParser:
    from fer_app.faces import DETECTORS

    p = argparse.ArgumentParser(prog="python -m fer_app", description="Facial emotion recognition.")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("predict", help="detect faces in images and classify their emotions")
    pr.add_argument("paths", nargs="+", metavar="PATH", help="image files (JPEG, PNG, WebP, BMP, TIFF, ...)")
    pr.add_argument("--json", action="store_true", help="one JSON object per input, one per line")
    pr.add_argument("--annotate", metavar="DIR", help="write annotated copies (PNG) into DIR")
    pr.add_argument("--detector", choices=sorted(DETECTORS), default=None, help="face detector (default mtcnn)")
    pr.add_argument("--min-face", type=int, default=PHOTO_MIN_FACE,
                    help=f"smallest face side in pixels (default {PHOTO_MIN_FACE})")
    pr.add_argument("--no-tta", dest="tta", action="store_false",
                    help="classify each face once (default: average over 10 shifted/mirrored views, as the app "
                         "and the reported test figures do)")
    pr.add_argument("--model", default=None, help="model directory (default: the shipped models/)")
    pr.add_argument("--head", default=None, help="which answer a two-head model reports: balanced (the "
                    "app's: the crowd head with every emotion equally likely), crowd (FER+'s ten annotators, as trained) "
                    "or fer2013 (default: the model's app head, as in the app)")
    cli_explain.add_arguments(pr)
    from fer_app.cli import video as cli_video

    cli_video.add_parser(sub)
    return p


def _quiet_logs() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


def annotation_name(path: str, taken: set[str]) -> str:
    """``STEM_annotated.png``, or ``STEM_2_annotated.png`` ... for a later input with a stem already in ``taken``."""
    stem = Path(path).stem
    name, n = f"{stem}_annotated.png", 2
    while name in taken:
        name, n = f"{stem}_{n}_annotated.png", n + 1
    taken.add(name)
    return name


def predict(args) -> int:
    from fer_app.draw import annotate
    from fer_app.io import ImageLoadError, folder_problem, load_image
    from fer_app.model import ModelLoadError, load_classifier
    from fer_app.pipeline import PHOTO_DETECTOR, analyze_array

    out_dir = Path(args.annotate) if args.annotate else None
    problem = folder_problem(out_dir) if out_dir else None
    if problem:
        print(f"error: cannot write annotated images into {out_dir}: {problem}", file=sys.stderr)
        return 2
    try:
        explainer = cli_explain.Explainer.from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        classifier = load_classifier(args.model)
        if args.head:
            classifier = classifier.with_head(args.head)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    taken: set[str] = set()
    failed = 0
    for path in args.paths:
        record = {"image": path, "faces": [], "error": None, "head": classifier.head}
        try:
            rgb = load_image(path)
            analysis = (rgb, args.detector or PHOTO_DETECTOR, args.min_face, args.tta, classifier)
            faces = explainer.analyze(*analysis) if explainer else analyze_array(*analysis)
            record["faces"] = [{"box": list(f.box), "score": f.score, "emotion": f.emotion,
                                "probabilities": {k: round(v, 5) for k, v in f.probabilities.items()}}
                               for f in faces]
            if explainer:
                explainer.write(path, record["faces"], classifier)
            if out_dir:
                from PIL import Image

                Image.fromarray(annotate(rgb, faces)).save(out_dir / annotation_name(path, taken))
        except ImageLoadError as exc:
            record["error"] = str(exc)
        except Exception:  # never a traceback: report and go on with the next input
            record["error"] = f"{path} could not be analysed (an unexpected problem); try another copy of the photo"
        failed += record["error"] is not None
        if args.json:
            print(json.dumps(record), flush=True)
        elif record["error"]:
            print(f"{path}: error: {record['error']}", flush=True)
        elif not record["faces"]:
            print(f"{path}: no face found", flush=True)
        else:
            for i, f in enumerate(record["faces"], start=1):
                top = f["probabilities"][f["emotion"]]
                print(f"{path}: face {i} at {tuple(f['box'])}: {f['emotion']} ({top * 100:.0f}%)", flush=True)
                if "explanation" in f:
                    print(f"{path}: face {i} {f['explained_emotion']}: {f['explanation_reading']} "
                          f"({f['explanation']})", flush=True)
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.min_face < 1:
        parser.error(f"--min-face is a face side in pixels, at least 1; got {args.min_face}")
    _quiet_logs()
    if args.command == "predict":
        return predict(args)
    if args.command == "video":
        from fer_app.cli import video as cli_video

        return cli_video.run(args)
    return 2
