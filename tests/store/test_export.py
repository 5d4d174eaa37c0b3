"""Exports: xlsx sheets with Chinese headers, numbers as numbers, problems highlighted; csv per
table; json that reads back as the contract; review corrections exported, not the originals."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from jixiao import confidence as calibration
from jixiao.cli import app
from jixiao.contract import ExtractionResult
from jixiao.export import _FILLS, build_tables, export, write_xlsx
from jixiao.store import db
from jixiao.store.tables import Form

from .conftest import make_result


def _fill(path: Path, sheet: str, cell: str) -> str:
    color = load_workbook(path)[sheet][cell].fill.start_color.rgb
    return str(color)[-6:]


@pytest.fixture
def stored(engine: Engine) -> Engine:
    run_id = db.start_run(engine, "layout")
    for sha, confidence in (("a" * 64, 0.95), ("b" * 64, 0.2)):
        result = make_result(f"{sha[0]}.pdf", sha, confidence=confidence)
        outcome = db.DocumentOutcome(
            path=result.source.file, sha256=sha, extractor="layout", results=[result]
        )
        db.save_document(engine, run_id, outcome)
    return engine


def test_xlsx_has_one_sheet_per_table_chinese_headers_and_numbers(
    stored: Engine, tmp_path: Path
) -> None:
    out = tmp_path / "out.xlsx"
    assert export(stored, "xlsx", out) == [out]
    book = load_workbook(out)
    assert book.sheetnames == ["forms", "funding", "indicators", "flags"]
    funding = book["funding"]
    headers = [c.value for c in funding[1]]
    assert headers[:6] == ["文件", "表序号", "项目名称", "行号", "资金项目", "类别"]
    col = {h: i for i, h in enumerate(headers)}
    row = [c.value for c in funding[2]]
    assert row[col["全年执行数"]] == 95.0  # a number cell, not the text "95.0"
    assert isinstance(row[col["全年执行数"]], int | float)
    assert isinstance(row[col["执行率（%）"]], int | float)
    assert row[col["资金项目"]] == "年度资金总额"
    assert funding.max_row == 1 + 4  # two funding rows in each of two forms
    forms = book["forms"]
    form_headers = [c.value for c in forms[1]]
    assert "项目名称" in form_headers and "总得分" in form_headers
    assert forms.cell(row=2, column=form_headers.index("总得分") + 1).value == 91.5
    flags = book["flags"]
    assert [c.value for c in flags[1]][3:6] == ["代码", "严重程度", "来源"]
    assert flags.cell(row=2, column=4).value == "EXEC_RATE_MISMATCH"


def test_xlsx_highlights_flagged_and_low_confidence_cells(stored: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    export(stored, "xlsx", out)
    sheet = load_workbook(out)["funding"]
    headers = [c.value for c in sheet[1]]
    rate = headers.index("执行率（%）") + 1
    executed = headers.index("全年执行数") + 1
    budget = headers.index("全年预算数") + 1
    # form a: execution_rate flagged (error), executed confident (no fill)
    assert _fill(out, "funding", sheet.cell(row=2, column=rate).coordinate) == _FILLS["error"]
    assert sheet.cell(row=2, column=executed).fill.fill_type is None
    assert sheet.cell(row=2, column=budget).fill.fill_type is None
    # form b: executed read with confidence 0.2 (below the calibrated threshold): filled
    low = sheet.cell(row=4, column=executed)
    assert _fill(out, "funding", low.coordinate) == _FILLS["low"]
    assert low.comment is not None and "0.20" in low.comment.text


def _executed_cells(tmp_path: Path, confidences: list[float], **kwargs: float) -> list[Cell]:
    """Write one xlsx of forms whose 全年执行数 has these confidences; its cells, in order."""
    results = [
        make_result(f"{i}.pdf", f"{i}" * 64, confidence=c, flags=[])
        for i, c in enumerate(confidences)
    ]
    out = tmp_path / "low.xlsx"
    write_xlsx(build_tables(results), out, **kwargs)
    sheet = load_workbook(out)["funding"]
    executed = [c.value for c in sheet[1]].index("全年执行数") + 1
    # two funding rows per form: the total row (the one with provenance) comes first
    return [sheet.cell(row=2 + 2 * i, column=executed) for i in range(len(confidences))]


def _is_low(cell: Cell) -> bool:
    fill = cell.fill
    return fill.fill_type is not None and str(fill.start_color.rgb)[-6:] == _FILLS["low"]


def test_xlsx_highlights_below_the_calibrated_review_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default line is the calibrated review threshold, read at export time (the old fixed
    0.9 highlighted the 0.75 value here too)."""
    calibrated = tmp_path / "thresholds.json"
    calibrated.write_text(json.dumps({"review_threshold": 0.7}), encoding="utf-8")
    monkeypatch.setattr(calibration, "THRESHOLDS_FILE", calibrated)
    above, below = _executed_cells(tmp_path, [0.75, 0.65])
    assert not _is_low(above) and above.comment is None
    assert _is_low(below) and below.comment is not None and "0.65" in below.comment.text


def test_xlsx_default_matches_the_shipped_calibration(tmp_path: Path) -> None:
    threshold = calibration.review_threshold()
    above, below = _executed_cells(tmp_path, [threshold + 0.01, threshold - 0.01])
    assert not _is_low(above) and _is_low(below)


def test_xlsx_low_confidence_can_be_set(tmp_path: Path) -> None:
    (cell,) = _executed_cells(tmp_path, [0.95], low_confidence=0.99)
    assert _is_low(cell)


def test_csv_writes_one_file_per_table_with_bom(stored: Engine, tmp_path: Path) -> None:
    paths = export(stored, "csv", tmp_path / "csv")
    assert [p.name for p in paths] == ["forms.csv", "funding.csv", "indicators.csv", "flags.csv"]
    raw = (tmp_path / "csv" / "indicators.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese headers as UTF-8
    with (tmp_path / "csv" / "indicators.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    assert rows[0]["三级指标"] == "培训人数" and rows[0]["分值"] == "20.0"
    assert rows[1]["二级指标"] == ""  # null stays empty, not "None"


def test_json_round_trips_and_carries_review_corrections(stored: Engine, tmp_path: Path) -> None:
    with Session(stored) as session:
        form_id = session.scalars(select(Form.id).order_by(Form.id)).first()
    assert form_id is not None
    db.record_review(stored, form_id, "funding[0].executed", 97.25, reviewer="li")
    out = tmp_path / "out.json"
    export(stored, "json", out)
    # strict contract: read as JSON (a bbox is a JSON array), exactly as consumers do
    data = json.loads(out.read_text("utf-8"))
    results = [ExtractionResult.model_validate_json(json.dumps(r)) for r in data]
    assert [r.source.sha256[0] for r in results] == ["a", "b"]
    assert results[0].form.funding[0].executed == 97.25
    assert results[1].form.funding[0].executed == 95.0


def test_tables_number_forms_within_each_file() -> None:
    results = [make_result("x.pdf", "x" * 64), make_result("x.pdf", "x" * 64)]
    forms = build_tables(results)[0]
    assert [row[2].value for row in forms.rows] == [1, 2]


def test_export_command(stored: Engine, tmp_path: Path, db_url: str) -> None:
    out = tmp_path / "cli.xlsx"
    result = CliRunner().invoke(app, ["export", "--format", "xlsx", "--db", db_url, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames == ["forms", "funding", "indicators", "flags"]
    bad = CliRunner().invoke(app, ["export", "--format", "pdf", "--db", db_url, "-o", str(out)])
    assert bad.exit_code != 0
