"""The client side: put a batch on the queue, and read its progress back from the database."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.orm import Session
from sqlmodel import col, select

from jixiao.batch import collect_inputs, file_sha256
from jixiao.distributed import state
from jixiao.distributed.settings import DistributedSettings, broker_url, redact
from jixiao.extract.base import ExtractorOptions
from jixiao.store import db
from jixiao.store.tables import DocumentRun, LLMCall, Run


@dataclass(slots=True)
class Enqueued:
    run_id: int
    total: int = 0
    queued: int = 0
    skipped: int = 0
    by_path: int = 0  # documents too large to travel inline: workers read the shared path
    warnings: list[str] = field(default_factory=list)


def enqueue(
    paths: Iterable[Path],
    engine: Engine,
    *,
    extractor: str = "layout",
    extractor_options: ExtractorOptions | None = None,
    concurrency: int = 4,
    max_pages: int = 2000,
    force: bool = False,
    by_path: bool = False,
    settings: DistributedSettings | None = None,
    send: Any = None,
) -> Enqueued:
    """One task per new document of `paths`; a batch run row, and a `waiting` task row each.

    Documents already finished with this extractor are skipped (as the local batch does) unless
    `force`. The bytes travel in the task up to `settings.inline_max_bytes`; larger files (or
    all, with `by_path`) travel as their absolute path, which the workers must see.
    `send(args)`: how a task is sent (default: Celery's apply_async on the configured broker).
    """
    kw: dict[str, Any] = {
        "extractor": extractor,
        "extractor_options": extractor_options,
        "concurrency": concurrency,
        "max_pages": max_pages,
        "force": force,
        "by_path": by_path,
        "settings": settings,
    }
    if send is not None:
        return _enqueue(paths, engine, send, "custom", **kw)
    url = broker_url()  # fail before anything is written when no broker is configured
    assert url is not None
    from jixiao.distributed.app import app
    from jixiao.distributed.tasks import extract_document

    # The URL of now, not the one the app read at import; one connection for the whole batch.
    with app.connection_for_write(url) as conn:

        def send_one(args: list[Any]) -> None:
            extract_document.apply_async(args=args, connection=conn)

        return _enqueue(paths, engine, send_one, redact(url), **kw)


def _enqueue(
    paths: Iterable[Path],
    engine: Engine,
    send: Any,
    broker: str,
    *,
    extractor: str,
    extractor_options: ExtractorOptions | None,
    concurrency: int,
    max_pages: int,
    force: bool,
    by_path: bool,
    settings: DistributedSettings | None,
) -> Enqueued:
    settings = settings or DistributedSettings.from_env()
    opts = extractor_options or ExtractorOptions()
    state.ensure_schema(engine)
    files = collect_inputs(paths)
    run_id = db.start_run(
        engine,
        extractor,
        model=opts.model,
        params={"distributed": True, "broker": broker, "concurrency": concurrency},
    )
    out = Enqueued(run_id=run_id, total=len(files))
    finished = set() if force else db.finished_documents(engine, extractor)
    todo: list[tuple[Path, str]] = []
    for path in files:
        sha = file_sha256(path)
        if sha in finished:
            out.skipped += 1
        else:
            todo.append((path, sha))
            finished.add(sha)  # the same bytes twice are processed once
    with Session(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.documents_total, run.documents_skipped = out.total, out.skipped
        session.commit()
    state.add_waiting(engine, run_id, [(sha, str(path)) for path, sha in todo])
    options = {
        "extractor": extractor,
        "model": opts.model,
        "base_url": opts.base_url,
        "mode": opts.mode,
        "max_pages": max_pages,
        "concurrency": concurrency,
        "force": force,
    }
    for path, sha in todo:
        size = path.stat().st_size
        source: dict[str, Any]
        if by_path or size > settings.inline_max_bytes:
            source = {"path": str(path.resolve())}
            out.by_path += 1
        else:
            source = {"b64": base64.b64encode(path.read_bytes()).decode(), "name": str(path)}
        send([run_id, sha, source, options])
        out.queued += 1
    if not todo:
        db.finish_run(engine, run_id, status="finished", counts={"done": 0, "failed": 0})
    return out


@dataclass(slots=True)
class BatchStatus:
    run_id: int
    status: str  # the run's: running, finished
    total: int
    skipped: int
    waiting: int
    running: int
    done: int
    failed: int
    forms: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    document_seconds: float  # summed over documents (work, not wall clock)
    elapsed: float  # wall clock since the batch was queued
    failures: list[tuple[str, str]]
    workers: list[str]


def batch_status(engine: Engine, run_id: int | None = None) -> BatchStatus | None:
    """Progress of a queued batch (the newest when `run_id` is None), from the database only."""
    state.ensure_schema(engine)
    run_id = run_id if run_id is not None else state.latest_run(engine)
    if run_id is None:
        return None
    counts = state.counts(engine, run_id)
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            return None
        forms, seconds = session.execute(
            select(
                func.coalesce(func.sum(col(DocumentRun.forms_count)), 0),
                func.coalesce(func.sum(col(DocumentRun.seconds)), 0.0),
            ).where(col(DocumentRun.run_id) == run_id)
        ).one()
        calls, tokens_in, tokens_out = session.execute(
            select(
                func.count(col(LLMCall.id)),
                func.coalesce(func.sum(col(LLMCall.input_tokens)), 0),
                func.coalesce(func.sum(col(LLMCall.output_tokens)), 0),
            ).where(col(LLMCall.run_id) == run_id, col(LLMCall.cache_hit).is_(False))
        ).one()
        started = _aware(run.started_at)
        ended = _aware(run.finished_at) if run.finished_at else datetime.now(UTC)
        run_status, total, skipped = run.status, run.documents_total, run.documents_skipped
    running_rows = state.rows(engine, run_id, "running")
    failed_rows = state.rows(engine, run_id, "failed")
    return BatchStatus(
        run_id=run_id,
        status=run_status,
        total=total,
        skipped=skipped,
        waiting=counts["waiting"],
        running=counts["running"],
        done=counts["done"],
        failed=counts["failed"],
        forms=int(forms),
        llm_calls=int(calls),
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
        document_seconds=float(seconds),
        elapsed=(ended - started).total_seconds(),
        failures=[(r["path"], r["error"] or "failed") for r in failed_rows],
        workers=sorted({str(r["worker"]) for r in running_rows if r["worker"]}),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def follow(
    engine: Engine, run_id: int, *, interval: float = 1.0, timeout: float | None = None
) -> BatchStatus | None:
    """Poll until nothing is waiting or running (or `timeout` seconds); the last status."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        current = batch_status(engine, run_id)
        if current is None or (current.waiting == 0 and current.running == 0):
            return current
        if deadline is not None and time.monotonic() > deadline:
            return current
        time.sleep(interval)
