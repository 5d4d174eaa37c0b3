"""PDF ingestion: file → pages → grids → forms → layout text. Knows PDFs, not meaning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jixiao.errors import JixiaoError
from jixiao.ingest.grid import build_grids
from jixiao.ingest.model import Document, IngestResult
from jixiao.ingest.pdf import open_document
from jixiao.ingest.segment import segment_forms
from jixiao.ingest.serialize import serialize_form

if TYPE_CHECKING:
    from jixiao.ingest.ocr import OcrOptions, OcrPage

__all__ = ["build_grids", "ingest_pdf", "open_document", "segment_forms", "serialize_form"]


def ingest_pdf(
    path: str | Path, *, max_pages: int = 2000, ocr: OcrOptions | None = None
) -> IngestResult:
    """Open, validate and segment one PDF. Bad files raise a JixiaoError subclass; a file with
    no form comes back with `forms == []` and warnings saying why (the caller decides).
    Image-only pages are read by OCR (ocr.py) unless `ocr.enabled` is False; when Tesseract is
    missing they are reported in the warnings and the rest of the file is still read."""
    document = open_document(path, max_pages=max_pages)
    ocr_pages, ocr_problem = _run_ocr(path, document, ocr)
    grids = build_grids(document.pages)
    forms = segment_forms(document, grids)
    if ocr_pages:
        from jixiao.ingest.ocr import apply_confidence

        apply_confidence([g for form in forms for g in form.grids], ocr_pages)
    warnings: list[str] = []
    for page in document.pages:
        if page.number in ocr_pages:
            done = ocr_pages[page.number]
            conf = done.mean_confidence
            warnings.append(
                f"page {page.number}: image only, read by OCR (turned {done.angle:+.2f}°,"
                f" mean line confidence {conf if conf is None else round(conf, 2)})"
            )
        elif page.kind == "image_only":
            why = f"; {ocr_problem}" if ocr_problem else ""
            warnings.append(f"page {page.number}: image only, no text layer (needs OCR{why})")
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


def _run_ocr(
    path: str | Path, document: Document, options: OcrOptions | None
) -> tuple[dict[int, OcrPage], str | None]:
    """OCR the image-only pages (imported lazily: numpy, Pillow and Tesseract are needed only
    for scans). Tesseract missing: no pages read, and the one-line reason to report."""
    if not any(p.kind == "image_only" for p in document.pages):
        return {}, None
    from jixiao.ingest.ocr import OcrOptions, ocr_document

    options = options or OcrOptions()
    if not options.enabled:
        return {}, None
    try:
        return ocr_document(path, document, options), None
    except JixiaoError as err:
        return {}, err.line()


def _pages(pages: list[int]) -> str:
    if not pages:
        return "-"
    return f"{pages[0]}" if pages[0] == pages[-1] else f"{pages[0]}-{pages[-1]}"
