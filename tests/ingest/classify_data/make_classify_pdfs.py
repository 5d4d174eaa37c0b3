"""Make the fixtures of tests/ingest/test_classify.py (issue #16): whole documents as published,
where the forms we read sit among other tables.

- budget.pdf — a 部门预算: cover, ordinary budget tables (预算数 / 合计 columns, a 项目支出表 with
  a 项目名称 column, one table continued on the next page under "（续）"), then two project
  target-setting forms (项目支出绩效目标表, 财政项目支出绩效目标填报表 in the Sichuan column
  style), the first starting mid-page right under the last budget table;
- final.pdf — a 部门决算: final-account tables (执行数 / 决算数 / 合计), a text page, two project
  self-evaluations (the corpus's central layout), a 部门整体支出绩效自评表 with a 年度主要任务
  table, then one more ordinary table after the forms;
- noisy.pdf — titles as OCR leaves them (白评, spaced and 缋效, 整休…衣), a title that reads as
  both 自评 and 目标, and a target title over self-evaluation columns (a conflict).

Each file's truth (kind and page range of every form, title and pages of every ordinary table)
goes to expected.json. Drawn with the corpus's PyMuPDF primitives (jixiao.corpus.render.draw).
Run it again after changing it:

    .venv/bin/python tests/ingest/classify_data/make_classify_pdfs.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from jixiao.corpus.render.blocks import central_labels, draw_central_form
from jixiao.corpus.render.draw import (
    Cell,
    Flow,
    Merge,
    Style,
    Table,
    draw_table,
    new_document,
    save_document,
)
from jixiao.corpus.synth import generate_forms

HERE = Path(__file__).resolve().parent
Truth = dict[str, list[dict[str, Any]]]


def _style() -> Style:
    return Style(font_size=9.0, title_size=15.0)


def _title(flow: Flow, text: str, *, keep: float = 120.0, sub: str | None = None) -> None:
    st = flow.style
    flow.ensure(st.title_size * 1.4 + keep)
    flow.centered(text, st.title_size, gap_after=4.0)
    if sub:
        flow.centered(sub, st.font_size + 1, gap_after=6.0)


def _unit_line(flow: Flow, text: str) -> None:
    st = flow.style
    flow.paragraph(text, st.font_size, align="right")


def _money_table(
    flow: Flow, header: list[str], rows: list[list[str]], *, first_wide: bool = True
) -> None:
    n = len(header)
    weights = [2.4 if first_wide and i == 0 else 1.0 for i in range(n)]
    total = sum(weights)
    widths = [flow.style.content_width * w / total for w in weights]
    body = [
        [Cell(t, i, align="left" if i == 0 else "right") for i, t in enumerate(r)] for r in rows
    ]
    table = Table(widths, [[Cell(h, i) for i, h in enumerate(header)], *body], header_rows=1)
    draw_table(flow, table, repeat_header=lambda _p: True)


def _amounts(rng: random.Random, n: int) -> list[str]:
    return [f"{rng.uniform(10, 9000):,.2f}" for _ in range(n)]


def _ordinary_table(
    flow: Flow,
    rng: random.Random,
    title: str,
    header: list[str],
    labels: list[str],
    truth: list[dict[str, Any]],
    *,
    new_page: bool = True,
) -> None:
    """A budget / final-account table with a 合计 row; its truth entry records its pages."""
    if new_page:
        flow.new_page()
    _title(flow, title, sub=None)
    flow.paragraph("编制部门：某市教育局        单位：万元", flow.style.font_size)
    first = flow.page_number
    rows = [["合计", *_amounts(rng, len(header) - 1)]]
    rows += [[label, *_amounts(rng, len(header) - 1)] for label in labels]
    _money_table(flow, header, rows)
    truth.append({"title": title, "pages": [first, flow.page_number]})


def _continued_table(flow: Flow, rng: random.Random, truth: list[dict[str, Any]]) -> None:
    """A long table whose second page repeats the title with "（续）" (one table, not two)."""
    title = "一般公共预算支出功能分类预算表"
    header = ["科目编码", "科目名称", "合计", "基本支出", "项目支出"]
    flow.new_page()
    _title(flow, title)
    flow.paragraph("单位：万元", flow.style.font_size, align="right")
    first = flow.page_number
    codes = [f"2{rng.randint(1000, 9999)}" for _ in range(44)]
    names = ["教育管理事务", "普通教育", "职业教育", "成人教育", "教育费附加安排的支出"] * 9
    rows = [[c, names[i], *_amounts(rng, 3)] for i, c in enumerate(codes)]
    half = 30
    widths = [flow.style.content_width * w / 6.4 for w in (1.0, 2.4, 1.0, 1.0, 1.0)]
    head = [Cell(h, i) for i, h in enumerate(header)]

    def body(rs: list[list[str]]) -> list[list[Cell]]:
        return [[Cell(t, i) for i, t in enumerate(r)] for r in rs]

    draw_table(flow, Table(widths, [head, *body(rows[:half])], header_rows=1))
    flow.new_page()
    _title(flow, f"{title}（续）")
    draw_table(flow, Table(widths, [head, *body(rows[half:])], header_rows=1))
    truth.append({"title": title, "pages": [first, flow.page_number]})


def _target_form(
    flow: Flow, title: str, name: str, *, sichuan: bool, truth: list[dict[str, Any]]
) -> None:
    """A filled project target form: one money column (unit inline), 年度总体目标, indicators
    with 指标值 only; one row is 预算执行率 (an indicator, not an execution column)."""
    st = flow.style
    width = st.content_width
    if not flow.at_top():
        flow.y += 18
    _title(flow, title, sub="（2024年度）")
    first = flow.page_number
    w4 = [width * f for f in (0.2, 0.3, 0.2, 0.3)]
    head = Table(
        w4,
        [
            [Cell("项目名称", 0), Cell(name, 1, 3, "left")],
            [
                Cell("主管部门", 0),
                Cell("某市教育局", 1),
                Cell("实施单位", 2),
                Cell("某市教育局", 3),
            ],
            [Cell("项目资金", 0), Cell("年度资金总额", 1), Cell("250万", 2, 2)],
            [Cell("", 0), Cell("其中：财政拨款", 1), Cell("200万", 2, 2)],
            [Cell("", 0), Cell("其他资金", 1), Cell("50万", 2, 2)],
            [Cell("年度总体目标", 0), Cell(f"完成{name}年度任务，服务对象满意。", 1, 3, "left")],
        ],
        merges=[Merge("项目资金", 0, 2, 4)],
    )
    draw_table(flow, head)
    if sichuan:
        header = ["一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "权重"]
        rows = [
            ["产出指标", "数量指标", "培训人次", "≥", "500", "人次", "20"],
            ["产出指标", "质量指标", "结业合格率", "≥", "95", "%", "20"],
            ["产出指标", "时效指标", "预算执行率", "≥", "90", "%", "20"],
            ["效益指标", "社会效益指标", "覆盖学校数", "≥", "30", "所", "20"],
            ["满意度指标", "服务对象满意度指标", "学员满意度", "≥", "90", "%", "20"],
        ]
        weights = (0.13, 0.17, 0.24, 0.1, 0.12, 0.12, 0.12)
    else:
        header = ["一级指标", "二级指标", "三级指标", "指标值"]
        rows = [
            ["产出指标", "数量指标", "采购设备台数", "≥120台"],
            ["产出指标", "质量指标", "设备验收合格率", "100%"],
            ["产出指标", "时效指标", "预算执行率", "≥90%"],
            ["效益指标", "社会效益指标", "受益学生人数", "≥5000人"],
            ["满意度指标", "服务对象满意度指标", "师生满意度", "≥85%"],
        ]
        weights = (0.18, 0.22, 0.35, 0.25)
    widths = [width * f for f in weights]
    table = Table(
        widths,
        [
            [Cell("绩效指标", 0, len(header))],
            [Cell(h, i) for i, h in enumerate(header)],
            *[[Cell(t, i) for i, t in enumerate(r)] for r in rows],
        ],
        header_rows=2,
    )
    draw_table(flow, table)
    truth.append({"kind": "project_target", "title": title, "pages": [first, flow.page_number]})


def _department_form(flow: Flow, truth: list[dict[str, Any]], *, title: str, kind: str) -> None:
    """部门整体支出绩效自评表 with a 年度主要任务 table; the target variant has 指标值 only."""
    st = flow.style
    width = st.content_width
    if not flow.at_top():
        flow.y += 18
    self_eval = kind == "department"
    _title(flow, title, sub="（2023年度）")
    first = flow.page_number
    w = [width * f for f in (0.18, 0.27, 0.2, 0.15, 0.2)]
    task_cols = ["任务名称", "主要内容", "预算数", "执行数", "完成情况"]
    if not self_eval:
        task_cols = ["任务名称", "主要内容", "预算数", "", ""]
    tasks = [
        ["履职保障", "保障机关正常运转", "1,200.00", "1,150.30", "完成"],
        ["信息化建设", "建设教育管理平台", "3,400.00", "3,380.12", "完成"],
    ]
    rows = [
        [Cell("部门（单位）名称", 0), Cell("某市教育局", 1, 4, "left")],
        [Cell("年度主要任务", 0, 5)],
        [Cell(c, i) for i, c in enumerate(task_cols)],
        *[[Cell(t, i) for i, t in enumerate(r if self_eval else [*r[:3], "", ""])] for r in tasks],
        [
            Cell("部门整体绩效目标", 0),
            Cell("保障部门正常运转，完成年度重点工作任务。", 1, 4, "left"),
        ],
    ]
    draw_table(flow, Table(w, rows))
    header = ["一级指标", "二级指标", "三级指标", "年度指标值"]
    header += ["实际完成值", "分值", "得分"] if self_eval else []
    inds = [
        ["产出指标", "数量指标", "完成重点任务数", "≥10项", "12项", "20", "20"],
        ["效益指标", "社会效益指标", "政策知晓率", "≥90%", "93%", "20", "19"],
        ["满意度指标", "服务对象满意度指标", "群众满意度", "≥90%", "92%", "10", "10"],
    ]
    n = len(header)
    widths = [width / n] * n
    table = Table(
        widths,
        [
            [Cell(h, i) for i, h in enumerate(header)],
            *[[Cell(t, i) for i, t in enumerate(r[:n])] for r in inds],
        ],
        header_rows=1,
    )
    draw_table(flow, table)
    truth.append({"kind": kind, "title": title, "pages": [first, flow.page_number]})


BUDGET_TABLES = [
    (
        "2024年部门收支总表",
        ["项目", "预算数", "合计", "一般公共预算", "政府性基金"],
        ["一、一般公共预算拨款收入", "二、政府性基金预算拨款收入", "三、事业收入", "四、其他收入"],
    ),
    (
        "部门收入总表",
        ["项目", "合计", "财政拨款", "事业收入", "其他收入"],
        ["教育管理事务", "普通教育", "职业教育", "教育费附加安排的支出"],
    ),
    (
        "部门支出总表",
        ["项目", "合计", "基本支出", "项目支出"],
        ["教育管理事务", "普通教育", "职业教育", "其他教育支出"],
    ),
    (
        "财政拨款收支总表",
        ["项目", "预算数", "合计", "一般公共预算", "政府性基金"],
        ["一般公共服务支出", "教育支出", "社会保障和就业支出", "卫生健康支出"],
    ),
]


def make_budget(out: Path) -> Truth:
    rng = random.Random("budget")
    flow = Flow(new_document(), _style())
    flow.footer = "- {n} -"
    tables: list[dict[str, Any]] = []
    forms: list[dict[str, Any]] = []
    flow.new_page()
    flow.y = flow.style.page_height * 0.3
    flow.centered("某市教育局", 22, gap_after=20)
    flow.centered("2024年部门预算", 20, gap_after=20)
    for title, header, labels in BUDGET_TABLES:
        _ordinary_table(flow, rng, title, header, labels, tables)
    _continued_table(flow, rng, tables)
    # 项目支出表: a budget table listing projects under a 项目名称 column, no indicators.
    flow.new_page()
    _title(flow, "项目支出表")
    flow.paragraph("单位：万元", flow.style.font_size, align="right")
    first = flow.page_number
    rows = [["合计", "", "1,250.00"]] + [
        [f"某市教育局{i}", name, amount]
        for i, (name, amount) in enumerate(
            [("教师培训项目", "250.00"), ("教育装备采购", "600.00"), ("学生资助", "400.00")]
        )
    ]
    _money_table(flow, ["单位名称", "项目名称", "预算数"], rows, first_wide=False)
    tables.append({"title": "项目支出表", "pages": [first, flow.page_number]})
    # The target forms follow on the same page (mid-page), one after the other.
    _target_form(flow, "项目支出绩效目标表", "教师培训项目", sichuan=False, truth=forms)
    _target_form(flow, "财政项目支出绩效目标填报表", "教育装备采购", sichuan=True, truth=forms)
    flow.finish()
    save_document(flow.doc, str(out))
    return {"forms": forms, "tables": tables}


FINAL_TABLES = [
    (
        "收入支出决算总表",
        ["项目", "年初预算数", "全年预算数", "决算数"],
        [
            "一、一般公共预算财政拨款收入",
            "二、政府性基金预算财政拨款收入",
            "三、事业收入",
            "本年收入合计",
        ],
    ),
    (
        "财政拨款收入支出决算总表",
        ["项目", "年初预算数", "全年执行数", "合计"],
        [
            "一般公共预算财政拨款",
            "政府性基金预算财政拨款",
            "年初财政拨款结转和结余",
            "年末财政拨款结转和结余",
        ],
    ),
    (
        "一般公共预算财政拨款支出决算表",
        ["科目名称", "年初预算数", "全年预算数", "执行数", "合计"],
        ["教育管理事务", "普通教育", "职业教育", "其他教育支出"],
    ),
    (
        "“三公”经费支出决算表",
        ["项目", "预算数", "决算数", "合计"],
        ["因公出国（境）费", "公务用车购置及运行费", "公务接待费"],
    ),
]


def make_final(out: Path) -> Truth:
    rng = random.Random("final")
    flow = Flow(new_document(), _style())
    tables: list[dict[str, Any]] = []
    forms: list[dict[str, Any]] = []
    for title, header, labels in FINAL_TABLES:
        _ordinary_table(flow, rng, title, header, labels, tables)
    # A text page: the explanations that follow the tables.
    flow.new_page()
    flow.centered("第三部分 2023年度部门决算情况说明", 15, gap_after=12)
    for _ in range(3):
        flow.paragraph(
            "\u3000\u30002023年度收入总计12,345.67万元，支出总计12,001.23万元。与上年相比，收入"
            "增加456.78万元，主要原因是教育装备采购项目资金增加。",
            10,
        )
    # The self-evaluation appendix: two project forms back to back, then the department form.
    records = [f.record for f in generate_forms(16, 2, profile="central")]
    labels = central_labels(random.Random("final-labels"))
    flow.new_page()
    for record in records:
        if not flow.at_top():
            flow.y += 18
        first = draw_central_form(
            flow,
            record,
            labels,
            random.Random("final-form"),
            repeat_header=lambda _p: False,
            label_on_continuation=lambda _p: True,
        )
        forms.append(
            {"kind": "project", "title": record.title or "", "pages": [first, flow.page_number]}
        )
    _department_form(flow, forms, title="部门整体支出绩效自评表", kind="department")
    # One more ordinary table after the forms: it must not run on into the department form.
    _ordinary_table(
        flow,
        rng,
        "国有资产占用情况表",
        ["项目", "资产总额", "合计"],
        ["房屋", "车辆", "办公设备"],
        tables,
        new_page=False,
    )
    flow.finish()
    save_document(flow.doc, str(out))
    return {"forms": forms, "tables": tables}


def _self_form(flow: Flow, title: str, name: str, truth: list[dict[str, Any]], kind: str) -> None:
    """A small project self-evaluation (实际完成值 / 分值 / 得分) under the given title."""
    st = flow.style
    width = st.content_width
    if not flow.at_top():
        flow.y += 18
    _title(flow, title, sub="（2023年度）")
    first = flow.page_number
    w4 = [width * f for f in (0.2, 0.3, 0.2, 0.3)]
    draw_table(
        flow,
        Table(
            w4,
            [
                [Cell("项目名称", 0), Cell(name, 1, 3, "left")],
                [
                    Cell("主管部门", 0),
                    Cell("某市卫生健康委员会", 1),
                    Cell("实施单位", 2),
                    Cell("某医院", 3),
                ],
            ],
        ),
    )
    header = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"]
    rows = [
        ["产出指标", "数量指标", "筛查人数", "≥1000人", "1200人", "20", "20"],
        ["效益指标", "社会效益指标", "早诊率", "≥60%", "65%", "20", "20"],
        ["满意度指标", "服务对象满意度指标", "满意度", "≥90%", "95%", "10", "10"],
    ]
    draw_table(
        flow,
        Table(
            [width / 7] * 7,
            [
                [Cell(h, i) for i, h in enumerate(header)],
                *[[Cell(t, i) for i, t in enumerate(r)] for r in rows],
            ],
            header_rows=1,
        ),
    )
    truth.append({"kind": kind, "title": title, "pages": [first, flow.page_number]})


def make_noisy(out: Path) -> Truth:
    flow = Flow(new_document(), _style())
    forms: list[dict[str, Any]] = []
    flow.new_page()
    # 自 read as 白: still a self-evaluation.
    _self_form(flow, "项目支出绩效白评表", "癌症早筛项目", forms, "project")
    # Spaced out, 绩 read as 缋: a target form.
    _target_form(flow, "项 目 支 出 缋 效 目 标 表", "教师培训项目", sichuan=False, truth=forms)
    # 体 read as 休, 表 as 衣: a department target form.
    flow.new_page()
    _department_form(flow, forms, title="部门整休支出绩效目标衣", kind="department_target")
    # 评 read as 标: "绩效自标" is one character from both 自评 and 目标; the columns decide.
    flow.new_page()
    _self_form(flow, "项目支出绩效自标表", "慢病管理项目", forms, "project")
    # A target title over self-evaluation columns: conflicting signals, never guessed.
    _self_form(flow, "项目支出绩效目标表", "家庭医生签约项目", forms, "other")
    flow.finish()
    save_document(flow.doc, str(out))
    return {"forms": forms, "tables": []}


def main() -> None:
    truth = {
        "budget.pdf": make_budget(HERE / "budget.pdf"),
        "final.pdf": make_final(HERE / "final.pdf"),
        "noisy.pdf": make_noisy(HERE / "noisy.pdf"),
    }
    (HERE / "expected.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    for name, t in truth.items():
        print(
            name, [(f["kind"], f["pages"]) for f in t["forms"]], [x["pages"] for x in t["tables"]]
        )


if __name__ == "__main__":
    main()
