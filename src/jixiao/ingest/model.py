"""Typed values passed between the ingestion stages.

PDF file → Document (pdf.py) → PageLayout[] → Grid[] (grid.py) → FormRegion[] (segment.py)
→ LayoutText (serialize.py). Plain slotted dataclasses: ingestion must run at > 40 pages/s,
and these are built by the thousand per page. Coordinates are PDF points in the unrotated page
space; page numbers are 1-based everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BBox = tuple[float, float, float, float]


@dataclass(slots=True)
class TextSpan:
    text: str
    bbox: BBox
    font: str
    size: float
    flags: int = 0


@dataclass(slots=True)
class TextLine:
    text: str
    bbox: BBox
    spans: list[TextSpan] = field(default_factory=list)


@dataclass(slots=True)
class Ruling:
    """A ruling line (or a thin filled rectangle) from the page's drawings."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def horizontal(self) -> bool:
        return abs(self.y1 - self.y0) <= abs(self.x1 - self.x0)


PageKind = Literal["text", "image_only", "garbled", "empty"]


@dataclass(slots=True)
class PageLayout:
    number: int  # 1-based
    width: float
    height: float
    rotation: int
    kind: PageKind
    lines: list[TextLine] = field(default_factory=list)
    rulings: list[Ruling] = field(default_factory=list)
    garbled_chars: int = 0  # U+FFFD / unmapped glyphs on the page
    image_area_ratio: float = 0.0  # share of the page covered by images

    @property
    def needs_ocr(self) -> bool:
        return self.kind in ("image_only", "garbled")


@dataclass(slots=True)
class Document:
    path: str
    sha256: str
    page_count: int
    pages: list[PageLayout] = field(default_factory=list)


@dataclass(slots=True)
class Cell:
    """One table cell. `id` is short and stable within a form (e.g. 'c37')."""

    id: str
    row: int
    col: int
    rowspan: int
    colspan: int
    page: int
    bbox: BBox
    text: str  # wrapped lines joined per the contract (CJK without spaces)
    confidence: float | None = None  # OCR: lowest word confidence 0..1; None for a text layer


@dataclass(slots=True)
class Grid:
    """One logical table; a table continuing on the next page is joined into one grid."""

    id: str
    pages: list[int]
    n_rows: int
    n_cols: int
    cells: list[Cell] = field(default_factory=list)
    ruled: bool = True  # False: borderless, columns inferred from text alignment
    col_bounds: list[float] = field(default_factory=list)  # x of the column boundaries
    page_bboxes: dict[int, BBox] = field(default_factory=dict)  # the grid's box on each page

    def row_cells(self, row: int) -> list[Cell]:
        return sorted((c for c in self.cells if c.row == row), key=lambda c: c.col)


# project: 项目支出绩效自评表 (the only kind extracted today); project_target: 项目支出绩效目标表
# / 申报表 / 填报表; department / department_target: 部门整体支出绩效自评表 / 目标表; other: a
# table of unknown kind (an ordinary budget table, a pre-2020 score sheet, conflicting signals).
FormKind = Literal["project", "project_target", "department", "department_target", "other"]


@dataclass(slots=True)
class Region:
    page: int
    bbox: BBox


@dataclass(slots=True)
class FormRegion:
    """One form found in a document."""

    index: int  # 0-based, in document order
    kind: FormKind
    title: str
    pages: list[int]
    regions: list[Region] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    lines: list[TextLine] = field(default_factory=list)  # free text outside the grids
    line_pages: list[int] = field(default_factory=list)  # page of each entry in `lines`
    reason: str | None = None  # why a form is not extracted (None for kind "project")
    kind_reason: str = ""  # which signals decided `kind` (title, columns, structure)


@dataclass(slots=True)
class CellRef:
    page: int
    bbox: BBox
    text: str


@dataclass(slots=True)
class LayoutRow:
    """One serialized row: a table row, or a free text line, with the ids it cites."""

    text: str
    cell_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class LayoutText:
    """A compact text of one form for the LLM; every value sits beside its own labels and
    carries an id that maps back to page + bbox + text."""

    rows: list[LayoutRow] = field(default_factory=list)
    cells: dict[str, CellRef] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.rows)


@dataclass(slots=True)
class IngestResult:
    """What `jixiao.ingest.ingest_pdf` returns for one file."""

    document: Document
    forms: list[FormRegion] = field(default_factory=list)
    # Ordinary budget / final-account tables (kind "other", not forms), summarised by page.
    tables: list[FormRegion] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # garbled pages, OCR needed, unsupported…
