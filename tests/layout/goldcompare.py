"""Leaf-by-leaf comparison of a predicted FormRecord with gold, per output-contract.md §3.

A thin tally over `jixiao.evals.compare.compare_forms` (the one implementation of the §3 rules,
shared with `jixiao eval`), in the shape the layout tests and benchmarks/layout_accuracy.py use:
counts per field group and a readable list of misses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jixiao.contract import FormRecord
from jixiao.evals.compare import compare_forms


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


def compare(pred: FormRecord | None, gold: FormRecord) -> Score:
    score = Score()
    for leaf in compare_forms(pred, gold).leaves:
        score.add(leaf.group, leaf.path, leaf.ok, leaf.pred, leaf.gold)
    return score
