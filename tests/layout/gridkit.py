"""Build ingestion Grids by hand, the way an HTML table is written, for layout-extractor tests.

Each row is a list of cell specs: a plain string, or `C(text, rs=…, cs=…)` for a merged cell.
Slots covered by a span from an earlier row are skipped automatically (HTML table placement),
so a test reads like the printed form. Coordinates are synthetic and deliberately irregular
(column widths vary per grid): the extractor must not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from jixiao.ingest.model import Cell, FormRegion, Grid, TextLine


@dataclass
class C:
    text: str
    rs: int = 1
    cs: int = 1


Spec = str | C


def grid(
    rows: list[list[Spec]],
    *,
    gid: str = "g0",
    page: int = 1,
    ruled: bool = True,
    page_breaks: tuple[int, ...] = (),
    id_prefix: str = "c",
    widths: tuple[float, ...] | None = None,
) -> Grid:
    """A Grid from rows of specs; rows listed in `page_breaks` start a new page."""
    taken: set[tuple[int, int]] = set()
    cells: list[Cell] = []
    n_cols = 0
    current_page = page
    pages = [page]
    for r, row in enumerate(rows):
        if r in page_breaks:
            current_page += 1
            pages.append(current_page)
        col = 0
        for spec in row:
            c = spec if isinstance(spec, C) else C(spec)
            while (r, col) in taken:
                col += 1
            for dr in range(c.rs):
                for dc in range(c.cs):
                    taken.add((r + dr, col + dc))
            cells.append(
                Cell(
                    id=f"{id_prefix}{len(cells)}",
                    row=r,
                    col=col,
                    rowspan=c.rs,
                    colspan=c.cs,
                    page=current_page,
                    bbox=_bbox(r, col, c.rs, c.cs, widths),
                    text=c.text,
                )
            )
            col += c.cs
            n_cols = max(n_cols, col)
    n_cols = max([n_cols, *(cc + 1 for _, cc in taken)])
    return Grid(id=gid, pages=pages, n_rows=len(rows), n_cols=n_cols, cells=cells, ruled=ruled)


def _bbox(
    r: int, c: int, rs: int, cs: int, widths: tuple[float, ...] | None
) -> tuple[float, float, float, float]:
    w = widths or (61.0, 47.0, 133.0, 58.0, 71.0, 39.0, 44.0, 90.0, 52.0, 66.0, 40.0)

    def x(col: int) -> float:
        return 40.0 + sum(w[i % len(w)] for i in range(col))

    return (x(c), 80.0 + 23.5 * r, x(c + cs), 80.0 + 23.5 * (r + rs))


def line(text: str, y: float = 40.0) -> TextLine:
    return TextLine(text=text, bbox=(200.0, y, 200.0 + 14.0 * len(text), y + 16.0))


def form(grids: list[Grid], lines: list[str] | None = None, *, kind: str = "project") -> FormRegion:
    pages = sorted({p for g in grids for p in g.pages}) or [1]
    text_lines = [line(t, 30.0 + 20.0 * i) for i, t in enumerate(lines or [])]
    return FormRegion(
        index=0,
        kind=kind,  # type: ignore[arg-type]
        title=(lines or [""])[0],
        pages=pages,
        grids=grids,
        lines=text_lines,
        line_pages=[pages[0]] * len(text_lines),
    )
