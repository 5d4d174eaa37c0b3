"""OCR for image-only pages: deskew, recover the table's ruling lines, read cell by cell.

Two engines read the cells, chosen by `OcrOptions.engine` or the environment variable
`JIXIAO_OCR_ENGINE` (`engine_name`, the one place it is read):

- `rapidocr` (default): PP-OCRv4 Chinese recognition through onnxruntime (`ocr_rapid.py`; the
  models ship inside the `rapidocr-onnxruntime` wheel, nothing is downloaded). Each cell crop is
  recognised as one line; a cell holding several lines is cut into lines first. When it cannot
  be imported, Tesseract reads instead (a logged warning, not a crash).
- `tesseract`: libtesseract's C API through ctypes (the `tesseract` CLI costs ≈ 0.7 s per call,
  it reloads the Chinese model each time): the model is loaded once per document and each cell
  takes ≈ 40 ms. Every cell is read with the Chinese model as a text block; a cell that reads as
  a bare number is read again with the English model and a digit whitelist, which keeps decimal
  points and thousands separators.

Measured on scans (benchmarks/bench_ocr.py): full-page OCR loses decimal points and garbles
labels; Tesseract cell by cell misreads labels (一级指标 → -级指标) and comparison signs
(≥30.00 → 过30.00) that the PP-OCR recogniser reads right.

The page is then handed on as if it had a text layer: `PageLayout.lines` (one TextLine per OCR
line, in PDF points) and `PageLayout.rulings` (from scan_grid), so grid.py, segment.py and the
extractors work unchanged. Line confidences (the recogniser's score, 0..1) come back per line
for `apply_confidence`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, get_args

import numpy as np
import pymupdf
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from jixiao.errors import ConfigError, JixiaoError
from jixiao.ingest.grid import join_text, page_grids
from jixiao.ingest.model import BBox, Cell, Document, Grid, PageLayout, Ruling, TextLine
from jixiao.ingest.scan_grid import (
    Grey,
    binarize,
    deskew,
    estimate_skew,
    find_rulings,
    text_orientation,
)

# Where Debian / Ubuntu / Homebrew put the traineddata files, newest first.
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)
INSTALL_HINT = (
    "install Tesseract and its Chinese model: apt-get install tesseract-ocr tesseract-ocr-chi-sim"
)
CELL_INSET_PX = 5  # the ruling itself (and what residual skew leaves of it) stays out
CELL_PAD_PX = 12  # white margin around the ink; Tesseract reads poorly at the image edge
MIN_INK_PX = 12  # fewer dark pixels than this: an empty cell (noise specks)

log = logging.getLogger(__name__)

EngineName = Literal["rapidocr", "tesseract"]
ENGINES: tuple[str, ...] = get_args(EngineName)
DEFAULT_ENGINE: EngineName = "rapidocr"
ENGINE_ENV = "JIXIAO_OCR_ENGINE"


class OcrUnavailable(JixiaoError):
    exit_code = 14
    reason = "OCR is not available"
    hint = INSTALL_HINT


class OcrOptions(BaseModel):
    """How image-only pages are read."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    language: str = "chi_sim"  # Tesseract model(s) for text cells, e.g. "chi_sim+eng"
    numeric_language: str = "eng"  # re-read of cells that look like a bare number; "" = off
    numeric_whitelist: str = "0123456789.,-%<>="
    dpi: int = Field(default=300, ge=100, le=600)  # 72 dpi is far too low for CJK
    psm: int = Field(default=6, ge=3, le=13)  # text cells: one uniform block
    numeric_psm: int = Field(default=7, ge=3, le=13)  # numbers: a single line
    deskew: bool = True
    upright: bool = True  # turn pages scanned sideways (text running vertically) upright first
    max_skew_deg: float = Field(default=3.0, ge=0.0, le=10.0)
    tessdata: str | None = None  # folder holding <language>.traineddata; None: search
    # Which engine reads the cells; None: $JIXIAO_OCR_ENGINE, else rapidocr (`engine_name`).
    engine: EngineName | None = None
    # onnxruntime intra-op threads for rapidocr: 1, because batch runs a process per core and
    # more threads per process only fight over the same cores.
    threads: int = Field(default=1, ge=1, le=64)


def engine_name(options: OcrOptions) -> EngineName:
    """The engine the options ask for: `options.engine`, else the environment variable
    JIXIAO_OCR_ENGINE, else rapidocr. The only place the variable is read."""
    if options.engine is not None:
        return options.engine
    raw = os.environ.get(ENGINE_ENV, "").strip().lower()
    if not raw:
        return DEFAULT_ENGINE
    if raw not in ENGINES:
        raise ConfigError(
            None,
            f"{ENGINE_ENV}={raw!r} is not an OCR engine",
            f"set {ENGINE_ENV} to one of: {', '.join(ENGINES)}",
        )
    return raw  # type: ignore[return-value]


@dataclass(slots=True)
class OcrLine:
    text: str
    bbox: BBox  # PDF points
    confidence: float  # 0..1, the lowest word confidence of the line


@dataclass(slots=True)
class OcrPage:
    """What OCR found on one page (also written into its PageLayout)."""

    number: int
    angle: float  # degrees the scan was turned to level it
    lines: list[OcrLine] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = ""  # which engine read it (rapidocr / tesseract)
    turn: int = 0  # degrees (90 / 270, counter-clockwise) a sideways scan was turned upright

    @property
    def mean_confidence(self) -> float | None:
        if not self.lines:
            return None
        return sum(ln.confidence for ln in self.lines) / len(self.lines)


# --- libtesseract through ctypes ---------------------------------------------------------


def _load_library() -> ctypes.CDLL:
    # Tesseract's OpenMP threads fight over the shared cores (and batch runs a process per
    # core); one thread each is faster. Read by the OpenMP runtime when it loads, so set first.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    name = ctypes.util.find_library("tesseract") or "libtesseract.so.5"
    try:
        lib = ctypes.CDLL(name)
    except OSError as err:
        raise OcrUnavailable(None, "Tesseract library (libtesseract) not found") from err
    vp, cp, ci = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures: dict[str, tuple[list[type], type | None]] = {
        "TessBaseAPICreate": ([], vp),
        "TessBaseAPIInit3": ([vp, cp, cp], ci),
        "TessBaseAPISetPageSegMode": ([vp, ci], None),
        "TessBaseAPISetVariable": ([vp, cp, cp], ci),
        "TessBaseAPISetImage": ([vp, cp, ci, ci, ci, ci], None),
        "TessBaseAPISetSourceResolution": ([vp, ci], None),
        "TessBaseAPIGetTsvText": ([vp, ci], vp),
        "TessBaseAPIClear": ([vp], None),
        "TessBaseAPIEnd": ([vp], None),
        "TessBaseAPIDelete": ([vp], None),
        "TessDeleteText": ([vp], None),
    }
    for fn, (args, res) in signatures.items():
        func = getattr(lib, fn)
        func.argtypes = args
        func.restype = res
    return lib


@dataclass(slots=True)
class _Word:
    line_key: tuple[int, int, int]
    left: int
    top: int
    width: int
    height: int
    confidence: float  # 0..100
    text: str


class TesseractEngine:
    """One loaded Tesseract model; `read` one grey image at a time. Not thread-safe."""

    def __init__(self, tessdata: str, language: str):
        self._lib = _load_library()
        self._api = self._lib.TessBaseAPICreate()
        if self._lib.TessBaseAPIInit3(self._api, tessdata.encode(), language.encode()) != 0:
            self._lib.TessBaseAPIDelete(self._api)
            self._api = None
            raise OcrUnavailable(
                tessdata, f"Tesseract cannot load language '{language}' from this folder"
            )
        self.language = language
        self._whitelist = ""

    def read(self, grey: Grey, *, psm: int, dpi: int, whitelist: str = "") -> list[_Word]:
        lib = self._lib
        if whitelist != self._whitelist:
            lib.TessBaseAPISetVariable(self._api, b"tessedit_char_whitelist", whitelist.encode())
            self._whitelist = whitelist
        lib.TessBaseAPISetPageSegMode(self._api, psm)
        data = np.ascontiguousarray(grey, dtype=np.uint8)
        h, w = data.shape
        lib.TessBaseAPISetImage(self._api, data.tobytes(), w, h, 1, w)
        lib.TessBaseAPISetSourceResolution(self._api, dpi)
        ptr = lib.TessBaseAPIGetTsvText(self._api, 0)
        if not ptr:
            return []
        try:
            tsv = ctypes.string_at(ptr).decode("utf-8", errors="replace")
        finally:
            lib.TessDeleteText(ptr)
        words: list[_Word] = []
        for row in tsv.splitlines():
            parts = row.split("\t")
            if len(parts) < 12 or parts[0] != "5" or not parts[11].strip():
                continue
            words.append(
                _Word(
                    line_key=(int(parts[2]), int(parts[3]), int(parts[4])),
                    left=int(parts[6]),
                    top=int(parts[7]),
                    width=int(parts[8]),
                    height=int(parts[9]),
                    confidence=max(0.0, float(parts[10])),
                    text=parts[11].strip(),
                )
            )
        return words

    def close(self) -> None:
        if self._api:
            self._lib.TessBaseAPIEnd(self._api)
            self._lib.TessBaseAPIDelete(self._api)
            self._api = None

    def __enter__(self) -> TesseractEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def find_tessdata(options: OcrOptions) -> str:
    """The folder holding every model the options name; OcrUnavailable (one line, what to
    install) when Tesseract or a model is missing."""
    languages = [x for x in options.language.split("+") if x]
    if options.numeric_language:
        languages += [x for x in options.numeric_language.split("+") if x]
    if options.tessdata is not None:
        candidates = [options.tessdata]
    else:
        env = os.environ.get("TESSDATA_PREFIX")
        candidates = ([env] if env else []) + list(TESSDATA_DIRS)
    for folder in candidates:
        if all((Path(folder) / f"{lang}.traineddata").is_file() for lang in languages):
            _load_library()  # the models without the library are no use either
            return folder
    missing = ", ".join(f"{lang}.traineddata" for lang in languages)
    where = options.tessdata or "the Tesseract data folders"
    raise OcrUnavailable(where, f"Tesseract model(s) not found ({missing})")


# --- text clean-up --------------------------------------------------------------------------

_FULLWIDTH = str.maketrans("０１２３４５６７８９％．，－＋＝＜＞", "0123456789%.,-+=<>")
# % anywhere: the Chinese model reads "5%" as "59%0", and the digit re-read puts it right.
_NUMERIC = re.compile(r"^[<>=≥≤~+\-]*[\dOoIl|,.。%]*\d[\dOoIl|,.。%]*$")
_CJK = re.compile(r"[\u3400-\u9fff]")


def looks_numeric(text: str) -> bool:
    """A bare number, maybe signed / compared / a percentage (no unit, no words)."""
    compact = "".join(text.split()).translate(_FULLWIDTH)
    return bool(compact) and _NUMERIC.match(compact) is not None


def normalize_numeric(text: str) -> str:
    """Undo the usual OCR confusions inside a bare number: full-width digits and signs, O/o for
    0 and l/I/| for 1 between digits, 。 for a decimal point, stray spaces. Only for text that
    `looks_numeric`: names and labels are never touched."""
    if not looks_numeric(text):
        return text
    compact = "".join(text.split()).translate(_FULLWIDTH)
    compact = compact.replace("。", ".")
    out = []
    for i, ch in enumerate(compact):
        near_digit = (i > 0 and compact[i - 1].isdigit()) or (
            i + 1 < len(compact) and compact[i + 1].isdigit()
        )
        if ch in "Oo" and near_digit:
            ch = "0"
        elif ch in "Il|" and near_digit:
            ch = "1"
        out.append(ch)
    text = "".join(out)
    if text.count(".") > 1:
        # "1.327.77": a comma read as a point; only the last point is the decimal one.
        head, _, tail = text.rpartition(".")
        text = head.replace(".", ",") + "." + tail
    return text


def _join_words(words: list[str]) -> str:
    """Tesseract's Chinese model spaces out CJK characters; the contract joins them."""
    return join_text(words)


# --- the page -----------------------------------------------------------------------------


def _page_image(page: pymupdf.Page, dpi: int) -> Grey:
    """The page as grey values: the mean of its luminance and its red channel. A red seal
    (公章) stamped on paper is then lighter than the ink threshold, and print under the seal's
    ink stays dark (luminance alone makes the seal ink; the red channel alone makes the print
    under it paper); black and blue-black ink stay dark, yellowed or grey paper light."""
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, alpha=False)
    rows = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)
    rgb = rows[:, : 3 * pix.width].reshape(pix.height, pix.width, 3).astype(np.uint32)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luminance = (299 * red + 587 * green + 114 * blue) // 1000
    return np.ascontiguousarray(((red + luminance) // 2).astype(np.uint8))


@dataclass(slots=True)
class _Crop:
    image: Grey  # the ink with a white margin
    origin: tuple[int, int]  # page pixel of image[0, 0]
    ink_size: tuple[int, int]  # width, height of the ink in pixels


def _remnant(line: NDArray[np.bool_], end: int = 3) -> bool:
    """Whether a row or column of ink near a crop's edge is a ruling left in it: it reaches an
    end of the crop, or one unbroken run covers 70 % of it."""
    if line[:end].any() or line[-end:].any():
        return True
    runs = _runs_of(line, max_gap=0)
    return bool(runs) and max(b - a for a, b in runs) >= 0.7 * line.size


def _clean_crop(grey: Grey, box: tuple[int, int, int, int]) -> _Crop | None:
    """A cell's pixels without ruling remnants along its edges, cut to the ink with a white
    margin; None when the cell is empty."""
    x0, y0, x1, y1 = box
    crop = grey[y0:y1, x0:x1].copy()
    ink = binarize(crop)
    h, w = crop.shape
    edge = 10
    # A ruling remnant runs along most of the edge and, as the ruling crosses the whole cell,
    # reaches one of its ends or spans nearly all of it; a glyph stroke near the edge (the ")"
    # of a value filling its cell) sits inside the cell's margin and is kept.
    for r in [*range(min(edge, h)), *range(max(0, h - edge), h)]:
        if ink[r].mean() > 0.4 and _remnant(ink[r]):
            crop[r] = 255
            ink[r] = False
    for c in [*range(min(edge, w)), *range(max(0, w - edge), w)]:
        if ink[:, c].mean() > 0.4 and _remnant(ink[:, c]):
            crop[:, c] = 255
            ink[:, c] = False
    if int(ink.sum()) < MIN_INK_PX:
        return None
    rows = np.nonzero(ink.any(axis=1))[0]
    cols = np.nonzero(ink.any(axis=0))[0]
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    c0, c1 = widen_to_pale(crop, r0, r1, c0, c1)
    pad = CELL_PAD_PX
    out = np.full((r1 - r0 + 2 * pad, c1 - c0 + 2 * pad), 255, dtype=np.uint8)
    out[pad:-pad, pad:-pad] = crop[r0:r1, c0:c1]
    return _Crop(out, (x0 + c0 - pad, y0 + r0 - pad), (c1 - c0, r1 - r0))


PALE_INK = 200  # grey below this next to the ink is a glyph's pale part (blur, thin strokes)
PALE_GAP_PX = 6  # columns without pale ink bridged while widening (two strokes of a glyph)


def widen_to_pale(image: Grey, r0: int, r1: int, c0: int, c1: int) -> tuple[int, int]:
    """Columns c0..c1 of the ink in rows r0..r1 widened sideways over pale ink that continues
    it: a blurred scan leaves a thin-stroked glyph at the start or end of a line (the 二 of
    二级指标 in a light serif) too pale for the ink threshold, and a crop cut to the dark ink
    alone reads 级指标. A column of pale ink from top to bottom of the line is a ruling's blurred
    edge, not a glyph: widening stops there."""
    height = r1 - r0
    pale = (image[r0:r1] < PALE_INK).sum(axis=0)
    glyph = (pale >= 2) & (pale < 0.8 * height)
    wall = pale >= 0.8 * height

    def walk(start: int, step: int, end: int) -> int:
        best, gap, k = start, 0, start + step
        while k != end and gap <= PALE_GAP_PX and not wall[k]:
            if glyph[k]:
                best, gap = k, 0
            else:
                gap += 1
            k += step
        return best

    return walk(c0, -1, -1), walk(c1 - 1, 1, image.shape[1]) + 1


def _dash(crop: _Crop, dpi: int) -> bool:
    """A lone short flat stroke: the "-" of a not-applicable cell, which Tesseract drops."""
    w, h = (v * 72.0 / dpi for v in crop.ink_size)
    return h <= 2.0 and 2.0 <= w <= 14.0 and w >= 2 * h


def _comparison_has_bar(image: Grey) -> bool:
    """Whether the first glyph (a > or < read by OCR) has a separate bar under it: ≥ / ≤.
    The Chinese model reads ≥ as >, and the difference decides an indicator's target."""
    ink = binarize(image)
    cols = np.nonzero(ink.any(axis=0))[0]
    if cols.size == 0:
        return False
    # The first glyph: the first run of columns holding ink.
    gaps = np.nonzero(np.diff(cols) > 1)[0]
    last = cols[gaps[0]] if gaps.size else cols[-1]
    glyph = ink[:, cols[0] : last + 1]
    rows = np.nonzero(glyph.any(axis=1))[0]
    if rows.size < 4:
        return False
    # The scan blurs the bar into the chevron's arm, so look at shape, not gaps: under ≥ / ≤
    # the lowest rows span the whole glyph (the bar); under > / < only an arm's tip.
    width = glyph.shape[1]
    bottom = glyph[rows[-1] - max(1, rows.size // 6) + 1 : rows[-1] + 1]
    widest = max(int(np.ptp(np.nonzero(r)[0])) + 1 if r.any() else 0 for r in bottom)
    return widest >= 0.7 * width


def _lines_from_words(
    words: list[_Word], origin: tuple[int, int], scale: float, numeric: bool
) -> list[OcrLine]:
    by_line: dict[tuple[int, int, int], list[_Word]] = {}
    for w in words:
        by_line.setdefault(w.line_key, []).append(w)
    ox, oy = origin
    lines: list[OcrLine] = []
    for group in by_line.values():
        group.sort(key=lambda w: w.left)
        # "|" at a line's end is a ruling remnant (no form prints it); strip it before the
        # numeric clean-up could take it for a 1.
        text = _join_words([w.text for w in group]).strip("|").strip()
        if numeric:
            text = normalize_numeric(text)
        if not text:
            continue
        x0 = min(w.left for w in group) + ox
        y0 = min(w.top for w in group) + oy
        x1 = max(w.left + w.width for w in group) + ox
        y1 = max(w.top + w.height for w in group) + oy
        conf = min(w.confidence for w in group) / 100.0
        lines.append(OcrLine(text, (x0 * scale, y0 * scale, x1 * scale, y1 * scale), conf))
    return lines


def _read_region(
    grey: Grey,
    box_px: tuple[int, int, int, int],
    text_engine: TesseractEngine,
    number_engine: TesseractEngine | None,
    options: OcrOptions,
) -> list[OcrLine]:
    """OCR lines of one cell (or any box) of the page image."""
    x0, y0, x1, y1 = box_px
    if x1 - x0 < 4 or y1 - y0 < 4:
        return []
    crop = _clean_crop(grey, box_px)
    if crop is None:
        return []
    scale = 72.0 / options.dpi
    words = text_engine.read(crop.image, psm=options.psm, dpi=options.dpi)
    lines = _lines_from_words(words, crop.origin, scale, numeric=False)
    if not lines:
        if _dash(crop, options.dpi):
            ox, oy = crop.origin
            w, h = crop.ink_size
            pad = CELL_PAD_PX
            bbox = (
                (ox + pad) * scale,
                (oy + pad) * scale,
                (ox + pad + w) * scale,
                (oy + pad + h) * scale,
            )
            return [OcrLine("-", bbox, 0.5)]
        return []
    if len(lines) != 1:
        # A wrapped value ("≥14.00(万立方" / "米)"): only its sign is put right.
        first = lines[0]
        if first.text[0] in "<>" and _comparison_has_bar(crop.image):
            first.text = ("≥" if first.text[0] == ">" else "≤") + first.text[1:]
        return lines
    line = lines[0]
    body = crop.image
    op = ""
    if line.text[0] in "<>≥≤":
        # A comparison sign: the Chinese model reads ≥ as > and often its bar as a 2 ("≥95%"
        # → "≥295%"). Tell the sign from its shape and read the rest without it.
        op = line.text[0]
        if op in "<>" and _comparison_has_bar(crop.image):
            op = "≥" if op == ">" else "≤"
        cut = _after_first_glyph(crop.image)
        if cut is not None:
            body = cut
            rest = _lines_from_words(
                text_engine.read(body, psm=options.psm, dpi=options.dpi),
                crop.origin,
                scale,
                numeric=False,
            )
            # A speck of the sign left behind reads as a comma or a point: no value starts so.
            body_text = rest[0].text.lstrip(",.，。、·'`") if len(rest) == 1 else ""
            if body_text and body_text[0] not in "<>≥≤":
                line.text = op + body_text
                line.confidence = min(line.confidence, rest[0].confidence)
            else:
                line.text = op + line.text[1:]
        else:
            line.text = op + line.text[1:]
    # A short, unsure reading may be a number the Chinese model garbled ("2.25" → "2汉5",
    # "1.17" → "这"): the digit model gets a say too, and wins only when it is sure.
    garbled = len(line.text) <= 12 and (
        line.confidence < 0.75
        or (len(line.text) <= 8 and len(_digits(line.text)) >= 2 and _CJK.search(line.text))
    )
    if number_engine is not None and (looks_numeric(line.text) or garbled):
        digits = number_engine.read(
            body,
            psm=options.numeric_psm,
            dpi=options.dpi,
            whitelist=options.numeric_whitelist,
        )
        again = _lines_from_words(digits, crop.origin, scale, numeric=True)
        if len(again) == 1 and _prefer_digit_reading(line, again[0]):
            if body is not crop.image or op:
                again[0].text = op + again[0].text.lstrip("<>=≥≤~,.")
            again[0].bbox = line.bbox
            line = again[0]
        line.text = normalize_numeric(line.text)
    line.text = _UNIT_PERCENT.sub("(%)", line.text)
    return [line]


_UNIT_PERCENT = re.compile(
    r"[(（](?:9%0?|%0|9%|96)[)）]$"
)  # "(%)" as the Chinese model misreads it


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _prefer_digit_reading(text_read: OcrLine, digit_read: OcrLine) -> bool:
    """Whether the whitelisted digit model's reading of a number beats the Chinese model's.
    Same digits: yes (its separators are the better ones). Fewer digits: it dropped one
    ("1,327.77" → "327.77"), unless it is clearly surer. Else: unless it is much less sure."""
    if not looks_numeric(digit_read.text):
        return False
    if not looks_numeric(text_read.text):
        return digit_read.confidence >= max(0.85, text_read.confidence + 0.1)
    ours, theirs = _digits(digit_read.text), _digits(normalize_numeric(text_read.text))
    if ours == theirs:
        return True
    if len(ours) < len(theirs):
        return digit_read.confidence >= text_read.confidence + 0.1
    return digit_read.confidence >= text_read.confidence - 0.1


def _after_first_glyph(image: Grey) -> Grey | None:
    """The crop with its first glyph (a comparison sign) blanked; None when that glyph is not
    sign-shaped (wider than tall, or touching the next one)."""
    ink = binarize(image)
    cols = np.nonzero(ink.any(axis=0))[0]
    if cols.size == 0:
        return None
    gaps = np.nonzero(np.diff(cols) > 1)[0]
    if gaps.size == 0:
        return None
    last = int(cols[gaps[0]])
    first = int(cols[0])
    rows = np.nonzero(ink[:, first : last + 1].any(axis=1))[0]
    if last - first + 1 > 1.2 * (rows[-1] - rows[0] + 1):
        return None
    out = image.copy()
    out[:, first : last + 1] = 255
    return out


def _runs_of(flags: NDArray[np.bool_], max_gap: int) -> list[tuple[int, int]]:
    """(start, end) of the runs of True in a 1-D array, gaps up to max_gap bridged."""
    idx = np.nonzero(flags)[0]
    if idx.size == 0:
        return []
    breaks = np.nonzero(np.diff(idx) > max_gap + 1)[0]
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]])) + 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _text_boxes(grey: Grey, dpi: int) -> list[tuple[int, int, int, int]]:
    """Boxes of the text lines outside the tables: bands of inked pixel rows, each split where
    a gap wider than two line heights separates two pieces (a date at the right margin)."""
    ink = binarize(grey)
    row_ink = ink.sum(axis=1) >= 2  # a grain speck is not a line of text
    min_h = max(4, round(4.0 * dpi / 72))  # under 4 pt high: a rule or noise
    boxes: list[tuple[int, int, int, int]] = []
    for y0, y1 in _runs_of(row_ink, max_gap=round(0.8 * dpi / 72)):
        if y1 - y0 < min_h:
            continue
        cols: NDArray[np.bool_] = np.asarray(ink[y0:y1].any(axis=0))
        for x0, x1 in _runs_of(cols, max_gap=2 * (y1 - y0)):
            if x1 - x0 >= min_h // 2:
                boxes.append((max(0, x0 - 4), max(0, y0 - 4), x1 + 4, y1 + 4))
    return boxes


Box = tuple[int, int, int, int]


class CellReader(Protocol):
    """An OCR engine as the page loop uses it."""

    name: str

    def read_region(self, grey: Grey, box_px: Box) -> list[OcrLine]:
        """The lines of one cell (or any box) of the page image, bboxes in PDF points."""
        ...

    def read_page(self, grey: Grey) -> list[OcrLine] | None:
        """Every text line of a page with no table grid (detection); None: not supported, the
        caller cuts the page into line boxes itself."""
        ...

    def close(self) -> None: ...


class TesseractReader:
    """Tesseract: the Chinese model for every cell, the digit model re-reading numbers."""

    name = "tesseract"

    def __init__(self, options: OcrOptions):
        tessdata = find_tessdata(options)
        self._options = options
        self._text = TesseractEngine(tessdata, options.language)
        self._number: TesseractEngine | None = None
        try:
            if options.numeric_language:
                self._number = TesseractEngine(tessdata, options.numeric_language)
        except BaseException:
            self._text.close()
            raise

    def read_region(self, grey: Grey, box_px: Box) -> list[OcrLine]:
        return _read_region(grey, box_px, self._text, self._number, self._options)

    def read_page(self, grey: Grey) -> list[OcrLine] | None:
        return None

    def close(self) -> None:
        self._text.close()
        if self._number is not None:
            self._number.close()


def open_reader(options: OcrOptions) -> CellReader:
    """The engine `engine_name` picks, loaded. rapidocr that cannot be imported or loaded falls
    back to Tesseract with a logged warning; OcrUnavailable when no engine is left."""
    if engine_name(options) == "rapidocr":
        try:
            from jixiao.ingest.ocr_rapid import RapidReader

            return RapidReader(options)
        except (ImportError, OSError, RuntimeError) as err:
            log.warning(
                "rapidocr is not usable (%s: %s); reading scans with Tesseract instead"
                " (pip install rapidocr-onnxruntime)",
                type(err).__name__,
                err,
            )
    return TesseractReader(options)


def _cell_box(cell: Cell, to_px: float) -> Box:
    """A grid cell's pixels on the page image, inset so its rulings stay out."""
    bx0, by0, bx1, by1 = cell.bbox
    return (
        round(bx0 * to_px) + CELL_INSET_PX,
        round(by0 * to_px) + CELL_INSET_PX,
        round(bx1 * to_px) - CELL_INSET_PX,
        round(by1 * to_px) - CELL_INSET_PX,
    )


def ocr_page(
    page: pymupdf.Page,
    layout: PageLayout,
    reader: CellReader,
    options: OcrOptions,
) -> OcrPage:
    """Read one image-only page into `layout` (lines and rulings replaced, in PDF points)."""
    started = time.perf_counter()
    grey = _page_image(page, options.dpi)
    turn = 0
    # Levelled first: a sideways table's lines are straight lines too, and the grid that
    # decides which way is up needs them level.
    angle = estimate_skew(grey, max_angle=options.max_skew_deg) if options.deskew else 0.0
    grey = deskew(grey, angle)
    if options.upright and text_orientation(grey, options.dpi) > TURNED_RATIO:
        turn, grey = _upright(grey, layout, reader, options)
        if turn:
            # The page is read as the upright sheet it was: its lines and cells are in that
            # sheet's points, so the page's size is the sheet's.
            layout.width, layout.height = layout.height, layout.width
    to_px = options.dpi / 72.0
    rulings = find_rulings(grey, options.dpi)
    shape = _shape(layout, rulings)
    grids: list[Grid] = page_grids(shape)
    lines: list[OcrLine] = []
    for grid in grids:
        for cell in grid.cells:
            lines += reader.read_region(grey, _cell_box(cell, to_px))
    # No table at all (a borderless form, a cover letter): a detector finds the text lines,
    # each a separate piece as a text layer would give them.
    whole = None if grids else reader.read_page(grey)
    if whole is not None:
        lines += whole
    else:
        # Text outside the tables (title, year, notes): blank the tables and read the rest.
        rest = grey.copy()
        for grid in grids:
            gx0, gy0, gx1, gy1 = grid.page_bboxes[layout.number]
            rest[
                max(0, round(gy0 * to_px) - 4) : round(gy1 * to_px) + 4,
                max(0, round(gx0 * to_px) - 4) : round(gx1 * to_px) + 4,
            ] = 255
        # Read line by line: a whole-page read of the rest misreads the title (自 → 目), the
        # same title cut out on its own reads right.
        for box in _text_boxes(rest, options.dpi):
            lines += reader.read_region(rest, box)
    layout.rulings = rulings
    layout.lines = [TextLine(text=ln.text, bbox=ln.bbox) for ln in lines]
    return OcrPage(
        number=layout.number,
        angle=angle,
        lines=lines,
        seconds=time.perf_counter() - started,
        engine=reader.name,
        turn=turn,
    )


# text along the columns this many times the text along the rows: a sheet scanned sideways
# (measured: turned pages 49-72, upright ones under 0.03)
TURNED_RATIO = 4.0
TURN_SAMPLE_CELLS = 8


def _shape(layout: PageLayout, rulings: list[Ruling], *, turned: bool = False) -> PageLayout:
    width, height = (layout.height, layout.width) if turned else (layout.width, layout.height)
    return PageLayout(
        number=layout.number,
        width=width,
        height=height,
        rotation=layout.rotation,
        kind=layout.kind,
        rulings=rulings,
    )


def _upright(
    grey: Grey, layout: PageLayout, reader: CellReader, options: OcrOptions
) -> tuple[int, Grey]:
    """A page whose text stands vertically turned upright: (degrees turned counter-clockwise,
    the turned image). Which way round is the recogniser's call: a few cells are read both
    ways and the surer reading wins (upside-down CJK reads with low scores). (0, grey) when
    neither way yields a table with readable cells."""
    to_px = options.dpi / 72.0
    best: tuple[float, int, Grey] = (0.0, 0, grey)
    for turn, k in ((90, 1), (270, 3)):
        # np.rot90 with k=1 turns counter-clockwise, as PIL's rotate(90) does
        turned = np.ascontiguousarray(np.rot90(grey, k))
        shape = _shape(layout, find_rulings(turned, options.dpi), turned=True)
        scores: list[float] = []
        for grid in page_grids(shape):
            for cell in grid.cells:
                if len(scores) >= TURN_SAMPLE_CELLS:
                    break
                read = reader.read_region(turned, _cell_box(cell, to_px))
                if read:
                    scores.append(sum(r.confidence for r in read) / len(read))
        score = sum(scores) / len(scores) if scores else 0.0
        log.info(
            "page %d turned %d°: sample cells read with score %.2f", layout.number, turn, score
        )
        if score > best[0]:
            best = (score, turn, turned)
    return best[1], best[2]


PageSelection = Literal["image_only", "needs_ocr"]


def ocr_document(
    path: str | Path,
    document: Document,
    options: OcrOptions | None = None,
    *,
    pages: PageSelection = "image_only",
) -> dict[int, OcrPage]:
    """OCR every image-only page of an opened document in place (its PageLayouts get lines
    and rulings). Raises OcrUnavailable when no engine can be loaded (rapidocr missing and
    Tesseract or its model missing too), ConfigError for an unknown JIXIAO_OCR_ENGINE."""
    options = options or OcrOptions()
    todo = [
        p
        for p in document.pages
        if (p.kind == "image_only" if pages == "image_only" else p.needs_ocr)
    ]
    if not todo:
        return {}
    out: dict[int, OcrPage] = {}
    reader = open_reader(options)
    try:
        doc = pymupdf.open(str(path))
        try:
            for layout in todo:
                out[layout.number] = ocr_page(doc[layout.number - 1], layout, reader, options)
                if layout.number > 1:
                    dx = align_to_previous_page(layout, document.pages[layout.number - 2])
                    for line in out[layout.number].lines:
                        x0, y0, x1, y1 = line.bbox
                        line.bbox = (x0 + dx, y0, x1 + dx, y1)
        finally:
            doc.close()
    finally:
        reader.close()
    return out


ALIGN_MAX_PT = 10.0  # a sheet lies at most this far off-centre on the scanner glass
ALIGN_TOLERANCE_PT = 1.5
ALIGN_MIN_SPAN_PT = 40.0  # only table lines count, not glyph strokes


def _column_lines(page: PageLayout) -> list[float]:
    return sorted(
        {
            round(r.x0, 1)
            for r in page.rulings
            if not r.horizontal and r.y1 - r.y0 >= ALIGN_MIN_SPAN_PT
        }
    )


def align_to_previous_page(page: PageLayout, previous: PageLayout) -> float:
    """Shift a scanned page sideways onto the previous page's table columns.

    Each sheet lies a little off-centre on the glass, so a table continued on the next page has
    its column lines a few points off, and grid.py (which joins a continued table by equal
    column boundaries) would start a new table without its header. When most of this page's
    column lines sit at one common offset from the previous page's, the page's rulings and
    lines are moved by it. Returns the shift in points (0.0: none)."""
    ours, theirs = _column_lines(page), _column_lines(previous)
    if len(ours) < 3 or len(theirs) < 3:
        return 0.0
    best_dx, best_hits = 0.0, 0
    for a in theirs:
        for b in ours:
            dx = a - b
            if abs(dx) > ALIGN_MAX_PT:
                continue
            hits = sum(any(abs(x + dx - t) <= ALIGN_TOLERANCE_PT for t in theirs) for x in ours)
            if hits > best_hits or (hits == best_hits and abs(dx) < abs(best_dx)):
                best_dx, best_hits = dx, hits
    if best_hits < max(3, 0.6 * len(ours)) or abs(best_dx) < 0.3:
        return 0.0
    # Refine to the mean offset of the matched lines.
    pairs = []
    for x in ours:
        nearest = min(theirs, key=lambda t: abs(x + best_dx - t))
        if abs(x + best_dx - nearest) <= ALIGN_TOLERANCE_PT:
            pairs.append(nearest - x)
    dx = sum(pairs) / len(pairs)
    for r in page.rulings:
        r.x0 += dx
        r.x1 += dx
    for ln in page.lines:
        x0, y0, x1, y1 = ln.bbox
        ln.bbox = (x0 + dx, y0, x1 + dx, y1)
    return dx


def apply_confidence(grids: list[Grid], pages: dict[int, OcrPage]) -> None:
    """Give each cell on an OCR'd page the lowest confidence of the OCR lines inside it."""
    for grid in grids:
        for cell in grid.cells:
            page = pages.get(cell.page)
            if page is None:
                continue
            x0, y0, x1, y1 = cell.bbox
            found = [
                ln.confidence
                for ln in page.lines
                if x0 <= (ln.bbox[0] + ln.bbox[2]) / 2 <= x1
                and y0 <= (ln.bbox[1] + ln.bbox[3]) / 2 <= y1
            ]
            if found:
                cell.confidence = min(found)


def full_page_text(path: str | Path, page_number: int, options: OcrOptions | None = None) -> str:
    """MuPDF's own whole-page OCR of one page (no deskew, no grid): the baseline that
    benchmarks/bench_ocr.py compares the cell-by-cell reading with."""
    options = options or OcrOptions()
    tessdata = find_tessdata(options)
    doc = pymupdf.open(str(path))
    try:
        page = doc[page_number - 1]
        textpage = page.get_textpage_ocr(
            language=options.language, dpi=options.dpi, full=True, tessdata=tessdata
        )
        return str(page.get_text(textpage=textpage))
    finally:
        doc.close()


# --- searchable scans: the invisible text layer or our own reading? ---------------------------


def layers_to_reread(pages: list[PageLayout], options: OcrOptions | None = None) -> list[int]:
    """Numbers of the searchable scans (an image with an invisible OCR text layer) to read by
    our own OCR instead of their layer: all of them, unless no OCR engine can be loaded (the
    layer is all there is then).

    The layer is text without the table: its ruling lines exist only in the image, so a kept
    layer is read as a borderless table, with the scanner's misreadings (已 for 己, 碍 for 得)
    in it. Comparing a sample of layer lines with our reading of the same spots kept a layer
    with 2 % of its characters wrong (the misread ones are few among all compared); measured
    on the dev searchable scans (seed 11, 5 forms): 82.6 % of fields right keeping a layer that
    sample passed, 89.3 % reading every page ourselves."""
    if not pages:
        return []
    try:
        open_reader(options or OcrOptions()).close()
    except OcrUnavailable as err:
        log.warning("cannot OCR scanned pages, using their text layer as it is: %s", err)
        return []
    return [p.number for p in pages]
