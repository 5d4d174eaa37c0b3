"""Leaf-by-leaf comparison of a predicted FormRecord with gold, per output-contract.md §3.

Short text: equal after NFKC + whitespace removal. Numbers: within 0.005; null equals only null.
Long text (goals, deviation reasons): similarity ratio ≥ 0.95 after the same normalisation.
Funding and indicator rows are aligned in order by label/name similarity; a missed gold row
counts every one of its cells as wrong. Used by the layout tests and
benchmarks/layout_accuracy.py.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from jixiao.contract import FormRecord

LONG_TEXT = {"goal_expected", "goal_actual", "deviation_reason"}
SCALARS = (
    "title",
    "year",
    "project_name",
    "competent_department",
    "implementing_unit",
    "funding_unit",
    "goal_expected",
    "goal_actual",
    "total_weight",
    "total_score",
    "grade",
)
GROUPS = {
    "header": ("title", "year", "project_name", "competent_department", "implementing_unit"),
    "goals": ("goal_expected", "goal_actual"),
    "totals": ("total_weight", "total_score", "grade"),
}


def _norm(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def leaf_equal(name: str, pred: Any, gold: Any) -> bool:
    if gold is None or pred is None:
        return gold is None and pred is None
    if isinstance(gold, bool) or isinstance(pred, bool):
        return bool(pred == gold)
    if isinstance(gold, int | float) and not isinstance(gold, str):
        return isinstance(pred, int | float) and abs(float(pred) - float(gold)) <= 0.005
    a, b = _norm(str(pred)), _norm(str(gold))
    if name in LONG_TEXT:
        return SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.95
    return a == b


@dataclass
class Score:
    correct: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)
    groups: dict[str, list[int]] = field(default_factory=dict)

    def add(self, group: str, path: str, ok: bool, pred: Any = None, gold: Any = None) -> None:
        self.total += 1
        self.correct += ok
        g = self.groups.setdefault(group, [0, 0])
        g[0] += ok
        g[1] += 1
        if not ok:
            self.misses.append(f"{path}: got {pred!r}, gold {gold!r}")

    def merge(self, other: Score) -> None:
        self.correct += other.correct
        self.total += other.total
        self.misses.extend(other.misses)
        for k, (c, t) in other.groups.items():
            g = self.groups.setdefault(k, [0, 0])
            g[0] += c
            g[1] += t

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 1.0


def _align(pred_keys: list[str], gold_keys: list[str]) -> list[int | None]:
    """For each gold row, the index of its predicted row (in order), or None when missed."""
    n, m = len(gold_keys), len(pred_keys)

    def sim(i: int, j: int) -> float:
        return SequenceMatcher(None, _norm(gold_keys[i]), _norm(pred_keys[j])).ratio()

    # Order-preserving alignment maximising summed similarity (rows under 0.5 do not pair).
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            s = sim(i, j)
            pair = best[i + 1][j + 1] + s if s >= 0.5 else -1.0
            best[i][j] = max(pair, best[i + 1][j], best[i][j + 1])
    out: list[int | None] = [None] * n
    i = j = 0
    while i < n and j < m:
        s = sim(i, j)
        if s >= 0.5 and best[i][j] == best[i + 1][j + 1] + s:
            out[i] = j
            i += 1
            j += 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return out


def compare(pred: FormRecord | None, gold: FormRecord) -> Score:
    score = Score()
    for name in SCALARS:
        group = next((g for g, names in GROUPS.items() if name in names), "header")
        if name == "funding_unit":
            group = "funding"
        p = getattr(pred, name) if pred else None
        score.add(group, name, leaf_equal(name, p, getattr(gold, name)), p, getattr(gold, name))
    for list_name, key in (("funding", "label"), ("indicators", "name")):
        gold_rows = getattr(gold, list_name)
        pred_rows = getattr(pred, list_name) if pred else []
        match = _align([getattr(r, key) for r in pred_rows], [getattr(r, key) for r in gold_rows])
        for gi, (grow, pj) in enumerate(zip(gold_rows, match, strict=True)):
            prow = pred_rows[pj] if pj is not None else None
            for leaf, gval in grow.model_dump().items():
                pval = getattr(prow, leaf) if prow is not None else None
                ok = prow is not None and leaf_equal(leaf, pval, gval)
                score.add(list_name, f"{list_name}[{gi}].{leaf}", ok, pval, gval)
    return score
