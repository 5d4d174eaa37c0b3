"""LLM call records: the client returns one for every call, the extractors carry them in their
output (the hybrid's questions included), and `jixiao batch` stores one llm_calls row each.

Replays recorded answers of the embedded model: the LLM extractor's five section calls on the
injected form (cassettes/test_llm_extract) and the hybrid's escalated questions
(cassettes/test_escalation_recorded). Those tests own the recordings; these only replay them
(`record_mode="none"` even under --record-mode=rewrite): re-record those, these follow.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from jixiao.batch import BatchOptions, run_batch
from jixiao.config import EMBEDDED_MODEL, LLMSettings
from jixiao.extract.base import ExtractorOptions
from jixiao.extract.escalation import RoutingTable, save_routing
from jixiao.extract.llm.calls import LLMCall, Usage
from jixiao.extract.llm.client import LLMClient
from jixiao.extract.llm.extractor import LLMExtractor
from jixiao.extract.llm.prompts import section_prompt
from jixiao.extract.llm.sections import split_sections
from jixiao.ingest import ingest_pdf, serialize_form
from jixiao.store import db
from jixiao.store.tables import LLMCall as CallRow

sys.path.insert(0, str(Path(__file__).parent))  # test helpers beside this file (importlib mode)
from test_escalation_recorded import EXAMPLE, _form, _hybrid

REPO = Path(__file__).resolve().parents[2]
INJECTED_PDF = REPO / "tests" / "llm" / "data" / "injected.pdf"
SECTIONS_CASSETTE = str(
    REPO / "cassettes" / "test_llm_extract" / "test_injected_pdf_end_to_end_and_cached_rerun.yaml"
)
ESCALATION = REPO / "cassettes" / "test_escalation_recorded"
FIELDS_CASSETTE = str(ESCALATION / "test_field_questions_answer_with_a_cell_within_the_budget.yaml")
HEADER_CASSETTE = str(ESCALATION / "test_an_unknown_header_label_asks_the_header_section_only.yaml")
SECTION_NAMES = ["header", "funding", "goals", "indicators", "totals"]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _usage_matches_run(calls: list[LLMCall], run: Any) -> None:
    """The run's usage is the sum of its call records (seconds rounded in the run)."""
    total = Usage.total(call.usage for call in calls)
    assert (total.attempts, total.input_tokens, total.output_tokens, total.cache_hits) == (
        run.llm_calls,
        run.input_tokens,
        run.output_tokens,
        run.cache_hits,
    )
    assert run.seconds == pytest.approx(total.seconds, abs=0.01)


@pytest.mark.vcr(SECTIONS_CASSETTE, record_mode="none")
def test_llm_extractor_output_carries_a_record_of_every_call(
    llm_client: LLMClient, vcr: Any
) -> None:
    ingested = ingest_pdf(INJECTED_PDF)
    (form,) = ingested.forms
    layout = serialize_form(form)
    sha = ingested.document.sha256
    extractor = LLMExtractor(llm_client, max_retries=0)
    out = extractor.extract(form, layout, doc_sha256=sha)

    assert len(out.calls) == 5 == vcr.play_count  # one record per request sent
    sections = split_sections(layout, chunk_rows=extractor.chunk_rows)
    assert [s.name for s in sections] == SECTION_NAMES  # one chunk each on this form
    for call, section in zip(out.calls, sections, strict=True):
        prompt = section_prompt(section.name)
        assert call.section == section.name
        assert (call.prompt, call.prompt_sha256) == (prompt.ref, prompt.sha256)
        assert call.prompt_sha256 == out.stats.prompts[prompt.ref]
        key = extractor.cache_key(sha, form.index, section, prompt)
        assert call.cache_key_sha256 == _sha(key)
        assert call.model == EMBEDDED_MODEL
        assert call.attempts == 1 and not call.cache_hit and call.error is None
        assert call.input_tokens > 0 and call.output_tokens > 0 and call.seconds > 0
    _usage_matches_run(out.calls, out.stats)
    assert llm_client.totals.attempts == 5

    # the same form again answers from the cache: still one record per call, none sent
    again = extractor.extract(form, layout, doc_sha256=sha)
    assert vcr.play_count == 5
    assert [c.cache_key_sha256 for c in again.calls] == [c.cache_key_sha256 for c in out.calls]
    assert all(c.cache_hit and c.attempts == 0 and c.input_tokens == 0 for c in again.calls)
    _usage_matches_run(again.calls, again.stats)
    assert again.stats.cache_hits == 5 and llm_client.totals.attempts == 5


@pytest.mark.vcr(FIELDS_CASSETTE, record_mode="none")
def test_hybrid_output_carries_its_field_questions_calls(
    tmp_path: Path, make_llm_client: Callable[..., LLMClient], vcr: Any
) -> None:
    ingested, form = _form()
    layout = serialize_form(form)
    hybrid, _ = _hybrid(tmp_path, make_llm_client, allow="field", threshold=1.01, max_calls=3)
    out = hybrid.extract(form, layout, doc_sha256=ingested.document.sha256)

    asked = [q for q in out.stats.questions if q.status in ("asked", "failed")]
    assert len(out.calls) == len(asked) == 3 == vcr.play_count
    for call, question in zip(out.calls, asked, strict=True):
        assert call.section == f"field:{question.target}"
        assert call.prompt == "field_question@v1"
        assert call.prompt_sha256 == out.stats.prompts["field_question@v1"]
        assert (call.input_tokens, call.output_tokens, call.attempts) == (
            question.input_tokens,
            question.output_tokens,
            question.llm_calls,
        )
        assert call.model == EMBEDDED_MODEL and call.cache_key_sha256
    assert len({c.cache_key_sha256 for c in out.calls}) == 3
    # the hybrid's usage is its questions' (its seconds are the whole form's, layout included)
    total = Usage.total(c.usage for c in out.calls)
    assert (total.attempts, total.input_tokens, total.output_tokens) == (
        out.stats.llm_calls,
        out.stats.input_tokens,
        out.stats.output_tokens,
    )


@pytest.mark.vcr(HEADER_CASSETTE, record_mode="none")
def test_hybrid_output_carries_an_escalated_sections_calls(
    tmp_path: Path, make_llm_client: Callable[..., LLMClient], vcr: Any
) -> None:
    # the layout reads no project name under a label its synonyms do not know: the header
    # section is asked (see test_escalation_recorded)
    ingested, form = _form(lambda text: "工程名目" if text == "项目名称" else None)
    layout = serialize_form(form)
    hybrid, _ = _hybrid(tmp_path, make_llm_client, allow="section")
    out = hybrid.extract(form, layout, doc_sha256=ingested.document.sha256)

    (call,) = out.calls
    assert vcr.play_count == 1
    assert (call.section, call.prompt) == ("header", "extract_header@v1")
    assert call.input_tokens == out.stats.input_tokens > 0
    assert call.attempts == out.stats.llm_calls == 1


def _llm_options(
    settings: LLMSettings, monkeypatch: pytest.MonkeyPatch, **escalation: Any
) -> ExtractorOptions:
    """`jixiao batch --extractor hybrid` options against the recorded endpoint (the settings of
    the recordings: `llm_settings`)."""
    monkeypatch.setenv("JIXIAO_CACHE_DIR", str(settings.cache_dir))
    # a request with no recording fails at once instead of backing off
    monkeypatch.setenv("JIXIAO_LLM_MAX_TRANSPORT_RETRIES", str(settings.max_transport_retries))
    return ExtractorOptions(
        model=settings.model,
        base_url=settings.base_url,
        mode=settings.mode,
        extra={"max_retries": 0},
        escalation=escalation,
    )


def _rows(engine: Any) -> list[CallRow]:
    with Session(engine) as session:
        return list(session.scalars(select(CallRow).order_by(col(CallRow.id))))


@pytest.mark.vcr(FIELDS_CASSETTE, record_mode="none")
def test_batch_with_the_hybrid_stores_a_row_per_field_question(
    tmp_path: Path, llm_settings: LLMSettings, monkeypatch: pytest.MonkeyPatch, vcr: Any
) -> None:
    """`batch --extractor hybrid` (llm auto): the extractor is opened by name, its LLM opened
    lazily on the first question; every question's call is one row."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    routing = tmp_path / "routing.json"
    save_routing(RoutingTable(unmeasured={"field": True, "section": False, "form": False}), routing)
    options = BatchOptions(
        extractor="hybrid",
        extractor_options=_llm_options(
            llm_settings, monkeypatch, threshold=1.01, max_calls=3, routing_path=routing
        ),
        workers=0,
        progress=False,
    )
    engine = db.open_db(f"sqlite:///{tmp_path / 'batch.db'}")
    try:
        summary = run_batch([folder], engine, options)
        rows = _rows(engine)
    finally:
        engine.dispose()

    assert (summary.done, summary.failed) == (1, 0)
    assert len(rows) == 3 == vcr.play_count == summary.llm_calls
    assert all(r.section and r.section.startswith("field:") for r in rows)
    assert {r.prompt for r in rows} == {"field_question@v1"}
    assert {r.model for r in rows} == {EMBEDDED_MODEL}
    assert all(r.form_index == 0 and r.attempts == 1 and not r.cache_hit for r in rows)
    assert sum(r.input_tokens for r in rows) == summary.input_tokens > 0
    assert sum(r.output_tokens for r in rows) == summary.output_tokens
    assert len({r.cache_key_sha256 for r in rows}) == 3


@pytest.mark.vcr(SECTIONS_CASSETTE, record_mode="none")
def test_batch_with_the_hybrid_llm_always_stores_a_row_per_section_call(
    tmp_path: Path, llm_settings: LLMSettings, monkeypatch: pytest.MonkeyPatch, vcr: Any
) -> None:
    """`batch --extractor hybrid --llm always`: the LLM reads every section; each call a row."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(INJECTED_PDF, folder / INJECTED_PDF.name)
    options = BatchOptions(
        extractor="hybrid",
        extractor_options=_llm_options(llm_settings, monkeypatch, llm="always"),
        workers=0,
        progress=False,
    )
    engine = db.open_db(f"sqlite:///{tmp_path / 'batch.db'}")
    try:
        summary = run_batch([folder], engine, options)
        rows = _rows(engine)
    finally:
        engine.dispose()

    assert (summary.done, summary.failed) == (1, 0)
    assert len(rows) == 5 == vcr.play_count == summary.llm_calls
    assert [r.section for r in rows] == SECTION_NAMES
    for row, name in zip(rows, SECTION_NAMES, strict=True):
        prompt = section_prompt(name)
        assert (row.prompt, row.prompt_sha256) == (prompt.ref, prompt.sha256)
        assert row.model == EMBEDDED_MODEL and row.attempts == 1 and row.error is None
        assert row.cache_key_sha256 and len(row.cache_key_sha256) == 64
    assert sum(r.input_tokens for r in rows) == summary.input_tokens > 0
