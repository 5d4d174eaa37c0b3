"""`jixiao inspect`: what ingestion finds in PDFs (forms, pages, grids, serialized layout)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from jixiao.errors import EXIT_PARTIAL_FAILURE, JixiaoError, NoFormFound
from jixiao.ingest.model import FormRegion, Grid, IngestResult


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""
    app.command("inspect")(inspect)


def ingest_checked(path: Path, *, max_pages: int) -> IngestResult:
    """ingest_pdf, and NoFormFound when nothing readable as a form is inside."""
    from jixiao.ingest import ingest_pdf

    result = ingest_pdf(path, max_pages=max_pages)
    if not result.forms:
        pages = result.document.pages
        if (
            pages
            and all(p.needs_ocr or p.kind == "empty" for p in pages)
            and any(p.needs_ocr for p in pages)
        ):
            raise NoFormFound(
                str(path),
                "no form found on its scanned (or garbled) pages",
                "`jixiao inspect` shows what OCR read there; a straighter or higher-dpi scan,"
                " or the PDF exported with text, reads better",
            )
        if result.tables:
            # Only ordinary tables (a 部门预算 without its appendix): say which.
            titles = list(dict.fromkeys(t.title or "untitled table" for t in result.tables))
            shown = ", ".join(titles[:4]) + (
                f" and {len(titles) - 4} more" if len(titles) > 4 else ""
            )
            raise NoFormFound(
                str(path),
                f"no performance form in this PDF, only {len(result.tables)} other table(s)"
                f" ({shown})",
                "check that the file holds a project self-evaluation form",
            )
        raise NoFormFound(str(path))
    return result


def inspect(
    paths: Annotated[
        list[str], typer.Argument(help="PDF files, folders (searched for *.pdf) or globs.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
    max_pages: Annotated[
        int, typer.Option("--max-pages", min=1, help="Refuse PDFs with more pages.")
    ] = 2000,
) -> None:
    """Show the forms found in PDFs: pages, kind, tables as grids, and the serialized layout."""
    from jixiao.inputs import expand_inputs

    expanded = expand_inputs(paths)
    failures: list[JixiaoError] = list(expanded.errors)
    results: list[IngestResult] = []
    for pdf in expanded.pdfs:
        try:
            results.append(ingest_checked(pdf, max_pages=max_pages))
        except JixiaoError as err:
            failures.append(err)
    if as_json:
        payload = {
            "files": [result_json(r) for r in results],
            "failures": [
                {"file": e.file, "error": e.reason, "hint": e.hint, "exit_code": e.exit_code}
                for e in failures
            ],
            "skipped": [str(p) for p in expanded.skipped],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _print_human(results)
    for failure in failures:
        typer.echo(f"jixiao: {failure.line()}", err=True)
    if expanded.skipped:
        names = ", ".join(str(p) for p in expanded.skipped[:5])
        more = f" and {len(expanded.skipped) - 5} more" if len(expanded.skipped) > 5 else ""
        typer.echo(
            f"jixiao: skipped {len(expanded.skipped)} non-PDF file(s): {names}{more}", err=True
        )
    total = len(results) + len(failures)
    if failures:
        if total > 1:
            typer.echo(
                f"jixiao: {len(failures)} of {total} inputs failed: "
                + "; ".join(f"{e.file} ({e.reason})" for e in failures),
                err=True,
            )
        codes = {e.exit_code for e in failures}
        if results or len(codes) > 1:
            sys.exit(EXIT_PARTIAL_FAILURE)
        sys.exit(codes.pop())


def result_json(result: IngestResult) -> dict[str, Any]:
    from jixiao.ingest.serialize import serialize_form

    doc = result.document
    return {
        "file": doc.path,
        "sha256": doc.sha256,
        "page_count": doc.page_count,
        "pages": [
            {"number": p.number, "kind": p.kind, "garbled_chars": p.garbled_chars}
            for p in doc.pages
        ],
        "warnings": result.warnings,
        "forms": [form_json(f, serialize_form(f)) for f in result.forms],
        # Ordinary budget / final-account tables: kind "other", not forms; no grids printed.
        "tables": [
            {
                "index": t.index,
                "kind": t.kind,
                "title": t.title,
                "pages": t.pages,
                "kind_reason": t.kind_reason,
            }
            for t in result.tables
        ],
    }


def form_json(form: FormRegion, layout: Any) -> dict[str, Any]:
    return {
        "index": form.index,
        "kind": form.kind,
        "title": form.title,
        "pages": form.pages,
        "reason": form.reason,
        "kind_reason": form.kind_reason,
        "regions": [{"page": r.page, "bbox": list(r.bbox)} for r in form.regions],
        "grids": [grid_json(g) for g in form.grids],
        "layout": {
            "rows": [{"text": r.text, "cell_ids": r.cell_ids} for r in layout.rows],
            "cells": {
                k: {"page": v.page, "bbox": list(v.bbox), "text": v.text}
                for k, v in layout.cells.items()
            },
        },
    }


def grid_json(grid: Grid) -> dict[str, Any]:
    return {
        "id": grid.id,
        "pages": grid.pages,
        "n_rows": grid.n_rows,
        "n_cols": grid.n_cols,
        "ruled": grid.ruled,
        "cells": [
            {
                "id": c.id,
                "row": c.row,
                "col": c.col,
                "rowspan": c.rowspan,
                "colspan": c.colspan,
                "page": c.page,
                "bbox": [round(v, 2) for v in c.bbox],
                "text": c.text,
            }
            for c in grid.cells
        ],
    }


def _print_human(results: list[IngestResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    from jixiao.ingest.serialize import serialize_form

    console = Console(soft_wrap=True)
    for result in results:
        doc = result.document
        console.rule(f"{doc.path}")
        console.print(
            f"{doc.page_count} page(s), sha256 {doc.sha256[:12]}…, {len(result.forms)} form(s),"
            f" {len(result.tables)} other table(s)"
        )
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}", markup=True)
        for other in result.tables:
            pages = f"{other.pages[0]}-{other.pages[-1]}" if other.pages else "-"
            console.print(
                f"other table pages={pages} title={other.title or '(none)'}: {other.kind_reason}",
                markup=False,
                highlight=False,
            )
        for form in result.forms:
            pages = f"{form.pages[0]}-{form.pages[-1]}" if form.pages else "-"
            console.print(
                f"\n[bold]form {form.index + 1}[/bold] kind={form.kind} pages={pages} "
                f"title={form.title or '(none)'}",
                markup=True,
            )
            console.print(f"  why {form.kind}: {form.kind_reason}", markup=False, highlight=False)
            if form.reason:
                console.print(f"  {form.reason}", markup=False)
            for grid in form.grids:
                width = max((len(grid.row_cells(r)) for r in range(grid.n_rows)), default=0)
                table = Table(
                    title=f"{grid.id}: {grid.n_rows}x{grid.n_cols}, pages {grid.pages}, "
                    f"{'ruled' if grid.ruled else 'borderless'}",
                    show_header=False,
                )
                table.add_column("row", style="dim")
                for _ in range(width):
                    table.add_column(overflow="fold", max_width=24)
                for r in range(grid.n_rows):
                    cells = grid.row_cells(r)
                    table.add_row(str(r), *[f"{c.id} {c.text}" for c in cells])
                console.print(table)
            console.print("[bold]layout[/bold]", markup=True)
            console.print(serialize_form(form).text, markup=False, highlight=False)
