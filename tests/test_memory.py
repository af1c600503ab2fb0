"""Peak-memory figures recorded by training runs (issue #4's 4 GB budget) must be each process's own."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training.memory import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent
CHILD = "from training.memory import peak_rss_mb; print(peak_rss_mb())"


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="Linux only: VmHWM")
def test_a_child_process_reports_its_own_peak_not_its_parents():
    ballast = np.ones(600 * 2**20 // 8)  # 600 MB, touched
    assert peak_rss_mb() > 600
    # a subprocess started by this 600+ MB process (as training starts its calibration): its ru_maxrss
    # would say 600+ MB, its own figure must be the small interpreter's
    r = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, check=True)
    assert 1 < float(r.stdout) < 200
    del ballast
