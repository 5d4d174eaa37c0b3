"""Draw one PDF page (or a part of it) as PNG, for the review UI.

Coordinates are the unrotated page space that provenance bboxes use, so the picture is drawn
with the page's /Rotate ignored: a bbox scaled by dpi/72 lands on the right pixels.
"""

from __future__ import annotations

from pathlib import Path

import pymupdf

from jixiao.errors import CorruptPdf, FileMissing, InvalidInput

BBoxLike = tuple[float, float, float, float]


def render_page_png(
    pdf_path: str | Path, page: int, *, dpi: int, clip: BBoxLike | None = None
) -> bytes:
    """PNG of 1-based `page` at `dpi`; `clip` (PDF points, unrotated) limits it to a rectangle,
    clamped to the page. Raises FileMissing / CorruptPdf / InvalidInput (bad page or clip)."""
    path = Path(pdf_path)
    if not path.is_file():
        raise FileMissing(str(path), hint="the document was moved or deleted since it was read")
    if not 18 <= dpi <= 600:
        raise InvalidInput(str(path), f"dpi {dpi} is out of range", "use 18 to 600")
    try:
        doc = pymupdf.open(path)
    except Exception as err:  # MuPDF raises plain RuntimeErrors / FileDataError
        raise CorruptPdf(str(path)) from err
    try:
        if not 1 <= page <= doc.page_count:
            raise InvalidInput(
                str(path), f"page {page} does not exist", f"use 1 to {doc.page_count}"
            )
        pdf_page = doc[page - 1]
        pdf_page.set_rotation(0)  # in memory only: bboxes are unrotated
        area = None
        if clip is not None:
            area = pymupdf.Rect(clip) & pdf_page.rect
            if area.is_empty:
                raise InvalidInput(str(path), f"clip {clip} is outside page {page}", "fix the bbox")
        pixmap = pdf_page.get_pixmap(dpi=dpi, clip=area)
        return bytes(pixmap.tobytes("png"))
    finally:
        doc.close()


def page_size(pdf_path: str | Path, page: int) -> tuple[float, float]:
    """(width, height) in PDF points of 1-based `page`, unrotated."""
    path = Path(pdf_path)
    if not path.is_file():
        raise FileMissing(str(path), hint="the document was moved or deleted since it was read")
    try:
        doc = pymupdf.open(path)
    except Exception as err:
        raise CorruptPdf(str(path)) from err
    try:
        if not 1 <= page <= doc.page_count:
            raise InvalidInput(
                str(path), f"page {page} does not exist", f"use 1 to {doc.page_count}"
            )
        rect = doc[page - 1].mediabox
        return (float(rect.width), float(rect.height))
    finally:
        doc.close()
