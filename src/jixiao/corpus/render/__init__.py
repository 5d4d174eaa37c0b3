"""PDF renderers for the synthetic corpus: one module per layout family.

`render_pdf(family, forms, out)` writes one PDF holding the forms back to back and returns each
form's (first_page, last_page), 1-based. Ingestion tests use it to make fixtures.

`FAMILIES` are drawn by our own PyMuPDF code (fast, no outside program). `REALISTIC_FAMILIES`
are made the way users' PDFs are: `office` (an .xlsx template printed by LibreOffice), `html`
(an HTML table printed by headless Chromium) and `scan-sweep` (scans of those and of `ruled`
pages over a sweep of scanner settings). They draw their generator settings from a space that
depends on the split (`settings.py`) and report them; `render_document` returns them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render.settings import Settings, Split
from jixiao.errors import InvalidInput

FAMILIES = ("ruled", "ab-labels", "borderless", "split-target", "bundle", "scan")
REALISTIC_FAMILIES = ("office", "html", "scan-sweep")
ALL_FAMILIES = (*FAMILIES, *REALISTIC_FAMILIES)

PageRange = tuple[int, int]
Renderer = Callable[[list[FormRecord], int], tuple[pymupdf.Document, list[PageRange]]]
RealisticRenderer = Callable[
    [list[FormRecord], int, Split],
    tuple[pymupdf.Document, list[PageRange], Settings, list[FormRecord]],
]


@dataclass
class Rendered:
    pages: list[PageRange]
    """Each form's (first_page, last_page), 1-based."""
    settings: Settings = field(default_factory=dict)
    """Generator settings (realistic families only)."""
    printed: list[FormRecord] = field(default_factory=list)
    """The records as printed: the input, less what the template has no column for."""


def _renderer(family: str) -> Renderer:
    # imported lazily: scan pulls in Pillow, and most callers need one family only
    if family == "ruled":
        from jixiao.corpus.render.ruled import render as ruled_render

        return ruled_render
    if family == "ab-labels":
        from jixiao.corpus.render.ab_labels import render as ab_labels_render

        return ab_labels_render
    if family == "borderless":
        from jixiao.corpus.render.borderless import render as borderless_render

        return borderless_render
    if family == "split-target":
        from jixiao.corpus.render.split_target import render as split_target_render

        return split_target_render
    if family == "bundle":
        from jixiao.corpus.render.bundle import render as bundle_render

        return bundle_render
    if family == "scan":
        from jixiao.corpus.render.scan import render as scan_render

        return scan_render
    raise InvalidInput(
        None, f"unknown layout family {family!r}", f"use one of: {', '.join(ALL_FAMILIES)}"
    )


def _realistic_renderer(family: str) -> RealisticRenderer:
    if family == "office":
        from jixiao.corpus.render.office import render as office_render

        return office_render
    if family == "html":
        from jixiao.corpus.render.browser import render as html_render

        return html_render
    from jixiao.corpus.render.scan_sweep import render as scan_sweep_render

    return scan_sweep_render


def render_document(
    family: str, forms: list[FormRecord], out: Path, *, seed: int = 0, split: Split = "dev"
) -> Rendered:
    """Write `forms` as one PDF of the given family to `out`. `split` picks the settings space
    of the realistic families (the others ignore it)."""
    if not forms:
        raise InvalidInput(str(out), "no forms to render", "pass at least one FormRecord")
    from jixiao.corpus.render.draw import save_document

    out = Path(out)
    if family in REALISTIC_FAMILIES:
        doc, pages, settings, printed = _realistic_renderer(family)(list(forms), seed, split)
        out.parent.mkdir(parents=True, exist_ok=True)
        if family == "scan-sweep":
            save_document(doc, str(out))  # subsets the OCR layer's font
        else:  # printed by another program: its fonts are already subset
            doc.save(str(out), garbage=3, deflate=True, no_new_id=True)
        doc.close()
        return Rendered(pages, settings, printed)
    render = _renderer(family)
    doc, pages = render(list(forms), seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_document(doc, str(out))
    doc.close()
    return Rendered(pages, {}, list(forms))


def render_pdf(
    family: str, forms: list[FormRecord], out: Path, *, seed: int = 0, split: Split = "dev"
) -> list[PageRange]:
    """Write `forms` as one PDF of the given family to `out`; return each form's page range."""
    return render_document(family, forms, out, seed=seed, split=split).pages


__all__ = [
    "ALL_FAMILIES",
    "FAMILIES",
    "REALISTIC_FAMILIES",
    "Rendered",
    "render_document",
    "render_pdf",
]
