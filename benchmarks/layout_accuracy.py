"""Field accuracy of the layout extractor per layout family, on the real gold forms.

Each gold form is rendered in every text-layer family (corpus.render.render_pdf), ingested
(ingest.ingest_pdf) and extracted with the layout extractor; the result is compared with gold
leaf by leaf (output-contract.md §3, tests/layout/goldcompare.py). The dev split is what the
tests hold to a bar; the test split is reported here only and must never be tuned on.

    .venv/bin/python benchmarks/layout_accuracy.py [--family ruled ...] [--misses]
    .venv/bin/python benchmarks/layout_accuracy.py --synthetic 30   # corpus.synth forms instead

Prints one line per family and split: accuracy, correct/total, per field group, seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "layout"))

from goldcompare import Score, compare  # noqa: E402

from jixiao.contract import FormRecord  # noqa: E402
from jixiao.corpus.render import render_pdf  # noqa: E402
from jixiao.extract.layout import LayoutExtractor  # noqa: E402
from jixiao.ingest import ingest_pdf  # noqa: E402
from jixiao.ingest.model import LayoutText  # noqa: E402

DEV = ("sh-bdc-2023-01", "sh-bdc-2023-02", "sh-bdc-2023-04", "sh-bdc-2023-05", "sh-bdc-2023-07")
TEST = ("sh-bdc-2023-03", "sh-bdc-2023-06", "sh-bdc-2023-08")
FAMILIES = ("ruled", "ab-labels", "borderless", "split-target", "bundle")
# Image-only pages: measured on request (OCR is slow), `--family scan`.
ALL_FAMILIES = (*FAMILIES, "scan")
GOLD = REPO / "evals" / "gold"


def load_gold(form_id: str) -> FormRecord:
    return FormRecord.model_validate(json.loads((GOLD / f"{form_id}.json").read_text("utf-8")))


def extract_pdf(path: Path) -> list[FormRecord]:
    result = ingest_pdf(path)
    extractor = LayoutExtractor()
    return [
        extractor.extract(form, LayoutText(), doc_sha256=result.document.sha256).record
        for form in result.forms
    ]


def _norm(text: str | None) -> str:
    return "".join((text or "").split())


def score_family(family: str, ids: tuple[str, ...], tmp: Path) -> tuple[Score, int]:
    """Render, ingest, extract and compare; returns the score and the number of forms found."""
    golds = [load_gold(i) for i in ids]
    total = Score()
    found = 0
    if family == "bundle":
        batches = [(f"{family}-{'-'.join(i[-2:] for i in ids)}", golds)]
    else:
        batches = [(f"{family}-{i}", [g]) for i, g in zip(ids, golds, strict=True)]
    for name, batch in batches:
        pdf = tmp / f"{name}.pdf"
        render_pdf(family, batch, pdf)
        preds = extract_pdf(pdf)
        found += len(preds)
        by_name = {_norm(p.project_name): p for p in preds}
        for k, gold in enumerate(batch):
            pred = by_name.get(_norm(gold.project_name))
            if pred is None and len(preds) == len(batch):
                pred = preds[k]  # project name misread: fall back to document order
            total.merge(compare(pred, gold))
    return total, found


def score_synthetic(family: str, count: int, tmp: Path) -> Score:
    """The same on `count` synthetic forms (corpus.synth, seed 7), one PDF per form."""
    from jixiao.corpus.synth import generate_forms

    total = Score()
    for form in generate_forms(seed=7, count=count):
        pdf = tmp / f"{family}-{form.id}.pdf"
        render_pdf(family, [form.record], pdf)
        preds = extract_pdf(pdf)
        total.merge(compare(preds[0] if preds else None, form.record))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", choices=ALL_FAMILIES)
    parser.add_argument("--misses", action="store_true", help="print every wrong leaf")
    parser.add_argument("--synthetic", type=int, default=0, help="N synthetic forms instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for family in args.family or FAMILIES:
            if args.synthetic:
                started = time.perf_counter()
                score = score_synthetic(family, args.synthetic, tmp)
                groups = " ".join(f"{g}={c}/{t}" for g, (c, t) in sorted(score.groups.items()))
                print(
                    f"{family:13s} synthetic acc={score.accuracy:.4f} "
                    f"({score.correct}/{score.total}) {groups} "
                    f"{time.perf_counter() - started:.1f}s"
                )
                continue
            for split, ids in (("dev", DEV), ("test", TEST)):
                started = time.perf_counter()
                score, found = score_family(family, ids, tmp)
                seconds = time.perf_counter() - started
                groups = " ".join(f"{g}={c}/{t}" for g, (c, t) in sorted(score.groups.items()))
                print(
                    f"{family:13s} {split:4s} acc={score.accuracy:.4f} "
                    f"({score.correct}/{score.total}) forms={found}/{len(ids)} {groups} "
                    f"{seconds:.1f}s"
                )
                if args.misses:
                    for miss in score.misses:
                        print(f"    {miss[:160]}")


if __name__ == "__main__":
    main()
