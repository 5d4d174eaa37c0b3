"""Expand command-line inputs (files, folders, globs) into PDF paths, with per-input errors.

A folder is searched recursively for *.pdf; other files met in a folder are reported as
skipped, not errors. A file named explicitly must exist and is validated later by ingest
(a non-PDF named explicitly is an error there). A glob that matches nothing is an error.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from jixiao.errors import FileMissing, InvalidInput, JixiaoError

_GLOB_CHARS = set("*?[")


@dataclass
class ExpandedInputs:
    pdfs: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # non-PDF files met inside folders
    errors: list[JixiaoError] = field(default_factory=list)


def _is_pdf_name(path: Path) -> bool:
    return path.suffix.lower() == ".pdf"


def expand_inputs(args: list[str]) -> ExpandedInputs:
    """Files, folders and globs → PDF paths in a stable order (duplicates removed)."""
    out = ExpandedInputs()
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            out.pdfs.append(path)

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = 0
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if _is_pdf_name(child):
                    add(child)
                    found += 1
                elif not child.name.startswith("."):
                    out.skipped.append(child)
            if not found:
                out.errors.append(
                    InvalidInput(arg, "folder holds no *.pdf file", "pass a folder with PDF files")
                )
        elif path.exists():
            add(path)
        elif _GLOB_CHARS & set(arg):
            matches = sorted(Path(m) for m in glob.glob(arg, recursive=True))
            files = [m for m in matches if m.is_file()]
            if not files:
                out.errors.append(
                    FileMissing(arg, "no file matches this pattern", "check the pattern")
                )
            for m in files:
                if _is_pdf_name(m):
                    add(m)
                else:
                    out.skipped.append(m)
        else:
            out.errors.append(FileMissing(arg))
    return out
