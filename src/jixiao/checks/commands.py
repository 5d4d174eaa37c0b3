"""`jixiao check RECORD.json`: run the deterministic checks on a FormRecord or extraction output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from jixiao.contract import ExtractionResult, FieldProvenance, Flag, FormRecord
from jixiao.errors import FileMissing, InvalidInput

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def load_records(path: Path) -> list[tuple[str, FormRecord, dict[str, FieldProvenance] | None]]:
    """(label, record, provenance) per form in a FormRecord, ExtractionResult or list file."""
    if not path.exists():
        raise FileMissing(str(path))
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidInput(str(path), f"not valid JSON ({err})", "pass a JSON file") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InvalidInput(str(path), "the list holds no forms", "pass at least one form")
    out: list[tuple[str, FormRecord, dict[str, FieldProvenance] | None]] = []
    for n, item in enumerate(items):
        where = f"{path}[{n}]" if isinstance(data, list) else str(path)
        if not isinstance(item, dict):
            raise InvalidInput(
                where, "expected a JSON object", "pass a FormRecord or ExtractionResult"
            )
        try:
            # JSON mode: strict models still read arrays as tuples (bbox) and ints as floats.
            if "form" in item and "source" in item:
                result = ExtractionResult.model_validate_json(json.dumps(item))
                label = f"{result.form.project_name or result.source.file} ({n + 1})"
                out.append((label, result.form, result.fields))
            else:
                record = FormRecord.model_validate_json(json.dumps(item))
                out.append((record.project_name or f"form {n + 1}", record, None))
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(
                where,
                f"not a FormRecord or ExtractionResult: {loc}: {first['msg']}",
                "check the field against schemas/FormRecord.schema.json",
            ) from None
    return out


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""

    @app.command("check")
    def check(
        record: Annotated[
            Path, typer.Argument(help="FormRecord JSON, or ExtractionResult JSON / list.")
        ],
        lang: Annotated[str, typer.Option("--lang", help="Message language: zh or en.")] = "zh",
        strict: Annotated[
            bool, typer.Option("--strict", help="Exit 1 when any error is found.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the flags as JSON.")] = False,
        profile: Annotated[
            str, typer.Option("--profile", help="default or legacy-80-70-60.")
        ] = "default",
        config_file: Annotated[
            Path | None, typer.Option("--config", help="TOML/YAML/JSON settings.")
        ] = None,
    ) -> None:
        """Recompute every checkable number of each form (rules R1–R16) and list the findings."""
        from jixiao.checks import run_checks
        from jixiao.checks.config import load_config, profile_config
        from jixiao.errors import ConfigError

        if lang not in {"zh", "en"}:
            raise ConfigError(None, f"unknown language {lang!r}", "use --lang zh or --lang en")
        cfg = (
            load_config(config_file, profile=profile)
            if config_file is not None
            else profile_config(profile)
        )
        forms = load_records(record)
        results = [
            (label, run_checks(rec, fields=prov, config=cfg, lang=lang))
            for label, rec, prov in forms
        ]
        if as_json:
            payload = [
                {"form": label, "flags": [f.model_dump(mode="json") for f in flags]}
                for label, flags in results
            ]
            typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            _print_tables(results, lang)
        if strict and any(f.severity == "error" for _, flags in results for f in flags):
            raise typer.Exit(1)


def _print_tables(results: list[tuple[str, list[Flag]]], lang: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    zh = lang != "en"
    for label, flags in results:
        if not flags:
            console.print(f"[green]{label}: {'未发现问题' if zh else 'no findings'}[/green]")
            continue
        table = Table(title=label, show_lines=False)
        for column in (
            ("级别", "规则", "代码", "字段", "说明", "来源")
            if zh
            else (
                "severity",
                "rule",
                "code",
                "fields",
                "message",
                "origin",
            )
        ):
            # The code is what scripts and reviewers search for: never cut it.
            wrap = column in {"说明", "字段", "message", "fields"}
            width = 30 if column in {"说明", "message"} else None
            table.add_column(column, no_wrap=not wrap, overflow="fold", min_width=width)
        for f in flags:
            table.add_row(
                f"[{_SEVERITY_STYLE[f.severity]}]{f.severity}[/]",
                f.rule or "",
                f.code,
                (f.fields[0] if f.fields else "")
                + (f" +{len(f.fields) - 1}" if len(f.fields) > 1 else ""),
                f.message,
                f.origin,
            )
        console.print(table)
