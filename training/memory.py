"""Peak resident memory (RSS) of the current process, the figure issue #4's 4 GB budget counts."""

from __future__ import annotations

import resource
import sys


def peak_rss_mb() -> float:
    """This process's peak RSS in MB since it started: Linux's ``VmHWM``, else ``ru_maxrss``.

    Not ``ru_maxrss`` on Linux: a child started by ``subprocess`` (vfork, then exec) carries its
    parent's high-water mark into its own ``ru_maxrss`` (and into the parent's ``RUSAGE_CHILDREN``), so
    a 2 GB calibration started by a 4 GB training process would be reported as 4 GB. ``VmHWM`` belongs
    to the address space the process got at exec.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return maxrss_mb(resource.RUSAGE_SELF)


def maxrss_mb(who: int) -> float:
    """``getrusage(who).ru_maxrss`` in MB (bytes on macOS, KiB elsewhere)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0
