"""The TUI survives the files the loader refuses (a NUL byte, an `extends:` symlink loop): it shows the
loader's one-line error and keeps running."""

from __future__ import annotations

from tests.helpers import DATA
from tests.tui.conftest import FAST, run_async, wait_for_error
from tui.app import SpcApp


async def _shows_error(path, expected: str) -> None:
    app = SpcApp(str(path), **FAST)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_error(app, pilot, expected)


@run_async
async def test_a_nul_byte_file_and_a_symlink_loop_show_an_error_and_the_app_keeps_running():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        raw = (DATA / "minimal.yaml").read_bytes()
        (tmp / "nul.yaml").write_bytes(raw[:20] + b"\0" + raw[20:])
        await _shows_error(tmp / "nul.yaml", "NUL byte")
        (tmp / "a.yaml").symlink_to(tmp / "b.yaml")
        (tmp / "b.yaml").symlink_to(tmp / "a.yaml")
        (tmp / "child.yaml").write_text("extends: a.yaml\n")
        await _shows_error(tmp / "child.yaml", "symlink loop")
