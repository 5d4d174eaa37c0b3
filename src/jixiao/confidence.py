"""Per-field confidence from checkable signals, and the calibrated review threshold.

A value's confidence is computed from facts anyone can re-check, never from the model's words:

- `grounded`: the value occurs in the cell its provenance cites (1/0);
- `agreement`: both extractors read the same value (1), only one had a value (0.5), they
  disagreed (0); `resolved_by_checks` / `resolved_by_grounding`: a disagreement settled by the
  arithmetic checks / because only one value occurs in its cited cell;
- `check_failed_error` / `check_failed_warning`: how many arithmetic findings (R1/R2/R7/R8/R9/R10
  are errors) name this field; `check_passed`: the field is covered by an arithmetic rule that
  found nothing wrong with it;
- `parse_clean`: the cited text parses cleanly as the kind of value stored (numbers, units);
  `text_shape`: a text field does not hold a bare number or the same text twice;
- `label_match`: how well the layout extractor matched the label of the cell (1 = exact);
  `ruled` (0 for a borderless table, whose columns are inferred), `inherited` (a level label
  carried down a merged cell);
- `ocr_confidence`: the OCR engine's confidence when the page was OCR'd;
- `llm_only`: only the LLM read the value (the layout had none there);
- `suspect` (with `repaired` when the text was changed): an OCR rule doubted the value — a
  comparison sign read as a CJK character, junk after a name, a name cell OCR was unsure of.

`score_signals` combines them into [0, 1]; it is monotone in each signal (a failing check never
raises it, agreement never lowers it). `benchmarks/calibrate_confidence.py` measures how right
values are per confidence bin on the dev split and writes the review threshold to
`confidence_thresholds.json`; `review_threshold()` reads it back.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jixiao.contract import FieldProvenance, Flag, FormRecord, leaf_value

if TYPE_CHECKING:
    from jixiao.checks.config import CheckConfig

THRESHOLDS_FILE = Path(__file__).with_name("confidence_thresholds.json")
DEFAULT_REVIEW_THRESHOLD = 0.9  # CheckConfig.suspect_confidence, used until a calibration exists

# Rules whose findings are arithmetic identities: a failure there is strong evidence that one
# of the fields named is misread (or that the form itself is wrong).
ARITHMETIC_RULES = frozenset({"R1", "R2", "R7", "R8", "R9", "R10"})


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each signal moves confidence: multiplicative factors applied to a base of 1."""

    ungrounded: float = 0.55
    agreed: float = 1.0
    single: float = 0.9
    disagreed: float = 0.7
    resolved_by_checks: float = 1.15  # partly restores a disagreement settled by arithmetic
    check_error: float = 0.6  # per failing arithmetic finding on the field
    check_warning: float = 0.9  # per failing warning finding (planted source issues are common)
    check_passed: float = 1.04
    unclean_parse: float = 0.6
    inherited: float = 0.97
    unruled: float = 0.93  # a cell of a borderless table: its column was inferred from positions
    # only the model read it (the layout had no value): nothing but the model vouches for it, so
    # it goes to a person unless more evidence lifts it (0.97 * 0.9 * 0.4 ≈ 0.35)
    llm_only: float = 0.4
    # an OCR rule changed or doubted the value (a sign read as 过, junk after a name): a person
    # confirms it (0.97 * 0.9 * 0.8 * 0.45 ≈ 0.31, under the review threshold)
    suspect: float = 0.45
    # any value read by OCR: one review threshold for both input kinds, placed where each is
    # ≥ 99.5 % right above it. Measured on dev (eval run, per input kind "threshold needed"):
    # text-layer values and OCR'd scans of the seed-7 corpus hold at 0.3981 already; OCR'd
    # values of scan-sweep (seed 11: bitonal, sealed, turned, searchable) need 0.80, and
    # 0.3981 / 0.80 ≈ 0.5.
    ocr_page: float = 0.5


WEIGHTS = Weights()


def score_signals(signals: dict[str, float], weights: Weights = WEIGHTS) -> float:
    """Confidence in [0, 1] from the signals of one field (missing signals are neutral)."""
    c = 0.97
    if signals.get("grounded", 1.0) < 0.5:
        c *= weights.ungrounded
    agreement = signals.get("agreement")
    if agreement is not None:
        if agreement >= 1.0:
            c *= weights.agreed
        elif agreement > 0.0:
            c *= weights.single
        else:
            c *= weights.disagreed
            if (
                max(
                    signals.get("resolved_by_checks", 0.0),
                    signals.get("resolved_by_grounding", 0.0),
                )
                >= 1.0
            ):
                c *= weights.resolved_by_checks
    c *= weights.check_error ** signals.get("check_failed_error", 0.0)
    c *= weights.check_warning ** signals.get("check_failed_warning", 0.0)
    if signals.get("check_passed", 0.0) >= 1.0:
        c *= weights.check_passed
    parse = min(signals.get("parse_clean", 1.0), signals.get("text_shape", 1.0))
    c *= 1.0 - (1.0 - weights.unclean_parse) * (1.0 - max(0.0, min(1.0, parse)))
    label = signals.get("label_match")
    if label is not None:
        c *= math.sqrt(max(0.0, min(1.0, label)))
    if signals.get("inherited", 0.0) >= 1.0:
        c *= weights.inherited
    if signals.get("ruled", 1.0) < 0.5:
        c *= weights.unruled
    if signals.get("llm_only", 0.0) >= 1.0:
        c *= weights.llm_only
    if signals.get("suspect", 0.0) >= 1.0:
        c *= weights.suspect
    ocr = signals.get("ocr_confidence")
    if ocr is not None:
        c *= max(0.0, min(1.0, ocr)) * weights.ocr_page
    return round(max(0.0, min(1.0, c)), 4)


# -- signals that need the record ---------------------------------------------------------------


def _covered_paths(record: FormRecord) -> set[str]:
    """Fields an arithmetic rule judges when they have values (R1, R2, R8, R9, R10)."""
    out: set[str] = set()
    for i, row in enumerate(record.funding):
        if row.annual_budget and row.executed is not None and row.execution_rate is not None:
            out.update(f"funding[{i}].{n}" for n in ("annual_budget", "executed", "execution_rate"))
        if row.kind == "total" and row.weight is not None and row.score is not None:
            out.update((f"funding[{i}].weight", f"funding[{i}].score"))
    weights = [ind.weight for ind in record.indicators]
    if weights and all(w is not None for w in weights):
        out.update(f"indicators[{i}].weight" for i in range(len(weights)))
        if record.total_weight is not None:
            out.add("total_weight")
    scores = [ind.score for ind in record.indicators]
    if record.total_score is not None and scores and all(s is not None for s in scores):
        out.update(f"indicators[{i}].score" for i in range(len(scores)))
        out.add("total_score")
        if record.grade is not None:
            out.add("grade")
    return out


def check_signals(record: FormRecord, flags: Iterable[Flag]) -> dict[str, dict[str, float]]:
    """`check_failed_error` / `check_failed_warning` / `check_passed` per field path.

    A finding counts 1 for each field it names when it names at most three (an execution rate
    and its two inputs), less when it names more: a total that does not add up over 17 scores
    says little about any one of them.
    """
    errors: dict[str, float] = {}
    warnings: dict[str, float] = {}
    for flag in flags:
        if flag.rule is None or not flag.fields:
            continue
        into = errors if flag.rule in ARITHMETIC_RULES and flag.severity == "error" else warnings
        share = min(1.0, 3.0 / len(flag.fields))
        for path in flag.fields:
            into[path] = into.get(path, 0.0) + share
    out: dict[str, dict[str, float]] = {}
    for path in _covered_paths(record) | set(errors) | set(warnings):
        e, w = errors.get(path, 0), warnings.get(path, 0)
        out[path] = {
            "check_failed_error": round(e, 4),
            "check_failed_warning": round(w, 4),
            "check_passed": 1.0 if path in _covered_paths(record) and not e else 0.0,
        }
    return out


_TEXT_LEAVES = frozenset(
    {
        "title",
        "project_name",
        "competent_department",
        "implementing_unit",
        "goal_expected",
        "goal_actual",
        "level1",
        "level2",
        "name",
        "deviation_reason",
    }
)


def value_signals(path: str, value: object) -> dict[str, float]:
    """Parse cleanliness judged on the value itself: `text_shape` is 0 for a text field that
    holds only a number (a score slipped in from the next column) or the same text twice in a
    row (two cells joined), else 1."""
    from jixiao.extract.grounding import normalize, parse_number

    if not isinstance(value, str):
        return {}
    leaf = path.rsplit(".", 1)[-1]
    flat = normalize(value)
    if leaf in _TEXT_LEAVES and parse_number(value) is not None:
        return {"text_shape": 0.0}
    half = len(flat) // 2
    if flat and len(flat) % 2 == 0 and flat[:half] == flat[half:]:
        return {"text_shape": 0.0}
    return {"text_shape": 1.0}


def apply_confidence(
    record: FormRecord,
    fields: dict[str, FieldProvenance],
    flags: Sequence[Flag] | None = None,
) -> dict[str, FieldProvenance]:
    """Provenance with check signals merged in and `confidence` recomputed from the signals.

    `flags`: findings of `run_checks(record)` (computed here when None).
    """
    if flags is None:
        from jixiao.checks import run_checks

        flags = run_checks(record)
    by_path = check_signals(record, flags)
    covered = _covered_paths(record)
    out: dict[str, FieldProvenance] = {}
    for path, prov in fields.items():
        signals = dict(prov.signals)
        signals.update(
            by_path.get(
                path,
                {"check_failed_error": 0.0, "check_failed_warning": 0.0, "check_passed": 0.0},
            )
        )
        if path not in covered:
            signals["check_passed"] = 0.0
        signals.update(value_signals(path, leaf_value(record, path)))
        out[path] = prov.model_copy(
            update={"signals": signals, "confidence": score_signals(signals)}
        )
    return out


# -- the review threshold -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bin:
    """One row of a reliability table: fields whose confidence lies in [lo, hi)."""

    lo: float
    hi: float
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 1.0


def reliability_table(points: Iterable[tuple[float, bool]], bins: int = 10) -> list[Bin]:
    """(confidence, correct) pairs → equal-width bins over [0, 1] (the top bin includes 1.0)."""
    counts = [[0, 0] for _ in range(bins)]
    for conf, ok in points:
        b = min(int(conf * bins), bins - 1)
        counts[b][0] += 1
        counts[b][1] += int(ok)
    return [Bin(b / bins, (b + 1) / bins, n, c) for b, (n, c) in enumerate(counts)]


MIN_BAND = 5  # a band of fewer fields says too little to veto a threshold


def choose_threshold(
    points: Sequence[tuple[float, bool]],
    target: float = 0.995,
    min_support: int = 1,
    marginal_floor: float = 0.0,
    window: float = 0.1,
) -> float | None:
    """The lowest threshold t such that the fields with confidence ≥ t are ≥ `target` correct.

    Candidates are the observed confidences; the lowest qualifying one maximises coverage.
    `marginal_floor`: also require every band of fields above t (confidence in [t + k·window,
    t + (k+1)·window); above the first, bands of at least `MIN_BAND` fields) to be at least
    this correct, so that a small, mostly wrong group is not waved through on the strength of
    the many right ones above it — neither just above t nor higher up. None when no set of at
    least `min_support` fields qualifies.
    """
    ranked = sorted(points, key=lambda p: -p[0])
    ascending = [c for c, _ in reversed(ranked)]
    right_below = [0]  # right_below[j]: correct fields among the j lowest confidences
    for _, ok in reversed(ranked):
        right_below.append(right_below[-1] + int(ok))

    def bands_hold(t: float) -> bool:
        lo, least = t, 1  # the band just above t counts however small it is
        while lo <= 1.0:
            a = bisect.bisect_left(ascending, lo)
            b = bisect.bisect_left(ascending, lo + window)
            n_band = b - a
            if n_band >= least and right_below[b] - right_below[a] < marginal_floor * n_band:
                return False
            lo, least = lo + window, MIN_BAND
        return True

    best: float | None = None
    n = correct = 0
    i = 0
    while i < len(ranked):
        conf = ranked[i][0]
        # take every field with this same confidence together: a threshold cannot split them
        while i < len(ranked) and ranked[i][0] == conf:
            n += 1
            correct += int(ranked[i][1])
            i += 1
        if n < min_support or correct / n < target:
            continue
        if marginal_floor > 0.0 and not bands_hold(conf):
            continue
        best = conf
    return best


def review_threshold(path: Path | None = None) -> float:
    """The calibrated review threshold (fields below it go to a person), else the default."""
    source = path or THRESHOLDS_FILE
    try:
        data: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
        return float(data["review_threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_REVIEW_THRESHOLD


def review_check_config(path: Path | None = None) -> CheckConfig:
    """The checks' default settings with `suspect_confidence` at the calibrated threshold, so a
    flag's `origin` is `extraction` exactly when a value it involves would go to review."""
    from jixiao.checks.config import CheckConfig

    return CheckConfig(suspect_confidence=review_threshold(path))


def save_threshold(value: float, meta: dict[str, Any], path: Path | None = None) -> Path:
    """Write the review threshold with how it was chosen (what calibrate_confidence.py runs)."""
    target = path or THRESHOLDS_FILE
    payload = {"review_threshold": round(value, 4), **meta}
    target.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return target
