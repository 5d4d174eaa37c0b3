"""Tables ruled by horizontal lines only (issue #14): HTML printed by headless Chromium with
CSS border-bottom / border-top rules, rowspans on 一级 / 二级 and wrapped text, read by ingest
and the layout extractor exactly as the hand-written gold says.

The PDFs under data/ are made by data/make_hrule_pdfs.py (Chromium is not needed here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jixiao.contract import FormRecord
from jixiao.extract.layout import LayoutExtractor
from jixiao.ingest import ingest_pdf
from jixiao.ingest.grid import build_grids
from jixiao.ingest.model import LayoutText
from jixiao.ingest.pdf import open_document

DATA = Path(__file__).resolve().parent / "data"
# hrule_<form>_<template>.pdf; see TEMPLATES in data/make_hrule_pdfs.py
FIXTURES = ["a_full", "a_bottom", "a_topbottom", "b_bottom", "b_topbottom", "b_pagebreak"]
HEADERS = {"一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"}
HEADERS |= {"偏差原因分析及改进措施", "总分"}


def _gold(fixture: str) -> FormRecord:
    form = fixture.split("_")[0]
    return FormRecord.model_validate(
        json.loads((DATA / f"hrule_{form}.gold.json").read_text("utf-8"))
    )


def _extract(pdf: Path) -> list[FormRecord]:
    result = ingest_pdf(pdf)
    ex = LayoutExtractor()
    return [
        ex.extract(f, LayoutText(), doc_sha256=result.document.sha256).record for f in result.forms
    ]


@pytest.mark.parametrize("fixture", FIXTURES)
def test_indicator_levels_and_names_read_right(fixture: str) -> None:
    gold = _gold(fixture)
    forms = _extract(DATA / f"hrule_{fixture}.pdf")
    assert len(forms) == 1, fixture
    got = forms[0]
    levels = [(i.level1, i.level2, i.name) for i in got.indicators]
    assert levels == [(i.level1, i.level2, i.name) for i in gold.indicators], fixture
    assert got.indicators == gold.indicators, fixture
    assert got.model_dump() == gold.model_dump(), fixture


@pytest.mark.parametrize("fixture", FIXTURES)
def test_indicator_cells_hold_whole_printed_texts(fixture: str) -> None:
    """Below the indicator header every cell is one printed cell: a wrapped name whole, no
    一级 and 二级 labels read into one cell or their characters interleaved."""
    gold = _gold(fixture)
    printed = set(HEADERS)
    for ind in gold.indicators:
        printed |= {ind.level1 or "", ind.level2 or "", ind.name, ind.deviation_reason or ""}
        printed |= {ind.target_text or "", ind.actual_text or ""}
        printed |= {f"{ind.weight:g}", f"{ind.score:g}"}
    printed |= {f"{gold.total_weight:g}", f"{gold.total_score:g}"}
    grids = build_grids(open_document(DATA / f"hrule_{fixture}.pdf").pages)
    assert len(grids) == 1, fixture
    grid = grids[0]
    header = next(c for c in grid.cells if c.text == "一级指标")
    texts = [c.text for c in grid.cells if c.row >= header.row]
    assert [t for t in texts if t not in printed] == [], fixture
    for ind in gold.indicators:
        assert ind.name in texts, (fixture, ind.name)


@pytest.mark.parametrize("fixture", ["a_bottom", "a_topbottom", "b_bottom", "b_pagebreak"])
def test_merged_level_labels_span_their_group(fixture: str) -> None:
    """A 一级 / 二级 label spans the rows of its group: the rules under the group's inner rows
    do not cover its column."""
    gold = _gold(fixture)
    grid = build_grids(open_document(DATA / f"hrule_{fixture}.pdf").pages)[0]
    for level in ("level1", "level2"):
        sizes: dict[str, int] = {}
        for ind in gold.indicators:
            label = getattr(ind, level)
            sizes[label] = sizes.get(label, 0) + 1
        for label, size in sizes.items():
            cells = [c for c in grid.cells if c.text == label]
            assert cells, (fixture, label)
            # a group cut by the page break spans its rows on each page
            assert sum(c.rowspan for c in cells) == size, (fixture, label, size)


def test_table_across_a_page_break_is_one_grid() -> None:
    grids = build_grids(open_document(DATA / "hrule_b_pagebreak.pdf").pages)
    assert len(grids) == 1
    grid = grids[0]
    assert grid.pages == [1, 2]
    assert any(
        c.page == 2 and c.text in {i.name for i in _gold("b").indicators} for c in grid.cells
    )
