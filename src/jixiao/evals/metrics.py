"""Aggregates of scored forms: accuracy per group / field / family / provenance, row P/R/F1,
long-text similarity, confidence calibration and check findings. Pure: no I/O.

`summarize(forms)` turns the per-form `ScoredForm`s of one run into the `summary` object of the
run JSON (see harness.py); every number in a report or a baseline comes from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jixiao.confidence import choose_threshold
from jixiao.evals.compare import GROUPS, FlagCounts, FormComparison, RowCounts, prf

CALIBRATION_BINS = 10
REVIEW_TARGET = 0.995  # values above the review threshold are to be this right (issue #14)


@dataclass(slots=True)
class ScoredLeaf:
    """One gold leaf with what the prediction said about it (confidence, page, extractor)."""

    ok: bool
    confidence: float | None
    provenance: str | None


@dataclass(slots=True)
class ScoredForm:
    """One gold form of the run: where it came from, its comparison and its check findings."""

    doc: str
    family: str
    gold_id: str
    origin: str
    comparison: FormComparison
    leaves: list[ScoredLeaf]
    flags_found: list[str] = field(default_factory=list)
    flags_expected: list[str] = field(default_factory=list)
    flags_on_gold: list[str] = field(default_factory=list)
    input_kind: str = "text"
    """"ocr" when the form's values were read from OCR'd pages, else "text" (its text layer)."""


class _Tally:
    __slots__ = ("correct", "total")

    def __init__(self) -> None:
        self.correct = 0
        self.total = 0

    def add(self, ok: bool) -> None:
        self.correct += ok
        self.total += 1

    def out(self) -> dict[str, Any]:
        acc = self.correct / self.total if self.total else None
        return {"correct": self.correct, "total": self.total, "accuracy": acc}


def accuracy_block(leaves: Iterable[tuple[str, bool]]) -> dict[str, Any]:
    """{correct, total, accuracy, groups: {group: {…}}} over (group, ok) pairs."""
    overall = _Tally()
    groups: dict[str, _Tally] = {g: _Tally() for g in GROUPS}
    for group, ok in leaves:
        overall.add(ok)
        groups.setdefault(group, _Tally()).add(ok)
    return {**overall.out(), "groups": {g: t.out() for g, t in groups.items() if t.total}}


def calibration(
    points: list[tuple[float | None, bool]], threshold: float, bins: int = CALIBRATION_BINS
) -> dict[str, Any]:
    """Reliability of `confidence` as a probability of being right.

    Bins of equal width over [0, 1] (the top bin includes 1.0) with mean confidence and accuracy;
    ECE = Σ n_b/n · |acc_b − conf_b|. Above / below the review threshold: how right the values a
    reviewer would not see are, and how right the ones sent to review are; a leaf without a
    confidence (nothing predicted) counts as below. coverage = share of leaves above.
    """
    rows: list[dict[str, Any]] = []
    sums = [[0, 0, 0.0] for _ in range(bins)]  # n, correct, Σ confidence
    with_conf = 0
    for conf, ok in points:
        if conf is None:
            continue
        with_conf += 1
        b = min(int(conf * bins), bins - 1)
        sums[b][0] += 1
        sums[b][1] += ok
        sums[b][2] += conf
    ece = 0.0
    for b, (n, correct, conf_sum) in enumerate(sums):
        if not n:
            continue
        acc, mean_conf = correct / n, conf_sum / n
        ece += n / with_conf * abs(acc - mean_conf)
        rows.append(
            {
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "n": n,
                "accuracy": acc,
                "mean_confidence": mean_conf,
            }
        )
    above, below = _Tally(), _Tally()
    for conf, ok in points:
        (above if conf is not None and conf >= threshold else below).add(ok)
    wrong = (above.total - above.correct) + (below.total - below.correct)
    return {
        "threshold": threshold,
        "bins": rows,
        "ece": ece if with_conf else None,
        "with_confidence": with_conf,
        "without_confidence": len(points) - with_conf,
        "above": above.out(),
        "below": below.out(),
        "coverage": above.total / len(points) if points else None,
        # the review set's recall: of the wrong values, the share a person is shown
        "wrong_below": (below.total - below.correct) / wrong if wrong else None,
        "wrong_above": above.total - above.correct,
        # where this kind of input says the review threshold belongs
        "threshold_needed": threshold_needed(points),
    }


def threshold_needed(points: list[tuple[float | None, bool]]) -> float | None:
    """The lowest threshold at which the values with a confidence are ≥ REVIEW_TARGET right
    above it: 0.0 when all of them are (any threshold holds), None when no threshold does."""
    scored = [(c, ok) for c, ok in points if c is not None]
    needed = choose_threshold(scored, REVIEW_TARGET)
    if needed is not None and needed <= min(c for c, _ in scored):
        return 0.0
    return needed


def _flag_block(counts: dict[str, FlagCounts]) -> dict[str, Any]:
    def one(c: FlagCounts) -> dict[str, Any]:
        found, expected = c.tp + c.fp, c.tp + c.fn
        return {
            "tp": c.tp,
            "fp": c.fp,
            "fn": c.fn,
            "precision": c.tp / found if found else None,
            "recall": c.tp / expected if expected else None,
        }

    total = sum(counts.values(), FlagCounts())
    return {"overall": one(total), "by_code": {k: one(v) for k, v in sorted(counts.items())}}


def summarize(forms: list[ScoredForm], *, threshold: float) -> dict[str, Any]:
    """The `summary` of a run: see the module docstring."""
    from jixiao.evals.compare import compare_flag_codes

    all_leaves: list[tuple[str, bool]] = []
    by_family: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    by_origin: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    by_field: dict[str, _Tally] = defaultdict(_Tally)
    by_provenance: dict[str, _Tally] = defaultdict(_Tally)
    rows: dict[str, RowCounts] = {}
    ratios: dict[str, list[float]] = defaultdict(list)
    points: list[tuple[float | None, bool]] = []
    points_by: dict[str, dict[str, list[tuple[float | None, bool]]]] = {
        "input_kind": defaultdict(list),
        "family": defaultdict(list),
    }
    flags_e2e: dict[str, FlagCounts] = defaultdict(FlagCounts)
    flags_gold: dict[str, FlagCounts] = defaultdict(FlagCounts)
    for form in forms:
        for leaf, scored in zip(form.comparison.leaves, form.leaves, strict=True):
            pair = (leaf.group, leaf.ok)
            all_leaves.append(pair)
            by_family[form.family].append(pair)
            by_origin[form.origin].append(pair)
            by_field[leaf.field].add(leaf.ok)
            by_provenance[scored.provenance or "none"].add(leaf.ok)
            if leaf.ratio is not None:
                ratios[leaf.field].append(leaf.ratio)
            points.append((scored.confidence, leaf.ok))
            points_by["input_kind"][form.input_kind].append((scored.confidence, leaf.ok))
            points_by["family"][form.family].append((scored.confidence, leaf.ok))
        for name, counts in form.comparison.rows.items():
            rows[name] = rows.get(name, RowCounts(0, 0, 0)) + counts
        for code, c in compare_flag_codes(form.flags_found, form.flags_expected).items():
            flags_e2e[code] += c
        for code, c in compare_flag_codes(form.flags_on_gold, form.flags_expected).items():
            flags_gold[code] += c
    all_ratios = [r for rs in ratios.values() for r in rs]
    return {
        "field_accuracy": accuracy_block(all_leaves),
        "families": {f: accuracy_block(v) for f, v in sorted(by_family.items())},
        "origins": {o: accuracy_block(v) for o, v in sorted(by_origin.items())},
        "fields": {k: t.out() for k, t in sorted(by_field.items())},
        "provenance": {k: t.out() for k, t in sorted(by_provenance.items())},
        "rows": {
            name: {"gold": c.gold, "pred": c.pred, "aligned": c.aligned, **prf(c)}
            for name, c in sorted(rows.items())
        },
        "long_text": {
            "mean_ratio": sum(all_ratios) / len(all_ratios) if all_ratios else None,
            "n": len(all_ratios),
            "fields": {k: {"mean_ratio": sum(v) / len(v), "n": len(v)} for k, v in ratios.items()},
        },
        "calibration": calibration(points, threshold),
        # does the one threshold hold on OCR'd pages too, and in each family?
        "calibration_by": {
            by: {
                key: {
                    k: v
                    for k, v in calibration(pts, threshold).items()
                    if k not in ("bins", "threshold")
                }
                for key, pts in sorted(groups.items())
            }
            for by, groups in points_by.items()
        },
        "checks": {
            "end_to_end": _flag_block(dict(flags_e2e)),
            "on_gold": _flag_block(dict(flags_gold)),
        },
    }
