"""`scan-sweep`: scans made over a sweep of scanner and paper settings.

The original is a text-layer document of another family (`ruled`, or `office` / `html` when
LibreOffice / Chromium are installed), printed, stamped and signed, then scanned: rasterised at
the sweep's dpi, on white, grey or yellowed paper with specks and a binding shadow at one edge,
a red round official seal (公章) over the unit cells or the totals, a handwritten signature and
date under the table, turned by a small angle (or by 90° when a landscape sheet went through
the feeder sideways), blurred, and stored as JPEG at the sweep's quality or as a bitonal
(1-bit) image. Pages hold only that image, except for "searchable" scans, which also carry an
invisible OCR text layer (render mode 3) with some characters misread, as scanners' OCR does.
Settings per split: `settings.py`.
"""

from __future__ import annotations

import functools
import io
import math
import random

import pymupdf
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from jixiao.contract import FormRecord
from jixiao.corpus.render import ruled
from jixiao.corpus.render.draw import cjk_font, new_document
from jixiao.corpus.render.settings import Settings, Split, scan_settings
from jixiao.corpus.render.tools import find_tool

PageRange = tuple[int, int]

_PAPER = {"white": (255, 255, 255), "grey": (226, 226, 224), "yellowed": (242, 231, 196)}
_INK = (28, 36, 104)  # blue-black ballpoint
_SEAL = (214, 32, 38)
# what OCR engines typically confuse; other characters are dropped or doubled
_CONFUSABLE = {
    "0": "O", "O": "0", "1": "l", "l": "1", "5": "S", "8": "B", "6": "b", ".": ",", ",": ".",
    "%": "’", "已": "己", "己": "已", "未": "末", "末": "未", "人": "入", "入": "人", "日": "曰",
    "土": "士", "士": "土", "天": "夭", "大": "太", "率": "宰", "值": "直", "标": "栎",
    "数": "敖", "项": "顶", "目": "自", "分": "份", "得": "碍", "年": "午",
}  # fmt: skip


def sources() -> tuple[str, ...]:
    """Text-layer families this machine can print as a scan's original."""
    found = ["ruled"]
    if find_tool("soffice"):
        found.append("office")
    if find_tool("chromium"):
        found.append("html")
    return tuple(found)


def render(
    forms: list[FormRecord], seed: int, split: Split
) -> tuple[pymupdf.Document, list[PageRange], Settings, list[FormRecord]]:
    rng = random.Random(f"scan-sweep:{seed}")
    settings = scan_settings(split, rng, sources())
    source_family = str(settings["source"])
    if source_family == "office":
        from jixiao.corpus.render.office import render as office_render

        source, pages, inner, printed = office_render(forms, seed, split)
        settings["source_template"] = inner["template"]
    elif source_family == "html":
        from jixiao.corpus.render.browser import render as html_render

        source, pages, inner, printed = html_render(forms, seed, split)
        settings["source_template"] = inner["template"]
    else:
        source, pages = ruled.render(forms, seed)
        printed = list(forms)
    stamps = _stamp_pages(source, printed, pages, str(settings["seal"]))
    out = new_document()
    for number in range(source.page_count):
        page = source[number]
        image, placed = scan_page(page, settings, rng, stamps.get(number))
        turn = int(settings["turn"])
        width, height = page.rect.width, page.rect.height
        if turn:
            width, height = height, width
        target = out.new_page(width=width, height=height)
        target.insert_image(target.rect, stream=image)
        if settings["searchable"]:
            _ocr_layer(target, page, placed, float(settings["ocr_error_rate"]), rng)
    source.close()
    return out, pages, settings, printed


@functools.cache
def _font_bytes() -> bytes:
    return bytes(cjk_font().buffer)


def _pil_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(io.BytesIO(_font_bytes()), max(size, 6))


def _stamp_pages(
    source: pymupdf.Document, printed: list[FormRecord], pages: list[PageRange], seal: str
) -> dict[int, tuple[pymupdf.Rect | None, str, bool]]:
    """Page index → (where the seal goes, the unit named on it, sign this page): the seal over
    the implementing unit (first page of the form) or over the totals (last page); signature
    and date on the form's last page."""
    marks: dict[int, tuple[pymupdf.Rect | None, str, bool]] = {}
    for record, (first, last) in zip(printed, pages, strict=True):
        unit = record.implementing_unit or record.competent_department or "某单位"
        where: tuple[int, pymupdf.Rect] | None = None
        if seal == "unit" and record.implementing_unit:
            for number in range(first - 1, last):
                hits = source[number].search_for(record.implementing_unit[:12])
                if hits:
                    where = (number, hits[0])
                    break
        elif seal == "totals":
            for number in range(last - 1, first - 2, -1):
                hits = source[number].search_for("总分")
                if hits:
                    where = (number, hits[-1])
                    break
        if where is not None:
            marks[where[0]] = (where[1], unit, where[0] == last - 1)
        if last - 1 not in marks:
            marks[last - 1] = (None, unit, True)
        else:
            rect, name, _ = marks[last - 1]
            marks[last - 1] = (rect, name, True)
    return marks


def scan_page(
    page: pymupdf.Page,
    settings: Settings,
    rng: random.Random,
    stamp: tuple[pymupdf.Rect | None, str, bool] | None,
) -> tuple[bytes, pymupdf.Matrix]:
    """The page as scanned image bytes, and the matrix that takes page points to the scanned
    page's points (for laying an OCR layer over it)."""
    dpi = int(settings["dpi"])
    zoom = dpi / 72
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, alpha=False)
    image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
    paper = _PAPER[str(settings["paper"])]
    if paper != (255, 255, 255):
        tint = Image.new("RGB", image.size, paper)
        image = Image.composite(image, tint, image.convert("L").point(lambda v: 255 - v))
    if stamp is not None:
        rect, unit, sign = stamp
        if sign and settings["signature"]:
            _signature(image, page, zoom, rng)
        if rect is not None:
            _seal(image, rect, unit, zoom, rng)
    _specks(image, int(settings["specks"]), zoom, rng)
    _shadow(image, str(settings["shadow"]))
    angle = float(settings["rotation"])
    shift = (rng.randint(-10, 10), rng.randint(-10, 10))
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, translate=shift, fillcolor=paper)
    blur = float(settings["blur"])
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur * dpi / 200))
    # maps page points to the turned-and-shifted page (before any 90° turn)
    cx, cy = image.size[0] / 2 / zoom, image.size[1] / 2 / zoom
    matrix = (
        pymupdf.Matrix(1, 0, 0, 1, -cx, -cy)
        * pymupdf.Matrix(-angle)  # PIL turns counter-clockwise in a y-down space
        * pymupdf.Matrix(1, 0, 0, 1, cx + shift[0] / zoom, cy + shift[1] / zoom)
    )
    turn = int(settings["turn"])
    if turn:
        image = image.rotate(turn, expand=True)
    buffer = io.BytesIO()
    if settings["bitonal"]:
        grey = image.convert("L")
        # a high threshold, as scanners set it, so that thin blurred strokes stay black (at 185
        # the UMing numbers of office pages broke up beyond reading)
        image = grey.point(lambda v: 255 if v > 215 else 0).convert("1", dither=Image.Dither.NONE)
        image.save(buffer, format="PNG", optimize=False)
    else:
        coloured = settings["seal"] != "none" or settings["paper"] == "yellowed"
        if not coloured:
            image = image.convert("L")
        image.save(buffer, format="JPEG", quality=int(settings["jpeg"]))
    return buffer.getvalue(), matrix


def _seal(
    image: Image.Image, rect: pymupdf.Rect, unit: str, zoom: float, rng: random.Random
) -> None:
    """A red round seal: double ring, the unit's name round the top, a star in the middle,
    semi-transparent and a little patchy, centred near `rect`."""
    radius = int(21 * 72 / 25.4 * zoom)  # 42 mm across
    size = 2 * radius + 8
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    colour = (*_SEAL, 255)
    c = size / 2
    ring = max(3, int(radius * 0.06))
    draw.ellipse((c - radius, c - radius, c + radius, c + radius), outline=colour, width=ring)
    star = radius * 0.32
    points = []
    for k in range(10):
        r = star if k % 2 == 0 else star * 0.4
        a = -math.pi / 2 + k * math.pi / 5
        points.append((c + r * math.cos(a), c + r * math.sin(a)))
    draw.polygon(points, fill=colour)
    name = unit[:14] if len(unit) > 3 else unit + "专用章"
    font_px = int(radius * 0.26)
    font = _pil_font(font_px)
    span = math.radians(min(250, 22 * len(name)))
    text_r = radius - ring - font_px * 0.75
    for k, char in enumerate(name):
        a = -math.pi / 2 - span / 2 + span * (k + 0.5) / len(name)
        glyph = Image.new("RGBA", (font_px * 2, font_px * 2), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((font_px / 2, font_px / 2), char, font=font, fill=colour)
        glyph = glyph.rotate(-math.degrees(a) - 90, resample=Image.Resampling.BICUBIC)
        x = c + text_r * math.cos(a) - font_px
        y = c + text_r * math.sin(a) - font_px
        layer.alpha_composite(glyph, (int(x), int(y)))
    bottom = "财务专用章" if rng.random() < 0.3 else ""
    if bottom:
        small = _pil_font(int(font_px * 0.8))
        width = draw.textlength(bottom, font=small)
        draw.text((c - width / 2, c + radius * 0.45), bottom, font=small, fill=colour)
    # ink is uneven: thin the alpha in random patches, then make it see-through overall
    alpha = layer.getchannel("A")
    patches = Image.effect_noise((size // 8 + 1, size // 8 + 1), 60).resize((size, size))
    alpha = Image.eval(
        Image.composite(
            alpha, Image.new("L", (size, size), 0), patches.point(lambda v: 255 if v > 70 else 0)
        ),
        lambda v: int(v * 0.72),
    )
    layer.putalpha(alpha)
    layer = layer.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC)
    centre_x = (rect.x0 + rect.x1) / 2 * zoom + rng.uniform(-0.3, 0.3) * radius
    centre_y = (rect.y0 + rect.y1) / 2 * zoom + rng.uniform(-0.3, 0.3) * radius
    base = image.convert("RGBA")
    base.alpha_composite(layer, (int(centre_x - c), int(centre_y - c)))
    image.paste(base.convert("RGB"))


def _signature(image: Image.Image, page: pymupdf.Page, zoom: float, rng: random.Random) -> None:
    """A scrawled signature and a handwritten date below the last text on the page."""
    blocks = [b for b in page.get_text("blocks") if b[4].strip()]
    bottom = max((b[3] for b in blocks), default=page.rect.height * 0.6)
    y = min(bottom + 28, page.rect.height - 50) * zoom
    x = page.rect.width * rng.uniform(0.55, 0.65) * zoom
    draw = ImageDraw.Draw(image)
    label_font = _pil_font(int(9 * zoom))
    draw.text((x - 70 * zoom, y - 6 * zoom), "负责人：", font=label_font, fill=(20, 20, 20))
    width = max(2, int(1.2 * zoom))
    points = []
    px, py = x, y
    for k in range(48):  # loops drifting right, like a fast signature
        t = k / 6
        px += rng.uniform(1.2, 2.6) * zoom
        py = y + math.sin(t * 2.4 + rng.uniform(-0.4, 0.4)) * 6 * zoom + rng.uniform(-1, 1) * zoom
        points.append((px, py))
    draw.line(points, fill=_INK, width=width, joint="curve")
    date = f"{rng.choice([2023, 2024])}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
    font = _pil_font(int(10 * zoom))
    dx = x
    for char in date:
        glyph = Image.new("RGBA", (int(14 * zoom), int(14 * zoom)), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((1, 1), char, font=font, fill=(*_INK, 255))
        glyph = glyph.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC)
        base = image.crop(
            (int(dx), int(y + 14 * zoom), int(dx) + glyph.width, int(y + 14 * zoom) + glyph.height)
        )
        base = base.convert("RGBA")
        base.alpha_composite(glyph)
        image.paste(base.convert("RGB"), (int(dx), int(y + 14 * zoom + rng.uniform(-2, 2) * zoom)))
        dx += (10 if ord(char) > 255 else 6.5) * zoom * rng.uniform(0.9, 1.15)


def _specks(image: Image.Image, count: int, zoom: float, rng: random.Random) -> None:
    draw = ImageDraw.Draw(image)
    w, h = image.size
    for _ in range(count):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.3, 1.4) * zoom
        grey = rng.randint(40, 150)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(grey, grey, grey))


def _shadow(image: Image.Image, edge: str) -> None:
    """The dark band a book spine or a lifted lid leaves along one edge."""
    if edge == "none":
        return
    w, h = image.size
    band = max(8, int(w * 0.05))
    ramp = Image.linear_gradient("L").rotate(90).resize((band, h))  # strongest at the right
    if edge == "left":
        ramp = ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    strip_at = 0 if edge == "left" else w - band
    strip = image.crop((strip_at, 0, strip_at + band, h))
    dark = Image.new("RGB", strip.size, (60, 60, 60))
    mask = ramp.point(lambda v: int(v * v / 255 * 0.7))  # darkest right at the edge
    image.paste(Image.composite(dark, strip, mask), (strip_at, 0))


def _ocr_layer(
    target: pymupdf.Page,
    source: pymupdf.Page,
    placed: pymupdf.Matrix,
    error_rate: float,
    rng: random.Random,
) -> None:
    """Invisible text where the scanned lines are, read with some characters wrong."""
    writer = pymupdf.TextWriter(target.rect)
    font = cjk_font()
    for block in source.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                text = span["text"]
                if not text.strip():
                    continue
                misread = "".join(_misread(char, error_rate, rng) for char in text)
                origin = pymupdf.Point(span["origin"]) * placed
                writer.append(origin, misread, font=font, fontsize=span["size"])
    writer.write_text(target, render_mode=3)


def _misread(char: str, rate: float, rng: random.Random) -> str:
    if char.isspace() or rng.random() >= rate:
        return char
    if char in _CONFUSABLE:
        return _CONFUSABLE[char]
    return rng.choice(["", char + char, "·"])  # dropped, doubled, or read as a dot
