"""The layout extractor on hand-built grids shaped like each layout variant of scoring-rules.md."""

from __future__ import annotations

import pytest
from gridkit import C, form, grid
from hypothesis import given, settings
from hypothesis import strategies as st

from jixiao.contract import FormRecord, FundingRow, Indicator
from jixiao.extract.base import Extractor, open_extractor
from jixiao.extract.layout import ERROR_CODE, SECTION_MISSING_CODE, UNPLACED_CODE, LayoutExtractor
from jixiao.ingest.model import Cell, LayoutText, TextLine

GOAL_E = "打造“智慧好办”2.0版，推出企业和个人“双100”高频依申请政务服务事项"
GOAL_A = "持续拓展“一网通办”总门户接入事项覆盖度，不断扩大服务范围"
REASON = "部分高频办事服务由于国家部委将服务入口回收，导致该部分服务缺失。"


def run(f):  # type: ignore[no-untyped-def]
    return LayoutExtractor().extract(f, LayoutText(), doc_sha256="0" * 64)


def central_rows(total_label: str = "") -> list[list[object]]:
    """Variant 1 (the seed): 8 columns, merged level cells, a label-less total row."""
    return [
        ["项目名称", C("“一网通办”运营服务", cs=7)],
        ["主管部门", C("上海市大数据中心", cs=3), "实施单位", C("上海市大数据中心", cs=3)],
        [
            C("项目资金\n（万元）", rs=5),
            "",
            "年初预算数",
            "全年预算数",
            "全年执行数",
            "分数",
            "执行率(%)",
            "得分",
        ],
        ["年度资金总额", "16,124.45", "9,838.67", "9,702.07", "10.00", "98.61", "9.86"],
        ["其中：当年财政拨款", "16,124.45", "9,838.67", "9,702.07", "-", "98.61", "-"],
        ["上年结转资金", "0.00", "0.00", "0.00", "-", "0.00", "-"],
        ["其他资金", "0.00", "0.00", "0.00", "-", "0.00", "-"],
        [C("年度\n总体\n目标", rs=2), C("预期目标", cs=3), C("实际完成情况", cs=4)],
        [C(GOAL_E, cs=3), C(GOAL_A, cs=4)],
        [
            "一级指\n标",
            "二级指\n标",
            "三级指标",
            "年度指标值",
            "实际完\n成值",
            "分值",
            "得分",
            "偏差原因分析",
        ],
        [
            C("产出指标", rs=3),
            C("数量指标", rs=2),
            "完成运营服务/事项产出数量",
            "≥25.00\n(项)",
            "105.00\n(项)",
            "8.00",
            "8.00",
            "",
        ],
        [
            "一网通办年度总服务人次数增长率",
            "≥80.00\n(亿次)",
            "54.00\n(亿次)",
            "8.00",
            "5.50",
            REASON,
        ],
        ["质量指标", "内容和功能完整度", "=100.00(%)", "100.00\n(%)", "5.00", "5.00", ""],
        # page break: the level cells of the continuation are blank
        [
            "",
            "",
            "日常运营保障及时性",
            "驻场技术工程师在10分钟内赶到故障现场",
            "达成指\n标",
            "5.00",
            "5.00",
            "",
        ],
        [
            C("满意度指\n标", rs=1),
            "服务对象\n满意度指\n标",
            "提供多渠道咨询服务",
            "≥90.00(%)",
            "99.94\n(%)",
            "5.00",
            "4.50",
            "后续将持续提升整体服务能级。",
        ],
        [C(total_label, cs=5), "100", "94.46", ""],
        [C("评分等级", cs=5), C("优", cs=3)],
    ]


CENTRAL_EXPECTED = FormRecord(
    title="财政项目支出绩效自评表",
    year=2023,
    project_name="“一网通办”运营服务",
    competent_department="上海市大数据中心",
    implementing_unit="上海市大数据中心",
    funding_unit="万元",
    funding=[
        FundingRow(
            label="年度资金总额",
            kind="total",
            initial_budget=16124.45,
            annual_budget=9838.67,
            executed=9702.07,
            weight=10.0,
            execution_rate=98.61,
            score=9.86,
        ),
        FundingRow(
            label="其中：当年财政拨款",
            kind="fiscal",
            initial_budget=16124.45,
            annual_budget=9838.67,
            executed=9702.07,
            execution_rate=98.61,
        ),
        FundingRow(
            label="上年结转资金",
            kind="carryover",
            initial_budget=0.0,
            annual_budget=0.0,
            executed=0.0,
            execution_rate=0.0,
        ),
        FundingRow(
            label="其他资金",
            kind="other",
            initial_budget=0.0,
            annual_budget=0.0,
            executed=0.0,
            execution_rate=0.0,
        ),
    ],
    goal_expected=GOAL_E,
    goal_actual=GOAL_A,
    indicators=[
        Indicator(
            level1="产出指标",
            level2="数量指标",
            name="完成运营服务/事项产出数量",
            target_text="≥25.00(项)",
            actual_text="105.00(项)",
            weight=8.0,
            score=8.0,
        ),
        Indicator(
            level1="产出指标",
            level2="数量指标",
            name="一网通办年度总服务人次数增长率",
            target_text="≥80.00(亿次)",
            actual_text="54.00(亿次)",
            weight=8.0,
            score=5.5,
            deviation_reason=REASON,
        ),
        Indicator(
            level1="产出指标",
            level2="质量指标",
            name="内容和功能完整度",
            target_text="=100.00(%)",
            actual_text="100.00(%)",
            weight=5.0,
            score=5.0,
        ),
        Indicator(
            level1="产出指标",
            level2="质量指标",
            name="日常运营保障及时性",
            target_text="驻场技术工程师在10分钟内赶到故障现场",
            actual_text="达成指标",
            weight=5.0,
            score=5.0,
        ),
        Indicator(
            level1="满意度指标",
            level2="服务对象满意度指标",
            name="提供多渠道咨询服务",
            target_text="≥90.00(%)",
            actual_text="99.94(%)",
            weight=5.0,
            score=4.5,
            deviation_reason="后续将持续提升整体服务能级。",
        ),
    ],
    total_weight=100.0,
    total_score=94.46,
    grade="优",
)


def _joined(rows: list[list[object]]) -> list[list[object]]:
    """Cell text as ingestion hands it over: wrapped lines already joined (CJK, no spaces)."""
    out: list[list[object]] = []
    for row in rows:
        new: list[object] = []
        for spec in row:
            if isinstance(spec, C):
                new.append(C(spec.text.replace("\n", ""), spec.rs, spec.cs))
            else:
                new.append(str(spec).replace("\n", ""))
        out.append(new)
    return out


def test_central_layout_reads_every_field() -> None:
    g = grid(_joined(central_rows()), page_breaks=(13,))  # type: ignore[arg-type]
    out = run(form([g], ["财政项目支出绩效自评表", "（2023年度）"]))
    assert out.record == CENTRAL_EXPECTED
    assert out.unplaced == []


def test_central_layout_provenance_points_at_the_source_cell() -> None:
    g = grid(_joined(central_rows()), page_breaks=(13,))  # type: ignore[arg-type]
    out = run(form([g], ["财政项目支出绩效自评表", "（2023年度）"]))
    by_text = {c.id: c for c in g.cells}
    prov = out.fields["funding[0].executed"]
    assert prov.source_text == "9,702.07" and prov.extractor == "layout"
    cell = next(c for c in by_text.values() if c.text == "9,702.07" and c.row == 3)
    assert prov.bbox == cell.bbox and prov.page == 1
    # The continuation row after the page break sits on page 2 and inherits its levels.
    assert out.fields["indicators[3].name"].page == 2
    inherited = out.fields["indicators[3].level1"]
    assert inherited.page == 1 and inherited.signals["inherited"] == 1.0
    assert inherited.confidence < out.fields["indicators[0].level1"].confidence
    # Every leaf with a value has provenance (contract §2); nulls have none.
    for i, ind in enumerate(out.record.indicators):
        for name, value in ind.model_dump().items():
            assert (f"indicators[{i}].{name}" in out.fields) == (value is not None), (i, name)
    for name in ("project_name", "funding_unit", "goal_expected", "total_score", "grade", "year"):
        assert name in out.fields
    assert "funding[1].weight" not in out.fields


def test_labelled_total_row_and_unwrapped_labels() -> None:
    # Labels still wrapped over lines ("一级指\n标") and a printed 总分 label.
    g = grid(central_rows(total_label="总分"), page_breaks=(13,))  # type: ignore[arg-type]
    out = run(form([g], ["财政项目支出绩效自评表", "（2023年度）"]))
    assert out.record.total_weight == 100.0 and out.record.total_score == 94.46
    assert out.record.indicators[0].level1 == "产出指标"
    assert out.record.funding_unit == "万元"
    assert out.record.goal_expected == GOAL_E.replace("\n", "")


AB_ROWS: list[list[object]] = [
    ["项目名称", C("市民云运营", cs=6)],
    ["市级主管部门", C("上海市某局", cs=2), "项目实施单位", C("上海市某中心", cs=3)],
    [
        C("项目资金（万元）", rs=3),
        "",
        "年初预算数",
        "全年预算数（A）",
        "全年执行数（B）",
        "分值",
        "执行率（B/A）",
    ],
    ["年度资金总额", "1,000.00", "800.00", "600.00", "10", "75.00%"],
    ["其中：本年财政拨款", "1,000.00", "800.00", "600.00", "—", "75.00%"],
    [C("年度总体目标", rs=2), C("预期目标", cs=2), C("实际完成情况", cs=4)],
    [C("目标甲", cs=2), C("完成甲", cs=4)],
    ["一级指标", "二级指标", "三级指标", "年度指标值（A）", "实际完成值（B）", "分值", "得分"],
    [C("产出指标(50分)", rs=2), "数量指标", "服务人次", "≥10万", "12万", "50", "50"],
    ["质量指标", "差错率", "≤1%", "2%", "0", "0"],
    [C("效益指标（40分）"), "社会效益指标", "覆盖面", "提升", "达成", "40", "40"],
    [C("总分", cs=5), "100", "97.5"],
    [C("自评等级", cs=5), "优"],
]


def test_ab_labels_variant() -> None:
    out = run(form([grid(AB_ROWS)], ["2024年度财政项目支出绩效自评表"]))
    r = out.record
    assert (r.year, r.title) == (2024, "2024年度财政项目支出绩效自评表")
    assert r.competent_department == "上海市某局" and r.implementing_unit == "上海市某中心"
    assert [f.kind for f in r.funding] == ["total", "fiscal"]
    assert r.funding[0].annual_budget == 800.0 and r.funding[0].executed == 600.0
    assert r.funding[0].execution_rate == 75.0 and r.funding[0].weight == 10.0
    assert r.funding[1].weight is None and r.funding[0].score is None
    assert [i.level1 for i in r.indicators] == ["产出指标", "产出指标", "效益指标"]
    assert [i.level2 for i in r.indicators] == ["数量指标", "质量指标", "社会效益指标"]
    assert r.indicators[1].target_text == "≤1%" and r.indicators[1].score == 0.0
    assert (r.total_weight, r.total_score, r.grade) == (100.0, 97.5, "优")
    assert r.goal_expected == "目标甲" and r.goal_actual == "完成甲"
    # (A)/(B)/(50分) suffixes match as labels but not exactly: confidence says so.
    assert out.fields["indicators[0].target_text"].signals["label_match"] == 1.0
    assert out.unplaced == []


SPLIT_ROWS: list[list[object]] = [
    ["项目名称", C("农村公路养护", cs=10)],
    ["主管部门", C("某县交通运输局", cs=4), "实施单位", C("某县公路事务中心", cs=5)],
    [
        C("预算执行情况(10分)", rs=6),
        "",
        "年初预算",
        "调整后预算数",
        "预算执行数",
        "预算执行率",
        "权重",
        "得分",
        C("原因", cs=3),
    ],
    ["总额", "500", "520", "510", "98.08%", "10", "9.81", C("", cs=3)],
    ["其中：财政资金", "500", "520", "510", "98.08%", "/", "/", C("", cs=3)],
    ["财政专户管理资金", "0", "0", "0", "", "", "", C("", cs=3)],
    ["单位资金", "0", "0", "0", "", "", "", C("", cs=3)],
    ["其他资金", "0", "0", "0", "", "", "", C("", cs=3)],
    [C("年度目标", rs=2), C("项目年度目标", cs=5), C("年度目标完成情况", cs=5)],
    [C("养护里程100公里", cs=5), C("完成养护102公里", cs=5)],
    [C("绩效指标(90分)", cs=11)],
    [
        "一级指标",
        "二级指标",
        "三级指标",
        "指标性质",
        "指标值",
        "度量单位",
        "完成值",
        "权重",
        "得分",
        C("未完成原因分析", cs=2),
    ],
    [
        C("产出指标", rs=2),
        C("数量指标", rs=2),
        "养护里程",
        "≥",
        "100",
        "公里",
        "102",
        "30",
        "30",
        C("", cs=2),
    ],
    ["优良路率", "≥", "80", "%", "78", "30", "29", C("雨季影响", cs=2)],
    [
        C("满意度指标"),
        "服务对象满意度指标",
        "群众满意度",
        "≥",
        "90",
        "%",
        "93",
        "30",
        "30",
        C("", cs=2),
    ],
    [C("总分", cs=7), "100", "98.81", C("", cs=2)],
    [C("评价结论"), C("项目完成较好", cs=10)],
    [C("存在问题"), C("个别路段雨季受损", cs=10)],
    [C("改进措施"), C("加强巡查", cs=10)],
]


def test_split_target_variant_joins_operator_value_unit() -> None:
    out = run(form([grid(SPLIT_ROWS)], ["部门预算项目支出绩效自评表", "(2023年度)"]))
    r = out.record
    assert r.year == 2023
    assert [(f.label, f.kind) for f in r.funding] == [
        ("总额", "total"),
        ("其中：财政资金", "fiscal"),
        ("财政专户管理资金", "special_account"),
        ("单位资金", "unit_funds"),
        ("其他资金", "other"),
    ]
    assert r.funding[0].execution_rate == 98.08 and r.funding[0].score == 9.81
    assert r.funding[1].weight is None and r.funding[2].execution_rate is None
    assert [i.target_text for i in r.indicators] == ["≥100公里", "≥80%", "≥90%"]
    assert [i.actual_text for i in r.indicators] == ["102", "78", "93"]
    assert r.indicators[1].deviation_reason == "雨季影响"
    assert r.indicators[1].level2 == "数量指标"
    assert (r.total_weight, r.total_score) == (100.0, 98.81)
    assert r.goal_expected == "养护里程100公里" and r.goal_actual == "完成养护102公里"
    # 评价结论 / 存在问题 / 改进措施 are not part of the record, and not "unplaced" either.
    assert out.unplaced == []
    assert "项目完成较好" not in r.model_dump_json()
    assert r.funding_unit is None  # no unit printed: not guessed


def test_two_row_header_with_split_target_subcolumns() -> None:
    rows: list[list[object]] = [
        [
            C("一级指标", rs=2),
            C("二级指标", rs=2),
            C("三级指标", rs=2),
            C("年度指标值", cs=3),
            C("实际完成值", rs=2),
            C("分值", rs=2),
            C("得分", rs=2),
        ],
        ["指标性质", "指标值", "度量单位"],
        ["产出指标", "数量指标", "培训人次", "≥", "500", "人次", "650", "20", "20"],
    ]
    out = run(form([grid(rows)]))
    ind = out.record.indicators
    assert len(ind) == 1 and ind[0].target_text == "≥500人次" and ind[0].actual_text == "650"
    assert ind[0].weight == 20.0


def test_table_broken_into_two_grids_with_and_without_repeated_header() -> None:
    head = [
        "一级指标",
        "二级指标",
        "三级指标",
        "年度指标值",
        "实际完成值",
        "分值",
        "得分",
        "偏差原因分析",
    ]
    first = grid(
        [
            head,
            [C("产出指标", rs=2), "数量指标", "甲", "≥1", "2", "10", "10", ""],
            ["质量指标", "乙", "=100%", "100%", "10", "10", ""],
        ],
        gid="g1",
        id_prefix="a",
    )
    # Continuation without a repeated header; its level cells are blank (page break).
    second = grid(
        [
            ["", "", "丙", "≥5", "5", "10", "10", ""],
            [C("效益指标"), "社会效益指标", "丁", "提升", "达成", "20", "18", "略"],
        ],
        gid="g2",
        page=2,
        id_prefix="b",
    )
    # A third part repeating the header row.
    third = grid(
        [head, ["", "", "戊", "好", "好", "10", "10", ""]], gid="g3", page=3, id_prefix="d"
    )
    out = run(form([first, second, third]))
    names = [(i.name, i.level1, i.level2) for i in out.record.indicators]
    assert names == [
        ("甲", "产出指标", "数量指标"),
        ("乙", "产出指标", "质量指标"),
        ("丙", "产出指标", "质量指标"),
        ("丁", "效益指标", "社会效益指标"),
        ("戊", "效益指标", "社会效益指标"),
    ]
    assert out.fields["indicators[2].level1"].page == 1
    assert out.fields["indicators[4].name"].page == 3


def test_borderless_grid_lowers_confidence_but_reads_the_same() -> None:
    ruled = run(form([grid(_joined(AB_ROWS))]))  # type: ignore[arg-type]
    loose = run(form([grid(_joined(AB_ROWS), ruled=False)]))  # type: ignore[arg-type]
    assert loose.record == ruled.record
    a, b = ruled.fields["funding[0].executed"], loose.fields["funding[0].executed"]
    assert b.confidence < a.confidence and b.signals["ruled"] == 0.0


def test_label_and_value_in_one_cell_and_money_in_yuan() -> None:
    rows: list[list[object]] = [
        [C("项目名称：社区养老服务补贴", cs=4)],
        [C("主管单位 某区民政局", cs=2), C("实施单位：某街道办事处", cs=2)],
        ["资金情况（元）", "年初批复数", "变动后预算数", "预算执行数"],
        [C("中央补助"), "1,200", "1,200", "1,150"],
    ]
    out = run(form([grid(rows)]))
    r = out.record
    assert r.project_name == "社区养老服务补贴"
    assert r.competent_department == "某区民政局" and r.implementing_unit == "某街道办事处"
    assert r.funding_unit == "元"
    assert r.funding[0].kind == "fiscal" and r.funding[0].executed == 1150.0
    assert out.fields["project_name"].signals["label_match"] < 1.0


def test_unplaced_cells_and_missing_sections_are_reported_not_guessed() -> None:
    rows: list[list[object]] = [
        ["项目名称", "某项目"],
        ["备用字段", "一段没有标签可以解释的文字"],
    ]
    out = run(form([grid(rows)]))
    assert out.record.project_name == "某项目"
    assert out.record.funding == [] and out.record.indicators == []
    unplaced_texts = {c.text for c in form([grid(rows)]).grids[0].cells if c.id in out.unplaced}
    assert unplaced_texts == {"备用字段", "一段没有标签可以解释的文字"}
    codes = {f.code for f in out.flags}
    assert codes == {UNPLACED_CODE, SECTION_MISSING_CODE}
    assert all(f.origin == "extraction" for f in out.flags)
    assert all(f.severity == "info" for f in out.flags if f.code == UNPLACED_CODE)
    missing = {p for f in out.flags for p in f.fields}
    assert {"funding", "indicators", "goal_expected", "total_score"} <= missing
    # the two tables ingestion did not find send the form to review
    warned = {p for f in out.flags if f.code == SECTION_MISSING_CODE for p in f.fields}
    assert warned == {"funding", "indicators"}
    assert all(f.severity == "warning" for f in out.flags if f.code == SECTION_MISSING_CODE)


def test_unparseable_number_is_null_and_unplaced() -> None:
    rows: list[list[object]] = [
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "数量指标", "甲", "≥1", "2", "十分", "8.00 8.00"],
    ]
    out = run(form([grid(rows)]))
    ind = out.record.indicators[0]
    assert ind.weight is None and ind.score is None
    texts = {c.text for c in form([grid(rows)]).grids[0].cells if c.id in out.unplaced}
    assert texts == {"十分", "8.00 8.00"}


def test_unsupported_form_kind_is_flagged_not_extracted() -> None:
    out = run(form([grid(AB_ROWS)], kind="department"))
    assert out.record == FormRecord()
    assert any(f.code == UNPLACED_CODE for f in out.flags)


def test_registered_as_the_layout_extractor() -> None:
    with open_extractor("layout") as ex:
        assert isinstance(ex, Extractor) and ex.name == "layout"
        out = ex.extract(form([grid(AB_ROWS)]), LayoutText(), doc_sha256="0" * 64)
    assert out.record.project_name == "市民云运营"
    assert out.stats.extractor == "layout"


@pytest.mark.parametrize(
    "widths",
    [(30.0,) * 11, (120.0, 20.0, 300.0, 15.0, 80.0, 80.0, 10.0, 200.0, 33.0, 33.0, 33.0)],
)
def test_other_column_widths_do_not_matter(widths: tuple[float, ...]) -> None:
    base = run(form([grid(_joined(central_rows()), page_breaks=(13,))]))  # type: ignore[arg-type]
    other = run(
        form([grid(_joined(central_rows()), page_breaks=(13,), widths=widths)])  # type: ignore[arg-type]
    )
    assert other.record == base.record


def test_sections_drawn_as_separate_grids() -> None:
    """Each block its own table with its own columns (how many generators draw the form).

    Every grid numbers its cells from c0: colliding ids must not make one cell count as another.
    """
    header = grid(
        [["项目名称", C("某项目", cs=3)], ["主管部门", "甲局", "实施单位", "乙中心"]],
        gid="h",
    )
    funding = grid(
        [
            [
                C("项目资金（万元）", rs=2),
                "",
                "年初预算数",
                "全年预算数",
                "全年执行数",
                "分值",
                "执行率",
                "得分",
            ],
            ["年度资金总额", "10", "10", "9", "10", "90.00", "9.00"],
        ],
        gid="f",
    )
    goals = grid(
        [[C("年度总体目标", rs=2), "预期目标", "实际完成情况"], ["甲目标", "甲完成"]],
        gid="o",
    )
    table = grid(
        [
            [
                "一级指标",
                "二级指标",
                "三级指标",
                "年度指标值",
                "实际完成值",
                "分值",
                "得分",
                "偏差原因分析",
            ],
            ["产出指标", "数量指标", "甲", "≥1", "2", "90", "85", "略"],
        ],
        gid="t",
    )
    total = grid([["100", "94.00"]], gid="s")
    grade = grid([["评分等级", "优"]], gid="r")
    out = run(form([header, funding, goals, table, total, grade]))
    r = out.record
    assert r.project_name == "某项目" and r.implementing_unit == "乙中心"
    assert r.funding[0].score == 9.0 and r.funding_unit == "万元"
    assert (r.goal_expected, r.goal_actual) == ("甲目标", "甲完成")
    assert r.indicators[0].deviation_reason == "略"
    assert (r.total_weight, r.total_score, r.grade) == (100.0, 94.0, "优")
    assert out.unplaced == []


def test_borderless_wrapped_goal_lines_as_rows_are_joined() -> None:
    """Without rulings, each wrapped line of a tall goal cell may come as a row of its own."""
    rows: list[list[object]] = [
        ["年度总体目标", "预期目标", "实际完成情况"],
        ["", "完成甲乙", "已完成甲"],
        ["", "两项工作。", "和乙。"],
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "数量指标", "甲", "≥1", "2", "90", "90"],
    ]
    out = run(form([grid(rows, ruled=False)]))
    assert out.record.goal_expected == "完成甲乙两项工作。"
    assert out.record.goal_actual == "已完成甲和乙。"
    assert out.fields["goal_expected"].signals["cells"] == 2.0
    # The same shape in a ruled table is two separate cells: nothing is joined.
    ruled = run(form([grid(rows, ruled=True)]))
    assert ruled.record.goal_expected == "完成甲乙"


def test_block_label_only_goal_and_fields_outside_the_record() -> None:
    rows: list[list[object]] = [
        ["项目名称", "甲", "项目负责人", "张三"],
        ["联系电话", "12345", "实施单位", "乙"],
        ["年度总体目标", C("全年完成甲项目建设", cs=3)],
    ]
    out = run(form([grid(rows)]))
    assert out.record.goal_expected == "全年完成甲项目建设"
    assert out.record.implementing_unit == "乙"
    assert out.unplaced == []  # 项目负责人 / 联系电话 are known, not "unplaced"
    assert "张三" not in out.record.model_dump_json()


def test_other_template_single_header_row_repeated_levels_and_section_rows() -> None:
    """A template we do not draw: header fields on one row, a 资金来源 column, level labels
    repeated on every row (no merging), a full-width section row per 一级 with its weight."""
    rows: list[list[object]] = [
        [
            "项目名称",
            "智慧养老平台",
            "主管单位",
            "某市民政局",
            "项目实施单位",
            "某市养老中心",
            "",
            "",
        ],
        ["资金来源", "年初批复数", "调整后预算数", "预算执行数", "资金执行率", "分数", "得分", ""],
        ["总额：", "200.00", "180.00", "171.00", "95.00", "10.00", "9.50", ""],
        ["其中：中央补助", "100.00", "90.00", "90.00", "100.00", "", "", ""],
        ["其中：财政资金", "100.00", "90.00", "81.00", "90.00", "", "", ""],
        [
            "一级指标",
            "二级指标",
            "指标名称",
            "目标值",
            "全年实际值",
            "权重",
            "得分",
            "偏差原因及整改措施",
        ],
        [C("一、产出指标（50分）", cs=8)],
        ["产出指标", "数量指标", "接入老人数", "≥1000人", "1200人", "25", "25", ""],
        ["产出指标", "质量指标", "系统可用率", "≥99%", "98%", "25", "24", "机房断电"],
        [C("二、满意度指标（40分）", cs=8)],
        ["满意度指标", "服务对象满意度指标", "老人满意度", "≥90%", "92%", "40", "40", "无"],
        [C("合计", cs=5), "100", "98.50", ""],
        [C("评价等级：优", cs=8)],
    ]
    out = run(form([grid(rows)], ["2022年度项目支出绩效自评表"]))
    r = out.record
    assert (r.project_name, r.competent_department, r.implementing_unit) == (
        "智慧养老平台",
        "某市民政局",
        "某市养老中心",
    )
    assert [(f.label, f.kind) for f in r.funding] == [
        ("总额：", "total"),
        ("其中：中央补助", "fiscal"),
        ("其中：财政资金", "fiscal"),
    ]
    assert r.funding[0].execution_rate == 95.0 and r.funding[0].initial_budget == 200.0
    assert [(i.level1, i.level2, i.name) for i in r.indicators] == [
        ("产出指标", "数量指标", "接入老人数"),
        ("产出指标", "质量指标", "系统可用率"),
        ("满意度指标", "服务对象满意度指标", "老人满意度"),
    ]
    assert r.indicators[1].deviation_reason == "机房断电"
    assert r.indicators[2].deviation_reason == "无"  # printed text is kept as printed
    assert (r.total_weight, r.total_score, r.grade, r.year) == (100.0, 98.5, "优", 2022)
    assert r.funding_unit is None
    assert out.unplaced == []


def test_a_failing_section_is_flagged_and_the_rest_still_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: LayoutExtractor, run: object, record: object) -> None:
        raise ValueError("odd grid")

    monkeypatch.setattr(LayoutExtractor, "_funding", broken)
    out = run(form([grid(AB_ROWS)]))
    assert out.record.project_name == "市民云运营" and len(out.record.indicators) == 3
    errors = [f for f in out.flags if f.code == ERROR_CODE]
    assert len(errors) == 1 and "odd grid" in errors[0].message


_TEXTS = st.sampled_from(
    [
        "项目名称",
        "一级指标",
        "三级指标",
        "分值",
        "得分",
        "年初预算数",
        "全年预算数",
        "总分",
        "年度资金总额",
        "预期目标",
        "评分等级",
        "产出指标(50分)",
        "8.00",
        "-",
        "",
        "≥95%",
        "上海市大数据中心",
        "评价结论",
        "100",
        "其中：当年财政拨款",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(_TEXTS, min_size=1, max_size=8), min_size=1, max_size=12),
    st.booleans(),
)
def test_never_raises_and_output_validates_on_arbitrary_grids(
    rows: list[list[str]], ruled: bool
) -> None:
    out = run(form([grid(rows, ruled=ruled)]))  # type: ignore[arg-type]
    FormRecord.model_validate(out.record.model_dump())
    assert not [f for f in out.flags if f.code == ERROR_CODE]
    for path, prov in out.fields.items():
        assert 0.0 <= prov.confidence <= 1.0, path


def test_level1_column_inferred_when_its_header_is_unreadable() -> None:
    rows: list[list[object]] = [
        ["级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        [C("产出指标", rs=2), "数量指标", "甲", "≥1", "2", "50", "50"],
        ["质量指标", "乙", "≥1", "1", "50", "50"],
    ]
    out = run(form([grid(rows)]))
    assert [i.level1 for i in out.record.indicators] == ["产出指标", "产出指标"]
    # A guessed column: lower confidence than the same value under a readable header.
    assert out.fields["indicators[0].level1"].signals["label_match"] == 0.6
    # With an unrelated label in that position nothing is guessed.
    rows[0][0] = "备注"
    out = run(form([grid(rows)]))
    assert [i.level1 for i in out.record.indicators] == [None, None]


def test_funding_block_label_on_a_row_is_not_taken_for_the_row_label() -> None:
    rows: list[list[object]] = [
        ["", "", "年初预算数", "全年预算数", "全年执行数"],
        ["", "年度资金总额", "10", "10", "9"],
        ["项目资金（万元）", "其中：当年财政拨款", "10", "10", "9"],
    ]
    out = run(form([grid(rows, ruled=False)]))
    assert [f.label for f in out.record.funding] == ["年度资金总额", "其中：当年财政拨款"]
    assert out.record.funding_unit == "万元"


def test_borderless_side_by_side_goals_starting_on_the_label_row() -> None:
    """Borderless: the tall 实际完成情况 text starts on the label row, left of its label."""
    rows: list[list[object]] = [
        [
            C("年度总体目标"),
            "",
            C("预期目标", cs=2),
            "",
            C("实际成果甲部分", cs=3, rs=2),
            C("实际完成情况", cs=2),
        ],
        ["目标", C("预期甲", cs=4)],
        ["", C("预期乙", cs=4), "", C("实际乙部分", cs=5)],
        [
            "一级指标",
            "二级指标",
            "三级指标",
            "年度指标值",
            "实际完成值",
            "分值",
            "得分",
            "偏差原因分析",
        ],
    ]
    out = run(form([grid(rows, ruled=False)]))
    assert out.record.goal_expected == "预期甲预期乙"
    assert out.record.goal_actual == "实际成果甲部分实际乙部分"


def test_continuation_grid_with_other_columns_is_aligned_by_page_position() -> None:
    """A borderless table whose columns were inferred page by page: page 2 has no 一级 column
    and different column numbers; its cells are mapped to the header's columns by where they
    sit across the page. Overlapping header spans are split at the next header."""
    widths = (60.0, 60.0, 120.0, 60.0, 60.0, 40.0, 40.0)
    head = [
        ["一级指标", C("二级指标", cs=2), "年度指标值", "实际完成值", "分值", "得分"],
        ["产出指标", "数量指标", "甲", "≥1", "2", "50", "50"],
    ]
    first = grid(head, gid="g1", ruled=False, widths=widths)
    # 二级指标 spilled over the 三级 column in column inference; name the third column too.
    first.cells[1].colspan = 2
    first.cells.insert(2, Cell("c99", 0, 2, 1, 1, 1, first.cells[1].bbox, "三级指标"))
    first.col_bounds = [40.0 + sum(widths[:k]) for k in range(8)]
    # Page 2: columns start at the 二级 column; x positions match page 1's columns.
    rest = grid(
        [["质量指标", "乙", "≥1", "1", "40", "40"]],
        gid="g2",
        page=2,
        ruled=False,
        widths=widths[1:],
        id_prefix="p",
    )
    for cell in rest.cells:
        x0, y0, x1, y1 = cell.bbox
        cell.bbox = (x0 + widths[0], y0, x1 + widths[0], y1)
    out = run(form([first, rest]))
    names = [(i.level1, i.level2, i.name, i.weight) for i in out.record.indicators]
    assert names == [("产出指标", "数量指标", "甲", 50.0), ("产出指标", "质量指标", "乙", 40.0)]
    assert out.fields["indicators[1].name"].page == 2


def test_repeated_header_row_inside_a_joined_grid_is_skipped() -> None:
    """Ingestion may keep the header row a page repeats; it is neither an indicator nor a
    level label for the rows after it."""
    head = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"]
    rows: list[list[object]] = [
        head,
        [C("产出指标", rs=1), "数量指标", "甲", "≥1", "2", "50", "50"],
        head,
        ["", "质量指标", "乙", "≥1", "1", "50", "50"],
    ]
    out = run(form([grid(rows, page_breaks=(2,))]))
    assert [(i.level1, i.level2, i.name) for i in out.record.indicators] == [
        ("产出指标", "数量指标", "甲"),
        ("产出指标", "质量指标", "乙"),
    ]
    assert out.unplaced == []


def test_total_and_grade_printed_as_free_lines_under_the_table() -> None:
    from gridkit import line

    table = grid(
        [
            ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
            ["产出指标", "数量指标", "甲", "≥1", "2", "90", "85"],
        ]
    )
    f = form([table])
    # "总分  100  94.46" and "评分等级  优" on their own baselines; a stray number elsewhere.
    f.lines += [line("总分", 700.0), line("评分等级", 720.0)]
    f.lines += [
        TextLine("100", (400.0, 701.0, 420.0, 715.0)),
        TextLine("94.46", (450.0, 701.0, 480.0, 715.0)),
        TextLine("优", (450.0, 721.0, 462.0, 735.0)),
        TextLine("7", (450.0, 760.0, 460.0, 774.0)),
    ]
    f.line_pages = [1] * len(f.lines)
    out = run(f)
    assert (out.record.total_weight, out.record.total_score) == (100.0, 94.46)
    assert out.record.grade == "优"
    assert out.fields["total_score"].source_text == "94.46"


def test_trailer_in_its_own_grid_is_neither_record_nor_unplaced() -> None:
    table = grid(
        [
            ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
            ["产出指标", "数量指标", "甲", "≥1", "2", "90", "85"],
            [C("总分", cs=5), "100", "95"],
        ],
        gid="t",
        id_prefix="t",
    )
    trailer = grid([["评价结论", "较好"], ["存在问题"], ["个别指标未完成"]], gid="z", id_prefix="z")
    out = run(form([table, trailer]))
    assert out.unplaced == []
    assert "个别指标未完成" not in out.record.model_dump_json()
    assert out.record.total_score == 95.0
