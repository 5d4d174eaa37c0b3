"""How one predicted FormRecord is scored against gold: output-contract.md §3, leaf by leaf.

- Short text: equal after Unicode NFKC and removal of all whitespace.
- Numbers: equal within 0.005. `null` equals only `null`; a number never equals a string.
- Long text (goal_expected, goal_actual, deviation_reason): correct when the character-level
  similarity ratio after the same normalisation is ≥ 0.95; the ratio is kept for the mean.
- funding / indicators: predicted rows are aligned to gold rows *in order* by label / name
  similarity (an order-preserving alignment maximising summed similarity; pairs under 0.5 never
  align). Row precision = aligned / predicted rows, recall = aligned / gold rows. Cells are then
  compared over aligned rows; a missed gold row counts every one of its cells wrong. A row printed
  out of order cannot align in order: it counts as one missed and one extra row, because printed
  order is part of the contract.

Pure: no I/O. `form_type` is not scored (it is the same constant on every form).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from jixiao.contract import FormRecord, FundingRow, Indicator

NUMBER_TOLERANCE = 0.005
# Float noise: 1.005 - 1.0 is 0.00499999… or 0.0050000…01 depending on the values.
_FLOAT_SLACK = 1e-9
LONG_TEXT_THRESHOLD = 0.95
ROW_MATCH_MIN = 0.5
LONG_TEXT_FIELDS = frozenset({"goal_expected", "goal_actual", "deviation_reason"})

# Scalar leaves of a FormRecord, by field group. funding_unit belongs with the money columns;
# the printed totals (总分, 等级) get their own group so that a misread total is not hidden
# among a form's ~15 indicator rows.
SCALAR_GROUPS: dict[str, tuple[str, ...]] = {
    "header": ("title", "year", "project_name", "competent_department", "implementing_unit"),
    "funding": ("funding_unit",),
    "goals": ("goal_expected", "goal_actual"),
    "totals": ("total_weight", "total_score", "grade"),
}
GROUPS = ("header", "funding", "goals", "indicators", "totals")
ROW_LISTS: dict[str, tuple[type[FundingRow] | type[Indicator], str]] = {
    "funding": (FundingRow, "label"),
    "indicators": (Indicator, "name"),
}


def normalize_text(text: str) -> str:
    """NFKC, then every whitespace character removed (line breaks, full-width spaces, …)."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def text_ratio(pred: str, gold: str) -> float:
    """Character-level similarity of two texts after normalisation, 0..1 (1 when both empty)."""
    a, b = normalize_text(pred), normalize_text(gold)
    if not a and not b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def leaf_equal(name: str, pred: Any, gold: Any) -> bool:
    """One leaf value by the §3 rules; `name` is the leaf's own name ("score", "goal_actual")."""
    if gold is None or pred is None:
        return gold is None and pred is None
    if _is_number(gold) or _is_number(pred):
        return (
            _is_number(gold)
            and _is_number(pred)
            and abs(float(pred) - float(gold)) <= NUMBER_TOLERANCE + _FLOAT_SLACK
        )
    if not isinstance(gold, str) or not isinstance(pred, str):
        return bool(pred == gold)
    if name in LONG_TEXT_FIELDS:
        return text_ratio(pred, gold) >= LONG_TEXT_THRESHOLD
    return normalize_text(pred) == normalize_text(gold)


@dataclass(frozen=True, slots=True)
class LeafResult:
    """One gold leaf and what was predicted for it."""

    path: str
    """JSON path into the gold record: "indicators[3].score"."""
    field: str
    """The path with row indices dropped: "indicators[].score" (what per-field numbers key on)."""
    group: str
    ok: bool
    gold: Any
    pred: Any
    pred_path: str | None
    """JSON path into the predicted record (rows may be numbered differently), or None when the
    gold row was missed; this is where the prediction's provenance (`fields`) is keyed."""
    ratio: float | None = None
    """Similarity ratio of a long-text leaf when either side has text."""


@dataclass(frozen=True, slots=True)
class RowCounts:
    """Rows of one list (funding or indicators) in one form."""

    gold: int
    pred: int
    aligned: int

    def __add__(self, other: RowCounts) -> RowCounts:
        return RowCounts(
            self.gold + other.gold, self.pred + other.pred, self.aligned + other.aligned
        )


@dataclass(slots=True)
class FormComparison:
    leaves: list[LeafResult] = field(default_factory=list)
    rows: dict[str, RowCounts] = field(default_factory=dict)

    @property
    def correct(self) -> int:
        return sum(leaf.ok for leaf in self.leaves)

    @property
    def total(self) -> int:
        return len(self.leaves)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 1.0


def align_rows(pred_keys: list[str], gold_keys: list[str]) -> list[int | None]:
    """For each gold row, the index of the predicted row aligned to it in order, or None.

    Order-preserving (like a diff): maximises the summed similarity of aligned keys; pairs whose
    similarity is under ROW_MATCH_MIN never align.
    """
    n, m = len(gold_keys), len(pred_keys)
    gold_n = [normalize_text(k) for k in gold_keys]
    pred_n = [normalize_text(k) for k in pred_keys]
    sim = [
        [SequenceMatcher(None, g, p, autojunk=False).ratio() if g or p else 1.0 for p in pred_n]
        for g in gold_n
    ]
    # best[i][j]: best summed similarity aligning gold[i:] with pred[j:]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            take = best[i + 1][j + 1] + sim[i][j] if sim[i][j] >= ROW_MATCH_MIN else -1.0
            best[i][j] = max(take, best[i + 1][j], best[i][j + 1])
    out: list[int | None] = [None] * n
    i = j = 0
    while i < n and j < m:
        if sim[i][j] >= ROW_MATCH_MIN and best[i][j] == best[i + 1][j + 1] + sim[i][j]:
            out[i] = j
            i += 1
            j += 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return out


def _leaf(
    group: str, path: str, field_key: str, name: str, pred: Any, gold: Any, pred_path: str | None
) -> LeafResult:
    ratio = None
    if name in LONG_TEXT_FIELDS and (gold is not None or pred is not None):
        ratio = text_ratio(str(pred), str(gold)) if gold is not None and pred is not None else 0.0
    return LeafResult(
        path=path,
        field=field_key,
        group=group,
        ok=leaf_equal(name, pred, gold),
        gold=gold,
        pred=pred,
        pred_path=pred_path,
        ratio=ratio,
    )


def compare_forms(pred: FormRecord | None, gold: FormRecord) -> FormComparison:
    """Every gold leaf of `gold` scored against `pred` (None: the form was not found at all)."""
    out = FormComparison()
    for group, names in SCALAR_GROUPS.items():
        for name in names:
            p = getattr(pred, name) if pred is not None else None
            out.leaves.append(
                _leaf(
                    group,
                    name,
                    name,
                    name,
                    p,
                    getattr(gold, name),
                    name if pred is not None else None,
                )
            )
    for list_name, (model, key) in ROW_LISTS.items():
        gold_rows = getattr(gold, list_name)
        pred_rows = getattr(pred, list_name) if pred is not None else []
        match = align_rows(
            [getattr(r, key) or "" for r in pred_rows], [getattr(r, key) or "" for r in gold_rows]
        )
        for gi, (grow, pj) in enumerate(zip(gold_rows, match, strict=True)):
            prow = pred_rows[pj] if pj is not None else None
            for leaf in model.model_fields:
                gval = getattr(grow, leaf)
                path, field_key = f"{list_name}[{gi}].{leaf}", f"{list_name}[].{leaf}"
                if prow is None:
                    # a missed row: every one of its cells is wrong, gold nulls included
                    ratio = 0.0 if leaf in LONG_TEXT_FIELDS and gval is not None else None
                    out.leaves.append(
                        LeafResult(path, field_key, list_name, False, gval, None, None, ratio)
                    )
                    continue
                pval = getattr(prow, leaf)
                pred_path = f"{list_name}[{pj}].{leaf}"
                out.leaves.append(_leaf(list_name, path, field_key, leaf, pval, gval, pred_path))
        aligned = sum(1 for pj in match if pj is not None)
        out.rows[list_name] = RowCounts(len(gold_rows), len(pred_rows), aligned)
    return out


def prf(counts: RowCounts) -> dict[str, float]:
    """Row precision, recall and F1 (1.0 where there was nothing to find or predict)."""
    precision = counts.aligned / counts.pred if counts.pred else 1.0
    recall = counts.aligned / counts.gold if counts.gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


@dataclass(frozen=True, slots=True)
class FlagCounts:
    """Check findings of one code: found and expected (tp), found only (fp), expected only (fn)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: FlagCounts) -> FlagCounts:
        return FlagCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def compare_flag_codes(found: list[str], expected: list[str]) -> dict[str, FlagCounts]:
    """Per code, as multisets: two expected findings of one code need two found to both count."""
    codes = sorted(set(found) | set(expected))
    out: dict[str, FlagCounts] = {}
    for code in codes:
        f, e = found.count(code), expected.count(code)
        tp = min(f, e)
        out[code] = FlagCounts(tp=tp, fp=f - tp, fn=e - tp)
    return out
