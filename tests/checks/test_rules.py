"""Each rule on the consistent form (no finding) and on the form broken in one place."""

from __future__ import annotations

from typing import Any

import pytest

from jixiao.checks import CheckConfig, profile_config, run_checks
from jixiao.contract import FieldProvenance, Flag, FormRecord


def check(data: dict[str, Any], **kwargs: Any) -> list[Flag]:
    return run_checks(FormRecord.model_validate(data), **kwargs)


def codes(flags: list[Flag]) -> list[str]:
    return [f.code for f in flags]


def only(flags: list[Flag], code: str) -> Flag:
    found = [f for f in flags if f.code == code]
    assert len(found) == 1, f"expected one {code}, got {codes(flags)}"
    return found[0]


def test_consistent_form_has_no_findings(form_data: dict[str, Any]) -> None:
    assert check(form_data) == []


# R1 -------------------------------------------------------------------------------------------


def test_r1_wrong_rate_is_an_error(form_data: dict[str, Any]) -> None:
    form_data["funding"][1]["execution_rate"] = 59.0
    flag = only(check(form_data), "EXEC_RATE_MISMATCH")
    assert flag.severity == "error" and flag.rule == "R1"
    assert flag.fields[0] == "funding[1].execution_rate"
    assert flag.expected == 95.0 and flag.found == 59.0
    assert "95.00" in flag.message and "59.00" in flag.message


@pytest.mark.parametrize("printed", [81.15, 81.16])
def test_r1_accepts_truncation_and_rounding(form_data: dict[str, Any], printed: float) -> None:
    # 9708.37 / 11962.44 = 81.1568…%: the seed prints 81.15 (truncated); 81.16 is rounded.
    total = form_data["funding"][0]
    total.update(annual_budget=11962.44, executed=9708.37, execution_rate=printed, score=8.11)
    form_data["funding"][1].update(annual_budget=11962.44, executed=9708.37, execution_rate=printed)
    form_data["funding"][0]["initial_budget"] = form_data["funding"][1]["initial_budget"] = 1.0
    form_data["total_score"] = 93.0 - 9.5 + 8.11
    assert "EXEC_RATE_MISMATCH" not in codes(check(form_data))


def test_r1_truncation_can_be_refused(form_data: dict[str, Any]) -> None:
    form_data["funding"][1].update(annual_budget=3000.0, executed=2000.0, execution_rate=66.66)
    assert "EXEC_RATE_MISMATCH" not in codes(check(form_data))
    strict = CheckConfig(accept_truncation=False)
    assert "EXEC_RATE_MISMATCH" in codes(check(form_data, config=strict))


def test_r1_zero_budget_is_not_applicable(form_data: dict[str, Any]) -> None:
    form_data["funding"][2].update(annual_budget=0.0, executed=0.0, execution_rate=100.0)
    assert "EXEC_RATE_MISMATCH" not in codes(check(form_data))


# R2 -------------------------------------------------------------------------------------------


def test_r2_wrong_budget_score(form_data: dict[str, Any]) -> None:
    form_data["funding"][0]["score"] = 8.5
    form_data["total_score"] = 92.0
    flag = only(check(form_data), "BUDGET_SCORE_MISMATCH")
    assert flag.severity == "error" and flag.expected == 9.5 and flag.found == 8.5
    assert flag.fields[0] == "funding[0].score"


def test_r2_truncated_budget_score_is_accepted(form_data: dict[str, Any]) -> None:
    # The seed: 9708.37 / 11962.44 × 10 = 8.1157 printed 8.11.
    for row in form_data["funding"][:2]:
        row.update(initial_budget=11962.44, annual_budget=11962.44, executed=9708.37)
        row["execution_rate"] = 81.15
    form_data["funding"][0]["score"] = 8.11
    form_data["total_score"] = round(93.0 - 9.5 + 8.11, 2)
    assert [c for c in codes(check(form_data)) if c.startswith(("BUDGET", "TOTAL"))] == []


def test_r2_overspent_is_a_warning_and_the_score_is_capped(form_data: dict[str, Any]) -> None:
    for row in form_data["funding"][:2]:
        row.update(executed=120.0, execution_rate=120.0)
    form_data["funding"][0]["score"] = 10.0
    form_data["total_score"] = 93.5
    flags = check(form_data)
    assert only(flags, "BUDGET_OVERSPENT").severity == "warning"
    assert "BUDGET_SCORE_MISMATCH" not in codes(flags)


def test_r2_uncapped_score_is_reported_once_as_r7(form_data: dict[str, Any]) -> None:
    for row in form_data["funding"][:2]:
        row.update(executed=120.0, execution_rate=120.0)
    form_data["funding"][0]["score"] = 12.0
    form_data["total_score"] = 95.5
    flags = check(form_data)
    assert only(flags, "SCORE_ABOVE_WEIGHT").fields[0] == "funding[0].score"
    assert "BUDGET_SCORE_MISMATCH" not in codes(flags)


# R3 -------------------------------------------------------------------------------------------


def test_r3_subrows_not_adding_up(form_data: dict[str, Any]) -> None:
    form_data["funding"][2].update(annual_budget=7.0, executed=0.0, execution_rate=0.0)
    flag = only(check(form_data), "FUNDING_SUBROWS_SUM")
    assert flag.severity == "warning" and flag.fields[0] == "funding[0].annual_budget"
    assert flag.expected == 100.0 and flag.found == 107.0


def test_r3_rounding_of_the_parts_is_tolerated(form_data: dict[str, Any]) -> None:
    form_data["funding"][1]["initial_budget"] = 66.67
    form_data["funding"][2]["initial_budget"] = 33.34  # 100.01: each part rounded
    assert "FUNDING_SUBROWS_SUM" not in codes(check(form_data))


# R4 / R5 ----------------------------------------------------------------------------------------


def test_r4_missed_target_must_score_proportionally(form_data: dict[str, Any]) -> None:
    form_data["indicators"][2]["score"] = 10.0  # 15 × 90/100 = 13.5
    form_data["total_score"] = 89.5
    form_data["grade"] = "良"
    flag = only(check(form_data), "SCORE_NOT_PROPORTIONAL")
    assert flag.rule == "R4" and flag.expected == 13.5 and flag.found == 10.0
    assert flag.fields[0] == "indicators[2].score"


def test_r4_full_marks_on_a_missed_target(form_data: dict[str, Any]) -> None:
    form_data["indicators"][2]["score"] = 15.0
    form_data["total_score"] = 94.5
    assert "SCORE_NOT_PROPORTIONAL" in codes(check(form_data))


def test_r4_rounded_or_truncated_proportional_score_is_accepted(form_data: dict[str, Any]) -> None:
    ind = form_data["indicators"][2]
    ind.update(target_text="≥95.00(%)", actual_text="93.00(%)", weight=15.0, score=14.68)
    form_data["total_score"] = round(93.0 - 13.5 + 14.68, 2)  # 15 × 93/95 = 14.684
    assert check(form_data) == []


def test_r5_lower_is_better(form_data: dict[str, Any]) -> None:
    ind = form_data["indicators"][1]
    ind.update(actual_text="6.00(%)", score=12.0, deviation_reason="超标")  # 15×(1−1/5) = 12
    form_data["total_score"] = 90.0
    assert check(form_data) == []
    ind["score"] = 14.0
    form_data["total_score"] = 92.0
    flag = only(check(form_data), "SCORE_NOT_PROPORTIONAL")
    assert flag.rule == "R5" and flag.expected == 12.0


def test_equal_zero_target_is_lower_is_better(form_data: dict[str, Any]) -> None:
    ind = form_data["indicators"][1]
    ind.update(name="安全事故数", target_text="=0(起)", actual_text="1.00(起)", score=10.0)
    ind["deviation_reason"] = "发生一起"
    form_data["total_score"] = 88.0
    form_data["grade"] = "良"
    assert "SCORE_DEDUCTED_TARGET_MET" not in codes(check(form_data))
    ind["actual_text"] = "0(起)"
    assert only(check(form_data), "SCORE_DEDUCTED_TARGET_MET").expected == 15.0


def test_units_in_another_scale_are_converted(form_data: dict[str, Any]) -> None:
    ind = form_data["indicators"][0]
    ind.update(
        target_text="≥1.50(亿条)",
        actual_text="12000.00(万条)",
        score=16.0,
        deviation_reason="数据源减少",
    )  # 1.2 亿 of 1.5: 20 × 0.8 = 16
    form_data["total_score"] = 89.0
    form_data["grade"] = "良"
    assert check(form_data) == []


def test_incompatible_units_are_reported_not_compared(form_data: dict[str, Any]) -> None:
    ind = form_data["indicators"][0]
    ind.update(actual_text="3.00(个)", score=20.0)
    flags = check(form_data)
    assert only(flags, "UNIT_MISMATCH").severity == "info"
    assert "SCORE_NOT_PROPORTIONAL" not in codes(flags)


def test_nonsensical_target_unit_is_info(form_data: dict[str, Any]) -> None:
    ind = form_data["indicators"][0]
    ind.update(name="服务人次数增长率", target_text="≥10.00(亿次)", actual_text="12.00(亿次)")
    flag = only(check(form_data), "UNIT_IMPLAUSIBLE")
    assert flag.severity == "info" and flag.found == "亿次"


# R6 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "score", "ok"),
    [
        ("达成指标", 16.0, True),
        ("达成指标", 15.9, False),
        ("部分达成指标并具有一定效果", 12.0, True),
        ("部分达成指标并具有一定效果", 16.0, False),  # [0.6w, 0.8w): 0.8w is out
        ("未达成", 11.9, True),
        ("未达成", 12.0, False),
    ],
)
def test_r6_qualitative_bands(
    form_data: dict[str, Any], actual: str, score: float, ok: bool
) -> None:
    form_data["indicators"][3].update(actual_text=actual, score=score)
    form_data["total_score"] = round(93.0 - 18.0 + score, 2)
    form_data["grade"] = "优" if form_data["total_score"] >= 90 else "良"
    flags = check(form_data)
    assert ("QUALITATIVE_SCORE_BAND" not in codes(flags)) is ok
    if not ok:
        assert only(flags, "QUALITATIVE_SCORE_BAND").fields[0] == "indicators[3].score"


def test_r6_inclusive_edge_is_configurable(form_data: dict[str, Any]) -> None:
    form_data["indicators"][4]["score"] = 8.0
    form_data["total_score"] = 94.0
    assert "QUALITATIVE_SCORE_BAND" in codes(check(form_data))
    lenient = CheckConfig(partial_upper_inclusive=True)
    assert check(form_data, config=lenient) == []


# R7 -------------------------------------------------------------------------------------------


def test_r7_score_above_weight_precedes_other_score_rules(form_data: dict[str, Any]) -> None:
    form_data["indicators"][3]["score"] = 25.0
    form_data["total_score"] = 100.0
    flags = check(form_data)
    assert only(flags, "SCORE_ABOVE_WEIGHT").severity == "error"
    assert "QUALITATIVE_SCORE_BAND" not in codes(flags)


def test_r7_negative_score(form_data: dict[str, Any]) -> None:
    form_data["indicators"][4]["score"] = -1.0
    form_data["total_score"] = 85.0
    form_data["grade"] = "良"
    flag = only(check(form_data), "SCORE_NEGATIVE")
    assert flag.fields[0] == "indicators[4].score" and flag.found == -1.0


# R8 -------------------------------------------------------------------------------------------


def test_r8_weights_must_add_up(form_data: dict[str, Any]) -> None:
    form_data["indicators"][5]["weight"] = 12.0
    flags = check(form_data)
    flag = only(flags, "WEIGHTS_SUM")
    assert flag.severity == "error" and flag.expected == 100.0 and flag.found == 102.0


def test_r8_unscored_budget_block_adds_no_weight(form_data: dict[str, Any]) -> None:
    form_data["funding"][0].update(weight=None, score=None)
    form_data["indicators"][5].update(weight=20.0, score=20.0)  # budget judged as an indicator
    form_data["total_score"] = 93.5
    assert [f.code for f in check(form_data) if f.severity != "info"] == []
    form_data["indicators"][5].update(weight=10.0, score=10.0)
    assert only(check(form_data), "WEIGHTS_SUM").found == 90.0


def test_r8_level1_weights_only_when_given(form_data: dict[str, Any]) -> None:
    assert check(form_data, level1_weights={"产出指标(50分)": 50.0, "效益指标": 30.0}) == []
    flags = check(form_data, level1_weights={"产出指标": 55.0})
    flag = only(flags, "LEVEL1_WEIGHTS_SUM")
    assert flag.expected == 55.0 and flag.found == 50.0
    assert flag.fields == ["indicators[0].weight", "indicators[1].weight", "indicators[2].weight"]
    # Sichuan prints the budget block as 预算执行情况(10分): it has no indicator rows.
    assert check(form_data, level1_weights={"预算执行情况(10分)": 10.0}) == []
    budget = only(check(form_data, level1_weights={"预算执行情况": 15.0}), "LEVEL1_WEIGHTS_SUM")
    assert budget.fields == ["funding[0].weight"]


# R9 / R10 -------------------------------------------------------------------------------------


def test_r9_total_mismatch(form_data: dict[str, Any]) -> None:
    form_data["total_score"] = 93.5
    flag = only(check(form_data), "TOTAL_SCORE_MISMATCH")
    assert flag.expected == 93.0 and flag.found == 93.5 and flag.fields[0] == "total_score"


def test_r9_tolerance_widens_only_with_rounded_inputs(form_data: dict[str, Any]) -> None:
    form_data["total_score"] = 93.05
    assert "TOTAL_SCORE_MISMATCH" in codes(check(form_data))  # exact inputs: ±0.01
    for row in form_data["funding"][:2]:
        row.update(executed=95.55, execution_rate=95.55)
    form_data["funding"][0]["score"] = 9.55  # exact 9.555: a rounded input
    form_data["total_score"] = 93.1
    assert "TOTAL_SCORE_MISMATCH" not in codes(check(form_data))


@pytest.mark.parametrize(
    ("total", "grade"), [(90.0, "优"), (89.99, "良"), (60.0, "中"), (59.9, "差")]
)
def test_r10_grade_bands(form_data: dict[str, Any], total: float, grade: str) -> None:
    form_data["total_score"] = total
    form_data["grade"] = grade
    flags = [f for f in check(form_data) if f.code == "GRADE_MISMATCH"]
    assert flags == []
    form_data["grade"] = "优" if grade != "优" else "良"
    assert only(check(form_data), "GRADE_MISMATCH").expected == grade


def test_r10_legacy_profile_and_grade_synonyms(form_data: dict[str, Any]) -> None:
    form_data["indicators"][0]["score"] = 12.0  # total 85.0
    form_data["indicators"][0]["target_text"] = "达成"
    form_data["indicators"][0]["actual_text"] = "部分达成"
    form_data["indicators"][0]["deviation_reason"] = "x"
    form_data["total_score"] = 85.0
    form_data["grade"] = "良好"
    assert check(form_data) == []
    legacy = profile_config("legacy-80-70-60")
    assert only(check(form_data, config=legacy), "GRADE_MISMATCH").expected == "优"


# R11–R16 --------------------------------------------------------------------------------------


def test_r11_deduction_without_reason(form_data: dict[str, Any]) -> None:
    form_data["indicators"][2]["deviation_reason"] = None
    flag = only(check(form_data), "MISSING_DEVIATION_REASON")
    assert flag.severity == "warning" and flag.fields[0] == "indicators[2].deviation_reason"


def test_r12_overachievement_is_info(form_data: dict[str, Any]) -> None:
    form_data["indicators"][0]["actual_text"] = "13.00(项)"  # 1.3 × 10
    flag = only(check(form_data), "OVERACHIEVED_NO_REASON")
    assert flag.severity == "info" and flag.fields[0] == "indicators[0].deviation_reason"
    form_data["indicators"][0]["deviation_reason"] = "需求增加"
    assert check(form_data) == []


def test_r13_deducted_although_met_is_not_also_not_proportional(form_data: dict[str, Any]) -> None:
    form_data["indicators"][5]["score"] = 9.0
    form_data["indicators"][5]["deviation_reason"] = "仍需提升"
    form_data["total_score"] = 92.0
    flags = check(form_data)
    flag = only(flags, "SCORE_DEDUCTED_TARGET_MET")
    assert flag.fields[0] == "indicators[5].score" and flag.expected == 10.0
    assert codes(flags) == ["SCORE_DEDUCTED_TARGET_MET"]


def test_r13_equal_target_exceeded_counts_as_met(form_data: dict[str, Any]) -> None:
    ind = form_data["indicators"][0]
    ind.update(
        target_text="=124.00(个)", actual_text="138.00(个)", score=18.0, deviation_reason="追加"
    )
    form_data["total_score"] = 91.0
    assert codes(check(form_data)) == ["SCORE_DEDUCTED_TARGET_MET"]


def test_r14_weight_split_deviation_is_info(form_data: dict[str, Any]) -> None:
    form_data["indicators"][0]["weight"] = 25.0
    form_data["indicators"][0]["score"] = 25.0
    form_data["indicators"][3]["weight"] = 15.0
    form_data["indicators"][3]["score"] = 13.0
    flags = check(form_data)
    flag = only(flags, "WEIGHT_SPLIT_DEVIATES")
    assert flag.severity == "info" and "产出 55" in str(flag.found)


def test_r15_missing_goal(form_data: dict[str, Any]) -> None:
    form_data["goal_actual"] = "  "
    flag = only(check(form_data), "MISSING_GOAL")
    assert flag.fields == ["goal_actual"] and flag.severity == "warning"


def test_r16_low_execution(form_data: dict[str, Any]) -> None:
    for row in form_data["funding"][:2]:
        row.update(executed=85.0, execution_rate=85.0)
    form_data["funding"][0]["score"] = 8.5
    form_data["total_score"] = 92.0
    flag = only(check(form_data), "LOW_EXECUTION_NO_EXPLANATION")
    assert flag.severity == "info" and flag.found == 85.0
    form_data["indicators"].append(
        {
            "level1": "产出指标",
            "level2": "成本指标",
            "name": "预算执行率",
            "target_text": "≥90%",
            "actual_text": "85%",
            "weight": 0.0,
            "score": 0.0,
            "deviation_reason": "采购延期",
        }
    )
    assert "LOW_EXECUTION_NO_EXPLANATION" not in codes(check(form_data))


# origin, language ------------------------------------------------------------------------------


def _prov(confidence: float) -> FieldProvenance:
    return FieldProvenance(
        confidence=confidence,
        page=1,
        bbox=(0.0, 0.0, 1.0, 1.0),
        source_text="x",
        extractor="layout",
    )


def test_origin_follows_field_confidence(form_data: dict[str, Any]) -> None:
    form_data["total_score"] = 93.5
    record = FormRecord.model_validate(form_data)
    assert run_checks(record)[0].origin == "source"
    paths = ["total_score", "funding[0].score"] + [f"indicators[{i}].score" for i in range(6)]
    confident = {p: _prov(0.99) for p in paths}
    assert run_checks(record, fields=confident)[0].origin == "source"
    unsure = {**confident, "indicators[3].score": _prov(0.5)}
    assert run_checks(record, fields=unsure)[0].origin == "extraction"
    missing = {p: v for p, v in confident.items() if p != "funding[0].score"}
    assert run_checks(record, fields=missing)[0].origin == "extraction"


def test_null_field_without_provenance_is_not_suspect(form_data: dict[str, Any]) -> None:
    form_data["indicators"][2]["deviation_reason"] = None
    record = FormRecord.model_validate(form_data)
    fields = {"indicators[2].score": _prov(0.99)}
    assert run_checks(record, fields=fields)[0].origin == "source"


def test_english_messages(form_data: dict[str, Any]) -> None:
    form_data["total_score"] = 93.5
    zh = check(form_data)[0].message
    en = check(form_data, lang="en")[0].message
    assert "总分" in zh and "93.00" in zh
    assert en.startswith("the total should be 93.00")
