"""Values read from OCR'd pages with shapes no printed value has go to a person (layout
`_ocr_doubts`): unbalanced brackets, stray marks at an end, ASCII > or <, a level name one
character off, a target whose sign OCR dropped while the form's other targets carry one."""

from __future__ import annotations

import pytest

from jixiao.extract.layout import _odd_ocr_shape


@pytest.mark.parametrize(
    ("value", "leaf"),
    [
        ("105.00(项", "actual_text"),
        ("100.00(万人）)", "target_text"),
        ("≥1.00(亿条)®", "target_text"),
        ("1000.00(个)。", "actual_text"),
        ("?完善", "target_text"),
        (">95.00(%)", "target_text"),
        ("效益指标豪", "level1"),
        ("叠产出指标", "level1"),
        ("成本指标‘", "level2"),
        ("“一网通办”运营服务·。", "project_name"),
        ("“符合行业水平要求", "target_text"),
        ("符合需求的新增建设‘项目", "name"),
        ("适龄儿童免疫规划疫苗。接种率", "name"),
        ("M 90.00(%)", "target_text"),
        ("■", "deviation_reason"),
        ("优。", "grade"),
    ],
)
def test_shapes_no_printed_value_has(value: str, leaf: str) -> None:
    assert _odd_ocr_shape(value, leaf)


@pytest.mark.parametrize(
    ("value", "leaf"),
    [
        ("≥25.00(项)", "target_text"),
        ("105.00（项）", "actual_text"),
        ("效益指标", "level1"),
        ("服务对象满意度指标", "level2"),
        ("产出指标（50分）", "level1"),
        ("“一网通办”运营服务", "project_name"),
        ("按计划完成。", "deviation_reason"),
        ("数据质量达标率", "name"),
        ("推进“一网通办”改革，完成率‘提升’", "deviation_reason"),
        ("优", "grade"),
        ("Windows 10升级", "name"),
    ],
)
def test_printed_shapes_are_left_alone(value: str, leaf: str) -> None:
    assert not _odd_ocr_shape(value, leaf)


def test_only_ocr_values_are_doubted_and_a_dropped_sign_is() -> None:
    from jixiao.contract import FieldProvenance, FormRecord, Indicator
    from jixiao.extract.layout import LayoutExtractor, _Run

    record = FormRecord(
        indicators=[
            Indicator(name=f"指标{i}", target_text=t)
            for i, t in enumerate(["≥25.00(项)", "≥80.00(%)", "90.00(%)", "≤5.00(天)"])
        ]
    )
    run = _Run.__new__(_Run)
    run.fields = {}
    for i in range(4):
        signals = {"ocr_confidence": 0.99} if i != 1 else {}
        run.fields[f"indicators[{i}].target_text"] = FieldProvenance(
            confidence=0.95,
            page=1,
            bbox=(0, 0, 1, 1),
            source_text="x",
            extractor="layout",
            signals=signals,
        )
    LayoutExtractor()._ocr_doubts(run, record)
    doubted = {p for p, prov in run.fields.items() if prov.signals.get("suspect")}
    # the one target of four without a sign, where the others print one
    assert doubted == {"indicators[2].target_text"}


def test_an_ocr_weight_with_a_third_decimal_is_doubted() -> None:
    from jixiao.contract import FieldProvenance, FormRecord, Indicator
    from jixiao.extract.layout import LayoutExtractor, _Run

    record = FormRecord(
        indicators=[Indicator(name="甲", weight=9.007, score=9.0), Indicator(name="乙", weight=9.5)]
    )
    run = _Run.__new__(_Run)
    run.fields = {
        f"indicators[{i}].{leaf}": FieldProvenance(
            confidence=0.95,
            page=1,
            bbox=(0, 0, 1, 1),
            source_text="x",
            extractor="layout",
            signals={"ocr_confidence": 0.99},
        )
        for i in range(2)
        for leaf in ("weight", "score")
    }
    LayoutExtractor()._ocr_doubts(run, record)
    doubted = {p for p, prov in run.fields.items() if prov.signals.get("suspect")}
    assert doubted == {"indicators[0].weight"}
