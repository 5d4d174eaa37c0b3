"""CLI of the distributed mode: `jixiao worker`, and the queued batch (`enqueue_batch`, called by
`jixiao batch --queue`) with its progress (`status`, `jixiao batch status`).

Celery and redis are imported only when one of these runs (the `distributed` extra)."""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from jixiao.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from jixiao.distributed.queue import BatchStatus

DB_HELP = "Database URL (default: JIXIAO_DATABASE_URL, else sqlite:///jixiao.db)."
BROKER_HELP = "Broker URL (default: JIXIAO_BROKER_URL), e.g. redis://127.0.0.1:6379/0."


def _need_celery() -> None:
    try:
        import celery  # noqa: F401
        import redis  # noqa: F401
    except ImportError as err:
        raise ConfigError(
            None,
            f"the distributed mode is not installed ({err})",
            "pip install 'jixiao[distributed]'",
        ) from err


def worker(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Documents processed at once.")
    ] = 1,
    db_url: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    broker: Annotated[str | None, typer.Option("--broker", help=BROKER_HELP)] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Worker name (default: jixiao@host).")
    ] = None,
    pool: Annotated[
        str, typer.Option("--pool", help="Celery pool: prefork (a crash costs one process).")
    ] = "prefork",
    loglevel: Annotated[str, typer.Option("--loglevel", help="Log level.")] = "INFO",
) -> None:
    """Run a Celery worker on the queue of `jixiao batch --queue`: it extracts documents with
    the extractor each batch chose (LLM endpoint, OCR engine and limits from this machine's
    JIXIAO_* settings) and stores them in the shared database."""
    _need_celery()
    if db_url:
        os.environ["JIXIAO_DATABASE_URL"] = db_url
    if broker:
        os.environ["JIXIAO_BROKER_URL"] = broker
    from jixiao.distributed.settings import QUEUE, broker_url

    url = broker_url()
    from jixiao.distributed.app import app
    from jixiao.distributed.tasks import worker_engine

    app.conf.broker_url = url
    worker_engine()  # migrate and create the task table now: a bad URL fails here, not later
    from jixiao.distributed.tasks import _ENGINES

    for engine in _ENGINES.values():
        engine.dispose()  # no connection inherited by the forked pool processes
    _ENGINES.clear()
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        f"--queues={QUEUE}",
        f"--hostname={name or f'jixiao@{socket.gethostname()}'}",
        "--without-gossip",
        "--without-mingle",
    ]
    app.worker_main(argv=argv)


def enqueue_batch(
    paths: list[str],
    *,
    db_url: str | None,
    extractor: str,
    concurrency: int,
    model: str | None,
    base_url: str | None,
    mode: str | None,
    max_pages: int,
    force: bool,
    by_path: bool = False,
) -> int:
    """`jixiao batch PATH… --queue`: enqueue, print what was sent; returns the batch run id."""
    _need_celery()
    from jixiao.distributed.queue import enqueue
    from jixiao.distributed.settings import broker_url
    from jixiao.extract.base import ExtractorOptions
    from jixiao.inputs import expand_inputs
    from jixiao.store import db

    broker_url()  # no broker: one line and exit before the database is touched
    expanded = expand_inputs(paths)
    for error in expanded.errors:
        typer.echo(f"jixiao: {error.line()}", err=True)
    engine = db.open_db(db_url)
    out = enqueue(
        expanded.pdfs,
        engine,
        extractor=extractor,
        extractor_options=ExtractorOptions(model=model, base_url=base_url, mode=mode),
        concurrency=concurrency,
        max_pages=max_pages,
        force=force,
        by_path=by_path,
    )
    typer.echo(
        f"batch {out.run_id}: {out.queued} document(s) queued, {out.skipped} already done"
        + (f", {out.by_path} by shared path" if out.by_path else "")
        + f"; follow with: jixiao batch status --run {out.run_id}",
        err=True,
    )
    return out.run_id


def status(
    run_id: Annotated[
        int | None, typer.Option("--run", help="Batch run id (default: the newest queued).")
    ] = None,
    db_url: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="A progress bar until the batch is over.")
    ] = False,
) -> None:
    """Progress of a queued batch across all workers, from the database: done / running /
    failed / waiting, forms, LLM calls, tokens, seconds; failed documents with their error."""
    from jixiao.distributed.queue import batch_status
    from jixiao.store import db

    engine = db.open_db(db_url)
    current = batch_status(engine, run_id)
    if current is None:
        raise ConfigError(None, "no queued batch in this database", "run `jixiao batch --queue`")
    if follow:
        current = _follow(engine, current.run_id)
    assert current is not None
    _print_status(current)
    if current.failed:
        from jixiao.errors import EXIT_PARTIAL_FAILURE

        sys.exit(EXIT_PARTIAL_FAILURE)


def _follow(engine: Engine, run_id: int) -> BatchStatus:
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from jixiao.distributed.queue import batch_status

    current = batch_status(engine, run_id)
    assert current is not None
    with Progress(
        TextColumn(f"[bold]batch {run_id}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "running {task.fields[running]} · failed {task.fields[failed]}"
            " · forms {task.fields[forms]} · LLM calls {task.fields[calls]}"
        ),
        TimeElapsedColumn(),
    ) as bar:
        queued = current.total - current.skipped
        task = bar.add_task("batch", total=queued, running=0, failed=0, forms=0, calls=0)
        while True:
            bar.update(
                task,
                completed=current.done + current.failed,
                running=current.running,
                failed=current.failed,
                forms=current.forms,
                calls=current.llm_calls,
            )
            if current.waiting == 0 and current.running == 0:
                return current
            time.sleep(1.0)
            current = batch_status(engine, run_id)
            assert current is not None


def _print_status(current: BatchStatus) -> None:
    """Two lines of counts (they fit 80 columns whatever the numbers), then the failures."""
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    console.print(
        f"[bold]batch {current.run_id}[/] ({current.status}): {current.total} docs · "
        f"done {current.done} · running {current.running} · failed {current.failed} · "
        f"waiting {current.waiting}"
    )
    console.print(
        f"skipped {current.skipped} · forms {current.forms} · LLM calls {current.llm_calls} · "
        f"tokens {current.input_tokens} in / {current.output_tokens} out · "
        f"{current.elapsed:.1f} s ({current.document_seconds:.1f} s of work)"
    )
    if current.workers:
        console.print("working: " + ", ".join(current.workers), markup=False)
    if current.failures:
        console.print(f"{len(current.failures)} document(s) failed:", style="bold red")
        for _path, error in current.failures:
            console.print(f"  {error}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `jixiao worker` to the top-level app (`batch --queue` / `batch status`: see
    docs/distributed.md for how the batch command hands over to this module)."""
    app.command("worker")(worker)


__all__ = ["enqueue_batch", "register", "status", "worker"]
