"""ingest.render: page and crop PNGs in the unrotated space that provenance bboxes use."""

from __future__ import annotations

import io
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from jixiao.errors import CorruptPdf, FileMissing, InvalidInput
from jixiao.ingest.render import page_size, render_page_png


def _pdf(path: Path, rotate: int = 0) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=200, height=100)
    page.draw_rect(pymupdf.Rect(10, 10, 50, 30), color=(0, 0, 0), fill=(0, 0, 0))
    page.set_rotation(rotate)
    doc.save(path)
    doc.close()
    return path


def _image(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(png)).convert("L")


def test_page_size_follows_dpi(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "a.pdf")
    assert _image(render_page_png(pdf, 1, dpi=72)).size == (200, 100)
    assert _image(render_page_png(pdf, 1, dpi=144)).size == (400, 200)
    assert page_size(pdf, 1) == (200.0, 100.0)


def test_clip_is_the_bbox_in_unrotated_space_even_on_a_rotated_page(tmp_path: Path) -> None:
    for rotate in (0, 90):
        pdf = _pdf(tmp_path / f"r{rotate}.pdf", rotate)
        crop = _image(render_page_png(pdf, 1, dpi=72, clip=(10, 10, 50, 30)))
        assert crop.size == (40, 20)
        assert crop.getpixel((20, 10)) < 50  # the black box fills the crop
        full = _image(render_page_png(pdf, 1, dpi=72))
        assert full.size == (200, 100)  # drawn unrotated, as bboxes are
        assert full.getpixel((30, 20)) < 50 and full.getpixel((150, 80)) > 200


def test_clip_is_clamped_to_the_page(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "a.pdf")
    assert _image(render_page_png(pdf, 1, dpi=72, clip=(-20, -20, 30, 30))).size == (30, 30)
    with pytest.raises(InvalidInput):
        render_page_png(pdf, 1, dpi=72, clip=(300, 300, 400, 400))


def test_bad_requests_raise_one_line_errors(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "a.pdf")
    with pytest.raises(InvalidInput, match="page 2 does not exist"):
        render_page_png(pdf, 2, dpi=72)
    with pytest.raises(InvalidInput):
        render_page_png(pdf, 0, dpi=72)
    with pytest.raises(InvalidInput, match="dpi"):
        render_page_png(pdf, 1, dpi=5000)
    with pytest.raises(FileMissing):
        render_page_png(tmp_path / "gone.pdf", 1, dpi=72)
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"not a pdf at all")
    with pytest.raises(CorruptPdf):
        render_page_png(junk, 1, dpi=72)
