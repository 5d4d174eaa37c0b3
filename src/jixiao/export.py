"""Exports of the stored forms: contract JSON, CSV (one file per table) and XLSX (one sheet per
table: forms, funding, indicators, flags) with Chinese headers, numbers as numbers, and flagged or
low-confidence cells highlighted.

"Low confidence" means below the calibrated review threshold (`jixiao.confidence.review_threshold`),
the same line below which the review app and the checks send a value to a person.

Values are the current ones: a reviewer's correction replaces the extracted value (the database
keeps both). The tables are built once (`build_tables`) and written by each format.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jixiao.contract import ExtractionResult
from jixiao.errors import JixiaoError

ExportFormat = Literal["csv", "xlsx", "json"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "json")


class ExportError(JixiaoError):
    exit_code = 15
    reason = "cannot write the export"
    hint = "check that the output folder exists and is writable"


@dataclass(slots=True)
class Cell:
    value: Any
    path: str | None = None  # JSON path into the form, for highlighting
    severity: str | None = None  # worst flag on this cell: error, warning, info
    confidence: float | None = None


@dataclass(slots=True)
class Table:
    name: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


_SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
_ROW_PATH_RE = re.compile(r"^(funding|indicators)\[\d+\]$")


def _flag_severity(result: ExtractionResult) -> dict[str, str]:
    """JSON path → worst severity among the flags naming it (a row path marks the row)."""
    worst: dict[str, str] = {}
    for flag in result.flags:
        for path in flag.fields:
            old = worst.get(path)
            if old is None or _SEVERITY_RANK[flag.severity] > _SEVERITY_RANK[old]:
                worst[path] = flag.severity
    return worst


def _cell(result: ExtractionResult, marks: dict[str, str], path: str, value: Any) -> Cell:
    prov = result.fields.get(path)
    severity = marks.get(path)
    row = path.split(".", 1)[0]
    if _ROW_PATH_RE.match(row) and row in marks:
        severity = _worse(severity, marks[row])
    return Cell(value, path, severity, prov.confidence if prov else None)


def _worse(a: str | None, b: str) -> str:
    return b if a is None or _SEVERITY_RANK[b] > _SEVERITY_RANK[a] else a


FORM_COLUMNS: list[tuple[str, str | None]] = [
    ("文件", None),
    ("SHA-256", None),
    ("表序号", None),
    ("页码", None),
    ("标题", "title"),
    ("年度", "year"),
    ("项目名称", "project_name"),
    ("主管部门", "competent_department"),
    ("实施单位", "implementing_unit"),
    ("资金单位", "funding_unit"),
    ("年度总体目标（预期）", "goal_expected"),
    ("年度总体目标（实际完成）", "goal_actual"),
    ("总分值", "total_weight"),
    ("总得分", "total_score"),
    ("评价等级", "grade"),
    ("提取方式", None),
    ("模型", None),
    ("错误数", None),
    ("警告数", None),
]
FUNDING_COLUMNS: list[tuple[str, str]] = [
    ("资金项目", "label"),
    ("类别", "kind"),
    ("年初预算数", "initial_budget"),
    ("全年预算数", "annual_budget"),
    ("全年执行数", "executed"),
    ("分值", "weight"),
    ("执行率（%）", "execution_rate"),
    ("得分", "score"),
]
INDICATOR_COLUMNS: list[tuple[str, str]] = [
    ("一级指标", "level1"),
    ("二级指标", "level2"),
    ("三级指标", "name"),
    ("年度指标值", "target_text"),
    ("实际完成值", "actual_text"),
    ("分值", "weight"),
    ("得分", "score"),
    ("偏差原因分析及改进措施", "deviation_reason"),
]
FLAG_HEADERS = ["代码", "严重程度", "来源", "规则", "字段", "说明", "应为", "实际"]
_KEY_HEADERS = ["文件", "表序号", "项目名称", "行号"]


def build_tables(results: list[ExtractionResult]) -> list[Table]:
    forms = Table("forms", [h for h, _ in FORM_COLUMNS])
    funding = Table("funding", _KEY_HEADERS + [h for h, _ in FUNDING_COLUMNS])
    indicators = Table("indicators", _KEY_HEADERS + [h for h, _ in INDICATOR_COLUMNS])
    flags = Table("flags", _KEY_HEADERS[:3] + FLAG_HEADERS)
    seen: dict[str, int] = {}
    for result in results:
        marks = _flag_severity(result)
        rec = result.form
        data = rec.model_dump()
        file = result.source.file
        number = seen[result.source.sha256] = seen.get(result.source.sha256, 0) + 1
        errors = sum(f.severity == "error" for f in result.flags)
        warnings = sum(f.severity == "warning" for f in result.flags)
        fixed: dict[str, Any] = {
            "文件": file,
            "SHA-256": result.source.sha256,
            "表序号": number,
            "页码": ",".join(str(p) for p in result.source.pages),
            "提取方式": result.run.extractor,
            "模型": result.run.model,
            "错误数": errors,
            "警告数": warnings,
        }
        forms.rows.append(
            [
                _cell(result, marks, path, data[path]) if path else Cell(fixed[header])
                for header, path in FORM_COLUMNS
            ]
        )
        key = [Cell(file), Cell(number), Cell(rec.project_name)]
        for i, row in enumerate(data["funding"]):
            funding.rows.append(
                [*key, Cell(i + 1)]
                + [_cell(result, marks, f"funding[{i}].{n}", row[n]) for _, n in FUNDING_COLUMNS]
            )
        for i, row in enumerate(data["indicators"]):
            indicators.rows.append(
                [*key, Cell(i + 1)]
                + [
                    _cell(result, marks, f"indicators[{i}].{n}", row[n])
                    for _, n in INDICATOR_COLUMNS
                ]
            )
        for flag in result.flags:
            flags.rows.append(
                [
                    *key,
                    Cell(flag.code, severity=flag.severity),
                    Cell(flag.severity, severity=flag.severity),
                    Cell(flag.origin),
                    Cell(flag.rule),
                    Cell(", ".join(flag.fields)),
                    Cell(flag.message),
                    Cell(flag.expected),
                    Cell(flag.found),
                ]
            )
    return [forms, funding, indicators, flags]


def load_results(engine: Engine) -> list[ExtractionResult]:
    """The current results of every document's latest finished processing, in document order."""
    from jixiao.store import db

    with Session(engine) as session:
        return [db.current_result(session, form) for form in db.latest_forms(session)]


def write_json(results: list[ExtractionResult], out: Path) -> None:
    data = [r.model_dump(mode="json") for r in results]
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_csv(tables: list[Table], out: Path) -> list[Path]:
    """One CSV per table in the folder `out` (UTF-8 with BOM, so Excel shows the Chinese)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for table in tables:
        path = out / f"{table.name}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.headers)
            for row in table.rows:
                writer.writerow(["" if c.value is None else c.value for c in row])
        written.append(path)
    return written


_FILLS = {"error": "FFC7CE", "warning": "FFEB9C", "info": "DDEBF7", "low": "F8CBAD"}


def write_xlsx(tables: list[Table], out: Path, *, low_confidence: float | None = None) -> None:
    """One sheet per table; flagged cells filled by severity, cells with confidence below
    `low_confidence` (default: the calibrated review threshold) filled and annotated with it."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    if low_confidence is None:
        from jixiao.confidence import review_threshold

        low_confidence = review_threshold()  # read per export: a recalibration applies at once

    book = Workbook()
    book.remove(book.active)
    fills = {k: PatternFill("solid", start_color=v, end_color=v) for k, v in _FILLS.items()}
    bold = Font(bold=True)
    for table in tables:
        sheet = book.create_sheet(table.name)
        sheet.append(table.headers)
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "A2"
        for r, row in enumerate(table.rows, start=2):
            for c, item in enumerate(row, start=1):
                target = sheet.cell(row=r, column=c, value=_excel_value(item.value))
                low = item.confidence is not None and item.confidence < low_confidence
                if item.severity is not None:
                    target.fill = fills[item.severity]
                elif low:
                    target.fill = fills["low"]
                if low:
                    target.comment = Comment(f"置信度 {item.confidence:.2f}", "jixiao")
        for c, header in enumerate(table.headers, start=1):
            width = max([len(header) * 2] + [_width(row[c - 1].value) for row in table.rows[:200]])
            sheet.column_dimensions[sheet.cell(row=1, column=c).column_letter].width = min(
                60, max(8, width)
            )
    book.save(out)


def _excel_value(value: Any) -> Any:
    if value is None or isinstance(value, int | float | str | bool):
        return value
    return json.dumps(value, ensure_ascii=False)


def _width(value: Any) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) + 2


def export(
    engine: Engine, fmt: ExportFormat, out: Path, *, low_confidence: float | None = None
) -> list[Path]:
    """Write the database's current forms as `fmt` to `out`; returns the files written.

    `low_confidence`: xlsx highlights values below it (default: the calibrated review threshold).
    """
    results = load_results(engine)
    try:
        if fmt == "json":
            write_json(results, out)
            return [out]
        tables = build_tables(results)
        if fmt == "csv":
            return write_csv(tables, out)
        write_xlsx(tables, out, low_confidence=low_confidence)
        return [out]
    except OSError as err:
        raise ExportError(str(out), f"cannot write the export ({err.strerror or err})") from err
