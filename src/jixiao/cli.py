"""The `jixiao` command line. Each package registers its own commands (`register(app)`), so this
file only assembles them and turns JixiaoError into one line on stderr and an exit code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.main

from jixiao.errors import JixiaoError

app = typer.Typer(
    name="jixiao",
    help="Read 财政项目支出绩效自评表 out of PDFs, check their arithmetic, review what is unsure.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

schema_app = typer.Typer(help="The JSON Schema of the output contract.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@schema_app.command("export")
def schema_export(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write to.")] = Path(
        "schemas"
    ),
) -> None:
    """Write schemas/<Model>.schema.json for every contract model."""
    from jixiao.contract import CONTRACT_MODELS

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, model in CONTRACT_MODELS.items():
        path = out_dir / f"{name}.schema.json"
        path.write_text(schema_text(model), encoding="utf-8")
        typer.echo(str(path))


def schema_text(model: type) -> str:
    schema = model.model_json_schema()  # type: ignore[attr-defined]
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def _register_all() -> None:
    from jixiao.checks import commands as checks_commands
    from jixiao.corpus import commands as corpus_commands
    from jixiao.distributed import commands as distributed_commands
    from jixiao.evals import commands as evals_commands
    from jixiao.extract import commands as extract_commands
    from jixiao.extract.llm import commands as llm_commands
    from jixiao.ingest import commands as ingest_commands
    from jixiao.review import commands as review_commands
    from jixiao.store import commands as store_commands

    modules = (
        ingest_commands,
        extract_commands,
        llm_commands,
        checks_commands,
        corpus_commands,
        evals_commands,
        store_commands,
        distributed_commands,
        review_commands,
    )
    for module in modules:
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    """The console script. It parses and invokes the command itself, not through click's
    standalone main, so that a JixiaoError, a usage error, Ctrl-C or an abort each end as one
    line on stderr with our exit code; and not through `app(standalone_mode=False)` either,
    which turns `typer.Exit(code)` into a return value (`check --strict`'s 1, the 130 typer
    makes of Ctrl-C): the installed command then exited 0. Only CliRunner tests saw the code."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    try:
        with command.make_context("jixiao", args) as ctx:
            command.invoke(ctx)
    except typer.Exit as err:  # typer.Exit, ctx.exit(), --help
        sys.exit(err.exit_code)
    except JixiaoError as err:
        typer.echo(f"jixiao: {err.line()}", err=True)
        sys.exit(err.exit_code)
    except (typer.Abort, EOFError):
        typer.echo("jixiao: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("jixiao: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # `jixiao inspect … | head`: the reader left; say nothing more to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as err:
        # Usage errors (ClickException: typer's vendored click or click itself, by version)
        # print their own message and carry their exit code (2).
        show, code = getattr(err, "show", None), getattr(err, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
