"""The OCR engine choice: RapidOCR reads rendered cells right (labels Tesseract garbles, numbers,
comparison signs, a wrapped cell), the engine comes from the options or JIXIAO_OCR_ENGINE, a
missing rapidocr falls back to Tesseract with a warning, and a cell's confidence is the
recogniser's score."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pymupdf
import pytest

from jixiao.errors import ConfigError
from jixiao.ingest import ingest_pdf
from jixiao.ingest.ocr import (
    ENGINE_ENV,
    OcrOptions,
    OcrUnavailable,
    engine_name,
    ocr_document,
    open_reader,
)
from jixiao.ingest.ocr_rapid import RapidReader, finish_text
from jixiao.ingest.pdf import open_document
from jixiao.ingest.scan_grid import Grey

DPI = 300


@pytest.fixture(scope="module")
def rapid() -> Iterator[RapidReader]:
    reader = RapidReader(OcrOptions(engine="rapidocr", dpi=DPI))
    yield reader
    reader.close()


@pytest.fixture(autouse=True)
def _no_engine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENGINE_ENV, raising=False)


def render_cell(lines: list[str], width: float = 150.0, size: float = 10.5) -> Grey:
    """A ruled cell holding `lines`, rasterised grey at DPI (what a clean scan gives)."""
    height = 10 + 15 * len(lines)
    doc = pymupdf.open()
    page = doc.new_page(width=width + 20, height=height + 20)
    page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("cjk").buffer)
    page.draw_rect(pymupdf.Rect(10, 10, 10 + width, 10 + height), color=(0, 0, 0), width=0.8)
    for k, text in enumerate(lines):
        page.insert_text((16, 26 + 15 * k), text, fontname="F0", fontsize=size)
    pix = page.get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY, alpha=False)
    grey = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)
    return grey[:, : pix.width].copy()


def read_cell(reader: RapidReader, grey: Grey) -> list[tuple[str, float]]:
    inset = round(10 * DPI / 72) + 5  # inside the cell's ruling, as ocr_page cuts a cell
    h, w = grey.shape
    return [
        (ln.text, ln.confidence)
        for ln in reader.read_region(grey, (inset, inset, w - inset, h - inset))
    ]


@pytest.mark.parametrize(
    "text",
    [
        "一级指标",
        "三级指标",
        "项目名称",
        "年度指标值",
        "16,124.45",
        "≥30.00(项)",
        "≤5.00(%)",
        "98.61",
    ],
)
def test_rapidocr_reads_label_and_number_cells(rapid: RapidReader, text: str) -> None:
    [(read, score)] = read_cell(rapid, render_cell([text]))
    assert read == text
    assert 0.8 <= score <= 1.0


def test_rapidocr_reads_each_line_of_a_wrapped_cell(rapid: RapidReader) -> None:
    lines = read_cell(rapid, render_cell(["完成运营服务", "事项数量"]))
    assert [t for t, _ in lines] == ["完成运营服务", "事项数量"]


def test_rapidocr_reads_a_dash_cell_as_not_applicable(rapid: RapidReader) -> None:
    assert [t for t, _ in read_cell(rapid, render_cell(["-"]))] == ["-"]


def test_finish_text_is_engine_agnostic_cleanup() -> None:
    blank = np.full((40, 200), 255, dtype=np.uint8)
    assert finish_text("≥ 95.00(%)", blank) == "≥95.00(%)"
    assert finish_text("16, 124.45", blank) == "16,124.45"
    assert finish_text("1O0.00|", blank) == "100.00"
    assert finish_text("Windows 10 升级", blank) == "Windows 10升级"
    # a ruling stub on a bitonal page read as "?"; the full-width ？ of a question stays
    assert finish_text("?分值", blank) == "分值"
    assert finish_text("产出指标?", blank) == "产出指标"
    assert finish_text("是否达标？", blank) == "是否达标？"


def test_engine_comes_from_options_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert engine_name(OcrOptions()) == "rapidocr"
    monkeypatch.setenv(ENGINE_ENV, "tesseract")
    assert engine_name(OcrOptions()) == "tesseract"
    assert engine_name(OcrOptions(engine="rapidocr")) == "rapidocr"
    monkeypatch.setenv(ENGINE_ENV, " RapidOCR ")
    assert engine_name(OcrOptions()) == "rapidocr"
    monkeypatch.setenv(ENGINE_ENV, "paddle")
    with pytest.raises(ConfigError) as info:
        engine_name(OcrOptions())
    assert ENGINE_ENV in info.value.line() and "rapidocr, tesseract" in info.value.line()


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_env_var_picks_the_engine_that_reads_the_page(
    small_scan: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    monkeypatch.setenv(ENGINE_ENV, engine)
    pages = ocr_document(small_scan, open_document(small_scan))
    assert pages[1].engine == engine
    assert any(ln.text == "16,124.45" for ln in pages[1].lines)


def test_missing_rapidocr_falls_back_to_tesseract(
    small_scan: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # None in sys.modules makes `import rapidocr_onnxruntime` raise ImportError.
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with caplog.at_level(logging.WARNING, logger="jixiao.ingest.ocr"):
        reader = open_reader(OcrOptions(engine="rapidocr"))
        reader.close()
        assert reader.name == "tesseract"
        result = ingest_pdf(small_scan)
    assert any("rapidocr is not usable" in r.getMessage() for r in caplog.records)
    assert any("read by OCR" in w for w in result.warnings), result.warnings
    cells = {c.text for form in result.forms for g in form.grids for c in g.cells}
    assert "16,124.45" in cells


def test_no_engine_at_all_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(OcrUnavailable) as info:
        open_reader(OcrOptions(tessdata=str(tmp_path)))
    assert "\n" not in info.value.line() and "chi_sim.traineddata" in info.value.line()


def test_cell_confidence_is_the_recognisers_score(
    small_scan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, float] = {}
    real = RapidReader.recognize

    def damped(self: RapidReader, image: Grey) -> tuple[str, float]:
        # The real reading with its score scaled: the cells must carry exactly this number.
        text, score = real(self, image)
        seen[text] = score * 0.6
        return text, score * 0.6

    monkeypatch.setattr(RapidReader, "recognize", damped)
    result = ingest_pdf(small_scan, ocr=OcrOptions(engine="rapidocr"))
    cells = {c.text: c for form in result.forms for g in form.grids for c in g.cells if c.text}
    assert {"项目名称", "16,124.45", "9.86"} <= cells.keys()
    for text in ("项目名称", "16,124.45", "9.86"):
        assert cells[text].confidence == pytest.approx(seen[text])
        assert cells[text].confidence <= 0.6


def test_rapidocr_detects_lines_where_no_grid_was_found(rapid: RapidReader) -> None:
    # Two pieces of text side by side and a line under them, no rulings: the detector must
    # return each piece apart (as a text layer would), in page points.
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=80)
    page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("cjk").buffer)
    page.insert_text((20, 30), "项目名称", fontname="F0", fontsize=10.5)
    page.insert_text((180, 30), "9,838.67", fontname="F0", fontsize=10.5)
    page.insert_text((20, 60), "实际完成值", fontname="F0", fontsize=10.5)
    pix = page.get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY, alpha=False)
    grey = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)
    lines = rapid.read_page(grey[:, : pix.width].copy())
    assert lines is not None
    got = {ln.text: ln.bbox for ln in lines}
    assert set(got) == {"项目名称", "9,838.67", "实际完成值"}
    assert got["项目名称"][0] == pytest.approx(20, abs=4)
    assert got["9,838.67"][0] == pytest.approx(180, abs=4)
    assert got["实际完成值"][1] > got["项目名称"][3]


def test_a_detected_line_is_cut_into_cells_at_wide_blanks() -> None:
    """The detector reads a row of a table without column lines as one line; it is cut where
    the blank between two inked stretches is wider than 1.5 line heights, even with a rule
    running along the box's edge, and not between the glyphs of one cell."""
    from jixiao.ingest.ocr_rapid import _pieces

    img = np.full((60, 600), 255, dtype=np.uint8)
    for x0 in (10, 40, 70):  # three glyphs of one cell, 10 px apart
        img[20:44, x0 : x0 + 20] = 0
    img[20:44, 300:380] = 0  # the next cell, 210 px further
    img[2:5, :] = 0  # a rule the box took in
    assert _pieces(img, (0, 0, 600, 48)) == [(10, 0, 90, 48), (300, 0, 380, 48)]
    img[20:44, 90:300] = 0  # no blank: one piece
    assert _pieces(img, (0, 0, 600, 48)) == [(0, 0, 600, 48)]


def test_a_lone_blot_is_no_reading_however_sure() -> None:
    from jixiao.ingest.ocr_rapid import _junk

    assert _junk("■", 0.97) and _junk("●", 0.9)
    assert not _junk("优", 0.97) and not _junk("■1", 0.97)
