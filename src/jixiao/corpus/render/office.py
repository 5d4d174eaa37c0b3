"""`office`: each form typed into an .xlsx 自评表 template and printed by LibreOffice.

The sheet is built the way such templates are: eight columns, merged cells for the block labels
and for the 一级/二级 labels spanning their rows, wrapped text, thin borders on every cell, row
heights set by the author, numbers stored as numbers with a number format, A4 print settings
(fit to width, or a fixed scale that lets the table break across pages wherever the page ends,
with or without the header row repeated, sometimes a page break forced mid-table). Templates
differ in column order and in whether the 年初预算数 column is there at all; the record as printed
(`Rendered.printed`) then has no 年初预算数. Generator settings come from `settings.py`.
"""

from __future__ import annotations

import math
import random
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pymupdf
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from jixiao.contract import FormRecord
from jixiao.corpus.render.blocks import (
    DEFAULT_TITLE,
    Labels,
    central_labels,
    level1_label,
    level_groups,
    synonym_labels,
    text,
)
from jixiao.corpus.render.settings import Settings, Split, office_settings
from jixiao.corpus.render.tools import normalized, xlsx_to_pdf

PageRange = tuple[int, int]
NCOLS = 8
_PT_PER_UNIT = (
    7.0  # printed width of one Excel column-width unit in points, as LibreOffice prints it
)
_MONEY = "#,##0.00"
_SCORE = "0.00"


@dataclass(frozen=True)
class Columns:
    """1-based columns of the indicator table's value fields."""

    target: int
    actual: int
    weight: int
    score: int
    reason: int = 8


# 1, 2: 三级指标 | 年度指标值 | 实际完成值 | 分值 | 得分 | 偏差原因; 3: 分值 after 年度指标值
_ORDER = {1: Columns(4, 5, 6, 7), 2: Columns(4, 5, 6, 7), 3: Columns(4, 6, 5, 7)}
# relative widths of the eight columns
_WEIGHTS = [0.9, 0.9, 2.2, 1.3, 1.25, 0.8, 0.8, 2.1]


def render(
    forms: list[FormRecord], seed: int, split: Split
) -> tuple[pymupdf.Document, list[PageRange], Settings, list[FormRecord]]:
    rng = random.Random(f"office:{seed}")
    settings = office_settings(split, rng)
    printed = [_as_printed(form, settings) for form in forms]
    out = pymupdf.open()
    pages: list[PageRange] = []
    with tempfile.TemporaryDirectory(prefix="jixiao-office-") as tmp:
        folder = Path(tmp)
        for i, record in enumerate(printed):
            book = folder / f"form{i}.xlsx"
            workbook(record, settings, random.Random(f"office:{seed}:{i}")).save(book)
            with normalized(xlsx_to_pdf(book, folder)) as part:
                first = out.page_count + 1
                out.insert_pdf(part)
                pages.append((first, out.page_count))
    return out, pages, settings, printed


def _as_printed(record: FormRecord, settings: Settings) -> FormRecord:
    if settings["initial_budget_column"]:
        return record
    rows = [row.model_copy(update={"initial_budget": None}) for row in record.funding]
    return record.model_copy(update={"funding": rows})


def workbook(record: FormRecord, settings: Settings, rng: random.Random) -> Workbook:
    """The filled-in template of one form."""
    labels = central_labels(rng) if settings["labels"] == "central" else synonym_labels(rng)
    sheet = _Sheet(settings, rng)
    sheet.form(record, labels)
    return sheet.book


class _Sheet:
    def __init__(self, settings: Settings, rng: random.Random):
        self.book = Workbook()
        ws = self.book.active
        assert isinstance(ws, Worksheet)
        self.ws = ws
        ws.title = "自评表"
        self.settings = settings
        self.rng = rng
        self.size = float(settings["font_size"])
        self.font_name = str(settings["font"])
        self.cols = _ORDER[int(settings["template"])]
        self.landscape = int(settings["template"]) == 3 and rng.random() < 0.5
        # printable width of A4 less 0.5" margins, at the print scale
        printable = (842.0 if self.landscape else 595.0) - 72.0
        scale = int(settings["scale"]) / 100
        total_units = printable / scale / _PT_PER_UNIT * 0.96
        moved = [w * rng.uniform(0.9, 1.1) for w in _WEIGHTS]
        self.units = [w * total_units / sum(moved) for w in moved]
        self.row = 0
        self.heights: dict[int, float] = {}
        self._pending: list[tuple[int, int, float]] = []  # merged labels: rows and height
        self.thin = Side(style="thin", color="000000")

    # ------------------------------------------------------------------ cells
    def _width_pt(self, first: int, last: int) -> float:
        return sum(self.units[first - 1 : last]) * _PT_PER_UNIT

    def _lines(self, value: str, first: int, last: int, size: float) -> int:
        inner = self._width_pt(first, last) - 6.0
        count = 0
        for para in value.split("\n"):
            width = sum(size * (1.0 if _wide(c) else 0.56) for c in para)
            count += max(1, math.ceil(width * 1.08 / max(inner, size)))
        return count

    def put(
        self,
        first: int,
        value: str | float | None,
        *,
        last: int | None = None,
        rows: int = 1,
        align: str = "center",
        fmt: str | None = None,
        bold: bool = False,
        size: float | None = None,
        border: bool = True,
    ) -> None:
        """Write a value at (self.row, first), merged over columns first..last and `rows` rows."""
        last = last or first
        size = size or self.size
        ws = self.ws
        cell = ws.cell(self.row, first)
        cell.value = value if value != "" else None
        if isinstance(value, str) and value.startswith("="):
            cell.data_type = "s"  # a target such as "=100" is text, not a formula
        cell.font = Font(name=self.font_name, size=size, bold=bold)
        cell.alignment = Alignment(horizontal=align, vertical="center", wrap_text=True)
        if fmt is not None:
            cell.number_format = fmt
        if border:
            for r in range(self.row, self.row + rows):
                for c in range(first, last + 1):
                    ws.cell(r, c).border = Border(
                        left=self.thin, right=self.thin, top=self.thin, bottom=self.thin
                    )
        if last > first or rows > 1:
            ws.merge_cells(
                start_row=self.row, start_column=first, end_row=self.row + rows - 1, end_column=last
            )
        shown = _shown(value, fmt)
        need = self._lines(shown, first, last, size) * size * 1.32 + 5.0
        if rows == 1:
            self.heights[self.row] = max(self.heights.get(self.row, 0.0), need)
        else:
            self._pending.append((self.row, self.row + rows - 1, need))

    def next_row(self) -> None:
        self.row += 1
        self.heights.setdefault(self.row, self.size * 1.32 + 5.0)

    # ------------------------------------------------------------------ blocks
    def form(self, record: FormRecord, labels: Labels) -> None:
        self._size_columns(record)
        cols = self.cols
        self.next_row()
        self.put(1, record.title or DEFAULT_TITLE, last=NCOLS, size=16, bold=True, border=False)
        if record.year is not None:
            self.next_row()
            self.put(1, f"（{record.year}年度）", last=NCOLS, size=self.size + 1, border=False)
        self.next_row()
        self.put(1, labels.project)
        self.put(2, text(record.project_name), last=NCOLS, align="left")
        self.next_row()
        self.put(1, labels.department)
        self.put(2, text(record.competent_department), last=4, align="left")
        self.put(5, labels.unit)
        self.put(6, text(record.implementing_unit), last=NCOLS, align="left")
        if record.funding:
            self._funding(record, labels)
        self._goals(record, labels)
        header_row = self.row + 1
        self.next_row()
        for col, label in (
            (1, labels.level1),
            (2, labels.level2),
            (3, labels.name),
            (cols.target, labels.target),
            (cols.actual, labels.actual_value),
            (cols.weight, labels.weight),
            (cols.score, labels.score),
            (cols.reason, labels.reason),
        ):
            self.put(col, label, bold=True)
        self._indicators(record, labels)
        self._totals(record, labels)
        self._finish(header_row)

    def _funding(self, record: FormRecord, labels: Labels) -> None:
        with_initial = bool(self.settings["initial_budget_column"])
        block = labels.funding_block + (f"（{record.funding_unit}）" if record.funding_unit else "")
        null = self.rng.choice(["-", ""])
        self.next_row()
        self.put(1, block, rows=len(record.funding) + 1)
        # money columns: with 年初预算数 the row label takes column 2, else columns 2–3
        label_last = 2 if with_initial else 3
        self.put(2, "", last=label_last)
        money = [(4, labels.annual), (5, labels.executed)]
        if with_initial:
            money.insert(0, (3, labels.initial))
        for col, label in [*money, (6, labels.funding_weight), (7, labels.rate), (8, "得分")]:
            self.put(col, label, bold=True)
        for row in record.funding:
            self.next_row()
            indent = (
                labels.indent if row.kind != "total" and not row.label.startswith("其中") else ""
            )
            self.put(2, indent + row.label, last=label_last, align="left")
            values = [(4, row.annual_budget), (5, row.executed)]
            if with_initial:
                values.insert(0, (3, row.initial_budget))
            for col, money_value in values:
                self._number(col, money_value, _MONEY, null, align="right")
            for col, value in ((6, row.weight), (7, row.execution_rate), (8, row.score)):
                self._number(col, value, _SCORE, null)

    def _number(
        self, col: int, value: float | None, fmt: str, null: str, align: str = "center"
    ) -> None:
        if value is None:
            self.put(col, null)
        else:
            self.put(col, value, fmt=fmt, align=align)

    def _goals(self, record: FormRecord, labels: Labels) -> None:
        self.next_row()
        self.put(1, labels.goals, rows=2)
        self.put(2, labels.expected, last=4)
        self.put(5, labels.actual, last=NCOLS)
        self.next_row()
        indent = labels.indent
        expected = indent + record.goal_expected if record.goal_expected else ""
        actual = indent + record.goal_actual if record.goal_actual else ""
        self.put(2, expected, last=4, align="left")
        self.put(5, actual, last=NCOLS, align="left")

    def _indicators(self, record: FormRecord, labels: Labels) -> None:
        cols = self.cols
        inds = record.indicators
        top = self.row + 1
        for ind in inds:
            self.next_row()
            self.put(3, ind.name, align="left")
            self.put(cols.target, text(ind.target_text))
            self.put(cols.actual, text(ind.actual_text))
            for col, value in ((cols.weight, ind.weight), (cols.score, ind.score)):
                self._number(col, value, _SCORE, "")
            self.put(cols.reason, text(ind.deviation_reason), align="left")
        end = self.row
        self.row = top
        for a, b in level_groups(inds, 1):
            self.row = top + a
            self.put(1, level1_label(inds, a, b, labels.level1_with_weight), rows=b - a + 1)
        for a, b in level_groups(inds, 2):
            self.row = top + a
            self.put(2, text(inds[a].level2), rows=b - a + 1)
        self.row = end
        if self.settings["manual_break"] and len(inds) >= 6:
            # the author forced a page break somewhere in the indicator rows
            self.ws.row_breaks.append(Break(id=top + self.rng.randint(2, len(inds) - 3)))

    def _totals(self, record: FormRecord, labels: Labels) -> None:
        cols = self.cols
        first_value = min(cols.weight, cols.score)
        self.next_row()
        self.put(1, labels.total, last=first_value - 1)
        self._total_value(cols.weight, record.total_weight)
        between = [c for c in range(first_value, NCOLS + 1) if c not in (cols.weight, cols.score)]
        self._total_value(cols.score, record.total_score)
        for col in between:
            self.put(col, "")
        if record.grade is not None:
            self.next_row()
            self.put(1, labels.grade, last=first_value - 1)
            self.put(first_value, record.grade, last=NCOLS)

    def _total_value(self, col: int, value: float | None) -> None:
        # "General": 100 prints as 100 and 90.2 as 90.2, as totals usually are
        self.put(col, "" if value is None else value, fmt="General")

    def _finish(self, header_row: int) -> None:
        ws = self.ws
        for first, last, need in self._pending:  # a merged label grows the last row it spans
            have = sum(self.heights.get(r, 0.0) for r in range(first, last + 1))
            if need > have:
                self.heights[last] = self.heights.get(last, 0.0) + need - have
        for number, height in self.heights.items():
            ws.row_dimensions[number].height = round(height, 1)
        for i, units in enumerate(self._fit_numbers(), start=1):
            ws.column_dimensions[get_column_letter(i)].width = round(units, 2)
        setup = ws.page_setup
        setup.paperSize = ws.PAPERSIZE_A4
        setup.orientation = "landscape" if self.landscape else "portrait"
        if self.settings["fit"] == "fit-width":
            ws.sheet_properties.pageSetUpPr.fitToPage = True
            setup.fitToWidth = 1
            setup.fitToHeight = 0
        else:
            setup.scale = int(self.settings["scale"])
        ws.page_margins.left = ws.page_margins.right = 0.5
        ws.page_margins.top = ws.page_margins.bottom = 0.6
        ws.print_options.horizontalCentered = True
        if self.settings["repeat_header"]:
            ws.print_title_rows = f"{header_row}:{header_row}"

    def _size_columns(self, record: FormRecord) -> None:
        """Make room for the longest number of each column before any row is measured, taking
        it from the other columns so the sheet stays one page wide (LibreOffice prints ###
        for a number too wide, and the columns past the paper's edge on further pages)."""
        money = [
            f"{v:,.2f}"
            for row in record.funding
            for v in (row.initial_budget, row.annual_budget, row.executed)
            if v is not None
        ]
        need = [0.0] * NCOLS
        for col in (3, 4, 5):
            need[col - 1] = max([len(m) for m in money] + [0]) * 0.6 * self.size
        for col in (6, 7, 8, self.cols.weight, self.cols.score):
            need[col - 1] = max(need[col - 1], 6 * 0.6 * self.size)  # "100.00"
        need = [(n + 10) / _PT_PER_UNIT if n else 0.0 for n in need]
        total = sum(self.units)
        grown = [max(u, n) for u, n in zip(self.units, need, strict=True)]
        fixed = sum(g for g, u in zip(grown, self.units, strict=True) if g > u)
        free = [u for g, u in zip(grown, self.units, strict=True) if g <= u]
        scale = max(0.3, (total - fixed) / sum(free)) if free else 1.0
        self.units = [g if g > u else u * scale for g, u in zip(grown, self.units, strict=True)]

    def _fit_numbers(self) -> list[float]:
        """Widen a column whose number would not fit (LibreOffice prints ### instead)."""
        units = list(self.units)
        for row in self.ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, int | float) and cell.column is not None:
                    shown = _shown(cell.value, cell.number_format)
                    need = (len(shown) * 0.6 * self.size + 8) / _PT_PER_UNIT
                    col = int(cell.column) - 1
                    units[col] = max(units[col], need)
        return units


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _shown(value: str | float | None, fmt: str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if fmt == _MONEY:
        return f"{value:,.2f}"
    if fmt == _SCORE:
        return f"{value:.2f}"
    return f"{value:g}"
