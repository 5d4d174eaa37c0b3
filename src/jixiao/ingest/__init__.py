"""PDF ingestion: file → pages → grids → forms → layout text. Knows PDFs, not meaning."""

from __future__ import annotations

from pathlib import Path

from jixiao.ingest.grid import build_grids
from jixiao.ingest.model import IngestResult
from jixiao.ingest.pdf import open_document
from jixiao.ingest.segment import segment_forms
from jixiao.ingest.serialize import serialize_form

__all__ = ["build_grids", "ingest_pdf", "open_document", "segment_forms", "serialize_form"]


def ingest_pdf(path: str | Path, *, max_pages: int = 2000) -> IngestResult:
    """Open, validate and segment one PDF. Bad files raise a JixiaoError subclass; a file with
    no form comes back with `forms == []` and warnings saying why (the caller decides)."""
    document = open_document(path, max_pages=max_pages)
    grids = build_grids(document.pages)
    forms = segment_forms(document, grids)
    warnings: list[str] = []
    for page in document.pages:
        if page.kind == "image_only":
            warnings.append(f"page {page.number}: image only, no text layer (needs OCR)")
        elif page.kind == "garbled":
            warnings.append(
                f"page {page.number}: text layer is garbled ({page.garbled_chars} unmapped glyphs;"
                " needs OCR)"
            )
    for form in forms:
        if form.kind != "project":
            warnings.append(f"form {form.index + 1} (pages {_pages(form.pages)}): {form.reason}")
    covered = {p for form in forms for p in form.pages}
    for page in document.pages:
        if page.number not in covered and page.kind in ("text", "empty") and page.lines:
            warnings.append(f"page {page.number}: no form content")
    return IngestResult(document=document, forms=forms, warnings=warnings)


def _pages(pages: list[int]) -> str:
    if not pages:
        return "-"
    return f"{pages[0]}" if pages[0] == pages[-1] else f"{pages[0]}-{pages[-1]}"
