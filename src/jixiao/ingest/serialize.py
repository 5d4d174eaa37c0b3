"""A compact text of one form for the LLM, where every value sits beside its own labels.

Measured on the small local model: raw page text made it take numbers from the wrong columns;
one line per table row with each cell written `表头=值` made it right. So each table row becomes
one LayoutRow: `[c13]年初预算数=16,124.45 | [c14]全年预算数=9,838.67 | …`, the header of a
column taken from the nearest header row above; cells merged down from above (一级 / 二级
labels) and blank leading cells filled from above are repeated on every row as context, so that
any chunk of rows stands on its own. Free text lines become rows too (`[t0]…`).

Header detection is structural (a row of short label-like cells), not a list of form labels.
"""

from __future__ import annotations

import re

from jixiao.ingest.model import Cell, CellRef, FormRegion, Grid, LayoutRow, LayoutText

SEPARATOR = " | "
LABEL_MAX_CHARS = 16
_BRACKETED = re.compile(r"[(（][^)）]*[)）]")
_DIGIT = re.compile(r"\d")
_SENTENCE_END = re.compile(r"[。；;！!？?]$")


def is_label_like(text: str) -> bool:
    """Short text with no number outside brackets ("执行率(%)" and "产出指标(50分)" are labels,
    "16,124.45" and long sentences are not)."""
    text = text.strip()
    if not text or len(text) > LABEL_MAX_CHARS or _SENTENCE_END.search(text):
        return False
    return not _DIGIT.search(_BRACKETED.sub("", text))


def _rows(grid: Grid) -> dict[int, list[Cell]]:
    rows: dict[int, list[Cell]] = {}
    for cell in sorted(grid.cells, key=lambda c: (c.row, c.col)):
        rows.setdefault(cell.row, []).append(cell)
    return rows


def header_rows(grid: Grid) -> set[int]:
    """Rows whose own cells all look like labels: three or more of them, or two when the next
    row's cells are all values (a 2-column block like 预期目标 | 实际完成情况, not a key-value
    row like 项目名称 | …)."""
    rows: set[int] = set()
    by_row = _rows(grid)
    for row in range(grid.n_rows):
        texts = [c.text for c in by_row.get(row, []) if c.text.strip()]
        if len(texts) < 2 or not all(is_label_like(t) for t in texts):
            continue
        if len(texts) >= 3:
            rows.add(row)
            continue
        below = [c.text for c in by_row.get(row + 1, []) if c.text.strip()]
        if below and not any(is_label_like(t) for t in below):
            rows.add(row)
    return rows


def _aligned(cells: list[Cell], header: list[Cell]) -> bool:
    """Every cell starts and ends on a column boundary of the header row."""
    bounds = {h.col for h in header} | {h.col + h.colspan for h in header}
    return all(c.col in bounds and c.col + c.colspan in bounds for c in cells if c.text.strip())


def _overlap(a: Cell, b: Cell) -> bool:
    return a.col < b.col + b.colspan and b.col < a.col + a.colspan


def _cell_text(cell: Cell, header: Cell | None) -> str:
    if header is not None and header.text and header.text != cell.text:
        return f"[{cell.id}]{header.text}={cell.text}"
    return f"[{cell.id}]{cell.text}"


def _grid_rows(grid: Grid) -> list[tuple[int, float, LayoutRow]]:
    """(page, y, row) for every table row that has text."""
    heads = header_rows(grid)
    out: list[tuple[int, float, LayoutRow]] = []
    header: list[Cell] = []
    carried: dict[str, Cell] = {}  # header cell id -> last value under it (fill-down)
    by_row = _rows(grid)
    tall = [c for c in grid.cells if c.rowspan > 1]
    for row in range(grid.n_rows):
        own = by_row.get(row, [])
        if not own:
            continue
        page = own[0].page
        y = min(c.bbox[1] for c in own)
        spanning = sorted(
            (c for c in tall if c.row < row < c.row + c.rowspan),
            key=lambda c: c.col,
        )
        if row in heads:
            header = [c for c in own if c.text.strip()]
            carried = {}
            shown = [c for c in spanning if c.text] + header
            out.append(
                (
                    page,
                    y,
                    LayoutRow(
                        SEPARATOR.join(_cell_text(c, None) for c in shown), [c.id for c in shown]
                    ),
                )
            )
            continue
        if header and grid.ruled and not _aligned(own, header):
            # A row drawn on other column lines than the header's: the header's block ended.
            header, carried = [], {}
        parts: list[str] = []
        ids: list[str] = []
        # Context: cells merged down from above, and blank leading columns filled from above.
        first_value_col = min((c.col for c in own if c.text.strip()), default=grid.n_cols)
        # Only labels are repeated as context: long merged text is shown once, on its own row.
        context: list[Cell] = [
            c for c in spanning if c.text and c.col < first_value_col and is_label_like(c.text)
        ]
        taken = {c.id for c in context}
        for h in header:
            if h.col >= first_value_col:
                break
            prev = carried.get(h.id)
            if (
                prev is not None
                and prev.id not in taken
                and not any(_overlap(prev, c) for c in context)
            ):
                context.append(prev)
                taken.add(prev.id)
        for c in sorted(context, key=lambda c: c.col):
            parts.append(_cell_text(c, _header_of(c, header)))
            ids.append(c.id)
        for c in own:
            if not c.text.strip():
                continue
            above = _header_of(c, header)
            parts.append(_cell_text(c, above))
            ids.append(c.id)
            if above is not None:
                carried[above.id] = c
        for c in spanning:
            short = len(c.text) <= LABEL_MAX_CHARS
            if c.text and short and c.col >= first_value_col and c.id not in taken:
                parts.append(_cell_text(c, _header_of(c, header)))
                ids.append(c.id)
        if parts:
            out.append((page, y, LayoutRow(SEPARATOR.join(parts), ids)))
    return out


def _header_of(cell: Cell, header: list[Cell]) -> Cell | None:
    """The header cell above this cell's columns. A cell under two header cells (columns of a
    borderless table are approximate) takes the one nearest its centre; a cell under three or
    more (a label spanning the row, e.g. 总分) has none."""
    over = [h for h in header if _overlap(h, cell) and h.row + h.rowspan <= cell.row]
    if len(over) == 1:
        return over[0]
    if len(over) == 2:
        centre = (cell.bbox[0] + cell.bbox[2]) / 2
        return min(over, key=lambda h: abs((h.bbox[0] + h.bbox[2]) / 2 - centre))
    return None


def serialize_form(form: FormRegion) -> LayoutText:
    """One LayoutRow per table row and per free line, in reading order; every id in the text
    maps to its page, bbox and text in `cells`."""
    layout = LayoutText()
    placed: list[tuple[int, float, int, LayoutRow]] = []
    for n, (line, page) in enumerate(zip(form.lines, form.line_pages, strict=True)):
        tid = f"t{n}"
        layout.cells[tid] = CellRef(page, line.bbox, line.text)
        placed.append((page, line.bbox[1], 0, LayoutRow(f"[{tid}]{line.text}", [tid])))
    for grid in form.grids:
        for cell in grid.cells:
            layout.cells[cell.id] = CellRef(cell.page, cell.bbox, cell.text)
        for page, y, row in _grid_rows(grid):
            placed.append((page, y, 1, row))
    placed.sort(key=lambda p: (p[0], p[1], p[2]))
    layout.rows = [row for *_, row in placed]
    return layout
