"""`spc run`: placeholder registration until the engine lands (filled in by the engine change)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    return None
