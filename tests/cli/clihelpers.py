"""Helpers of the CLI tests: the installed `jixiao` console script, run as a user runs it (a
subprocess of .venv/bin/jixiao, the entry point pip wrote, which calls jixiao.cli:main), not
CliRunner. CliRunner runs click in standalone mode and so never sees what cli.main does with an
exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sh-bdc-2023-02.ruled.pdf"  # one real form, 2 pages

Run = Callable[..., subprocess.CompletedProcess[str]]


def installed_jixiao() -> Path:
    """The console script of the interpreter running the tests (.venv/bin/jixiao)."""
    beside = Path(sys.executable).parent / "jixiao"
    if beside.is_file():
        return beside
    found = shutil.which("jixiao")
    if found is None:
        pytest.fail("no installed `jixiao` command: install the package (pip install -e .)")
    return Path(found)


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without LLM/database settings that would change what runs;
    the response cache goes to tmp."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JIXIAO_", "OPENAI_")) and k != "PYTHONPATH"
    }
    env["JIXIAO_CACHE_DIR"] = str(tmp / "cache")
    env.update(extra)
    return env


def runner(cwd: Path, exe: Path | None = None) -> Run:
    """run("extract", ...) → the finished process of the installed command, run in cwd."""
    command = str(exe or installed_jixiao())

    def run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, *args],
            cwd=cwd,
            env=clean_env(cwd, **env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
