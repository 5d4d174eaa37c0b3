"""OCR noise on labels and values: tolerant label anchoring, sign and name repairs that are
recorded and sent to review, and rows that could not be read reported instead of lost."""

from __future__ import annotations

from dataclasses import replace

import pytest
from gridkit import C, form, grid

from jixiao.extract.labels import (
    FUNDING_COLUMNS,
    HEADER_FIELDS,
    INDICATOR_COLUMNS,
    classify,
    classify_any,
)
from jixiao.extract.layout import ROW_UNREAD_CODE, SECTION_MISSING_CODE, LayoutExtractor
from jixiao.ingest.model import FormRegion, LayoutText

REVIEW = 0.3981  # the calibrated review threshold (confidence_thresholds.json)


def run(f: FormRegion):  # type: ignore[no-untyped-def]
    return LayoutExtractor().extract(f, LayoutText(), doc_sha256="0" * 64)


def warnings(out) -> list:  # type: ignore[no-untyped-def]
    return [f for f in out.flags if f.severity == "warning" and f.code.startswith("EXTRACTION_")]


# --- labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("-级指标", "level1"),  # 一 read as a hyphen
        ("—级指标", "level1"),
        ("=级指标", "level2"),  # 二 read as an equals sign
        ("”=级指标", "name"),  # 三 read as a quote mark over an equals sign
        ("三级指标.", "name"),
        ("年度指标值。", "target"),
        ("实际完成值|", "actual"),
    ],
)
def test_ocr_confusions_of_header_labels_match_with_a_lower_score(text: str, field: str) -> None:
    m = classify(text, INDICATOR_COLUMNS, fuzzy=False)
    assert m is not None and m.field == field
    assert m.quality in ("exact", "ocr")
    if m.quality == "ocr":
        assert 0.7 < m.score < 0.97


def test_ocr_tolerance_does_not_make_values_or_other_words_labels() -> None:
    for value in (
        "≥30.00(项)",
        "100",
        "-",
        "=",
        "一",
        "产出指标",
        "数量指标",
        "满意度指标",
        "达成指标",
        "有效提升",
        "得分率",
        "分",
        "完成率",
        "二级",
        "一二三",
    ):
        assert classify_any(value) is None, value
    # 分值 (two characters) takes no real edit, even with fuzzy matching on.
    for text in ("分直", "分数值", "总值"):
        assert classify(text, FUNDING_COLUMNS) is None, text
    # one real edit in a 4-character label only where fuzzy matching is asked for
    assert classify("顶目名称", HEADER_FIELDS, fuzzy=False) is None
    m = classify("顶目名称", HEADER_FIELDS)
    assert m is not None and m.field == "project_name" and m.quality == "fuzzy"


OCR_HEADER = ["-级指标", "=级指标", "”=级指标", "年度指标值", "实际完成值", "分值", "得分"]


def indicator_rows(header: list[str], *rows: list[object]) -> list[list[object]]:
    return [
        ["顶目名称", C("数据运营服务", cs=6)],
        header,
        *rows,
        [C("总分", cs=5), "20", "20"],
    ]


def test_indicator_table_with_ocr_misread_header_is_read() -> None:
    rows = indicator_rows(
        OCR_HEADER,
        [
            C("产出指标", rs=2),
            C("数量指标", rs=2),
            "完成接口数量",
            "≥30.00(项)",
            "32.00(项)",
            "10",
            "10",
        ],
        ["目录更新次数", "≥12.00(次)", "12.00(次)", "10", "10"],
    )
    out = run(form([grid(rows)]))
    r = out.record
    assert [i.name for i in r.indicators] == ["完成接口数量", "目录更新次数"]
    assert [i.level1 for i in r.indicators] == ["产出指标", "产出指标"]
    assert [i.level2 for i in r.indicators] == ["数量指标", "数量指标"]
    assert r.project_name == "数据运营服务"  # 顶目名称: one misread character
    # label_match is set on every value, lower where the label was read through OCR noise
    assert all("label_match" in p.signals for p in out.fields.values())
    assert out.fields["indicators[0].name"].signals["label_match"] < 1.0
    assert out.fields["indicators[0].target_text"].signals["label_match"] == 1.0
    assert out.fields["project_name"].signals["label_match"] < 0.97
    # this form has no 项目资金 table: that one section is reported, nothing else
    assert [f.fields for f in warnings(out)] == [["funding"]]


# --- comparison signs -----------------------------------------------------------------------


def test_sign_read_as_a_cjk_character_is_repaired_recorded_and_sent_to_review() -> None:
    rows = indicator_rows(
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        [
            C("产出指标", rs=3),
            C("数量指标", rs=3),
            "完成接口数量",
            "过30.00(项)",
            "32.00(项)",
            "5",
            "5",
        ],
        ["故障修复时长", "和2.00(小时)", "1.50(小时)", "5", "5"],
        ["目录更新次数", "≥12.00(次)", "12.00(次)", "10", "10"],
    )
    out = run(form([grid(rows)]))
    inds = out.record.indicators
    assert inds[0].target_text == "≥30.00(项)"
    # the numbers decide among ≥ / ≤: full marks with an actual under the target mean ≤
    assert inds[1].target_text == "≤2.00(小时)"
    assert inds[2].target_text == "≥12.00(次)"
    for k, raw in ((0, "过30.00(项)"), (1, "和2.00(小时)")):
        prov = out.fields[f"indicators[{k}].target_text"]
        assert prov.source_text == raw
        assert prov.signals["repaired"] == 1.0 and prov.signals["parse_clean"] < 1.0
        assert prov.confidence < REVIEW
    clean = out.fields["indicators[2].target_text"]
    assert "repaired" not in clean.signals and clean.confidence > REVIEW


def test_a_cjk_character_before_a_number_is_left_alone_without_context() -> None:
    rows = indicator_rows(
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "成本指标", "验收结论", "和100.00(元)", "达成", "20", "20"],
    )
    out = run(form([grid(rows)]))
    assert out.record.indicators[0].target_text == "和100.00(元)"
    assert "repaired" not in out.fields["indicators[0].target_text"].signals


# --- names with stray characters ------------------------------------------------------------


def test_junk_after_names_is_doubted_and_only_symbols_are_removed() -> None:
    rows = indicator_rows(
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "数量指标", "完成接口建设项目2人", "≥30.00(项)", "32.00(项)", "10", "10"],
        ["产出指标", "质量指标", "数据目录更新及时率", "≥90.00(%)", "95.00(%)", "10", "10"],
    )
    rows[0] = ["项目名称", C("数据运营服务资金>", cs=6)]
    out = run(form([grid(rows)]))
    r = out.record
    assert r.project_name == "数据运营服务资金"
    name_prov = out.fields["project_name"]
    assert name_prov.source_text == "数据运营服务资金>"
    assert name_prov.signals["repaired"] == 1.0 and name_prov.signals["text_shape"] < 1.0
    assert name_prov.confidence < REVIEW
    # "2人" may be junk or part of a name: kept, but a person looks at it
    assert r.indicators[0].name == "完成接口建设项目2人"
    doubted = out.fields["indicators[0].name"]
    assert doubted.signals["text_shape"] < 1.0 and "repaired" not in doubted.signals
    assert doubted.confidence < REVIEW
    assert out.fields["indicators[1].name"].confidence > REVIEW


def test_low_ocr_confidence_of_a_name_cell_lowers_its_confidence() -> None:
    rows = indicator_rows(
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "数量指标", "完成接口数量", "≥30.00(项)", "32.00(项)", "20", "20"],
    )
    g = grid(rows)
    g.cells = [replace(c, confidence=0.55 if c.text == "数据运营服务" else 0.99) for c in g.cells]
    out = run(form([g]))
    prov = out.fields["project_name"]
    assert prov.signals["ocr_confidence"] == 0.55
    assert prov.confidence < REVIEW
    assert out.fields["indicators[0].name"].signals["ocr_confidence"] == 0.99


# --- nothing missing silently ---------------------------------------------------------------


def test_rows_and_cells_that_could_not_be_read_are_warnings() -> None:
    rows = indicator_rows(
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "数量指标", "完成接口数量", "≥30.00(项)", "32.00(项)", "十分", "10"],
        ["产出指标", "数量指标", "", "≥12.00(次)", "12.00(次)", "10", "10"],
    )
    out = run(form([grid(rows)]))
    found = {(f.code, tuple(f.fields)) for f in warnings(out)}
    assert (ROW_UNREAD_CODE, ("indicators[0].weight",)) in found
    assert (ROW_UNREAD_CODE, ("indicators[1].name",)) in found
    assert all(f.origin == "extraction" for f in warnings(out))


def test_a_form_read_right_has_no_extraction_warning() -> None:
    rows = indicator_rows(
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "数量指标", "完成接口数量", "≥30.00(项)", "32.00(项)", "10", "10"],
        ["产出指标", "数量指标", "目录更新次数", "≥12.00(次)", "12.00(次)", "10", "10"],
    )
    rows.insert(
        1,
        [
            C("项目资金（万元）", rs=2),
            "",
            "年初预算数",
            "全年预算数",
            "全年执行数",
            "执行率",
            "得分",
        ],
    )
    rows.insert(2, ["年度资金总额", "10.00", "10.00", "9.00", "90.00", "-"])
    out = run(form([grid(rows)]))
    assert len(out.record.indicators) == 2 and len(out.record.funding) == 1
    assert not warnings(out)


def test_a_missing_indicator_table_is_a_warning() -> None:
    rows = [["项目名称", "某项目"], ["一段文字", "另一段文字"]]
    out = run(form([grid(rows)]))
    assert {tuple(f.fields) for f in warnings(out) if f.code == SECTION_MISSING_CODE} == {
        ("funding",),
        ("indicators",),
    }


def test_unread_cells_inside_the_indicator_table_and_short_weights_are_reported() -> None:
    rows = indicator_rows(
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "数量指标", "完成接口数量", "≥30.00(项)", "32.00(项)", "10", "10"],
        ["", "", "", "", "", "", "", "残缺的一行文字"],
    )
    rows[-1] = [C("总分", cs=5), "30", "20"]
    out = run(form([grid(rows)]))
    msgs = [f.message for f in warnings(out) if f.code == ROW_UNREAD_CODE]
    assert any("残缺的一行文字" in m for m in msgs)
    assert any("add up to 10" in m and "30" in m for m in msgs)


def test_block_label_repeated_after_a_page_break_is_not_a_level() -> None:
    header = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"]
    rows: list[list[object]] = [
        ["项目名称", C("数据运营服务", cs=6)],
        [C("绩效指标(90分)", cs=7)],
        header,
        [C("产出指标", rs=2), "数量指标", "完成接口数量", "≥30.00(项)", "32.00(项)", "10", "10"],
        ["质量指标", "接口可用率", "≥99.00(%)", "99.50(%)", "10", "10"],
        [C("绩效指标(90分)", cs=7)],
        header,
        [C("", rs=1), "时效指标", "按期完成率", "=100.00(%)", "100.00(%)", "10", "10"],
    ]
    out = run(form([grid(rows, page_breaks=(5,))]))
    assert [i.level1 for i in out.record.indicators] == ["产出指标"] * 3
    assert out.record.indicators[2].level2 == "时效指标"
