"""The blocks of a central-style form (header, 项目资金, 年度总体目标, indicator table), built as
Tables from a FormRecord and a set of printed labels. ruled, ab-labels, borderless, bundle and
scan differ only in labels, style and column proportions."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from jixiao.contract import FormRecord, Indicator
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
    wrap_text,
)

DEFAULT_TITLE = "财政项目支出绩效自评表"


@dataclass(frozen=True)
class Labels:
    """Printed labels of one layout; synonyms from scoring-rules.md."""

    project: str = "项目名称"
    department: str = "主管部门"
    unit: str = "实施单位"
    funding_block: str = "项目资金"
    initial: str = "年初预算数"
    annual: str = "全年预算数"
    executed: str = "全年执行数"
    funding_weight: str = "分数"
    rate: str = "执行率(%)"
    funding_score: str = "得分"
    goals: str = "年度总体目标"
    expected: str = "预期目标"
    actual: str = "实际完成情况"
    level1: str = "一级指标"
    level2: str = "二级指标"
    name: str = "三级指标"
    target: str = "年度指标值"
    actual_value: str = "实际完成值"
    weight: str = "分值"
    score: str = "得分"
    reason: str = "偏差原因分析"
    total: str = "总分"
    grade: str = "评分等级"
    level1_with_weight: bool = False
    indent: str = ""
    """Printed before goal paragraphs and funding sub-row labels, as many real forms do."""


CENTRAL = Labels()
AB = Labels(
    department="市级主管部门",
    annual="全年预算数（A）",
    executed="全年执行数（B）",
    funding_weight="分值",
    rate="执行率（B/A）",
    target="年度指标值（A）",
    actual_value="实际完成值（B）",
    reason="偏差原因分析及改进措施",
    level1_with_weight=True,
)


def central_labels(rng: random.Random) -> Labels:
    """The official labels with the small variations seen between real forms."""
    return Labels(
        funding_weight=rng.choice(["分数", "分值"]),
        reason=rng.choice(["偏差原因分析", "偏差原因分析及改进措施"]),
        grade=rng.choice(["评分等级", "评分等级", "自评等级"]),
        indent=rng.choice(["", "", "    ", "\u3000\u3000"]),
    )


def synonym_labels(rng: random.Random) -> Labels:
    """Central structure, but each label drawn from its synonyms in scoring-rules.md, so that
    readers are exercised on wording they will meet in other provinces' forms."""
    pick = rng.choice
    return Labels(
        department=pick(["主管部门", "主管单位", "主管部门"]),
        unit=pick(["实施单位", "项目实施单位"]),
        initial=pick(["年初预算数", "年初预算", "年初批复数"]),
        annual=pick(["全年预算数", "调整后预算数", "变动后预算数"]),
        executed=pick(["全年执行数", "预算执行数"]),
        funding_weight=pick(["分值", "分数", "权重"]),
        rate=pick(["执行率(%)", "预算执行率", "资金执行率"]),
        expected=pick(["预期目标", "项目年度目标"]),
        actual=pick(["实际完成情况", "年度目标完成情况"]),
        target=pick(["年度指标值", "指标值", "目标值"]),
        actual_value=pick(["实际完成值", "完成值", "全年实际值"]),
        weight=pick(["分值", "权重"]),
        reason=pick(["偏差原因分析及改进措施", "偏差原因分析", "偏差原因及整改措施"]),
        grade=pick(["评分等级", "自评等级"]),
        indent=pick(["", "    ", "\u3000\u3000"]),
    )


def text(value: str | None) -> str:
    return value or ""


def header_table(record: FormRecord, labels: Labels, width: float, rng: random.Random) -> Table:
    widths = jitter_widths(rng, [1.2, 3.3, 1.2, 3.3], width)
    return Table(
        widths,
        [
            [Cell(labels.project, 0), Cell(text(record.project_name), 1, 3, "left")],
            [
                Cell(labels.department, 0),
                Cell(text(record.competent_department), 1, align="left"),
                Cell(labels.unit, 2),
                Cell(text(record.implementing_unit), 3, align="left"),
            ],
        ],
    )


def funding_table(record: FormRecord, labels: Labels, width: float, rng: random.Random) -> Table:
    widths = jitter_widths(rng, [1.0, 2.1, 1.3, 1.3, 1.3, 0.75, 1.0, 0.75], width)
    block = labels.funding_block + (f"（{record.funding_unit}）" if record.funding_unit else "")
    rows = [
        [
            Cell(labels.initial, 2),
            Cell(labels.annual, 3),
            Cell(labels.executed, 4),
            Cell(labels.funding_weight, 5),
            Cell(labels.rate, 6),
            Cell(labels.funding_score, 7),
        ]
    ]
    # the empty corner cell above the row labels
    rows[0].insert(0, Cell("", 1))
    for row in record.funding:
        rows.append(
            [
                Cell(
                    row.label
                    if row.kind == "total" or row.label.startswith("其中")
                    # the other sub-rows are indented under "其中：" in many real forms
                    else labels.indent + row.label,
                    1,
                    align="left" if row.kind != "total" else "center",
                ),
                Cell(fmt_money(row.initial_budget), 2, align="right"),
                Cell(fmt_money(row.annual_budget), 3, align="right"),
                Cell(fmt_money(row.executed), 4, align="right"),
                Cell(fmt_num(row.weight), 5),
                Cell(fmt_num(row.execution_rate), 6),
                Cell(fmt_num(row.score), 7),
            ]
        )
    return Table(widths, rows, merges=[Merge(block, 0, 0, len(rows) - 1)])


def goals_table(record: FormRecord, labels: Labels, width: float, rng: random.Random) -> Table:
    label_w = rng.uniform(0.9, 1.2)
    widths = jitter_widths(rng, [label_w, 4.4, 4.4], width)
    return Table(
        widths,
        [
            [Cell(labels.expected, 1), Cell(labels.actual, 2)],
            [
                Cell(_indented(labels, record.goal_expected), 1, align="left", valign="top"),
                Cell(_indented(labels, record.goal_actual), 2, align="left", valign="top"),
            ],
        ],
        merges=[Merge(labels.goals, 0, 0, 1)],
        splittable={1},
    )


def _indented(labels: Labels, value: str | None) -> str:
    return labels.indent + value if value else ""


def level_groups(indicators: list[Indicator], level: int) -> list[tuple[int, int]]:
    """Runs (first, last) of consecutive rows sharing level1 (level=1) or level1+level2 (2)."""
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(indicators) + 1):
        if i == len(indicators) or _key(indicators[i], level) != _key(indicators[start], level):
            runs.append((start, i - 1))
            start = i
    return runs


def _key(ind: Indicator, level: int) -> tuple[str | None, ...]:
    return (ind.level1,) if level == 1 else (ind.level1, ind.level2)


def level1_label(indicators: list[Indicator], first: int, last: int, with_weight: bool) -> str:
    label = text(indicators[first].level1)
    weights = [ind.weight for ind in indicators[first : last + 1]]
    if with_weight and label and all(w is not None for w in weights):
        return f"{label}({fmt_plain(sum(w for w in weights if w is not None))}分)"
    return label


def indicator_table(
    record: FormRecord,
    labels: Labels,
    width: float,
    rng: random.Random,
    proportions: list[float] | None = None,
) -> Table:
    widths = jitter_widths(rng, proportions or [0.95, 0.95, 2.5, 1.35, 1.2, 0.75, 0.75, 2.3], width)
    rows: list[list[Cell]] = [
        [
            Cell(labels.level1, 0),
            Cell(labels.level2, 1),
            Cell(labels.name, 2),
            Cell(labels.target, 3),
            Cell(labels.actual_value, 4),
            Cell(labels.weight, 5),
            Cell(labels.score, 6),
            Cell(labels.reason, 7),
        ]
    ]
    inds = record.indicators
    for ind in inds:
        rows.append(
            [
                Cell(ind.name, 2, align="left"),
                Cell(text(ind.target_text), 3),
                Cell(text(ind.actual_text), 4),
                Cell(fmt_num(ind.weight), 5),
                Cell(fmt_num(ind.score), 6),
                Cell(text(ind.deviation_reason), 7, align="left"),
            ]
        )
    merges = [
        Merge(level1_label(inds, a, b, labels.level1_with_weight), 0, a + 1, b + 1)
        for a, b in level_groups(inds, 1)
    ]
    merges += [Merge(text(inds[a].level2), 1, a + 1, b + 1) for a, b in level_groups(inds, 2)]
    rows += total_rows(record, labels, first_value_col=5, ncols=8)
    return Table(widths, rows, merges=merges, header_rows=1)


def total_rows(
    record: FormRecord, labels: Labels, *, first_value_col: int, ncols: int
) -> list[list[Cell]]:
    rows = [
        [
            Cell(labels.total, 0, first_value_col),
            Cell(fmt_plain(record.total_weight), first_value_col),
            Cell(fmt_plain(record.total_score), first_value_col + 1),
            Cell("", first_value_col + 2, ncols - first_value_col - 2),
        ]
    ]
    if record.grade is not None:
        rows.append(
            [
                Cell(labels.grade, 0, first_value_col),
                Cell(record.grade, first_value_col, ncols - first_value_col),
            ]
        )
    return rows


def draw_title(flow: Flow, record: FormRecord, *, keep: float = 120.0) -> None:
    """Title and （year年度）, kept on one page with the first rows of the form."""
    st = flow.style
    title = record.title or DEFAULT_TITLE
    title_h = len(wrap_text(title, st.content_width, st.title_size)) * st.title_size * 1.4
    flow.ensure(title_h + keep)
    flow.centered(title, st.title_size, gap_after=4.0)
    if record.year is not None:
        flow.centered(f"（{record.year}年度）", st.font_size + 2, gap_after=8.0)


def draw_central_form(
    flow: Flow,
    record: FormRecord,
    labels: Labels,
    rng: random.Random,
    *,
    repeat_header: Callable[[int], bool],
    label_on_continuation: Callable[[int], bool],
) -> int:
    """One form in the official layout from the current position of the flow; returns the
    1-based page its title is on."""
    width = flow.style.content_width
    draw_title(flow, record)
    first = flow.page_number
    draw_table(flow, header_table(record, labels, width, rng))
    if record.funding:
        draw_table(flow, funding_table(record, labels, width, rng))
    draw_table(flow, goals_table(record, labels, width, rng))
    draw_table(
        flow,
        indicator_table(record, labels, width, rng),
        repeat_header=repeat_header,
        label_on_continuation=label_on_continuation,
    )
    return first


def draw_forms_one_per_page(
    flow: Flow,
    forms: list[FormRecord],
    labels: Labels,
    rng: random.Random,
    *,
    repeat_header: Callable[[int], bool],
    label_on_continuation: Callable[[int], bool],
) -> list[tuple[int, int]]:
    """Each form in the official layout starting on a new page; returns each form's 1-based
    (first, last) page."""
    pages: list[tuple[int, int]] = []
    for record in forms:
        flow.new_page()
        first = flow.page_number
        draw_central_form(
            flow,
            record,
            labels,
            rng,
            repeat_header=repeat_header,
            label_on_continuation=label_on_continuation,
        )
        pages.append((first, flow.page_number))
    return pages


def page_policy(rng: random.Random, p_true: float) -> Callable[[int], bool]:
    """A deterministic per-page yes/no (header repeated, label repeated) drawn from the seed."""
    salt = rng.randrange(1 << 30)
    return lambda page: random.Random(salt * 1009 + page).random() < p_true
