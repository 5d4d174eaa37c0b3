"""Tables as grids of cells, from ruling lines or (borderless) from text alignment alone.

Ruled: rulings that touch form one table; their distinct x / y positions give an elementary
grid; two neighbouring elementary cells are one merged cell when no ruling separates them.
Borderless: column separators are the x-gaps between text pieces on one baseline; logical rows
are runs of baselines closer together than the gaps between rows.
A table that ends at the foot of a page and one that starts at the top of the next, with the
same column boundaries, are one logical grid (a repeated header row is dropped).

Cell ids here are provisional ("c<n>" in grid order); segment.py renumbers them per form.
"""

from __future__ import annotations

import itertools
import re
import statistics
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable

from jixiao.ingest.model import BBox, Cell, Grid, PageLayout, Ruling, TextLine

SNAP = 2.0  # rulings within this many points are one grid line
COVER = 0.6  # a ruling separates two cells if it covers this share of their common edge
MIN_CELL = 3.0  # elementary rows/cols thinner than this are drawing noise
MATCH_X = 3.0  # column boundaries of a continued table match within this many points
LABEL_MAX_LINES = 3  # a merged-cell label (一级 / 二级 / 项目资金（万元）) is at most this tall
LABEL_MAX_CHARS = 20
WRAP_GAP_EM = 0.35  # wrapped lines of one cell are closer than this many line heights
# Page furniture that may sit between a table's end and the page's foot (or above a continued
# table): page numbers like "- 3 -", "第 3 页 共 9 页", "3/9".
_FURNITURE = re.compile(r"^[\s\-—–_第页共/\d.·()（）]*$")
_LATIN_DIGIT = re.compile(r"[A-Za-z0-9]")


def join_text(parts: Iterable[str]) -> str:
    """Join wrapped pieces of one cell: CJK and punctuation with no space, a single space only
    between two Latin/digit tokens (the output contract's rule)."""
    out = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out and _LATIN_DIGIT.match(out[-1]) and _LATIN_DIGIT.match(part[0]):
            out += " "
        out += part
    return out


def cell_text(lines: list[TextLine]) -> str:
    """Text of one cell from its lines: grouped into visual lines top to bottom, each left to
    right, then joined."""
    if not lines:
        return ""
    ordered = sorted(lines, key=lambda ln: (ln.bbox[1] + ln.bbox[3]) / 2)
    visual: list[list[TextLine]] = [[ordered[0]]]
    for line in ordered[1:]:
        prev = visual[-1][-1]
        height = max(1.0, prev.bbox[3] - prev.bbox[1])
        if (
            abs((line.bbox[1] + line.bbox[3]) / 2 - (prev.bbox[1] + prev.bbox[3]) / 2)
            < 0.5 * height
        ):
            visual[-1].append(line)
        else:
            visual.append([line])
    return join_text(ln.text for group in visual for ln in sorted(group, key=lambda t: t.bbox[0]))


def _center(bbox: BBox) -> tuple[float, float]:
    return (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2


def _cluster(values: list[float], tol: float) -> list[float]:
    """Sorted cluster means of values that lie within tol of their neighbour."""
    if not values:
        return []
    values = sorted(values)
    groups: list[list[float]] = [[values[0]]]
    for v in values[1:]:
        if v - groups[-1][-1] <= tol:
            groups[-1].append(v)
        else:
            groups.append([v])
    return [sum(g) / len(g) for g in groups]


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def extents(self, n_rows: int, n_cols: int) -> dict[int, list[int]]:
        """Merged cells of an n_rows x n_cols slot grid: root -> [row0, col0, row1, col1]."""
        extent: dict[int, list[int]] = {}
        for r in range(n_rows):
            for c in range(n_cols):
                e = extent.setdefault(self.find(r * n_cols + c), [r, c, r, c])
                e[0], e[1] = min(e[0], r), min(e[1], c)
                e[2], e[3] = max(e[2], r), max(e[3], c)
        return extent


def _ruling_components(rulings: list[Ruling]) -> list[list[Ruling]]:
    """Groups of rulings connected by crossings or touching ends."""
    hs = [r for r in rulings if r.horizontal]
    vs = [r for r in rulings if not r.horizontal]
    uf = _UnionFind(len(hs) + len(vs))
    for i, h in enumerate(hs):
        for j, v in enumerate(vs):
            if h.x0 - SNAP <= v.x0 <= h.x1 + SNAP and v.y0 - SNAP <= h.y0 <= v.y1 + SNAP:
                uf.union(i, len(hs) + j)
    groups: dict[int, list[Ruling]] = defaultdict(list)
    for i, r in enumerate(hs + vs):
        groups[uf.find(i)].append(r)
    return list(groups.values())


def _covered(segments: list[tuple[float, float]], lo: float, hi: float) -> bool:
    need = (hi - lo) * COVER
    total = 0.0
    for a, b in segments:
        total += max(0.0, min(b, hi) - max(a, lo))
    return total >= need


def _ruled_grid(
    page: PageLayout, rulings: list[Ruling], lines: list[TextLine], used: set[int]
) -> Grid | None:
    hs = [r for r in rulings if r.horizontal]
    vs = [r for r in rulings if not r.horizontal]
    if len(hs) < 2 or len(vs) < 2:
        return None
    ys = _cluster([h.y0 for h in hs], SNAP)
    xs = _cluster([v.x0 for v in vs], SNAP)
    # Tables open at the sides or bottom: the other rulings' extent closes them.
    min_x, max_x = min(h.x0 for h in hs), max(h.x1 for h in hs)
    min_y, max_y = min(v.y0 for v in vs), max(v.y1 for v in vs)
    if min_x < xs[0] - MIN_CELL:
        xs.insert(0, min_x)
    if max_x > xs[-1] + MIN_CELL:
        xs.append(max_x)
    if min_y < ys[0] - MIN_CELL:
        ys.insert(0, min_y)
    if max_y > ys[-1] + MIN_CELL:
        ys.append(max_y)
    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    if n_rows < 1 or n_cols < 1:
        return None
    # Segments on each grid line.
    v_at: dict[int, list[tuple[float, float]]] = defaultdict(list)
    h_at: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for v in vs:
        v_at[_nearest(xs, v.x0)].append((v.y0, v.y1))
    for h in hs:
        h_at[_nearest(ys, h.y0)].append((h.x0, h.x1))
    uf = _UnionFind(n_rows * n_cols)
    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols and not _covered(v_at[c + 1], ys[r], ys[r + 1]):
                uf.union(r * n_cols + c, r * n_cols + c + 1)
            if r + 1 < n_rows and not _covered(h_at[r + 1], xs[c], xs[c + 1]):
                uf.union(r * n_cols + c, (r + 1) * n_cols + c)
    extent = uf.extents(n_rows, n_cols)
    # Text lines into cells, by their centre.
    content: dict[int, list[TextLine]] = defaultdict(list)
    for k, line in enumerate(lines):
        if k in used:
            continue
        cx, cy = _center(line.bbox)
        if not (xs[0] <= cx <= xs[-1] and ys[0] <= cy <= ys[-1]):
            continue
        c = min(bisect_right(xs, cx) - 1, n_cols - 1)
        r = min(bisect_right(ys, cy) - 1, n_rows - 1)
        content[uf.find(r * n_cols + c)].append(line)
        used.add(k)
    cells: list[Cell] = []
    for root, (r0, c0, r1, c1) in sorted(extent.items(), key=lambda kv: (kv[1][0], kv[1][1])):
        cells.append(
            Cell(
                id="",
                row=r0,
                col=c0,
                rowspan=r1 - r0 + 1,
                colspan=c1 - c0 + 1,
                page=page.number,
                bbox=(xs[c0], ys[r0], xs[c1 + 1], ys[r1 + 1]),
                text=cell_text(content.get(root, [])),
            )
        )
    return Grid(
        id="",
        pages=[page.number],
        n_rows=n_rows,
        n_cols=n_cols,
        cells=cells,
        ruled=True,
        col_bounds=list(xs),
        page_bboxes={page.number: (xs[0], ys[0], xs[-1], ys[-1])},
    )


def _visual_rows(lines: list[TextLine]) -> list[list[TextLine]]:
    """Lines sharing a baseline band, top to bottom, each left to right."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox[1] + ln.bbox[3]) / 2):
        cy = (line.bbox[1] + line.bbox[3]) / 2
        if rows:
            last = rows[-1]
            ly0 = min(ln.bbox[1] for ln in last)
            ly1 = max(ln.bbox[3] for ln in last)
            if ly0 <= cy <= ly1:
                last.append(line)
                continue
        rows.append([line])
    for row in rows:
        row.sort(key=lambda ln: ln.bbox[0])
    return rows


def _borderless_grids(page: PageLayout, lines: list[TextLine]) -> list[Grid]:
    """Tables aligned by whitespace only: blocks of baselines with several text pieces."""
    rows = _visual_rows(lines)
    grids: list[Grid] = []
    block: list[list[TextLine]] = []

    def flush() -> None:
        if sum(1 for r in block if len(r) >= 2) >= 2:
            grid = _borderless_grid(page, block)
            if grid is not None:
                grids.append(grid)
        block.clear()

    for row in rows:
        size = statistics.median(ln.bbox[3] - ln.bbox[1] for ln in row)
        if block:
            prev_bottom = max(ln.bbox[3] for ln in block[-1])
            top = min(ln.bbox[1] for ln in row)
            if top - prev_bottom > 2.5 * size:
                flush()
        block.append(row)
    flush()
    # Lone lines at either end of a block that do not continue a cell of the table are trimmed
    # in _borderless_grid (they stay free text).
    return grids


def _borderless_grid(page: PageLayout, block: list[list[TextLine]]) -> Grid | None:
    # Trim leading/trailing single-piece rows (titles and notes around the table), except the
    # wrapped lines of a cell that continue a row of the table.
    size0 = statistics.median(ln.bbox[3] - ln.bbox[1] for row in block for ln in row)
    last = len(block) - 1
    while last >= 0 and len(block[last]) < 2:
        last -= 1
    first = 0
    while first <= last and len(block[first]) < 2:
        first += 1
    if first > last:
        return None
    while first > 0 and _continues_cell(block[first - 1], block[first], size0):
        first -= 1
    while last < len(block) - 1 and _continues_cell(block[last + 1], block[last], size0):
        last += 1
    block = block[first : last + 1]
    if len(block) < 2:
        return None
    all_lines = [ln for row in block for ln in row]
    size = statistics.median(ln.bbox[3] - ln.bbox[1] for ln in all_lines)
    xs = text_columns(block, size)
    n_cols = len(xs) - 1
    if n_cols < 2:
        return None
    x0, x1 = xs[0], xs[-1]

    def col_of(ln: TextLine) -> int:
        return max(0, min(bisect_right(xs, ln.bbox[0] + 0.5) - 1, n_cols - 1))

    def last_col_of(ln: TextLine) -> int:
        return max(col_of(ln), min(bisect_right(xs, ln.bbox[2] - 0.5) - 1, n_cols - 1))

    units = _text_units(all_lines, size)
    bridges = _bridging_units(units, size)
    kept = [u for k, u in enumerate(units) if k not in bridges]
    bands = _split_bands(_row_bands(kept), kept, col_of, size)
    members: dict[tuple[int, int], list[TextLine]] = defaultdict(list)
    band_tops = [b[0] for b in bands]
    for unit in units:
        _, y0, _, y1 = _unit_box(unit)
        cy = (y0 + y1) / 2
        # bands are ordered and disjoint: the one holding cy, else the nearer neighbour
        near = bisect_right(band_tops, cy) - 1
        band = min(
            (k for k in (near - 1, near, near + 1) if 0 <= k < len(bands)),
            key=lambda k: (
                0.0
                if bands[k][0] <= cy <= bands[k][1]
                else min(abs(cy - bands[k][0]), abs(cy - bands[k][1]))
            ),
        )
        members[(band, min(col_of(ln) for ln in unit))].extend(unit)
    spans = _label_spans(members, bands)
    cells: list[Cell] = []
    for (r, c), lines_in in sorted(members.items()):
        r0, r1 = spans.get((r, c), (r, r))
        cells.append(
            Cell(
                id="",
                row=r0,
                col=c,
                rowspan=r1 - r0 + 1,
                colspan=max(last_col_of(ln) for ln in lines_in) - c + 1,
                page=page.number,
                bbox=(
                    min(ln.bbox[0] for ln in lines_in),
                    bands[r0][0],
                    max(ln.bbox[2] for ln in lines_in),
                    bands[r1][1],
                ),
                text=cell_text(lines_in),
            )
        )
    cells.sort(key=lambda cell: (cell.row, cell.col))
    logical = bands
    bottom = max(ln.bbox[3] for row in block for ln in row)
    top = min(ln.bbox[1] for row in block for ln in row)
    return Grid(
        id="",
        pages=[page.number],
        n_rows=len(logical),
        n_cols=n_cols,
        cells=cells,
        ruled=False,
        col_bounds=xs,
        page_bboxes={page.number: (x0, top, x1, bottom)},
    )


def text_columns(
    block: list[list[TextLine]],
    size: float,
    bounds: Iterable[float] = (),
    lines: list[TextLine] | None = None,
) -> list[float]:
    """Column boundaries of a table from text alignment: x of its left edge, the separators,
    its right edge. `block` holds the table's rows of pieces side by side, left to right
    (visual rows: pieces on one baseline); `lines` all its text (default: the block's);
    `bounds` are boundaries known from elsewhere (where partial rulings end), each taking the
    place of a text gap near it."""
    # Column separators: gaps between neighbouring pieces on one baseline; gaps of different
    # rows that overlap are one separator (placed in their common part).
    gaps: list[tuple[float, float]] = []
    for row in block:
        for a, b in itertools.pairwise(row):
            if b.bbox[0] > a.bbox[2]:
                gaps.append((a.bbox[2], b.bbox[0]))
    gaps.sort()
    seps: list[list[float]] = []
    for lo, hi in gaps:
        if seps and lo < seps[-1][1] and hi > seps[-1][0]:
            seps[-1][0] = max(seps[-1][0], lo)
            seps[-1][1] = min(seps[-1][1], hi)
        else:
            seps.append([lo, hi])
    all_lines = [ln for row in block for ln in row] if lines is None else lines
    _narrow_to_body(seps, all_lines)
    x0 = min(ln.bbox[0] for ln in all_lines)
    x1 = max(ln.bbox[2] for ln in all_lines)
    mids = [(lo + hi) / 2 for lo, hi in seps]
    known = sorted(b for b in bounds if x0 + MIN_CELL < b < x1 - MIN_CELL)
    if known:
        mids = [m for m in mids if all(abs(m - b) > size for b in known)]
        mids = sorted(mids + known)
    xs = [x0, *mids, x1]
    xs = [x for i, x in enumerate(xs) if i == 0 or x - xs[i - 1] >= MIN_CELL]
    return _split_stacked_columns(xs, all_lines, size)


def _split_stacked_columns(xs: list[float], lines: list[TextLine], size: float) -> list[float]:
    """Add separators inside columns whose text stands in two or more stacks that no line
    joins: columns seen on no common baseline (a 一级 label column and a 二级 one whose labels
    never share a row) get no separator from gaps between neighbours on a line."""
    n_cols = len(xs) - 1
    spans = []
    for ln in lines:
        c0 = max(0, min(bisect_right(xs, ln.bbox[0] + 0.5) - 1, n_cols - 1))
        c1 = max(0, min(bisect_right(xs, ln.bbox[2] - 0.5) - 1, n_cols - 1))
        spans.append((ln, c0, c1))
    # Parts of one table may stand on different columns (funding rows above the indicators):
    # look for stacks within each part, parts being cut at text that spans three columns.
    cuts = sorted(ln.bbox[1] for ln, c0, c1 in spans if c1 - c0 >= 2)
    by_col: dict[tuple[int, int], list[tuple[float, float, int]]] = defaultdict(list)
    for ln, c0, c1 in spans:
        part = bisect_right(cuts, ln.bbox[1])
        if c0 == c1:
            by_col[(part, c0)].append((ln.bbox[0], ln.bbox[2], len(ln.text.strip())))
        elif c1 == c0 + 1 or c1 == c0 + 2:
            # A wrapped header wider than its column (偏差原因分析及改进措施) starts in the column
            # before its own and crosses out of it: it counts there up to the column's edge,
            # as a stack of its own (marked by a negative length).
            by_col[(part, c0)].append((ln.bbox[0], xs[c0 + 1], -len(ln.text.strip())))
    added: list[float] = []
    for pieces in by_col.values():
        pieces.sort()
        stacks: list[list[tuple[float, float, int]]] = []
        right = 0.0
        for piece in pieces:
            if stacks and piece[0] < right + 0.5 * size:
                stacks[-1].append(piece)
                right = max(right, piece[1])
            else:
                stacks.append([piece])
                right = piece[1]
        # Both sides must be a stack (two lines, one of two characters or more): a lone '-' set
        # off from right-aligned numbers is no column.
        for a, b in itertools.pairwise(stacks):
            crossing = len(b) == 1 and b[0][2] <= -4  # one long line crossing the column edge
            if all(len(st) >= 2 and max(p[2] for p in st) >= 2 for st in (a, b)) or (
                crossing and len(a) >= 2 and max(p[2] for p in a) >= 2
            ):
                added.append((max(p[1] for p in a) + b[0][0]) / 2)
    return sorted(xs + added)


def _narrow_to_body(seps: list[list[float]], lines: list[TextLine]) -> None:
    """Shrink each separator gap to the whitespace no line crosses into: a gap seen only
    between a centred header and its neighbour can reach over the left edge of the column's
    body text (a left-aligned name under a centred 三级指标), and its middle would then cut
    the body into the column before. A line that starts inside a gap and runs on past it
    moves the gap's right end to its start (and one that ends inside it, the left end); a line
    over the whole gap spans columns and says nothing."""
    for ln in lines:
        lx0, lx1 = ln.bbox[0], ln.bbox[2]
        for sep in seps:
            lo, hi = sep
            if lo < lx0 < hi < lx1 and lx0 - lo >= MIN_CELL:
                sep[1] = lx0
            elif lx0 < lo < lx1 < hi and hi - lx1 >= MIN_CELL:
                sep[0] = lx1


def _unit_box(unit: list[TextLine]) -> BBox:
    return (
        min(ln.bbox[0] for ln in unit),
        min(ln.bbox[1] for ln in unit),
        max(ln.bbox[2] for ln in unit),
        max(ln.bbox[3] for ln in unit),
    )


def _continues_cell(row: list[TextLine], neighbour: list[TextLine], size: float) -> bool:
    """True when a lone line sits directly above/below a line of the neighbouring row, in the
    same column (a cell's wrapped text)."""
    for ln in row:
        for other in neighbour:
            gap = max(other.bbox[1] - ln.bbox[3], ln.bbox[1] - other.bbox[3])
            overlap = ln.bbox[0] < other.bbox[2] and other.bbox[0] < ln.bbox[2]
            if overlap and gap <= WRAP_GAP_EM * size:
                return True
    return False


def _short_label(lines: list[TextLine]) -> bool:
    return len(lines) <= LABEL_MAX_LINES and sum(len(ln.text) for ln in lines) <= LABEL_MAX_CHARS


def _text_units(lines: list[TextLine], size: float) -> list[list[TextLine]]:
    """Lines chained into units: a line directly under another and overlapping it horizontally
    continues it (the wrapped text of one cell, whatever its alignment)."""
    ordered = sorted(lines, key=lambda ln: ln.bbox[1])
    tops = [ln.bbox[1] for ln in ordered]
    uf = _UnionFind(len(ordered))
    for k, ln in enumerate(ordered):
        x0, _, x1, y1 = ln.bbox
        lo = bisect_right(tops, y1 - size)
        hi = bisect_right(tops, y1 + WRAP_GAP_EM * size)
        for j in range(lo, hi):
            other = ordered[j]
            if j == k or other.bbox[1] <= ln.bbox[1]:
                continue
            if other.bbox[0] < x1 and x0 < other.bbox[2]:
                uf.union(k, j)
    groups: dict[int, list[TextLine]] = defaultdict(list)
    for k, ln in enumerate(ordered):
        groups[uf.find(k)].append(ln)
    return list(groups.values())


def _bridging_units(units: list[list[TextLine]], size: float) -> set[int]:
    """Indexes of units that bridge the whitespace between two rows: labels of merged cells,
    centred over several rows. Inside such a unit's height there is a stretch no other text
    covers, with other text both above and below it."""
    boxes = [_unit_box(u) for u in units]
    order = sorted(range(len(units)), key=lambda k: boxes[k][1])
    tops = [boxes[k][1] for k in order]
    tallest = max((b[3] - b[1] for b in boxes), default=0.0)
    bridges: set[int] = set()
    for k, box in enumerate(boxes):
        if not _short_label(units[k]):
            continue  # merged-cell labels are short; long wrapped text is a cell's content
        y0, y1 = box[1], box[3]
        lo = bisect_right(tops, y0 - tallest)
        hi = bisect_right(tops, y1)
        covered = sorted(
            (max(boxes[j][1], y0), min(boxes[j][3], y1))
            for j in (order[i] for i in range(lo, hi))
            if j != k and boxes[j][3] > y0 and boxes[j][1] < y1
        )
        if not covered:
            continue
        cursor = covered[0][1]
        for a, b in covered[1:]:
            if a - cursor >= 0.3 * size:
                bridges.add(k)  # a hole with other text above (cursor) and below (a)
                break
            cursor = max(cursor, b)
    return bridges


def _row_bands(units: list[list[TextLine]]) -> list[tuple[float, float]]:
    """Logical rows of a borderless table as (top, bottom) bands: the vertical extents of the
    (non-bridging) text units, merged where they overlap."""
    merged: list[list[float]] = []
    for _, y0, _, y1 in sorted((_unit_box(u) for u in units), key=lambda b: b[1]):
        if merged and y0 <= merged[-1][1] + 0.5:
            merged[-1][1] = max(merged[-1][1], y1)
        else:
            merged.append([y0, y1])
    return [(a, b) for a, b in merged]


def _split_bands(
    bands: list[tuple[float, float]],
    units: list[list[TextLine]],
    col_of: Callable[[TextLine], int],
    size: float,
) -> list[tuple[float, float]]:
    """Split bands that hold several logical rows: a wrapped cell in one column can bridge the
    gap between two rows, so their bands merge. A new row starts where at least two columns
    start a new piece of text, each below an earlier piece in the same column, on one baseline
    (the numbers of the next row)."""
    boxes = sorted(
        ((_unit_box(u), min(col_of(ln) for ln in u)) for u in units), key=lambda bc: bc[0][1]
    )
    tops = [b[1] for b, _ in boxes]
    out: list[tuple[float, float]] = []
    for top, bottom in bands:
        lo, hi = bisect_left(tops, top - 0.5), bisect_right(tops, bottom + 0.5)
        inside = [(b, c) for b, c in boxes[lo:hi] if b[3] <= bottom + 0.5]
        lowest: dict[int, float] = {}  # column -> bottom of its pieces so far
        starts: list[tuple[float, int]] = []
        for box, col in inside:  # sorted by top
            if col in lowest and box[1] >= lowest[col]:
                starts.append((box[1], col))
            lowest[col] = max(lowest.get(col, box[3]), box[3])
        # Starts on one baseline (within a third of a line) from two columns or more.
        cuts: list[float] = []
        run: list[tuple[float, int]] = []
        for start in [*sorted(starts), (float("inf"), -1)]:
            if run and start[0] - run[-1][0] > 0.3 * size:
                if len({c for _, c in run}) >= 2:
                    cuts.append(run[0][0])
                run = []
            run.append(start)
        if not cuts:
            out.append((top, bottom))
            continue
        edges = [top, *cuts]
        for a, b in itertools.pairwise([*edges, bottom + 1.0]):
            # A row ends where its last piece ends, never past the next row's start.
            end = max((bx[3] for bx, _ in inside if a <= bx[1] < b), default=b)
            out.append((a, min(end, b - 0.1) if b <= bottom else end))
    return out


def _label_spans(
    members: dict[tuple[int, int], list[TextLine]],
    bands: list[tuple[float, float]],
) -> dict[tuple[int, int], tuple[int, int]]:
    """Rows spanned by labels centred over several rows (merged cells drawn without borders).

    Each short label may span a run of rows around its own that are empty under it and hold
    cells right of it (the group it names), if it is centred on that run. Centring alone is
    ambiguous where rows are of equal height (a label on the middle row of its group is
    centred on the row, the group, and a wider run), so the runs of one column's labels are
    chosen together: neighbouring groups meet (one group ends where the next begins), then
    the widest. The cell moves to its run's first row."""
    n = len(bands)
    occupied: dict[int, list[int]] = defaultdict(list)
    rightmost: dict[int, int] = {}
    extents: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for (r, c), lines_in in members.items():
        occupied[c].append(r)
        rightmost[r] = max(rightmost.get(r, -1), c)
        extents[r].append((min(ln.bbox[0] for ln in lines_in), max(ln.bbox[2] for ln in lines_in)))
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    for c, rows in occupied.items():
        rows.sort()
        options = [
            _span_options(members[(r, c)], r, c, rows, k, n, bands, rightmost, extents)
            for k, r in enumerate(rows)
        ]
        for r, (s, e) in zip(rows, _meeting_runs(options), strict=True):
            if (s, e) != (r, r):
                spans[(r, c)] = (s, e)
    return spans


Run = tuple[int, int, float, bool]  # first row, last row, distance from centre, centred


def _span_options(
    lines_in: list[TextLine],
    r: int,
    c: int,
    rows: list[int],
    k: int,
    n: int,
    bands: list[tuple[float, float]],
    rightmost: dict[int, int],
    extents: dict[int, list[tuple[float, float]]],
) -> list[Run]:
    """The runs of rows a label at row r of column c may span: its own row, and the runs it
    is centred on (within a point of the best)."""
    if not _short_label(lines_in):
        return [(r, r, 0.0, True)]  # long text is a cell's content, never a merged label
    centre = (min(ln.bbox[1] for ln in lines_in) + max(ln.bbox[3] for ln in lines_in)) / 2
    lx0 = min(ln.bbox[0] for ln in lines_in)
    lx1 = max(ln.bbox[2] for ln in lines_in)

    def free(t: int) -> bool:
        # A merged label's rows hold cells right of it and nothing under it; a row with
        # nothing right of the column (a title, another part of the table) ends the run.
        return rightmost.get(t, -1) > c and not any(x0 < lx1 and lx0 < x1 for x0, x1 in extents[t])

    first = rows[k - 1] + 1 if k > 0 else 0
    last = rows[k + 1] - 1 if k + 1 < len(rows) else n - 1
    lo = r
    while lo > first and free(lo - 1):
        lo -= 1
    hi = r
    while hi < last and free(hi + 1):
        hi += 1
    tried = [
        (s, e, abs(centre - (bands[s][0] + bands[e][1]) / 2))
        for s in range(lo, r + 1)
        for e in range(r, hi + 1)
    ]
    least = min(t[2] for t in tried)
    out = [(s, e, d, True) for s, e, d in tried if d <= least + 1.0]
    if not any(s == e == r for s, e, _, _ in out):
        out.append((r, r, abs(centre - (bands[r][0] + bands[r][1]) / 2), False))
    return out


def _meeting_runs(options: list[list[Run]]) -> list[tuple[int, int]]:
    """One run per label, in order and not overlapping: fewest labels off their centre, then
    most neighbouring runs that meet, then the widest, then the closest to centre."""
    # best[j] = (cost, choice of the previous label) for option j of the current label
    Cost = tuple[int, int, int, float]
    table: list[list[tuple[Cost, int]]] = []
    for k, opts in enumerate(options):
        row: list[tuple[Cost, int]] = []
        for s, e, dist, centred in opts:
            own: Cost = (0 if centred else 1, 0, -(e - s), dist)
            if k == 0:
                row.append((own, -1))
                continue
            best: tuple[Cost, int] | None = None
            for j, (_, pe, _, _) in enumerate(options[k - 1]):
                if pe >= s:
                    continue
                prev = table[k - 1][j][0]
                cost = (
                    prev[0] + own[0],
                    prev[1] + (0 if pe + 1 == s else 1),
                    prev[2] + own[2],
                    prev[3] + own[3],
                )
                if best is None or cost < best[0]:
                    best = (cost, j)
            # no earlier choice fits (cannot happen while own rows are options): start afresh
            row.append(best if best is not None else ((own[0] + 9, 9, own[2], own[3]), -1))
        table.append(row)
    if not table:
        return []
    pick = min(range(len(table[-1])), key=lambda j: table[-1][j][0])
    chosen: list[tuple[int, int]] = []
    for k in range(len(options) - 1, -1, -1):
        s, e, _, _ = options[k][pick]
        chosen.append((s, e))
        pick = table[k][pick][1]
        if pick < 0 and k > 0:
            pick = 0
    return chosen[::-1]


def page_grids(page: PageLayout) -> list[Grid]:
    """All tables of one page, top to bottom."""
    # Imported here: hrule_grid builds on this module's helpers.
    from jixiao.ingest.hrule_grid import hrule_grids

    grids: list[Grid] = []
    used: set[int] = set()
    loose: list[Ruling] = []  # horizontal rules with no verticals to make a ruled grid
    for component in _ruling_components(page.rulings):
        if not _framed(component):
            loose += [r for r in component if r.horizontal]
            continue
        grid = _ruled_grid(page, component, page.lines, used)
        if grid is not None and (grid.n_rows > 1 or grid.n_cols > 1):
            grids.append(grid)
    grids += hrule_grids(page, loose, page.lines, used)
    rest = [ln for k, ln in enumerate(page.lines) if k not in used and not _inside_any(ln, grids)]
    grids += _borderless_grids(page, rest)
    grids.sort(key=lambda g: g.page_bboxes[page.number][1])
    return grids


def _framed(component: list[Ruling]) -> bool:
    """Whether rulings make a ruled table: its widest rule has a column line at each end.
    Strokes of a seal printed black on a bitonal scan, or of a signature, cross a table drawn
    with horizontal rules only without closing it (that table is read by hrule_grid)."""
    hs = [r for r in component if r.horizontal]
    if not hs:
        return False
    widest = max(hs, key=lambda h: h.x1 - h.x0)
    # a scan's column line may be broken in pieces: a piece that meets a rule at one end is
    # enough for a side
    sides = [r.x0 for r in component if _framing(r, component)]
    return any(abs(x - widest.x0) <= 3 * SNAP for x in sides) and any(
        abs(x - widest.x1) <= 3 * SNAP for x in sides
    )


def _framing(rule: Ruling, component: list[Ruling]) -> bool:
    """A vertical ruling that ends on a horizontal one, as a table's column lines do."""
    if rule.horizontal:
        return False

    def meets(y: float) -> bool:
        return any(
            h.horizontal and abs(h.y0 - y) <= 2 * SNAP and h.x0 - SNAP <= rule.x0 <= h.x1 + SNAP
            for h in component
        )

    return meets(rule.y0) or meets(rule.y1)


def _inside_any(line: TextLine, grids: list[Grid]) -> bool:
    cx, cy = _center(line.bbox)
    for g in grids:
        for x0, y0, x1, y1 in g.page_bboxes.values():
            if x0 <= cx <= x1 and y0 <= cy <= y1:
                return True
    return False


def build_grids(pages: list[PageLayout]) -> list[Grid]:
    """All logical tables of a document in reading order; tables continued across a page
    break are joined."""
    out: list[Grid] = []
    by_page = {p.number: p for p in pages}
    for page in pages:
        for grid in page_grids(page):
            prev = out[-1] if out else None
            if prev is not None and _continues(prev, grid, by_page):
                _join(prev, grid)
            else:
                out.append(grid)
    for i, grid in enumerate(out):
        grid.id = f"g{i}"
        for k, cell in enumerate(sorted(grid.cells, key=lambda c: (c.row, c.col))):
            cell.id = f"c{k}"
        grid.cells.sort(key=lambda c: (c.row, c.col))
    return out


def _text_between(page: PageLayout, y0: float, y1: float) -> bool:
    """True when a line that is not page furniture lies between y0 and y1 on the page."""
    for line in page.lines:
        cy = (line.bbox[1] + line.bbox[3]) / 2
        if y0 < cy < y1 and not _FURNITURE.match(line.text):
            return True
    return False


def _edge_bounds(grid: Grid, page: int, first: bool) -> list[float]:
    """x boundaries of the cells of the grid's first (or last) row on a page."""
    cells = [c for c in grid.cells if c.page == page]
    if not cells:
        return []
    row = min(c.row for c in cells) if first else max(c.row + c.rowspan - 1 for c in cells)
    xs: set[float] = set()
    for c in cells:
        if c.row <= row <= c.row + c.rowspan - 1:
            xs.add(round(c.bbox[0], 1))
            xs.add(round(c.bbox[2], 1))
    return sorted(xs)


def _edge_rows(grid: Grid, page: int, first: bool, count: int = 2) -> list[Cell]:
    """The cells of the grid's first (or last) `count` rows on a page that hold three cells
    or more (rows of columns, not one wide text)."""
    by_row: dict[int, list[Cell]] = defaultdict(list)
    for c in grid.cells:
        if c.page == page:
            by_row[c.row].append(c)
    rows = sorted(r for r, cells in by_row.items() if len(cells) >= 3)
    return [c for r in (rows[:count] if first else rows[-count:]) for c in by_row[r]]


def _gaps(cells: list[Cell]) -> list[tuple[float, float]]:
    """The gaps between neighbouring cells of each row."""
    by_row: dict[int, list[Cell]] = defaultdict(list)
    for c in cells:
        by_row[c.row].append(c)
    gaps: list[tuple[float, float]] = []
    for row in by_row.values():
        row.sort(key=lambda c: c.bbox[0])
        gaps += [
            (a.bbox[2], b.bbox[0]) for a, b in itertools.pairwise(row) if b.bbox[0] > a.bbox[2]
        ]
    return gaps


def _in_whitespace(xs: list[float], cells: list[Cell]) -> bool:
    """True when no x cuts through the text of a cell, and there are cells and xs to tell."""
    return (
        len(xs) >= 2
        and len(cells) >= 3
        and not any(c.bbox[0] + 1.0 < x < c.bbox[2] - 1.0 for x in xs for c in cells)
    )


def _gaps_open(gaps: list[tuple[float, float]], cells: list[Cell]) -> bool:
    """True when some whitespace of each gap is left open by the cells' text."""
    for lo, hi in gaps:
        cursor = lo
        for x0, x1 in sorted((c.bbox[0], c.bbox[2]) for c in cells):
            if x0 > cursor + 1.0:
                break
            cursor = max(cursor, x1)
        if cursor >= hi - 1.0:
            return False
    return bool(gaps) and len(cells) >= 3


def _same_bounds(a: list[float], b: list[float]) -> bool:
    return (
        len(a) == len(b)
        and len(a) >= 2
        and all(abs(x - y) <= MATCH_X for x, y in zip(a, b, strict=True))
    )


def _continues(prev: Grid, grid: Grid, by_page: dict[int, PageLayout]) -> bool:
    last_page = prev.pages[-1]
    page = grid.pages[0]
    if page != last_page + 1 or prev.ruled != grid.ruled:
        return False
    p_prev, p_next = by_page[last_page], by_page[page]
    prev_box = prev.page_bboxes[last_page]
    next_box = grid.page_bboxes[page]
    if _text_between(p_prev, prev_box[3], p_prev.height + 1):
        return False
    if _text_between(p_next, -1, next_box[1]):
        return False
    if not grid.ruled:
        # Borderless: the continuation's column separators must be among the table's own.
        inner = grid.col_bounds[1:-1]
        known = prev.col_bounds[1:-1]
        if len(inner) < 2:
            return False
        if all(any(abs(x - k) <= 2 * MATCH_X for k in known) for x in inner):
            return True
        # The table's upper part (funding rows) may add separators of its own that move the
        # shared ones; then compare with the rows just before the break: every separator of
        # the continuation falls in their whitespace, and theirs in the continuation's.
        head_cells = _edge_rows(grid, page, first=True)
        # The last row alone, too: the row before it may be another part of the table (the
        # goal rows above an indicator header that ends the page), on columns of its own.
        for count in (2, 1):
            tail_cells = _edge_rows(prev, last_page, first=False, count=count)
            if _in_whitespace(inner, tail_cells) and _gaps_open(_gaps(tail_cells), head_cells):
                return True
        return False
    tail = _edge_bounds(prev, last_page, first=False)
    head = _edge_bounds(grid, page, first=True)
    if _same_bounds(tail, head):
        return True
    # A repeated header row may differ from the last data row; compare the second row too.
    second = [c for c in grid.cells if c.row == 1]
    if second:
        xs = sorted({round(x, 1) for c in second for x in (c.bbox[0], c.bbox[2])})
        return _same_bounds(tail, xs)
    return False


def _join(prev: Grid, grid: Grid) -> None:
    """Append grid's rows to prev, on one column system; drop a repeated header row."""
    first_texts = [c.text for c in grid.row_cells(0)]
    rows: dict[int, list[str]] = defaultdict(list)
    for cell in sorted(prev.cells, key=lambda c: (c.row, c.col)):
        rows[cell.row].append(cell.text)
    drop_first = sum(1 for t in first_texts if t) >= 2 and first_texts in rows.values()
    bounds = _cluster(prev.col_bounds + grid.col_bounds, MATCH_X)
    offset = prev.n_rows - (1 if drop_first else 0)
    for cell in grid.cells:
        if drop_first and cell.row == 0:
            continue
        cell.row += offset
        prev.cells.append(cell)
    for cell in prev.cells:
        if prev.ruled:
            c0 = _nearest(bounds, cell.bbox[0])
            c1 = max(c0 + 1, _nearest(bounds, cell.bbox[2]))
        else:  # text extents, not cell borders: the columns they fall in
            last = len(bounds) - 2
            c0 = max(0, min(bisect_right(bounds, cell.bbox[0] + 0.5) - 1, last))
            c1 = max(c0, min(bisect_right(bounds, cell.bbox[2] - 0.5) - 1, last)) + 1
        cell.col, cell.colspan = c0, c1 - c0
    prev.n_rows = offset + grid.n_rows
    prev.n_cols = len(bounds) - 1
    prev.col_bounds = bounds
    prev.pages.append(grid.pages[0])
    prev.page_bboxes.update(grid.page_bboxes)


def _nearest(values: list[float], x: float) -> int:
    """Index of the value nearest x in a sorted list."""
    i = bisect_left(values, x)
    if i == 0:
        return 0
    if i == len(values):
        return len(values) - 1
    return i if values[i] - x < x - values[i - 1] else i - 1
