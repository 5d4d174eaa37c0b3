"""RapidOCR (PP-OCRv4 Chinese, ONNX) as the cell reader of ocr.py.

`rapidocr-onnxruntime` ships the detection, direction and recognition models inside its wheel,
so nothing is fetched at run time. The recogniser reads one text line per image (it scales the
line to 48 px high), so a cell crop is read with recognition only (`use_det=False`), and a cell
that holds several lines is first cut into lines at the blank pixel rows between them; only a
band that is still taller than a line (lines touching) and a page without any table grid go
through the detector. The recogniser's score (0..1) is the line's confidence.

Post-processing is what is not specific to one engine: a lone flat stroke is the "-" of a
not-applicable cell, a comparison sign read as > / < with a bar under it is ≥ / ≤, a bare number
gets `normalize_numeric`. Tesseract's own repairs (the digit-model re-read, "(9%0)" → "(%)")
stay in ocr.py: PP-OCR does not make those mistakes.
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import NDArray

from jixiao.ingest.ocr import (
    CELL_PAD_PX,
    Box,
    OcrLine,
    OcrOptions,
    _clean_crop,
    _comparison_has_bar,
    _Crop,
    _dash,
    _runs_of,
    normalize_numeric,
    widen_to_pale,
)
from jixiao.ingest.scan_grid import Grey, binarize

LINE_GAP_PT = 0.5  # blank pixel rows up to this high inside one text line are bridged
MIN_BAND_PT = 2.5  # a band of ink lower than this beside taller ones: a speck, not a line
TALL_BAND_PT = 20.0  # a band taller than this holds more than one line of body text
LINE_PAD_PX = 6  # white margin kept around a line cut out of a cell
PIECE_GAP_EM = 1.5  # a blank this many line heights wide inside a detected line parts two cells
# A space the recogniser puts where the glyphs stand apart ("≥ 95.00", "16, 124.45", "项目 名称");
# only one between two Latin letters or digits is a real one ("Windows 10").
_LOOSE_SPACE = re.compile(r"(?<![A-Za-z0-9])\s+|\s+(?![A-Za-z0-9])")
# an ASCII "?" is what the recogniser makes of a ruling stub on a bitonal page ("?分值",
# "产出指标?"); forms write the full-width ？ where they ask something
_STRAY_HEAD = "·.,，。、：:;；」』'`|_?"
_STRAY_TAIL = "·'`|_?"
# Under this score a reading made only of dot-like marks is a speck ("·" at 0.2-0.3).
JUNK_SCORE = 0.5
_SPECKS = "·.,，。、'`\"“”‘’-_:：;；~^"
_BLOTS = "■□●▪◆◇▲△★☆"


class RapidReader:
    """One loaded RapidOCR; reads cells of a page image. Not thread-safe."""

    name = "rapidocr"

    def __init__(self, options: OcrOptions):
        from rapidocr_onnxruntime import RapidOCR  # ImportError: ocr.open_reader falls back

        self._options = options
        self._scale = 72.0 / options.dpi
        self._ocr = RapidOCR(
            intra_op_num_threads=options.threads,
            inter_op_num_threads=1,
            # "max": never upscale a small crop for the detector (the default "min" blows a
            # 100 px cell up to 736 px high); a page is capped at 2000 px on its long side.
            det_limit_type="max",
        )

    # --- the two model calls --------------------------------------------------------------

    def recognize(self, image: Grey) -> tuple[str, float]:
        """One text line: its text and the recogniser's score (0..1)."""
        result, _ = self._ocr(image, use_det=False, use_cls=False, use_rec=True)
        if not result:
            return "", 0.0
        text, score = result[0][0], result[0][1]
        return str(text).strip(), float(score)

    def detect(self, image: Grey) -> list[tuple[Box, str, float]]:
        """Text lines found by the detector, each recognised: (x0, y0, x1, y1) pixels of
        `image`, text, score. Lines under RapidOCR's own score threshold (0.5) are dropped."""
        result, _ = self._ocr(image, use_det=True, use_cls=False, use_rec=True)
        out: list[tuple[Box, str, float]] = []
        for points, text, score in result or []:
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            box = (int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1)
            out.append((box, str(text).strip(), float(score)))
        return out

    # --- CellReader -----------------------------------------------------------------------

    def read_region(self, grey: Grey, box_px: Box) -> list[OcrLine]:
        x0, y0, x1, y1 = box_px
        if x1 - x0 < 4 or y1 - y0 < 4:
            return []
        crop = _clean_crop(grey, box_px)
        if crop is None:
            return []
        if _dash(crop, self._options.dpi):
            return [OcrLine("-", self._ink_bbox(crop), 0.5)]
        lines: list[OcrLine] = []
        for r0, r1 in self._bands(crop.image):
            # Each line cut to its own ink, as the detector would cut it: white space the cell
            # has beside a short line makes the recogniser drop glyphs ("里)" read as "里").
            cols = np.nonzero(binarize(crop.image[r0:r1]).any(axis=0))[0]
            c0, c1 = widen_to_pale(crop.image, r0, r1, int(cols[0]), int(cols[-1]) + 1)
            band = _pad(crop.image[r0:r1, c0:c1])
            origin = (crop.origin[0] + c0 - LINE_PAD_PX, crop.origin[1] + r0 - LINE_PAD_PX)
            found = self.detect(band) if (r1 - r0) * self._scale > TALL_BAND_PT else []
            if not found:  # one line, or lines the detector did not find: read it whole
                text, score = self.recognize(band)
                found = [((0, 0, band.shape[1], band.shape[0]), text, score)]
            for (bx0, by0, bx1, by1), text, score in found:
                line_image = band[by0:by1, bx0:bx1]
                text = finish_text(text, line_image)
                if not text or _junk(text, score):
                    continue
                bbox = _ink_box(line_image, (origin[0] + bx0, origin[1] + by0), self._scale)
                lines.append(OcrLine(text, bbox, score))
        return lines

    def read_page(self, grey: Grey) -> list[OcrLine] | None:
        lines: list[OcrLine] = []
        for box, text, score in self.detect(grey):
            pieces = _pieces(grey, box)
            for piece in pieces:
                bx0, by0, bx1, by1 = piece
                if len(pieces) > 1:  # each cell of a row the detector read as one line
                    text, score = self.recognize(_pad(grey[by0:by1, bx0:bx1]))
                text = finish_text(text, grey[by0:by1, bx0:bx1])
                if text and not _junk(text, score):
                    s = self._scale
                    lines.append(OcrLine(text, (bx0 * s, by0 * s, bx1 * s, by1 * s), score))
        return lines

    def close(self) -> None:
        pass  # the ONNX sessions go with the object

    # --- helpers --------------------------------------------------------------------------

    def _bands(self, image: Grey) -> list[tuple[int, int]]:
        """Pixel rows of the text lines of a cell crop: runs of inked rows (specks of one or
        two pixels do not count), gaps up to LINE_GAP_PT bridged, specks dropped."""
        ink: NDArray[np.bool_] = binarize(image)
        rows: NDArray[np.bool_] = np.asarray(ink.sum(axis=1) >= 2)
        gap = max(1, round(LINE_GAP_PT / self._scale))
        bands = _runs_of(rows, max_gap=gap)
        if len(bands) <= 1:
            return bands or [(0, image.shape[0])]
        tallest = max(r1 - r0 for r0, r1 in bands)
        low = MIN_BAND_PT / self._scale
        return [(r0, r1) for r0, r1 in bands if r1 - r0 >= low or tallest < 2 * low]

    def _ink_bbox(self, crop: _Crop) -> tuple[float, float, float, float]:
        ox, oy = crop.origin
        w, h = crop.ink_size
        s = self._scale
        return (
            (ox + CELL_PAD_PX) * s,
            (oy + CELL_PAD_PX) * s,
            (ox + CELL_PAD_PX + w) * s,
            (oy + CELL_PAD_PX + h) * s,
        )


def _pieces(grey: Grey, box: Box) -> list[Box]:
    """A detected line cut at blank stretches wider than PIECE_GAP_EM of its height: the
    detector joins the cells of a table row without vertical rules into one line ("年初预算数
    全年预算数 全年执行数"), where a text layer has one piece per cell."""
    x0, y0, x1, y1 = box
    mask = binarize(grey[y0:y1, x0:x1])
    # rows mostly dark are a rule the box took in (the table's lines run under the text)
    mask = mask[mask.mean(axis=1) < 0.5]
    ink = mask.sum(axis=0) >= 1
    cols = np.nonzero(ink)[0]
    if cols.size == 0:
        return [box]
    wide = PIECE_GAP_EM * (y1 - y0)
    out: list[Box] = []
    start = prev = int(cols[0])
    for c in cols[1:].tolist():
        if c - prev - 1 >= wide:
            out.append((x0 + start, y0, x0 + prev + 1, y1))
            start = c
        prev = c
    out.append((x0 + start, y0, x0 + prev + 1, y1))
    return out if len(out) > 1 else [box]


def _pad(image: Grey) -> Grey:
    out = np.full(
        (image.shape[0] + 2 * LINE_PAD_PX, image.shape[1] + 2 * LINE_PAD_PX), 255, dtype=np.uint8
    )
    out[LINE_PAD_PX:-LINE_PAD_PX, LINE_PAD_PX:-LINE_PAD_PX] = image
    return out


def _ink_box(
    image: Grey, origin: tuple[int, int], scale: float
) -> tuple[float, float, float, float]:
    """PDF-point bbox of the ink of a line image whose [0, 0] is page pixel `origin`."""
    ink = binarize(image)
    ox, oy = origin
    if not ink.any():
        h, w = image.shape
        return (ox * scale, oy * scale, (ox + w) * scale, (oy + h) * scale)
    rows = np.nonzero(ink.any(axis=1))[0]
    cols = np.nonzero(ink.any(axis=0))[0]
    return (
        (ox + int(cols[0])) * scale,
        (oy + int(rows[0])) * scale,
        (ox + int(cols[-1]) + 1) * scale,
        (oy + int(rows[-1]) + 1) * scale,
    )


def finish_text(text: str, image: Grey) -> str:
    """Engine-agnostic clean-up of one recognised line (`image`: that line's pixels)."""
    # "|" at a line's end is a ruling remnant (no form prints it).
    text = _LOOSE_SPACE.sub("", text.strip())
    # A speck or a ruling remnant beside the text reads as punctuation no value starts or ends
    # with ("·项目名称", "三级指标·", "：49.00", "三级指标」", a "|" at the edge, "?分值").
    text = text.lstrip(_STRAY_HEAD).rstrip(_STRAY_TAIL)
    if text.endswith(("」", "』")) and not ("「" in text or "『" in text):
        text = text[:-1]
    if not text:
        return ""
    if text[0] in "<>" and image.size and _comparison_has_bar(image):
        text = ("≥" if text[0] == ">" else "≤") + text[1:]
    return normalize_numeric(text)


def _junk(text: str, score: float) -> bool:
    # Only speck-like readings: a lone ")" of a wrapped "(公里" / ")" scores low too, and is kept.
    # Blocks and bullets alone are a blot or a seal's remnant however sure the recogniser is.
    if all(ch in _BLOTS for ch in text):
        return True
    return score < JUNK_SCORE and all(ch in _SPECKS for ch in text)
