"""Escalation with the real embedded model's answers, recorded (cassettes/test_escalation_recorded).

Each level of escalation is exercised against gemma3-270m as the embedded server ran it:
field questions answered by a cell id within a per-form budget (level 1), a section the layout
could not read because the form prints a header label its synonyms do not know (level 2), and
a whole form in a template nobody anchored (level 3). The routing table is a test file that
allows the level under test, so these tests hold whatever the measured table says about the
embedded model. Re-record: `.venv/bin/pytest tests/llm/test_escalation_recorded.py
--record-mode=rewrite` (see tests/llm/conftest.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jixiao.contract import FormRecord
from jixiao.evals.compare import compare_forms
from jixiao.extract.escalation import EscalationPolicy, RoutingTable, save_routing
from jixiao.extract.hybrid import HybridExtractor, LazyLLM
from jixiao.extract.labels import classify_any
from jixiao.extract.layout import LayoutExtractor
from jixiao.extract.llm.client import LLMClient
from jixiao.extract.llm.extractor import LLMExtractor
from jixiao.ingest import ingest_pdf, serialize_form

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sh-bdc-2023-02.ruled.pdf"
GOLD = REPO / "evals" / "gold" / "sh-bdc-2023-02.json"
THRESHOLD = 0.3981  # the calibrated review threshold these recordings were made with


def _hybrid(
    tmp_path: Path, make_client: Callable[..., LLMClient], *, allow: str, **policy: Any
) -> tuple[HybridExtractor, LazyLLM]:
    # a section prompt on busy cores can take minutes: a timeout would record nothing
    client = make_client(timeout_s=900.0)
    routing = tmp_path / "routing.json"
    save_routing(
        RoutingTable(unmeasured={"field": False, "section": False, "form": False, allow: True}),
        routing,
    )
    lazy = LazyLLM(extractor=LLMExtractor(client, max_retries=0))
    policy.setdefault("threshold", THRESHOLD)
    hybrid = HybridExtractor(
        LayoutExtractor(), lazy, policy=EscalationPolicy(routing_path=routing, **policy)
    )
    return hybrid, lazy


def _form(relabel: Callable[[str], str | None] | None = None) -> tuple[Any, Any]:
    ingested = ingest_pdf(EXAMPLE)
    (form,) = ingested.forms
    if relabel is not None:
        for grid in form.grids:
            for cell in grid.cells:
                new = relabel(cell.text)
                if new is not None:
                    cell.text = new
    return ingested, form


@pytest.mark.vcr
def test_field_questions_answer_with_a_cell_within_the_budget(
    tmp_path: Path, make_llm_client: Callable[..., LLMClient], vcr: Any
) -> None:
    ingested, form = _form()
    layout = serialize_form(form)
    # every value is "unsure" above a threshold of 1.01: far more questions than the budget
    hybrid, _ = _hybrid(tmp_path, make_llm_client, allow="field", threshold=1.01, max_calls=3)
    out = hybrid.extract(form, layout, doc_sha256=ingested.document.sha256)

    asked = [q for q in out.stats.questions if q.status in ("asked", "failed")]
    assert len(asked) == 3 and out.stats.llm_calls == 3 == len(vcr)
    assert all(q.level == "field" for q in out.stats.questions)
    assert sum(q.status == "skipped_budget" for q in out.stats.questions) > 100
    for q in asked:
        # the answer is one of the cells shown (the grammar allows nothing else) or none
        assert q.answer == "none" or q.answer in layout.cells
        assert q.input_tokens > 0 and q.output_tokens <= 24
        for change in q.changed:
            # a value the model moved keeps the layout's reading for the reviewer
            assert out.fields[change.path].alternative is not None
    assert set(out.stats.prompts) == {"field_question@v1"}


@pytest.mark.vcr
def test_an_unknown_header_label_asks_the_header_section_only(
    tmp_path: Path, make_llm_client: Callable[..., LLMClient], vcr: Any
) -> None:
    # a template printing 工程名目 where the synonyms know 项目名称: the layout reads no name
    ingested, form = _form(lambda text: "工程名目" if text == "项目名称" else None)
    layout = serialize_form(form)
    hybrid, _ = _hybrid(tmp_path, make_llm_client, allow="section")
    out = hybrid.extract(form, layout, doc_sha256=ingested.document.sha256)

    (question,) = out.stats.questions
    assert (question.level, question.target) == ("section", "header")
    assert "项目名称" in question.reason
    # one header call, answered (recorded): its values may still fail grounding ("failed")
    assert question.status in ("asked", "failed") and question.llm_calls == 1 == len(vcr)
    assert out.stats.llm_calls == 1
    assert out.stats.prompts.keys() == {"extract_header@v1"}
    name = out.record.project_name
    if name is not None:
        prov = out.fields["project_name"]
        # read by the model alone: grounded in its cell, and sent to a person
        assert name in prov.source_text
        assert prov.signals.get("llm_only") == 1.0 and prov.confidence < THRESHOLD
    # the rest of the form is still the layout's reading
    gold = FormRecord.model_validate_json(GOLD.read_text("utf-8"))
    scored = compare_forms(out.record, gold)
    assert sum(not leaf.ok for leaf in scored.leaves) <= 1


def _unknown_template(text: str) -> str | None:
    """Every printed label becomes a word no synonym table knows."""
    match = classify_any(text)
    return f"栏目{zlib.crc32(match.field.encode()) % 97}" if match is not None else None


@pytest.mark.vcr
def test_a_template_nobody_anchored_is_read_whole_by_the_llm_and_sent_to_review(
    tmp_path: Path, make_llm_client: Callable[..., LLMClient], vcr: Any
) -> None:
    ingested, form = _form(_unknown_template)
    layout = serialize_form(form)
    assert not LayoutExtractor().extract(form, layout, doc_sha256="x").record.indicators
    hybrid, _ = _hybrid(tmp_path, make_llm_client, allow="form", max_calls=12)
    out = hybrid.extract(form, layout, doc_sha256=ingested.document.sha256)

    (question,) = out.stats.questions
    assert (question.level, question.target) == ("form", "form")
    assert question.status in ("asked", "failed")
    # every section of the form asked and answered (each answer recorded), within budget
    assert 3 <= out.stats.llm_calls <= 12
    assert question.llm_calls == out.stats.llm_calls == len(vcr)
    # whatever the small model read, nothing vouches for it but the model: all to review
    for path, prov in out.fields.items():
        if prov.extractor == "llm":
            assert prov.signals.get("llm_only") == 1.0, path
            assert prov.confidence < THRESHOLD, path
