"""Open and validate a PDF, and read each page's text lines, ruling lines and kind.

The only module (with corpus rendering) that imports PyMuPDF. Everything it returns is plain
data (see model.py), so the document is closed before the next stage runs.

Speed matters (> 40 pages/s for the whole ingest): one `get_text("rawdict")` and one
`get_cdrawings()` per page, no `find_tables()`.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Any

import pymupdf

from jixiao.errors import CorruptPdf, EmptyPdf, EncryptedPdf, FileMissing, NotAPdf, TooManyPages
from jixiao.ingest.model import BBox, Document, PageKind, PageLayout, Ruling, TextLine, TextSpan

# Whitespace kept, ligatures kept, clipped to the page; TEXT_CID_FOR_UNKNOWN_UNICODE left out so
# unmapped glyphs come out as U+FFFD and can be counted.
TEXT_FLAGS = (
    pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_PRESERVE_LIGATURES | pymupdf.TEXT_MEDIABOX_CLIP
)
REPLACEMENT = "\ufffd"
RULING_MAX_THICKNESS = 2.5  # a filled rect thinner than this is a drawn line
RULING_MIN_LENGTH = 3.0
COLLINEAR_TOLERANCE = 1.0
GAP_JOIN_TOLERANCE = 2.0
# A horizontal gap of this many font sizes between two glyphs splits a line into two pieces:
# table cells on one baseline must not be read as one line.
PIECE_GAP_EM = 0.9
GARBLED_SHARE = 0.3
IMAGE_ONLY_COVER = 0.5
# Warnings MuPDF prints about damaged content; with them, a "repaired" file is damaged. The
# xref-repair messages themselves ("trying to repair broken xref", "cannot find startxref",
# "repairing PDF document") are left out: a wrong xref offset alone loses nothing.
_DAMAGE_WARNING = re.compile(
    r"syntax error|premature|truncated|unexpected|missing 'endobj'|not a stream|"
    r"cannot load|Length incorrect|unknown keyword",
    re.IGNORECASE,
)


def open_document(path: str | Path, *, max_pages: int = 2000) -> Document:
    """Read one PDF into plain page layouts. Raises a JixiaoError subclass for bad input."""
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise FileMissing(name)
    if path.is_dir():
        raise NotAPdf(name, "is a folder, not a PDF file", "pass PDF files or a folder of them")
    data = path.read_bytes()
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise NotAPdf(name)
    sha = hashlib.sha256(data).hexdigest()

    pymupdf.TOOLS.mupdf_warnings(reset=True)
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as err:  # MuPDF raises plain RuntimeErrors / FileDataError
        raise CorruptPdf(name, f"PDF cannot be opened ({_short(err)})") from err
    try:
        if doc.needs_pass:
            raise EncryptedPdf(name)
        repaired = bool(getattr(doc, "is_repaired", False))
        count = doc.page_count
        if count == 0:
            if repaired:
                raise CorruptPdf(name)
            raise EmptyPdf(name)
        if count > max_pages:
            raise TooManyPages(name, f"PDF has {count} pages, more than --max-pages {max_pages}")
        pages: list[PageLayout] = []
        searchable: list[PageLayout] = []
        for index in range(count):
            try:
                layout = read_page(doc[index], index + 1)
                if is_searchable_scan(doc[index], layout):
                    searchable.append(layout)
            except Exception as err:
                raise CorruptPdf(name, f"page {index + 1} cannot be read ({_short(err)})") from err
            pages.append(layout)
        _reread_layers(doc, searchable)
        if repaired and (
            b"%%EOF" not in data[-1024:] or _damaged(pymupdf.TOOLS.mupdf_warnings(reset=True))
        ):
            # No end marker: truncated. Content errors: damaged. A file whose only fault is
            # a broken xref table (repaired, every object intact) is read as it is.
            raise CorruptPdf(name)
        return Document(path=name, sha256=sha, page_count=count, pages=pages)
    finally:
        doc.close()


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:120]


def _damaged(warnings: str) -> bool:
    return bool(warnings and _DAMAGE_WARNING.search(warnings))


def read_page(page: Any, number: int) -> PageLayout:
    """Lines (split at wide gaps and at vertical rulings), rulings and the page kind."""
    rect = page.rect
    # Unrotated page space: get_text and get_drawings report coordinates there.
    mediabox = page.mediabox
    width, height = float(mediabox.width), float(mediabox.height)
    rulings = read_rulings(page)
    raw = page.get_text("rawdict", flags=TEXT_FLAGS)
    verticals = sorted((r for r in rulings if not r.horizontal), key=lambda r: r.x0)
    lines, n_chars, n_bad = _read_lines(raw, verticals)
    kind: PageKind
    image_ratio = 0.0
    if n_chars == 0:
        image_ratio = _image_cover(page, float(rect.width) * float(rect.height))
        kind = "image_only" if image_ratio >= IMAGE_ONLY_COVER else "empty"
    elif n_bad >= max(1, GARBLED_SHARE * n_chars):
        kind = "garbled"
    else:
        kind = "text"
    return PageLayout(
        number=number,
        width=width,
        height=height,
        rotation=int(page.rotation),
        kind=kind,
        lines=lines,
        rulings=rulings,
        garbled_chars=n_bad,
        image_area_ratio=image_ratio,
    )


def is_searchable_scan(page: Any, layout: PageLayout) -> bool:
    """A scanned page that also carries an OCR text layer: a picture covering the page and
    text drawn only invisibly (render mode 3, what scanners and OCR tools put over the image)."""
    if layout.kind != "text" or not page.get_images():
        return False
    rect = page.rect
    if _image_cover(page, float(rect.width) * float(rect.height)) < IMAGE_ONLY_COVER:
        return False
    trace = page.get_texttrace()
    return bool(trace) and all(
        span.get("type") == 3 or float(span.get("opacity", 1.0)) == 0.0 for span in trace
    )


def _reread_layers(doc: Any, pages: list[PageLayout]) -> None:
    """Searchable scans become image-only pages, read by OCR like any scan, when an OCR engine
    is there (`ocr.layers_to_reread` says why)."""
    if not pages:
        return
    from jixiao.ingest.ocr import layers_to_reread

    chosen = set(layers_to_reread(pages))
    for layout in pages:
        if layout.number in chosen:
            layout.kind = "image_only"
            layout.lines = []
            layout.image_area_ratio = _image_cover(
                doc[layout.number - 1], layout.width * layout.height
            )


def _image_cover(page: Any, area: float) -> float:
    if area <= 0 or not page.get_images():
        return 0.0
    covered = 0.0
    for info in page.get_image_info():
        x0, y0, x1, y1 = info["bbox"]
        covered += max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return min(1.0, covered / area)


def read_rulings(page: Any) -> list[Ruling]:
    """Horizontal and vertical ruling lines: stroked lines, stroked rect borders and thin filled
    rects, merged where collinear pieces touch (cell borders are often drawn per cell)."""
    horizontal: list[tuple[float, float, float]] = []  # (y, x0, x1)
    vertical: list[tuple[float, float, float]] = []  # (x, y0, y1)

    def add_line(x0: float, y0: float, x1: float, y1: float) -> None:
        if abs(y1 - y0) <= COLLINEAR_TOLERANCE and abs(x1 - x0) >= RULING_MIN_LENGTH:
            horizontal.append(((y0 + y1) / 2, min(x0, x1), max(x0, x1)))
        elif abs(x1 - x0) <= COLLINEAR_TOLERANCE and abs(y1 - y0) >= RULING_MIN_LENGTH:
            vertical.append(((x0 + x1) / 2, min(y0, y1), max(y0, y1)))

    for path in page.get_cdrawings():
        stroked = "s" in (path.get("type") or "")
        for item in path["items"]:
            op = item[0]
            if op == "l":
                (ax, ay), (bx, by) = item[1], item[2]
                add_line(ax, ay, bx, by)
            elif op == "re":
                x0, y0, x1, y1 = item[1]
                w, h = abs(x1 - x0), abs(y1 - y0)
                if h <= RULING_MAX_THICKNESS and w >= RULING_MIN_LENGTH:
                    add_line(min(x0, x1), (y0 + y1) / 2, max(x0, x1), (y0 + y1) / 2)
                elif w <= RULING_MAX_THICKNESS and h >= RULING_MIN_LENGTH:
                    add_line((x0 + x1) / 2, min(y0, y1), (x0 + x1) / 2, max(y0, y1))
                elif stroked:
                    add_line(x0, y0, x1, y0)
                    add_line(x0, y1, x1, y1)
                    add_line(x0, y0, x0, y1)
                    add_line(x1, y0, x1, y1)
            elif op == "qu":
                q = item[1]
                pts = [(float(p[0]), float(p[1])) for p in q]
                if stroked or _thin_quad(pts):
                    ul, ur, ll, lr = pts
                    if _thin_quad(pts):
                        add_line(ul[0], (ul[1] + ll[1]) / 2, ur[0], (ur[1] + lr[1]) / 2)
                        add_line((ul[0] + ur[0]) / 2, ul[1], (ll[0] + lr[0]) / 2, ll[1])
                    else:
                        add_line(*ul, *ur)
                        add_line(*ll, *lr)
                        add_line(*ul, *ll)
                        add_line(*ur, *lr)
    rulings = [Ruling(x0, y, x1, y) for y, x0, x1 in _merge_collinear(horizontal)]
    rulings += [Ruling(x, y0, x, y1) for x, y0, y1 in _merge_collinear(vertical)]
    return rulings


def _thin_quad(pts: list[tuple[float, float]]) -> bool:
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return min(max(xs) - min(xs), max(ys) - min(ys)) <= RULING_MAX_THICKNESS


def _merge_collinear(
    segments: list[tuple[float, float, float]],
) -> list[tuple[float, float, float]]:
    """Merge segments on (nearly) the same line whose extents overlap or touch."""
    merged: list[tuple[float, float, float]] = []
    for pos, a, b in sorted(segments):
        # Find an earlier segment on the same line (within tolerance) that touches this one.
        joined = False
        for i in range(len(merged) - 1, -1, -1):
            mpos, ma, mb = merged[i]
            if pos - mpos > COLLINEAR_TOLERANCE:
                break
            if a <= mb + GAP_JOIN_TOLERANCE and b >= ma - GAP_JOIN_TOLERANCE:
                merged[i] = (mpos, min(a, ma), max(b, mb))
                joined = True
                break
        if not joined:
            merged.append((pos, a, b))
    # A second pass joins chains that the first pass met out of order.
    if len(merged) > 1:
        merged.sort()
        out = [merged[0]]
        for pos, a, b in merged[1:]:
            mpos, ma, mb = out[-1]
            if pos - mpos <= COLLINEAR_TOLERANCE and a <= mb + GAP_JOIN_TOLERANCE and b >= ma:
                out[-1] = (mpos, min(a, ma), max(b, mb))
            else:
                out.append((pos, a, b))
        merged = out
    return merged


def _read_lines(raw: dict[str, Any], verticals: list[Ruling]) -> tuple[list[TextLine], int, int]:
    """Build text lines from glyphs: a MuPDF line is split where glyphs are far apart or where a
    vertical ruling passes between them (two cells on one baseline)."""
    lines: list[TextLine] = []
    n_chars = 0
    n_bad = 0
    vxs = [v.x0 for v in verticals]
    for block in raw["blocks"]:
        if block.get("type", 0) != 0:
            continue
        for line in block["lines"]:
            if line.get("dir", (1.0, 0.0))[0] < 0.5:
                # Vertical or rotated text (stamps, sideways labels): keep as one piece.
                text = "".join(c["c"] for s in line["spans"] for c in s["chars"]).strip()
                if text:
                    n_chars += len(text)
                    n_bad += text.count(REPLACEMENT)
                    lbox: BBox = tuple(line["bbox"])
                    first = line["spans"][0]
                    lines.append(
                        TextLine(text, lbox, [TextSpan(text, lbox, first["font"], first["size"])])
                    )
                continue
            # pieces: list of spans; a span under construction is (chars, bbox) in `run`.
            pieces: list[list[TextSpan]] = [[]]
            last_x1: float | None = None
            last_cx = 0.0
            for span in line["spans"]:
                size = float(span["size"]) or 1.0
                run: list[str] = []
                box = [0.0, 0.0, 0.0, 0.0]
                for ch in span["chars"]:
                    c = ch["c"]
                    x0, y0, x1, y1 = ch["bbox"]
                    if c.isspace():
                        continue
                    n_chars += 1
                    if c == REPLACEMENT:
                        n_bad += 1
                    space = False
                    if last_x1 is not None:
                        gap = x0 - last_x1
                        if gap > PIECE_GAP_EM * size or _ruling_between(
                            vxs, verticals, last_cx, (x0 + x1) / 2, (y0 + y1) / 2
                        ):
                            _close_run(pieces[-1], run, box, span)
                            pieces.append([])
                        elif gap > 0.15 * size and (run or pieces[-1]):
                            space = True  # a visible space between two glyphs of one cell
                    if not run:
                        box = [x0, y0, x1, y1]
                    else:
                        box = [box[0], min(box[1], y0), max(box[2], x1), max(box[3], y1)]
                    if space:
                        run.append(" ")
                    run.append(c)
                    last_x1 = x1
                    last_cx = (x0 + x1) / 2
                _close_run(pieces[-1], run, box, span)
            for spans in pieces:
                text = "".join(s.text for s in spans).strip()
                if not text:
                    continue
                bbox: BBox = (
                    min(s.bbox[0] for s in spans),
                    min(s.bbox[1] for s in spans),
                    max(s.bbox[2] for s in spans),
                    max(s.bbox[3] for s in spans),
                )
                lines.append(TextLine(text, bbox, spans))
    lines.sort(key=lambda ln: (round(ln.bbox[1] + ln.bbox[3]), ln.bbox[0]))
    return lines, n_chars, n_bad


def _close_run(
    piece: list[TextSpan], run: list[str], box: list[float], span: dict[str, Any]
) -> None:
    if run:
        bbox: BBox = (box[0], box[1], box[2], box[3])
        piece.append(
            TextSpan(
                "".join(run), bbox, span["font"], float(span["size"]), int(span.get("flags", 0))
            )
        )
        run.clear()


def _ruling_between(
    vxs: list[float], verticals: list[Ruling], left: float, right: float, y: float
) -> bool:
    """True when a vertical ruling crosses the baseline between two glyphs' centres (glyph
    boxes may overlap the ruling: wide advances of a non-embedded font, tight cells)."""
    if not vxs or right <= left:
        return False
    lo = bisect_left(vxs, left - 0.5)
    hi = bisect_right(vxs, right + 0.5)
    for i in range(lo, hi):
        v = verticals[i]
        if v.y0 - 1 <= y <= v.y1 + 1:
            return True
    return False
