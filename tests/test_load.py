"""A short version of benchmarks/load.py: a webcam session and an upload session at once for 20 s on one
server; no errors anywhere, each session sees only its own results."""

from __future__ import annotations


import pytest

from benchmarks.browser import start_server, stop_server
from conftest import needs_shipped_model, require_browser

require_browser()
pytest.importorskip("playwright.sync_api")
pytestmark = [needs_shipped_model, pytest.mark.browser]


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
