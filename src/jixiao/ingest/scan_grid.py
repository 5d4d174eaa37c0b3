"""Ruling lines of a scanned table, recovered from the image alone.

A scan has no drawings, so the table's lines are found in the pixels: binarise, keep long runs
of dark pixels along rows (horizontal rulings) and along columns (vertical ones), bridge the
small breaks JPEG and noise leave in a line, and merge the runs of neighbouring pixel rows into
one line segment. The result is the same `Ruling` list `pdf.read_rulings` returns for a drawn
table, in PDF points, so `grid.page_grids` builds cells (with row/col spans) from it unchanged.

Also here: the skew angle of a scan, measured on the same long lines (projection profile).
Works on plain numpy arrays of grey values (0 = black); knows nothing of Tesseract or PyMuPDF.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from jixiao.ingest.model import Ruling

Grey = NDArray[np.uint8]

DARK = 150  # grey value below which a pixel is ink (scans: white paper ≈ 240, ink ≈ 20)
MIN_HLINE_PT = 18.0  # a ruling is at least this long; longer than any glyph stroke at 10.5 pt
# Vertical rulings of a one-line row are short (≈ 16 pt); CJK vertical strokes at body size are
# shorter still, and a stray stroke touches no horizontal ruling, so grid.py drops it.
MIN_VLINE_PT = 10.0
GAP_PT = 1.2  # breaks in a line up to this long are noise / JPEG loss, bridged
BAND_PX = 2  # pixel rows this close that hold runs belong to one (thick or tilted) line


def binarize(grey: Grey, threshold: int = DARK) -> NDArray[np.bool_]:
    return grey < threshold


def _runs(mask: NDArray[np.bool_], min_len: int, gap: int) -> list[tuple[int, int, int]]:
    """(row, start, end) of dark runs along each row of `mask`, breaks ≤ gap bridged, kept
    when at least min_len long (end exclusive)."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    diff = np.diff(padded, axis=1)
    rows_s, starts = np.nonzero(diff == 1)
    _, ends = np.nonzero(diff == -1)
    if starts.size == 0:
        return []
    # Bridge small breaks: a run joins the previous one of the same row when the gap is short.
    new_run = np.ones(starts.size, dtype=bool)
    new_run[1:] = (rows_s[1:] != rows_s[:-1]) | (starts[1:] - ends[:-1] > gap)
    first = np.nonzero(new_run)[0]
    last = np.append(first[1:] - 1, starts.size - 1)
    r, s, e = rows_s[first], starts[first], ends[last]
    keep = (e - s) >= min_len
    return list(zip(r[keep].tolist(), s[keep].tolist(), e[keep].tolist(), strict=True))


def _segments(mask: NDArray[np.bool_], min_len: int, gap: int) -> list[tuple[float, int, int]]:
    """Line segments along the rows of mask: (row position, start, end) in pixels.

    A segment is a connected stack of runs: a run joins a segment whose last run is at most
    BAND_PX rows above it and overlaps it (breaks ≤ gap bridged). Rows are not banded as a
    whole: something dark down the whole page (a binding shadow, a page edge) would chain every
    row into one band and pull a ruling and the bold text under it into one averaged line.
    A segment's position is the mean of its rows weighted by run length."""
    runs = _runs(mask, min_len, gap)
    segments: list[tuple[float, int, int]] = []
    # open segments: [start, end, last row, sum of row * length, sum of length]
    open_: list[list[int]] = []

    def close(seg: list[int]) -> None:
        segments.append((seg[3] / seg[4] + 0.5, seg[0], seg[1]))

    for row, a, b in runs:  # sorted by row (np.nonzero is row-major)
        still: list[list[int]] = []
        for seg in open_:
            if row - seg[2] > BAND_PX:
                close(seg)
            else:
                still.append(seg)
        open_ = still
        joined = [seg for seg in open_ if a <= seg[1] + gap and b >= seg[0] - gap]
        length = b - a
        if not joined:
            open_.append([a, b, row, row * length, length])
            continue
        first = joined[0]
        for seg in joined[1:]:
            first[0], first[1] = min(first[0], seg[0]), max(first[1], seg[1])
            first[2] = max(first[2], seg[2])
            first[3] += seg[3]
            first[4] += seg[4]
            open_.remove(seg)
        first[0], first[1], first[2] = min(first[0], a), max(first[1], b), row
        first[3] += row * length
        first[4] += length
    for seg in open_:
        close(seg)
    segments.sort()
    return segments


def find_rulings(grey: Grey, dpi: float) -> list[Ruling]:
    """Horizontal and vertical ruling lines of a (deskewed) grey page image, in PDF points."""
    scale = 72.0 / dpi
    mask = binarize(grey)
    gap = max(1, round(GAP_PT / scale))
    rulings: list[Ruling] = []
    for y, x0, x1 in _segments(mask, max(8, round(MIN_HLINE_PT / scale)), gap):
        rulings.append(Ruling(x0 * scale, y * scale, x1 * scale, y * scale))
    vertical = np.ascontiguousarray(mask.T)
    for x, y0, y1 in _segments(vertical, max(6, round(MIN_VLINE_PT / scale)), gap):
        rulings.append(Ruling(x * scale, y0 * scale, x * scale, y1 * scale))
    return rulings


def _sharpness(mask_img: Image.Image, angle: float) -> float:
    """How peaked the row profile is after turning the image by `angle` degrees: long
    horizontal lines give tall, narrow peaks only when they lie level."""
    # Bilinear: with nearest-neighbour a turn of under half a pixel changes nothing, and the
    # search would see a plateau around the true angle.
    turned = mask_img.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=0)
    profile = np.asarray(turned, dtype=np.float64).sum(axis=1)
    return float(np.square(profile).sum())


def estimate_skew(grey: Grey, *, max_angle: float = 3.0) -> float:
    """The angle (degrees, PIL's counter-clockwise convention) that levels the page's lines:
    `Image.rotate(estimate_skew(a))` straightens it. Coarse search on a reduced image, then a
    fine one at half size around the best angle."""
    mask = binarize(grey)
    if not mask.any():
        return 0.0
    full = Image.fromarray((mask * 255).astype(np.uint8))
    best = 0.0
    # 31 + 9 + 7 turns of small images instead of ~300 of the page.
    for factor, step, span in ((4, 0.2, max_angle), (4, 0.05, 0.2), (2, 0.02, 0.06)):
        small = full.reduce(factor) if factor > 1 else full
        n = round(span / step)
        candidates = [best + k * step for k in range(-n, n + 1)]
        # Ties go to the smaller turn.
        best = max(candidates, key=lambda a: (_sharpness(small, a), -abs(a)))
    return round(best, 3)


def deskew(grey: Grey, angle: float) -> Grey:
    """The image turned by `angle` degrees about its centre, white where nothing was."""
    if abs(angle) < 1e-3:
        return grey
    image = Image.fromarray(grey)
    turned = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    return np.asarray(turned, dtype=np.uint8)


LINE_GAP_PT = 2.0  # glyphs of one text line are closer than this; lines of a cell are further
TEXT_RUN_PT = 30.0  # a smeared run this long is three or more glyphs: a line of text


def _text_ink(mask: NDArray[np.bool_], dpi: float) -> NDArray[np.bool_]:
    """The ink without the ruling lines (long straight runs either way)."""
    scale = 72.0 / dpi
    long_px = max(8, round(MIN_HLINE_PT / scale))
    out = mask.copy()
    for y, x0, x1 in _runs(mask, long_px, 1):
        out[max(0, y - 1) : y + 2, x0:x1] = False
    for x, y0, y1 in _runs(np.ascontiguousarray(mask.T), long_px, 1):
        out[y0:y1, max(0, x - 1) : x + 2] = False
    return out


def _line_ink(text: NDArray[np.bool_], gap: int, min_len: int) -> int:
    """Ink pixels in runs along the rows that, small gaps bridged, are at least min_len long."""
    runs = _runs(text, min_len, gap)
    if not runs:
        return 0
    return int(sum(int(text[r, s:e].sum()) for r, s, e in runs))


def text_orientation(grey: Grey, dpi: float) -> float:
    """How much more of the page's text runs along the columns than along the rows: > 1 for a
    page turned by 90° (its text lines stand upright), < 1 for an upright one. Glyphs of one
    line sit closer together than the lines of a cell, so bridging small gaps along the text
    direction joins a line's glyphs into long runs, and across it does not."""
    reduce = max(1, round(dpi / 100))  # ≈ 100 dpi is plenty to see lines
    mask = binarize(grey)[::reduce, ::reduce]
    eff = dpi / reduce
    text = _text_ink(mask, eff)
    gap = max(1, round(LINE_GAP_PT * eff / 72))
    min_len = round(TEXT_RUN_PT * eff / 72)
    along_rows = _line_ink(text, gap, min_len)
    along_cols = _line_ink(np.ascontiguousarray(text.T), gap, min_len)
    return (along_cols + 1) / (along_rows + 1)
