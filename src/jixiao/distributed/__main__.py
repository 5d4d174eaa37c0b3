"""`python -m jixiao.distributed worker|enqueue|status`: the distributed commands without the
top-level CLI (the tests and the benchmark start workers this way; `jixiao worker`,
`jixiao batch --queue` and `jixiao batch status` are the same functions)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from jixiao.distributed import commands
from jixiao.errors import JixiaoError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.command("worker")(commands.worker)
app.command("status")(commands.status)


@app.command("enqueue")
def enqueue(
    paths: Annotated[list[str], typer.Argument(help="PDF files, folders or globs.")],
    db_url: Annotated[str | None, typer.Option("--db", help=commands.DB_HELP)] = None,
    extractor: Annotated[str, typer.Option("--extractor", "-e")] = "layout",
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1)] = 4,
    model: Annotated[str | None, typer.Option("--model")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url")] = None,
    mode: Annotated[str | None, typer.Option("--mode")] = None,
    max_pages: Annotated[int, typer.Option("--max-pages", min=1)] = 2000,
    force: Annotated[bool, typer.Option("--force")] = False,
    by_path: Annotated[
        bool, typer.Option("--by-path", help="Send shared paths, never the bytes.")
    ] = False,
) -> None:
    """Queue documents for the workers (what `jixiao batch --queue` does)."""
    run_id = commands.enqueue_batch(
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
    typer.echo(str(run_id))


def main() -> None:
    try:
        app()
    except JixiaoError as err:  # one line and the error's exit code, as the jixiao command does
        typer.echo(f"jixiao: {err.line()}", err=True)
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
