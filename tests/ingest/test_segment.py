from __future__ import annotations

from pathlib import Path

import pytest

from jixiao.ingest import ingest_pdf
from jixiao.ingest.model import Document, PageLayout, TextLine
from jixiao.ingest.ocr import OcrOptions
from jixiao.ingest.segment import is_title, segment_forms


@pytest.mark.parametrize(
    "name", ["ruled", "cross_repeat", "cross_plain", "two_on_page", "bundle", "borderless"]
)
def test_forms_and_page_ranges(
    pdfs: dict[str, Path], ranges: dict[str, list[tuple[int, int]]], name: str
) -> None:
    result = ingest_pdf(pdfs[name])
    found = [(f.pages[0], f.pages[-1]) for f in result.forms]
    assert found == ranges[name]
    assert all(f.kind == "project" for f in result.forms)


def test_each_form_keeps_only_its_own_cells(pdfs: dict[str, Path]) -> None:
    result = ingest_pdf(pdfs["two_on_page"])
    first, second = result.forms
    text1 = {c.text for g in first.grids for c in g.cells}
    text2 = {c.text for g in second.grids for c in g.cells}
    assert "第一个项目" in text1 and "第一个项目" not in text2
    assert "第二个项目" in text2 and "第二个项目" not in text1
    # Ids restart per form and are unique within it.
    ids = [c.id for g in second.grids for c in g.cells]
    assert ids[0] == "c0" and len(set(ids)) == len(ids)
    assert first.title == "财政项目支出绩效自评表"
    assert [ln.text for ln in second.lines][:2] == ["财政项目支出绩效自评表", "（2023年度）"]


def test_bundle_forms_start_mid_page(pdfs: dict[str, Path]) -> None:
    result = ingest_pdf(pdfs["bundle"])
    assert len(result.forms) == 6
    names = [
        next(
            c.text
            for c in f.grids[0].cells
            if c.text.startswith("项目")
            and c.text != "项目名称"
            and not c.text.startswith("项目资金")
        )
        for f in result.forms
    ]
    assert names == [f"项目{i}" for i in range(6)]
    starts = [r.bbox[1] for f in result.forms for r in f.regions[:1]]
    assert any(y > 200 for y in starts)  # at least one form starts mid-page


def test_title_patterns() -> None:
    assert is_title("财政项目支出绩效自评表")
    assert is_title("部门预算项目支出绩效自评表")
    assert is_title("项目支出绩效自评表 ")
    assert not is_title("项目名称")
    assert not is_title(
        "关于开展2023年度项目支出绩效自评工作的通知说明文字很长很长很长很长很长很长很长很长很长"
    )


def _doc(texts: list[str]) -> Document:
    lines = [TextLine(t, (50.0, 50.0 + 20 * i, 300.0, 62.0 + 20 * i)) for i, t in enumerate(texts)]
    page = PageLayout(number=1, width=595, height=842, rotation=0, kind="text", lines=lines)
    return Document(path="x.pdf", sha256="0" * 64, page_count=1, pages=[page])


def test_department_whole_and_old_score_sheets_are_reported() -> None:
    whole = segment_forms(_doc(["部门整体支出绩效自评表", "部门名称", "年度主要任务"]), [])
    assert [f.kind for f in whole] == ["department"] and whole[0].reason
    old = segment_forms(
        _doc(["项目支出绩效自评表", "项目名称", "部门决策", "项目管理", "项目绩效"]), []
    )
    assert [f.kind for f in old] == ["other"] and "2020" in (old[0].reason or "")


def test_forms_without_title_start_at_project_name() -> None:
    forms = segment_forms(_doc(["项目名称：甲", "金额 1", "项目名称：乙", "金额 2"]), [])
    assert [[ln.text for ln in f.lines] for f in forms] == [
        ["项目名称：甲", "金额 1"],
        ["项目名称：乙", "金额 2"],
    ]


def test_non_form_pages_are_warnings(pdfs: dict[str, Path]) -> None:
    result = ingest_pdf(pdfs["no_form"])
    assert result.forms == []
    assert any("no form content" in w for w in result.warnings)
    # With OCR off, an image-only page is reported, not read (ocr.py reads it when on).
    scan = ingest_pdf(pdfs["image_only"], ocr=OcrOptions(enabled=False))
    assert scan.forms == [] and any("needs OCR" in w for w in scan.warnings)
