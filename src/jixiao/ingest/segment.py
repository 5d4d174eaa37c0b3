"""Split a document into forms: where each starts, its pages, regions, grids and free text.

A PDF may hold one form or dozens back to back (部门决算 appendices); forms start mid-page and
span pages. A form starts at a title line (…项目支出绩效自评表 and the like) or, for forms printed
without a title, at a second 项目名称 header. Whole-department forms and pre-2020 score sheets are
found and reported as such, not read as project forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jixiao.ingest.model import (
    BBox,
    Cell,
    Document,
    FormKind,
    FormRegion,
    Grid,
    Region,
    TextLine,
)

_SPACE = re.compile(r"\s+")
# Titles: 财政项目支出绩效自评表, 部门预算项目支出绩效自评表, 项目支出绩效自评价表,
# 部门整体支出绩效自评表…
_TITLE = re.compile(r"(支出)?绩效自评(价)?(表|情况表)$")
_YEAR_LINE = re.compile(r"^[（(]?\d{4}年度?[)）]?$")
_DEPARTMENT_WHOLE = re.compile(r"部门整体|整体支出")
_PROJECT_NAME = re.compile(r"^项目名称[:：]?")
# Pre-2020 score sheets: indicator trees under 部门决策 / 项目管理 / 项目绩效.
_OLD_SHEET_LABELS = ("部门决策", "项目管理", "项目绩效")
TITLE_MAX_CHARS = 40
TITLE_LINE_GAP = 30.0  # points between two title lines printed as one title
# Page numbers and the like: "- 3 -", "第 3 页", "3/9".
_FURNITURE = re.compile(r"^[\s\-—–_第页共/\d.·()（）]*$")


def _plain(text: str) -> str:
    return _SPACE.sub("", text)


def is_title(text: str) -> bool:
    plain = _plain(text)
    return len(plain) <= TITLE_MAX_CHARS and bool(_TITLE.search(plain))


def is_project_name_label(text: str) -> bool:
    return bool(_PROJECT_NAME.match(_plain(text)))


@dataclass
class _Item:
    """A free line or a grid row, placed in reading order."""

    page: int
    y: float
    bbox: BBox
    text: str
    line: TextLine | None = None
    grid: Grid | None = None
    row: int = -1
    cells: list[Cell] = field(default_factory=list)  # the row's own cells, by column


@dataclass
class _Draft:
    title: str = ""
    has_name: bool = False
    items: list[_Item] = field(default_factory=list)


def _items(document: Document, grids: list[Grid]) -> list[_Item]:
    items: list[_Item] = []
    boxes: dict[int, list[BBox]] = {}
    for grid in grids:
        for number, box in grid.page_bboxes.items():
            boxes.setdefault(number, []).append(box)
        rows: dict[int, list[Cell]] = {}
        for cell in grid.cells:
            rows.setdefault(cell.row, []).append(cell)
        for row, cells in rows.items():
            cells.sort(key=lambda c: c.col)
            row_page = cells[0].page
            bbox = (
                min(c.bbox[0] for c in cells),
                min(c.bbox[1] for c in cells),
                max(c.bbox[2] for c in cells),
                max(c.bbox[3] for c in cells),
            )
            text = " ".join(c.text for c in cells if c.text)
            items.append(_Item(row_page, bbox[1], bbox, text, grid=grid, row=row, cells=cells))
    for page in document.pages:
        for line in page.lines:
            cx, cy = (line.bbox[0] + line.bbox[2]) / 2, (line.bbox[1] + line.bbox[3]) / 2
            if any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes.get(page.number, [])):
                continue
            items.append(_Item(page.number, line.bbox[1], line.bbox, line.text, line=line))
    items.sort(key=lambda it: (it.page, it.y, it.bbox[0]))
    return items


def _starts_name(item: _Item) -> bool:
    if item.grid is not None:
        first = item.cells
        return bool(first) and is_project_name_label(first[0].text)
    return is_project_name_label(item.text)


def _item_title(item: _Item) -> str | None:
    if item.grid is not None:
        cells = [c for c in item.cells if c.text]
        if len(cells) == 1 and is_title(cells[0].text):
            return cells[0].text
        return None
    return item.text if is_title(item.text) else None


def segment_forms(document: Document, grids: list[Grid]) -> list[FormRegion]:
    """Forms of a document in order, each with its own grids (a grid holding two forms is split)
    and free lines. Content before the first form belongs to no form."""
    drafts: list[_Draft] = []
    for item in _items(document, grids):
        title = _item_title(item)
        current = drafts[-1] if drafts else None
        if title is not None:
            # Consecutive title lines (a unit name line, then the title) make one title.
            if (
                current is not None
                and not current.has_name
                and _only_titles(current)
                and current.items[-1].page == item.page
                and item.bbox[1] - current.items[-1].bbox[3] < TITLE_LINE_GAP
            ):
                current.title = f"{current.title}{_plain(title)}"
                current.items.append(item)
                continue
            drafts.append(_Draft(title=_plain(title), items=[item]))
            continue
        if _starts_name(item):
            if current is None or current.has_name:
                drafts.append(_Draft(has_name=True, items=[item]))
                continue
            current.has_name = True
        if current is not None:
            current.items.append(item)
    # A title with no table and no 项目名称 after it (a cover page "附件：项目支出绩效自评表", a
    # report's text) is no form; a whole-department title is kept, to be reported.
    drafts = [
        d
        for d in drafts
        if d.has_name
        or any(it.grid is not None for it in d.items)
        or (_DEPARTMENT_WHOLE.search(d.title) and not _only_titles(d, furniture=True))
    ]
    return [_build(i, draft) for i, draft in enumerate(drafts)]


def _only_titles(draft: _Draft, *, furniture: bool = False) -> bool:
    return all(
        it.grid is None
        and (
            is_title(it.text)
            or _YEAR_LINE.match(_plain(it.text))
            or (furniture and _FURNITURE.match(it.text))
        )
        for it in draft.items
    )


def _build(index: int, draft: _Draft) -> FormRegion:
    lines: list[TextLine] = []
    line_pages: list[int] = []
    rows_of: dict[int, tuple[Grid, list[int]]] = {}
    order: list[int] = []
    page_boxes: dict[int, list[float]] = {}
    for item in draft.items:
        box = page_boxes.setdefault(item.page, [*item.bbox])
        box[0], box[1] = min(box[0], item.bbox[0]), min(box[1], item.bbox[1])
        box[2], box[3] = max(box[2], item.bbox[2]), max(box[3], item.bbox[3])
        if item.grid is None:
            assert item.line is not None
            lines.append(item.line)
            line_pages.append(item.page)
        else:
            key = id(item.grid)
            if key not in rows_of:
                rows_of[key] = (item.grid, [])
                order.append(key)
            rows_of[key][1].append(item.row)
    grids: list[Grid] = []
    for key in order:
        grid, rows = rows_of[key]
        grids.append(_sub_grid(grid, set(rows), f"g{len(grids)}"))
    # Cell ids: short and stable within the form, in reading order.
    n = 0
    for grid in grids:
        for cell in grid.cells:
            cell.id = f"c{n}"
            n += 1
    texts = [_plain(ln.text) for ln in lines] + [_plain(c.text) for g in grids for c in g.cells]
    kind, reason = _kind(draft.title, texts)
    pages = sorted(page_boxes)
    return FormRegion(
        index=index,
        kind=kind,
        title=draft.title,
        pages=pages,
        regions=[Region(p, (b[0], b[1], b[2], b[3])) for p, b in sorted(page_boxes.items())],
        grids=grids,
        lines=lines,
        line_pages=line_pages,
        reason=reason,
    )


def _kind(title: str, texts: list[str]) -> tuple[FormKind, str | None]:
    if _DEPARTMENT_WHOLE.search(title):
        return (
            "department_whole",
            "部门整体支出绩效自评表 (whole-department form) is not supported yet",
        )
    present = {label for label in _OLD_SHEET_LABELS if any(t.startswith(label) for t in texts)}
    if len(present) == len(_OLD_SHEET_LABELS):
        return (
            "unsupported",
            "pre-2020 score sheet (部门决策 / 项目管理 / 项目绩效) is not supported",
        )
    return "project", None


def _sub_grid(grid: Grid, rows: set[int], grid_id: str) -> Grid:
    """The part of a grid made of the given rows (all of it when it holds one form)."""
    lo, hi = min(rows), max(rows)
    cells: list[Cell] = []
    for cell in sorted(grid.cells, key=lambda c: (c.row, c.col)):
        if not lo <= cell.row <= hi:
            continue
        span = min(cell.rowspan, hi - cell.row + 1)
        cells.append(
            Cell(
                id=cell.id,
                row=cell.row - lo,
                col=cell.col,
                rowspan=span,
                colspan=cell.colspan,
                page=cell.page,
                bbox=cell.bbox,
                text=cell.text,
            )
        )
    pages = sorted({c.page for c in cells})
    return Grid(
        id=grid_id,
        pages=pages,
        n_rows=hi - lo + 1,
        n_cols=grid.n_cols,
        cells=cells,
        ruled=grid.ruled,
        col_bounds=list(grid.col_bounds),
        page_bboxes={
            p: (
                min(c.bbox[0] for c in cells if c.page == p),
                min(c.bbox[1] for c in cells if c.page == p),
                max(c.bbox[2] for c in cells if c.page == p),
                max(c.bbox[3] for c in cells if c.page == p),
            )
            for p in pages
        },
    )
