"""The deterministic layout extractor: a FormRegion's grids and lines → FormRecord, no LLM.

Values are found by *label anchoring*: a cell whose text is a known label (labels.py) says what
the cell to its right, or the column below it, holds. Nothing here depends on coordinates of any
renderer: only on grid structure (rows, columns, spans) and label synonyms, so that forms drawn
by other software, with other widths and fonts, read the same.

Every value carries its source cell as provenance. Cells with content that map nowhere, and
sections that could not be found, are reported (`unplaced`, LAYOUT_UNPLACED info flags) instead
of being guessed.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

from jixiao.contract import FieldProvenance, Flag, FormRecord, FundingRow, Indicator, RunInfo
from jixiao.extract.base import ExtractorOptions, ExtractorOutput
from jixiao.extract.grounding import (
    SIGN_CONFUSIONS,
    is_empty_mark,
    join_lines,
    junk_tail,
    leading_sign,
    normalize,
    parse_number,
    sign_slot,
    strip_weight_suffix,
)
from jixiao.extract.labels import (
    FUNDING_COLUMNS,
    FUNDING_ROWS,
    GOALS,
    HEADER_FIELDS,
    INDICATOR_COLUMNS,
    TOTALS,
    LabelMatch,
    SynonymTable,
    classify,
    classify_any,
    funding_kind,
    money_unit,
    split_label_prefix,
)
from jixiao.ingest.model import Cell, FormRegion, Grid, LayoutText, TextLine

EXTRACTOR_NAME = "layout"
UNPLACED_CODE = "LAYOUT_UNPLACED"
ERROR_CODE = "LAYOUT_ERROR"
# Something ingestion found that the extractor could not read: warnings, so that the form goes
# to a person instead of looking complete.
ROW_UNREAD_CODE = "EXTRACTION_ROW_UNREAD"
SECTION_MISSING_CODE = "EXTRACTION_SECTION_MISSING"
# A value changed or doubted by an OCR rule (a sign read as 过, junk after a name) gets this
# confidence factor: below the calibrated review threshold (≈0.40), so a person confirms it.
SUSPECT_FACTOR = 0.35
_NAME_LEAVES = ("level1", "level2", "name")
# A name from a cell whose OCR confidence is under this is doubted like a junk tail.
_LOW_OCR = 0.8

_YEAR_PAREN_RE = re.compile(r"[(（]\s*((?:19|20)\d{2})\s*年度?\s*[)）]")
_YEAR_RE = re.compile(r"((?:19|20)\d{2})\s*年度")
_TITLE_HINT = "自评表"
_MONEY_FIELDS = ("initial_budget", "annual_budget", "executed")
# 优 / 良好 / 不合格 …; a long text beside 自评结论 is a conclusion, not a grade.
_GRADE_MAX_CHARS = 6


# --- grid view ------------------------------------------------------------------------------


@dataclass(slots=True)
class _GridView:
    """A grid with an occupancy matrix, so a merged cell is found from every row it covers."""

    grid: Grid
    index: int
    occ: list[list[Cell | None]]
    by_row: dict[int, list[Cell]]

    @classmethod
    def of(cls, grid: Grid, index: int) -> _GridView:
        cells = sorted(grid.cells, key=lambda c: (c.row, c.col))
        n_rows = max([grid.n_rows, *(c.row + max(c.rowspan, 1) for c in cells)])
        n_cols = max([grid.n_cols, *(c.col + max(c.colspan, 1) for c in cells)])
        occ: list[list[Cell | None]] = [[None] * n_cols for _ in range(n_rows)]
        by_row: dict[int, list[Cell]] = {}
        for cell in cells:
            by_row.setdefault(cell.row, []).append(cell)
            for r in range(cell.row, cell.row + max(cell.rowspan, 1)):
                for c in range(cell.col, cell.col + max(cell.colspan, 1)):
                    if occ[r][c] is None:
                        occ[r][c] = cell
        return cls(grid, index, occ, by_row)

    @property
    def n_rows(self) -> int:
        return len(self.occ)

    @property
    def n_cols(self) -> int:
        return len(self.occ[0]) if self.occ else 0

    def starting(self, row: int) -> list[Cell]:
        """Cells whose top row is `row`, left to right."""
        return list(self.by_row.get(row, ()))

    def covering(self, row: int) -> list[Cell]:
        """Distinct cells covering any column of `row` (merged cells from above included)."""
        seen: dict[int, Cell] = {}
        for cell in self.occ[row]:
            if cell is not None and id(cell) not in seen:
                seen[id(cell)] = cell
        # A cell shadowed by an overlapping span (borderless column inference) still counts.
        for cell in self.by_row.get(row, ()):
            seen.setdefault(id(cell), cell)
        return sorted(seen.values(), key=lambda c: c.col)

    def at(self, row: int, col: int) -> Cell | None:
        if 0 <= row < self.n_rows and 0 <= col < self.n_cols:
            return self.occ[row][col]
        return None

    def right_of(self, cell: Cell) -> Cell | None:
        """The next distinct cell to the right on the cell's top row."""
        for col in range(cell.col + max(cell.colspan, 1), self.n_cols):
            other = self.at(cell.row, col)
            if other is not None and id(other) != id(cell):
                return other
        return None

    def below(self, cell: Cell) -> Cell | None:
        """The cell under `cell` that shares the most columns with it."""
        row = cell.row + max(cell.rowspan, 1)
        if row >= self.n_rows:
            return None
        best: tuple[int, Cell] | None = None
        for other in self.starting(row):
            overlap = _overlap(
                cell.col, cell.col + cell.colspan, other.col, other.col + other.colspan
            )
            if overlap > 0 and (best is None or overlap > best[0]):
                best = (overlap, other)
        return best[1] if best else None


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _text(cell: Cell | None) -> str:
    return cell.text.strip() if cell is not None else ""


# --- column maps ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Column:
    field: str
    c0: int
    c1: int
    header: Cell
    match: LabelMatch


@dataclass(slots=True)
class _ColumnMap:
    columns: list[_Column]

    def fields(self) -> set[str]:
        return {c.field for c in self.columns}

    def first_col(self, name: str) -> int | None:
        for c in self.columns:
            if c.field == name:
                return c.c0
        return None

    def min_col(self) -> int:
        return min(c.c0 for c in self.columns)

    def match_of(self, name: str) -> LabelMatch | None:
        for c in self.columns:
            if c.field == name:
                return c.match
        return None

    def assign(self, cells: Iterable[Cell], skip: set[int] | None = None) -> dict[str, list[Cell]]:
        """Each data cell → the column it overlaps most (leftmost on a tie)."""
        out: dict[str, list[Cell]] = {}
        for cell in cells:
            if skip and id(cell) in skip:
                continue
            best: tuple[int, _Column] | None = None
            for col in self.columns:
                ov = _overlap(cell.col, cell.col + cell.colspan, col.c0, col.c1)
                if ov > 0 and (best is None or ov > best[0]):
                    best = (ov, col)
            if best is not None:
                out.setdefault(best[1].field, []).append(cell)
        return out


def _column_map(gv: _GridView, row: int, table: SynonymTable, fuzzy: bool) -> _ColumnMap:
    cols: list[_Column] = []
    for cell in gv.covering(row):
        m = classify(cell.text, table, fuzzy=fuzzy)
        if m is not None:
            cols.append(_Column(m.field, cell.col, cell.col + cell.colspan, cell, m))
    return _ColumnMap(_disjoint(cols))


def _disjoint(cols: list[_Column]) -> list[_Column]:
    """Header spans that overlap (column inference of a borderless table can make a long
    label reach into its neighbour): each header owns its columns up to the next one's."""
    cols = sorted(cols, key=lambda c: c.c0)
    for a, b in itertools.pairwise(cols):
        if a.c1 > b.c0 > a.c0:
            a.c1 = b.c0
    return cols


# --- the extractor --------------------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    """State of one extraction: what was used, the provenance and flags gathered so far."""

    form: FormRegion
    views: list[_GridView]
    # Keyed by id(cell): cell ids are only unique within a form when ingestion says so, and a
    # collision must not make one cell count as another.
    ruled: dict[int, bool]  # id(cell) → its grid is ruled
    used: set[int] = field(default_factory=set)
    ignored: set[int] = field(default_factory=set)
    fields: dict[str, FieldProvenance] = field(default_factory=dict)
    flags: list[Flag] = field(default_factory=list)
    # (section, grid view index, first row, last row) of each table body read, so that a cell
    # left unread inside one is reported as an unread row.
    bodies: list[tuple[str, int, int, int]] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[_GridView, int]]:
        for gv in self.views:
            for r in range(gv.n_rows):
                yield gv, r

    def all_cells(self) -> Iterator[tuple[_GridView, Cell]]:
        for gv in self.views:
            for r in sorted(gv.by_row):
                for cell in gv.by_row[r]:
                    yield gv, cell

    def prov(
        self,
        path: str,
        cells: list[Cell],
        *,
        label: float,
        parse: float = 1.0,
        inherited: bool = False,
        signals: dict[str, float] | None = None,
    ) -> None:
        """Record where `path` came from; several cells (a value split across columns) union.

        The OCR confidence of the cells (their lowest) is a signal and scales confidence."""
        if not cells:
            return
        first = cells[0]
        same_page = [c for c in cells if c.page == first.page]
        bbox = (
            min(c.bbox[0] for c in same_page),
            min(c.bbox[1] for c in same_page),
            max(c.bbox[2] for c in same_page),
            max(c.bbox[3] for c in same_page),
        )
        ruled = 1.0 if all(self.ruled.get(id(c), True) for c in cells) else 0.0
        confidence = label * parse * (0.95 if inherited else 1.0) * (1.0 if ruled else 0.95)
        ocr = [c.confidence for c in cells if c.confidence is not None]
        extra = dict(signals or {})
        if ocr:
            extra["ocr_confidence"] = round(min(ocr), 4)
            confidence *= min(ocr)
        self.fields[path] = FieldProvenance(
            confidence=round(max(0.0, min(1.0, confidence)), 4),
            page=first.page,
            bbox=bbox,
            source_text=join_lines([c.text for c in cells]),
            extractor=EXTRACTOR_NAME,
            signals={
                "label_match": round(label, 4),
                "parse_clean": parse,
                "inherited": 1.0 if inherited else 0.0,
                "ruled": ruled,
                "cells": float(len(cells)),
                **extra,
            },
        )
        self.used.update(id(c) for c in cells)

    def doubt(self, path: str, signals: dict[str, float]) -> None:
        """Lower a recorded value's confidence below review with the signals that say why."""
        prov = self.fields.get(path)
        if prov is None:
            return
        self.fields[path] = prov.model_copy(
            update={
                # `suspect` carries the doubt into confidence recomputed from signals (hybrid)
                "signals": {**prov.signals, **signals, "suspect": 1.0},
                "confidence": round(prov.confidence * SUSPECT_FACTOR, 4),
            }
        )

    def warn(self, code: str, message: str, fields: list[str]) -> None:
        """An extraction finding that sends the form to review (severity warning)."""
        self.flags.append(
            Flag(code=code, severity="warning", origin="extraction", fields=fields, message=message)
        )

    def flag(self, message: str, fields: list[str] | None = None) -> None:
        self.flags.append(
            Flag(
                code=UNPLACED_CODE,
                severity="info",
                origin="extraction",
                fields=fields or [],
                message=message,
            )
        )


def _number(cells: list[Cell]) -> tuple[float | None, float]:
    """A number from the cells of one column, with a parse-cleanliness score (1.0 = clean)."""
    text = join_lines([c.text for c in cells])
    if is_empty_mark(text):
        return None, 1.0
    value = parse_number(text)
    if value is not None:
        return value, 1.0
    # A number with stray characters ("9.86分)" / "8.00 8.00" from a misaligned borderless
    # column): not guessed; the cell stays unplaced for a reviewer.
    return None, 0.0


def _label_or_none(cell: Cell | None) -> LabelMatch | None:
    return classify_any(cell.text) if cell is not None else None


class LayoutExtractor:
    """Label-anchored extraction from ingested grids (the Extractor protocol of base.py)."""

    name = EXTRACTOR_NAME

    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        started = time.perf_counter()
        views = [_GridView.of(g, i) for i, g in enumerate(form.grids) if g.cells]
        ruled = {id(c): g.ruled for g in form.grids for c in g.cells}
        run = _Run(form, views, ruled)
        record = FormRecord()
        if form.kind != "project":
            run.flag(f"form kind {form.kind!r} is not supported by the layout extractor")
        else:
            sections = (
                self._title_year,
                self._header,
                self._funding,
                self._goals,
                self._indicators,
                self._grade,
                self._ocr_repairs,
                self._ocr_doubts,
            )
            for section in sections:
                # One odd section must not lose the others (the protocol: never raise on a form).
                try:
                    section(run, record)
                except Exception as err:
                    run.flags.append(
                        Flag(
                            code=ERROR_CODE,
                            severity="warning",
                            origin="extraction",
                            message=f"layout extractor failed in {section.__name__}: {err!r}",
                        )
                    )
            self._not_in_record(run)
            self._report(run, record)
        # Block labels ("绩效指标(90分)", "年度总体目标") structure the form; they hold no value.
        run.used.update(id(c) for _, c in run.all_cells() if _is_block(c))
        unplaced_cells = [
            cell
            for _, cell in run.all_cells()
            if id(cell) not in run.used and id(cell) not in run.ignored and normalize(cell.text)
        ]
        unplaced = [cell.id for cell in unplaced_cells]
        self._unread_rows(run, record, unplaced_cells)
        for cell in unplaced_cells:
            cell_id = cell.id
            snippet = cell.text.strip().replace("\n", "")[:30]
            run.flag(f"cell {cell_id} (page {cell.page}) «{snippet}» was not placed in the record")
        stats = RunInfo(extractor=EXTRACTOR_NAME, seconds=round(time.perf_counter() - started, 4))
        return ExtractorOutput(
            record=record, fields=run.fields, flags=run.flags, stats=stats, unplaced=unplaced
        )

    # --- title and year -------------------------------------------------------------------

    def _title_year(self, run: _Run, record: FormRecord) -> None:
        texts: list[tuple[str, Cell | None, TextLine | None, int]] = []
        for line, page in zip(run.form.lines, _line_pages(run.form), strict=False):
            texts.append((line.text, None, line, page))
        for _, cell in run.all_cells():
            texts.append((cell.text, cell, None, cell.page))
        for text, src_cell, src_line, page in texts:
            flat = normalize(text)
            if record.title is None and _TITLE_HINT in flat and len(flat) < 40:
                # "…自评表（2023年度）" on one line: the year is its own field.
                record.title = _YEAR_PAREN_RE.sub("", text).strip()
                _line_or_cell_prov(run, "title", src_cell, src_line, page)
            if record.year is None:
                m = _YEAR_PAREN_RE.search(text) or _YEAR_RE.search(text)
                if m and (len(flat) <= 12 or _TITLE_HINT in flat):
                    record.year = int(m.group(1))
                    _line_or_cell_prov(run, "year", src_cell, src_line, page)
        if record.title is None and run.form.title and _TITLE_HINT in run.form.title:
            # Segmentation found the title but did not hand over its line: no bbox to cite.
            record.title = run.form.title.strip()

    # --- header ---------------------------------------------------------------------------

    def _header(self, run: _Run, record: FormRecord) -> None:
        # A label cell with its value to the right: exact or OCR-confused labels first, then
        # a misread character ("顶目名称") for a field still missing.
        for gv, cell, m in self._header_labels(run):
            if getattr(record, m.field) is not None:
                continue
            run.used.add(id(cell))
            value_cell = gv.right_of(cell)
            if value_cell is None or _label_or_none(value_cell) is not None:
                continue
            value = _text(value_cell)
            if value:
                setattr(record, m.field, value)
                run.prov(m.field, [value_cell], label=m.score)
            else:
                run.used.add(id(value_cell))
        # Then, for what is still missing, "label value" merged into one cell.
        for _, cell in run.all_cells():
            if id(cell) in run.used:
                continue
            split = split_label_prefix(cell.text, HEADER_FIELDS)
            if split is not None and getattr(record, split[0].field) is None:
                setattr(record, split[0].field, split[1])
                run.prov(split[0].field, [cell], label=split[0].score * 0.95)
        # Free-text lines "项目名称：…" outside any grid.
        for line, page in zip(run.form.lines, _line_pages(run.form), strict=False):
            split = split_label_prefix(line.text, HEADER_FIELDS)
            if split is not None and getattr(record, split[0].field) is None:
                setattr(record, split[0].field, split[1])
                _line_prov(run, split[0].field, line, page, split[0].score * 0.9)

    def _header_labels(self, run: _Run) -> Iterator[tuple[_GridView, Cell, LabelMatch]]:
        found: set[str] = set()
        for gv, cell in run.all_cells():
            m = classify(cell.text, HEADER_FIELDS, fuzzy=False)
            if m is not None:
                found.add(m.field)
                yield gv, cell, m
        for gv, cell in run.all_cells():
            if id(cell) in run.used or classify_any(cell.text) is not None:
                continue
            m = classify(cell.text, HEADER_FIELDS, fuzzy=True)
            if m is not None and m.field not in found:
                yield gv, cell, m

    # --- 项目资金 ---------------------------------------------------------------------------

    def _funding(self, run: _Run, record: FormRecord) -> None:
        header = self._find_header(run, FUNDING_COLUMNS, _MONEY_FIELDS, min_fields=3)
        if header is None:
            run.flag(
                "no 项目资金 table header (年初预算数 / 全年预算数 / 全年执行数) found", ["funding"]
            )
            run.warn(SECTION_MISSING_CODE, "the 项目资金 table could not be read", ["funding"])
            return
        gv, hrow, cmap = header
        run.used.update(id(c.header) for c in cmap.columns)
        # The row-label header (资金来源) names no money column.
        cmap = _ColumnMap([c for c in cmap.columns if c.field != "row_label"])
        first_value_col = cmap.min_col()
        last_row = hrow
        taken_labels: set[int] = set()
        fragments = 0
        for r in range(hrow + 1, gv.n_rows):
            row_cells = gv.starting(r)
            if any(_stops_funding(c) for c in gv.covering(r)):
                break
            # A label merged down from above that no earlier row took is this row's (a
            # borderless table may anchor a label a row too high).
            spare = [
                c
                for c in gv.covering(r)
                if c.row < r and id(c) not in taken_labels and c.col < first_value_col
            ]
            label_cell, row_match = _funding_label(row_cells + spare, first_value_col)
            if label_cell is not None:
                taken_labels.add(id(label_cell))
            value_cells = [
                c
                for c in row_cells
                if c is not label_cell and classify(c.text, FUNDING_ROWS, fuzzy=False) is None
            ]
            by_field = cmap.assign(value_cells)
            has_number = any(
                parse_number(join_lines([c.text for c in by_field.get(f, [])])) is not None
                for f in _MONEY_FIELDS
            )
            if row_match is None and not has_number:
                if not any(normalize(c.text) for c in row_cells):
                    continue  # a blank spacer row
                # A stray piece of text (a wrapped block label in a borderless table); two in
                # a row mean the block has ended.
                fragments += 1
                if fragments >= 2:
                    break
                continue
            fragments = 0
            last_row = r
            i = len(record.funding)
            label = label_cell.text.strip() if label_cell else ""
            row = FundingRow(label=label, kind=funding_kind(label) if label else "other")
            label_score = row_match.score if row_match else 0.6
            if label_cell is not None:
                run.prov(f"funding[{i}].label", [label_cell], label=label_score)
                run.prov(f"funding[{i}].kind", [label_cell], label=label_score)
            else:
                run.flag(f"funding row {i + 1} has numbers but no label", [f"funding[{i}]"])
                run.warn(
                    ROW_UNREAD_CODE,
                    f"funding row {i + 1} has numbers but no label was read",
                    [f"funding[{i}].label"],
                )
            for name, cells in by_field.items():
                if name == "reason":
                    run.ignored.update(id(c) for c in cells)
                    continue
                value, clean = _number(cells)
                col_match = cmap.match_of(name)
                setattr(row, name, value)
                if value is not None:
                    run.prov(
                        f"funding[{i}].{name}",
                        cells,
                        label=min(label_score, col_match.score if col_match else 0.6),
                        parse=clean,
                    )
                elif clean == 1.0:
                    run.used.update(id(c) for c in cells)  # a printed "-": placed as null
                else:
                    run.warn(
                        ROW_UNREAD_CODE,
                        f"funding row {i + 1}: «{_snippet(cells)}» under {name} is not a number",
                        [f"funding[{i}].{name}"],
                    )
            record.funding.append(row)
        record.funding_unit = self._funding_unit(run, gv, hrow, last_row, cmap)
        run.bodies.append(("funding", gv.index, hrow + 1, last_row))
        if not record.funding:
            run.flag("项目资金 header found but no funding rows under it", ["funding"])
            run.warn(SECTION_MISSING_CODE, "no row of the 项目资金 table was read", ["funding"])

    def _funding_unit(
        self, run: _Run, gv: _GridView, hrow: int, last_row: int, cmap: _ColumnMap
    ) -> str | None:
        # The block label beside the header ("项目资金（万元）", possibly a tall merged cell, or
        # pieces of it on several rows of a borderless table), then the column headers
        # ("年初预算数（万元）"), then any line ("单位：万元").
        candidates = [
            c
            for r in range(hrow, min(last_row + 2, gv.n_rows))
            for c in gv.starting(r)
            if c.col < cmap.min_col()
        ]
        candidates += [c for c in gv.covering(hrow) if c.row < hrow and c.col < cmap.min_col()]
        candidates += [c.header for c in cmap.columns]
        if hrow > 0:
            candidates += gv.covering(hrow - 1)
        for cell in candidates:
            unit = money_unit(cell.text)
            if unit:
                if _is_block(cell):
                    run.prov("funding_unit", [cell], label=1.0)
                else:
                    run.prov("funding_unit", [cell], label=0.9)
                    run.used.add(id(cell))
                return unit
        for cell in candidates:
            if _is_block(cell):
                run.used.add(id(cell))
        for _, cell in run.all_cells():
            if _is_block(cell) and money_unit(cell.text):
                run.prov("funding_unit", [cell], label=0.9)
                return money_unit(cell.text)
        for line, page in zip(run.form.lines, _line_pages(run.form), strict=False):
            unit = money_unit(line.text)
            if unit:
                _line_prov(run, "funding_unit", line, page, 0.85)
                return unit
        return None

    def _find_header(
        self,
        run: _Run,
        table: SynonymTable,
        required_any: tuple[str, ...],
        min_fields: int,
        start: tuple[int, int] | None = None,
    ) -> tuple[_GridView, int, _ColumnMap] | None:
        """The first row (from `start`) whose cells name ≥ min_fields columns of `table`."""
        for gv, r in run.rows():
            if start is not None and (gv.index, r) < start:
                continue
            cmap = _column_map(gv, r, table, fuzzy=True)
            names = cmap.fields()
            # Header cells must start in this row (merged headers from above may join them).
            if (
                len(names) >= min_fields
                and names.intersection(required_any)
                and any(c.header.row == r for c in cmap.columns)
            ):
                return gv, r, cmap
        return None

    # --- 年度总体目标 -------------------------------------------------------------------------

    def _goals(self, run: _Run, record: FormRecord) -> None:
        labels: list[tuple[_GridView, Cell, LabelMatch]] = []
        for gv, cell in run.all_cells():
            m = classify(cell.text, GOALS, fuzzy=False)
            if m is None:
                continue
            run.used.add(id(cell))
            if m.field != "goal_block":
                labels.append((gv, cell, m))
        # 预期目标 | 实际完成情况 side by side on one row of a borderless table: the texts sit
        # under them but may start on the label row itself or wrap over several rows.
        exp = next((x for x in labels if x[2].field == "goal_expected"), None)
        act = next((x for x in labels if x[2].field == "goal_actual"), None)
        if (
            exp is not None
            and act is not None
            and exp[0] is act[0]
            and exp[1].row == act[1].row
            and exp[1].col < act[1].col
            and not run.ruled.get(id(exp[1]), True)
        ):
            sides = _side_by_side_texts(exp[0], exp[1], act[1])
            for (_, _, m), cells in ((exp, sides[0]), (act, sides[1])):
                if cells:
                    setattr(record, m.field, join_lines([c.text for c in cells]))
                    run.prov(m.field, cells, label=m.score * 0.95)
        for gv, cell, m in labels:
            if getattr(record, m.field) is not None:
                continue
            value_cell = gv.right_of(cell)
            if (
                value_cell is None
                or _label_or_none(value_cell) is not None
                or not _text(value_cell)
            ):
                value_cell = gv.below(cell)
            if value_cell is None or _label_or_none(value_cell) is not None:
                continue
            cells = [value_cell, *_continuation(run, gv, value_cell)]
            value = join_lines([c.text for c in cells])
            if value:
                setattr(record, m.field, value)
                run.prov(m.field, cells, label=m.score)
        if record.goal_expected is None:
            # Only a block label ("年度总体目标 | text"): the text beside it is the goal.
            for gv, cell in run.all_cells():
                m = classify(cell.text, GOALS, fuzzy=False)
                if m is None or m.field != "goal_block":
                    continue
                value_cell = gv.right_of(cell)
                if value_cell is None or _label_or_none(value_cell) or not _text(value_cell):
                    continue
                cells = [value_cell, *_continuation(run, gv, value_cell)]
                record.goal_expected = join_lines([c.text for c in cells])
                run.prov("goal_expected", cells, label=m.score * 0.9)
                break

    def _not_in_record(self, run: _Run) -> None:
        """项目负责人 / 联系电话 …: known fields outside the record; their values are no news."""
        for gv, cell in run.all_cells():
            m = classify_any(cell.text)
            if m is None or m.table not in ("not_in_record", "trailer"):
                continue
            # 评价结论 / 存在问题 / 改进措施 (outside the indicator grid too) and 项目负责人 …
            run.ignored.add(id(cell))
            value_cell = gv.right_of(cell)
            if m.table == "trailer" and (value_cell is None or not _text(value_cell)):
                value_cell = gv.below(cell)
            if value_cell is not None and _label_or_none(value_cell) is None:
                run.ignored.add(id(value_cell))

    # --- 绩效指标 ---------------------------------------------------------------------------

    def _indicators(self, run: _Run, record: FormRecord) -> None:
        header = self._find_header(run, INDICATOR_COLUMNS, ("name", "level1"), min_fields=4)
        if header is None:
            run.flag(
                "no 绩效指标 table header (一级指标 / 三级指标 / 分值 …) found", ["indicators"]
            )
            run.warn(SECTION_MISSING_CODE, "the 绩效指标 table could not be read", ["indicators"])
            return
        gv, hrow, cmap = header
        cmap, first_data = _merge_subheader(gv, hrow, cmap)
        cmap = _infer_level1(gv, hrow, cmap)
        run.used.update(id(c.header) for c in cmap.columns)
        level1: tuple[str | None, Cell | None] = (None, None)
        level2: tuple[str | None, Cell | None] = (None, None)
        views = run.views[gv.index :]
        map_view = gv  # the grid whose column numbers `cmap` uses
        for vi, view in enumerate(views):
            start = first_data if vi == 0 else 0
            if vi > 0:
                # A table continued in a separate grid: re-read its header if it repeats one,
                # otherwise it must have the same columns to reuse the map, or columns that
                # line up with the header's on the page (a borderless table whose columns
                # were inferred page by page).
                again = _column_map(view, 0, INDICATOR_COLUMNS, fuzzy=True)
                if len(again.fields()) >= 4 and again.fields().intersection({"name", "level1"}):
                    cmap, start = _merge_subheader(view, 0, again)
                    run.used.update(id(c.header) for c in cmap.columns)
                    map_view = view
                elif view.n_cols != map_view.n_cols:
                    aligned = _align_columns(view, map_view)
                    if aligned is None:
                        break
                    run.views[view.index] = view = aligned
            stop = False
            last = start - 1
            for r in range(start, view.n_rows):
                outcome = self._indicator_row(run, record, view, r, cmap, level1, level2)
                if outcome is None:
                    stop = True
                    break
                level1, level2 = outcome
                last = r
            if last >= start:
                run.bodies.append(("indicators", view.index, start, last))
            if stop:
                break
        if record.total_score is None:
            self._total_fallback(run, record, later=run.views[gv.index + 1 :])
        if not record.indicators:
            run.flag("绩效指标 header found but no indicator rows under it", ["indicators"])
            run.warn(SECTION_MISSING_CODE, "no row of the 绩效指标 table was read", ["indicators"])

    def _indicator_row(
        self,
        run: _Run,
        record: FormRecord,
        gv: _GridView,
        r: int,
        cmap: _ColumnMap,
        level1: tuple[str | None, Cell | None],
        level2: tuple[str | None, Cell | None],
    ) -> tuple[tuple[str | None, Cell | None], tuple[str | None, Cell | None]] | None:
        """Read one row; returns the levels to inherit, or None when the table has ended."""
        covering = gv.covering(r)
        labels = {id(c): classify_any(c.text) for c in covering if c.row == r}
        kinds = {(m.table, m.field) for m in labels.values() if m is not None}
        if any(t == "trailer" for t, _ in kinds):
            # 评价结论 / 存在问题 …: not part of the record, nor is anything after it.
            for rest in range(r, gv.n_rows):
                run.ignored.update(id(c) for c in gv.starting(rest))
            return None
        if sum(1 for m in labels.values() if m is not None and m.table == "indicator_column") >= 3:
            # A header row repeated after a page break: not an indicator.
            run.used.update(cid for cid, m in labels.items() if m is not None)
            run.used.update(id(c) for c in covering if c.row == r and not normalize(c.text))
            return level1, level2
        if kinds and all(t == "indicator_block" for t, _ in kinds) and len(labels) == 1:
            # The block label repeated after a page break ("绩效指标(90分)" across the table):
            # it names no level, and the levels above carry on under it.
            run.used.update(labels)
            return level1, level2
        if ("totals", "grade") in kinds and ("totals", "total") not in kinds:
            return level1, level2  # handled by _grade
        if ("totals", "total") in kinds:
            self._total_row(run, record, gv, r, cmap, labels)
            return level1, level2
        starting = gv.starting(r)
        by_field = cmap.assign(starting)
        name_cells = by_field.get("name", [])
        name = join_lines([c.text for c in name_cells])
        value_fields = ("target", "actual", "weight", "score", "operator", "unit")
        has_values = any(normalize(c.text) for f in value_fields for c in by_field.get(f, []))
        lvl1_new = _level_cell(gv, r, cmap.first_col("level1"))
        lvl2_new = _level_cell(gv, r, cmap.first_col("level2"))
        if not name:
            if record.indicators and has_values and not _has_text(by_field, ("target", "actual")):
                # "100 | 94.46" under 分值 | 得分 with no label: the total row.
                self._total_row(run, record, gv, r, cmap, labels)
                return level1, level2
            if not has_values:
                # A row holding only a level label (a level printed on its own row) sets it.
                if lvl1_new is not None and lvl1_new.row == r and normalize(lvl1_new.text):
                    text1 = strip_weight_suffix(lvl1_new.text.strip())
                    if text1 != level1[0]:
                        level2 = (None, None)
                    level1 = (text1, lvl1_new)
                    run.used.add(id(lvl1_new))
                return level1, level2
        # Level labels: the covering cell (merged down) or, when blank (a page break), inherit.
        inherited1 = inherited2 = True
        if lvl1_new is not None and normalize(lvl1_new.text):
            text1 = strip_weight_suffix(lvl1_new.text.strip())
            inherited1 = lvl1_new.row != r
            changed1 = text1 != level1[0]
            level1 = (text1, lvl1_new)
        else:
            changed1 = False
        if (
            lvl2_new is not None
            and normalize(lvl2_new.text)
            and (lvl1_new is None or id(lvl2_new) != id(lvl1_new))
        ):
            level2 = (lvl2_new.text.strip(), lvl2_new)
            inherited2 = lvl2_new.row != r
        elif lvl2_new is not None and lvl1_new is not None and id(lvl2_new) == id(lvl1_new):
            level2 = (None, None)  # one merged level cell: this layout has no 二级 here
        elif changed1:
            level2 = (None, None)  # a new 一级 with a blank 二级 does not inherit the old one
        i = len(record.indicators)
        target = _joined_target(by_field)
        actual_cells = by_field.get("actual", [])
        actual = join_lines([c.text for c in actual_cells]) or None
        weight, weight_clean = _number(by_field.get("weight", []))
        score, score_clean = _number(by_field.get("score", []))
        reason_cells = by_field.get("deviation_reason", [])
        reason = join_lines([c.text for c in reason_cells]) or None
        indicator = Indicator(
            level1=level1[0],
            level2=level2[0],
            name=name,
            target_text=target[0],
            actual_text=actual,
            weight=weight,
            score=score,
            deviation_reason=reason,
        )
        record.indicators.append(indicator)
        if not name:
            run.flag(
                f"indicator row {i + 1} has values but no 三级指标 name", [f"indicators[{i}].name"]
            )
            run.warn(
                ROW_UNREAD_CODE,
                f"indicator row {i + 1} has values but no 三级指标 name was read",
                [f"indicators[{i}].name"],
            )

        def label(col: str) -> float:
            m = cmap.match_of(col)
            return m.score if m else 0.6

        p = f"indicators[{i}]"
        if level1[1] is not None and level1[0]:
            run.prov(f"{p}.level1", [level1[1]], label=label("level1"), inherited=inherited1)
        if level2[1] is not None and level2[0]:
            run.prov(f"{p}.level2", [level2[1]], label=label("level2"), inherited=inherited2)
        run.prov(f"{p}.name", name_cells, label=label("name"))
        if target[0] is not None:
            run.prov(f"{p}.target_text", target[1], label=label("target"))
        if actual is not None:
            run.prov(f"{p}.actual_text", actual_cells, label=label("actual"))
        for col, value, clean in (("weight", weight, weight_clean), ("score", score, score_clean)):
            cells = by_field.get(col, [])
            if value is not None:
                run.prov(f"{p}.{col}", cells, label=label(col), parse=clean)
            elif clean == 1.0:
                run.used.update(id(c) for c in cells)
            else:
                run.warn(
                    ROW_UNREAD_CODE,
                    f"indicator row {i + 1}: «{_snippet(cells)}» under {col} is not a number",
                    [f"{p}.{col}"],
                )
        if reason is not None:
            run.prov(f"{p}.deviation_reason", reason_cells, label=label("deviation_reason"))
        return level1, level2

    def _total_row(
        self,
        run: _Run,
        record: FormRecord,
        gv: _GridView,
        r: int,
        cmap: _ColumnMap,
        labels: dict[int, LabelMatch | None],
    ) -> None:
        label_ids = {cid for cid, m in labels.items() if m is not None}
        run.used.update(label_ids)
        by_field = cmap.assign(gv.starting(r), skip=label_ids)
        total_match = next((m for m in labels.values() if m is not None), None)
        label_score = total_match.score if total_match else 0.7
        weight, wc = _number(by_field.get("weight", []))
        score, sc = _number(by_field.get("score", []))
        if weight is None and score is None:
            # Numbers not under the 分值 / 得分 columns (a merged total row): take them in order.
            numbers = [
                (parse_number(c.text), c)
                for c in gv.starting(r)
                if id(c) not in label_ids and parse_number(c.text) is not None
            ]
            if len(numbers) == 2:
                (weight, wcell), (score, scell) = numbers
                run.prov("total_weight", [wcell], label=label_score * 0.9)
                run.prov("total_score", [scell], label=label_score * 0.9)
            elif len(numbers) == 1:
                score, scell = numbers[0]
                run.prov("total_score", [scell], label=label_score * 0.9)
        else:
            if weight is not None:
                run.prov("total_weight", by_field["weight"], label=label_score, parse=wc)
            if score is not None:
                run.prov("total_score", by_field["score"], label=label_score, parse=sc)
        if record.total_score is None:
            record.total_weight = weight
            record.total_score = score

    def _total_fallback(self, run: _Run, record: FormRecord, later: list[_GridView]) -> None:
        """总分 outside the indicator grid (a separately drawn block): numbers right of its label,
        or, with no label, a row of one or two bare numbers right after the table."""
        for gv, cell in run.all_cells():
            m = classify(cell.text, TOTALS, fuzzy=False)
            if m is None or m.field != "total" or id(cell) in run.used:
                continue
            run.used.add(id(cell))
            cells = [c for c in gv.starting(cell.row) if c.col > cell.col and normalize(c.text)]
            if self._bare_total(run, record, cells, m.score):
                return
        # Free text under the table: "总分   100   94.46" as lines on one baseline.
        for _, page, beside in _labelled_lines(run, "total"):
            numbers = [(parse_number(ln.text), ln) for ln in beside]
            if not numbers or len(numbers) > 2 or any(v is None for v, _ in numbers):
                continue
            if len(numbers) == 2:
                record.total_weight = numbers[0][0]
                _line_prov(run, "total_weight", numbers[0][1], page, 0.85)
            record.total_score = numbers[-1][0]
            _line_prov(run, "total_score", numbers[-1][1], page, 0.85)
            return
        for gv in later:
            for r in range(gv.n_rows):
                cells = [c for c in gv.starting(r) if normalize(c.text)]
                if cells:
                    self._bare_total(run, record, cells, 0.7)
                    return

    def _bare_total(
        self, run: _Run, record: FormRecord, cells: list[Cell], label_score: float
    ) -> bool:
        numbers = [(parse_number(c.text), c) for c in cells]
        if not numbers or len(numbers) > 2 or any(v is None for v, _ in numbers):
            return False
        if len(numbers) == 2:
            (record.total_weight, wcell), (record.total_score, scell) = numbers
            run.prov("total_weight", [wcell], label=label_score * 0.9)
        else:
            record.total_score, scell = numbers[0]
        run.prov("total_score", [scell], label=label_score * 0.9)
        return True

    # --- grade ----------------------------------------------------------------------------

    def _grade(self, run: _Run, record: FormRecord) -> None:
        for gv, cell in run.all_cells():
            m = classify(cell.text, TOTALS, fuzzy=False)
            if m is not None and m.field == "grade":
                run.used.add(id(cell))
                value_cell = gv.right_of(cell) or gv.below(cell)
                value = _text(value_cell)
                if value_cell is not None and value and len(normalize(value)) <= _GRADE_MAX_CHARS:
                    record.grade = value
                    run.prov("grade", [value_cell], label=m.score)
                    return
                continue
            split = split_label_prefix(cell.text, {"grade": TOTALS["grade"]})
            if split is not None and len(normalize(split[1])) <= _GRADE_MAX_CHARS:
                record.grade = split[1]
                run.prov("grade", [cell], label=split[0].score * 0.95)
                return
        for line, page in zip(run.form.lines, _line_pages(run.form), strict=False):
            split = split_label_prefix(line.text, {"grade": TOTALS["grade"]})
            if split is not None and len(normalize(split[1])) <= _GRADE_MAX_CHARS:
                record.grade = split[1]
                _line_prov(run, "grade", line, page, split[0].score * 0.9)
                return
        for _, page, beside in _labelled_lines(run, "grade"):
            if len(beside) == 1 and 0 < len(normalize(beside[0].text)) <= _GRADE_MAX_CHARS:
                record.grade = beside[0].text.strip()
                _line_prov(run, "grade", beside[0], page, 0.85)
                return

    # --- OCR repairs ----------------------------------------------------------------------

    def _ocr_repairs(self, run: _Run, record: FormRecord) -> None:
        """Signs OCR turned into CJK characters ("过30.00(项)") and junk after names: repaired
        where a rule allows, always doubted (below review), the printed text kept in the
        provenance's source_text."""
        signs = [leading_sign(ind.target_text) for ind in record.indicators]
        for i, ind in enumerate(record.indicators):
            slot = sign_slot(ind.target_text)
            if slot is None:
                continue
            others = [s for k, s in enumerate(signs) if k != i and s is not None]
            sign = _sign_from_context(ind, slot[0], slot[1], others)
            if sign is not None:
                ind.target_text = sign + slot[1]
                run.doubt(f"indicators[{i}].target_text", {"repaired": 1.0, "parse_clean": 0.5})
        for i, ind in enumerate(record.indicators):
            for leaf in ("target_text", "actual_text"):
                # Two "n(unit)" values in one cell: a neighbouring column's value slipped in.
                if len(_VALUE_UNIT_RE.findall(getattr(ind, leaf) or "")) >= 2:
                    run.doubt(f"indicators[{i}].{leaf}", {"parse_clean": 0.5})
        named: list[tuple[object, str, str]] = [
            (record, name, name)
            for name in ("project_name", "competent_department", "implementing_unit")
        ]
        for i, ind in enumerate(record.indicators):
            named += [(ind, leaf, f"indicators[{i}].{leaf}") for leaf in _NAME_LEAVES]
        for owner, attr, path in named:
            value = getattr(owner, attr)
            if not isinstance(value, str) or not value:
                continue
            tail = junk_tail(value)
            prov = run.fields.get(path)
            low_ocr = prov is not None and prov.signals.get("ocr_confidence", 1.0) < _LOW_OCR
            if tail is None and not low_ocr:
                continue
            signals = {"text_shape": 0.5}
            if tail is not None and tail[2]:
                setattr(owner, attr, tail[0])  # only symbols no name ends with
                signals["repaired"] = 1.0
            run.doubt(path, signals)

    def _ocr_doubts(self, run: _Run, record: FormRecord) -> None:
        """On OCR'd pages, shapes a printed value does not have send it to a person: unbalanced
        brackets, stray marks at either end, an ASCII > or < (forms print ≥ / ≤), a target with
        no sign where most of the form's targets carry one (a sign OCR dropped), a level label
        one character off the level names forms use (效益指标豪)."""
        signed = [leading_sign(ind.target_text) is not None for ind in record.indicators]
        numeric = [
            _head_number(_unsigned(ind.target_text)) is not None for ind in record.indicators
        ]
        signs_usual = sum(signed) >= max(2, sum(numeric) // 2)
        for i, ind in enumerate(record.indicators):
            for leaf in (
                "target_text",
                "actual_text",
                "name",
                "level1",
                "level2",
                "deviation_reason",
            ):
                path = f"indicators[{i}].{leaf}"
                prov = run.fields.get(path)
                value = getattr(ind, leaf)
                if prov is None or "ocr_confidence" not in prov.signals or not value:
                    continue
                if _odd_ocr_shape(value, leaf) or (
                    leaf == "target_text" and signs_usual and numeric[i] and not signed[i]
                ):
                    run.doubt(path, {"ocr_shape": 0.0})
        for name in ("project_name", "competent_department", "implementing_unit", "grade"):
            prov = run.fields.get(name)
            value = getattr(record, name)
            ocr = prov is not None and "ocr_confidence" in prov.signals
            if ocr and value and _odd_ocr_shape(value, name):
                run.doubt(name, {"ocr_shape": 0.0})
        # forms print weights and scores to two decimals: a third is a speck read as a digit
        for i, ind in enumerate(record.indicators):
            for leaf in ("weight", "score"):
                path = f"indicators[{i}].{leaf}"
                prov = run.fields.get(path)
                number = getattr(ind, leaf)
                ocr = prov is not None and "ocr_confidence" in prov.signals
                if ocr and number is not None and round(number, 2) != number:
                    run.doubt(path, {"ocr_shape": 0.0})

    def _unread_rows(self, run: _Run, record: FormRecord, unplaced: list[Cell]) -> None:
        """Cells left unread inside a table body that was read: each such row is a finding."""
        ids = {id(c) for c in unplaced}
        rows: dict[tuple[str, int, int], list[Cell]] = {}
        for gv, cell in run.all_cells():
            if id(cell) not in ids:
                continue
            for section, vi, r0, r1 in run.bodies:
                if gv.index == vi and r0 <= cell.row <= r1:
                    rows.setdefault((section, vi, cell.row), []).append(cell)
                    break
        for (section, _, _), cells in sorted(rows.items()):
            run.warn(
                ROW_UNREAD_CODE,
                f"{section} table, page {cells[0].page}: «{_snippet(cells)}» was not read",
                [section],
            )
        short = _weights_short(record)
        if short is not None and any(key[0] == "indicators" for key in rows):
            got, printed = short
            run.warn(
                ROW_UNREAD_CODE,
                f"indicator weights add up to {got:g}, the printed total is {printed:g}: "
                "rows of the 绩效指标 table may be missing",
                ["indicators", "total_weight"],
            )

    # --- missing sections -----------------------------------------------------------------

    def _report(self, run: _Run, record: FormRecord) -> None:
        for name in ("project_name", "goal_expected", "goal_actual", "total_score"):
            if getattr(record, name) is None:
                run.flag(f"{name} not found by its label", [name])


# --- helpers --------------------------------------------------------------------------------


# The level names forms print (2021 templates and their variants): a label one character off
# one of them on an OCR'd page is a misreading, not a new level.
_LEVEL_NAMES = frozenset(
    {
        "产出指标",
        "效益指标",
        "满意度指标",
        "成本指标",
        "数量指标",
        "质量指标",
        "时效指标",
        "经济效益指标",
        "社会效益指标",
        "生态效益指标",
        "可持续影响指标",
        "服务对象满意度指标",
        "经济成本指标",
        "社会成本指标",
        "生态环境成本指标",
    }
)
_BRACKETS = (("(", ")"), ("（", "）"), ("[", "]"), ("【", "】"), ("“", "”"))
_STRAY_ENDS = frozenset("。，,.、·•?？®■□●*#~`'‘’\"|;；:：!！")
_NAMES_AND_LABELS = frozenset(
    {"name", "level1", "level2", "project_name", "competent_department", "implementing_unit"}
)


def _unsigned(text: str | None) -> str:
    flat = normalize(text or "")
    return flat[1:] if flat[:1] in ("≥", "≤", "=", ">", "<", "＞", "＜") else flat


def _odd_ocr_shape(value: str, leaf: str) -> bool:
    """A shape no printed value of this kind has (see `_ocr_doubts`)."""
    text = value.strip()
    for pair in ((_BRACKETS[0], _BRACKETS[1]), (("“", "”"),), (("‘", "’"),)):
        if sum(text.count(a) for a, _ in pair) != sum(text.count(b) for _, b in pair):
            return True  # a bracket or quote OCR dropped, or a speck read as one
    if leaf in _NAMES_AND_LABELS and "。" in text:
        return True  # names hold no full stop; a speck between two glyphs reads as one
    if leaf in ("target_text", "actual_text") and re.match(r"[A-Za-z]\s*\d", text):
        return True  # a sign read as a letter ("M 90.00(%)")
    if text[-1] in _STRAY_ENDS and leaf != "deviation_reason":
        return True  # a value, a name or a level does not end in a mark (a sentence may)
    if text[0] in _STRAY_ENDS - {"“", "‘"}:
        return True
    if leaf in ("target_text", "actual_text") and any(c in text for c in "><"):
        return True
    if leaf in ("level1", "level2"):
        flat = strip_weight_suffix(normalize(text))
        if flat not in _LEVEL_NAMES and any(
            abs(len(flat) - len(known)) <= 1 and SequenceMatcher(None, flat, known).ratio() >= 0.8
            for known in _LEVEL_NAMES
        ):
            return True
    return False


def _snippet(cells: list[Cell]) -> str:
    return " ".join(c.text.strip().replace("\n", "") for c in cells)[:30]


def _weights_short(record: FormRecord) -> tuple[float, float] | None:
    """(Σ weights read, the printed total) when the weights read fall short of the total."""
    if record.total_weight is None or not record.indicators:
        return None
    weights = [ind.weight for ind in record.indicators]
    if any(w is None for w in weights):
        return None
    got = sum(w or 0.0 for w in weights)
    got += sum(row.weight or 0.0 for row in record.funding if row.kind == "total")
    return (got, record.total_weight) if got < record.total_weight - 0.01 else None


_VALUE_UNIT_RE = re.compile(r"\d(?:\.\d+)?\s*[(（][^()（）\d]{1,8}[)）]")
_NUMBER_HEAD_RE = re.compile(r"^\s*(\d[\d,]*(?:\.\d+)?)")
# Words of a quantity an indicator name uses when its target is "≥ n (unit)".
_QUANTITY_NAME_RE = re.compile(r"率|数|量|次|度|时长|天数")


def _head_number(text: str | None) -> float | None:
    m = _NUMBER_HEAD_RE.match(text or "")
    return parse_number(m.group(1)) if m else None


def _sign_from_context(ind: Indicator, glyph: str, rest: str, others: list[str]) -> str | None:
    """The sign an OCR'd glyph before a target's number stands for, or None when nothing
    around it says a sign belongs there (other targets of the table carry signs, or the name
    is a quantity). Among ≥ / ≤, the numbers decide when they can: full marks mean the
    target was met, so an actual above the target means ≥; then the table's usual sign; then
    the glyph's shape."""
    if not others and not _QUANTITY_NAME_RE.search(ind.name or ""):
        return None
    prior = SIGN_CONFUSIONS[glyph]
    if prior == "=":
        return prior
    a, b = _head_number(rest), _head_number(ind.actual_text)
    if a is not None and b is not None and a != b and None not in (ind.weight, ind.score):
        full = abs((ind.score or 0.0) - (ind.weight or 0.0)) < 0.005
        return "≥" if (b > a) == full else "≤"
    usual = [s for s in others if s in "≥≤"]
    if usual:
        return max(("≥", "≤"), key=usual.count)
    return prior


def _line_pages(form: FormRegion) -> list[int]:
    if len(form.line_pages) == len(form.lines):
        return form.line_pages
    default = form.pages[0] if form.pages else 1
    return [default] * len(form.lines)


def _labelled_lines(run: _Run, field: str) -> Iterator[tuple[TextLine, int, list[TextLine]]]:
    """Free-text lines that are a TOTALS label (`field`), each with the lines to its right on
    the same baseline, left to right."""
    pages = _line_pages(run.form)
    for line, page in zip(run.form.lines, pages, strict=False):
        m = classify(line.text, TOTALS, fuzzy=False)
        if m is None or m.field != field:
            continue
        y0, y1 = line.bbox[1], line.bbox[3]
        beside = [
            other
            for other, p in zip(run.form.lines, pages, strict=False)
            if p == page
            and other is not line
            and other.bbox[0] >= line.bbox[2]
            and min(y1, other.bbox[3]) - max(y0, other.bbox[1])
            >= 0.5 * min(y1 - y0, other.bbox[3] - other.bbox[1])
        ]
        yield line, page, sorted(beside, key=lambda ln: ln.bbox[0])


def _line_prov(run: _Run, path: str, line: TextLine, page: int, label: float) -> None:
    run.fields[path] = FieldProvenance(
        confidence=round(max(0.0, min(1.0, label)), 4),
        page=max(page, 1),
        bbox=line.bbox,
        source_text=line.text.strip(),
        extractor=EXTRACTOR_NAME,
        signals={"label_match": round(label, 4), "parse_clean": 1.0, "free_text": 1.0},
    )


def _line_or_cell_prov(
    run: _Run, path: str, cell: Cell | None, line: TextLine | None, page: int
) -> None:
    if cell is not None:
        run.prov(path, [cell], label=1.0)
    elif line is not None:
        _line_prov(run, path, line, page, 1.0)


def _is_block(cell: Cell) -> bool:
    """A block label ("项目资金（万元）", "年度总体目标", "绩效指标(90分)")."""
    m = classify_any(cell.text)
    if m is None:
        return False
    return m.table in ("funding_block", "indicator_block") or m.field == "goal_block"


def _side_by_side_texts(gv: _GridView, exp: Cell, act: Cell) -> tuple[list[Cell], list[Cell]]:
    """Text cells from the label row down to the next label row, each given to the label whose
    column centre is nearer; text wholly left of 预期目标 (a wrapped block label) is neither."""

    def centre(c: Cell) -> float:
        return c.col + c.colspan / 2

    out: tuple[list[Cell], list[Cell]] = ([], [])
    for r in range(exp.row, gv.n_rows):
        cells = [c for c in gv.starting(r) if c is not exp and c is not act]
        if r > exp.row and any(_label_or_none(c) is not None and not _is_block(c) for c in cells):
            break
        for c in cells:
            if not normalize(c.text) or _label_or_none(c) is not None:
                continue
            if c.col + c.colspan <= exp.col:
                continue
            nearer_exp = abs(centre(c) - centre(exp)) <= abs(centre(c) - centre(act))
            out[0 if nearer_exp else 1].append(c)
    return out


def _continuation(run: _Run, gv: _GridView, cell: Cell) -> list[Cell]:
    """Rows continuing a tall text cell in a borderless table, where each wrapped line may come
    as a row of its own: the text under the cell's columns until a label or a gap."""
    if run.ruled.get(id(cell), True):
        return []
    out: list[Cell] = []
    for r in range(cell.row + max(cell.rowspan, 1), gv.n_rows):
        below = [
            c
            for c in gv.starting(r)
            if _overlap(c.col, c.col + c.colspan, cell.col, cell.col + cell.colspan) > 0
            and normalize(c.text)
        ]
        if not below or any(_label_or_none(c) is not None for c in below):
            break
        out.extend(below)
    return out


def _funding_label(
    cells: list[Cell], first_value_col: int
) -> tuple[Cell | None, LabelMatch | None]:
    """The row label of a 项目资金 row: a cell naming a funding row wherever it sits (borderless
    tables shift columns), else the rightmost text left of the money columns."""
    # Several names on one row (a label anchored a row too high): the one nearest the money
    # columns and starting on this row is the row's own.
    candidates = sorted(
        (c for c in cells if not _is_block(c)), key=lambda c: (c.rowspan > 1, -c.col)
    )
    for fuzzy in (False, True):
        for cell in candidates:
            m = classify(cell.text, FUNDING_ROWS, fuzzy=fuzzy)
            if m is not None:
                return cell, m
    left = [c for c in cells if c.col < first_value_col and normalize(c.text) and not _is_block(c)]
    left = [c for c in left if parse_number(c.text) is None and not is_empty_mark(c.text)]
    return (left[-1], None) if left else (None, None)


def _stops_funding(cell: Cell) -> bool:
    m = classify_any(cell.text)
    return m is not None and m.table in ("goals", "indicator_column", "indicator_block", "totals")


def _level_cell(gv: _GridView, r: int, col: int | None) -> Cell | None:
    """The cell naming this row's level, merged down from above; a header label ("一级指标" of
    a repeated header) is never a level value."""
    cell = gv.at(r, col) if col is not None else None
    if cell is not None and classify(cell.text, INDICATOR_COLUMNS, fuzzy=False) is not None:
        return None
    return cell


def _has_text(by_field: dict[str, list[Cell]], names: tuple[str, ...]) -> bool:
    return any(normalize(c.text) for n in names for c in by_field.get(n, []))


def _joined_target(by_field: dict[str, list[Cell]]) -> tuple[str | None, list[Cell]]:
    """年度指标值, or 指标性质 + 指标值 + 度量单位 joined with no spaces (contract §1)."""
    parts: list[str] = []
    cells: list[Cell] = []
    for name in ("operator", "target", "unit"):
        for cell in by_field.get(name, []):
            text = join_lines(cell.text.splitlines())
            if text:
                parts.append(text)
                cells.append(cell)
            elif name != "target":
                cells.append(cell)
    if not parts:
        return None, by_field.get("target", [])
    return "".join(parts), cells


def _align_columns(view: _GridView, target: _GridView) -> _GridView | None:
    """`view`'s cells renumbered into `target`'s columns by where they sit across the page,
    or None when either grid lacks column boundaries. Each cell takes the columns it covers
    for at least half their width, and at least the one holding its centre."""
    bounds = target.grid.col_bounds
    if len(bounds) != target.n_cols + 1 or not view.grid.cells:
        return None
    cells: list[Cell] = []
    for cell in view.grid.cells:
        x0, x1 = cell.bbox[0], cell.bbox[2]
        centre = (x0 + x1) / 2
        covered = [
            k
            for k in range(target.n_cols)
            if bounds[k] <= centre < bounds[k + 1]
            or min(x1, bounds[k + 1]) - max(x0, bounds[k]) >= 0.5 * (bounds[k + 1] - bounds[k])
        ]
        if not covered:
            covered = [0 if centre < bounds[0] else target.n_cols - 1]
        cells.append(replace(cell, col=min(covered), colspan=max(covered) - min(covered) + 1))
    grid = replace(view.grid, cells=cells, n_cols=target.n_cols, col_bounds=list(bounds))
    return _GridView.of(grid, view.index)


def _infer_level1(gv: _GridView, hrow: int, cmap: _ColumnMap) -> _ColumnMap:
    """一级指标 unreadable ("级指标" after a lost line) but 二级指标 found: the column just left
    of 二级 is 一级 when its header is no other label. Low label score: a reviewer should look."""
    fields = cmap.fields()
    c2 = cmap.first_col("level2")
    if "level1" in fields or c2 is None or c2 == 0:
        return cmap
    cell = gv.at(hrow, c2 - 1)
    if cell is None or any(col.header is cell for col in cmap.columns):
        return cmap
    if classify_any(cell.text) is not None:
        return cmap
    guess = LabelMatch("level1", "fuzzy", 0.6)
    columns = [*cmap.columns, _Column("level1", cell.col, c2, cell, guess)]
    columns.sort(key=lambda col: col.c0)
    return _ColumnMap(columns)


def _merge_subheader(gv: _GridView, hrow: int, cmap: _ColumnMap) -> tuple[_ColumnMap, int]:
    """A two-row header (年度指标值 over 指标性质 | 指标值 | 度量单位): sub-labels refine columns.

    Returns the refined map and the first data row.
    """
    header_bottom = max(c.header.row + c.header.rowspan for c in cmap.columns)
    first_data = max(hrow + 1, header_bottom)
    nxt = hrow + 1
    if nxt >= gv.n_rows:
        return cmap, first_data
    sub = [
        (c, classify(c.text, INDICATOR_COLUMNS, fuzzy=True))
        for c in gv.starting(nxt)
        if normalize(c.text)
    ]
    matched = [(c, m) for c, m in sub if m is not None]
    if len(matched) < 2 or len(matched) < len(sub):
        return cmap, first_data
    columns = [
        col
        for col in cmap.columns
        if not any(_overlap(col.c0, col.c1, c.col, c.col + c.colspan) for c, _ in matched)
    ]
    for c, m in matched:
        columns.append(_Column(m.field, c.col, c.col + c.colspan, c, m))
    return _ColumnMap(_disjoint(columns)), max(first_data, nxt + 1)


def open_layout_extractor(options: ExtractorOptions | None = None) -> LayoutExtractor:
    """Factory for base.open_extractor("layout"); the layout extractor takes no options."""
    return LayoutExtractor()


__all__ = [
    "ERROR_CODE",
    "EXTRACTOR_NAME",
    "UNPLACED_CODE",
    "LayoutExtractor",
    "open_layout_extractor",
]
