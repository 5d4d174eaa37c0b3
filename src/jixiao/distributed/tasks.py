"""The one task: extract one document and store it, exactly once, in the project's database.

A worker runs the local batch's own per-document steps (`jixiao.batch`: ingest_for_batch, then
extract_form per form with its LLM calls recorded), so a queued batch stores the same rows as
`jixiao batch`. What is particular to the queue is around them: claiming the document in the
task table (the poison rule), reading the PDF from the task (bytes or a shared path, checked
against its SHA-256), retrying database and endpoint outages with backoff, and the
deduplicated write (storeonce.py).
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import json
import socket
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from celery.utils.log import get_task_logger
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from jixiao.batch import call_rows, extract_form, file_sha256, ingest_for_batch
from jixiao.distributed import state
from jixiao.distributed.app import app
from jixiao.distributed.settings import DistributedSettings, broker_url
from jixiao.distributed.storeonce import save_once
from jixiao.errors import JixiaoError, LLMUnavailable
from jixiao.extract.base import Extractor, ExtractorOptions, open_extractor
from jixiao.store import db
from jixiao.store.tables import Run

log = get_task_logger("jixiao.worker")

# Per worker process: one engine per database URL, one open extractor per option set (the
# embedded LLM server is started once, not per document), closed when the process exits.
_ENGINES: dict[str, Engine] = {}
_EXTRACTORS: dict[str, Extractor] = {}
_STACK = contextlib.ExitStack()
atexit.register(_STACK.close)
_LIMIT_INSTALLED = False

# Failures of the environment, not of the document: waited out with backoff, then failed.
_TRANSIENT = (OperationalError, DBAPIError, db.DatabaseError, LLMUnavailable)


def worker_engine() -> Engine:
    url = db.database_url()
    engine = _ENGINES.get(url)
    if engine is None:
        engine = db.open_db(url)
        state.ensure_schema(engine)
        _ENGINES[url] = engine
    return engine


def _install_shared_limit() -> None:
    global _LIMIT_INSTALLED
    if _LIMIT_INSTALLED:
        return
    settings = DistributedSettings.from_env()
    if settings.llm_rpm is not None or settings.llm_max_concurrent is not None:
        import redis

        from jixiao.config import LLMSettings
        from jixiao.distributed.ratelimit import (
            SharedRateLimit,
            endpoint_key,
            install_on_llm_client,
        )

        url = broker_url()
        assert url is not None
        endpoint = LLMSettings.from_env().base_url
        limit = SharedRateLimit(
            redis.Redis.from_url(url),
            endpoint_key(endpoint),
            per_minute=settings.llm_rpm,
            concurrent=settings.llm_max_concurrent,
        )
        install_on_llm_client(limit)
        log.info(
            "shared LLM limit on %s: %s requests/min, %s in flight",
            endpoint or "the embedded server",
            settings.llm_rpm or "unbounded",
            settings.llm_max_concurrent or "unbounded",
        )
    _LIMIT_INSTALLED = True


def _extractor(options: dict[str, Any]) -> Extractor:
    key = json.dumps(
        {k: options.get(k) for k in ("extractor", "model", "base_url", "mode")}, sort_keys=True
    )
    extractor = _EXTRACTORS.get(key)
    if extractor is None:
        _install_shared_limit()
        extractor = _STACK.enter_context(
            open_extractor(
                options.get("extractor") or "layout",
                ExtractorOptions(
                    model=options.get("model"),
                    base_url=options.get("base_url"),
                    mode=options.get("mode"),
                ),
            )
        )
        _EXTRACTORS[key] = extractor
    return extractor


class SourceError(JixiaoError):
    exit_code = 3
    reason = "the document cannot be read by the worker"
    hint = "give workers a shared path, or raise JIXIAO_INLINE_MAX_BYTES so the bytes travel"


@contextlib.contextmanager
def materialize(source: dict[str, Any], sha256: str) -> Iterator[Path]:
    """The task's PDF as a local file whose SHA-256 is the one the task names."""
    if source.get("b64") is not None:
        try:
            data = base64.b64decode(source["b64"], validate=True)
        except (binascii.Error, ValueError) as err:
            raise SourceError(
                source.get("name"), f"the task's bytes are not base64 ({err})"
            ) from err
        with tempfile.TemporaryDirectory(prefix="jixiao-doc-") as tmp:
            path = Path(tmp) / Path(source.get("name") or "document.pdf").name
            path.write_bytes(data)
            _check_sha(path, sha256, source.get("name"))
            yield path
        return
    path = Path(str(source.get("path") or ""))
    if not path.is_file():
        raise SourceError(str(path), "the file is not there on this worker (no shared path?)")
    _check_sha(path, sha256, str(path))
    yield path


def _check_sha(path: Path, sha256: str, name: str | None) -> None:
    found = file_sha256(path)
    if found != sha256:
        raise SourceError(name, f"content changed since it was queued (sha256 {found[:12]}…)")


def process_document(
    pdf: Path,
    display_path: str,
    sha256: str,
    extractor: Extractor,
    *,
    max_pages: int = 2000,
    form_concurrency: int = 4,
) -> db.DocumentOutcome:
    """One document → DocumentOutcome with the local batch's steps (see the module docstring)."""
    began = time.perf_counter()
    log.info("document %s (%s): ingesting", display_path, sha256[:12])
    ingested = ingest_for_batch(str(pdf), max_pages)
    error = ingested.error.replace(str(pdf), display_path) if ingested.error else None
    outcome = db.DocumentOutcome(
        path=display_path,
        sha256=sha256,
        extractor=extractor.name,
        pages=ingested.pages or None,
        size_bytes=pdf.stat().st_size,
        warnings=ingested.warnings,
        error=error,
        error_code=ingested.error_code,
    )
    if not outcome.failed:
        total = len(ingested.forms)

        def one(index: int, form: Any, layout: Any) -> tuple[Any, list[db.CallRecord]]:
            result, calls = extract_form(extractor, form, layout, display_path, sha256)
            return result, call_rows(index, calls)

        with ThreadPoolExecutor(max_workers=max(1, form_concurrency)) as pool:
            futures = []
            for i, (form, layout) in enumerate(ingested.forms):
                # Logged here, not in the thread: Celery's task logger names the task (id,
                # document) only in the task's own thread.
                pages = ",".join(str(p) for p in form.pages)
                log.info("document %s: form %d/%d, pages %s", display_path, i + 1, total, pages)
                futures.append(pool.submit(one, i, form, layout))
            try:
                done = [future.result() for future in futures]
            except JixiaoError:
                raise  # the endpoint refused us: an outage, retried by the task
            except Exception as err:  # one form crashed the extractor: the document failed
                outcome.error = f"{display_path}: extraction failed: {type(err).__name__}: {err}"
                outcome.error_code = 1
            else:
                for result, calls in done:
                    outcome.results.append(result)
                    outcome.calls.extend(calls)
    outcome.seconds = time.perf_counter() - began
    return outcome


def finish_run_if_complete(engine: Engine, run_id: int) -> None:
    counts = state.counts(engine, run_id)
    if counts["waiting"] or counts["running"]:
        return
    with Session(engine) as session:
        run = session.get(Run, run_id)
        if run is None or run.status != "running":
            return
    db.finish_run(
        engine,
        run_id,
        status="finished",
        counts={"done": counts["done"], "failed": counts["failed"]},
    )


@app.task(bind=True, name="jixiao.extract_document", max_retries=None)
def extract_document(
    self: Any, run_id: int, sha256: str, source: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    """Extract and store one document of batch run `run_id` (see the module docstring).

    `source`: {"path": shared path} or {"b64": the bytes, "name": file name};
    `options`: extractor, model, base_url, mode, max_pages, concurrency, force."""
    settings = DistributedSettings.from_env()
    display = str(source.get("path") or source.get("name") or sha256)
    try:
        return _extract(self, run_id, sha256, source, options, settings, display)
    except _TRANSIENT as err:
        reason = _reason(err)
        retries = int(self.request.retries or 0)
        if retries < settings.db_max_retries:
            wait = settings.backoff(retries)
            log.warning("document %s: %s; retry %d in %d s", display, reason, retries + 1, wait)
            with contextlib.suppress(Exception):
                state.release(worker_engine(), run_id, sha256, reason)
            raise self.retry(countdown=wait, exc=err) from err
        error = f"{display}: gave up: {reason}"
    except Exception as err:
        # A configuration error (unknown extractor) or a bug: this document fails with the
        # reason and the batch goes on; the task is not left `running` for ever.
        if isinstance(err, JixiaoError):
            error = err.line()
        else:
            error = f"{display}: internal error {type(err).__name__}: {err}"
    try:
        return _fail(run_id, sha256, display, options, error)
    except _TRANSIENT as err:
        # The failure itself cannot be recorded: keep the task, never lose the document.
        log.error("document %s: %s; cannot record the failure, retrying", display, error)
        raise self.retry(countdown=settings.retry_max_s, exc=err) from err


def _reason(err: BaseException) -> str:
    if isinstance(err, JixiaoError):
        return err.line()
    return f"database unreachable ({db._first_line(err)})"


def _extract(
    task: Any,
    run_id: int,
    sha256: str,
    source: dict[str, Any],
    options: dict[str, Any],
    settings: DistributedSettings,
    display: str,
) -> dict[str, Any]:
    engine = worker_engine()
    worker = str(task.request.hostname or socket.gethostname())
    start = state.begin(engine, run_id, sha256, display, worker, settings.max_crashes)
    if start.action == "finished":
        log.info("document %s: already %s (a redelivery); nothing to do", display, start.status)
        return {"status": start.status, "written": False}
    if start.action == "poison":
        return _fail(
            run_id,
            sha256,
            display,
            options,
            f"{display}: the worker died {start.crashes} times on this document"
            f" (last on {start.last_worker}); not tried again",
        )
    log.info("document %s (%s): start %d on %s", display, sha256[:12], start.starts, worker)
    try:
        with materialize(source, sha256) as pdf:
            outcome = process_document(
                pdf,
                display,
                sha256,
                _extractor(options),
                max_pages=int(options.get("max_pages") or 2000),
                form_concurrency=int(options.get("concurrency") or 4),
            )
    except SourceError as err:
        return _fail(run_id, sha256, display, options, err.line())
    written = save_once(engine, run_id, outcome, across_runs=not options.get("force"))
    status = "failed" if outcome.failed else "done"
    state.finish(
        engine, run_id, sha256, status=status, forms=len(outcome.results), error=outcome.error
    )
    finish_run_if_complete(engine, run_id)
    log.info(
        "document %s: %s, %d form(s), %.1f s%s",
        display,
        status,
        len(outcome.results),
        outcome.seconds,
        "" if written else " (already stored: nothing written)",
    )
    return {"status": status, "forms": len(outcome.results), "written": written}


def _fail(
    run_id: int, sha256: str, display: str, options: dict[str, Any], error: str
) -> dict[str, Any]:
    engine = worker_engine()
    outcome = db.DocumentOutcome(
        path=display,
        sha256=sha256,
        extractor=options.get("extractor") or "layout",
        error=error,
        error_code=1,
    )
    save_once(engine, run_id, outcome)
    state.finish(engine, run_id, sha256, status="failed", error=error)
    finish_run_if_complete(engine, run_id)
    log.error("%s", error)
    return {"status": "failed", "written": True}
