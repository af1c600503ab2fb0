"""A short version of benchmarks/load.py: a webcam session and an upload session at once for 20 s on one
server; no errors anywhere, each session sees only its own results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.browser import CHROMIUM, start_server, stop_server
from conftest import needs_shipped_model

if not Path(CHROMIUM).exists():
    if os.environ.get("FER_REQUIRE_BROWSER") == "1":
        raise RuntimeError("FER_REQUIRE_BROWSER=1 but Debian's chromium is not installed")
    pytest.skip("chromium not installed (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api")
pytestmark = [needs_shipped_model, pytest.mark.slow]


def test_two_sessions_at_once_see_only_their_own_results_without_errors(tmp_path):
    from benchmarks.load import run_load, server_errors

    log = tmp_path / "server.log"
    proc, url = start_server(log)
    try:
        result = run_load(url, proc, webcams=1, uploaders=1, seconds=20, tmp=tmp_path)
    finally:
        stop_server(proc)
    webcam, upload = result["sessions"]
    assert webcam["errors"] == [] and webcam["faces_seen"] >= 1 and max(webcam["fps"]) > 0
    assert upload["errors"] == [] and upload["rounds"] >= 1 and upload["foreign"] == []
    assert server_errors(log) == []
