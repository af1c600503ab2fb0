"""Keep TensorFlow's start-up notices off the terminal of the training CLIs (``--verbose`` shows them).

TensorFlow 2.21 prints, on import, absl's "All log messages before absl::InitializeLog() is called are
written to STDERR" and oneDNN's "I0000 ... oneDNN custom operations are on" notice on file descriptor 2,
whatever ``TF_CPP_MIN_LOG_LEVEL`` says (measured: they appear at levels 0 to 3), so the import itself
runs with descriptor 2 pointed at /dev/null. ``TF_ENABLE_ONEDNN_OPTS=0`` would silence the notice too, but
it changes the numbers (measured: tests/conftest.py's tiny_model ends its first fine-tuning epoch at loss
2.4448 instead of 2.4137), so it is left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from fer_app.model import native_stderr_hidden


def quiet_tensorflow(verbose: bool = False, import_now: bool = True) -> None:
    """Call first in a CLI's ``main``, before anything imports TensorFlow.

    Sets ``TF_CPP_MIN_LOG_LEVEL`` (inherited by child processes such as the calibration), imports
    TensorFlow with its start-up lines hidden (``import_now``) and lowers absl's and TensorFlow's Python
    loggers to errors. With ``verbose`` nothing changes.
    """
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if import_now and "tensorflow" not in sys.modules:
        with native_stderr_hidden():
            import tensorflow  # noqa: F401
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
