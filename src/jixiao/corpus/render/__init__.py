"""PDF renderers for the synthetic corpus: one module per layout family.

`render_pdf(family, forms, out)` writes one PDF holding the forms back to back and returns each
form's (first_page, last_page), 1-based. Ingestion tests use it to make fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pymupdf

from jixiao.contract import FormRecord
from jixiao.errors import InvalidInput

FAMILIES = ("ruled", "ab-labels", "borderless", "split-target", "bundle", "scan")

PageRange = tuple[int, int]
Renderer = Callable[[list[FormRecord], int], tuple[pymupdf.Document, list[PageRange]]]


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
        None, f"unknown layout family {family!r}", f"use one of: {', '.join(FAMILIES)}"
    )


def render_pdf(
    family: str, forms: list[FormRecord], out: Path, *, seed: int = 0
) -> list[PageRange]:
    """Write `forms` as one PDF of the given family to `out`; return each form's page range."""
    if not forms:
        raise InvalidInput(str(out), "no forms to render", "pass at least one FormRecord")
    render = _renderer(family)
    from jixiao.corpus.render.draw import save_document

    doc, pages = render(list(forms), seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_document(doc, str(out))
    doc.close()
    return pages


__all__ = ["FAMILIES", "render_pdf"]
