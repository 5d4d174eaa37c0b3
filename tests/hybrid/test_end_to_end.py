"""One real gold form rendered, ingested and read by the hybrid through the extract pipeline.

The LLM side is a Python object implementing the Extractor protocol (no cassette records a
whole form yet): it reads like the layout extractor but misreads one score from the weight
column and misses a goal, as the small model does.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from jixiao.confidence import review_threshold
from jixiao.contract import FormRecord
from jixiao.corpus.render import render_pdf
from jixiao.evals.compare import compare_forms
from jixiao.extract.base import ExtractorOutput
from jixiao.extract.escalation import EscalationPolicy
from jixiao.extract.hybrid import AGREED, UNRESOLVED_CODE, HybridExtractor
from jixiao.extract.layout import LayoutExtractor
from jixiao.extract.pipeline import extract_document
from jixiao.ingest.model import FormRegion, LayoutText

GOLD = Path(__file__).resolve().parents[2] / "evals" / "gold" / "sh-bdc-2023-01.json"


# the hybrid before escalation: the LLM reads every section of every form
ALWAYS = EscalationPolicy(llm="always")


class MisreadingLLM:
    """Layout's reading with one score taken from the weight column and goal_actual missed."""

    name = "llm"

    def __init__(self) -> None:
        self.inner = LayoutExtractor()
        self.misread: str | None = None

    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        out = copy.deepcopy(self.inner.extract(form, layout, doc_sha256=doc_sha256))
        fields = {p: f.model_copy(update={"extractor": "llm"}) for p, f in out.fields.items()}
        for i, row in enumerate(out.record.indicators):
            if row.weight is not None and row.score is not None and row.score < row.weight:
                self.misread = f"indicators[{i}].score"
                row.score = row.weight
                fields[self.misread] = fields[f"indicators[{i}].weight"]
                break
        out.record.goal_actual = None
        fields.pop("goal_actual", None)
        out.fields = fields
        return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FormRecord]:
    gold = FormRecord.model_validate_json(GOLD.read_text("utf-8"))
    pdf = tmp_path_factory.mktemp("hybrid") / "form.pdf"
    render_pdf("ruled", [gold], pdf, seed=1)
    return pdf, gold


def test_hybrid_reads_the_form_as_well_as_layout_and_keeps_the_llm_misread_out(
    rendered: tuple[Path, FormRecord],
) -> None:
    pdf, gold = rendered
    llm = MisreadingLLM()
    (result,) = extract_document(
        pdf, extractor=HybridExtractor(LayoutExtractor(), llm, policy=ALWAYS)
    )
    (layout_result,) = extract_document(pdf, extractor=LayoutExtractor())
    hybrid_acc = compare_forms(result.form, gold).accuracy
    assert hybrid_acc >= compare_forms(layout_result.form, gold).accuracy
    assert hybrid_acc == pytest.approx(1.0)

    assert llm.misread is not None
    prov = result.fields[llm.misread]
    assert prov.extractor == "layout"
    # the LLM's score cites the cell the layout reads as the weight, and R9 holds only with
    # the layout's score: either settles it
    assert prov.alternative is not None
    assert (
        max(prov.signals.get("resolved_by_checks", 0), prov.signals.get("resolved_by_grounding", 0))
        == 1.0
    )
    assert prov.confidence < result.fields["project_name"].confidence
    assert result.fields["goal_actual"].extractor == "layout"
    assert result.fields["project_name"].extractor == AGREED
    assert result.run.extractor == "hybrid"
    assert UNRESOLVED_CODE not in [f.code for f in result.flags]
    # every valued leaf has provenance with its signals
    for path, field in result.fields.items():
        assert 0.0 <= field.confidence <= 1.0, path
        assert "agreement" in field.signals and "grounded" in field.signals, path
    # check findings are `extraction` exactly when a value they involve is below the threshold
    threshold = review_threshold()
    findings = [f for f in result.flags if f.rule is not None]
    assert findings  # the form carries planted findings (SCORE_NOT_PROPORTIONAL, …)
    for flag in findings:
        suspect = any(
            p in result.fields and result.fields[p].confidence < threshold for p in flag.fields
        )
        assert flag.origin == ("extraction" if suspect else "source"), flag
