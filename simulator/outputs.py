"""Where a command may write: checked before any work starts, so a bad --out is one line with exit code 2.

An output folder (`spc run --out`, `spc export --out`) is an existing folder or a path whose nearest
existing parent is a folder; an output file (`spc report --out`, `--report`) is not a folder and its
parent is (or can be made) a folder. Either must be writable, and never under the kernel's virtual file
systems (/proc, /sys, /dev).
"""

from __future__ import annotations

import os
from pathlib import Path

from simulator.errors import UsageError

VIRTUAL = (Path("/proc"), Path("/sys"), Path("/dev"))


def _resolved(path: Path, option: str) -> Path:
    if "\0" in str(path):
        raise UsageError(f"{option} {path!r}: the path contains a NUL character")
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before Python 3.13
        raise UsageError(f"{option} {path}: cannot resolve the path ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _check_common(path: Path, option: str) -> Path:
    real = _resolved(path, option)
    for root in VIRTUAL:
        if real == root or root in real.parents:
            raise UsageError(f"{option} {path}: {root} is a virtual file system, not a place for output")
    existing = _nearest_existing(real)
    if not existing.is_dir() and existing != real:
        raise UsageError(f"{option} {path}: {existing} is a file, not a folder")
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write in {existing} (permission denied)")
    return real


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """An output folder that exists (a folder) or can be created."""
    path = Path(path)
    real = _check_common(path, option)
    if real.exists() and not real.is_dir():
        raise UsageError(f"{option} {path}: exists and is not a folder (give a folder to write the run's files in)")
    return path


def check_out_file(path: str | Path, option: str = "--out") -> Path:
    """An output file whose folder exists or can be created; an existing file is replaced."""
    path = Path(path)
    if str(path).endswith(("/", os.sep)) or path.name in ("", ".", ".."):
        raise UsageError(f"{option} {path}: give a file name, e.g. {option} report.html")
    real = _check_common(path, option)
    if real.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name, e.g. {path}/report.html")
    if real.exists() and not real.is_file():
        raise UsageError(f"{option} {path}: exists and is not a regular file")
    if real.exists() and not os.access(real, os.W_OK):
        raise UsageError(f"{option} {path}: cannot replace it (permission denied)")
    return path


def writing(option: str, path: str | Path):
    """A context that turns an OSError while writing into a one-line UsageError naming the option."""
    return _Writing(option, Path(path))


class _Writing:
    def __init__(self, option: str, path: Path):
        self.option, self.path = option, path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if isinstance(exc, OSError):
            raise UsageError(f"{self.option} {self.path}: cannot write ({_reason(exc)})") from None
        return False
