"""PDF ingestion: file → pages → grids → forms → layout text. Knows PDFs, not meaning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jixiao.errors import JixiaoError
from jixiao.ingest.grid import build_grids
from jixiao.ingest.model import Document, FormRegion, Grid, IngestResult
from jixiao.ingest.pdf import open_document
from jixiao.ingest.segment import segment_document, segment_forms
from jixiao.ingest.serialize import serialize_form

if TYPE_CHECKING:
    from jixiao.ingest.ocr import OcrOptions, OcrPage

__all__ = [
    "build_grids",
    "ingest_pdf",
    "open_document",
    "segment_document",
    "segment_forms",
    "serialize_form",
]

# Titles listed in a page-run summary before "…".
SUMMARY_TITLES = 4


def ingest_pdf(
    path: str | Path, *, max_pages: int = 2000, ocr: OcrOptions | None = None
) -> IngestResult:
    """Open, validate and segment one PDF. Bad files raise a JixiaoError subclass; a file with
    no form comes back with `forms == []` and warnings saying why (the caller decides).
    Image-only pages are read by OCR (ocr.py: RapidOCR, else Tesseract) unless `ocr.enabled` is
    False; when no engine loads they are reported in the warnings and the rest of the file is
    still read."""
    document = open_document(path, max_pages=max_pages)
    ocr_pages, ocr_problem = _run_ocr(path, document, ocr)
    grids = build_grids(document.pages)
    forms, tables = segment_document(document, grids)
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
    warnings.extend(_form_warnings(forms))
    warnings.extend(_page_run_warnings(document, forms, tables, grids))
    return IngestResult(document=document, forms=forms, tables=tables, warnings=warnings)


def _form_warnings(forms: list[FormRegion]) -> list[str]:
    """One line per run of consecutive forms of the same kind that is not extracted (five
    target forms back to back are one line, not five)."""
    out: list[str] = []
    i = 0
    while i < len(forms):
        form = forms[i]
        j = i + 1
        while j < len(forms) and forms[j].kind == form.kind:
            j += 1
        run, i = forms[i:j], j
        if form.kind == "project":
            continue
        reasons = list(dict.fromkeys(f.reason or "" for f in run))
        reason = reasons[0] + (
            f" (and {len(reasons) - 1} other reason(s))" if len(reasons) > 1 else ""
        )
        where = _where([p for f in run for p in f.pages])
        if len(run) == 1:
            out.append(f"form {form.index + 1} ({where}): {reason}")
        else:
            first, last = run[0].index + 1, run[-1].index + 1
            out.append(f"forms {first}-{last} ({where}): {len(run)} forms: {reason}")
    return out


def _page_run_warnings(
    document: Document, forms: list[FormRegion], tables: list[FormRegion], grids: list[Grid]
) -> list[str]:
    """Pages with text but no form, one line per run of consecutive pages, naming the ordinary
    tables printed there (a 部门决算 has dozens of pages of them before its forms)."""
    covered = {p for form in forms for p in form.pages}
    idle = [
        page.number
        for page in document.pages
        if page.number not in covered and page.kind in ("text", "empty") and page.lines
    ]
    grid_pages = {p for grid in grids for p in grid.page_bboxes}
    out: list[str] = []
    start = 0
    while start < len(idle):
        end = start
        while end + 1 < len(idle) and idle[end + 1] == idle[end] + 1:
            end += 1
        run = idle[start : end + 1]
        start = end + 1
        where = _where(run)
        table_pages = [p for p in run if p in grid_pages]
        if not table_pages:
            count = "1 page" if len(run) == 1 else f"{len(run)} pages"
            out.append(f"{where}: {count} of text, no form content")
            continue
        in_run = set(run)
        titles = list(
            dict.fromkeys(t.title or "untitled table" for t in tables if in_run & set(t.pages))
        )
        if not titles:
            titles = ["untitled tables"]
        shown = ", ".join(titles[:SUMMARY_TITLES])
        if len(titles) > SUMMARY_TITLES:
            shown += f" and {len(titles) - SUMMARY_TITLES} more"
        what = "other tables" if len(table_pages) == len(run) else "other tables and text"
        count = "1 page" if len(run) == 1 else f"{len(run)} pages"
        out.append(f"{where}: {count} of {what} ({shown}), no form content")
    return out


def _run_ocr(
    path: str | Path, document: Document, options: OcrOptions | None
) -> tuple[dict[int, OcrPage], str | None]:
    """OCR the image-only pages (imported lazily: numpy, Pillow and the OCR engines are needed
    only for scans). No engine loads: no pages read, and the one-line reason to report."""
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


def _where(pages: list[int]) -> str:
    """ "page 3" or "pages 3-7" (first to last)."""
    if pages and min(pages) == max(pages):
        return f"page {pages[0]}"
    return f"pages {min(pages)}-{max(pages)}" if pages else "no page"
