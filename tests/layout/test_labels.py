"""Label synonym tables and classification (labels.py)."""

from __future__ import annotations

import pytest

from jixiao.extract.labels import (
    FUNDING_COLUMNS,
    GOALS,
    HEADER_FIELDS,
    INDICATOR_COLUMNS,
    classify,
    classify_any,
    funding_kind,
    label_key,
    money_unit,
    split_label_prefix,
)


@pytest.mark.parametrize(
    ("text", "field", "quality"),
    [
        ("全年预算数", "annual_budget", "exact"),
        ("调整后预算数", "annual_budget", "synonym"),
        ("变动后预算数", "annual_budget", "synonym"),
        ("全年预算数（A）", "annual_budget", "exact"),
        ("全年预算数(A)", "annual_budget", "exact"),
        ("全年执行数（B）", "executed", "exact"),
        ("预算执行数", "executed", "synonym"),
        ("执行率（B/A）", "execution_rate", "exact"),
        ("执行率(%)", "execution_rate", "exact"),
        ("资金执行率", "execution_rate", "synonym"),
        ("年初批复数", "initial_budget", "synonym"),
        ("年 初 预 算 数", "initial_budget", "exact"),
        ("权重", "weight", "synonym"),
        ("分数", "weight", "synonym"),
    ],
)
def test_funding_column_synonyms(text: str, field: str, quality: str) -> None:
    m = classify(text, FUNDING_COLUMNS)
    assert m is not None and (m.field, m.quality) == (field, quality)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("年度指标值（A）", "target"),
        ("目标值", "target"),
        ("实际完\n成值", "actual"),
        ("全年实际值", "actual"),
        ("实际完成值（B）", "actual"),
        ("偏差原因及整改措施", "deviation_reason"),
        ("未完成原因分析", "deviation_reason"),
        ("原因", "deviation_reason"),
        ("指标性质", "operator"),
        ("度量单位", "unit"),
        ("一级指\n标", "level1"),
    ],
)
def test_indicator_column_synonyms(text: str, field: str) -> None:
    m = classify(text, INDICATOR_COLUMNS)
    assert m is not None and m.field == field


def test_weights_units_and_prefixes_are_stripped_and_kept_aside() -> None:
    k = label_key("产出指标(50分)")
    assert (k.key, k.weight) == ("产出指标", 50.0)
    k = label_key("预算执行情况（10分）")
    assert (k.key, k.weight) == ("预算执行情况", 10.0)
    k = label_key("项目资金\n（万元）")
    assert (k.key, k.unit) == ("项目资金", "万元")
    k = label_key("其中：当年财政拨款")
    assert (k.key, k.had_prefix) == ("当年财政拨款", True)
    assert label_key("执行率(B/A)(%)").key == "执行率"


def test_header_goal_synonyms() -> None:
    assert classify("市级主管部门", HEADER_FIELDS).field == "competent_department"  # type: ignore[union-attr]
    assert classify("主管单位", HEADER_FIELDS).field == "competent_department"  # type: ignore[union-attr]
    assert classify("项目实施单位", HEADER_FIELDS).field == "implementing_unit"  # type: ignore[union-attr]
    assert classify("项目年度目标", GOALS).field == "goal_expected"  # type: ignore[union-attr]
    assert classify("年度目标完成情况", GOALS).field == "goal_actual"  # type: ignore[union-attr]


def test_fuzzy_matches_a_misprint_but_not_a_neighbouring_label() -> None:
    m = classify("偏差原因分析及改进措", INDICATOR_COLUMNS)
    assert m is not None and m.quality == "fuzzy" and m.field == "deviation_reason"
    assert 0 < m.score < 0.97
    # 实际完成值 (an indicator column) must not fuzzily become 实际完成情况 (a goal).
    assert classify("实际完成值", GOALS) is None
    assert classify("完成率", INDICATOR_COLUMNS) is None


def test_values_are_not_labels() -> None:
    for value in ("16,124.45", "上海市大数据中心", "≥25.00(项)", "达成指标", "优", "-"):
        assert classify_any(value) is None, value


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("年度资金总额", "total"),
        ("总额", "total"),
        ("其中：当年财政拨款", "fiscal"),
        ("本年财政拨款", "fiscal"),
        ("其中:财政资金", "fiscal"),
        ("当年财政资金", "fiscal"),
        ("中央补助", "fiscal"),
        ("上年结转资金", "carryover"),
        ("财政专户管理资金", "special_account"),
        ("单位资金", "unit_funds"),
        ("其他资金", "other"),
        ("社会捐赠", "other"),
        ("其中：市级财政拨款", "fiscal"),
    ],
)
def test_funding_kind(label: str, kind: str) -> None:
    assert funding_kind(label) == kind


def test_money_unit_and_label_value_split() -> None:
    assert money_unit("项目资金（万元）") == "万元"
    assert money_unit("项目资金(元)") == "元"
    assert money_unit("单位：万元") == "万元"
    assert money_unit("项目资金") is None
    m = split_label_prefix("项目名称：数据运营服务费", HEADER_FIELDS)
    assert m is not None and m[0].field == "project_name" and m[1] == "数据运营服务费"
    m = split_label_prefix("市级主管部门 上海市大数据中心", HEADER_FIELDS)
    assert m is not None and m[0].field == "competent_department"
    assert m[1] == "上海市大数据中心"
    assert split_label_prefix("项目名称", HEADER_FIELDS) is None
