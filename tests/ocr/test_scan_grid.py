"""Deskew and grid recovery from a scan's pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from jixiao.ingest.grid import page_grids
from jixiao.ingest.model import PageLayout
from jixiao.ingest.pdf import open_document
from jixiao.ingest.scan_grid import deskew, estimate_skew, find_rulings

DPI = 300


def _table_image() -> np.ndarray:
    """A white page with a 6 × 4 ruled table and some text-like blobs, 300 dpi-ish."""
    img = np.full((1200, 1000), 255, dtype=np.uint8)
    ys = [100, 250, 400, 550, 700, 850, 1000]
    xs = [100, 300, 500, 700, 900]
    for y in ys:
        img[y : y + 3, xs[0] : xs[-1] + 3] = 0
    for x in xs:
        img[ys[0] : ys[-1] + 3, x : x + 3] = 0
    rng = np.random.default_rng(0)
    for _ in range(60):  # short strokes: glyph-sized, must not count as lines
        y, x = int(rng.integers(110, 990)), int(rng.integers(110, 880))
        img[y : y + 2, x : x + 20] = 0
    return img


def test_estimate_skew_recovers_a_known_rotation() -> None:
    image = Image.fromarray(_table_image())
    for angle in (1.2, -0.7):
        turned = np.asarray(
            image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255), dtype=np.uint8
        )
        estimate = estimate_skew(turned)
        # rotate(estimate) levels the page: the estimate undoes the turn
        assert abs(estimate + angle) <= 0.06, (angle, estimate)
        level = deskew(turned, estimate)
        rulings = find_rulings(level, DPI)
        horizontal = [r for r in rulings if r.horizontal and r.x1 - r.x0 > 150]
        vertical = [r for r in rulings if not r.horizontal and r.y1 - r.y0 > 150]
        assert len(horizontal) == 7 and len(vertical) == 5


def test_level_page_has_no_skew() -> None:
    assert abs(estimate_skew(_table_image())) <= 0.02


def test_find_rulings_ignores_glyph_strokes_and_bridges_breaks() -> None:
    img = _table_image()
    img[400:403, 350:354] = 255  # a JPEG-sized break in one ruling
    rulings = find_rulings(img, DPI)
    horizontal = sorted((r for r in rulings if r.horizontal), key=lambda r: r.y0)
    assert len(horizontal) == 7  # the broken line is one line, strokes are none
    assert all(abs((r.x1 - r.x0) - 800 * 72 / DPI) < 3 for r in horizontal)


def _structure(grids: list) -> list[tuple[int, int, set[tuple[int, int, int, int]]]]:
    return [
        (g.n_rows, g.n_cols, {(c.row, c.col, c.rowspan, c.colspan) for c in g.cells}) for g in grids
    ]


def test_a_dark_page_edge_does_not_pull_a_ruling_onto_the_bold_text_under_it() -> None:
    """A binding shadow thresholded to black runs down the whole page: every pixel row has a
    long dark run there. Rulings are still found where they are, not averaged with the long
    strokes of bold header text a few pixels below them (bitonal scans)."""
    img = _table_image()
    img[:, :90] = 0  # the shadow, full height, wider than a ruling is long
    # bold text: long horizontal strokes spanning the header cells, 15-40 px under y = 100
    for y in (115, 125, 135):
        for x in (110, 310, 510, 710):
            img[y : y + 4, x : x + 170] = 0
    rulings = find_rulings(img, DPI)
    horizontal = sorted(
        (r for r in rulings if r.horizontal and r.x1 - r.x0 > 150 * 72 / DPI), key=lambda r: r.y0
    )
    at = {round(r.y0 * DPI / 72) for r in horizontal if r.x0 > 90 * 72 / DPI}
    assert {102, 252} <= at  # the top rule and the next one, where they are drawn


def test_grid_from_a_rendered_scan_equals_the_ruled_grid(form_pair: tuple[Path, Path]) -> None:
    ruled_pdf, scan_pdf = form_pair
    ruled = open_document(ruled_pdf)
    doc = pymupdf.open(scan_pdf)
    try:
        assert doc.page_count == ruled.page_count
        for number in range(doc.page_count):
            pix = doc[number].get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY)
            grey = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)
            level = deskew(grey, estimate_skew(grey))
            expected = _structure(page_grids(ruled.pages[number]))
            page = ruled.pages[number]
            shape = PageLayout(
                number=number + 1,
                width=page.width,
                height=page.height,
                rotation=0,
                kind="image_only",
                rulings=find_rulings(level, DPI),
            )
            got = _structure(page_grids(shape))
            assert expected and len(expected[0][2]) > 20  # a real table, not a trivial one
            assert got == expected, f"page {number + 1}"
    finally:
        doc.close()


def _page(number: int, xs: list[float]) -> PageLayout:
    from jixiao.ingest.model import Ruling, TextLine

    rulings = [Ruling(x, 100.0, x, 400.0) for x in xs]
    rulings.append(Ruling(xs[0], 100.0, xs[-1], 100.0))
    lines = [TextLine(text="值", bbox=(xs[0] + 5, 110.0, xs[0] + 20, 120.0))]
    return PageLayout(
        number=number,
        width=595,
        height=842,
        rotation=0,
        kind="image_only",
        lines=lines,
        rulings=rulings,
    )


def test_a_continued_scan_page_is_shifted_onto_the_previous_columns() -> None:
    from jixiao.ingest.ocr import align_to_previous_page

    previous = _page(1, [50.0, 150.0, 300.0, 500.0])
    page = _page(2, [54.6, 154.4, 304.5, 504.5])
    dx = align_to_previous_page(page, previous)
    assert abs(dx + 4.5) < 0.15
    verticals = sorted(r.x0 for r in page.rulings if not r.horizontal)
    assert all(abs(a - b) < 0.2 for a, b in zip(verticals, [50, 150, 300, 500], strict=True))
    assert abs(page.lines[0].bbox[0] - 55.0) < 0.2
    # a different table (other columns) is left where it is
    other = _page(2, [80.0, 230.0, 420.0, 560.0])
    assert align_to_previous_page(other, previous) == 0.0
    assert sorted(r.x0 for r in other.rulings if not r.horizontal)[0] == 80.0
