"""Write one document's outcome at most once per result key, however often its task is delivered.

The key of a result is (document sha256, extractor, model, prompt hashes): the same bytes read
by the same extractor with the same model and prompts give the same rows, so a second write
of that key is a duplicate. A worker takes a lock on (sha256, extractor), looks for an existing
`done` row with the same key (or, for a failure, a row of the same batch run), and only then
calls the store's own one-transaction `save_document`; the lock is held until that commit, so
two workers finishing the same document at once (a redelivery racing the original) write once.

The lock: PostgreSQL's session advisory lock on a connection of its own (released by the
server if the worker dies), or for SQLite, which lives on one machine, an exclusive flock on a
file beside the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from sqlmodel import col, select

from jixiao.contract import ExtractionResult
from jixiao.store import db
from jixiao.store.tables import Document, DocumentRun, Form


def result_key(extractor: str, runs: Iterable[Any]) -> str:
    """sha256 of (extractor, models, prompt name → sha) over a document's forms' RunInfo."""
    models: set[str] = set()
    prompts: dict[str, str] = {}
    for run in runs:
        if run.model:
            models.add(run.model)
        prompts.update(run.prompts or {})
    blob = json.dumps(
        {"extractor": extractor, "models": sorted(models), "prompts": prompts}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def outcome_key(outcome: db.DocumentOutcome) -> str:
    return result_key(outcome.extractor, (r.run for r in outcome.results))


def _lock_id(sha256: str, extractor: str) -> int:
    digest = hashlib.sha256(f"jixiao-doc:{sha256}:{extractor}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)  # PostgreSQL's bigint


@contextlib.contextmanager
def document_lock(engine: Engine, sha256: str, extractor: str) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        key = _lock_id(sha256, extractor)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    with sqlite_file_lock(engine, "doc"):
        yield


@contextlib.contextmanager
def sqlite_file_lock(engine: Engine, name: str) -> Iterator[None]:
    """An exclusive lock between processes on the machine of an SQLite database file."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        raise db.DatabaseError(
            None, "distributed workers need PostgreSQL or an SQLite file database"
        )
    lock_path = Path(database).with_name(f"{Path(database).name}.jixiao-{name}.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def existing_done_keys(engine: Engine, sha256: str, extractor: str) -> dict[str, int]:
    """Result key → run id of every `done` processing of this document by this extractor."""
    stmt = (
        select(col(DocumentRun.id), col(DocumentRun.run_id), col(Form.result))
        .join(Document, col(Document.id) == col(DocumentRun.document_id))
        .outerjoin(Form, col(Form.document_run_id) == col(DocumentRun.id))
        .where(
            col(Document.sha256) == sha256,
            col(DocumentRun.extractor) == extractor,
            col(DocumentRun.status) == "done",
        )
    )
    runs: dict[int, tuple[int, list[Any]]] = {}
    with Session(engine) as session:
        for doc_run_id, run_id, result in session.execute(stmt):
            entry = runs.setdefault(doc_run_id, (run_id, []))
            if result is not None:
                entry[1].append(ExtractionResult.model_validate(result).run)
    return {result_key(extractor, infos): run_id for run_id, infos in runs.values()}


def has_row_in_run(engine: Engine, run_id: int, sha256: str, extractor: str) -> bool:
    stmt = (
        select(col(DocumentRun.id))
        .join(Document, col(Document.id) == col(DocumentRun.document_id))
        .where(
            col(Document.sha256) == sha256,
            col(DocumentRun.extractor) == extractor,
            col(DocumentRun.run_id) == run_id,
        )
        .limit(1)
    )
    with Session(engine) as session:
        return session.execute(stmt).first() is not None


def save_once(
    engine: Engine, run_id: int, outcome: db.DocumentOutcome, *, across_runs: bool = True
) -> bool:
    """Save `outcome` unless its result is already stored; True when this call wrote it.

    `across_runs`: a `done` row with the same key in any run counts (False: only this run's,
    for a batch enqueued with --force to extract again)."""
    with document_lock(engine, outcome.sha256, outcome.extractor):
        if outcome.failed:
            # A failure is recorded once per batch run, and never over a success of this run.
            if has_row_in_run(engine, run_id, outcome.sha256, outcome.extractor):
                return False
        else:
            keys = existing_done_keys(engine, outcome.sha256, outcome.extractor)
            run = keys.get(outcome_key(outcome))
            if run is not None and (across_runs or run == run_id):
                return False
        db.save_document(engine, run_id, outcome)
        return True
