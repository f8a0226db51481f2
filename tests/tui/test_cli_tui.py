"""`spc tui` from the command line: bad input is one line and exit 2; --serve binds to loopback and serves."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from tests.test_cli_run import spc
from tests.tui.conftest import SHIPPED


def test_missing_file_is_one_line_and_exit_2():
    out = spc("tui", "no/such/scenario.yaml")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: no such file: no/such/scenario.yaml"


def test_play_without_tui_options_rejects_a_negative_budget():
    out = spc("play", SHIPPED, "--budget", "-5")
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_binds_to_loopback_and_serves_the_page():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "tui", SHIPPED, "--serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = ""
        for _ in range(100):
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert "textual" in page.lower()
        if shutil.which("ss"):
            listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
            assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
    finally:
        proc.terminate()
        proc.wait(timeout=10)
