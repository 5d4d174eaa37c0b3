from __future__ import annotations

from pathlib import Path

import pytest

from jixiao.errors import CorruptPdf, EmptyPdf, EncryptedPdf, FileMissing, NotAPdf, TooManyPages
from jixiao.ingest.pdf import open_document


def test_text_page_lines_are_split_per_cell(pdfs: dict[str, Path]) -> None:
    doc = open_document(pdfs["ruled"])
    assert doc.page_count == 1 and len(doc.sha256) == 64
    page = doc.pages[0]
    assert page.kind == "text" and page.garbled_chars == 0
    texts = [ln.text for ln in page.lines]
    # Cells on one baseline are separate lines, not "主管部门 上海市大数据中心 实施单位 …".
    assert "主管部门" in texts and "实施单位" in texts
    assert "16,124.45" in texts
    assert texts[0] == "财政项目支出绩效自评表"


def test_rulings_are_merged_across_cells(pdfs: dict[str, Path]) -> None:
    page = open_document(pdfs["ruled"]).pages[0]
    horizontal = [r for r in page.rulings if r.horizontal]
    # Each row border is drawn once per cell; merged it spans the table width (40..555).
    widest = max(r.x1 - r.x0 for r in horizontal)
    assert widest == pytest.approx(515, abs=1)
    assert len(horizontal) < 40


def test_image_only_and_garbled_pages_are_classified(pdfs: dict[str, Path]) -> None:
    image = open_document(pdfs["image_only"]).pages[0]
    assert image.kind == "image_only" and image.needs_ocr and image.image_area_ratio > 0.9
    garbled = open_document(pdfs["garbled"]).pages[0]
    assert garbled.kind == "garbled" and garbled.garbled_chars > 50


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("not_pdf", NotAPdf),
        ("encrypted", EncryptedPdf),
        ("zero_pages", EmptyPdf),
        ("truncated", CorruptPdf),
    ],
)
def test_bad_files_raise_their_error(pdfs: dict[str, Path], name: str, error: type) -> None:
    with pytest.raises(error) as info:
        open_document(pdfs[name])
    assert str(pdfs[name]) in info.value.line()


def test_missing_file_and_page_limit(pdfs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(FileMissing):
        open_document(tmp_path / "nope.pdf")
    with pytest.raises(TooManyPages, match="5 pages"):
        open_document(pdfs["many_pages"], max_pages=3)
    assert open_document(pdfs["many_pages"], max_pages=5).page_count == 5


@pytest.mark.parametrize("fraction", [0.2, 0.9, 0.995])
def test_truncated_anywhere_is_corrupt(
    pdfs: dict[str, Path], tmp_path: Path, fraction: float
) -> None:
    data = pdfs["ruled"].read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CorruptPdf):
        open_document(cut)


def test_broken_xref_offset_alone_is_read(pdfs: dict[str, Path], tmp_path: Path) -> None:
    """MuPDF repairs a wrong startxref; nothing is lost, so the file is not rejected."""
    data = pdfs["ruled"].read_bytes()
    at = data.rfind(b"startxref")
    bad = tmp_path / "badxref.pdf"
    bad.write_bytes(data[:at] + b"startxref\n12345\n%%EOF\n")
    doc = open_document(bad)
    assert doc.page_count == 1 and "16,124.45" in [ln.text for ln in doc.pages[0].lines]
