"""Storage: migrations, one-transaction writes, append-only reviews, current values — on SQLite
and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from jixiao.store import db
from jixiao.store.tables import (
    DocumentRun,
    EvalRun,
    FieldValue,
    FlagRow,
    Form,
    LLMCall,
    ReviewDecision,
)

from .conftest import make_result

TABLES = [
    "document_runs",
    "documents",
    "eval_runs",
    "field_values",
    "flags",
    "forms",
    "llm_calls",
    "review_decisions",
    "runs",
]


def outcome(sha: str = "a" * 64, *, results: int = 1, **kw: Any) -> db.DocumentOutcome:
    return db.DocumentOutcome(
        path=f"{sha[:4]}.pdf",
        sha256=sha,
        extractor="layout",
        pages=2,
        results=[make_result(sha256=sha) for _ in range(results)],
        **kw,
    )


def test_open_db_migrates_to_head_and_is_idempotent(db_url: str) -> None:
    engine = db.open_db(db_url)
    assert db.current_revision(engine) == db.head_revision()
    assert [t for t in db.table_names(engine) if t != "alembic_version"] == TABLES
    db.open_db(db_url)  # already at head: no error, nothing changes
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM current_field_values")).scalar_one() == 0


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    # A column added to tables.py without a migration (or the reverse) shows up here.
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_downgrade_removes_everything(engine: Engine) -> None:
    db.downgrade(engine, "base")
    assert db.table_names(engine) == ["alembic_version"]
    db.upgrade(engine)
    assert "forms" in db.table_names(engine)


def test_save_document_stores_forms_fields_flags_and_calls(engine: Engine) -> None:
    run_id = db.start_run(engine, "layout")
    call = db.CallRecord(
        form_index=0,
        section="funding",
        prompt="extract_funding@v1",
        prompt_sha256="p" * 64,
        cache_key_sha256="k" * 64,
        model="m",
        input_tokens=120,
        output_tokens=30,
        attempts=2,
        seconds=1.5,
        cache_hit=False,
    )
    db.save_document(engine, run_id, outcome(results=2, calls=[call]))
    assert db.finished_documents(engine, "layout") == {"a" * 64}
    assert db.finished_documents(engine, "llm") == set()
    with Session(engine) as session:
        forms = session.scalars(select(Form).order_by(Form.form_index)).all()
        assert [f.form_index for f in forms] == [0, 1]
        assert forms[0].project_name == "测试项目" and forms[0].total_score == 91.5
        values = {
            v.path: v
            for v in session.scalars(select(FieldValue).where(FieldValue.form_id == forms[0].id))
        }
        executed = values["funding[0].executed"]
        assert executed.value == 95.0 and executed.confidence == 0.95
        assert executed.bbox == [10.0, 20.0, 30.0, 40.0] and executed.page == 1
        assert values["funding[1].executed"].value is None
        assert values["funding[1].executed"].confidence is None  # no provenance: unknown
        assert values["indicators[1].target_text"].value == "≥90%"
        flag = session.scalars(select(FlagRow)).first()
        assert flag is not None and flag.code == "EXEC_RATE_MISMATCH" and flag.expected == 95.0
        stored = session.scalars(select(LLMCall)).one()
        assert (stored.prompt, stored.input_tokens, stored.attempts) == (
            "extract_funding@v1",
            120,
            2,
        )


def test_failed_document_is_recorded_and_not_finished(engine: Engine) -> None:
    run_id = db.start_run(engine, "layout")
    db.save_document(engine, run_id, outcome(results=0, error="x.pdf: not a PDF", error_code=4))
    assert db.finished_documents(engine, "layout") == set()
    with Session(engine) as session:
        assert db.failed_documents(session, run_id) == [("aaaa.pdf", "x.pdf: not a PDF")]


def test_a_document_is_written_whole_or_not_at_all(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = db.start_run(engine, "layout")
    original = db._add_form
    calls = {"n": 0}

    def second_form_breaks(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        original(*args)

    monkeypatch.setattr(db, "_add_form", second_form_breaks)
    with pytest.raises(RuntimeError):
        db.save_document(engine, run_id, outcome(results=2))
    counts = db.count_rows(engine, ["documents", "document_runs", "forms", "field_values", "flags"])
    assert counts == dict.fromkeys(counts, 0)


def test_review_adds_a_row_and_never_changes_the_extraction(engine: Engine) -> None:
    run_id = db.start_run(engine, "layout")
    db.save_document(engine, run_id, outcome())
    with Session(engine) as session:
        form = session.scalars(select(Form)).one()
    assert form.id is not None
    db.record_review(engine, form.id, "funding[0].executed", 96.0, reviewer="li", reason="看错")
    db.record_review(engine, form.id, "funding[0].executed", 96.5, reviewer="wang")
    with Session(engine) as session:
        assert db.current_values(session, form.id)["funding[0].executed"] == 96.5
        original = session.scalars(
            select(FieldValue).where(FieldValue.path == "funding[0].executed")
        ).one()
        assert original.value == 95.0  # the extraction is kept as it was
        decisions = session.scalars(select(ReviewDecision).order_by(ReviewDecision.id)).all()
        assert [(d.old_value, d.new_value, d.reviewer) for d in decisions] == [
            (95.0, 96.0, "li"),
            (96.0, 96.5, "wang"),
        ]
        result = db.current_result(session, form)
        assert result.form.funding[0].executed == 96.5
        assert result.form.funding[0].annual_budget == 100.0
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT extracted_value, value, reviewed FROM current_field_values"
                " WHERE path = 'funding[0].executed'"
            )
        ).one()
    assert _number(row[0]) == 95.0 and _number(row[1]) == 96.5 and bool(row[2])


def _number(value: Any) -> float:
    # SQLite returns the JSON text, PostgreSQL the parsed value.
    return float(value)


def test_review_of_an_unknown_field_is_a_clear_error(engine: Engine) -> None:
    run_id = db.start_run(engine, "layout")
    db.save_document(engine, run_id, outcome())
    with Session(engine) as session:
        form_id = session.scalars(select(Form.id)).one()
    with pytest.raises(db.JixiaoError, match=r"no field 'funding\[9\]\.executed'"):
        db.record_review(engine, form_id, "funding[9].executed", 1.0, reviewer="li")


def test_latest_forms_are_those_of_the_newest_finished_processing(engine: Engine) -> None:
    first = db.start_run(engine, "layout")
    db.save_document(engine, first, outcome(results=2))
    second = db.start_run(engine, "layout")
    db.save_document(engine, second, outcome(results=1))
    db.save_document(engine, second, outcome(results=0, error="boom", error_code=1))
    with Session(engine) as session:
        latest = db.latest_forms(session)
        newest = session.scalars(
            select(DocumentRun).where(DocumentRun.status == "done").order_by(DocumentRun.id.desc())
        ).first()
    assert newest is not None
    assert [f.document_run_id for f in latest] == [newest.id]
    assert db.count_rows(engine, ["forms"]) == {"forms": 3}  # older forms are kept


def test_database_url_defaults_and_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIXIAO_DATABASE_URL", raising=False)
    assert db.database_url() == "sqlite:///jixiao.db"
    monkeypatch.setenv("JIXIAO_DATABASE_URL", "postgresql://u@h/d")
    assert db.database_url() == "postgresql+psycopg://u@h/d"
    assert db.database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"


def test_unreachable_database_is_one_line_error() -> None:
    with pytest.raises(db.DatabaseError) as info:
        db.open_db("sqlite:////nonexistent-dir/x/jixiao.db")
    assert "cannot open the database" in info.value.line()
    assert info.value.exit_code == 14


def test_sqlite_runs_in_wal_mode(tmp_path: Any) -> None:
    engine = db.open_db(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_eval_runs_are_stored_with_their_metrics(engine: Engine) -> None:
    first = db.save_eval_run(
        engine,
        extractor="layout",
        split="dev",
        metrics={"field_accuracy": 0.91, "per_family": {"ruled": 0.98}},
        forms=40,
        prompts={"extract_header@v1": "abc"},
    )
    second = db.save_eval_run(engine, extractor="llm", metrics={"field_accuracy": 0.5}, forms=3)
    assert second > first
    with Session(engine) as session:
        row = session.get(EvalRun, first)
        assert row is not None
        assert row.metrics == {"field_accuracy": 0.91, "per_family": {"ruled": 0.98}}
        assert (row.split, row.forms, row.prompts) == ("dev", 40, {"extract_header@v1": "abc"})
