"""`scan`: image-only pages. The ruled look is rendered, rasterised at about 200 dpi, turned by
a small angle, given mild noise and JPEG-compressed; each output page holds only that image (no
text layer), as a scanner would produce."""

from __future__ import annotations

import io
import random

import pymupdf
from PIL import Image

from jixiao.contract import FormRecord
from jixiao.corpus.render import ruled
from jixiao.corpus.render.draw import new_document

PageRange = tuple[int, int]


def render(forms: list[FormRecord], seed: int) -> tuple[pymupdf.Document, list[PageRange]]:
    rng = random.Random(f"scan:{seed}")
    source, pages = ruled.render(forms, seed)
    out = new_document()
    dpi = rng.choice([180, 200, 220])
    for number in range(source.page_count):
        page = source[number]
        jpeg = scan_image(page, dpi, rng)
        target = out.new_page(width=page.rect.width, height=page.rect.height)
        target.insert_image(target.rect, stream=jpeg)
    source.close()
    return out, pages


def scan_image(page: pymupdf.Page, dpi: int, rng: random.Random) -> bytes:
    """One page as a slightly rotated, noisy, JPEG-compressed grey scan."""
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    image = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    angle = rng.uniform(0.3, 1.5) * rng.choice([-1, 1])
    shift = (rng.randint(-12, 12), rng.randint(-12, 12))  # the sheet lay a little off-centre
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR, translate=shift, fillcolor=255)
    # uniform grain from the seeded generator (fast, and the same bytes for the same seed)
    noise = Image.frombytes("L", image.size, rng.randbytes(image.size[0] * image.size[1]))
    image = Image.blend(image, noise, rng.uniform(0.03, 0.07))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=rng.randint(55, 75))
    return buffer.getvalue()
