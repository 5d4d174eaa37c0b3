"""CLI commands of this package; `jixiao.cli` calls `register(app)`: `db upgrade`, `batch`,
`export`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

DB_HELP = "Database URL (default: JIXIAO_DATABASE_URL, else sqlite:///jixiao.db)."

db_app = typer.Typer(help="The results database (SQLite or PostgreSQL).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    db_url: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Apply the schema migrations (also done automatically whenever the database is opened)."""
    from jixiao.store import db

    engine = db.open_db(db_url, migrate=False)
    try:
        db.upgrade(engine)
    except Exception as err:
        raise db.DatabaseError(None, f"migration failed ({db._first_line(err)})") from err
    typer.echo(f"database at revision {db.current_revision(engine)}")


def batch(
    paths: Annotated[list[str], typer.Argument(help="PDF files, folders or globs.")],
    db_url: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
    extractor: Annotated[
        str, typer.Option("--extractor", "-e", help="layout, llm or hybrid.")
    ] = "layout",
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Forms extracted (LLM calls) at once.")
    ] = 4,
    workers: Annotated[
        int, typer.Option("--workers", min=0, help="Ingestion processes (0: in this process).")
    ] = 1,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write <name>.<sha8>.json per document.")
    ] = None,
    jsonl: Annotated[
        Path | None, typer.Option("--jsonl", help="Write every form of the inputs as JSONL.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Process documents already finished again.")
    ] = False,
    model: Annotated[str | None, typer.Option("--model", help="LLM model name.")] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint.")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="LLM mode (tools, json…).")] = None,
    max_pages: Annotated[int, typer.Option("--max-pages", min=1)] = 2000,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    queue: Annotated[
        bool,
        typer.Option("--queue", help="Enqueue for `jixiao worker`s (JIXIAO_BROKER_URL)."),
    ] = False,
    by_path: Annotated[
        bool, typer.Option("--by-path", help="With --queue: send shared paths, not the bytes.")
    ] = False,
    run_id: Annotated[
        int | None, typer.Option("--run", help="`batch status`: this batch (default: newest).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="`batch status`: follow until the batch is over.")
    ] = False,
) -> None:
    """Extract many PDFs into the database, resumably: finished documents (same bytes, same
    extractor) are skipped, a bad file is recorded and the rest go on. Exit code 10 when any
    input failed. With --queue the documents go to `jixiao worker`s on other processes or
    machines instead (docs/distributed.md); `jixiao batch status` shows their progress."""
    if paths == ["status"] and not Path("status").exists():
        from jixiao.distributed.commands import status

        status(run_id=run_id, db_url=db_url, follow=follow)
        return
    if queue:
        from jixiao.distributed.commands import enqueue_batch

        enqueue_batch(
            paths,
            db_url=db_url,
            extractor=extractor,
            concurrency=concurrency,
            model=model,
            base_url=base_url,
            mode=mode,
            max_pages=max_pages,
            force=force,
            by_path=by_path,
        )
        return
    from jixiao.batch import BatchOptions, print_summary, run_batch
    from jixiao.errors import EXIT_PARTIAL_FAILURE
    from jixiao.extract.base import ExtractorOptions
    from jixiao.inputs import expand_inputs
    from jixiao.store import db

    expanded = expand_inputs(paths)
    for error in expanded.errors:
        typer.echo(f"jixiao: {error.line()}", err=True)
    engine = db.open_db(db_url)
    options = BatchOptions(
        extractor=extractor,
        extractor_options=ExtractorOptions(model=model, base_url=base_url, mode=mode),
        concurrency=concurrency,
        workers=workers,
        max_pages=max_pages,
        out_dir=out_dir,
        jsonl=jsonl,
        force=force,
        progress=not no_progress,
    )
    summary = run_batch(expanded.pdfs, engine, options)
    print_summary(summary)
    if summary.exit_code or expanded.errors:
        # SystemExit, not typer.Exit: the CLI runs click with standalone_mode=False, which turns
        # typer.Exit into a return value that main() would drop.
        sys.exit(EXIT_PARTIAL_FAILURE)


def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, xlsx or json.")] = "xlsx",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output file (a folder for csv).")
    ] = Path("jixiao.xlsx"),
    db_url: Annotated[str | None, typer.Option("--db", help=DB_HELP)] = None,
) -> None:
    """Export the current forms (review corrections applied): json (contract), csv (forms,
    funding, indicators, flags .csv in a folder) or xlsx (one sheet each, problems highlighted)."""
    from jixiao.errors import ConfigError
    from jixiao.export import EXPORT_FORMATS
    from jixiao.export import export as run_export
    from jixiao.store import db

    if fmt not in EXPORT_FORMATS:
        raise ConfigError(None, f"unknown export format {fmt!r}", "use csv, xlsx or json")
    engine = db.open_db(db_url)
    for path in run_export(engine, fmt, out):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""
    app.add_typer(db_app, name="db")
    app.command("batch")(batch)
    app.command("export")(export)
