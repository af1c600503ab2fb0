"""What drawing charts with Altair would add to the app process: memory and import time.

    python -m research.chart_imports [--runs 5]

Each run is a fresh interpreter that first imports what the Photos page has loaded anyway (Streamlit, NumPy,
OpenCV, the app's results and charts modules), then, measured one after the other: pandas with Arrow (what the
Live webcam's WebRTC component imports itself) and Altair. Prints each run and the medians (RSS growth in MB,
import seconds). docs/resources.md records the result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, time
import streamlit, numpy, cv2
import fer_app.charts, fer_app.report
import os
from benchmarks.browser import vm_mb
def rss():
    return vm_mb(os.getpid(), "VmRSS")
out = {}
for name, stmt in (("pandas and Arrow", "import pandas, pyarrow"), ("Altair", "import altair")):
    before, t = rss(), time.perf_counter()
    exec(stmt)
    out[name] = [rss() - before, time.perf_counter() - t]
print(json.dumps(out))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    runs = []
    for i in range(args.runs):
        out = json.loads(subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                                        check=True).stdout)
        runs.append(out)
        print(f"run {i + 1}: " + "; ".join(f"{k} +{mb:.0f} MB in {s:.2f} s" for k, (mb, s) in out.items()), flush=True)
    for name in runs[0]:
        mb = statistics.median(r[name][0] for r in runs)
        s = statistics.median(r[name][1] for r in runs)
        print(f"median of {args.runs}: {name} +{mb:.0f} MB RSS, {s:.2f} s to import")


if __name__ == "__main__":
    main()
