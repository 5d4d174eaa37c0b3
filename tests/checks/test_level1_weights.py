"""Printed 一级 weights ("产出指标(50分)") read for R8 from a label or its provenance."""

from __future__ import annotations

import pytest

from jixiao.checks import parse_level1_weight, printed_level1_weights, run_checks
from jixiao.contract import FieldProvenance, FormRecord, Indicator


@pytest.mark.parametrize(
    ("label", "weight"),
    [
        ("产出指标(50分)", 50.0),
        ("产出指标（50分）", 50.0),  # full-width parentheses
        ("产出指标（５０分）", 50.0),  # full-width digits
        ("产出指标(50)", 50.0),
        ("产出指标 50", 50.0),
        ("产出指标\n(30分)", 30.0),  # wrapped in its merged cell
        ("效益指标 30 分", 30.0),
        ("满意度指标(7.5分)", 7.5),
        ("产出指标", None),
        ("产出指标60", 60.0),  # PDF text often loses the space before the number
        ("第二批50", None),  # a number glued to another name may be part of it
        ("产出指标(%)", None),
        ("产出指标(150分)", None),  # not a weight on a 100-point form
        ("(50分)", None),  # no label
        ("绩效指标(90分)", None),  # the whole indicator block, not one 一级 group
        ("年度绩效指标（90分）", None),
        ("", None),
    ],
)
def test_parse_level1_weight(label: str, weight: float | None) -> None:
    assert parse_level1_weight(label) == weight


def _record(*level1: str, weight: float = 10.0) -> FormRecord:
    return FormRecord(
        indicators=[
            Indicator(level1=label, name=f"指标{i}", weight=weight, score=weight)
            for i, label in enumerate(level1)
        ]
    )


def _prov(text: str) -> FieldProvenance:
    return FieldProvenance(
        confidence=0.9, page=1, bbox=(0.0, 0.0, 1.0, 1.0), source_text=text, extractor="layout"
    )


def test_printed_weights_come_from_the_provenance_text() -> None:
    record = _record("产出指标", "产出指标", "效益指标", "满意度指标")
    fields = {
        "indicators[0].level1": _prov("产出指标（20分）"),
        "indicators[1].level1": _prov("产出指标（20分）"),
        "indicators[2].level1": _prov("效益指标"),  # no weight printed
    }
    assert printed_level1_weights(record, fields) == {"产出指标": 20.0}
    assert printed_level1_weights(record) == {}  # the stored label carries no weight


def test_printed_weights_from_the_label_itself_and_conflicts_left_out() -> None:
    record = _record("产出指标 20", "产出指标 20", "效益指标")
    fields = {"indicators[2].level1": _prov("效益指标(10分)")}
    assert printed_level1_weights(record, fields) == {"产出指标 20": 20.0, "效益指标": 10.0}
    two = {
        "indicators[0].level1": _prov("产出指标(10分)"),
        "indicators[1].level1": _prov("产出指标(20分)"),
    }
    assert printed_level1_weights(_record("产出指标", "产出指标"), two) == {}


def test_r8_fires_with_the_weights_read_from_a_bare_number_label() -> None:
    """The label kept as printed ("产出指标 30") still matches its rows in R8."""
    record = _record("产出指标 30", "产出指标 30", "效益指标")
    flags = run_checks(record, level1_weights=printed_level1_weights(record))
    (flag,) = [f for f in flags if f.code == "LEVEL1_WEIGHTS_SUM"]
    assert flag.expected == 30.0 and flag.found == 20.0
    assert flag.fields == ["indicators[0].weight", "indicators[1].weight"]
