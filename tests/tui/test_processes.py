"""No process outlives the UI: `spc tui` in a terminal on SIGTERM, and `spc tui --serve` (page, sessions, signals).

The process table is read from /proc (Linux), so the tests need nothing beyond the standard library and aiohttp.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import ROOT

SMALL = ROOT / "tests" / "data" / "engine_small.yaml"

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")


def _table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> set[int]:
    table = _table()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (parent, state) in table.items() if parent in frontier and state != "Z"} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    table = _table()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def _wait_for(what, timeout: float, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := what():
            return value
        time.sleep(0.1)
    raise AssertionError(message() if callable(message) else message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spc(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simulator.cli", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, **kwargs)


def _workers_of(pid: int, timeout: float = 45) -> set[int]:
    """Wait until `pid` has its worker pool (the forkserver, its resource tracker and 2 workers), return them all."""
    return _wait_for(lambda: kids if len(kids := _descendants(pid)) >= 4 else None, timeout,
                     f"no worker pool under {pid}: {_descendants(pid)}")


def _in_a_terminal(*args: str) -> tuple[subprocess.Popen, bytearray, threading.Thread]:
    """Start `spc ARGS` on a 100x30 pseudo-terminal; a thread drains its screen output into the returned buffer
    until the program has exited and every byte it wrote has been read (no `script`, which can drop the tail)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", *args], cwd=ROOT, stdin=follower,
                            stdout=follower, stderr=follower, start_new_session=True, close_fds=True)
    os.close(follower)
    screen = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the program has exited and the terminal is empty
                break
            if not chunk:
                break
            screen.extend(chunk)
        os.close(leader)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    return proc, screen, reader


def test_sigterm_to_the_terminal_ui_ends_its_workers() -> None:
    proc, screen, reader = _in_a_terminal("tui", str(SMALL), "--workers", "2")
    everything: set[int] = {proc.pid}
    try:
        everything |= _workers_of(proc.pid)
        _wait_for(lambda: b"Scorecard" in screen, 60, "the app never drew its first screen")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143, f"not unwound by spc (killed by the signal?): {proc.returncode}"
        reader.join(10)
        assert b"terminated" in screen and b"\x1b[?1049l" in screen, bytes(screen[-500:])  # the terminal restored
        _wait_for(lambda: not _alive(everything), 10, lambda: f"left behind: {_alive(everything)}")
    finally:
        for pid in _alive(everything):
            os.kill(pid, signal.SIGKILL)


def test_sigterm_while_the_terminal_ui_starts_ends_its_workers() -> None:
    """The workers start before the UI is imported: a SIGTERM in that window still ends them and unwinds."""
    proc, screen, reader = _in_a_terminal("tui", str(SMALL), "--workers", "2")
    everything: set[int] = {proc.pid}
    try:
        everything |= _wait_for(lambda: kids if (kids := _descendants(proc.pid)) else None, 30, "no worker started")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 143, f"not unwound by spc (killed by the signal?): {proc.returncode}"
        reader.join(10)
        assert b"terminated" in screen, bytes(screen[-500:])
        _wait_for(lambda: not _alive(everything), 10, lambda: f"left behind: {_alive(everything)}")
    finally:
        for pid in _alive(everything):
            os.kill(pid, signal.SIGKILL)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def _open_session(port: int, server: int) -> tuple[object, object, set[int]]:
    import aiohttp

    client = aiohttp.ClientSession()
    ws = await client.ws_connect(f"ws://127.0.0.1:{port}/ws?width=100&height=30")
    message = await ws.receive(timeout=45)  # the app's first screen
    assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message
    pids = await asyncio.to_thread(_workers_of, server)
    return client, ws, pids


def test_serve_page_is_local_and_no_session_outlives_its_browser_or_the_server() -> None:
    port = _free_port()
    server = _spc("tui", SMALL, "--serve", "--port", port, "--workers", "2")
    try:
        page = _wait_for(lambda: _try_get(f"http://127.0.0.1:{port}/"), 20, "the server never answered")
        own = (f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/")
        urls = re.findall(r"(?:https?|wss?)://[^\s\"'<>)]*", page)
        assert urls and all(u.startswith(own) for u in urls), urls
        assert "googleapis" not in page
        font = re.search(r'url\("([^"]+\.ttf)"\)', page)
        assert font and _try_get_bytes(font.group(1)), "the page's font is not served"

        async def browser_closes_then_sigterm() -> tuple[set[int], set[int]]:
            client, ws, first = await _open_session(port, server.pid)
            await ws.close()
            await client.close()
            await asyncio.to_thread(_wait_for, lambda: not _alive(first), 15,
                                    lambda: f"a closed session left {_alive(first)}")
            client, ws, second = await _open_session(port, server.pid)
            server.send_signal(signal.SIGTERM)
            await asyncio.to_thread(server.wait, 20)
            await client.close()
            return first, second

        first, second = asyncio.run(browser_closes_then_sigterm())
        assert server.returncode is not None
        _wait_for(lambda: not _alive(first | second), 10, lambda: f"left behind: {_alive(first | second)}")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.communicate()


def _try_get(url: str) -> str | None:
    try:
        return _get(url)
    except OSError:
        return None


def _try_get_bytes(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None
