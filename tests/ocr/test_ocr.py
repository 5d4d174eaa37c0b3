"""OCR of image-only pages: one small scanned page end to end (each engine), text clean-up, and
the message when Tesseract or its Chinese model is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from jixiao.ingest import ingest_pdf
from jixiao.ingest.grid import build_grids
from jixiao.ingest.ocr import (
    EngineName,
    OcrOptions,
    OcrUnavailable,
    find_tessdata,
    looks_numeric,
    normalize_numeric,
    ocr_document,
)
from jixiao.ingest.pdf import open_document

EXPECTED = {
    (0, 0): "项目名称",
    (0, 1): "智慧城市运营服务",
    (1, 0): "年初预算数",
    (1, 1): "16,124.45",
    (1, 2): "98.61",
    (2, 0): "年度指标值",
    (2, 1): "≥95.00(%)",
    (2, 2): "-",
    (3, 0): "得分",
    (3, 1): "9.86",
    (3, 2): "100.00",
    (4, 0): "比较",
    (4, 1): ">60%",
    (4, 2): "≤5.00(%)",
}


@pytest.mark.parametrize("engine", ["rapidocr", "tesseract"])
def test_small_scanned_page_end_to_end(small_scan: Path, engine: EngineName) -> None:
    document = open_document(small_scan)
    assert [p.kind for p in document.pages] == ["image_only"]
    pages = ocr_document(small_scan, document, OcrOptions(engine=engine))
    assert pages[1].engine == engine
    assert abs(pages[1].angle) >= 0.25  # the scanner turned it; OCR levelled it
    grids = build_grids(document.pages)
    assert len(grids) == 1
    grid = grids[0]
    assert (grid.n_rows, grid.n_cols) == (5, 3)
    assert [(c.row, c.col, c.colspan) for c in grid.cells if c.colspan > 1] == [(0, 1, 2)]
    got = {(c.row, c.col): c.text for c in grid.cells}
    assert got == EXPECTED


def test_ingest_pdf_reads_scans_and_sets_confidence(small_scan: Path) -> None:
    result = ingest_pdf(small_scan)
    assert any("read by OCR" in w for w in result.warnings), result.warnings
    assert not any("needs OCR" in w for w in result.warnings)
    cells = [c for form in result.forms for g in form.grids for c in g.cells]
    assert cells, "the scanned table reached segmentation"
    assert all(c.confidence is not None and 0.0 <= c.confidence <= 1.0 for c in cells if c.text)
    # the text layer of a normal PDF carries no OCR confidence
    by_text = {c.text: c for c in cells}
    assert by_text["16,124.45"].confidence is not None


def test_missing_chinese_model_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(OcrUnavailable) as info:
        find_tessdata(OcrOptions(tessdata=str(tmp_path)))
    line = info.value.line()
    assert "\n" not in line
    assert str(tmp_path) in line and "chi_sim.traineddata" in line
    assert "apt-get install tesseract-ocr tesseract-ocr-chi-sim" in line
    assert info.value.exit_code not in (0, 1)


def test_without_tesseract_image_pages_are_still_reported(small_scan: Path, tmp_path: Path) -> None:
    result = ingest_pdf(small_scan, ocr=OcrOptions(engine="tesseract", tessdata=str(tmp_path)))
    assert result.forms == []
    [warning] = [w for w in result.warnings if w.startswith("page 1:")]
    assert "image only" in warning and "needs OCR" in warning
    assert "tesseract-ocr-chi-sim" in warning


def test_ocr_can_be_switched_off(small_scan: Path) -> None:
    result = ingest_pdf(small_scan, ocr=OcrOptions(enabled=False))
    assert result.forms == []
    assert any("needs OCR" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("9,838.67", "9,838.67"),
        ("１６,１２４.４５", "16,124.45"),
        ("1O0.00", "100.00"),
        ("98.6l", "98.61"),
        ("98。61", "98.61"),
        ("1.327.77", "1,327.77"),
        ("9 .86", "9.86"),
        ("９５％", "95%"),
        ("≥95", "≥95"),
        # not bare numbers: names, units and labels stay as read
        ("O2O平台", "O2O平台"),
        ("105.00(项)", "105.00(项)"),
        ("l号楼改造", "l号楼改造"),
        ("", ""),
    ],
)
def test_normalize_numeric_touches_numbers_only(raw: str, clean: str) -> None:
    assert normalize_numeric(raw) == clean


def test_looks_numeric() -> None:
    assert looks_numeric("16,124.45") and looks_numeric("≥95%") and looks_numeric("-3.5")
    assert not looks_numeric("-") and not looks_numeric("项目") and not looks_numeric("2023年")
