"""The errors fer_app raises for bad input, one common base: ``except fer_app.FERError`` catches them all.

Each message is one plain sentence for the user (what is wrong, what to do); the CLIs print it as it is and the
app shows it as a notice.
"""

from __future__ import annotations


class FERError(Exception):
    """Base of every error fer_app raises for a bad image, video, model or setting."""
