"""`split-target`: the Sichuan 部门预算项目支出绩效自评表 style.

A 预算执行情况(10分) block, a 绩效指标(90分) table whose targets are split into
指标性质 | 指标值 | 度量单位 (joined again they give target_text exactly), then
评价结论 / 存在问题 / 改进措施 rows that are not part of the record."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pymupdf

from jixiao.contract import FormRecord
from jixiao.corpus.render.blocks import (
    Labels,
    draw_title,
    header_table,
    level_groups,
    page_policy,
    text,
    total_rows,
)
from jixiao.corpus.render.draw import (
    Cell,
    Flow,
    Merge,
    Table,
    draw_table,
    fmt_money,
    fmt_num,
    fmt_plain,
    jitter_widths,
    new_document,
    seeded_style,
)

PageRange = tuple[int, int]

_TARGET = re.compile(r"^(≥|≤|>|<|=|＝|≧|≦)?([0-9]+(?:\.[0-9]+)?)([^0-9]{0,8})$")

_CONCLUSIONS = (
    "项目总体完成情况良好，绩效目标基本实现，资金使用规范。",
    "项目按计划实施，各项产出指标基本完成，社会效益较为明显。",
    "项目管理制度健全，资金拨付及时，达到了预期绩效目标。",
)
_PROBLEMS = (
    "部分指标设置不够细化，量化程度有待提高；预算执行进度前松后紧。",
    "绩效目标与项目实施内容的匹配度有待加强，过程监控不够及时。",
    "个别项目前期论证不充分，实施过程中存在调整情况。",
)
_MEASURES = (
    "进一步细化量化绩效指标，加强预算执行监控，确保资金按进度支出。",
    "加强项目前期论证，完善绩效目标编制，强化绩效结果应用。",
    "健全内部管理制度，加强跟踪问效，提升资金使用效益。",
)


def split_target(target: str | None) -> tuple[str, str, str]:
    """(指标性质, 指标值, 度量单位) with op + value + unit == target; qualitative targets go
    whole into the value cell."""
    if not target:
        return "", "", ""
    match = _TARGET.match(target)
    if match is None:
        return "", target, ""
    op, number, unit = match.group(1) or "", match.group(2), match.group(3)
    assert op + number + unit == target
    return op, number, unit


def render(forms: list[FormRecord], seed: int) -> tuple[pymupdf.Document, list[PageRange]]:
    rng = random.Random(f"split-target:{seed}")
    landscape = rng.random() < 0.5
    font_range = (8.0, 10.0) if landscape else (8.0, 9.0)
    flow = Flow(new_document(), seeded_style(rng, landscape=landscape, font_range=font_range))
    repeat_header = page_policy(rng, rng.choice([0.0, 1.0]))
    repeat_label = page_policy(rng, rng.choice([0.0, 1.0]))
    pages: list[PageRange] = []
    for record in forms:
        flow.new_page()
        first = flow.page_number
        _draw_form(flow, record, rng, repeat_header, repeat_label)
        pages.append((first, flow.page_number))
    flow.finish()
    return flow.doc, pages


def _draw_form(
    flow: Flow,
    record: FormRecord,
    rng: random.Random,
    repeat_header: Callable[[int], bool],
    repeat_label: Callable[[int], bool],
) -> None:
    st = flow.style
    width = st.content_width
    labels = Labels(
        expected=rng.choice(["预期目标", "项目年度目标"]),
        actual=rng.choice(["实际完成情况", "年度目标完成情况"]),
        grade=rng.choice(["评分等级", "自评等级"]),
        total=rng.choice(["总分", "合计"]),
    )
    draw_title(flow, record)
    if record.funding_unit:
        flow.paragraph(f"金额单位：{record.funding_unit}", st.font_size, align="right")
    draw_table(flow, header_table(record, labels, width, rng))
    if record.funding:
        draw_table(flow, _budget_table(record, width, rng))
    draw_table(flow, _goals_table(record, labels, width, rng))
    draw_table(
        flow,
        _indicator_table(record, labels, width, rng),
        repeat_header=repeat_header,
        label_on_continuation=repeat_label,
    )
    widths = jitter_widths(rng, [1.3, 8.7], width)
    remarks = [
        ("评价结论", rng.choice(_CONCLUSIONS)),
        ("存在问题", rng.choice(_PROBLEMS)),
        ("改进措施", rng.choice(_MEASURES)),
    ]
    draw_table(flow, Table(widths, [[Cell(k, 0), Cell(v, 1, align="left")] for k, v in remarks]))


def _budget_table(record: FormRecord, width: float, rng: random.Random) -> Table:
    widths = jitter_widths(rng, [1.1, 1.9, 1.15, 1.2, 1.2, 1.0, 0.65, 0.65, 1.4], width)
    null = rng.choice(["", "—", "-"])
    total = next((row for row in record.funding if row.kind == "total"), None)
    weight = total.weight if total is not None else None
    label = "预算执行情况" + (f"({fmt_plain(weight)}分)" if weight is not None else "")
    rows = [
        [
            Cell("", 1),
            Cell("年初预算", 2),
            Cell("调整后预算数", 3),
            Cell("预算执行数", 4),
            Cell("预算执行率", 5),
            Cell("权重", 6),
            Cell("得分", 7),
            Cell("原因", 8),
        ]
    ]
    for row in record.funding:
        rate = "" if row.execution_rate is None else f"{row.execution_rate:.2f}%"
        rows.append(
            [
                Cell(row.label, 1, align="left"),
                Cell(fmt_money(row.initial_budget), 2, align="right"),
                Cell(fmt_money(row.annual_budget), 3, align="right"),
                Cell(fmt_money(row.executed), 4, align="right"),
                Cell(rate or null, 5),
                Cell(fmt_num(row.weight, null=null), 6),
                Cell(fmt_num(row.score, null=null), 7),
                Cell("", 8),
            ]
        )
    return Table(widths, rows, merges=[Merge(label, 0, 0, len(rows) - 1)])


def _goals_table(record: FormRecord, labels: Labels, width: float, rng: random.Random) -> Table:
    widths = jitter_widths(rng, [1.1, 4.45, 4.45], width)
    return Table(
        widths,
        [
            [Cell(labels.expected, 1), Cell(labels.actual, 2)],
            [
                Cell(text(record.goal_expected), 1, align="left", valign="top"),
                Cell(text(record.goal_actual), 2, align="left", valign="top"),
            ],
        ],
        merges=[Merge(labels.goals, 0, 0, 1)],
        splittable={1},
    )


def _indicator_table(record: FormRecord, labels: Labels, width: float, rng: random.Random) -> Table:
    widths = jitter_widths(rng, [0.9, 0.95, 2.0, 0.55, 1.0, 0.7, 1.1, 0.6, 0.6, 1.8], width)
    inds = record.indicators
    weights = [ind.weight for ind in inds]
    total = sum(w for w in weights if w is not None)
    title = "绩效指标" + (f"({fmt_plain(total)}分)" if inds and None not in weights else "")
    rows: list[list[Cell]] = [
        [Cell(title, 0, 10)],
        [
            Cell("一级指标", 0),
            Cell("二级指标", 1),
            Cell("三级指标", 2),
            Cell("指标性质", 3),
            Cell("指标值", 4),
            Cell("度量单位", 5),
            Cell("完成值", 6),
            Cell("权重", 7),
            Cell("得分", 8),
            Cell("未完成原因分析", 9),
        ],
    ]
    for ind in inds:
        op, value, unit = split_target(ind.target_text)
        rows.append(
            [
                Cell(ind.name, 2, align="left"),
                Cell(op, 3),
                Cell(value, 4),
                Cell(unit, 5),
                Cell(text(ind.actual_text), 6),
                Cell(fmt_num(ind.weight), 7),
                Cell(fmt_num(ind.score), 8),
                Cell(text(ind.deviation_reason), 9, align="left"),
            ]
        )
    head = 2
    merges = [Merge(text(inds[a].level1), 0, a + head, b + head) for a, b in level_groups(inds, 1)]
    merges += [Merge(text(inds[a].level2), 1, a + head, b + head) for a, b in level_groups(inds, 2)]
    rows += total_rows(record, labels, first_value_col=7, ncols=10)
    return Table(widths, rows, merges=merges, header_rows=head)
