"""Shared drawing for the corpus renderers: fonts, text wrapping, page flow and ruled tables.

Everything is drawn with PyMuPDF primitives and the built-in CJK font (Droid Sans Fallback),
embedded and subset, so the text layer maps back to the exact Unicode text. Tables are drawn
row by row with our own wrapping (glyph widths measured with the font), rows grow with their
tallest cell, merged cells span rows, and rows move to the next page when they don't fit.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pymupdf

Align = Literal["left", "center", "right"]
VAlign = Literal["top", "middle"]

A4 = (595.28, 841.89)

_FONT: pymupdf.Font | None = None


def cjk_font() -> pymupdf.Font:
    """The built-in CJK font; loaded once (it is a 3.5 MB buffer)."""
    global _FONT
    if _FONT is None:
        _FONT = pymupdf.Font("cjk")
    return _FONT


@functools.cache
def _advance(char: str) -> float:
    """Advance width of one character at 1 pt (measuring whole strings through PyMuPDF is
    the renderer's hot spot; per-character widths are cached)."""
    return float(cjk_font().text_length(char, fontsize=1.0))


def text_width(text: str, size: float) -> float:
    return size * sum(_advance(char) for char in text)


# A run of Latin letters, digits and number punctuation is kept on one line when it fits,
# so "16,124.45" or "GB/T" are not cut in the middle like CJK text may be.
_TOKEN = re.compile(r"[A-Za-z0-9.,%:+\-/()]+|\s+|.", re.S)


def wrap_text(text: str, width: float, size: float) -> list[str]:
    """Greedy wrap by measured glyph widths; CJK breaks anywhere, Latin runs stay whole."""
    lines: list[str] = []
    for para in text.split("\n"):
        current = ""
        for token in _TOKEN.findall(para):
            if text_width(current + token, size) <= width:
                current += token
                continue
            if token.isspace():
                # a break at a space: the space is dropped (the line break stands for it)
                lines.append(current)
                current = ""
                continue
            if current and text_width(token, size) <= width:
                lines.append(current)
                current = token
                continue
            for char in token:  # CJK char, or a Latin run too long for one line
                if current and text_width(current + char, size) > width:
                    lines.append(current)
                    current = ""
                current += char
        lines.append(current)
    # drop empty lines produced by leading breaks, keep at least one line
    lines = [line.rstrip() for line in lines]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines or [""]


@dataclass(frozen=True)
class Style:
    """Geometry and type of one rendered document; varied by the seed."""

    page_width: float = A4[0]
    page_height: float = A4[1]
    margin_left: float = 54.0
    margin_right: float = 54.0
    margin_top: float = 60.0
    margin_bottom: float = 56.0
    font_size: float = 9.0
    title_size: float = 16.0
    line_factor: float = 1.3
    pad_x: float = 3.0
    pad_y: float = 3.0
    ruled: bool = True
    line_width: float = 0.6
    gray: float = 0.0

    @property
    def line_height(self) -> float:
        return self.font_size * self.line_factor

    @property
    def content_width(self) -> float:
        return self.page_width - self.margin_left - self.margin_right


def seeded_style(
    rng: random.Random,
    *,
    landscape: bool = False,
    ruled: bool = True,
    font_range: tuple[float, float] = (8.0, 10.5),
    pad_range: tuple[float, float] = (2.0, 4.5),
) -> Style:
    """A style drawn from the seed so that the corpus has no single exact geometry."""
    width, height = (A4[1], A4[0]) if landscape else A4
    size = round(rng.uniform(*font_range) * 2) / 2
    return Style(
        page_width=width,
        page_height=height,
        margin_left=rng.uniform(40, 72),
        margin_right=rng.uniform(40, 72),
        margin_top=rng.uniform(45, 75),
        margin_bottom=rng.uniform(45, 70),
        font_size=size,
        title_size=rng.choice([15.0, 16.0, 18.0, 20.0]),
        line_factor=rng.uniform(1.2, 1.45),
        pad_x=rng.uniform(*pad_range),
        pad_y=rng.uniform(*pad_range),
        ruled=ruled,
        line_width=rng.choice([0.5, 0.6, 0.75, 1.0]),
    )


def jitter_widths(rng: random.Random, weights: list[float], total: float) -> list[float]:
    """Column widths proportional to `weights`, each moved by up to ±15 %, summing to `total`."""
    moved = [w * rng.uniform(0.85, 1.15) for w in weights]
    scale = total / sum(moved)
    return [w * scale for w in moved]


# ---------------------------------------------------------------- number formats as printed


def fmt_money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def fmt_num(value: float | None, *, null: str = "-") -> str:
    return null if value is None else f"{value:.2f}"


def fmt_plain(value: float | None, *, null: str = "") -> str:
    """100.0 -> '100', 90.2 -> '90.2' (how totals are often printed)."""
    if value is None:
        return null
    return f"{value:.2f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------- page flow


class Flow:
    """Pages of one output document and a vertical cursor; text and lines are buffered per page
    and written when the document is finished (lines first, text on top)."""

    def __init__(self, doc: pymupdf.Document, style: Style):
        self.doc = doc
        self.style = style
        self.page: pymupdf.Page | None = None
        self.y = 0.0
        self._writers: dict[int, pymupdf.TextWriter] = {}
        # rulings per page, drawn at finish(): Page objects don't outlive new_page() calls
        self._rules: dict[int, list[tuple[float, float, float, float, bool]]] = {}
        self.on_new_page: Callable[[Flow], None] | None = None
        self.footer: str | None = None
        """Page-number pattern such as "- {n} -", drawn on every page at finish()."""

    # pages -----------------------------------------------------------------
    @property
    def page_number(self) -> int:
        """1-based number of the current page (0 before the first)."""
        return 0 if self.page is None else self.page.number + 1

    @property
    def top(self) -> float:
        return self.style.margin_top

    @property
    def bottom(self) -> float:
        return self.style.page_height - self.style.margin_bottom

    def new_page(self) -> None:
        self.page = self.doc.new_page(width=self.style.page_width, height=self.style.page_height)
        self.y = self.top
        if self.on_new_page is not None:
            self.on_new_page(self)

    def current(self) -> pymupdf.Page:
        if self.page is None:
            self.new_page()
        assert self.page is not None
        return self.page

    def room(self) -> float:
        return self.bottom - self.y if self.page is not None else 0.0

    def at_top(self) -> bool:
        return self.page is None or self.y <= self.top + 0.5

    def ensure(self, height: float) -> None:
        """Start a new page unless `height` still fits on this one."""
        if self.page is None or (self.y + height > self.bottom and not self.at_top()):
            self.new_page()

    def _writer(self) -> pymupdf.TextWriter:
        page = self.current()
        writer = self._writers.get(page.number)
        if writer is None:
            writer = pymupdf.TextWriter(page.rect)
            self._writers[page.number] = writer
        return writer

    def finish(self) -> None:
        """Write buffered rulings and text into the pages."""
        st = self.style
        if self.footer is not None:
            size = st.font_size
            baseline = st.page_height - st.margin_bottom / 2
            for number in range(self.doc.page_count):
                label = self.footer.format(n=number + 1)
                writer = self._writers.get(number)
                if writer is None:
                    writer = self._writers[number] = pymupdf.TextWriter(self.doc[number].rect)
                x = (st.page_width - text_width(label, size)) / 2
                writer.append((x, baseline), label, font=cjk_font(), fontsize=size)
        width = st.line_width
        for number, rules in self._rules.items():
            shape = self.doc[number].new_shape()
            for x0, y0, x1, y1, is_rect in rules:
                if is_rect:
                    shape.draw_rect(pymupdf.Rect(x0, y0, x1, y1))
                else:
                    shape.draw_line((x0, y0), (x1, y1))
            shape.finish(width=width, color=(0, 0, 0))
            shape.commit()
        for number, writer in self._writers.items():
            writer.write_text(self.doc[number], color=(0, 0, 0))
        self._rules.clear()
        self._writers.clear()

    # primitives ------------------------------------------------------------
    def text_at(self, x: float, baseline: float, text: str, size: float) -> None:
        if text:
            self._writer().append((x, baseline), text, font=cjk_font(), fontsize=size)

    def line(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self._rules.setdefault(self.current().number, []).append((x0, y0, x1, y1, False))

    def rect(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self._rules.setdefault(self.current().number, []).append((x0, y0, x1, y1, True))

    def lines_in_box(
        self,
        lines: list[str],
        box: tuple[float, float, float, float],
        size: float,
        align: Align = "center",
        valign: VAlign = "middle",
    ) -> None:
        """Draw pre-wrapped lines inside box (x0, y0, x1, y1), padded by the style."""
        x0, y0, x1, y1 = box
        st = self.style
        lh = size * st.line_factor
        block = len(lines) * lh
        top = y0 + st.pad_y if valign == "top" else y0 + (y1 - y0 - block) / 2
        font = cjk_font()
        # baseline inside a line box of height lh, glyph box centred
        ascent = font.ascender * size
        glyph = (font.ascender - font.descender) * size
        for i, line in enumerate(lines):
            width = text_width(line, size)
            if align == "left":
                x = x0 + st.pad_x
            elif align == "right":
                x = x1 - st.pad_x - width
            else:
                x = x0 + (x1 - x0 - width) / 2
            baseline = top + i * lh + (lh - glyph) / 2 + ascent
            self.text_at(x, baseline, line, size)

    # blocks ----------------------------------------------------------------
    def centered(self, text: str, size: float, *, gap_after: float = 4.0) -> None:
        st = self.style
        lines = wrap_text(text, st.content_width, size)
        height = len(lines) * size * max(st.line_factor, 1.4)
        self.ensure(height)
        self.lines_in_box(
            lines,
            (st.margin_left, self.y, st.page_width - st.margin_right, self.y + height),
            size,
        )
        self.y += height + gap_after

    def paragraph(
        self, text: str, size: float, *, indent: float = 0.0, align: Align = "left"
    ) -> None:
        """Wrapped text across the content width; lines flow onto the next page."""
        st = self.style
        lh = size * max(st.line_factor, 1.4)
        x0 = st.margin_left + indent
        for line in wrap_text(text, st.content_width - indent - 2 * st.pad_x, size):
            self.ensure(lh)
            self.lines_in_box(
                [line], (x0, self.y, st.page_width - st.margin_right, self.y + lh), size, align
            )
            self.y += lh


# ---------------------------------------------------------------- tables


@dataclass
class Cell:
    text: str
    col: int
    span: int = 1
    align: Align = "center"
    valign: VAlign = "middle"


@dataclass
class Merge:
    """A cell spanning rows first..last (inclusive) in columns col..col+span-1."""

    text: str
    col: int
    first: int
    last: int
    span: int = 1
    align: Align = "center"
    valign: VAlign = "middle"


@dataclass
class Table:
    widths: list[float]
    rows: list[list[Cell]]
    merges: list[Merge] = field(default_factory=list)
    header_rows: int = 0
    """Rows 0..header_rows-1 are the column header: kept with the first data row, and repeated
    on continuation pages when `repeat_header` says so."""
    splittable: set[int] = field(default_factory=set)
    """Rows whose lines may be split across a page break (long goal texts)."""
    size: float | None = None


@dataclass
class _Row:
    cells: list[Cell]
    lines: list[list[str]]
    height: float
    header: bool = False


class TablePainter:
    """Paginates and draws one Table in a Flow."""

    def __init__(
        self,
        flow: Flow,
        table: Table,
        *,
        repeat_header: Callable[[int], bool] = lambda _page: False,
        label_on_continuation: Callable[[int], bool] = lambda _page: True,
    ):
        self.flow = flow
        self.table = table
        self.repeat_header = repeat_header
        self.label_on_continuation = label_on_continuation
        st = flow.style
        self.size = table.size or st.font_size
        self.lh = self.size * st.line_factor
        self.x = [st.margin_left]
        for w in self._fit_widths():
            self.x.append(self.x[-1] + w)

    def _fit_widths(self) -> list[float]:
        """Widen columns that would otherwise cut a number ("16,124.45") over two lines, taking
        the room from the other columns in proportion to their width."""
        widths = list(self.table.widths)
        need = [0.0] * len(widths)
        for row in self.table.rows:
            for cell in row:
                if cell.span == 1 and _NUMBER.match(cell.text):
                    text_w = text_width(cell.text, self.size) + 2 * self.flow.style.pad_x + 1
                    need[cell.col] = max(need[cell.col], text_w)
        short = sum(max(0.0, n - w) for n, w in zip(need, widths, strict=True))
        if short <= 0:
            return widths
        free = [w if w >= n else 0.0 for n, w in zip(need, widths, strict=True)]
        scale = max(0.0, 1 - short / sum(free)) if sum(free) else 1.0
        return [
            max(n, w) if f == 0 else w * scale for n, w, f in zip(need, widths, free, strict=True)
        ]

    def _span_width(self, col: int, span: int) -> float:
        return self.x[col + span] - self.x[col]

    def _wrap(self, text: str, col: int, span: int) -> list[str]:
        inner = self._span_width(col, span) - 2 * self.flow.style.pad_x
        return wrap_text(text, inner, self.size)

    def _height(self, nlines: int) -> float:
        return nlines * self.lh + 2 * self.flow.style.pad_y

    def draw(self) -> None:
        flow, table = self.flow, self.table
        rows: list[_Row] = []
        for i, cells in enumerate(table.rows):
            wrapped = [self._wrap(c.text, c.col, c.span) for c in cells]
            height = self._height(max([len(x) for x in wrapped] + [1]))
            rows.append(_Row(cells, wrapped, height, header=i < table.header_rows))
        merges = [
            (m, self._wrap(m.text, m.col, m.span)) for m in sorted(table.merges, key=_merge_key)
        ]
        for m, lines in merges:  # a merged label taller than its rows grows the last row
            deficit = self._height(len(lines)) - sum(r.height for r in rows[m.first : m.last + 1])
            if deficit > 0:
                rows[m.last].height += deficit
        header = rows[: table.header_rows]
        header_height = sum(r.height for r in header)

        flow.current()
        page_first = 0  # first row of the table on the current page
        repeated = False  # header re-drawn at the top of this page
        segment_top = flow.y
        i = 0
        while i < len(rows):  # rows grows when a long row is split
            if flow.y + rows[i].height <= flow.bottom + 0.01:
                flow.y += rows[i].height
                i += 1
                continue
            # row i does not fit: split a long text row, or break the page before it
            # a long text row moves whole to the next page like a spreadsheet row; only one
            # taller than a whole page is split by lines (its text is then cut in two places)
            room = flow.bottom - flow.y - 2 * flow.style.pad_y
            too_tall = rows[i].height > flow.bottom - flow.top - header_height
            if i in self._splittable(rows) and too_tall and room >= 3 * self.lh:
                keep = int(room // self.lh)
                rows[i : i + 1] = self._split(rows[i], keep)
                merges = [(_shift(m, i), lines) for m, lines in merges]
                table.splittable = {j + 1 if j > i else j for j in table.splittable} | {i, i + 1}
                continue
            cut = self._break_before(i, page_first, merges, rows, header_height if repeated else 0)
            something_above = segment_top > flow.top + 0.5 or repeated
            if cut == page_first and not something_above:
                cut = i  # nothing can move: let the short label share the page (rare)
            if cut == page_first and not something_above:
                flow.y += rows[i].height  # a row taller than a page: let it overflow
                i += 1
                continue
            self._paint(rows, merges, page_first, cut, segment_top, repeated, header)
            flow.new_page()
            page_number = flow.page_number
            repeated = (
                table.header_rows > 0
                and cut > table.header_rows
                and self.repeat_header(page_number)
            )
            segment_top = flow.y
            if repeated:
                flow.y += header_height
            page_first = cut
            i = cut
            if cut < table.header_rows:  # the whole table moved
                page_first = 0
                i = 0
        self._paint(rows, merges, page_first, len(rows), segment_top, repeated, header)

    def _splittable(self, rows: list[_Row]) -> set[int]:
        return self.table.splittable

    def _split(self, row: _Row, keep: int) -> list[_Row]:
        first = [lines[:keep] or [""] for lines in row.lines]
        rest = [lines[keep:] or [""] for lines in row.lines]
        top = [
            Cell(c.text, c.col, c.span, c.align, "top") for c in row.cells
        ]  # text only used for geometry; lines are what gets drawn
        h1 = self._height(max(len(x) for x in first))
        h2 = self._height(max(len(x) for x in rest))
        return [_Row(top, first, h1), _Row(top, rest, h2)]

    def _break_before(
        self,
        i: int,
        page_first: int,
        merges: list[tuple[Merge, list[str]]],
        rows: list[_Row],
        header_height: float,
    ) -> int:
        """The row to start the next page with: i, or earlier so that no merged label that
        starts on this page is left in a segment too short to hold it, and the header is never
        left alone at the bottom."""
        cut = i
        changed = True
        while changed:
            changed = False
            if 0 < cut <= self.table.header_rows and page_first == 0:
                cut = 0
            for m, lines in merges:
                if m.first >= page_first and m.first < cut <= m.last:
                    height = sum(r.height for r in rows[m.first : cut])
                    if height < self._height(len(lines)) - 0.01:
                        cut = m.first  # move the whole labelled segment to the next page
                        changed = True
        return cut

    def _paint(
        self,
        rows: list[_Row],
        merges: list[tuple[Merge, list[str]]],
        lo: int,
        hi: int,
        top: float,
        repeated: bool,
        header: list[_Row],
    ) -> None:
        """Draw rows lo..hi-1 (and the repeated header) on the current page from y=top."""
        if hi <= lo:
            return
        flow = self.flow
        y = top
        if repeated:
            for row in header:
                self._paint_row(row, y)
                y += row.height
        tops: dict[int, float] = {}
        for r in range(lo, hi):
            tops[r] = y
            self._paint_row(rows[r], y)
            y += rows[r].height
        bottoms = {r: tops[r] + rows[r].height for r in tops}
        for m, lines in merges:
            a, b = max(m.first, lo), min(m.last, hi - 1)
            if a > b:
                continue
            box = (self.x[m.col], tops[a], self.x[m.col + m.span], bottoms[b])
            if flow.style.ruled:
                flow.rect(*box)
            fits = box[3] - box[1] >= self._height(len(lines)) - 0.01
            starts_here = m.first >= lo
            if starts_here or (fits and self.label_on_continuation(flow.page_number)):
                flow.lines_in_box(lines, box, self.size, m.align, m.valign)

    def _paint_row(self, row: _Row, y: float) -> None:
        flow = self.flow
        for cell, lines in zip(row.cells, row.lines, strict=True):
            box = (self.x[cell.col], y, self.x[cell.col + cell.span], y + row.height)
            if flow.style.ruled:
                flow.rect(*box)
            flow.lines_in_box(lines, box, self.size, cell.align, cell.valign)


_NUMBER = re.compile(r"^[-+]?[0-9][0-9,.]*%?$")


def _merge_key(m: Merge) -> tuple[int, int]:
    return (m.first, m.col)


def _shift(m: Merge, split_row: int) -> Merge:
    """Row indices after splitting row `split_row` in two."""
    first = m.first + 1 if m.first > split_row else m.first
    last = m.last + 1 if m.last >= split_row else m.last
    return Merge(m.text, m.col, first, last, m.span, m.align, m.valign)


def draw_table(
    flow: Flow,
    table: Table,
    *,
    repeat_header: Callable[[int], bool] = lambda _page: False,
    label_on_continuation: Callable[[int], bool] = lambda _page: True,
) -> None:
    TablePainter(
        flow, table, repeat_header=repeat_header, label_on_continuation=label_on_continuation
    ).draw()


def new_document() -> pymupdf.Document:
    return pymupdf.open()


def save_document(doc: pymupdf.Document, out: str) -> None:
    """Subset the embedded font and save with fixed metadata, so equal input gives equal bytes."""
    doc.set_metadata(
        {
            "producer": "jixiao corpus",
            "creator": "jixiao corpus",
            "creationDate": "D:20240301000000+08'00'",
            "modDate": "D:20240301000000+08'00'",
        }
    )
    doc.subset_fonts()
    doc.save(out, garbage=3, deflate=True, no_new_id=True)
