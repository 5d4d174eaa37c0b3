"""The outside programs the realistic families print with: LibreOffice and headless Chromium.

Each call gets its own throw-away profile folder, so that concurrent builds (or a user's own
LibreOffice) never share a lock. Paths can be overridden with JIXIAO_SOFFICE / JIXIAO_CHROMIUM.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pymupdf

from jixiao.errors import ConfigError

_TIMEOUT_S = 180


def find_tool(name: str) -> str | None:
    """The executable for "soffice" or "chromium", or None when it is not installed."""
    env = {"soffice": "JIXIAO_SOFFICE", "chromium": "JIXIAO_CHROMIUM"}[name]
    if os.environ.get(env):
        return os.environ[env]
    candidates = {
        "soffice": ("soffice", "libreoffice"),
        "chromium": ("chromium", "chromium-browser", "google-chrome", "chrome"),
    }[name]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _require(name: str) -> str:
    path = find_tool(name)
    if path is None:
        package = "libreoffice-calc-nogui" if name == "soffice" else "chromium"
        raise ConfigError(
            None,
            reason=f"{name} is not installed (needed by this layout family)",
            hint=f"install the Debian package {package} (scripts/setup.sh does), "
            "or build without the realistic families",
        )
    return path


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(None, reason=f"{what} took over {_TIMEOUT_S} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ConfigError(None, reason=f"{what} failed ({done.returncode}): {' | '.join(tail)}")


def xlsx_to_pdf(xlsx: Path, out_dir: Path) -> Path:
    """`soffice --headless --convert-to pdf`; returns the PDF written next to the name."""
    soffice = _require("soffice")
    with tempfile.TemporaryDirectory(prefix="jixiao-lo-") as profile:
        env = dict(os.environ, HOME=profile)
        _run(
            [
                soffice,
                f"-env:UserInstallation=file://{profile}/user",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out_dir),
                str(xlsx),
            ],
            env,
            "LibreOffice conversion",
        )
    pdf = out_dir / (xlsx.stem + ".pdf")
    if not pdf.is_file():
        raise ConfigError(None, reason=f"LibreOffice wrote no PDF for {xlsx.name}")
    return pdf


def html_to_pdf(html: Path, pdf: Path) -> Path:
    """Print a local HTML file with headless Chromium (its own @page rules, no header/footer)."""
    chromium = _require("chromium")
    with tempfile.TemporaryDirectory(prefix="jixiao-chromium-") as profile:
        env = dict(os.environ, HOME=profile)
        _run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf}",
                html.resolve().as_uri(),
            ],
            env,
            "Chromium print-to-pdf",
        )
    if not pdf.is_file():
        raise ConfigError(None, reason=f"Chromium wrote no PDF for {html.name}")
    return pdf


def normalized(pdf: Path) -> pymupdf.Document:
    """The printed PDF with its dates, producer and file id fixed (the tools stamp the clock
    into them), so that equal content gives equal bytes; its fonts are left as printed."""
    doc = pymupdf.open(pdf)
    producer = doc.metadata.get("producer", "") if doc.metadata else ""
    doc.set_metadata(
        {
            "producer": producer.split(" ")[0] if producer else "",
            "creator": "jixiao corpus",
            "creationDate": "D:20240301000000+08'00'",
            "modDate": "D:20240301000000+08'00'",
        }
    )
    doc.xref_set_key(-1, "ID", "null")
    return doc
