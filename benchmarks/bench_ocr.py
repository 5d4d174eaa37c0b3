"""OCR of scanned forms: layout-extractor accuracy on the `scan` family beside the same forms'
text-layer (`ruled`) accuracy, numeric-leaf accuracy, and seconds per page.

Each form is rendered twice with the same seed — `ruled` (text layer) and `scan` (the same page
rasterised at ~200 dpi, turned, noisy, JPEG) — ingested (OCR for the scan) and extracted with
the layout extractor, then compared with its gold leaf by leaf (tests/layout/goldcompare.py).
"numbers" counts the numeric leaves only: funding amounts, rates, weights and scores.

    .venv/bin/python benchmarks/bench_ocr.py                 # 5 dev gold forms + 4 synthetic
    .venv/bin/python benchmarks/bench_ocr.py --synthetic 10 --gold none --misses
    .venv/bin/python benchmarks/bench_ocr.py --gold test     # report only, never tune on it
    .venv/bin/python benchmarks/bench_ocr.py --full-page     # + whole-page OCR baseline

--full-page also reads every scanned page with MuPDF's whole-page OCR and counts, for both
readings, the decimal numbers of the text layer found verbatim in the page's OCR text.

Seconds are wall and CPU (process) time; on a shared machine CPU time is the steadier number.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "layout"))
sys.path.insert(0, str(REPO / "benchmarks"))

import goldcompare  # noqa: E402
from goldcompare import Score, compare  # noqa: E402
from layout_accuracy import DEV, TEST, load_gold  # noqa: E402

from jixiao.contract import FormRecord  # noqa: E402
from jixiao.corpus.render import render_pdf  # noqa: E402
from jixiao.extract.layout import LayoutExtractor  # noqa: E402
from jixiao.ingest import ingest_pdf  # noqa: E402
from jixiao.ingest.model import LayoutText  # noqa: E402
from jixiao.ingest.ocr import OcrOptions, full_page_text  # noqa: E402
from jixiao.ingest.pdf import open_document  # noqa: E402

_DECIMAL = re.compile(r"\d[\d,]*\.\d+")


def verbatim_numbers(ruled: Path, scan: Path, options: OcrOptions) -> tuple[int, int, int, float]:
    """Decimal numbers of the ruled text layer found verbatim in the scan's OCR text: by our
    cell-by-cell reading, by MuPDF's whole-page OCR; total; whole-page seconds."""
    truth = open_document(ruled)
    cells = ingest_pdf(scan, ocr=options).document
    ours = found = full = 0
    seconds = 0.0
    for page, read in zip(truth.pages, cells.pages, strict=True):
        numbers = _DECIMAL.findall("\n".join(ln.text for ln in page.lines))
        cell_text = "".join("".join(ln.text.split()) for ln in read.lines)
        started = time.perf_counter()
        whole = "".join(full_page_text(scan, page.number, options).split())
        seconds += time.perf_counter() - started
        ours += sum(n in cell_text for n in numbers)
        full += sum(n in whole for n in numbers)
        found += len(numbers)
    return ours, full, found, seconds


# Numeric leaves, counted apart from the rest: (family name) -> [correct, total].
NUMBERS: dict[str, list[int]] = {}
_current = {"family": ""}
_original_add = Score.add


def _counting_add(
    self: Score, group: str, path: str, ok: bool, pred: Any = None, gold: Any = None
) -> None:
    _original_add(self, group, path, ok, pred, gold)
    if isinstance(gold, int | float) and not isinstance(gold, bool):
        tally = NUMBERS.setdefault(_current["family"], [0, 0])
        tally[0] += ok
        tally[1] += 1


goldcompare.Score.add = _counting_add  # type: ignore[method-assign]


def run_form(
    family: str, record: FormRecord, pdf: Path, options: OcrOptions
) -> tuple[Score, int, float, float, list[str]]:
    """Score, pages, wall and CPU seconds of ingest+extract, warnings."""
    render_pdf(family, [record], pdf, seed=0)
    _current["family"] = family
    wall, cpu = time.perf_counter(), time.process_time()
    result = ingest_pdf(pdf, ocr=options)
    extractor = LayoutExtractor()
    preds = [
        extractor.extract(form, LayoutText(), doc_sha256=result.document.sha256).record
        for form in result.forms
    ]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    score = compare(preds[0] if preds else None, record)
    return score, result.document.page_count, wall, cpu, result.warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", choices=("dev", "test", "none"), default="dev")
    parser.add_argument("--synthetic", type=int, default=4, help="N corpus.synth forms (seed 7)")
    parser.add_argument("--dpi", type=int, default=OcrOptions().dpi)
    parser.add_argument("--misses", action="store_true", help="print every wrong scan leaf")
    parser.add_argument("--full-page", action="store_true", help="whole-page OCR baseline too")
    args = parser.parse_args()
    options = OcrOptions(dpi=args.dpi)

    forms: list[tuple[str, FormRecord]] = []
    if args.gold != "none":
        forms += [(i, load_gold(i)) for i in (DEV if args.gold == "dev" else TEST)]
    if args.synthetic:
        from jixiao.corpus.synth import generate_forms

        forms += [(f.id, f.record) for f in generate_forms(seed=7, count=args.synthetic)]

    totals = {"ruled": Score(), "scan": Score()}
    pages = {"ruled": 0, "scan": 0}
    seconds = {"ruled": [0.0, 0.0], "scan": [0.0, 0.0]}
    verbatim = [0, 0, 0, 0.0]  # cell-by-cell, whole-page, total, whole-page seconds
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, record in forms:
            for family in ("ruled", "scan"):
                score, n, wall, cpu, warnings = run_form(
                    family, record, Path(tmpdir) / f"{family}-{name}.pdf", options
                )
                totals[family].merge(score)
                pages[family] += n
                seconds[family][0] += wall
                seconds[family][1] += cpu
                if family == "scan":
                    print(
                        f"{name:16s} scan acc={score.accuracy:.4f} pages={n} "
                        f"{wall:.1f}s wall {cpu:.1f}s cpu",
                        flush=True,
                    )
                    if args.misses:
                        for miss in score.misses:
                            print(f"    {miss[:160]}")
                        for w in warnings:
                            print(f"    warning: {w}")
            if args.full_page:
                tmp = Path(tmpdir)
                ours, full, total, secs = verbatim_numbers(
                    tmp / f"ruled-{name}.pdf", tmp / f"scan-{name}.pdf", options
                )
                for k, v in enumerate((ours, full, total, secs)):
                    verbatim[k] += v
                print(
                    f"    numbers verbatim: cell-by-cell {ours}/{total}, whole-page {full}/{total}"
                )
    print(f"forms={len(forms)} dpi={args.dpi}")
    for family in ("ruled", "scan"):
        score = totals[family]
        groups = " ".join(
            f"{g}={c}/{t}({c / t:.3f})" for g, (c, t) in sorted(score.groups.items()) if t
        )
        num_c, num_t = NUMBERS.get(family, [0, 0])
        wall, cpu = seconds[family]
        n = max(1, pages[family])
        print(
            f"{family:6s} acc={score.accuracy:.4f} ({score.correct}/{score.total}) "
            f"numbers={num_c}/{num_t}({num_c / max(1, num_t):.4f}) {groups} "
            f"{wall / n:.2f}s/page wall {cpu / n:.2f}s/page cpu"
        )
    if args.full_page:
        ours, full, total, secs = verbatim
        n = max(1, pages["scan"])
        print(
            f"numbers verbatim in the OCR text: cell-by-cell {ours}/{total}"
            f" ({ours / max(1, total):.4f}), whole-page {full}/{total}"
            f" ({full / max(1, total):.4f}) at {secs / n:.2f}s/page wall"
        )


if __name__ == "__main__":
    main()
