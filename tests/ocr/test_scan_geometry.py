"""Scans that are not lying straight, and scans that carry an OCR text layer (issue #14): a form
skewed by up to 2.5° reads all its indicator rows, a sheet scanned sideways (text running
vertically) is turned upright before OCR, and a searchable scan whose invisible text layer
contradicts the image is OCR'd instead of taken at its word."""

from __future__ import annotations

import difflib
import io
import json
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from jixiao.contract import FormRecord
from jixiao.corpus.render import render_pdf
from jixiao.extract.layout import LayoutExtractor
from jixiao.extract.pipeline import extract_document
from jixiao.ingest.grid import build_grids, page_grids
from jixiao.ingest.model import PageLayout
from jixiao.ingest.ocr import TURNED_RATIO, OcrOptions, ocr_document
from jixiao.ingest.pdf import open_document
from jixiao.ingest.scan_grid import deskew, estimate_skew, find_rulings, text_orientation

from .conftest import COL_X, ROW_Y, SMALL_TABLE, draw_small_table

REPO = Path(__file__).resolve().parents[2]
SCAN_DPI = 200


def _gold() -> FormRecord:
    return FormRecord.model_validate(
        json.loads((REPO / "evals" / "gold" / "sh-bdc-2023-01.json").read_text("utf-8"))
    )


@pytest.fixture(scope="module")
def ruled_form(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("geometry") / "ruled.pdf"
    render_pdf("ruled", [_gold()], path, seed=5)
    return path


def _raster(page: pymupdf.Page, dpi: int = SCAN_DPI) -> Image.Image:
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _scan(source: Path, out: Path, angles: list[float], turn: int = 0) -> Path:
    """An image-only copy of `source`, page k turned by angles[k] degrees (PIL's sense), then by
    `turn` degrees with the page's sides swapped (a sheet fed sideways)."""
    doc = pymupdf.open(source)
    scan = pymupdf.open()
    for page, angle in zip(doc, angles, strict=False):
        image = _raster(page).rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
        width, height = page.rect.width, page.rect.height
        if turn:
            image = image.rotate(turn, expand=True)
            width, height = height, width
        target = scan.new_page(width=width, height=height)
        target.insert_image(target.rect, stream=_png(image))
    scan.save(out)
    return out


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.uint8)


def _shape(rulings: list, width: float, height: float) -> PageLayout:
    return PageLayout(
        number=1, width=width, height=height, rotation=0, kind="image_only", rulings=rulings
    )


# --- skew ------------------------------------------------------------------------------------


@pytest.mark.parametrize("angle", [1.5, -1.5, 2.5, -2.5])
def test_skewed_form_pages_level_to_the_upright_grid(ruled_form: Path, angle: float) -> None:
    """Each page of the form, turned by `angle`, is levelled to within 0.1° and recovers the
    same table grid (rows and columns) as the page scanned straight."""
    doc = pymupdf.open(ruled_form)
    for page in doc:
        straight = _raster(page, 300)
        w, h = page.rect.width, page.rect.height
        upright = page_grids(_shape(find_rulings(_grey(straight), 300), w, h))
        turned = _grey(straight.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255))
        found = estimate_skew(turned, max_angle=3.0)
        assert found == pytest.approx(-angle, abs=0.1)
        levelled = page_grids(_shape(find_rulings(deskew(turned, found), 300), w, h))
        assert [(g.n_rows, g.n_cols) for g in levelled] == [(g.n_rows, g.n_cols) for g in upright]


@pytest.mark.slow
def test_skewed_scan_reads_all_indicator_rows(ruled_form: Path, tmp_path: Path) -> None:
    """End to end: the whole form scanned with its pages skewed by +1.5°, -2.5° and +2.5° reads
    every indicator row, each named as in the gold."""
    gold = _gold()
    scan = _scan(ruled_form, tmp_path / "skewed.pdf", [1.5, -2.5, 2.5])
    assert {p.kind for p in open_document(scan).pages} == {"image_only"}
    (result,) = extract_document(scan, extractor=LayoutExtractor())
    got = result.form.indicators
    assert len(got) == len(gold.indicators)
    for ours, theirs in zip(got, gold.indicators, strict=True):
        assert difflib.SequenceMatcher(None, ours.name, theirs.name).ratio() >= 0.8, (
            ours.name,
            theirs.name,
        )


# --- pages scanned sideways -------------------------------------------------------------------


def _small_table_page() -> pymupdf.Document:
    doc = pymupdf.open()
    draw_small_table(doc.new_page(width=595, height=842))
    return doc


def test_text_orientation_tells_a_sideways_page(ruled_form: Path) -> None:
    page = pymupdf.open(ruled_form)[0]
    image = _raster(page, 300)
    assert text_orientation(_grey(image), 300) < 1.0
    for turn in (90, 270):
        sideways = _grey(image.rotate(turn, expand=True))
        assert text_orientation(sideways, 300) > TURNED_RATIO


@pytest.mark.parametrize("turn", [90, 270])
def test_sideways_scan_is_turned_upright_and_read(tmp_path: Path, turn: int) -> None:
    source = tmp_path / "table.pdf"
    _small_table_page().save(source)
    scan = _scan(source, tmp_path / f"sideways-{turn}.pdf", [0.8], turn=turn)
    document = open_document(scan)
    assert document.pages[0].width > document.pages[0].height  # landscape as scanned
    pages = ocr_document(scan, document, OcrOptions(engine="rapidocr"))
    assert pages[1].turn == (360 - turn) % 360
    # read as the portrait sheet it was
    assert (document.pages[0].width, document.pages[0].height) == (595, 842)
    grids = build_grids(document.pages)
    assert [(g.n_rows, g.n_cols) for g in grids] == [(5, 3)]
    texts = {c.text for c in grids[0].cells}
    assert {"项目名称", "智慧城市运营服务", "年初预算数", "16,124.45", "年度指标值"} <= texts


def test_upright_can_be_switched_off(tmp_path: Path) -> None:
    source = tmp_path / "table.pdf"
    _small_table_page().save(source)
    scan = _scan(source, tmp_path / "sideways.pdf", [0.0], turn=90)
    document = open_document(scan)
    pages = ocr_document(scan, document, OcrOptions(engine="rapidocr", upright=False))
    assert pages[1].turn == 0


# --- searchable scans -------------------------------------------------------------------------

# what a scanner's OCR confuses (a sample): digits for letters, look-alike characters
_SUBSTITUTE = {"0": "O", "1": "l", "5": "S", "目": "自", "数": "敖", "标": "栎", "值": "直"}


def _searchable_scan(out: Path, substitute: bool) -> Path:
    """The small table as an image-only page at 200 dpi with the table's text laid over it
    invisibly (render mode 3), as a scanner's OCR does; with `substitute`, characters of the
    layer swapped for look-alikes."""
    source = _small_table_page()
    image = _raster(source[0])
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_image(page.rect, stream=_png(image))
    page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("cjk").buffer)
    for r, row in enumerate(SMALL_TABLE):
        for c, text in enumerate(row):
            if text is None:
                continue
            if substitute:
                text = "".join(_SUBSTITUTE.get(ch, ch) for ch in text)
            page.insert_text(
                (COL_X[c] + 6, ROW_Y[r] + 16), text, fontname="F0", fontsize=10.5, render_mode=3
            )
    doc.save(out)
    return out


def test_searchable_scan_keeps_its_layer_only_when_no_ocr_engine_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jixiao.ingest import ocr

    scan = _searchable_scan(tmp_path / "good.pdf", substitute=False)
    assert open_document(scan).pages[0].kind == "image_only"  # re-read: the layer has no rules

    def unavailable(_options: object) -> object:
        raise ocr.OcrUnavailable("scan.pdf", "no engine")

    monkeypatch.setattr(ocr, "open_reader", unavailable)
    page = open_document(scan).pages[0]
    assert page.kind == "text"
    assert "智慧城市运营服务" in {ln.text for ln in page.lines}


def test_searchable_scan_with_a_poor_layer_is_read_by_ocr(tmp_path: Path) -> None:
    scan = _searchable_scan(tmp_path / "poor.pdf", substitute=True)
    document = open_document(scan)
    page = document.pages[0]
    assert page.kind == "image_only"
    assert page.lines == []
    ocr_document(scan, document, OcrOptions(engine="rapidocr"))
    texts = {c.text for g in build_grids(document.pages) for c in g.cells}
    assert {"项目名称", "年初预算数", "16,124.45", "年度指标值"} <= texts
    assert not any("敖" in t or "自名" in t or "l6" in t for t in texts)


# --- pale glyphs at a line's end ------------------------------------------------------------


def _cell_with_pale_first_glyph() -> np.ndarray:
    """A ruled cell holding 二级指标 whose 二 is printed pale grey (what blur and JPEG leave of
    a thin serif stroke): lighter than the ink threshold, darker than the paper."""
    doc = pymupdf.open()
    page = doc.new_page(width=140, height=50)
    page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("cjk").buffer)
    page.draw_rect(pymupdf.Rect(10, 10, 130, 40), color=(0, 0, 0), width=0.8)
    page.insert_text((18, 30), "二", fontname="F0", fontsize=10.5, color=(0.68, 0.68, 0.68))
    page.insert_text((18 + 10.5, 30), "级指标", fontname="F0", fontsize=10.5)
    return _grey(_raster(page, 300))


def test_pale_first_glyph_is_kept_in_the_crop() -> None:
    from jixiao.ingest.ocr_rapid import RapidReader

    grey = _cell_with_pale_first_glyph()
    assert 150 <= int(grey[60:150, 80:115].min()) < 200  # the 二 is pale, not ink
    reader = RapidReader(OcrOptions(engine="rapidocr", dpi=300))
    s = 300 / 72
    box = (round(10 * s) + 5, round(10 * s) + 5, round(130 * s) - 5, round(40 * s) - 5)
    assert [ln.text for ln in reader.read_region(grey, box)] == ["二级指标"]
