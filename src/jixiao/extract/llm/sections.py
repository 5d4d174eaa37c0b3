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
from jixiao.extract.grounding import is_empty_mark, locate, normalize, parse_number
from jixiao.ingest.model import LayoutRow, LayoutText

SectionName = Literal["header", "funding", "goals", "indicators", "totals"]
SECTION_NAMES: tuple[SectionName, ...] = ("header", "funding", "goals", "indicators", "totals")

INDICATOR_CHUNK_ROWS = 5
# Longest text span the model may copy (names, targets); longer texts are whole-cell picks.
MAX_SPAN_CHARS = 80
# Characters of layout text per call: 8k tokens minus prompt, schema and answer; CJK is about
# one token per character with the Gemma tokenizer, so stay well under.
MAX_SECTION_CHARS = 3500

_CELL_ID_RE = re.compile(r"\[(c\d+)\]")
# "[c13]年初预算数=16,124.45": the column label the serializer printed before a value.
_COLUMN_RE = re.compile(r"\[(c\d+)\]([^=|\[\]]{1,40})=")


# --- section inputs ---------------------------------------------------------------------------


@dataclass(slots=True)
class SectionInput:
    """The rows one LLM call sees, and the cells it may cite."""

    name: SectionName
    chunk: int
    rows: list[LayoutRow]
    cells: dict[str, str]  # id -> cell text, only the cells shown in `rows`
    row_cells: list[list[str]] = field(default_factory=list)  # ids of each row, in order
    columns: dict[str, str] = field(default_factory=dict)  # id -> column label ("年初预算数")

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


def _labels_only(row: LayoutRow, layout: LayoutText) -> bool:
    """A repeated column-header row: every cell is a label, no value."""
    texts = [layout.cells[i].text for i in row.cell_ids if i in layout.cells]
    return bool(texts) and all(labels.classify_any(t) is not None for t in texts if t.strip())


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
    columns = {
        m.group(1): m.group(2).strip()
        for row in rows
        for m in _COLUMN_RE.finditer(row.text)
        if m.group(1) in cells
    }
    return SectionInput(
        name=name, chunk=chunk, rows=rows, cells=cells, row_cells=row_cells, columns=columns
    )


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
    layout: LayoutText, *, chunk_rows: int = INDICATOR_CHUNK_ROWS, whole_form: bool = False
) -> list[SectionInput]:
    """Cut a form's rows into section inputs by their labels (synonyms, not coordinates).

    Boundaries: the funding block starts at 项目资金/年度资金总额, goals at 总体目标/预期目标,
    indicators at the 一级/三级指标 header, totals at 总分/合计/评分等级. A missing boundary
    leaves its section empty rather than guessing — except with `whole_form` (a layout nobody
    anchored: the LLM is the only reader), where the rows of three or more cells after the
    header and funding/goals blocks are read as indicator rows.
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
        money = [r for r in rows[f : end_of(f, g, i, t)] if not _labels_only(r, layout)]
        out.append(_make_input("funding", 0, _clip(money), layout))
    if g is not None:
        goals = [r for r in rows[g : end_of(g, i, t)] if not _labels_only(r, layout)]
        out.append(_make_input("goals", 0, _clip(goals), layout))
    body_start = i + 1 if i is not None else None
    if body_start is None and whole_form:
        found = [x for x in (f, g) if x is not None]
        body_start = max(found) + 1 if found else header_end
    if body_start is not None:
        body = [
            r
            for r in rows[body_start : end_of(body_start - 1, t)]
            if r.cell_ids
            and not _labels_only(r, layout)
            and (i is not None or len(r.cell_ids) >= 3)
        ]
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


def _repair_cell(text: str, cells: dict[str, str], find: Any) -> str | None:
    """The only cell of the section that holds `text`, when the model named another one."""
    hits = [cid for cid, ctext in cells.items() if find(text, ctext) is not None]
    return hits[0] if len(hits) == 1 else None


def cell_value(cell_text: str) -> str:
    """The value part of a cell: the whole cell, or what follows a known label printed in it
    ("总分 94.46", "评分等级：优" in borderless layouts)."""
    for table in labels.ALL_TABLES.values():
        split = labels.split_label_prefix(cell_text, table)
        if split is not None:
            return split[1]
    return cell_text


def _find_number(text: str, cell_text: str) -> str | None:
    # A number field takes a whole value cell: money, weight, score and rate columns hold only
    # a number. A number inside prose ("总分应填写100") is not a table value.
    value = cell_value(cell_text)
    if is_empty_mark(value):
        return cell_text.strip() if is_empty_mark(text) else None
    number = parse_number(value)
    return value.strip() if number is not None and parse_number(text) == number else None


def _find_word(text: str, cell_text: str) -> str | None:
    # Short coded values (the grade) are whole cells too, for the same reason.
    value = cell_value(cell_text)
    return value.strip() if normalize(text) == normalize(value) and normalize(value) else None


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
    _whole: ClassVar[bool] = False

    @classmethod
    def _finder(cls) -> Any:
        if cls._number:
            return _find_number
        return _find_word if cls._whole else locate

    @model_validator(mode="after")
    def _check_grounded(self, info: ValidationInfo) -> _SpanBase:
        ctx = _context(info)
        cells: dict[str, str] = ctx["cells"]
        find = self._finder()
        candidates = [self.text]
        tail = _after_label(self.text)
        if tail is not None:
            candidates.append(tail)
        for text in candidates:
            if self.cell in cells and (src := find(text, cells[self.cell])) is not None:
                self.text, self._source, self._grounded = text, src, True
                return self
        # Repair a wrong id for copied text only: the same words elsewhere are the same value.
        # A number's meaning is its position (100 as 分值 is not 100 as 得分): re-ask instead.
        for text in candidates if not (self._number or self._whole) else ():
            fixed = _repair_cell(text, cells, find)
            if fixed is not None:
                self.cell, self.text = fixed, text
                self._source, self._grounded = find(text, cells[fixed]), True
                return self
        if _lenient(ctx):
            return self  # the section nulls it and records it (see _SectionBase)
        if self.cell not in cells:
            raise ValueError(f"cell {self.cell!r} is not shown; cite one of the [cN] ids")
        shown = cells[self.cell][:60]
        if self._number or self._whole:
            raise ValueError(
                f"{self.text!r} is not the value of cell {self.cell} (which says {shown!r}); "
                "cite the cell that holds exactly this value, or use null"
            )
        raise ValueError(
            f"text {self.text!r} is not in cell {self.cell} (which says {shown!r}); "
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


class _WordSpanBase(_SpanBase):
    _whole: ClassVar[bool] = True


class _CellPickBase(BaseModel):
    """A whole cell, named by id (long texts: goals, deviation reasons)."""

    model_config = ConfigDict(extra="ignore")
    cell: str
    _grounded: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _check_cell(self, info: ValidationInfo) -> _CellPickBase:
        ctx = _context(info)
        cells: dict[str, str] = ctx["cells"]
        text = cells.get(self.cell)
        # an empty cell is a grounded "nothing printed" (the value is null); a label cell
        # ("预期目标") is never the value itself
        if text is not None and (not text.strip() or labels.classify_any(text) is None):
            self._grounded = True
            return self
        if _lenient(ctx):
            return self
        if text is not None:
            raise ValueError(f"cell {self.cell} is the label {text!r}; cite the cell after it")
        raise ValueError(f"cell {self.cell!r} is not shown; cite one of the [cN] ids")

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
_WORD = "word"

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
    "grade": (_WORD, "评分等级, e.g. 优"),
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
    spec: dict[str, tuple[str, str]], span: type, num: type, pick: type, word: type
) -> dict[str, Any]:
    kinds = {_TEXT: span, _NUM: num, _PICK: pick, _WORD: word}
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
    # maxLength bounds the grammar: a small model that never closes a string stops here.
    text_field: Any = (str, Field(max_length=MAX_SPAN_CHARS))
    num_field: Any = (str, Field(max_length=24))
    span: Any = _new_model("Span", __base__=_SpanBase, cell=cell_field, text=text_field)
    num: Any = _new_model("Number", __base__=_NumSpanBase, cell=cell_field, text=num_field)
    pick: Any = _new_model("Cell", __base__=_CellPickBase, cell=cell_field)
    word: Any = _new_model("Word", __base__=_WordSpanBase, cell=cell_field, text=num_field)
    fields = _leaf_fields(SECTION_FIELDS[section.name], span, num, pick, word)
    title = f"{section.name.capitalize()}Section"
    response: Any
    if section.name in ROW_SECTIONS:
        row: Any = _new_model(ROW_SECTIONS[section.name], __base__=_RowBase, **fields)
        n = max(1, len(section.rows))
        rows_field: Any = (
            list[row],
            Field(description="one entry per table row", min_length=n, max_length=n),
        )
        response = _new_model(title, __base__=_SectionBase, rows=rows_field)
    else:
        response = _new_model(title, __base__=_SectionBase, **fields)
    return SectionModels(response=response, span=span, num=num, pick=pick)


# Fields the model may leave null: a row may not show its 一级/二级 label, and an empty reason
# cell is often not serialized at all. Every other field must be answered: offered null, a
# small model answers null to all.
NULLABLE_FIELDS = frozenset({"level1", "level2", "deviation_reason"})


def _answer_required(schema: dict[str, Any]) -> None:
    """JSON schema hook: every property required, null offered only for NULLABLE_FIELDS.

    Validation still accepts None (defaults stay None), so an answer whose ungrounded values
    were nulled re-validates from the cache.
    """
    props: dict[str, Any] = schema.get("properties", {})
    for name, prop in props.items():
        prop.pop("default", None)
        options = prop.get("anyOf")
        if name not in NULLABLE_FIELDS and isinstance(options, list):
            kept = [o for o in options if o.get("type") != "null"]
            if len(kept) == 1:
                prop.pop("anyOf")
                prop.update(kept[0])
    schema["required"] = list(props)


class _RowBase(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_answer_required)


_Leaf = _SpanBase | _CellPickBase


class _SectionBase(BaseModel):
    """Counts validation attempts (in the context) and nulls what stayed ungrounded.

    `ungrounded` is not in the JSON schema (the model never writes it); it is kept in the cached
    answer so that a cache hit reports the same flags as the call did.
    """

    model_config = ConfigDict(extra="ignore", json_schema_extra=_answer_required)
    ungrounded: SkipJsonSchema[list[str]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _count_attempt(cls, data: Any, info: ValidationInfo) -> Any:
        ctx = info.context
        if isinstance(ctx, dict):
            ctx["attempt"] = ctx.get("attempt", 0) + 1
        return data

    @model_validator(mode="after")
    def _check_columns_and_drop(self, info: ValidationInfo) -> _SectionBase:
        ctx = info.context if isinstance(info.context, dict) else {}
        columns: dict[str, str] = ctx.get("columns", {})
        section = ctx.get("section", "")
        errors: list[str] = []

        def sweep(owner: BaseModel, prefix: str) -> None:
            for name in type(owner).model_fields:
                value = getattr(owner, name)
                if not isinstance(value, _Leaf):
                    continue
                if value.grounded:
                    wrong = _wrong_column(section, name, value.cell, columns)
                    if wrong is not None and not _lenient(ctx):
                        errors.append(f"{prefix}{name}: {wrong}")
                        continue
                    if wrong is not None:
                        value._grounded = False
                if not value.grounded:
                    cited = getattr(value, "text", "")
                    self.ungrounded.append(f"{prefix}{name}: {value.cell} {cited!r}".strip())
                    setattr(owner, name, None)

        rows = getattr(self, "rows", None)
        if isinstance(rows, list):
            for i, row in enumerate(rows):
                sweep(row, f"rows[{i}].")
        else:
            sweep(self, "")
        if errors:
            raise ValueError("; ".join(errors))
        return self


# The column each row field must come from (label synonyms), when the layout names columns.
FIELD_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "funding": {f: labels.FUNDING_COLUMNS[f] for f in FUNDING_FIELDS if f != "label"},
    "indicators": {
        "level1": labels.INDICATOR_COLUMNS["level1"],
        "level2": labels.INDICATOR_COLUMNS["level2"],
        "name": labels.INDICATOR_COLUMNS["name"],
        "target_text": labels.INDICATOR_COLUMNS["target"],
        "actual_text": labels.INDICATOR_COLUMNS["actual"],
        "weight": labels.INDICATOR_COLUMNS["weight"],
        "score": labels.INDICATOR_COLUMNS["score"],
        "deviation_reason": labels.INDICATOR_COLUMNS["deviation_reason"],
    },
    "totals": {
        "total_weight": labels.INDICATOR_COLUMNS["weight"],
        "total_score": ("得分", *labels.TOTALS["total"]),
    },
}


def _wrong_column(section: str, name: str, cell: str, columns: dict[str, str]) -> str | None:
    """Why `cell` cannot hold field `name` (a structural check), or None when it can."""
    column = columns.get(cell)
    if column is None:
        return None  # the layout did not name this cell's column: nothing to check
    wanted = FIELD_COLUMNS.get(section, {})
    if name in wanted:
        if labels.classify(column, {name: wanted[name]}, fuzzy=False) is not None:
            return None
        return f"cell {cell} is in column {column!r}, not {wanted[name][0]!r}; cite that column"
    if name == "label" and section == "funding":
        if labels.classify(column, labels.FUNDING_COLUMNS, fuzzy=False) is None:
            return None
        return f"cell {cell} is a value in column {column!r}, not the row label"
    return None


def validation_context(section: SectionInput, *, max_retries: int) -> dict[str, Any]:
    """The `context` instructor passes to the validators: the section's cells, and the attempt
    after which ungrounded values are nulled instead of re-asked."""
    return {
        "section": section.name,
        "cells": dict(section.cells),
        "columns": dict(section.columns),
        "attempt": 0,
        "final_attempt": max_retries + 1,
    }
