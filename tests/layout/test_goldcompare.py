"""The comparator behind the layout accuracy tests must itself be able to fail."""

from __future__ import annotations

import json
from pathlib import Path

from goldcompare import compare

from jixiao.contract import FormRecord

GOLD = Path(__file__).resolve().parents[2] / "evals" / "gold" / "sh-bdc-2023-01.json"


def test_gold_against_itself_is_perfect_and_each_kind_of_error_counts() -> None:
    gold = FormRecord.model_validate(json.loads(GOLD.read_text(encoding="utf-8")))
    assert compare(gold, gold).accuracy == 1.0
    bad = gold.model_copy(deep=True)
    bad.total_score = (gold.total_score or 0) + 0.01  # number off by more than 0.005
    bad.project_name = " " + (gold.project_name or "") + "\n"  # whitespace only: still right
    bad.indicators[1].target_text = "≥80(亿次)"  # short text differs
    del bad.indicators[3]  # a missed row: all 8 of its cells wrong
    s = compare(bad, gold)
    assert s.total == compare(gold, gold).total
    assert s.total - s.correct == 1 + 1 + 8
    assert (
        compare(None, gold).correct == sum(1 for v in gold.model_dump().values() if v is None) + 0
    )  # only gold nulls can be "right" when nothing was predicted
