"""A small, fully consistent form that each rule test breaks in exactly one place."""

from __future__ import annotations

from typing import Any

import pytest


def consistent_form_data() -> dict[str, Any]:
    return {
        "project_name": "测试项目",
        "funding_unit": "万元",
        "funding": [
            {
                "label": "年度资金总额",
                "kind": "total",
                "initial_budget": 100.0,
                "annual_budget": 100.0,
                "executed": 95.0,
                "weight": 10.0,
                "execution_rate": 95.0,
                "score": 9.5,
            },
            {
                "label": "其中：当年财政拨款",
                "kind": "fiscal",
                "initial_budget": 100.0,
                "annual_budget": 100.0,
                "executed": 95.0,
                "execution_rate": 95.0,
            },
            {
                "label": "上年结转资金",
                "kind": "carryover",
                "initial_budget": 0.0,
                "annual_budget": 0.0,
                "executed": 0.0,
                "execution_rate": 0.0,
            },
            {
                "label": "其他资金",
                "kind": "other",
                "initial_budget": 0.0,
                "annual_budget": 0.0,
                "executed": 0.0,
                "execution_rate": 0.0,
            },
        ],
        "goal_expected": "完成年度建设任务",
        "goal_actual": "已完成年度建设任务",
        "indicators": [
            {
                "level1": "产出指标",
                "level2": "数量指标",
                "name": "完成事项数量",
                "target_text": "≥10.00(项)",
                "actual_text": "12.00(项)",
                "weight": 20.0,
                "score": 20.0,
            },
            {
                "level1": "产出指标",
                "level2": "质量指标",
                "name": "故障率",
                "target_text": "≤5.00(%)",
                "actual_text": "4.00(%)",
                "weight": 15.0,
                "score": 15.0,
            },
            {
                "level1": "产出指标",
                "level2": "时效指标",
                "name": "按时完成率",
                "target_text": "=100.00(%)",
                "actual_text": "90.00(%)",
                "weight": 15.0,
                "score": 13.5,
                "deviation_reason": "部分任务延期",
            },
            {
                "level1": "效益指标",
                "level2": "社会效益指标",
                "name": "服务能力",
                "target_text": "有效提升",
                "actual_text": "达成指标",
                "weight": 20.0,
                "score": 18.0,
                "deviation_reason": "仍有提升空间",
            },
            {
                "level1": "效益指标",
                "level2": "可持续影响指标",
                "name": "长效机制",
                "target_text": "完善",
                "actual_text": "部分达成指标并具有一定效果",
                "weight": 10.0,
                "score": 7.0,
                "deviation_reason": "机制尚在完善",
            },
            {
                "level1": "满意度指标",
                "level2": "服务对象满意度指标",
                "name": "用户满意度",
                "target_text": "≥90%",
                "actual_text": "95%",
                "weight": 10.0,
                "score": 10.0,
            },
        ],
        "total_weight": 100.0,
        "total_score": 93.0,
        "grade": "优",
    }


@pytest.fixture
def form_data() -> dict[str, Any]:
    return consistent_form_data()
