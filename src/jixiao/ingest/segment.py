"""Split a document into forms: where each starts, its pages, regions, grids and free text.

A PDF may hold one form or dozens back to back (部门决算 appendices); forms start mid-page and
span pages. A form starts at a title line (…项目支出绩效自评表, …绩效目标表 and the like) or, for
forms printed without a title, at a second 项目名称 header. The ordinary tables around them
(收入支出决算总表 …) start at their own titles, so that they never run on into a form. Every
segment is classified (classify.py): forms of every kind are returned, ordinary tables apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jixiao.ingest.classify import (
    TITLE_MAX_CHARS,
    classify_form,
    is_continued,
    is_form_title,
    is_table_title,
    not_extracted_reason,
    read_title,
)
from jixiao.ingest.model import (
    BBox,
    Cell,
    Document,
    FormRegion,
    Grid,
    Region,
    TextLine,
)

__all__ = ["TITLE_MAX_CHARS", "is_project_name_label", "is_title", "segment_document"]

_SPACE = re.compile(r"\s+")
_YEAR_LINE = re.compile(r"^[（(]?\d{4}年度?[)）]?$")
_PROJECT_NAME = re.compile(r"^项目名称[:：]?")
TITLE_LINE_GAP = 30.0  # points between two title lines printed as one title
# Page numbers and the like: "- 3 -", "第 3 页", "3/9".
_FURNITURE = re.compile(r"^[\s\-—–_第页共/\d.·()（）]*$")


def _plain(text: str) -> str:
    return _SPACE.sub("", text)


def is_title(text: str) -> bool:
    """A performance form's title: 项目支出绩效自评表, 绩效目标申报表, 部门整体支出绩效自评表…
    (OCR-tolerant; see classify.py)."""
    return is_form_title(text)


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
    table: bool = False  # started at an ordinary table's title (no 绩效 in it)
    items: list[_Item] = field(default_factory=list)

    def has_grid(self) -> bool:
        return any(it.grid is not None for it in self.items)


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


def _item_title(item: _Item) -> tuple[str, bool] | None:
    """The title an item prints, and whether it is an ordinary table's (not a form's)."""
    if item.grid is not None:
        cells = [c for c in item.cells if c.text]
        if len(cells) != 1:
            return None
        text = cells[0].text
    else:
        text = item.text
    if is_continued(text):
        return None  # "（续）": the table goes on
    if is_form_title(text):
        return text, False
    if is_table_title(text):
        return text, True
    return None


def segment_forms(document: Document, grids: list[Grid]) -> list[FormRegion]:
    """Forms of a document in order, each with its own grids (a grid holding two forms is split)
    and free lines, and its kind. Content before the first form belongs to no form; ordinary
    tables are left out (`segment_document` returns them too)."""
    return segment_document(document, grids)[0]


def segment_document(
    document: Document, grids: list[Grid]
) -> tuple[list[FormRegion], list[FormRegion]]:
    """(forms, ordinary tables) of a document in order. A form is a performance form of any
    kind ("other" when its kind cannot be told); an ordinary table (收入支出决算总表 …) is
    classified "other" and kept apart, for the page summary."""
    drafts: list[_Draft] = []
    for item in _items(document, grids):
        found = _item_title(item)
        current = drafts[-1] if drafts else None
        if found is not None:
            title, table = found
            # Consecutive title lines (a unit name line, then the title) make one title.
            if (
                current is not None
                and not current.has_name
                and _only_titles(current)
                and current.items[-1].page == item.page
                and item.bbox[1] - current.items[-1].bbox[3] < TITLE_LINE_GAP
            ):
                current.title = f"{current.title}{_plain(title)}"
                current.table = current.table and table
                current.items.append(item)
                continue
            drafts.append(_Draft(title=_plain(title), table=table, items=[item]))
            continue
        if _starts_name(item):
            # An ordinary table's rows already read: a 项目名称 after them starts a form.
            if current is None or current.has_name or (current.table and current.has_grid()):
                drafts.append(_Draft(has_name=True, items=[item]))
                continue
            current.has_name = True
        if current is not None:
            current.items.append(item)
    # A title with no table and no 项目名称 after it (a cover page "附件：项目支出绩效自评表", a
    # report's text, a table of contents) is no form; a whole-department title is kept, to be
    # reported.
    drafts = [
        d
        for d in drafts
        if d.has_name
        or d.has_grid()
        or (
            not d.table
            and read_title(d.title).scope == "department"
            and not _only_titles(d, furniture=True)
        )
    ]
    built = [_build(draft) for draft in drafts]
    forms = [f for f, is_form in built if is_form]
    tables = [f for f, is_form in built if not is_form]
    for i, form in enumerate(forms):
        form.index = i
    for i, other in enumerate(tables):
        other.index = i
    return forms, tables


def _only_titles(draft: _Draft, *, furniture: bool = False) -> bool:
    return all(
        it.grid is None
        and (
            _item_title(it) is not None
            or _YEAR_LINE.match(_plain(it.text))
            or (furniture and _FURNITURE.match(it.text))
        )
        for it in draft.items
    )


def _build(draft: _Draft) -> tuple[FormRegion, bool]:
    """The draft as a region (index set by the caller), and whether it is a form."""
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
    texts = [ln.text for ln in lines] + [c.text for g in grids for c in g.cells]
    found = classify_form(draft.title, texts)
    if not found.is_form and grids:
        # An ordinary table is where its title and rows are: free text after it (the 情况说明
        # pages that follow a 部门决算's tables) is no part of it.
        keep = {draft.items[0].page} | {p for g in grids for p in g.pages}
        page_boxes = {p: b for p, b in page_boxes.items() if p in keep}
    pages = sorted(page_boxes)
    region = FormRegion(
        index=0,
        kind=found.kind,
        title=draft.title,
        pages=pages,
        regions=[Region(p, (b[0], b[1], b[2], b[3])) for p, b in sorted(page_boxes.items())],
        grids=grids,
        lines=lines,
        line_pages=line_pages,
        reason=not_extracted_reason(found.kind, found.reason) if found.is_form else None,
        kind_reason=found.reason,
    )
    return region, found.is_form


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
