"""Lets the CLI tests import their helper module (`clihelpers`) under --import-mode=importlib,
and gives them `jixiao`: the installed command, run in the test's tmp_path (nothing lands in the
checkout)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from clihelpers import Run, runner  # noqa: E402 (needs the path above)


@pytest.fixture
def jixiao(tmp_path: Path) -> Run:
    return runner(tmp_path)
