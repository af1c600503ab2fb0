"""Keep a long-running server's memory from ratcheting up: glibc's allocator tuned from inside the process.

Measured in the app with ten photos analysed (``benchmarks/app_resources.py``, docs/resources.md): with glibc's
defaults the server's RSS climbed by about 50 MB a photo and stayed there (large arrays freed by one Streamlit
thread are kept in that thread's arena, and the mmap threshold adapts upwards so later large arrays come from
the heap). Fewer arenas and a fixed 1 MB mmap threshold hand that memory back. Community Cloud starts the
process itself, so environment variables (``MALLOC_ARENA_MAX``) are not an option; ``mallopt`` is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
_done = False


def tune_allocator(arenas: int = 2, threshold: int = 1 << 20) -> bool:
    """Apply the settings once per process; False where the C library is not glibc, or where
    ``FER_GLIBC_DEFAULTS=1`` asks for glibc's defaults (``benchmarks/app_resources.py --glibc-defaults``)."""
    global _done
    if _done:
        return True
    if os.environ.get("FER_GLIBC_DEFAULTS") == "1":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = all(mallopt(option, value) == 1 for option, value in
             ((_M_ARENA_MAX, arenas), (_M_MMAP_THRESHOLD, threshold), (_M_TRIM_THRESHOLD, threshold)))
    _done = ok
    return ok
