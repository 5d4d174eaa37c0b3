from __future__ import annotations

from pathlib import Path

from jixiao.ingest.grid import build_grids, join_text
from jixiao.ingest.model import Cell, Grid, PageLayout, TextLine
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


# Borderless tables from hand-placed text lines, in a geometry of their own (10-point lines,
# columns where our renderer puts none), so the rules are held to structure, not coordinates.


def _line(text: str, x: float, y: float) -> TextLine:
    return TextLine(text=text, bbox=(x, y, x + 10.0 * len(text), y + 10.0))


def _page(lines: list[TextLine]) -> PageLayout:
    return PageLayout(number=1, width=600, height=800, rotation=0, kind="text", lines=lines)


def _cell(grid: Grid, text: str) -> Cell:
    return next(c for c in grid.cells if c.text == text)


def test_borderless_rows_bridged_by_a_wrapped_cell_are_split() -> None:
    """A long reason wrapped onto three lines reaches into the next row's baseline band; the
    next row still starts where the name and number columns start new text."""
    lines = [
        _line("三级指标", 50, 80),
        _line("指标值", 140, 80),
        _line("分值", 230, 80),
        _line("得分", 280, 80),
        _line("偏差原因", 330, 80),
        _line("驻场人数", 50, 100),
        _line("项目组人员离职等原", 330, 100),
        _line("因，驻场团队存在不", 330, 110.5),
        _line("稳定情况。", 330, 121),
        _line("≥6.00", 140, 100),
        _line("(人)", 140, 110.5),
        _line("5.00", 230, 100),
        _line("5.00", 280, 100),
        _line("应急演练", 50, 118),
        _line("8.00", 230, 118),
        _line("7.50", 280, 118),
    ]
    (grid,) = build_grids([_page(lines)])
    first, second = _cell(grid, "驻场人数"), _cell(grid, "应急演练")
    assert second.row == first.row + 1
    assert _cell(grid, "8.00").row == second.row and _cell(grid, "7.50").row == second.row
    target = next(c for c in grid.cells if c.text.startswith("≥6.00"))
    assert target.text.endswith("(人)") and target.row == first.row
    reason = next(c for c in grid.cells if c.text.startswith("项目组"))
    assert reason.row == first.row and reason.text.endswith("稳定情况。")


def test_borderless_merged_labels_span_their_groups() -> None:
    """一级 labels centred on their groups: one on the middle of three equal rows (centred on
    that row too), one between two rows; 二级 labels never share a baseline with a 一级 one,
    so their column is told apart by the stacks of text, not by a gap on one line."""
    lines = [
        _line("一级指标", 0, 80),
        _line("二级指标", 60, 80),
        _line("三级指标", 120, 80),
        _line("分值", 220, 80),
        _line("产出指标", 0, 120),
        _line("数量指标", 60, 100),
        _line("甲项", 120, 100),
        _line("乙项", 120, 120),
        _line("丙项", 120, 140),
        _line("效益指标", 0, 170),
        _line("社会效益", 60, 160),
        _line("丁项", 120, 160),
        _line("戊项", 120, 180),
    ]
    for k, y in enumerate((100, 120, 140, 160, 180)):
        lines.append(_line(f"{k + 1}.00", 220, y))
    (grid,) = build_grids([_page(lines)])
    output, benefit = _cell(grid, "产出指标"), _cell(grid, "效益指标")
    first = _cell(grid, "甲项").row
    assert (output.row, output.rowspan) == (first, 3)
    assert (benefit.row, benefit.rowspan) == (first + 3, 2)
    assert _cell(grid, "数量指标").col > output.col
    assert _cell(grid, "社会效益").col == _cell(grid, "数量指标").col


def test_strokes_crossing_horizontal_rules_do_not_make_a_ruled_table() -> None:
    """A table drawn with full-width rules only, and a seal printed black over it (a bitonal
    scan): the seal's strokes are short vertical 'rulings' between two rules. Without column
    lines at both ends of its rules the table is not a ruled one; with them it is."""
    from jixiao.ingest.grid import _framed
    from jixiao.ingest.model import Ruling

    rules = [Ruling(27, y, 566, y) for y in (73, 91, 110, 128)]
    seal = [Ruling(114, 75, 114, 90), Ruling(185, 73, 185, 91), Ruling(133, 92, 133, 109)]
    assert not _framed(rules + seal)
    frame = [Ruling(27, 73, 27, 128), Ruling(566, 73, 566, 128)]
    assert _framed(rules + seal + frame)
    assert not _framed(rules + seal + frame[:1])  # one side open
