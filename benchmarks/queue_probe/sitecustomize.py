"""Loaded by the Streamlit server that ``python -m benchmarks.load --probe-queues`` starts (this folder leads its
PYTHONPATH): every 5 s, one line with the server's RSS and, for every aiortc relay proxy of its streams, how many
frames wait for that proxy's consumer (the analysis, the video encoder). Benchmark-only."""

import gc
import os
import sys
import threading
import time


def _waiting(proxy) -> int:
    """Frames waiting for this relay proxy's consumer: its queue, or the one newest frame of an unbuffered proxy."""
    if getattr(proxy, "_queue", None) is not None:
        return proxy._queue.qsize()
    return int(proxy._new_frame_event.is_set())


def _queue_lengths() -> list[int]:
    return [_waiting(o) for o in gc.get_objects() if type(o).__name__ == "RelayStreamTrack"]


def _watch(path: str) -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the checkout
    from benchmarks.browser import vm_mb

    t0 = time.time()
    with open(path, "a") as log:
        while True:
            time.sleep(5)
            rss = vm_mb(os.getpid(), "VmRSS")
            log.write(f"{time.time() - t0:.0f} {rss:.0f} {' '.join(map(str, _queue_lengths()))}\n")
            log.flush()


if os.environ.get("FER_QUEUE_PROBE_LOG") and any("streamlit" in a for a in sys.argv[:3]):
    threading.Thread(target=_watch, args=(os.environ["FER_QUEUE_PROBE_LOG"],), daemon=True).start()
