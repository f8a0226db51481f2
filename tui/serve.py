"""`spc tui --serve`: textual-serve's server, made to leave nothing behind and to ask nothing of the internet.

- The page is textual-serve's own template with its web fonts served from this server (`templates/`), so
  the browser makes no request outside the machine.
- Every browser session is a `spc tui` process in a process group of its own (its worker pool included).
  When the browser closes the session (or the connection drops), the app is asked to quit; if it has not
  within `QUIT_SECONDS`, its whole group gets SIGTERM, then SIGKILL after `GRACE_SECONDS`.
- SIGTERM or SIGINT stop the server, and the server's shutdown ends every session the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
from pathlib import Path

import textual_serve
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

log = logging.getLogger("textual-serve")

QUIT_SECONDS = 3.0
GRACE_SECONDS = 2.0
TEMPLATES = Path(__file__).parent / "templates"
STATICS = Path(textual_serve.__file__).parent / "static"


def _signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to a process group; False when no process of it is left."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class Session(AppService):
    """One browser's `spc tui` process, started without a shell in a new session (its own process group)."""

    async def _open_app_process(self, width: int = 80, height: int = 24):
        self._process = process = await asyncio.create_subprocess_exec(
            *shlex.split(self.command), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self._build_environment(width=width, height=height),
            start_new_session=True)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def stop(self) -> None:
        """Ask the app to quit, then end its process group whatever it did."""
        try:
            await asyncio.wait_for(super().stop(), QUIT_SECONDS)
        except (TimeoutError, OSError):
            self._task = None
        finally:
            await self.end()

    async def end(self) -> None:
        process = self._process
        if process is None:
            return
        if process.returncode is None and _signal_group(process.pid, signal.SIGTERM):
            try:
                await asyncio.wait_for(process.wait(), GRACE_SECONDS)
            except TimeoutError:
                _signal_group(process.pid, signal.SIGKILL)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(process.wait(), GRACE_SECONDS)
        _signal_group(process.pid, signal.SIGKILL)  # a worker of the group that outlived its app


class LocalServer(Server):
    """textual-serve's Server with the local page, one process group per session, and sessions ended on exit."""

    def __init__(self, command: str, host: str = "127.0.0.1", port: int = 8000, title: str | None = None):
        super().__init__(command, host=host, port=port, title=title, statics_path=STATICS, templates_path=TEMPLATES)
        self.sessions: set[Session] = set()

    async def on_startup(self, app: web.Application) -> None:  # spc prints its own one line
        pass

    async def on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(session.end() for session in list(self.sessions)), return_exceptions=True)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's handler, with a `Session` that ends its processes when the browser goes."""
        from textual_serve.server import to_int

        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        session: Session | None = None
        try:
            await websocket.prepare(request)
            session = Session(self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                              close=websocket.close, download_manager=self.download_manager, debug=self.debug)
            self.sessions.add(session)
            await session.start(width, height)
            await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.exception(error)
        finally:
            if session is not None:
                await asyncio.shield(session.stop())
                self.sessions.discard(session)
        return websocket
