"""`jixiao extract`: PDFs → JSON lists of ExtractionResult (one per form, in document order)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from jixiao.errors import EXIT_PARTIAL_FAILURE, JixiaoError

if TYPE_CHECKING:
    from jixiao.contract import ExtractionResult


def register(app: typer.Typer) -> None:
    """Add this package's commands to the top-level app."""
    app.command("extract")(extract)


def extract(
    paths: Annotated[
        list[str], typer.Argument(help="PDF files, folders (searched for *.pdf) or globs.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="OUT.json: one JSON list of all forms of all inputs, in input order. "
            "An existing folder (or a path ending in /): one <pdf name>.json per input.",
        ),
    ],
    extractor_name: Annotated[
        str, typer.Option("--extractor", "-x", help="Extractor: llm, layout or hybrid.")
    ] = "hybrid",
    model: Annotated[str | None, typer.Option(help="LLM model name (JIXIAO_LLM_MODEL).")] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="OpenAI-compatible endpoint; none: embedded server."),
    ] = None,
    mode: Annotated[
        str | None, typer.Option(help="instructor mode: tools, json_schema, json, md_json.")
    ] = None,
    no_checks: Annotated[
        bool, typer.Option("--no-checks", help="Skip the arithmetic checks.")
    ] = False,
    max_pages: Annotated[
        int, typer.Option("--max-pages", min=1, help="Refuse PDFs with more pages.")
    ] = 2000,
    llm: Annotated[
        str,
        typer.Option(
            "--llm",
            help="hybrid: auto (ask the LLM only what layout and checks leave in doubt), "
            "always (every section of every form) or never.",
        ),
    ] = "auto",
    llm_max_calls: Annotated[
        int | None,
        typer.Option("--llm-max-calls", min=0, help="hybrid: LLM requests per form, at most."),
    ] = None,
    llm_max_tokens: Annotated[
        int | None,
        typer.Option("--llm-max-tokens", min=0, help="hybrid: LLM tokens per form, at most."),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No per-form summary on stderr.")
    ] = False,
) -> None:
    """Extract every 项目支出绩效自评表 with provenance, flags and run info.

    Bad inputs are reported one line each on stderr; the others are still processed and
    written (exit 10 when some inputs failed).
    """
    from jixiao.extract.base import ExtractorOptions, open_extractor
    from jixiao.extract.pipeline import extract_document
    from jixiao.inputs import expand_inputs

    expanded = expand_inputs(paths)
    failures: list[JixiaoError] = list(expanded.errors)
    per_file = out.is_dir() or str(out).endswith(("/", "\\"))
    combined: list[ExtractionResult] = []
    written = 0
    from jixiao.extract.escalation import policy_options

    options = ExtractorOptions(
        model=model,
        base_url=base_url,
        mode=mode,
        escalation=policy_options(llm, False, llm_max_calls, llm_max_tokens),
    )
    if expanded.pdfs:
        with open_extractor(extractor_name, options) as extractor:
            for pdf in expanded.pdfs:
                try:
                    results = extract_document(
                        pdf,
                        extractor=extractor,
                        check=not no_checks,
                        max_pages=max_pages,
                        on_warning=_warner(pdf),
                    )
                except JixiaoError as err:
                    failures.append(err)
                    continue
                written += 1
                if per_file:
                    target = out / f"{pdf.stem}.json"
                    _write(target, results)
                else:
                    combined.extend(results)
                typer.echo(f"{pdf}: {len(results)} form(s)", err=True)
                if not quiet:
                    for result in results:
                        typer.echo(form_summary(result), err=True)
                if per_file:
                    typer.echo(f"  → {target}", err=True)
    if not per_file and (written or not failures):
        _write(out, combined)
        typer.echo(f"{len(combined)} form(s) written to {out}", err=True)
    for failure in failures:
        typer.echo(f"jixiao: {failure.line()}", err=True)
    if failures:
        codes = {e.exit_code for e in failures}
        sys.exit(EXIT_PARTIAL_FAILURE if written or len(codes) > 1 else codes.pop())


def form_summary(result: ExtractionResult) -> str:
    """One line a person can read without opening the JSON: what was read, what needs a look."""
    from jixiao.confidence import review_threshold

    threshold = review_threshold()
    form = result.form
    review = sum(1 for prov in result.fields.values() if prov.confidence < threshold)
    by_severity = {
        s: sum(1 for f in result.flags if f.severity == s) for s in ("error", "warning", "info")
    }
    pages = result.source.pages
    where = f"p. {pages[0]}–{pages[-1]}" if len(pages) > 1 else f"p. {pages[0]}" if pages else ""
    name = form.project_name or "(no project name read)"
    run = result.run
    llm = (
        f"; LLM {run.llm_calls} call(s), {run.input_tokens + run.output_tokens} tokens"
        if run.llm_calls or run.cache_hits
        else "; no LLM call"
        if run.extractor == "hybrid"
        else ""
    )
    total = f", total {form.total_score:g}" if form.total_score is not None else ""
    grade = f" {form.grade}" if form.grade else ""
    return (
        f"  {where} {name}: {len(result.fields)} values, {review} to review; "
        f"{len(form.funding)} funding and {len(form.indicators)} indicator rows{total}{grade}; "
        f"findings: {by_severity['error']} error(s), {by_severity['warning']} warning(s){llm}"
    )


def _warner(pdf: Path) -> Callable[[str], None]:
    def warn(message: str) -> None:
        typer.echo(f"jixiao: {pdf}: warning: {message}", err=True)

    return warn


def _write(path: Path, results: list[ExtractionResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = [r.model_dump(mode="json") for r in results]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
