"""Typed corrections (validated like extraction output) and the gold export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jixiao.contract import FormRecord
from jixiao.review.service import (
    ReviewError,
    ReviewService,
    export_gold,
    field_label,
    parse_value,
    split_reason,
)

from .conftest import THRESHOLD, Batch


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("funding[0].executed", "9,702.07", 9702.07),
        ("funding[0].execution_rate", "98.61%", 98.61),
        ("funding[0].execution_rate", "９８．６１", 98.61),
        ("indicators[2].score", " 8 ", 8.0),
        ("indicators[2].score", "", None),
        ("year", "2023", 2023),
        ("funding[1].kind", "fiscal", "fiscal"),
        ("project_name", "  新名称 ", "新名称"),
        ("goal_actual", "", None),
    ],
)
def test_parse_value(path: str, text: str, expected: object) -> None:
    assert parse_value(path, text) == expected


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("funding[0].executed", "约9702"),
        ("funding[0].executed", "nan"),
        ("year", "二〇二三"),
        ("funding[0].kind", "salary"),
        ("indicators[0].name", ""),
        ("funding[0].label", " "),
        ("form_type", "project"),
        ("a.b.c", "1"),
    ],
)
def test_parse_value_refuses(path: str, text: str) -> None:
    with pytest.raises(ReviewError):
        parse_value(path, text)


def test_labels_and_reasons() -> None:
    assert field_label("indicators[3].score") == "指标 4 · 得分"
    assert field_label("total_score") == "总得分"
    assert split_reason("form_wrong: 原表有误") == ("form_wrong", "原表有误")
    assert split_reason("accept") == ("accept", None)
    assert split_reason(None) == ("correct", None)


def _clear(service: ReviewService, form_id: int) -> None:
    for f in service.form(form_id).pending:
        action = "correct" if f.path == "funding[0].execution_rate" else "accept"
        service.decide(form_id, f.path, action, reviewer="t", value="95")


def test_export_gold_writes_only_cleared_forms_with_corrections(
    batch: Batch, tmp_path: Path
) -> None:
    service = ReviewService(batch.engine, threshold=THRESHOLD)
    assert export_gold(service, tmp_path / "none") == []
    _clear(service, batch.error_form)
    service.decide(3, "grade", "skip", reviewer="t")  # touched but not cleared
    written = export_gold(service, tmp_path / "gold")
    assert [p.name for p in written] == ["review-00000000-0.json"]  # sha8 of document 0, form 0
    gold = FormRecord.model_validate_json(written[0].read_text(encoding="utf-8"))
    assert gold.funding[0].execution_rate == 95.0
    assert gold.project_name == "测试项目00"
    partial = export_gold(service, tmp_path / "partial", include_pending=True)
    assert len(partial) == 2


def test_export_gold_command(batch: Batch, tmp_path: Path) -> None:
    from jixiao.cli import app

    _clear(ReviewService(batch.engine, threshold=THRESHOLD), batch.error_form)
    out = tmp_path / "gold"
    result = CliRunner().invoke(
        app, ["review", "export-gold", "--db", batch.url, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.json"))
    assert len(files) == 1 and str(files[0]) in result.output
    data = json.loads(files[0].read_text(encoding="utf-8"))
    assert data["funding"][0]["execution_rate"] == 95.0


def test_rerun_checks_keep_the_printed_level1_weight(tmp_path: Path) -> None:
    """R8 on a reviewed form: the 一级 label printed "产出指标（60分）" (kept in provenance) over a
    row weighing 50 is flagged, and correcting the row's weight to 60 clears it."""
    from jixiao.contract import ExtractionResult, FieldProvenance, RunInfo, SourceInfo
    from jixiao.store import db

    from .conftest import make_record

    record = make_record(0)
    fields = {
        "indicators[0].level1": FieldProvenance(
            confidence=0.99,
            page=1,
            bbox=(0.0, 0.0, 10.0, 10.0),
            source_text="产出指标（60分）",
            extractor="layout",
        )
    }
    engine = db.open_db(f"sqlite:///{tmp_path / 'r8.db'}")
    result = ExtractionResult(
        source=SourceInfo(file="r8.pdf", sha256="c" * 64, pages=[1]),
        form=record,
        fields=fields,
        flags=[],
        run=RunInfo(extractor="layout"),
    )
    run_id = db.start_run(engine, "layout")
    outcome = db.DocumentOutcome(
        path="r8.pdf", sha256="c" * 64, extractor="layout", pages=1, results=[result]
    )
    db.save_document(engine, run_id, outcome)
    service = ReviewService(engine, threshold=THRESHOLD)
    (flag,) = [f for f in service.form(1).flags if f.code == "LEVEL1_WEIGHTS_SUM"]
    assert flag.expected == 60.0 and flag.found == 50.0
    after = service.decide(1, "indicators[0].weight", "correct", reviewer="t", value="60")
    assert [f for f in after.flags if f.code == "LEVEL1_WEIGHTS_SUM"] == []
    engine.dispose()


def test_what_extraction_could_not_read_sends_the_form_to_review(tmp_path: Path) -> None:
    """An EXTRACTION_ROW_UNREAD finding stored with the result marks the row it names (and a
    section-wide one every row's name) as pending, although every value is confident and the
    rerun checks find nothing; the LLM's diagnostics (info) do not."""
    from jixiao.contract import ExtractionResult, FieldProvenance, Flag, RunInfo, SourceInfo
    from jixiao.store import db

    from .conftest import make_record

    record = make_record(0)
    sure = FieldProvenance(
        confidence=0.99, page=1, bbox=(0.0, 0.0, 10.0, 10.0), source_text="x", extractor="layout"
    )
    fields = {path: sure for path, _ in db.leaf_values(record)}

    def unread(target: str, severity: str = "warning") -> Flag:
        return Flag(
            code="EXTRACTION_ROW_UNREAD",
            severity=severity,  # type: ignore[arg-type]
            origin="extraction",
            fields=[target],
            message="a cell was not read",
        )

    engine = db.open_db(f"sqlite:///{tmp_path / 'unread.db'}")
    run_id = db.start_run(engine, "layout")
    for n, flags in enumerate(
        ([unread("indicators[1].name")], [unread("indicators")], [unread("indicators", "info")])
    ):
        result = ExtractionResult(
            source=SourceInfo(file=f"u{n}.pdf", sha256=f"{n}" * 64, pages=[1]),
            form=record,
            fields=fields,
            flags=flags,
            run=RunInfo(extractor="layout"),
        )
        outcome = db.DocumentOutcome(
            path=f"u{n}.pdf", sha256=f"{n}" * 64, extractor="layout", pages=1, results=[result]
        )
        db.save_document(engine, run_id, outcome)
    service = ReviewService(engine, threshold=THRESHOLD)
    row, section, info = (service.form(i) for i in (1, 2, 3))
    assert [f.path for f in row.pending] == ["indicators[1].name"]
    names = [f"indicators[{i}].name" for i in range(len(record.indicators))]
    assert [f.path for f in section.pending] == names
    assert info.pending == []
    assert "EXTRACTION_ROW_UNREAD" in [f.code for f in row.flags]
    engine.dispose()
