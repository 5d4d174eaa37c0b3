"""Tables ruled by horizontal lines only: HTML printed by a browser with CSS `border-bottom` /
`border-top` on the cells and no vertical borders.

Rows come from the rulings: each text piece goes to the band between two rules that holds its
centre, so a cell's wrapped lines stay in one row however they are spaced. A rule that covers
only some columns (the cells left of it span rows) leaves the bands above and below it one
merged cell in the columns it does not cover: the rowspan of a 一级 / 二级 label. The rows
before the first rule and after the last one (a table with `border-bottom` has no rule above
its first row) are the text directly next to that rule.
Columns come from text alignment across all rows together (as for borderless tables), plus the
ends of partial rules, which are column boundaries. Lines read across two narrow cells (一级指标
and 二级指标 printed a few points apart are one PDF line) are cut where a boundary crosses their
gap.
"""

from __future__ import annotations

import itertools
import statistics
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable

from jixiao.ingest.grid import (
    COVER,
    MIN_CELL,
    SNAP,
    _cluster,
    _UnionFind,
    _visual_rows,
    cell_text,
    text_columns,
)
from jixiao.ingest.model import BBox, Cell, Grid, PageLayout, Ruling, TextLine, TextSpan

MIN_RULES = 3  # a table: at least two rows closed by rules
RULE_SHARE = 0.4  # a table rule spans at least this share of the widest rule of its table
PIECE_GAP_EM = 0.4  # pieces of one line this far apart (in line heights) may be two cells
CUT_GAP_EM = 0.15  # a column boundary cuts a line only at a gap at least this wide
CHAIN_EM = 0.8  # wrapped lines of one cell are closer than this (browsers leave ~0.45)
BLANK_EM = 1.5  # this much empty height between rules (margin, title) separates two tables
OVERHANG_EM = 0.4  # how far past a column boundary a glyph's box may reach and stay in its cell
MAX_ROWS_PER_BAND = 4  # a band with this many rows of three pieces holds several table rows


def hrule_grids(
    page: PageLayout, rules: list[Ruling], lines: list[TextLine], used: set[int]
) -> list[Grid]:
    """Tables on the page drawn with horizontal rules only. `rules` are the page's horizontal
    rulings not part of a ruled grid; the lines read into a table are added to `used`."""
    grids: list[Grid] = []
    heights = [ln.bbox[3] - ln.bbox[1] for ln in lines]
    if not heights:
        return grids
    size = statistics.median(heights)
    for group in _rule_groups(rules, lines, size):
        grid = _hrule_grid(page, group, lines, used)
        if grid is not None:
            grids.append(grid)
    return grids


def _rule_groups(rules: list[Ruling], lines: list[TextLine], size: float) -> list[list[Ruling]]:
    """Rules stacked over one another with overlapping extents, each a good share of the
    group's width, and no wide blank (or title) between neighbours: one table each."""
    groups: list[list[Ruling]] = []
    for rule in sorted(rules, key=lambda r: r.y0):
        for group in reversed(groups):
            gx0, gx1 = min(r.x0 for r in group), max(r.x1 for r in group)
            overlap = min(rule.x1, gx1) - max(rule.x0, gx0)
            if overlap >= RULE_SHARE * max(gx1 - gx0, rule.x1 - rule.x0) and not _blank_between(
                lines, group[-1].y0, rule.y0, gx0, gx1, size
            ):
                group.append(rule)
                break
        else:
            groups.append([rule])
    return [g for g in groups if len(_cluster([r.y0 for r in g], MIN_CELL)) >= MIN_RULES]


def _blank_between(
    lines: list[TextLine], y0: float, y1: float, x0: float, x1: float, size: float
) -> bool:
    """True when text between two rules leaves a tall empty stretch between its lines (the
    margins around a title between two tables), or no text is there and the gap is tall."""
    spans = sorted(
        (max(ln.bbox[1], y0), min(ln.bbox[3], y1))
        for ln in lines
        if x0 <= (ln.bbox[0] + ln.bbox[2]) / 2 <= x1 and ln.bbox[3] > y0 and ln.bbox[1] < y1
    )
    if not spans:
        return y1 - y0 > 4 * BLANK_EM * size
    cursor = spans[0][1]
    for a, b in spans[1:]:
        if a - cursor >= BLANK_EM * size:
            return True
        cursor = max(cursor, b)
    return False


def _hrule_grid(
    page: PageLayout, rules: list[Ruling], lines: list[TextLine], used: set[int]
) -> Grid | None:
    ys = _cluster([r.y0 for r in rules], MIN_CELL)
    tx0, tx1 = min(r.x0 for r in rules), max(r.x1 for r in rules)
    near = [
        k
        for k, ln in enumerate(lines)
        if k not in used and tx0 - SNAP <= (ln.bbox[0] + ln.bbox[2]) / 2 <= tx1 + SNAP
    ]
    inside = [k for k in near if ys[0] <= _cy(lines[k]) <= ys[-1]]
    if not inside:
        return None
    size = statistics.median(lines[k].bbox[3] - lines[k].bbox[1] for k in inside)
    bands: list[tuple[float, float]] = list(itertools.pairwise(ys))
    # Padding between a row's text and the rules around it, to find the open first/last row.
    below_text, above_text = [], []
    for top, bottom in bands:
        held = [lines[k] for k in inside if top <= _cy(lines[k]) <= bottom]
        if held:
            above_text.append(min(ln.bbox[1] for ln in held) - top)
            below_text.append(bottom - max(ln.bbox[3] for ln in held))
    pad_above = statistics.median(above_text) if above_text else 0.5 * size
    pad_below = statistics.median(below_text) if below_text else 0.5 * size
    before = [k for k in near if _cy(lines[k]) < ys[0]]
    after = [k for k in near if _cy(lines[k]) > ys[-1]]
    head = _open_row(lines, before, ys[0], pad_below, size, upward=True)
    tail = _open_row(lines, after, ys[-1], pad_above, size, upward=False)
    first_band = 1 if head else 0
    if head:
        bands.insert(0, (min(lines[k].bbox[1] for k in head), ys[0]))
    if tail:
        bands.append((ys[-1], max(lines[k].bbox[3] for k in tail)))
    members = [*head, *inside, *tail]
    # Pieces of each line at wide gaps: the gaps between cells, to find the columns by.
    wide = PIECE_GAP_EM * size
    coarse = [p for k in members for p in _cut_line(lines[k], lambda lo, hi: hi - lo >= wide)]
    tops = [b[0] for b in bands]

    def band_of(ln: TextLine) -> int:
        return max(0, min(bisect_right(tops, _cy(ln)) - 1, len(bands) - 1))

    by_band: dict[int, list[TextLine]] = defaultdict(list)
    for piece in coarse:
        by_band[band_of(piece)].append(piece)
    # A band is one row: its pieces that do not overlap in x are cells side by side, whatever
    # their baselines (a wrapped header beside one-line ones).
    block = [_side_by_side(by_band[b]) for b in sorted(by_band)]
    if sum(1 for row in block if len(row) >= 2) < 2:
        return None
    # Rules of several rows' height (a booktabs table): the borderless path reads those rows.
    for held in by_band.values():
        if sum(1 for row in _visual_rows(held) if len(row) >= 3) >= MAX_ROWS_PER_BAND:
            return None
    ends = [r.x0 for r in rules if r.x0 > tx0 + MIN_CELL] + [
        r.x1 for r in rules if r.x1 < tx1 - MIN_CELL
    ]
    xs = text_columns(block, size, _cluster(ends, SNAP), coarse)
    n_cols = len(xs) - 1
    if n_cols < 2:
        return None
    inner = xs[1:-1]
    narrow = CUT_GAP_EM * size

    def at_boundary(lo: float, hi: float) -> bool:
        return hi - lo >= narrow and any(lo - 1.0 <= x <= hi + 1.0 for x in inner)

    pieces = [p for k in members for p in _cut_line(lines[k], at_boundary)]

    def col_of(x: float) -> int:
        return max(0, min(bisect_right(xs, x) - 1, n_cols - 1))

    n_rows = len(bands)
    overhang = OVERHANG_EM * size
    # Grid lines: the rule at the bottom of band r is ys[r - first_band + 1].
    h_at: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for rule in rules:
        h_at[min(range(len(ys)), key=lambda i: abs(ys[i] - rule.y0))].append((rule.x0, rule.x1))
    uf = _UnionFind(n_rows * n_cols)
    for r in range(n_rows - 1):
        line_at = h_at[r - first_band + 1]
        for c in range(n_cols):
            if not _covered(line_at, xs[c], xs[c + 1]):
                uf.union(r * n_cols + c, (r + 1) * n_cols + c)
    content: dict[int, list[TextLine]] = defaultdict(list)
    placed: list[tuple[TextLine, int, int, int]] = []
    for piece in pieces:
        r = band_of(piece)
        # A glyph's advance box may reach past the boundary of its cell (a full-width `）` is
        # mostly blank on its right): overlaps under OVERHANG_EM of a line height do not span.
        c0 = col_of(piece.bbox[0] + overhang)
        c1 = max(c0, col_of(piece.bbox[2] - overhang))
        for c in range(c0, c1):
            uf.union(r * n_cols + c, r * n_cols + c + 1)
        placed.append((piece, r, c0, c1))
    for piece, r, c0, _ in placed:
        content[uf.find(r * n_cols + c0)].append(piece)
    extent = uf.extents(n_rows, n_cols)
    cells: list[Cell] = []
    for root, held in content.items():
        r0, c0, r1, c1 = extent[root]
        box: BBox = (
            min(p.bbox[0] for p in held),
            bands[r0][0],
            max(p.bbox[2] for p in held),
            bands[r1][1],
        )
        cells.append(Cell("", r0, c0, r1 - r0 + 1, c1 - c0 + 1, page.number, box, cell_text(held)))
    cells.sort(key=lambda cell: (cell.row, cell.col))
    used.update(members)
    return Grid(
        id="",
        pages=[page.number],
        n_rows=n_rows,
        n_cols=n_cols,
        cells=cells,
        ruled=False,  # columns come from text alignment, as in a borderless table
        col_bounds=xs,
        page_bboxes={page.number: (min(xs[0], tx0), bands[0][0], max(xs[-1], tx1), bands[-1][1])},
    )


def _side_by_side(pieces: list[TextLine]) -> list[TextLine]:
    """A row's pieces merged where they overlap in x (the lines of one cell), left to right."""
    merged: list[list[float]] = []
    for p in sorted(pieces, key=lambda p: p.bbox[0]):
        if merged and p.bbox[0] < merged[-1][2]:
            m = merged[-1]
            m[1], m[2], m[3] = min(m[1], p.bbox[1]), max(m[2], p.bbox[2]), max(m[3], p.bbox[3])
        else:
            merged.append(list(p.bbox))
    return [TextLine("", (m[0], m[1], m[2], m[3])) for m in merged]


def _covered(segments: list[tuple[float, float]], lo: float, hi: float) -> bool:
    total = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in segments)
    return total >= (hi - lo) * COVER


def _cy(line: TextLine) -> float:
    return (line.bbox[1] + line.bbox[3]) / 2


def _open_row(
    lines: list[TextLine], cands: list[int], edge: float, pad: float, size: float, upward: bool
) -> list[int]:
    """The row just above the first rule (upward) or below the last one, which no rule closes
    on its other side: lines as close to the rule as the text of closed rows is to theirs,
    with the lines that continue them (a wrapped cell) or lie beside them (a centred cell)."""
    reach = pad + 0.35 * size

    def dist(k: int) -> float:
        box = lines[k].bbox
        return edge - box[3] if upward else box[1] - edge

    def far(k: int) -> float:  # the line's far edge, from the rule
        return dist(k) + lines[k].bbox[3] - lines[k].bbox[1]

    row = [k for k in cands if dist(k) <= reach]
    if not row:
        return []
    grown = True
    while grown:
        grown = False
        edge_far = max(far(k) for k in row)
        for k in cands:
            if k in row:
                continue
            box = lines[k].bbox
            mid = edge - _cy(lines[k]) if upward else _cy(lines[k]) - edge
            # a line of the far end of the row, continued by this one in the same column
            chained = any(
                lines[j].bbox[0] < box[2]
                and box[0] < lines[j].bbox[2]
                and 0 <= dist(k) - far(j) <= CHAIN_EM * size
                for j in row
            )
            if mid <= edge_far or chained:
                row.append(k)
                grown = True
    # A row of a table has cells side by side; a lone line (title, note) is no row.
    xs = sorted((lines[k].bbox[0], lines[k].bbox[2]) for k in row)
    if not any(b[0] >= a[1] for a, b in itertools.pairwise(xs)):
        return []
    return sorted(row)


def _wide(ch: str) -> bool:
    return ord(ch) >= 0x2E80  # CJK, fullwidth forms: one em each


def _cut_line(line: TextLine, cut: Callable[[float, float], bool]) -> list[TextLine]:
    """The pieces of a line cut at the gaps between glyphs where cut(left, right) says so.
    Glyph positions inside a span are estimated from its width (CJK a full em, others about
    half), exact at span ends."""
    if line.bbox[3] - line.bbox[1] > 2 * max(1.0, line.bbox[2] - line.bbox[0]):
        return [line]  # vertical text
    glyphs: list[tuple[str, float, float, float, float, TextSpan]] = []
    for span in line.spans:
        if not span.text:
            continue
        weights = [1.0 if _wide(ch) else 0.3 if ch.isspace() else 0.55 for ch in span.text]
        step = (span.bbox[2] - span.bbox[0]) / (sum(weights) or 1.0)
        x = span.bbox[0]
        for ch, w in zip(span.text, weights, strict=True):
            glyphs.append((ch, x, span.bbox[1], x + w * step, span.bbox[3], span))
            x += w * step
    groups: list[list[tuple[str, float, float, float, float, TextSpan]]] = []
    last: tuple[str, float, float, float, float, TextSpan] | None = None
    for g in glyphs:
        if g[0].isspace():
            if groups:
                groups[-1].append(g)
            continue
        if last is None or cut(last[3], g[1]):
            groups.append([g])
        else:
            groups[-1].append(g)
        last = g
    if len(groups) <= 1:
        return [line]
    out: list[TextLine] = []
    for group in groups:
        text = "".join(g[0] for g in group).strip()
        solid = [g for g in group if not g[0].isspace()]
        box: BBox = (
            min(g[1] for g in solid),
            min(g[2] for g in solid),
            max(g[3] for g in solid),
            max(g[4] for g in solid),
        )
        first = solid[0][5]
        out.append(TextLine(text, box, [TextSpan(text, box, first.font, first.size, first.flags)]))
    return out
