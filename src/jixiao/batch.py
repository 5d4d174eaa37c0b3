"""Many documents in one run: ingestion in a process pool, extraction (LLM calls) concurrently
with at most `concurrency` forms in flight, every finished document stored at once.

Resumable: a document is skipped when the database already holds a finished processing of the
same bytes (SHA-256) with the same extractor. Each document is written in one transaction, so a
run killed at any point (Ctrl-C, kill -9) leaves every document complete or absent; the next run
finishes the rest without duplicate rows. One bad file never stops the batch: it is recorded with
its error and listed in the summary, and the exit code says whether anything failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from jixiao.contract import ExtractionResult, RunInfo, SourceInfo
from jixiao.errors import EXIT_PARTIAL_FAILURE, FileMissing, JixiaoError, NoFormFound
from jixiao.extract.base import Extractor, ExtractorOptions, open_extractor
from jixiao.extract.llm.calls import LLMCall, Usage
from jixiao.ingest.model import FormRegion, LayoutText
from jixiao.store import db

# --- ingestion (runs in worker processes) -----------------------------------------------------


@dataclass(slots=True)
class IngestedDocument:
    """What a worker hands back: picklable, and an error as text (JixiaoError does not pickle)."""

    path: str
    pages: int = 0
    forms: list[tuple[FormRegion, LayoutText]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    error_code: int | None = None
    seconds: float = 0.0


def ingest_for_batch(path: str, max_pages: int) -> IngestedDocument:
    """Ingest and serialize one PDF; never raises (errors come back in the result)."""
    from jixiao.ingest import ingest_pdf, serialize_form

    started = time.perf_counter()
    out = IngestedDocument(path=path)
    try:
        result = ingest_pdf(path, max_pages=max_pages)
        out.pages = len(result.document.pages)
        out.warnings = list(result.warnings)
        projects = [f for f in result.forms if f.kind == "project"]
        if not projects:
            raise NoFormFound(path)
        out.forms = [(form, serialize_form(form)) for form in projects]
    except JixiaoError as err:
        out.error, out.error_code = err.line(), err.exit_code
    except Exception as err:  # a bug or a PDF the library chokes on: record, go on
        out.error, out.error_code = f"{path}: internal error {type(err).__name__}: {err}", 1
    out.seconds = time.perf_counter() - started
    return out


# --- extraction (runs in threads, LLM calls bounded by the semaphore) ---------------------------


@dataclass(slots=True)
class BatchOptions:
    extractor: str = "layout"
    extractor_options: ExtractorOptions = field(default_factory=ExtractorOptions)
    concurrency: int = 4  # forms extracted at once (each makes its LLM calls in turn)
    workers: int = 1  # ingestion processes; 0 ingests in this process (tests, one file)
    max_pages: int = 2000
    out_dir: Path | None = None  # contract JSON per document
    jsonl: Path | None = None  # every form of the inputs, one ExtractionResult per line
    force: bool = False  # process documents even when already finished
    progress: bool = True


@dataclass(slots=True)
class BatchSummary:
    run_id: int
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    forms: int = 0
    usage: Usage = field(default_factory=Usage)  # summed over the forms' RunInfo
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, error line)

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL_FAILURE if self.failed else 0

    @property
    def llm_calls(self) -> int:
        return self.usage.attempts

    @property
    def cache_hits(self) -> int:
        return self.usage.cache_hits

    @property
    def input_tokens(self) -> int:
        return self.usage.input_tokens

    @property
    def output_tokens(self) -> int:
        return self.usage.output_tokens


FormHook = Callable[
    [Extractor, FormRegion, LayoutText, str, str], tuple[ExtractionResult, list[LLMCall]]
]


def extract_form(
    extractor: Extractor, form: FormRegion, layout: LayoutText, path: str, sha256: str
) -> tuple[ExtractionResult, list[LLMCall]]:
    """One form → ExtractionResult, exactly as `jixiao extract` makes it (extract/pipeline.py):
    an extractor crash becomes an empty record with an EXTRACTION_FAILED flag, then the checks.
    With it, the record of every LLM call the extractor made for the form (its output's)."""
    from jixiao.extract.pipeline import run_extractor_on_form, run_form_checks

    out = run_extractor_on_form(extractor, form, lambda _form: layout, sha256)
    flags = list(out.flags) + run_form_checks(out, None, "zh")
    result = ExtractionResult(
        source=SourceInfo(file=path, sha256=sha256, pages=list(form.pages)),
        form=out.record,
        fields=out.fields,
        flags=flags,
        run=out.stats if isinstance(out.stats, RunInfo) else RunInfo(extractor=extractor.name),
    )
    return result, list(out.calls)


def call_rows(form_index: int, calls: Iterable[LLMCall]) -> list[db.CallRecord]:
    """The llm_calls rows of one form's calls (`form_index`: its place in the document)."""
    return [db.CallRecord.of_call(form_index, call) for call in calls]


# --- the run ----------------------------------------------------------------------------------


def collect_inputs(paths: Iterable[Path]) -> list[Path]:
    """PDF files of the arguments (folders searched recursively), in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() == ".pdf"))
        elif path.exists():
            found.append(path)
        else:
            raise FileMissing(str(path))
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def document_json_path(out_dir: Path, path: str, sha256: str) -> Path:
    return out_dir / f"{Path(path).stem}.{sha256[:8]}.json"


def results_json(results: list[ExtractionResult]) -> str:
    data = [r.model_dump(mode="json") for r in results]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


class _Progress:
    """The rich progress bar (documents, forms, LLM calls, errors, ETA), or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.bar: Any = None
        self.task: Any = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]documents"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "forms {task.fields[forms]} · LLM calls {task.fields[calls]}"
                " · errors {task.fields[errors]}"
            ),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.task = self.bar.add_task("batch", total=total, forms=0, calls=0, errors=0)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, summary: BatchSummary, advance: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(
                self.task,
                advance=advance,
                forms=summary.forms,
                calls=summary.llm_calls,
                errors=summary.failed,
            )


def run_batch(
    paths: Iterable[Path],
    engine: Engine,
    options: BatchOptions | None = None,
    *,
    extractor: Extractor | None = None,
    form_hook: FormHook = extract_form,
) -> BatchSummary:
    """Process every PDF under `paths` into the database; see the module docstring.

    `extractor`: use this one instead of opening `options.extractor` (tests, embedding).
    """
    options = options or BatchOptions()
    files = collect_inputs(paths)
    started = time.perf_counter()
    name = extractor.name if extractor is not None else options.extractor
    run_id = db.start_run(
        engine,
        name,
        model=options.extractor_options.model,
        params={"concurrency": options.concurrency, "workers": options.workers},
    )
    summary = BatchSummary(run_id=run_id, total=len(files))
    finished = set() if options.force else db.finished_documents(engine, name)
    todo: list[tuple[Path, str]] = []
    inputs: list[tuple[Path, str]] = []
    for path in files:
        sha = file_sha256(path)
        inputs.append((path, sha))
        if sha in finished:
            summary.skipped += 1
        else:
            todo.append((path, sha))
            finished.add(sha)  # the same bytes twice in one run are processed once
    status = "failed"
    try:
        if todo:
            with contextlib.ExitStack() as stack:
                if extractor is None:
                    extractor = stack.enter_context(
                        open_extractor(options.extractor, options.extractor_options)
                    )
                progress = stack.enter_context(_Progress(options.progress, len(files)))
                progress.update(summary, advance=summary.skipped)
                asyncio.run(
                    _process_all(
                        todo, engine, run_id, extractor, options, summary, progress, form_hook
                    )
                )
        if options.jsonl is not None:
            write_jsonl(engine, options.jsonl, {sha for _, sha in inputs})
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"  # finished documents are stored; the next run resumes
        raise
    finally:
        summary.seconds = time.perf_counter() - started
        counts = {"total": summary.total, "done": summary.done, "skipped": summary.skipped}
        counts["failed"] = summary.failed
        db.finish_run(engine, run_id, status=status, counts=counts)
    return summary


async def _process_all(
    todo: list[tuple[Path, str]],
    engine: Engine,
    run_id: int,
    extractor: Extractor,
    options: BatchOptions,
    summary: BatchSummary,
    progress: _Progress,
    form_hook: FormHook,
) -> None:
    ingest_pool = _IngestPool(options.workers)
    ingest_pool.start()  # before the extraction threads exist (see _IngestPool)
    concurrency = max(1, options.concurrency)
    threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="jixiao-extract")
    form_slots = asyncio.Semaphore(concurrency)
    # Documents in flight at once: enough to keep every form slot and ingest worker busy, few
    # enough that a folder of 10 000 PDFs is not ingested into memory ahead of extraction.
    doc_slots = asyncio.Semaphore(concurrency + 2 * max(1, options.workers))
    loop = asyncio.get_running_loop()

    async def one_form(
        index: int, form: FormRegion, layout: LayoutText, path: str, sha: str
    ) -> Any:
        def work() -> tuple[ExtractionResult, list[db.CallRecord]]:
            result, calls = form_hook(extractor, form, layout, path, sha)
            return result, call_rows(index, calls)

        async with form_slots:
            return await loop.run_in_executor(threads, work)

    async def one_document(path: Path, sha: str) -> None:
        async with doc_slots:
            began = time.perf_counter()
            ingested = await ingest_pool.ingest(loop, str(path), options.max_pages)
            outcome = db.DocumentOutcome(
                path=str(path),
                sha256=sha,
                extractor=extractor.name,
                pages=ingested.pages or None,
                size_bytes=path.stat().st_size if path.exists() else None,
                warnings=ingested.warnings,
                error=ingested.error,
                error_code=ingested.error_code,
            )
            if not outcome.failed:
                tasks = [
                    one_form(i, form, layout, str(path), sha)
                    for i, (form, layout) in enumerate(ingested.forms)
                ]
                try:
                    done = await asyncio.gather(*tasks)
                except JixiaoError:  # e.g. the LLM endpoint refused the key: fatal for the run
                    raise
                except Exception as err:  # one form crashed the extractor: the document failed
                    outcome.error = f"{path}: extraction failed: {type(err).__name__}: {err}"
                    outcome.error_code = 1
                else:
                    for result, calls in done:
                        outcome.results.append(result)
                        outcome.calls.extend(calls)
            outcome.seconds = time.perf_counter() - began
            # One writer thread: writes stay serial (SQLite has one writer) and off the loop.
            await loop.run_in_executor(writer, store, outcome)
            _count(summary, outcome)
            progress.update(summary)

    def store(outcome: db.DocumentOutcome) -> None:
        if options.out_dir is not None and not outcome.failed:
            write_atomic(
                document_json_path(options.out_dir, outcome.path, outcome.sha256),
                results_json(outcome.results),
            )
        db.save_document(engine, run_id, outcome)

    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jixiao-store")
    try:
        await asyncio.gather(*(one_document(path, sha) for path, sha in todo))
    finally:
        threads.shutdown(wait=False, cancel_futures=True)
        writer.shutdown(wait=True)  # a document being written is finished, not torn
        ingest_pool.shutdown()


def _count(summary: BatchSummary, outcome: db.DocumentOutcome) -> None:
    if outcome.failed:
        summary.failed += 1
        summary.failures.append((outcome.path, outcome.error or "failed"))
        return
    summary.done += 1
    summary.forms += len(outcome.results)
    summary.usage += Usage.total(Usage.of_run(result.run) for result in outcome.results)


class _IngestPool:
    """A process pool for ingestion that survives a worker dying (a PDF that crashes the
    library): that document fails, the pool is rebuilt, the others go on.

    The first pool is forked (on Linux) at the start of the run, before any extraction thread
    exists: a spawned worker re-imports PyMuPDF and the project, seconds on a busy machine,
    while the LLM slots wait for the first document. A pool rebuilt mid-run is spawned, since
    forking while threads hold locks is unsafe.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: Executor | None = None
        self._rebuilt = False

    def start(self) -> None:
        self._pool()

    def _pool(self) -> Executor:
        if self.pool is None:
            if self.workers <= 0:
                self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jixiao-ingest")
            else:
                import multiprocessing

                methods = multiprocessing.get_all_start_methods()
                method = "fork" if "fork" in methods and not self._rebuilt else "spawn"
                ctx = multiprocessing.get_context(method)
                self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
                if method == "fork":
                    # 3.11 forks all workers on the first submit: now, before extraction threads.
                    self.pool.submit(int).result()
        return self.pool

    async def ingest(
        self, loop: asyncio.AbstractEventLoop, path: str, max_pages: int
    ) -> IngestedDocument:
        pool = self._pool()
        try:
            return await loop.run_in_executor(pool, ingest_for_batch, path, max_pages)
        except BrokenProcessPool:
            if self.pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self.pool, self._rebuilt = None, True
            return IngestedDocument(
                path=path,
                error=f"{path}: the ingestion worker died on this file (a crash in the PDF reader)",
                error_code=1,
            )

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


def write_jsonl(engine: Engine, out: Path, shas: set[str] | None = None) -> int:
    """Every current form (review corrections applied) as one ExtractionResult per line;
    only the documents in `shas` when given. Written atomically; returns the line count."""
    lines = []
    with Session(engine) as session:
        for form in db.latest_forms(session):
            result = db.current_result(session, form)
            if shas is None or result.source.sha256 in shas:
                lines.append(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))
    write_atomic(out, "".join(line + "\n" for line in lines))
    return len(lines)


def print_summary(summary: BatchSummary) -> None:
    """The summary table, then every failed file with its error."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(title=f"batch run {summary.run_id}", show_header=True)
    # Short headers: the table must fit an 80-column terminal without truncating any.
    for column in ("docs", "done", "skipped", "failed", "forms", "LLM calls", "cached"):
        table.add_column(column, justify="right")
    table.add_column("tokens in/out", justify="right")
    table.add_column("s", justify="right")
    table.add_row(
        str(summary.total),
        str(summary.done),
        str(summary.skipped),
        str(summary.failed),
        str(summary.forms),
        str(summary.llm_calls),
        str(summary.cache_hits),
        f"{summary.input_tokens}/{summary.output_tokens}",
        f"{summary.seconds:.1f}",
    )
    console.print(table)
    if summary.failures:
        # One plain line per file (the error line names it): long paths stay whole and greppable.
        console.print(f"{len(summary.failures)} file(s) failed:", style="bold red")
        for _path, error in summary.failures:
            console.print(f"  {error}", markup=False, highlight=False, soft_wrap=True)
