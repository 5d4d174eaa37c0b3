"""`bundle`: a 部门决算 appendix — several forms back to back in one PDF.

Maybe a cover page, a text page or a whole-department table first; each form starts right
after the previous one ends (mid-page), tables break across pages, and the indicator header is
repeated on some continuation pages and not on others. Page numbers in the footer."""

from __future__ import annotations

import random

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render.blocks import (
    central_labels,
    draw_central_form,
    page_policy,
    synonym_labels,
)
from jixiao.corpus.render.draw import (
    Cell,
    Flow,
    Table,
    draw_table,
    jitter_widths,
    new_document,
    seeded_style,
)

PageRange = tuple[int, int]

_DEPARTMENTS = ("上海市大数据中心", "某市财政局", "某区教育局", "某市卫生健康委员会")
_REPORT_TEXT = (
    "根据《项目支出绩效评价管理办法》和本年度绩效自评工作要求，本部门组织对纳入自评范围的"
    "项目开展了绩效自评。自评工作坚持客观公正、实事求是的原则，对照年初设定的绩效目标，"
    "逐项分析指标完成情况和偏差原因，形成自评结论。",
    "从自评结果看，各项目总体实施情况良好，预算执行较为规范，产出和效益指标基本完成。"
    "同时也存在部分绩效指标设置不够细化、预算执行进度不均衡等问题，下一步将加强绩效目标"
    "管理和结果应用，提高财政资金使用效益。",
)


def render(forms: list[FormRecord], seed: int) -> tuple[pymupdf.Document, list[PageRange]]:
    rng = random.Random(f"bundle:{seed}")
    flow = Flow(new_document(), seeded_style(rng, font_range=(8.0, 9.5)))
    if rng.random() < 0.7:
        flow.footer = rng.choice(["- {n} -", "第 {n} 页", "{n}"])
    repeat_header = page_policy(rng, 0.5)  # some continuation pages repeat it, some don't
    repeat_label = page_policy(rng, 0.5)
    department = rng.choice(_DEPARTMENTS)
    preamble = rng.choice(["none", "cover", "text", "department", "cover+text"])
    if "cover" in preamble:
        _cover(flow, department, forms[0].year)
    if "text" in preamble:
        _text_page(flow, department)
    if preamble == "department":
        _department_page(flow, department, rng)
    gap = rng.uniform(14, 30)
    # one template per document: a department prints all its forms with the same wording
    labels = synonym_labels(rng) if rng.random() < 0.5 else central_labels(rng)
    pages: list[PageRange] = []
    for record in forms:
        if flow.page is not None and not flow.at_top():
            flow.y += gap
        first = draw_central_form(
            flow,
            record,
            labels,
            rng,
            repeat_header=repeat_header,
            label_on_continuation=repeat_label,
        )
        pages.append((first, flow.page_number))
    flow.finish()
    return flow.doc, pages


def _cover(flow: Flow, department: str, year: int | None) -> None:
    st = flow.style
    flow.new_page()
    flow.y = st.page_height * 0.3
    flow.centered(f"{department}", st.title_size + 6, gap_after=20)
    flow.centered(f"{year or 2023}年度部门决算", st.title_size + 4, gap_after=40)
    flow.centered("附件：项目支出绩效自评表", st.title_size, gap_after=0)
    flow.new_page()


def _text_page(flow: Flow, department: str) -> None:
    st = flow.style
    if flow.page is None:
        flow.new_page()
    flow.centered("部门项目支出绩效自评情况说明", st.title_size, gap_after=12)
    flow.paragraph(f"{department}：", st.font_size + 1)
    for para in _REPORT_TEXT:
        flow.paragraph("\u3000\u3000" + para, st.font_size + 1)
    flow.y += st.font_size * 2


def _department_page(flow: Flow, department: str, rng: random.Random) -> None:
    """A 部门整体支出绩效自评表-like table: not a project form, it must not be taken for one."""
    st = flow.style
    flow.new_page()
    flow.centered("部门整体支出绩效自评表", st.title_size, gap_after=10)
    widths = jitter_widths(rng, [1.6, 3.0, 1.4, 1.4, 1.4], st.content_width)
    rows = [
        [Cell("部门名称", 0), Cell(department, 1, 4, "left")],
        [
            Cell("年度主要任务", 0),
            Cell("任务名称", 1),
            Cell("预算数", 2),
            Cell("执行数", 3),
            Cell("完成情况", 4),
        ],
        [
            Cell("", 0),
            Cell("履职保障", 1),
            Cell("1,200.00", 2),
            Cell("1,150.30", 3),
            Cell("完成", 4),
        ],
        [
            Cell("", 0),
            Cell("信息化建设", 1),
            Cell("3,400.00", 2),
            Cell("3,380.12", 3),
            Cell("完成", 4),
        ],
        [
            Cell("部门整体绩效目标", 0),
            Cell("保障部门正常运转，完成年度重点工作任务。", 1, 4, "left"),
        ],
    ]
    draw_table(flow, Table(widths, rows))
    flow.new_page()
