from __future__ import annotations

from pathlib import Path

from jixiao.ingest.grid import build_grids, join_text
from jixiao.ingest.model import Grid
from jixiao.ingest.pdf import open_document


def _grids(path: Path) -> list[Grid]:
    return build_grids(open_document(path).pages)


def _find(grid: Grid, text: str):
    matches = [c for c in grid.cells if c.text == text]
    assert matches, f"no cell {text!r}"
    return matches[0]


def test_join_text_follows_the_contract() -> None:
    assert join_text(["部分高频办事服务由于", "国家部委"]) == "部分高频办事服务由于国家部委"
    assert join_text(["≥25.00", "(项)"]) == "≥25.00(项)"
    assert join_text(["GB/T", "2023"]) == "GB/T 2023"
    assert join_text(["完成值", "100"]) == "完成值100"


def test_ruled_grid_has_merged_cells_and_joined_wrapped_text(pdfs: dict[str, Path]) -> None:
    grids = _grids(pdfs["ruled"])
    assert len(grids) == 1
    grid = grids[0]
    assert grid.ruled and grid.pages == [1]
    # 项目资金（万元） is merged over the header row and the four money rows.
    money = _find(grid, "项目资金（万元）")
    assert money.rowspan == 5
    # 产出指标 is merged over six indicator rows; 数量指标 over three.
    assert _find(grid, "产出指标").rowspan == 6
    assert _find(grid, "数量指标").rowspan == 3
    # The project name spans the rest of its row.
    name = _find(grid, "“一网通办”运营服务")
    assert name.col + name.colspan == grid.n_cols
    # Wrapped CJK text joined with no space.
    assert _find(grid, "部分高频办事服务由于国家部委将服务入口回收，导致该部分服务缺失")
    goal = [c for c in grid.cells if c.text.startswith("打造“智慧好办”2.0版")]
    assert goal and goal[0].text.endswith("实现智能预填比例不低于70%")
    # Values stay in their own cells, in the row of their label.
    total = _find(grid, "年度资金总额")
    row = [c.text for c in grid.row_cells(total.row)]
    assert row == ["年度资金总额", "16,124.45", "9,838.67", "9,702.07", "10.00", "98.61", "9.86"]
    # Ids are unique and short.
    ids = [c.id for c in grid.cells]
    assert len(set(ids)) == len(ids) and all(i.startswith("c") for i in ids)


def test_table_across_pages_is_one_grid_without_repeated_header(pdfs: dict[str, Path]) -> None:
    for name in ("cross_repeat", "cross_plain"):
        grids = _grids(pdfs[name])
        assert len(grids) == 1, name
        grid = grids[0]
        assert grid.pages == [1, 2]
        headers = [c for c in grid.cells if c.text == "三级指标"]
        assert len(headers) == 1, name  # the repeated header row was dropped
        names = [c.text for c in grid.cells if c.text.startswith("完成运营服务事项产出数量第")]
        assert names == [f"完成运营服务事项产出数量第{i}项" for i in range(1, 31)]
        on_page_2 = [c for c in grid.cells if c.page == 2]
        assert on_page_2 and min(c.row for c in on_page_2) > max(
            c.row for c in grid.cells if c.page == 1
        )
        # The first row on page 2 has a blank 一级 cell: it stays blank (the extractor inherits).
        first = min(c.row for c in on_page_2)
        cells = grid.row_cells(first)
        assert cells[0].text == "" and cells[0].col == 0


def test_two_forms_on_one_page_are_two_grids_or_split_later(pdfs: dict[str, Path]) -> None:
    grids = _grids(pdfs["two_on_page"])
    names = [c.text for g in grids for c in g.cells if c.text in ("第一个项目", "第二个项目")]
    assert names == ["第一个项目", "第二个项目"]


def test_borderless_table_columns_from_alignment(pdfs: dict[str, Path]) -> None:
    grids = _grids(pdfs["borderless"])
    assert grids and not grids[0].ruled
    grid = grids[0]
    total = _find(grid, "年度资金总额")
    row = [c.text for c in grid.row_cells(total.row)]
    assert row[-6:] == ["16,124.45", "9,838.67", "9,702.07", "10.00", "98.61", "9.86"]
    budget = _find(grid, "全年预算数")
    value = _find(grid, "9,838.67")
    assert budget.col <= value.col < budget.col + budget.colspan
    assert _find(grid, "部分高频办事服务由于国家部委将服务入口回收，导致该部分服务缺失")
