"""OCR engines compared on the same scanned pages: cell texts against gold, seconds per page.

Each form is rendered as `ruled` (text layer: the reference) and then as scans: the corpus's
own `scan` family (≈ 200 dpi, 0.3-1.5° turn, grain, JPEG 55-75) and harsher variants made here
by rasterising the `ruled` page (150 / 200 / 300 dpi, turned up to ±2°, blur, JPEG 40-90, specks,
and a 1-bit one). Every scan is read by each engine (`OcrOptions(engine=...)`) and compared with
the form's gold record:

- values: gold leaves found verbatim in some cell or line of the page: numbers exactly (a number
  token of the text, thousands separators dropped, equal to the gold number), short texts
  (≤ 40 characters) after NFKC and whitespace removal as a substring of a cell's text;
- numbers: the numeric leaves alone; long: mean best similarity of the long texts (goals,
  reasons) to a cell;
- labels: cells of the ruled page reading exactly 一级指标 / 二级指标 / 三级指标 / 项目名称 /
  年度指标值 / 实际完成值 / 分值 / 得分, found as a cell of the same text in the scan;
- fields: the layout extractor's field accuracy on the scan (tests/layout/goldcompare.py);
- s/page: OCR wall seconds per page (engine load included) and CPU seconds per page (the
  steadier number on a shared machine).

    .venv/bin/python benchmarks/bench_ocr.py                        # 5 dev gold + 3 synthetic
    .venv/bin/python benchmarks/bench_ocr.py --variants scan harsh-200 --engines rapidocr
    .venv/bin/python benchmarks/bench_ocr.py --gold none --synthetic 6 --misses

Synthetic forms of the test split (corpus.build.split_for) are skipped unless --gold test: never
tune on them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import pymupdf
from PIL import Image, ImageFilter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "layout"))
sys.path.insert(0, str(REPO / "benchmarks"))

from goldcompare import compare  # noqa: E402
from layout_accuracy import DEV, TEST, load_gold  # noqa: E402

from jixiao.contract import FormRecord  # noqa: E402
from jixiao.corpus.build import split_for  # noqa: E402
from jixiao.corpus.render import render_pdf  # noqa: E402
from jixiao.extract.layout import LayoutExtractor  # noqa: E402
from jixiao.ingest.grid import build_grids  # noqa: E402
from jixiao.ingest.model import LayoutText  # noqa: E402
from jixiao.ingest.ocr import OcrOptions, apply_confidence, ocr_document  # noqa: E402
from jixiao.ingest.pdf import open_document  # noqa: E402
from jixiao.ingest.segment import segment_forms  # noqa: E402

LABELS = (
    "一级指标",
    "二级指标",
    "三级指标",
    "项目名称",
    "年度指标值",
    "实际完成值",
    "分值",
    "得分",
)
LONG_TEXT = 40
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Variant:
    """How a `ruled` page is turned into a scan (the corpus's `scan` family: family=True)."""

    name: str
    dpi: int = 200
    max_angle: float = 2.0
    blur: float = 0.0  # Gaussian radius in pixels
    jpeg: tuple[int, int] = (40, 90)
    specks: int = 0  # dark specks per page
    bilevel: bool = False
    family: bool = False


VARIANTS = {
    v.name: v
    for v in (
        Variant("scan", family=True),
        Variant("harsh-150", dpi=150, blur=0.5, jpeg=(40, 60), specks=300),
        Variant("harsh-200", dpi=200, blur=0.8, jpeg=(45, 75), specks=300),
        Variant("harsh-300", dpi=300, blur=1.2, jpeg=(60, 90), specks=500),
        Variant("bilevel-200", dpi=200, blur=0.4, jpeg=(90, 90), specks=200, bilevel=True),
    )
}


def scan_variant(ruled: Path, out: Path, variant: Variant, rng: random.Random) -> None:
    """Rasterise every page of `ruled` the way `variant` says into an image-only PDF."""
    source = pymupdf.open(str(ruled))
    target = pymupdf.open()
    for page in source:
        pix = page.get_pixmap(dpi=variant.dpi, colorspace=pymupdf.csGRAY)
        image = Image.frombytes("L", (pix.width, pix.height), pix.samples)
        angle = rng.uniform(0.2, variant.max_angle) * rng.choice([-1, 1])
        shift = (rng.randint(-15, 15), rng.randint(-15, 15))
        image = image.rotate(
            angle, resample=Image.Resampling.BICUBIC, translate=shift, fillcolor=255
        )
        if variant.blur:
            image = image.filter(ImageFilter.GaussianBlur(variant.blur))
        pixels = image.load()
        assert pixels is not None
        w, h = image.size
        for _ in range(variant.specks):
            x, y = rng.randrange(w - 3), rng.randrange(h - 3)
            size = rng.choice((1, 1, 2, 3))
            for dx in range(size):
                for dy in range(size):
                    pixels[x + dx, y + dy] = rng.randint(0, 90)
        buffer = io.BytesIO()
        if variant.bilevel:
            image.point(lambda v: 255 if v > 150 else 0).convert("1").save(buffer, format="PNG")
        else:
            image.save(buffer, format="JPEG", quality=rng.randint(*variant.jpeg))
        new = target.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, stream=buffer.getvalue())
    target.save(str(out))
    source.close()
    target.close()


def norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def gold_values(record: FormRecord) -> tuple[list[float], list[str], list[str]]:
    """Numbers, short texts and long texts of a gold record (form_type left out)."""
    numbers: list[float] = []
    short: list[str] = []
    long: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if key in ("form_type", "kind") or value is None:  # codes, never printed
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, bool):
            return
        elif isinstance(value, int | float):
            numbers.append(float(value))
        elif isinstance(value, str) and norm(value):
            (long if len(norm(value)) > LONG_TEXT else short).append(norm(value))

    walk(record.model_dump(mode="json"))
    return numbers, short, long


def numbers_in(text: str) -> set[float]:
    out = set()
    for token in _NUMBER.findall(unicodedata.normalize("NFKC", text)):
        with contextlib.suppress(ValueError):
            out.add(float(token.replace(",", "")))
    return out


@dataclass
class Tally:
    values: list[int] = field(default_factory=lambda: [0, 0])
    numbers: list[int] = field(default_factory=lambda: [0, 0])
    labels: list[int] = field(default_factory=lambda: [0, 0])
    fields: list[int] = field(default_factory=lambda: [0, 0])
    long: list[float] = field(default_factory=list)
    pages: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    low_conf: int = 0  # cells under 0.8 confidence
    cells: int = 0


def cell_texts(path: Path, options: OcrOptions | None) -> tuple[list[Any], list[str], Any]:
    """Cells of every grid, texts of every line, and the first form (None: none found)."""
    document = open_document(path)
    pages = ocr_document(path, document, options) if options is not None else {}
    grids = build_grids(document.pages)
    forms = segment_forms(document, grids)
    if pages:
        apply_confidence([g for f in forms for g in f.grids], pages)
    # segment_forms may cut or join grids: the forms' grids carry the confidences
    cells = [c for f in forms for g in f.grids for c in g.cells] or [
        c for g in grids for c in g.cells
    ]
    lines = [ln.text for p in document.pages for ln in p.lines]
    return cells, lines, (forms[0] if forms else None, document.sha256)


def score_scan(
    record: FormRecord,
    ruled_cells: list[Any],
    scan: Path,
    engine: str,
    tally: Tally,
    misses: list[str] | None,
) -> None:
    options = OcrOptions(engine=engine)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter(), time.process_time()
    cells, lines, (form, sha) = cell_texts(scan, options)
    tally.wall += time.perf_counter() - wall
    tally.cpu += time.process_time() - cpu
    tally.pages += pymupdf.open(str(scan)).page_count
    texts = [norm(c.text) for c in cells if c.text] + [norm(t) for t in lines]
    found_numbers: set[float] = set()
    for t in texts:
        found_numbers |= numbers_in(t)
    numbers, short, long = gold_values(record)
    for n in numbers:
        ok = any(abs(n - f) < 1e-9 for f in found_numbers)
        tally.numbers[0] += ok
        tally.numbers[1] += 1
        tally.values[0] += ok
        tally.values[1] += 1
        if not ok and misses is not None:
            misses.append(f"number {n}")
    for s in short:
        ok = any(s in t for t in texts)
        tally.values[0] += ok
        tally.values[1] += 1
        if not ok and misses is not None:
            misses.append(f"text {s}")
    for s in long:
        tally.long.append(max((SequenceMatcher(None, s, t).ratio() for t in texts), default=0.0))
    want = Counter(norm(c.text) for c in ruled_cells if norm(c.text) in LABELS)
    got = Counter(norm(c.text) for c in cells if norm(c.text) in LABELS)
    for label, n in want.items():
        tally.labels[0] += min(n, got[label])
        tally.labels[1] += n
        if got[label] < n and misses is not None:
            near = [c.text for c in cells if label[-2:] in c.text and norm(c.text) != label]
            misses.append(f"label {label} {got[label]}/{n} {near[:3]}")
    pred = None
    if form is not None:
        pred = LayoutExtractor().extract(form, LayoutText(), doc_sha256=sha).record
    score = compare(pred, record)
    tally.fields[0] += score.correct
    tally.fields[1] += score.total
    read = [c for c in cells if c.text]
    tally.cells += len(read)
    tally.low_conf += sum(1 for c in read if c.confidence is not None and c.confidence < 0.8)


def pct(pair: list[int]) -> str:
    return f"{100 * pair[0] / pair[1]:5.1f}" if pair[1] else "    -"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", choices=("dev", "test", "none"), default="dev")
    parser.add_argument("--limit", type=int, default=0, help="only the first N gold forms")
    parser.add_argument("--synthetic", type=int, default=3, help="N synth forms (seed 7, dev)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--engines", nargs="+", default=["rapidocr", "tesseract"])
    parser.add_argument("--misses", action="store_true", help="print what each scan missed")
    args = parser.parse_args()

    forms: list[tuple[str, FormRecord]] = []
    if args.gold != "none":
        ids = DEV if args.gold == "dev" else TEST
        forms += [(i, load_gold(i)) for i in ids[: args.limit or None]]
    if args.synthetic:
        from jixiao.corpus.synth import generate_forms

        split = "test" if args.gold == "test" else "dev"
        pool = generate_forms(seed=7, count=4 * args.synthetic)
        forms += [(f.id, f.record) for f in pool if split_for(f.id) == split][: args.synthetic]

    tallies = {(e, v): Tally() for e in args.engines for v in args.variants}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for k, (name, record) in enumerate(forms):
            ruled = tmp / f"ruled-{k}.pdf"
            render_pdf("ruled", [record], ruled, seed=k)
            ruled_cells, _, _ = cell_texts(ruled, None)
            for vname in args.variants:
                variant = VARIANTS[vname]
                scan = tmp / f"{vname}-{k}.pdf"
                if variant.family:
                    render_pdf("scan", [record], scan, seed=k)
                else:
                    scan_variant(ruled, scan, variant, random.Random(f"{vname}:{name}"))
                for engine in args.engines:
                    misses: list[str] | None = [] if args.misses else None
                    tally = tallies[(engine, vname)]
                    before = (tally.values[0], tally.wall)
                    score_scan(record, ruled_cells, scan, engine, tally, misses)
                    print(
                        f"{name:18s} {vname:12s} {engine:9s} values +{tally.values[0] - before[0]}"
                        f" {tally.wall - before[1]:.1f}s",
                        flush=True,
                    )
                    for miss in misses or []:
                        print(f"    {miss[:150]}")
    print(f"\nforms={len(forms)}: {', '.join(name for name, _ in forms)}")
    print(
        "| engine | variant | values % | numbers % | labels % | long sim | fields % "
        "| cells conf<0.8 % | s/page wall | s/page cpu |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (engine, vname), t in tallies.items():
        n = max(1, t.pages)
        sim = sum(t.long) / len(t.long) if t.long else 0.0
        print(
            f"| {engine} | {vname} | {pct(t.values)} | {pct(t.numbers)} | {pct(t.labels)} "
            f"| {sim:.3f} | {pct(t.fields)} | {pct([t.low_conf, t.cells])} "
            f"| {t.wall / n:.2f} | {t.cpu / n:.2f} |"
        )


if __name__ == "__main__":
    main()
