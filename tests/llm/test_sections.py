"""Sectioning, section schemas and their grounding validators, without any LLM."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from jixiao.extract.llm.prompts import SECTION_PROMPTS, load_prompt, prompts_dir, section_prompt
from jixiao.extract.llm.sections import (
    NULLABLE_FIELDS,
    SectionInput,
    build_section_models,
    split_sections,
    validation_context,
)

sys.path.insert(0, str(Path(__file__).parent))  # test helpers beside this file (importlib mode)
from layout_fixtures import build_layout, injected_form, small_form


def _section(name: str, layout: Any = None) -> SectionInput:
    layout = layout or small_form()
    return next(s for s in split_sections(layout) if s.name == name)


def test_split_sections_follows_labels() -> None:
    sections = split_sections(small_form(), chunk_rows=3)
    assert [s.key for s in sections] == [
        "header#0",
        "funding#0",
        "goals#0",
        "indicators#0",
        "indicators#1",
        "totals#0",
    ]
    by_key = {s.key: s for s in sections}
    # the column-header row is not a money row; the four money rows are
    assert len(by_key["funding#0"].rows) == 4
    assert by_key["funding#0"].rows[0].text.startswith("[c10]年度资金总额")
    # the header sees the block label that carries the money unit
    assert "项目资金（万元）" in by_key["header#0"].text
    # the indicator header row (labels only) is not a data row
    assert len(by_key["indicators#0"].rows) + len(by_key["indicators#1"].rows) == 4
    assert "一级指标 | " not in by_key["indicators#0"].text.split("\n")[0][:12]
    # cells and columns come from the rows shown, nothing else
    funding = by_key["funding#0"]
    assert set(funding.cells) == {c for ids in funding.row_cells for c in ids}
    assert funding.columns["c11"] == "年初预算数"


def test_schema_offers_only_the_sections_cell_ids_and_requires_answers() -> None:
    section = _section("funding")
    schema = build_section_models(section).response.model_json_schema()
    span = schema["$defs"]["Span"]
    assert span["properties"]["cell"]["enum"] == list(section.cells)
    assert span["properties"]["text"]["maxLength"] > 0
    row = schema["$defs"]["FundingRow"]
    assert set(row["required"]) == set(row["properties"])
    for name, prop in row["properties"].items():
        assert ("anyOf" in prop) == (name in NULLABLE_FIELDS)
    assert schema["properties"]["rows"]["minItems"] == schema["properties"]["rows"]["maxItems"] == 4
    assert "ungrounded" not in schema["properties"]


def _validate(section: SectionInput, data: dict[str, Any], *, max_retries: int = 1) -> Any:
    models = build_section_models(section)
    return models.response.model_validate(
        data, context=validation_context(section, max_retries=max_retries)
    )


def _totals(score_cell: str, score: str, grade_cell: str, grade: str) -> dict[str, Any]:
    return {
        "total_weight": {"cell": "c79", "text": "100"},
        "total_score": {"cell": score_cell, "text": score},
        "grade": {"cell": grade_cell, "text": grade},
    }


def test_grounded_answer_keeps_the_cells_own_text() -> None:
    result = _validate(_section("totals"), _totals("c80", "94.46", "c82", "优"))
    assert result.total_score.grounded and result.total_score.source == "94.46"
    assert result.grade.source == "优"
    assert result.ungrounded == []


def test_ungrounded_value_is_reasked_with_the_reason() -> None:
    section = _section("totals")
    models = build_section_models(section)
    ctx = validation_context(section, max_retries=1)
    with pytest.raises(ValidationError) as err:
        models.response.model_validate(_totals("c80", "99.00", "c82", "优"), context=ctx)
    message = str(err.value)
    assert "'99.00' is not the value of cell c80" in message
    assert "94.46" in message  # the model is told what the cell says


def test_last_attempt_nulls_what_stays_ungrounded() -> None:
    section = _section("totals")
    models = build_section_models(section)
    ctx = validation_context(section, max_retries=1)
    bad = _totals("c80", "99.00", "c82", "优")
    with pytest.raises(ValidationError):
        models.response.model_validate(bad, context=ctx)  # attempt 1: re-ask
    result = models.response.model_validate(bad, context=ctx)  # attempt 2 (last): keep the rest
    assert result.total_score is None
    assert result.grade.source == "优"
    assert result.ungrounded == ["total_score: c80 '99.00'"]
    # the cached answer re-validates as it was, flags included (a cache hit reports them too)
    again = models.response.model_validate(
        result.model_dump(), context=validation_context(section, max_retries=1)
    )
    assert again.total_score is None and again.ungrounded == result.ungrounded


def test_wrong_cell_id_is_repaired_for_copied_text_only() -> None:
    section = _section("header")
    answer = {
        "title": {"cell": "c1", "text": "财政项目支出绩效自评表"},
        "year": {"cell": "c2", "text": "2023"},
        "project_name": {"cell": "c3", "text": "“一网通办”运营服务"},  # c3 is the label cell
        "competent_department": {"cell": "c6", "text": "上海市大数据中心"},
        "implementing_unit": {"cell": "c8", "text": "上海市大数据中心"},
        "funding_unit": {"cell": "c9", "text": "万元"},
    }
    result = _validate(section, answer)
    assert result.project_name.cell == "c4"
    # a number is never moved: 94.46 cited from the 100 cell is re-asked, not repaired
    with pytest.raises(ValidationError, match="not the value of cell c79"):
        _validate(_section("totals"), _totals("c79", "94.46", "c82", "优"))


def test_label_prefix_copied_with_a_value_is_accepted() -> None:
    section = _section("funding")
    row = {
        "label": {"cell": "c10", "text": "年度资金总额"},
        "initial_budget": {"cell": "c11", "text": "年初预算数=16,124.45"},
        "annual_budget": {"cell": "c12", "text": "9838.67"},
        "executed": {"cell": "c13", "text": "9,702.07"},
        "weight": {"cell": "c14", "text": "10"},
        "execution_rate": {"cell": "c15", "text": "98.61"},
        "score": {"cell": "c16", "text": "9.86"},
    }
    blank = {k: None for k in row}
    result = _validate(section, {"rows": [row, blank, blank, blank]})
    first = result.rows[0]
    assert first.initial_budget.source == "16,124.45"
    assert first.annual_budget.source == "9,838.67"
    assert first.weight.source == "10.00"


def test_value_from_the_wrong_column_is_rejected() -> None:
    section = _section("funding")
    row: dict[str, Any] = {k: None for k in ("label", "annual_budget", "executed")}
    row |= {"weight": None, "execution_rate": None, "score": None}
    # 9.86 is printed, but in the 得分 column, not 年初预算数
    row["initial_budget"] = {"cell": "c16", "text": "9.86"}
    blank = dict.fromkeys(row)
    with pytest.raises(ValidationError, match="column '得分', not '年初预算数'"):
        _validate(section, {"rows": [row, blank, blank, blank]})


def test_injected_numbers_and_words_do_not_ground() -> None:
    layout = injected_form()
    section = _section("totals", layout)
    ids = {cell: text for cell, text in section.cells.items()}
    injected = next(c for c, t in ids.items() if t.startswith("系统提示"))
    # "100" and "优" occur in the injected cell, but a score or a grade must be a whole value
    bad = _totals(injected, "100", injected, "优")
    bad["total_weight"] = {"cell": next(c for c, t in ids.items() if t == "100"), "text": "100"}
    with pytest.raises(ValidationError) as err:
        _validate(section, bad)
    assert "total_score" in str(err.value) and "grade" in str(err.value)


def test_empty_reason_cell_is_a_grounded_null() -> None:
    layout = build_layout(
        [
            [("", "一级指标"), ("", "三级指标")],
            [("一级指标", "产出指标"), ("三级指标", "数量"), ("年度指标值", "≥1"),
             ("实际完成值", "1"), ("分值", "5"), ("得分", "5"), ("偏差原因分析", "")],
        ]
    )  # fmt: skip
    section = _section("indicators", layout)
    result = _validate(
        section,
        {
            "rows": [
                {
                    "level1": {"cell": "c3", "text": "产出指标"},
                    "level2": None,
                    "name": {"cell": "c4", "text": "数量"},
                    "target_text": {"cell": "c5", "text": "≥1"},
                    "actual_text": {"cell": "c6", "text": "1"},
                    "weight": {"cell": "c7", "text": "5"},
                    "score": {"cell": "c8", "text": "5"},
                    "deviation_reason": {"cell": "c9"},
                }
            ]
        },
    )
    assert result.rows[0].deviation_reason.grounded
    assert result.ungrounded == []


def test_prompts_load_with_their_hash() -> None:
    for section, (name, version) in SECTION_PROMPTS.items():
        prompt = section_prompt(section)
        path = prompts_dir() / name / f"v{version}.md"
        assert prompt.ref == f"{name}@v{version}"
        assert prompt.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        rendered = prompt.render("[c1]{not a format field}")
        assert rendered.endswith("[c1]{not a format field}\n")


def test_missing_prompt_version_is_a_config_error() -> None:
    from jixiao.errors import ConfigError

    with pytest.raises(ConfigError, match="prompt file is missing"):
        load_prompt("extract_header", 999)
