"""Facial-emotion recognition for photos, video files and webcam frames, as plain data.

    >>> import fer_app
    >>> faces = fer_app.analyze("photo.jpg")          # path, bytes, file object or RGB array
    >>> faces[0].emotion, faces[0].probabilities["happy"], faces[0].box

``analyze_video(path)`` does the same for a clip (a numbered timeline per person), ``load_classifier()`` gives the
shipped model for face crops (``predict_proba`` -> probabilities, ``predict`` -> names), and every error raised for
bad input derives from :class:`FERError`. The names below are imported on first use, so ``import fer_app`` stays
cheap (the app's start-up imports only what its page needs).
"""

from __future__ import annotations

import importlib

from fer_app.labels import EMOTIONS

__version__ = "2.1.0"

#: public name -> the module that defines it
_LAZY = {
    "analyze": "fer_app.pipeline",
    "Face": "fer_app.pipeline",
    "analyze_video": "fer_app.video.file",
    "load_classifier": "fer_app.model",
    "EmotionClassifier": "fer_app.model",
    "FERError": "fer_app.errors",
    "ImageLoadError": "fer_app.io",
    "ModelLoadError": "fer_app.model",
    "VideoError": "fer_app.video.limits",
}

__all__ = ["EMOTIONS", "__version__", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'fer_app' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # the next access skips this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
