"""Per-section inputs and response schemas for extractive LLM calls.

A form is cut into small sections (header, funding, goals, indicator chunks, totals) so that each
call fits an 8k context and a small model. Each section has a flat schema whose leaf values are
*spans*: `{"cell": "c13", "text": "16,124.45"}`, the id of a cell shown in the section and text
copied from it. The cell id is a Literal enum of the ids in the section (the server turns the
tool schema into a grammar, so an invented id cannot even be emitted), and validators — run by
instructor with the section's cells as validation `context` — check that the text occurs in that
cell. A failure is re-asked with the error text; what stays ungrounded becomes null + a flag.

Long texts (goals, deviation reasons) are whole cells by contract, so the model only names the
cell (`CellPick`): copying 300 characters through a 270M model is slow and lossy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    create_model,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from jixiao.extract import labels
from jixiao.extract.grounding import is_empty_mark, locate, locate_number, normalize
from jixiao.ingest.model import LayoutRow, LayoutText

SectionName = Literal["header", "funding", "goals", "indicators", "totals"]
SECTION_NAMES: tuple[SectionName, ...] = ("header", "funding", "goals", "indicators", "totals")

INDICATOR_CHUNK_ROWS = 5
# Characters of layout text per call: 8k tokens minus prompt, schema and answer; CJK is about
# one token per character with the Gemma tokenizer, so stay well under.
MAX_SECTION_CHARS = 3500

_CELL_ID_RE = re.compile(r"\[(c\d+)\]")


# --- section inputs ---------------------------------------------------------------------------


@dataclass(slots=True)
class SectionInput:
    """The rows one LLM call sees, and the cells it may cite."""

    name: SectionName
    chunk: int
    rows: list[LayoutRow]
    cells: dict[str, str]  # id -> cell text, only the cells shown in `rows`
    row_cells: list[list[str]] = field(default_factory=list)  # ids of each row, in order

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.rows)

    @property
    def key(self) -> str:
        return f"{self.name}#{self.chunk}"


def _row_key(row: LayoutRow) -> str:
    return normalize(_CELL_ID_RE.sub("", row.text))


def _has_any(row: LayoutRow, table: labels.SynonymTable) -> bool:
    key = _row_key(row)
    return any(normalize(s) in key for names in table.values() for s in names)


def _first(rows: list[LayoutRow], start: int, pred: Any) -> int | None:
    for i in range(start, len(rows)):
        if pred(rows[i]):
            return i
    return None


def _is_funding_start(row: LayoutRow) -> bool:
    return _has_any(row, labels.FUNDING_BLOCK) or _has_any(row, {"t": labels.FUNDING_ROWS["total"]})


def _is_goals_start(row: LayoutRow) -> bool:
    key = _row_key(row)
    return "总体目标" in key or _has_any(row, labels.GOALS)


def _is_indicator_header(row: LayoutRow) -> bool:
    key = _row_key(row)
    return "三级指标" in key or "一级指标" in key


def _is_totals(row: LayoutRow) -> bool:
    key = _row_key(row)
    return any(normalize(s) in key for names in labels.TOTALS.values() for s in names) and (
        "三级指标" not in key
    )


def _make_input(
    name: SectionName, chunk: int, rows: list[LayoutRow], layout: LayoutText
) -> SectionInput:
    cells: dict[str, str] = {}
    row_cells: list[list[str]] = []
    for row in rows:
        ids = [i for i in row.cell_ids if i in layout.cells]
        row_cells.append(ids)
        for i in ids:
            cells[i] = layout.cells[i].text
    return SectionInput(name=name, chunk=chunk, rows=rows, cells=cells, row_cells=row_cells)


def _clip(rows: list[LayoutRow]) -> list[LayoutRow]:
    out: list[LayoutRow] = []
    size = 0
    for row in rows:
        size += len(row.text) + 1
        if size > MAX_SECTION_CHARS and out:
            break
        out.append(row)
    return out


def split_sections(
    layout: LayoutText, *, chunk_rows: int = INDICATOR_CHUNK_ROWS
) -> list[SectionInput]:
    """Cut a form's rows into section inputs by their labels (synonyms, not coordinates).

    Boundaries: the funding block starts at 项目资金/年度资金总额, goals at 总体目标/预期目标,
    indicators at the 一级/三级指标 header, totals at 总分/合计/评分等级. A missing boundary
    leaves its section empty rather than guessing.
    """
    rows = [r for r in layout.rows if r.text.strip()]
    n = len(rows)
    f = _first(rows, 0, _is_funding_start)
    g = _first(rows, f or 0, _is_goals_start)
    i = _first(rows, g if g is not None else (f or 0), _is_indicator_header)
    t = _first(rows, (i + 1) if i is not None else 0, _is_totals)

    def end_of(start: int | None, *nexts: int | None) -> int:
        later = [x for x in nexts if x is not None and start is not None and x > start]
        return min(later) if later else n

    header_end = next((x for x in (f, g, i, t) if x is not None), min(n, 8))
    header_rows = rows[:header_end]
    # The funding block's own label carries the money unit ("项目资金（万元）").
    if f is not None:
        header_rows = [*header_rows, rows[f]]
    out = [_make_input("header", 0, _clip(header_rows), layout)]
    if f is not None:
        out.append(_make_input("funding", 0, _clip(rows[f : end_of(f, g, i, t)]), layout))
    if g is not None:
        out.append(_make_input("goals", 0, _clip(rows[g : end_of(g, i, t)]), layout))
    if i is not None:
        body = [r for r in rows[i + 1 : end_of(i, t)] if r.cell_ids and not _is_indicator_header(r)]
        for k in range(0, len(body), chunk_rows):
            out.append(_make_input("indicators", k // chunk_rows, body[k : k + chunk_rows], layout))
    if t is not None:
        out.append(_make_input("totals", 0, _clip(rows[t : t + 4]), layout))
    return out


# --- spans and their validators ---------------------------------------------------------------


def _context(info: ValidationInfo) -> dict[str, Any]:
    ctx = info.context
    if not isinstance(ctx, dict) or "cells" not in ctx:
        raise ValueError("internal: validation needs context={'cells': {...}}")
    return ctx


def _lenient(ctx: dict[str, Any]) -> bool:
    # The last attempt keeps what is grounded and nulls the rest instead of failing the whole
    # section: one bad value must not cost the good ones.
    return bool(ctx.get("lenient")) or ctx.get("attempt", 0) >= ctx.get("final_attempt", 1 << 30)


def _repair_cell(text: str, cells: dict[str, str], *, number: bool) -> str | None:
    """The only cell of the section that holds `text`, when the model named another one."""
    find = locate_number if number else locate
    hits = [cid for cid, ctext in cells.items() if find(text, ctext) is not None]
    return hits[0] if len(hits) == 1 else None


def _after_label(text: str) -> str | None:
    # The layout prints "年初预算数=16,124.45"; a model may copy the label with the value.
    head, sep, tail = text.partition("=")
    return tail if sep and head.strip() and tail.strip() else None


class _SpanBase(BaseModel):
    """A value copied from one cell. `source` is the cell's own text of the match."""

    model_config = ConfigDict(extra="ignore")
    cell: str
    text: str
    _source: str | None = PrivateAttr(default=None)
    _grounded: bool = PrivateAttr(default=False)

    _number: ClassVar[bool] = False

    @model_validator(mode="after")
    def _check_grounded(self, info: ValidationInfo) -> _SpanBase:
        ctx = _context(info)
        cells: dict[str, str] = ctx["cells"]
        find = locate_number if self._number else locate
        candidates = [self.text]
        tail = _after_label(self.text)
        if tail is not None:
            candidates.append(tail)
        for text in candidates:
            if self.cell in cells and (src := find(text, cells[self.cell])) is not None:
                self.text, self._source, self._grounded = text, src, True
                return self
        for text in candidates:
            fixed = _repair_cell(text, cells, number=self._number)
            if fixed is not None:
                self.cell, self.text = fixed, text
                self._source, self._grounded = find(text, cells[fixed]), True
                return self
        if _lenient(ctx):
            return self  # the section nulls it and records it (see _SectionBase)
        if self.cell not in cells:
            raise ValueError(f"cell {self.cell!r} is not shown; cite one of the [cN] ids")
        shown = cells[self.cell][:60]
        what = "the number" if self._number else "text"
        raise ValueError(
            f"{what} {self.text!r} is not in cell {self.cell} (which says {shown!r}); "
            "copy exactly from the cell you cite, or use null"
        )

    @property
    def grounded(self) -> bool:
        return self._grounded

    @property
    def source(self) -> str | None:
        return self._source


class _NumSpanBase(_SpanBase):
    _number: ClassVar[bool] = True


class _CellPickBase(BaseModel):
    """A whole cell, named by id (long texts: goals, deviation reasons)."""

    model_config = ConfigDict(extra="ignore")
    cell: str
    _grounded: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _check_cell(self, info: ValidationInfo) -> _CellPickBase:
        ctx = _context(info)
        cells: dict[str, str] = ctx["cells"]
        if self.cell in cells and not is_empty_mark(cells[self.cell]):
            self._grounded = True
            return self
        if _lenient(ctx):
            return self
        raise ValueError(f"cell {self.cell!r} is not a non-empty cell shown; use null instead")

    @property
    def grounded(self) -> bool:
        return self._grounded


# --- section schemas, built per call with the section's own cell ids --------------------------


@dataclass(frozen=True, slots=True)
class SectionModels:
    """The response model of one section call and its leaf types."""

    response: type[BaseModel]
    span: type[_SpanBase]
    num: type[_NumSpanBase]
    pick: type[_CellPickBase]


_TEXT = "text"
_NUM = "num"
_PICK = "pick"

HEADER_FIELDS: dict[str, tuple[str, str]] = {
    "title": (_TEXT, "form title, e.g. 财政项目支出绩效自评表"),
    "year": (_TEXT, "the year digits, e.g. 2023 from （2023年度）"),
    "project_name": (_TEXT, "项目名称"),
    "competent_department": (_TEXT, "主管部门 / 主管单位"),
    "implementing_unit": (_TEXT, "实施单位"),
    "funding_unit": (_TEXT, "money unit inside 项目资金（万元）, e.g. 万元"),
}
FUNDING_FIELDS: dict[str, tuple[str, str]] = {
    "label": (_TEXT, "row label, e.g. 年度资金总额 / 其中：当年财政拨款"),
    "initial_budget": (_NUM, "年初预算数"),
    "annual_budget": (_NUM, "全年预算数 / 调整后预算数"),
    "executed": (_NUM, "全年执行数 / 预算执行数"),
    "weight": (_NUM, "分值 / 权重"),
    "execution_rate": (_NUM, "执行率"),
    "score": (_NUM, "得分"),
}
GOALS_FIELDS: dict[str, tuple[str, str]] = {
    "goal_expected": (_PICK, "cell of 预期目标 / 年度目标 text"),
    "goal_actual": (_PICK, "cell of 实际完成情况 text"),
}
INDICATOR_FIELDS: dict[str, tuple[str, str]] = {
    "level1": (_TEXT, "一级指标"),
    "level2": (_TEXT, "二级指标"),
    "name": (_TEXT, "三级指标"),
    "target_text": (_TEXT, "年度指标值"),
    "actual_text": (_TEXT, "实际完成值"),
    "weight": (_NUM, "分值 / 权重"),
    "score": (_NUM, "得分"),
    "deviation_reason": (_PICK, "偏差原因分析 cell"),
}
TOTALS_FIELDS: dict[str, tuple[str, str]] = {
    "total_weight": (_NUM, "100 printed beside 总分"),
    "total_score": (_NUM, "总分 / 合计 score"),
    "grade": (_TEXT, "评分等级, e.g. 优"),
}

SECTION_FIELDS: dict[SectionName, dict[str, tuple[str, str]]] = {
    "header": HEADER_FIELDS,
    "funding": FUNDING_FIELDS,
    "goals": GOALS_FIELDS,
    "indicators": INDICATOR_FIELDS,
    "totals": TOTALS_FIELDS,
}
ROW_SECTIONS: dict[SectionName, str] = {"funding": "FundingRow", "indicators": "IndicatorRow"}


def _leaf_fields(
    spec: dict[str, tuple[str, str]], span: type, num: type, pick: type
) -> dict[str, Any]:
    kinds = {_TEXT: span, _NUM: num, _PICK: pick}
    return {
        name: (kinds[kind] | None, Field(None, description=desc))
        for name, (kind, desc) in spec.items()
    }


# pydantic's create_model typed loosely: these models exist only at run time.
_new_model: Any = create_model


def build_section_models(section: SectionInput) -> SectionModels:
    """The response model for one section; its cell ids are an enum in the schema.

    The enum is for the grammar only: validation accepts any string, so that a wrong id whose
    text sits in exactly one other cell can be repaired, and a wrong id is reported in words.
    """
    ids: list[Any] = list(section.cells) or ["c0"]
    cell_field: Any = (
        str,
        Field(description="id of the cell, from [cN]", json_schema_extra={"enum": ids}),
    )
    span: Any = _new_model("Span", __base__=_SpanBase, cell=cell_field, text=(str, ...))
    num: Any = _new_model("Number", __base__=_NumSpanBase, cell=cell_field, text=(str, ...))
    pick: Any = _new_model("Cell", __base__=_CellPickBase, cell=cell_field)
    fields = _leaf_fields(SECTION_FIELDS[section.name], span, num, pick)
    title = f"{section.name.capitalize()}Section"
    response: Any
    if section.name in ROW_SECTIONS:
        row: Any = _new_model(ROW_SECTIONS[section.name], __base__=_RowBase, **fields)
        n = max(1, len(section.rows))
        rows_field: Any = (list[row], Field(description="one entry per table row", max_length=n))
        response = _new_model(title, __base__=_SectionBase, rows=rows_field)
    else:
        response = _new_model(title, __base__=_SectionBase, **fields)
    return SectionModels(response=response, span=span, num=num, pick=pick)


class _RowBase(BaseModel):
    model_config = ConfigDict(extra="ignore")


_Leaf = _SpanBase | _CellPickBase


class _SectionBase(BaseModel):
    """Counts validation attempts (in the context) and nulls what stayed ungrounded.

    `ungrounded` is not in the JSON schema (the model never writes it); it is kept in the cached
    answer so that a cache hit reports the same flags as the call did.
    """

    model_config = ConfigDict(extra="ignore")
    ungrounded: SkipJsonSchema[list[str]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _count_attempt(cls, data: Any, info: ValidationInfo) -> Any:
        ctx = info.context
        if isinstance(ctx, dict):
            ctx["attempt"] = ctx.get("attempt", 0) + 1
        return data

    @model_validator(mode="after")
    def _drop_ungrounded(self) -> _SectionBase:
        def sweep(owner: BaseModel, prefix: str) -> None:
            for name in type(owner).model_fields:
                value = getattr(owner, name)
                if isinstance(value, _Leaf) and not value.grounded:
                    cited = getattr(value, "text", "")
                    self.ungrounded.append(f"{prefix}{name}: {value.cell} {cited!r}".strip())
                    setattr(owner, name, None)

        rows = getattr(self, "rows", None)
        if isinstance(rows, list):
            for i, row in enumerate(rows):
                sweep(row, f"rows[{i}].")
        else:
            sweep(self, "")
        return self


def validation_context(section: SectionInput, *, max_retries: int) -> dict[str, Any]:
    """The `context` instructor passes to the validators: the section's cells, and the attempt
    after which ungrounded values are nulled instead of re-asked."""
    return {"cells": dict(section.cells), "attempt": 0, "final_attempt": max_retries + 1}
