"""Scanned fixture PDFs for the OCR tests, drawn once per session.

`small_scan`: one page holding a 5 × 3 ruled table (a label, a project name, amounts, a
comparison target, a "-"), put through the `scan` family's scanner look (about 200 dpi, turned
by a small angle, grain, JPEG) so the OCR test reads few cells. `form_pair`: one real gold form
rendered as `ruled` (text layer) and as `scan` from the same seed, for grid recovery."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pymupdf
import pytest

from jixiao.contract import FormRecord
from jixiao.corpus.render import render_pdf
from jixiao.corpus.render.scan import scan_image

REPO = Path(__file__).resolve().parents[2]
SMALL_TABLE = [
    ["项目名称", "智慧城市运营服务", None],
    ["年初预算数", "16,124.45", "98.61"],
    ["年度指标值", "≥95.00(%)", "-"],
    ["得分", "9.86", "100.00"],
    ["比较", ">60%", "≤5.00(%)"],
]
COL_X = [60.0, 170.0, 330.0, 460.0]
ROW_Y = [80.0, 104.0, 128.0, 152.0, 176.0, 200.0]


def draw_small_table(page: pymupdf.Page) -> None:
    # The built-in CJK font with proportional Latin digits ("china-s" spaces digits out).
    page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("cjk").buffer)
    shape = page.new_shape()
    for y in ROW_Y:
        shape.draw_line((COL_X[0], y), (COL_X[-1], y))
    for k, x in enumerate(COL_X):
        # the first row's second cell spans two columns: no line between them there
        top = ROW_Y[1] if k == 2 else ROW_Y[0]
        shape.draw_line((x, top), (x, ROW_Y[-1]))
    shape.finish(color=(0, 0, 0), width=0.8)
    shape.commit()
    for r, row in enumerate(SMALL_TABLE):
        for c, text in enumerate(row):
            if text is None:
                continue
            page.insert_text((COL_X[c] + 6, ROW_Y[r] + 16), text, fontname="F0", fontsize=10.5)


@pytest.fixture(scope="session")
def small_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = pymupdf.open()
    page = source.new_page(width=595, height=842)
    draw_small_table(page)
    jpeg = scan_image(page, 200, random.Random(11))
    out = pymupdf.open()
    target = out.new_page(width=595, height=842)
    target.insert_image(target.rect, stream=jpeg)
    path = tmp_path_factory.mktemp("ocr") / "small_scan.pdf"
    out.save(path)
    return path


@pytest.fixture(scope="session")
def form_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    gold = FormRecord.model_validate(
        json.loads((REPO / "evals" / "gold" / "sh-bdc-2023-01.json").read_text("utf-8"))
    )
    d = tmp_path_factory.mktemp("ocr_pair")
    ruled, scan = d / "ruled.pdf", d / "scan.pdf"
    render_pdf("ruled", [gold], ruled, seed=3)
    render_pdf("scan", [gold], scan, seed=3)
    return ruled, scan
