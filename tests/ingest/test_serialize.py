from __future__ import annotations

import re
from pathlib import Path

from jixiao.ingest import ingest_pdf, serialize_form
from jixiao.ingest.serialize import header_rows, is_label_like


def _layout(path: Path, index: int = 0):
    return serialize_form(ingest_pdf(path).forms[index])


def _row(text: str, needle: str) -> str:
    rows = [r for r in text.splitlines() if needle in r]
    assert rows, f"no row with {needle!r}"
    return rows[0]


def test_label_like() -> None:
    assert is_label_like("全年预算数") and is_label_like("执行率(%)")
    assert is_label_like("产出指标(50分)")
    assert not is_label_like("16,124.45") and not is_label_like("≥25.00(项)")
    assert not is_label_like("打造智慧好办版推出企业和个人双高频依申请政务服务事项")


def test_values_sit_next_to_their_column_headers(pdfs: dict[str, Path]) -> None:
    layout = _layout(pdfs["ruled"])
    row = _row(layout.text, "年度资金总额")
    assert re.search(r"\[c\d+\]年初预算数=16,124\.45", row)
    assert re.search(r"\[c\d+\]全年预算数=9,838\.67", row)
    assert re.search(r"\[c\d+\]全年执行数=9,702\.07", row)
    assert re.search(r"\[c\d+\]执行率\(%\)=98\.61", row)
    assert re.search(r"\[c\d+\]得分=9\.86", row)


def test_indicator_rows_carry_their_merged_labels(pdfs: dict[str, Path]) -> None:
    layout = _layout(pdfs["ruled"])
    row = _row(layout.text, "产出数量第5项")
    assert "一级指标=产出指标" in row and "二级指标=质量指标" in row
    assert "年度指标值=≥25.00(项)" in row and "实际完成值=104.00(项)" in row


def test_continuation_page_rows_inherit_context(pdfs: dict[str, Path]) -> None:
    for name in ("cross_repeat", "cross_plain"):
        layout = _layout(pdfs[name])
        page2 = [r for r in layout.rows if any(layout.cells[i].page == 2 for i in r.cell_ids)]
        first = next(r for r in page2 if "产出数量第" in r.text)
        assert "一级指标=产出指标" in first.text, name
        assert "二级指标=" in first.text, name


def test_every_id_maps_to_page_bbox_and_text(pdfs: dict[str, Path]) -> None:
    layout = _layout(pdfs["cross_repeat"])
    cited = {i for r in layout.rows for i in r.cell_ids}
    assert cited and cited <= set(layout.cells)
    for row in layout.rows:
        for cid in re.findall(r"\[([ct]\d+)\]", row.text):
            ref = layout.cells[cid]
            assert ref.page in (1, 2) and ref.bbox[2] > ref.bbox[0]
            assert ref.text and ref.text in row.text
    assert layout.text.splitlines()[0] == "[t0]财政项目支出绩效自评表"


def test_header_rows_are_structural(pdfs: dict[str, Path]) -> None:
    form = ingest_pdf(pdfs["ruled"]).forms[0]
    grid = form.grids[0]
    heads = header_rows(grid)
    texts = [[c.text for c in grid.row_cells(r)] for r in sorted(heads)]
    assert any("三级指标" in t for t in texts)
    assert not any("16,124.45" in t for t in texts)
