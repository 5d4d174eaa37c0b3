"""The §3 comparison rules, each on tiny hand-made FormRecords."""

from __future__ import annotations

from jixiao.contract import FormRecord, FundingRow, Indicator
from jixiao.evals.compare import (
    align_rows,
    compare_flag_codes,
    compare_forms,
    leaf_equal,
    normalize_text,
    prf,
    text_ratio,
)


def _ind(name: str, score: float | None = 5.0, reason: str | None = None) -> Indicator:
    return Indicator(
        level1="产出指标",
        level2="数量指标",
        name=name,
        target_text="≥95%",
        actual_text="100%",
        weight=5.0,
        score=score,
        deviation_reason=reason,
    )


def _form(**kw: object) -> FormRecord:
    base: dict[str, object] = {
        "title": "项目支出绩效自评表",
        "year": 2023,
        "project_name": "“一网通办”运营服务",
        "competent_department": "上海市大数据中心",
        "implementing_unit": "上海市大数据中心",
        "funding_unit": "万元",
        "goal_expected": "打造智慧好办2.0版，推动高效办成一件事。",
        "goal_actual": "持续拓展一网通办总门户，完成年度目标。",
        "total_weight": 100.0,
        "total_score": 94.46,
        "grade": "优",
    }
    base.update(kw)
    return FormRecord.model_validate(base)


def _leaf(cmp_pred: FormRecord | None, gold: FormRecord, path: str) -> bool:
    return next(x.ok for x in compare_forms(cmp_pred, gold).leaves if x.path == path)


def test_text_is_equal_after_nfkc_and_whitespace_removal() -> None:
    assert normalize_text(" 上海市\u3000大数据\n中心 ") == "上海市大数据中心"
    assert normalize_text("（２０２３）") == "(2023)"  # full-width folds to ASCII under NFKC
    gold = _form()
    pred = _form(competent_department="上海市 大数据\n中心", implementing_unit="上海市大数据中")
    assert _leaf(pred, gold, "competent_department")
    assert not _leaf(pred, gold, "implementing_unit")  # one character missing is wrong


def test_numbers_within_half_a_cent_and_never_as_strings() -> None:
    assert leaf_equal("score", 94.465, 94.46)
    assert leaf_equal("score", 1.005, 1.0)  # the boundary itself is inside, float noise aside
    assert not leaf_equal("score", 94.47, 94.46)
    assert not leaf_equal("score", "94.46", 94.46)
    assert leaf_equal("year", 2023, 2023)
    assert not leaf_equal("year", 2022, 2023)
    gold = _form()
    assert not _leaf(_form(total_score=94.5), gold, "total_score")
    assert _leaf(_form(total_score=94.4649), gold, "total_score")


def test_null_equals_only_null() -> None:
    assert leaf_equal("grade", None, None)
    assert not leaf_equal("grade", None, "优")
    assert not leaf_equal("grade", "优", None)
    assert not leaf_equal("weight", 0.0, None)  # 0 is a value, "-" is null
    gold = _form(grade=None)
    assert _leaf(_form(grade=None), gold, "grade")
    assert not _leaf(_form(grade="优"), gold, "grade")


def test_long_text_correct_from_a_095_similarity_and_ratio_kept() -> None:
    gold_text = "持续拓展一网通办总门户服务能力，全年新增接入事项三百项，完成年度目标任务。" * 2
    close = gold_text[:-2]  # a couple of characters short of 76: ratio ≈ 0.99
    far = gold_text[: len(gold_text) // 2]  # half missing: ratio ≈ 0.67
    assert text_ratio(close, gold_text) >= 0.95 > text_ratio(far, gold_text)
    gold = _form(goal_actual=gold_text)
    result = {x.path: x for x in compare_forms(_form(goal_actual=close), gold).leaves}
    assert result["goal_actual"].ok and result["goal_actual"].ratio is not None
    assert result["goal_actual"].ratio > 0.95
    result = {x.path: x for x in compare_forms(_form(goal_actual=far), gold).leaves}
    assert not result["goal_actual"].ok
    # short text gets no such slack: one character off is wrong
    assert not leaf_equal("project_name", gold_text[:-1], gold_text)
    # a missing long text scores ratio 0
    result = {x.path: x for x in compare_forms(_form(goal_actual=None), gold).leaves}
    assert result["goal_actual"].ratio == 0.0 and not result["goal_actual"].ok


def test_rows_align_in_order_with_a_missing_row() -> None:
    names = ["完成运营服务事项数量", "平台可用率", "群众满意度", "办件及时率"]
    gold = _form(indicators=[_ind(n) for n in names])
    pred = _form(indicators=[_ind(n) for n in names if n != "平台可用率"])
    cmp = compare_forms(pred, gold)
    assert cmp.rows["indicators"].aligned == 3
    assert prf(cmp.rows["indicators"]) == {"precision": 1.0, "recall": 0.75, "f1": 3 / 3.5}
    missed = [x for x in cmp.leaves if x.path.startswith("indicators[1].")]
    assert len(missed) == 8 and not any(x.ok for x in missed)  # gold null reason counts wrong too
    later = [x for x in cmp.leaves if x.path.startswith("indicators[2].")]
    assert all(x.ok for x in later) and later[0].pred_path == "indicators[1].level1"


def test_rows_align_in_order_with_an_extra_row() -> None:
    names = ["完成运营服务事项数量", "群众满意度"]
    gold = _form(indicators=[_ind(n) for n in names])
    pred = _form(indicators=[_ind(names[0]), _ind("合计"), _ind(names[1])])
    cmp = compare_forms(pred, gold)
    assert cmp.rows["indicators"].aligned == 2 and cmp.rows["indicators"].pred == 3
    assert prf(cmp.rows["indicators"])["precision"] == 2 / 3
    assert all(x.ok for x in cmp.leaves if x.group == "indicators")  # the extra row costs no cell


def test_reordered_rows_cost_the_row_out_of_order() -> None:
    labels = ["年度资金总额", "其中：当年财政拨款", "上年结转资金", "其他资金"]
    kinds = ["total", "fiscal", "carryover", "other"]
    gold_rows = [
        FundingRow(label=lb, kind=k, executed=1.0) for lb, k in zip(labels, kinds, strict=True)
    ]  # type: ignore[arg-type]
    gold = _form(funding=gold_rows)
    swapped = [gold_rows[0], gold_rows[2], gold_rows[1], gold_rows[3]]
    cmp = compare_forms(_form(funding=swapped), gold)
    counts = cmp.rows["funding"]
    assert (counts.gold, counts.pred, counts.aligned) == (4, 4, 3)
    wrong_rows = {x.path.split(".")[0] for x in cmp.leaves if x.group == "funding" and not x.ok}
    assert len(wrong_rows) == 1  # exactly one of the two swapped rows is lost
    assert align_rows(["乙", "甲"], ["甲", "乙"]).count(None) == 1


def test_alignment_pairs_a_misread_name_but_not_an_unrelated_one() -> None:
    gold = ["完成运营服务事项数量", "平台可用率"]
    assert align_rows(["完成运营服务事项数", "平台可用率"], gold) == [0, 1]
    assert align_rows(["社会公众满意度", "平台可用率"], gold) == [None, 1]


def test_nothing_predicted_leaves_every_leaf_wrong_but_gold_nulls() -> None:
    gold = _form(grade=None, indicators=[_ind("平台可用率")])
    cmp = compare_forms(None, gold)
    scalars = [x for x in cmp.leaves if "[" not in x.path]
    assert [x.path for x in scalars if x.ok] == ["grade"]
    assert not any(x.ok for x in cmp.leaves if "[" in x.path)
    assert cmp.total == 11 + 8 and cmp.correct == 1


def test_per_field_keys_and_groups() -> None:
    gold = _form(indicators=[_ind("甲"), _ind("乙")])
    pred = _form(indicators=[_ind("甲", score=4.0), _ind("乙")])
    cmp = compare_forms(pred, gold)
    wrong = [(x.path, x.field, x.group, x.gold, x.pred) for x in cmp.leaves if not x.ok]
    assert wrong == [("indicators[0].score", "indicators[].score", "indicators", 5.0, 4.0)]
    assert {x.group for x in cmp.leaves} == {"header", "funding", "goals", "indicators", "totals"}


def test_flag_codes_compare_as_multisets() -> None:
    got = compare_flag_codes(["A", "A", "B"], ["A", "C"])
    assert (got["A"].tp, got["A"].fp, got["A"].fn) == (1, 1, 0)
    assert (got["B"].tp, got["B"].fp, got["B"].fn) == (0, 1, 0)
    assert (got["C"].tp, got["C"].fp, got["C"].fn) == (0, 0, 1)
