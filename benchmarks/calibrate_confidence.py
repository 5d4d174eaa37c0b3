"""Calibrate the hybrid's per-field confidence on the dev split; report it on the test split.

For every document of the corpus (`jixiao corpus build --out corpus --seed 7`): ingest, run the
layout extractor, run the LLM extractor on a subset (the embedded 270M model takes minutes per
form on this machine; its answers are cached under .jixiao/cache, so a re-run is cheap), and
reconcile the two with the hybrid (`jixiao.extract.hybrid.reconcile`; on documents outside the
LLM subset the hybrid degrades to layout, as it does when the endpoint is down). Every value is
scored against gold with the eval harness (`jixiao.evals`: contract §3).

Prints, per split:
- field accuracy of layout, llm and hybrid per family on the LLM subset, and of layout and
  hybrid on every document;
- the hybrid's reliability table (confidence bins vs observed accuracy);
- the review threshold: the lowest confidence such that dev values at or above it are
  ≥ --target correct (chosen on dev only), then coverage (share of gold values auto-accepted)
  and accuracy above / below it on dev and test.
With --save the threshold is written to src/jixiao/confidence_thresholds.json, which
`jixiao.confidence.review_threshold()` reads.

    .venv/bin/python benchmarks/calibrate_confidence.py [--save] [--no-llm]
        [--llm-families ruled,ab-labels,split-target,borderless] [--llm-per-family 1]
        [--llm-forms-per-doc N]
        [--skip-families scan]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from jixiao.confidence import choose_threshold, reliability_table, save_threshold
from jixiao.contract import ExtractionResult, FormRecord, SourceInfo
from jixiao.corpus.build import load_manifest
from jixiao.errors import JixiaoError
from jixiao.evals.harness import (
    input_kind,
    match_forms,
    resolve_gold,
    score_form,
    select_documents,
)
from jixiao.extract.base import Extractor, ExtractorOptions, ExtractorOutput
from jixiao.extract.escalation import EscalationPolicy
from jixiao.extract.hybrid import HybridExtractor, add_ocr_signals, reconcile
from jixiao.extract.layout import LayoutExtractor
from jixiao.ingest import ingest_pdf, serialize_form

EXTRACTORS = ("layout", "llm", "hybrid")


def _result(out: ExtractorOutput, pdf: Path, sha: str, pages: list[int]) -> ExtractionResult:
    return ExtractionResult(
        source=SourceInfo(file=pdf.name, sha256=sha, pages=pages),
        form=out.record,
        fields=out.fields,
        flags=out.flags,
        run=out.stats,
    )


class Tally:
    def __init__(self) -> None:
        self.correct = 0
        self.total = 0
        self.forms = 0

    def add(self, ok: bool) -> None:
        self.correct += int(ok)
        self.total += 1

    def acc(self) -> str:
        return f"{self.correct / self.total:.4f}" if self.total else "  -   "


def run(args: argparse.Namespace) -> int:
    manifest_path = Path(args.manifest)
    manifest = load_manifest(manifest_path)
    layout = LayoutExtractor()
    auto_hybrid = HybridExtractor(LayoutExtractor(), None, policy=EscalationPolicy())
    # (split, family, extractor, subset) -> tally; subset "llm" = documents the LLM also read
    acc: dict[tuple[str, str, str, str], Tally] = defaultdict(Tally)
    points: dict[str, list[tuple[float | None, bool]]] = defaultdict(list)
    families = [f for f in args.llm_families.split(",") if f] if not args.no_llm else []
    skipped = {f for f in args.skip_families.split(",") if f}
    with contextlib.ExitStack() as stack:
        llm: Extractor | None = None
        if families:
            try:
                from jixiao.config import EMBEDDED_MODEL
                from jixiao.extract.llm.extractor import open_llm_extractor

                # the embedded model's name keys its cached answers, whatever the address
                model = EMBEDDED_MODEL if args.llm_base_url else None
                opts = ExtractorOptions(base_url=args.llm_base_url, model=model)
                llm = stack.enter_context(open_llm_extractor(opts))
            except JixiaoError as err:
                print(f"LLM unavailable, hybrid = layout everywhere: {err.line()}")
        for split in ("dev", "test"):
            llm_docs = {
                d.file
                for fam in families
                for d in select_documents(manifest, split, fam, args.llm_per_family)
            }
            started = time.perf_counter()
            for doc in select_documents(manifest, split):
                if doc.family in skipped:
                    continue
                pdf = manifest_path.parent / doc.file
                with_llm = llm is not None and doc.file in llm_docs
                preds: dict[str, list[ExtractionResult]] = {e: [] for e in EXTRACTORS}
                try:
                    ingested = ingest_pdf(pdf)
                except JixiaoError as err:
                    print(f"  {doc.file}: {err.line()}")
                    ingested = None
                forms = [f for f in ingested.forms if f.kind == "project"] if ingested else []
                llm_forms = 0  # forms of this document that got LLM answers (the first N)
                for position, form in enumerate(forms):
                    assert ingested is not None
                    sha = ingested.document.sha256
                    text = serialize_form(form)
                    lay = layout.extract(form, text, doc_sha256=sha)
                    llm_out = None
                    if with_llm and llm is not None and position < args.llm_forms_per_doc:
                        llm_forms += 1
                        t0 = time.perf_counter()
                        llm_out = llm.extract(form, text, doc_sha256=sha)
                        print(
                            f"  llm {doc.file} form {form.index}: "
                            f"{time.perf_counter() - t0:.1f} s, {llm_out.stats.llm_calls} calls"
                        )
                    for reading in (lay, llm_out):
                        if reading is not None:
                            add_ocr_signals(reading, form)
                    if args.no_llm:
                        # the default hybrid exactly as `jixiao extract` runs it (auto; the
                        # packaged routing asks the embedded model nothing)
                        hyb = auto_hybrid.extract(form, text, doc_sha256=sha)
                    else:
                        hyb = reconcile(lay, llm_out, llm_error="not in the LLM subset")
                    pages = list(form.pages)
                    preds["layout"].append(_result(lay, pdf, sha, pages))
                    if llm_out is not None:
                        preds["llm"].append(_result(llm_out, pdf, sha, pages))
                    preds["hybrid"].append(_result(hyb, pdf, sha, pages))
                golds = [
                    FormRecord.model_validate_json(
                        resolve_gold(manifest_path, f.gold).read_text("utf-8")
                    )
                    for f in doc.forms
                ]
                for name in EXTRACTORS:
                    if name == "llm" and not with_llm:
                        continue
                    match = match_forms(
                        [(g, f.pages) for g, f in zip(golds, doc.forms, strict=True)],
                        preds[name],
                    )
                    for position, (gold, pi) in enumerate(zip(golds, match, strict=True)):
                        in_llm_subset = with_llm and position < llm_forms
                        if name == "llm" and not in_llm_subset:
                            continue
                        pred = preds[name][pi] if pi is not None else None
                        leaves, _wrong, comparison = score_form(gold, pred)
                        subsets = ("all", "llm") if in_llm_subset else ("all",)
                        for subset in subsets:
                            t = acc[(split, doc.family, name, subset)]
                            t.forms += 1
                            for leaf in comparison.leaves:
                                t.add(leaf.ok)
                        if name == "hybrid":
                            points[split].extend((s.confidence, s.ok) for s in leaves)
                            kind = input_kind(pred)
                            points[f"{split}:{kind}"].extend((s.confidence, s.ok) for s in leaves)
            print(f"{split}: extracted in {time.perf_counter() - started:.1f} s")
    return report(args, manifest, acc, points, families)


def _table(acc: dict[tuple[str, str, str, str], Tally], split: str, subset: str) -> None:
    fams = sorted({k[1] for k in acc if k[0] == split and k[3] == subset})
    names = [e for e in EXTRACTORS if any(k[2] == e and k[3] == subset for k in acc)]
    print(f"  {'family':14s} {'forms':>5s} " + " ".join(f"{n:>8s}" for n in names))
    totals = {n: Tally() for n in names}
    for fam in fams:
        row = [acc[(split, fam, n, subset)] for n in names]
        for n, t in zip(names, row, strict=True):
            totals[n].correct += t.correct
            totals[n].total += t.total
            totals[n].forms += t.forms
        print(f"  {fam:14s} {row[0].forms:5d} " + " ".join(f"{t.acc():>8s}" for t in row))
    forms = totals[names[0]].forms if names else 0
    print(f"  {'ALL':14s} {forms:5d} " + " ".join(f"{totals[n].acc():>8s}" for n in names))


def _above_below(points: list[tuple[float | None, bool]], t: float) -> dict[str, Any]:
    above = [ok for c, ok in points if c is not None and c >= t]
    below = [ok for c, ok in points if c is None or c < t]
    wrong = sum(not ok for ok in above) + sum(not ok for ok in below)
    return {
        # of the wrong values, the share a person is shown (the review set's recall)
        "wrong_below": sum(not ok for ok in below) / wrong if wrong else None,
        "wrong_above_n": sum(not ok for ok in above),
        "coverage": len(above) / len(points) if points else 0.0,
        "above_n": len(above),
        "above_accuracy": sum(above) / len(above) if above else None,
        "below_n": len(below),
        "below_accuracy": sum(below) / len(below) if below else None,
    }


def _fmt(stats: dict[str, Any]) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.2f}%"

    return (
        f"coverage {pct(stats['coverage'])} ({stats['above_n']} auto-accepted), "
        f"accuracy above {pct(stats['above_accuracy'])}, "
        f"below {pct(stats['below_accuracy'])} ({stats['below_n']} to review); "
        f"wrong values sent to review {pct(stats['wrong_below'])} "
        f"({stats['wrong_above_n']} wrong above)"
    )


def report(
    args: argparse.Namespace,
    manifest: Any,
    acc: dict[tuple[str, str, str, str], Tally],
    points: dict[str, list[tuple[float | None, bool]]],
    families: list[str],
) -> int:
    for split in ("dev", "test"):
        if families:
            print(
                f"\n{split}: field accuracy on the documents the LLM read "
                f"({', '.join(families)}; {args.llm_per_family} per family)"
            )
            _table(acc, split, "llm")
        print(f"\n{split}: field accuracy on every document (hybrid = layout where no LLM)")
        _table(acc, split, "all")
    dev = [(c, ok) for c, ok in points["dev"] if c is not None]
    print("\ndev reliability (hybrid): bin, n, mean accuracy")
    for b in reliability_table(dev):
        if b.n:
            print(f"  [{b.lo:.1f}, {b.hi:.1f})  {b.n:6d}  {b.accuracy:.4f}")
    threshold = choose_threshold(
        dev,
        target=args.target,
        min_support=args.min_support,
        marginal_floor=args.marginal_floor,
    )
    if threshold is None:
        print(f"no threshold reaches {args.target} on dev: everything goes to review")
        return 1
    print(f"\nreview threshold (dev, ≥ {100 * args.target:.1f}% correct above): {threshold}")
    stats = {split: _above_below(points[split], threshold) for split in ("dev", "test")}
    for split in ("dev", "test"):
        print(f"  {split}: {_fmt(stats[split])}")
        for kind in ("text", "ocr"):
            key = f"{split}:{kind}"
            if points.get(key):
                stats[key] = _above_below(points[key], threshold)
                print(f"    {kind:<4}: {_fmt(stats[key])}")
    if args.save:
        path = save_threshold(
            threshold,
            {
                "target_accuracy": args.target,
                "marginal_floor": args.marginal_floor,
                "chosen_on": "dev",
                "corpus_seed": manifest.seed,
                "llm_subset": {
                    "families": families,
                    "per_family": args.llm_per_family,
                    "forms_per_doc": args.llm_forms_per_doc,
                },
                "dev": stats["dev"],
                "test": stats["test"],
                "by_input_kind": {k: v for k, v in stats.items() if ":" in k},
                "families": sorted({d.family for d in manifest.documents}),
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "by": "benchmarks/calibrate_confidence.py",
            },
        )
        print(f"saved {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--manifest", default="corpus/manifest.json")
    p.add_argument("--llm-families", default="ruled,ab-labels,split-target,borderless")
    p.add_argument("--llm-per-family", type=int, default=1)
    p.add_argument(
        "--llm-forms-per-doc",
        type=int,
        default=10**6,
        help="LLM answers for only the first N forms of each LLM document (cheap bundles)",
    )
    p.add_argument(
        "--llm-base-url",
        default=None,
        help="LLM endpoint (default: the embedded server); an address where nothing listens "
        "replays the answer cache alone: sections not cached fail and are flagged",
    )
    p.add_argument("--no-llm", action="store_true", help="layout only (hybrid degrades)")
    p.add_argument(
        "--skip-families",
        default="scan",
        help="families not run (scan: OCR takes minutes per page on a busy machine)",
    )
    p.add_argument("--target", type=float, default=0.995)
    p.add_argument(
        "--min-support",
        type=int,
        default=200,
        help="at least this many dev values above the threshold",
    )
    p.add_argument(
        "--marginal-floor",
        type=float,
        default=0.9,
        help="fields within 0.1 above the threshold must be at least this correct",
    )
    p.add_argument("--save", action="store_true", help="write confidence_thresholds.json")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
