"""The database tables (SQLModel). The schema itself is owned by the Alembic migrations in
`migrations/versions/`; a test compares these models with the migrated database so they cannot
drift apart.

Extractions are append-only: a re-run adds a new `document_runs` row with its own forms, and a
review correction is a new `review_decisions` row. The current value of a field is derived
(`current_field_values` view, `jixiao.store.db.current_values`), never written over the original.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


def _text() -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=True))


class Document(SQLModel, table=True):
    """One input file, identified by the SHA-256 of its bytes (a renamed file is the same)."""

    __tablename__ = "documents"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True, index=True)
    path: str
    pages: int | None = None
    size_bytes: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Run(SQLModel, table=True):
    """One `jixiao batch` invocation (or one programmatic call of run_batch)."""

    __tablename__ = "runs"
    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    status: str = Field(default="running", max_length=16)  # running, finished, interrupted, failed
    extractor: str = Field(max_length=32)
    model: str | None = None
    params: dict[str, Any] | None = _json()
    documents_total: int = 0
    documents_done: int = 0
    documents_skipped: int = 0
    documents_failed: int = 0


class DocumentRun(SQLModel, table=True):
    """The outcome of processing one document in one run: done (with its forms) or failed.

    A run resumes by skipping documents that have a `done` row for the same extractor; the row is
    committed in the same transaction as the forms, so a kill leaves either both or neither.
    """

    __tablename__ = "document_runs"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    extractor: str = Field(max_length=32)
    status: str = Field(max_length=16)  # done, failed
    error: str | None = _text()
    error_code: int | None = None
    forms_count: int = 0
    warnings: list[str] | None = _json()
    seconds: float = 0.0
    finished_at: datetime = Field(default_factory=utcnow)


class Form(SQLModel, table=True):
    """One form found in a document, as extracted. `result` is the full contract JSON
    (ExtractionResult), so exports lose nothing; the columns beside it are for querying."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("document_run_id", "form_index"),)
    id: int | None = Field(default=None, primary_key=True)
    document_run_id: int = Field(foreign_key="document_runs.id", index=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    form_index: int
    pages: list[int] | None = _json()
    project_name: str | None = _text()
    year: int | None = None
    total_score: float | None = None
    grade: str | None = None
    extractor: str = Field(max_length=32)
    model: str | None = None
    result: dict[str, Any] = _json(nullable=False)


class FieldValue(SQLModel, table=True):
    """One leaf value of a form (JSON path → value) with its provenance and confidence."""

    __tablename__ = "field_values"
    __table_args__ = (UniqueConstraint("form_id", "path"),)
    id: int | None = Field(default=None, primary_key=True)
    form_id: int = Field(foreign_key="forms.id", index=True)
    path: str
    value: Any = _json()
    confidence: float | None = None
    page: int | None = None
    bbox: list[float] | None = _json()
    source_text: str | None = _text()
    extractor: str | None = None
    signals: dict[str, float] | None = _json()


class FlagRow(SQLModel, table=True):
    """One finding of the checks (or of extraction) on a form."""

    __tablename__ = "flags"
    id: int | None = Field(default=None, primary_key=True)
    form_id: int = Field(foreign_key="forms.id", index=True)
    code: str
    severity: str = Field(max_length=16)
    origin: str = Field(max_length=16)
    rule: str | None = None
    fields: list[str] | None = _json()
    message: str = Field(sa_column=Column(Text, nullable=False))
    expected: Any = _json()
    found: Any = _json()


class LLMCall(SQLModel, table=True):
    """One structured LLM call (cache hits included, marked), for cost and audit."""

    __tablename__ = "llm_calls"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id", index=True)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    form_index: int | None = None
    section: str | None = None
    prompt: str | None = None  # name@version
    prompt_sha256: str | None = None
    cache_key_sha256: str | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 0
    seconds: float = 0.0
    cache_hit: bool = False
    error: str | None = _text()
    created_at: datetime = Field(default_factory=utcnow)


class ReviewDecision(SQLModel, table=True):
    """A reviewer's correction or confirmation of one field: old → new, who, when, why."""

    __tablename__ = "review_decisions"
    id: int | None = Field(default=None, primary_key=True)
    form_id: int = Field(foreign_key="forms.id", index=True)
    path: str
    old_value: Any = _json()
    new_value: Any = _json()
    reviewer: str
    reason: str | None = _text()
    decided_at: datetime = Field(default_factory=utcnow)


class EvalRun(SQLModel, table=True):
    """One evaluation of an extractor against gold, with its metrics."""

    __tablename__ = "eval_runs"
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    split: str | None = None
    extractor: str
    model: str | None = None
    prompts: dict[str, str] | None = _json()
    forms: int = 0
    metrics: dict[str, Any] | None = _json()
    notes: str | None = _text()


ALL_TABLES = (
    Document,
    Run,
    DocumentRun,
    Form,
    FieldValue,
    FlagRow,
    LLMCall,
    ReviewDecision,
    EvalRun,
)
