"""Open the database (SQLite by default, PostgreSQL via JIXIAO_DATABASE_URL), migrate it, and
read/write what the pipeline produces.

Every write of one document's results is one transaction (document_runs row + forms + field
values + flags + LLM calls), so a run killed at any moment leaves a document either complete or
absent, and a resumed run never duplicates rows.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, func, insert, inspect, text
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from jixiao.contract import ExtractionResult, FormRecord
from jixiao.errors import JixiaoError
from jixiao.store.tables import (
    Document,
    DocumentRun,
    EvalRun,
    FieldValue,
    FlagRow,
    Form,
    LLMCall,
    ReviewDecision,
    Run,
    utcnow,
)

if TYPE_CHECKING:
    from jixiao.extract.llm.calls import LLMCall as ExtractorCall

DEFAULT_URL = "sqlite:///jixiao.db"
MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseError(JixiaoError):
    exit_code = 14
    reason = "the database cannot be used"
    hint = "check JIXIAO_DATABASE_URL or --db (e.g. sqlite:///jixiao.db, postgresql://user@host/db)"


def database_url(url: str | None = None) -> str:
    """--db > JIXIAO_DATABASE_URL > ./jixiao.db. `postgresql://` means the psycopg 3 driver."""
    url = url or os.environ.get("JIXIAO_DATABASE_URL") or DEFAULT_URL
    # SQLAlchemy's default PostgreSQL driver is psycopg2; we ship psycopg (v3).
    return re.sub(r"^postgres(?:ql)?://", "postgresql+psycopg://", url)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers (export, review) never block the batch writer, and a kill -9 cannot corrupt.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for the URL, without migrating (see `open_db`)."""
    resolved = database_url(url)
    try:
        if resolved.startswith("sqlite"):
            engine = create_engine(resolved, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(resolved, pool_pre_ping=True)
    except (ArgumentError, ImportError, ValueError) as err:
        raise DatabaseError(_redact(resolved), f"invalid database URL ({err})") from err
    return engine


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision` (idempotent)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)


def open_db(url: str | None = None, *, migrate: bool = True) -> Engine:
    """The engine for `url`, migrated to the newest schema (cheap when it already is)."""
    engine = make_engine(url)
    try:
        if migrate and current_revision(engine) != head_revision():
            upgrade(engine)
    except OperationalError as err:
        raise DatabaseError(
            _redact(database_url(url)), f"cannot open the database ({_first_line(err)})"
        ) from err
    return engine


def _first_line(err: BaseException) -> str:
    return str(getattr(err, "orig", err)).strip().splitlines()[0][:200]


# --- writing ----------------------------------------------------------------------------------


@dataclass(slots=True)
class CallRecord:
    """One LLM call as the batch saw it; stored in llm_calls."""

    form_index: int | None
    section: str | None
    prompt: str | None
    prompt_sha256: str | None
    cache_key_sha256: str | None
    model: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 0
    seconds: float = 0.0
    cache_hit: bool = False
    error: str | None = None

    @classmethod
    def of_call(cls, form_index: int | None, call: ExtractorCall) -> CallRecord:
        """The row of one call record an extractor returned (`ExtractorOutput.calls`)."""
        return cls(
            form_index=form_index,
            section=call.section,
            prompt=call.prompt,
            prompt_sha256=call.prompt_sha256,
            cache_key_sha256=call.cache_key_sha256,
            model=call.model,
            input_tokens=call.input_tokens,
            output_tokens=call.output_tokens,
            attempts=call.attempts,
            seconds=round(call.seconds, 4),
            cache_hit=call.cache_hit,
            error=call.error,
        )


@dataclass(slots=True)
class DocumentOutcome:
    """Everything one document produced, saved in one transaction by `save_document`."""

    path: str
    sha256: str
    extractor: str
    pages: int | None = None
    size_bytes: int | None = None
    results: list[ExtractionResult] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    error_code: int | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


def start_run(
    engine: Engine,
    extractor: str,
    *,
    model: str | None = None,
    params: dict[str, Any] | None = None,
) -> int:
    with Session(engine) as session:
        run = Run(extractor=extractor, model=model, params=params)
        session.add(run)
        session.commit()
        assert run.id is not None
        return run.id


def finish_run(engine: Engine, run_id: int, *, status: str, counts: dict[str, int]) -> None:
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return
        run.status = status
        run.finished_at = utcnow()
        for name, value in counts.items():
            setattr(run, f"documents_{name}", value)
        session.commit()


def finished_documents(engine: Engine, extractor: str) -> set[str]:
    """SHA-256 of every document already processed to the end with this extractor."""
    stmt = (
        select(col(Document.sha256))
        .join(DocumentRun, col(DocumentRun.document_id) == col(Document.id))
        .where(col(DocumentRun.status) == "done", col(DocumentRun.extractor) == extractor)
        .distinct()
    )
    with Session(engine) as session:
        return set(session.scalars(stmt))


def _document(session: Session, outcome: DocumentOutcome) -> Document:
    doc = session.scalars(select(Document).where(col(Document.sha256) == outcome.sha256)).first()
    if doc is None:
        doc = Document(
            sha256=outcome.sha256,
            path=outcome.path,
            pages=outcome.pages,
            size_bytes=outcome.size_bytes,
        )
        session.add(doc)
        session.flush()
    elif outcome.pages is not None and doc.pages is None:
        doc.pages = outcome.pages
    return doc


def save_document(engine: Engine, run_id: int, outcome: DocumentOutcome) -> int:
    """Store one document's outcome in one transaction; returns the document_runs id."""
    with Session(engine) as session:
        doc = _document(session, outcome)
        assert doc.id is not None
        doc_run = DocumentRun(
            run_id=run_id,
            document_id=doc.id,
            extractor=outcome.extractor,
            status="failed" if outcome.failed else "done",
            error=outcome.error,
            error_code=outcome.error_code,
            forms_count=len(outcome.results),
            warnings=outcome.warnings or None,
            seconds=round(outcome.seconds, 4),
        )
        session.add(doc_run)
        session.flush()
        assert doc_run.id is not None
        for index, result in enumerate(outcome.results):
            _add_form(session, doc.id, doc_run.id, index, result)
        now = utcnow()
        calls = [
            {"run_id": run_id, "document_id": doc.id, "created_at": now, **_call_fields(call)}
            for call in outcome.calls
        ]
        if calls:
            session.execute(insert(LLMCall), calls)
        session.commit()
        return doc_run.id


def _call_fields(call: CallRecord) -> dict[str, Any]:
    return {name: getattr(call, name) for name in CallRecord.__slots__}


def _add_form(
    session: Session, document_id: int, doc_run_id: int, index: int, result: ExtractionResult
) -> None:
    rec = result.form
    form = Form(
        document_run_id=doc_run_id,
        document_id=document_id,
        form_index=index,
        pages=list(result.source.pages),
        project_name=rec.project_name,
        year=rec.year,
        total_score=rec.total_score,
        grade=rec.grade,
        extractor=result.run.extractor,
        model=result.run.model,
        result=result.model_dump(mode="json"),
    )
    session.add(form)
    session.flush()
    assert form.id is not None
    # Core bulk inserts (executemany): a form has hundreds of leaf values, and one ORM object
    # each made storing cost more than extracting.
    values = []
    for path, value in leaf_values(rec):
        prov = result.fields.get(path)
        values.append(
            {
                "form_id": form.id,
                "path": path,
                "value": value,
                "confidence": prov.confidence if prov else None,
                "page": prov.page if prov else None,
                "bbox": list(prov.bbox) if prov else None,
                "source_text": prov.source_text if prov else None,
                "extractor": prov.extractor if prov else None,
                "signals": dict(prov.signals) if prov else None,
            }
        )
    if values:
        session.execute(insert(FieldValue), values)
    flags = [
        {
            "form_id": form.id,
            "code": flag.code,
            "severity": flag.severity,
            "origin": flag.origin,
            "rule": flag.rule,
            "fields": list(flag.fields),
            "message": flag.message,
            "expected": flag.expected,
            "found": flag.found,
        }
        for flag in result.flags
    ]
    if flags:
        session.execute(insert(FlagRow), flags)


def leaf_values(record: FormRecord) -> Iterator[tuple[str, Any]]:
    """(JSON path, value) of every leaf of a record: `funding[0].executed`, `title`, …"""
    data = record.model_dump(mode="json")
    for key, value in data.items():
        if isinstance(value, list):
            for i, row in enumerate(value):
                for sub, leaf in row.items():
                    yield f"{key}[{i}].{sub}", leaf
        else:
            yield key, value


def save_eval_run(
    engine: Engine,
    *,
    extractor: str,
    metrics: dict[str, Any],
    forms: int,
    split: str | None = None,
    model: str | None = None,
    prompts: dict[str, str] | None = None,
    notes: str | None = None,
) -> int:
    """Store one evaluation (metrics as computed by the evals harness); returns its id."""
    with Session(engine) as session:
        row = EvalRun(
            extractor=extractor,
            metrics=metrics,
            forms=forms,
            split=split,
            model=model,
            prompts=prompts,
            notes=notes,
        )
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


# --- reviews and current values ---------------------------------------------------------------


def record_review(
    engine: Engine,
    form_id: int,
    path: str,
    new_value: Any,
    *,
    reviewer: str,
    reason: str | None = None,
) -> int:
    """Store a reviewer's value for one field as a new row; the extraction is never changed."""
    with Session(engine) as session:
        current = current_values(session, form_id)
        if path not in current:
            raise JixiaoError(
                None, f"form {form_id} has no field {path!r}", "use a path from the form"
            )
        decision = ReviewDecision(
            form_id=form_id,
            path=path,
            old_value=current[path],
            new_value=new_value,
            reviewer=reviewer,
            reason=reason,
        )
        session.add(decision)
        session.commit()
        assert decision.id is not None
        return decision.id


def current_values(session: Session, form_id: int) -> dict[str, Any]:
    """Path → value of a form now: the latest review decision, else the extracted value."""
    values = {
        row.path: row.value
        for row in session.scalars(select(FieldValue).where(col(FieldValue.form_id) == form_id))
    }
    decisions = session.scalars(
        select(ReviewDecision)
        .where(col(ReviewDecision.form_id) == form_id)
        .order_by(col(ReviewDecision.decided_at), col(ReviewDecision.id))
    )
    for decision in decisions:
        values[decision.path] = decision.new_value
    return values


def latest_forms(session: Session) -> list[Form]:
    """The forms of each document's most recent successful processing, in document order."""
    latest = (
        select(col(DocumentRun.document_id), func.max(col(DocumentRun.id)).label("doc_run_id"))
        .where(col(DocumentRun.status) == "done")
        .group_by(col(DocumentRun.document_id))
        .subquery()
    )
    stmt = (
        select(Form)
        .join(latest, col(Form.document_run_id) == latest.c.doc_run_id)
        .order_by(col(Form.document_id), col(Form.form_index))
    )
    return list(session.scalars(stmt))


def current_result(session: Session, form: Form) -> ExtractionResult:
    """The form's ExtractionResult with review corrections applied to its values."""
    result = ExtractionResult.model_validate_json(json.dumps(form.result))
    assert form.id is not None
    decisions = session.scalars(
        select(ReviewDecision)
        .where(col(ReviewDecision.form_id) == form.id)
        .order_by(col(ReviewDecision.decided_at), col(ReviewDecision.id))
    ).all()
    if not decisions:
        return result
    data = result.form.model_dump(mode="json")
    for decision in decisions:
        set_path(data, decision.path, decision.new_value)
    result.form = FormRecord.model_validate_json(json.dumps(data))
    return result


_PATH_RE = re.compile(r"^(\w+)(?:\[(\d+)\]\.(\w+))?$")


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    match = _PATH_RE.match(path)
    if match is None:
        raise ValueError(f"bad field path {path!r}")
    key, index, sub = match.groups()
    if index is None:
        data[key] = value
    else:
        data[key][int(index)][sub] = value


def failed_documents(session: Session, run_id: int) -> list[tuple[str, str | None]]:
    stmt = (
        select(col(Document.path), col(DocumentRun.error))
        .join(Document, col(Document.id) == col(DocumentRun.document_id))
        .where(col(DocumentRun.run_id) == run_id, col(DocumentRun.status) == "failed")
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def count_rows(engine: Engine, tables: Iterable[str]) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in tables
        }


__all__ = [
    "DatabaseError",
    "DocumentOutcome",
    "current_result",
    "current_values",
    "database_url",
    "finished_documents",
    "latest_forms",
    "open_db",
    "record_review",
    "save_document",
    "save_eval_run",
    "upgrade",
]
