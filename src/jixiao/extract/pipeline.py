"""One document through the whole pipeline: ingest → per form: serialize → extract → checks.

A bad form never ends the run: an extractor crash becomes an empty record with a flag, and the
other forms of the document are still extracted. A bad *file* raises its JixiaoError (the caller
reports it in one line and goes on with the next file).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jixiao.contract import ExtractionResult, Flag, FormRecord, RunInfo, SourceInfo
from jixiao.errors import JixiaoError, NoFormFound
from jixiao.extract.base import Extractor, ExtractorOutput
from jixiao.ingest.model import FormRegion

__all__ = ["extract_document", "run_extractor_on_form", "run_form_checks"]

log = logging.getLogger(__name__)


def extract_document(
    path: str | Path,
    *,
    extractor: Extractor,
    check: bool = True,
    check_config: Any = None,
    lang: str = "zh",
    max_pages: int = 2000,
    on_warning: Callable[[str], None] | None = None,
) -> list[ExtractionResult]:
    """Every supported form of one PDF, in document order, with flags from the checks.

    Unsupported forms (whole-department forms, old score sheets) and ingestion warnings are
    passed to `on_warning` and produce no result.
    """
    from jixiao.ingest import ingest_pdf, serialize_form

    ingested = ingest_pdf(path, max_pages=max_pages)
    if not ingested.forms:
        raise NoFormFound(str(path))
    warn = on_warning or (lambda message: log.warning("%s: %s", path, message))
    for message in ingested.warnings:
        warn(message)
    doc = ingested.document
    results: list[ExtractionResult] = []
    for form in ingested.forms:
        if form.kind != "project":
            continue
        output = run_extractor_on_form(extractor, form, serialize_form, doc.sha256)
        flags = list(output.flags)
        if check:
            flags.extend(run_form_checks(output, check_config, lang))
        results.append(
            ExtractionResult(
                source=SourceInfo(file=str(path), sha256=doc.sha256, pages=list(form.pages)),
                form=output.record,
                fields=output.fields,
                flags=flags,
                run=output.stats,
            )
        )
    return results


def run_extractor_on_form(
    extractor: Extractor, form: FormRegion, serialize: Callable[[FormRegion], Any], sha: str
) -> ExtractorOutput:
    """Run `extractor` on one form, its text made by `serialize(form)`; `sha` is the document's.

    A crash on this form becomes an empty record with an EXTRACTION_FAILED flag, so the other
    forms still get extracted; a JixiaoError (bad endpoint or configuration) propagates. The
    output carries the record of every LLM call the extractor made (`calls`; none after a crash).
    """
    try:
        return extractor.extract(form, serialize(form), doc_sha256=sha)
    except JixiaoError:
        raise  # the endpoint or configuration is wrong for every form: stop and say so
    except Exception as err:  # one bad form must not cost the others
        log.exception("extractor %s failed on form %d", extractor.name, form.index)
        return ExtractorOutput(
            record=FormRecord(),
            flags=[
                Flag(
                    code="EXTRACTION_FAILED",
                    severity="error",
                    origin="extraction",
                    fields=[],
                    message=f"extractor {extractor.name} failed on this form: "
                    f"{type(err).__name__}: {err}",
                )
            ],
            stats=RunInfo(extractor=extractor.name),
        )


def run_form_checks(output: ExtractorOutput, config: Any, lang: str) -> list[Flag]:
    """The arithmetic and consistency flags (jixiao.checks) for one extracted form.

    `config=None` means the defaults, except that a hybrid extraction uses the calibrated review
    threshold. Weights printed in 一级 labels (read from the provenance) go to R8. A failure of
    the checks becomes one CHECKS_FAILED warning, never a lost form.
    """
    try:
        from jixiao.checks import printed_level1_weights, run_checks
    except ImportError:  # checks not installed in this build: extraction alone is still useful
        return []
    if config is None and output.stats.extractor == "hybrid":
        # the hybrid's confidence is calibrated: its review threshold decides `origin`
        from jixiao.confidence import review_check_config

        config = review_check_config()
    try:
        return run_checks(
            output.record,
            fields=output.fields,
            config=config,
            lang=lang,
            # "产出指标(50分)": R8 checks the rows under it add up to the printed weight
            level1_weights=printed_level1_weights(output.record, output.fields),
        )
    except Exception as err:  # a checks bug must not lose the extraction
        log.exception("checks failed")
        return [
            Flag(
                code="CHECKS_FAILED",
                severity="warning",
                origin="extraction",
                message=f"the arithmetic checks could not run: {type(err).__name__}: {err}",
            )
        ]
