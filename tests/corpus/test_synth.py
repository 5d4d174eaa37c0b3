"""The synthetic form generator: determinism, validity, realism, and planted defects.

`findings()` below is a deliberately plain, independent re-reading of scoring-rules.md
(R1–R4/R5/R6, R7–R11, R13, R15). It shares no code with the generator: consistent forms must
raise nothing, and each planted form must raise exactly the codes (and fields) it lists.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from jixiao.contract import FormRecord
from jixiao.corpus.synth import (
    PLANTABLE_CODES,
    PROFILES,
    SyntheticForm,
    generate_forms,
    planted_summary,
    split_target_text,
)
from jixiao.errors import ConfigError

SAMPLE_SEED = 20240607


@pytest.fixture(scope="module")
def sample() -> list[SyntheticForm]:
    return generate_forms(SAMPLE_SEED, 400, planted_fraction=0.3)


# ---- an independent checker ---------------------------------------------------------------

OPERATOR = re.compile(r"^([≥≤=<>])(\d+(?:\.\d+)?)")
LEADING_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)")
MONEY = ("initial_budget", "annual_budget", "executed")


def band(total: float) -> str:
    if total >= 90:
        return "优"
    if total >= 80:
        return "良"
    if total >= 60:
        return "中"
    return "差"


def numeric_target_met(target: str | None, actual: str | None) -> bool | None:
    """Whether a numeric target was met; None when target or actual is not a number."""
    op_match = OPERATOR.match(target or "")
    number = LEADING_NUMBER.match(actual or "")
    if not (op_match and number):
        return None
    a, b = float(op_match.group(2)), float(number.group(1))
    return b <= a if op_match.group(1) in "≤<" else b >= a


def qualitative_band(actual: str | None, w: float) -> tuple[float, float, bool] | None:
    """R6 band (low, high, high inclusive) for a 达成 / 部分达成 / 未达成 actual."""
    if actual is None:
        return None
    if "部分达成" in actual:
        return 0.6 * w, 0.8 * w, False
    if "未达成" in actual:
        return 0.0, 0.6 * w, False
    if "达成" in actual:
        return 0.8 * w, w, True
    return None


def findings(record: FormRecord) -> dict[str, set[str]]:
    """Error/warning codes → the fields involved, recomputed from the printed values."""
    found: dict[str, set[str]] = {}

    def flag(code: str, path: str) -> None:
        found.setdefault(code, set()).add(path)

    total_row = record.funding[0]
    for i, row in enumerate(record.funding):  # R1
        p, e, rate = row.annual_budget, row.executed, row.execution_rate
        if p and rate is not None and e is not None and abs(rate - e / p * 100) > 0.0101:
            flag("EXEC_RATE_MISMATCH", f"funding[{i}].execution_rate")
    p, e = total_row.annual_budget, total_row.executed
    assert p and e is not None and total_row.weight is not None and total_row.score is not None
    if abs(total_row.score - min(e / p, 1) * total_row.weight) > 0.0101:  # R2
        flag("BUDGET_SCORE_MISMATCH", "funding[0].score")
    if e > p:
        flag("BUDGET_OVERSPENT", "funding[0].executed")
    for column in MONEY:  # R3
        parts = [getattr(row, column) or 0.0 for row in record.funding[1:]]
        if abs(sum(parts) - (getattr(total_row, column) or 0.0)) > 0.005:
            flag("FUNDING_SUBROWS_SUM", column)

    weights = total_row.weight
    scores = total_row.score
    for i, ind in enumerate(record.indicators):
        assert ind.weight is not None and ind.score is not None
        w, s, path = ind.weight, ind.score, f"indicators[{i}]"
        weights += w
        scores += s
        met = numeric_target_met(ind.target_text, ind.actual_text)
        qual_band = qualitative_band(ind.actual_text, w)
        if s > w + 1e-9:  # R7; it stands for the row, so R4-R6 are not judged on top
            flag("SCORE_ABOVE_WEIGHT", f"{path}.score")
        elif s < 0:
            flag("SCORE_NEGATIVE", f"{path}.score")
        elif met is True and s < w - 1e-9:  # R13: a met numeric target expects full marks
            flag("SCORE_DEDUCTED_TARGET_MET", f"{path}.score")
        elif met is False:  # R4 / R5, proportional on a missed numeric target
            op_match = OPERATOR.match(ind.target_text or "")
            number = LEADING_NUMBER.match(ind.actual_text or "")
            assert op_match and number
            a, b = float(op_match.group(2)), float(number.group(1))
            share = max(0.0, 1 - (b - a) / a) if op_match.group(1) in "≤<" else b / a
            if abs(s - w * share) > 0.0101:
                flag("SCORE_NOT_PROPORTIONAL", f"{path}.score")
        elif qual_band is not None:  # R6
            low, high, inclusive = qual_band
            above = s > high + 1e-9 if inclusive else s >= high - 1e-9
            if s < low - 1e-9 or above:
                flag("QUALITATIVE_SCORE_BAND", f"{path}.score")
        if s < w - 1e-9 and not ind.deviation_reason:  # R11
            flag("MISSING_DEVIATION_REASON", f"{path}.deviation_reason")
    if record.total_weight is not None and abs(weights - record.total_weight) > 1e-6:  # R8
        flag("WEIGHTS_SUM", "total_weight")
    assert record.total_score is not None
    if abs(record.total_score - scores) > 0.0101:  # R9
        flag("TOTAL_SCORE_MISMATCH", "total_score")
    if record.grade is not None and record.grade != band(record.total_score):  # R10
        flag("GRADE_MISMATCH", "grade")
    if not record.goal_expected or not record.goal_actual:  # R15
        flag("MISSING_GOAL", "goal_expected")
    return found


def test_checker_catches_a_hand_made_defect(sample: list[SyntheticForm]) -> None:
    # The checker itself must be able to fail: break a consistent form by hand.
    form = next(f for f in sample if not f.planted)
    data = form.record.model_dump()
    data["total_score"] += 2.0
    data["indicators"][0]["score"] = data["indicators"][0]["weight"] + 1
    codes = set(findings(FormRecord.model_validate(data)))
    assert {"TOTAL_SCORE_MISMATCH", "SCORE_ABOVE_WEIGHT"} <= codes


# ---- tests ---------------------------------------------------------------------------------


def test_same_seed_gives_identical_forms() -> None:
    def dump(forms: list[SyntheticForm]) -> str:
        return json.dumps(
            [[f.id, f.profile, repr(f.planted), f.record.model_dump(mode="json")] for f in forms],
            ensure_ascii=False,
        )

    first = generate_forms(7, 40)
    assert dump(first) == dump(generate_forms(7, 40))
    assert dump(first) != dump(generate_forms(8, 40))
    assert [f.id for f in first[:3]] == ["syn-7-000", "syn-7-001", "syn-7-002"]


def test_records_validate_strictly(sample: list[SyntheticForm]) -> None:
    for form in sample:
        again = FormRecord.model_validate_json(form.record.model_dump_json())
        assert again == form.record


def test_ranges(sample: list[SyntheticForm]) -> None:
    rows = [len(f.record.indicators) for f in sample]
    years = {f.record.year for f in sample}
    assert min(rows) >= 4 and max(rows) <= 25
    assert min(rows) <= 6 and max(rows) >= 22, "row counts should spread over the range"
    assert years == set(range(2019, 2025))
    totals = [
        f.record.funding[0].annual_budget or 0 for f in sample if f.record.funding_unit == "万元"
    ]
    assert min(totals) < 100 and max(totals) > 10000
    assert any(f.record.funding_unit == "元" for f in sample)
    assert {f.record.funding[0].weight for f in sample} >= {10.0, 15.0, 20.0}


def test_consistent_forms_raise_no_finding(sample: list[SyntheticForm]) -> None:
    consistent = [f for f in sample if not f.planted]
    assert len(consistent) == 280
    for form in consistent:
        assert findings(form.record) == {}, form.id


def test_each_planted_form_breaks_exactly_what_it_lists(sample: list[SyntheticForm]) -> None:
    planted = [f for f in sample if f.planted]
    assert len(planted) == 120
    for form in planted:
        found = findings(form.record)
        assert set(found) == {p.code for p in form.planted}, form.id
        for flag in form.planted:
            if flag.code == "FUNDING_SUBROWS_SUM":  # the checker knows the column, not the row
                assert {path.split(".")[-1] for path in flag.fields} <= found[flag.code]
            else:
                assert set(flag.fields) <= found[flag.code], (form.id, flag)


def test_distribution_of_profiles_and_planted_codes() -> None:
    forms = generate_forms(3, 200)
    profiles = Counter(f.profile for f in forms)
    assert set(profiles) == set(PROFILES)
    assert profiles["central"] > profiles["ab"] > profiles["sichuan"] >= 20
    summary = planted_summary(forms)
    assert sum(summary.values()) == 50 == sum(1 for f in forms if f.planted)
    assert set(summary) == set(PLANTABLE_CODES)
    assert min(summary.values()) >= 7
    assert all(len(f.planted) <= 1 for f in forms)


def test_grades_spread_like_real_forms(sample: list[SyntheticForm]) -> None:
    # Mostly 优 as in published forms, but every band a checker must tell apart occurs.
    grades = Counter(f.record.grade for f in sample if not f.planted)
    assert grades["优"] > grades["良"] > grades["中"] > 0 and grades[None] > 0


def test_fraction_bounds_and_single_profile() -> None:
    assert not any(f.planted for f in generate_forms(1, 30, planted_fraction=0.0))
    assert all(f.planted for f in generate_forms(1, 30, planted_fraction=1.0))
    assert {f.profile for f in generate_forms(1, 30, profile="sichuan")} == {"sichuan"}
    with pytest.raises(ConfigError):
        generate_forms(1, 3, profile="beijing")
    with pytest.raises(ConfigError):
        generate_forms(1, 3, planted_fraction=1.5)


def _strings(form: SyntheticForm) -> list[str]:
    record = form.record
    texts = [record.title, record.project_name, record.competent_department]
    texts += [record.implementing_unit, record.goal_expected, record.goal_actual]
    texts += [row.label for row in record.funding]
    for ind in record.indicators:
        texts += [ind.level1, ind.level2, ind.name, ind.target_text, ind.actual_text]
        texts += [ind.deviation_reason]
    return [t for t in texts if t is not None]


def test_text_hygiene_and_lengths(sample: list[SyntheticForm]) -> None:
    for form in sample:
        for text in _strings(form):
            assert text == text.strip() and "\n" not in text and text, (form.id, text)
        record = form.record
        assert record.project_name and 6 <= len(record.project_name) <= 30, record.project_name
        assert record.goal_expected and 80 <= len(record.goal_expected) <= 400
        assert record.goal_actual and 80 <= len(record.goal_actual) <= 400
        for ind in record.indicators:
            assert 4 <= len(ind.name) <= 40, ind.name
            assert ind.target_text and len(ind.target_text) <= 40, ind.target_text
            if ind.deviation_reason is not None:
                assert 30 <= len(ind.deviation_reason) <= 150, ind.deviation_reason


def test_profiles_print_their_own_labels_and_targets(sample: list[SyntheticForm]) -> None:
    central_target = re.compile(r"^[≥≤=]\d+\.\d{2}\([^()]+\)$")
    for form in sample:
        record = form.record
        labels = [row.label for row in record.funding]
        kinds = [row.kind for row in record.funding]
        quantitative = [
            i.target_text for i in record.indicators if i.target_text and i.target_text[0] in "≥≤="
        ]
        if form.profile == "central":
            assert record.title == "财政项目支出绩效自评表"
            assert labels == ["年度资金总额", "其中：当年财政拨款", "上年结转资金", "其他资金"]
            assert all(central_target.match(t) for t in quantitative), quantitative
        elif form.profile == "ab":
            assert record.title in ("财政项目支出绩效自评表", "项目支出绩效自评表")
            assert labels == ["年度资金总额", "其中：本年财政拨款", "上年结转资金", "其他资金"]
        else:
            assert record.title == "部门预算项目支出绩效自评表"
            assert labels == ["总额", "其中：财政资金", "财政专户管理资金", "单位资金", "其他资金"]
            assert kinds == ["total", "fiscal", "special_account", "unit_funds", "other"]
            assert record.funding[0].weight == 10.0  # 预算执行情况(10分) is printed in the template
            for text in quantitative:
                op, number, unit = split_target_text(text)
                assert "(" not in text and op + number + unit == text and float(number) >= 0
        for ind in record.indicators:
            op, number, unit = split_target_text(ind.target_text or "")
            if op == "":  # qualitative: no operator, the whole text is the value
                assert number == ind.target_text and unit == ""


def test_rounding_styles_both_occur(sample: list[SyntheticForm]) -> None:
    # Real forms truncate as often as they round (81.1568 → 81.15); both must be represented.
    truncated = rounded = 0
    for form in sample:
        row = form.record.funding[0]
        if "EXEC_RATE_MISMATCH" in {p.code for p in form.planted}:
            continue
        assert row.annual_budget and row.executed is not None and row.execution_rate is not None
        exact = row.executed / row.annual_budget * 100
        if round(exact, 2) != row.execution_rate:
            truncated += 1
        elif int(exact * 100) / 100 != row.execution_rate:
            rounded += 1
    assert truncated > 5 and rounded > 5


def test_project_checker_agrees_with_planted_codes() -> None:
    # The eval harness scores jixiao.checks against `planted`: both must read the rules alike.
    from jixiao.checks import run_checks

    for form in generate_forms(11, 150, planted_fraction=0.4):
        flags = [f for f in run_checks(form.record) if f.severity in ("error", "warning")]
        assert {f.code for f in flags} == {p.code for p in form.planted}, form.id
        for planted in form.planted:
            flagged = {path for f in flags if f.code == planted.code for path in f.fields}
            assert set(planted.fields) <= flagged, (form.id, planted, flagged)
