"""Runs one recipe step in this process and records its peak RSS: ``python -m training.step_runner PEAK_FILE MODULE [ARGS...]``.

``training.recipe`` starts every step through this, so the step measures itself: at exit, ``PEAK_FILE``
gets the largest of this process's own ``VmHWM`` and the peak of the processes it waited for (a training
run's calibration). Measuring from the parent (``wait4`` usage) would not do: a child started by a large
process carries that process's high-water mark into its own ``ru_maxrss`` (``training.memory``).
"""

from __future__ import annotations

import atexit
import json
import resource
import runpy
import sys
from pathlib import Path

from training.memory import maxrss_mb, peak_rss_mb


def _write_peak(path: str) -> None:
    # a waited-for child's figure can include this process's own mark at the time it was started, never more
    Path(path).write_text(json.dumps({"peak_rss_mb": round(max(peak_rss_mb(), maxrss_mb(resource.RUSAGE_CHILDREN)), 1)}))


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: python -m training.step_runner PEAK_FILE MODULE [ARGS...]")
    peak_file, module, *args = sys.argv[1:]
    atexit.register(_write_peak, peak_file)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
