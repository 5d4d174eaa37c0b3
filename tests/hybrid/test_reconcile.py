"""Reconciliation rules of the hybrid extractor on hand-built extractor outputs."""

from __future__ import annotations

from forms import consistent_record, output

from jixiao.checks import run_checks
from jixiao.contract import Flag, FormRecord
from jixiao.errors import LLMUnavailable
from jixiao.extract.base import ExtractorOutput
from jixiao.extract.escalation import EscalationPolicy
from jixiao.extract.hybrid import (
    AGREED,
    LLM_UNAVAILABLE_CODE,
    UNRESOLVED_CODE,
    HybridExtractor,
    align_rows,
    reconcile,
    values_agree,
)
from jixiao.ingest.model import FormRegion, LayoutText

# the hybrid before escalation: the LLM reads every section of every form
ALWAYS = EscalationPolicy(llm="always")


def _codes(out: ExtractorOutput) -> list[str]:
    return [f.code for f in out.flags]


def test_the_form_is_consistent_to_start_with() -> None:
    # the other tests rely on every arithmetic rule holding on this form
    assert [f.code for f in run_checks(consistent_record()) if f.severity == "error"] == []


def test_agreement_keeps_the_value_and_names_both_extractors() -> None:
    out = reconcile(output(consistent_record(), "layout"), output(consistent_record(), "llm"))
    assert out.record == consistent_record()
    assert {p.extractor for p in out.fields.values()} == {AGREED}
    assert all(p.alternative is None for p in out.fields.values())
    assert out.fields["total_score"].signals["agreement"] == 1.0
    assert UNRESOLVED_CODE not in _codes(out) and LLM_UNAVAILABLE_CODE not in _codes(out)


def test_values_agree_after_normalisation() -> None:
    assert values_agree("ＡＢ 项目", "AB项目")
    assert values_agree(98.61, 98.614)
    assert not values_agree(98.61, 98.62)
    assert not values_agree(None, 0.0)


def test_disagreement_goes_to_the_grounded_value() -> None:
    lay_rec = consistent_record()
    lay_rec.indicators[0].score = 4.0  # read "4" although the cited cell prints 40.00
    lay = output(lay_rec, "layout", cited={"indicators[0].score": "40.00"})
    llm_rec = consistent_record()
    llm_rec.project_name = "城市道路"  # cites a cell that prints something else
    llm = output(llm_rec, "llm", cited={"project_name": "市交通委"})
    out = reconcile(lay, llm)
    assert out.record.indicators[0].score == 40.0
    assert out.fields["indicators[0].score"].extractor == "llm"
    assert out.fields["indicators[0].score"].alternative == 4.0
    assert out.fields["indicators[0].score"].signals["resolved_by_grounding"] == 1.0
    assert out.record.project_name == "城市道路维护"
    assert out.fields["project_name"].extractor == "layout"
    assert out.fields["project_name"].alternative == "城市道路"


def test_a_swap_that_makes_the_total_add_up_wins_over_the_layout_default() -> None:
    lay_rec = consistent_record()
    lay_rec.indicators[1].score = 14.0  # a grounded misread: 9 + 40 + 14 ≠ 90 (R9)
    llm_rec = consistent_record()
    out = reconcile(output(lay_rec, "layout"), output(llm_rec, "llm"))
    prov = out.fields["indicators[1].score"]
    assert out.record.indicators[1].score == 41.0
    assert prov.extractor == "llm"
    assert prov.alternative == 14.0
    assert prov.signals["resolved_by_checks"] == 1.0
    assert not [f for f in run_checks(out.record) if f.rule == "R9"]


def test_the_checks_also_keep_the_layout_value_when_the_llm_breaks_the_sum() -> None:
    llm_rec = consistent_record()
    llm_rec.funding[0].score = 10.0  # the weight column: R2 and R9 fail with it
    out = reconcile(output(consistent_record(), "layout"), output(llm_rec, "llm"))
    prov = out.fields["funding[0].score"]
    assert out.record.funding[0].score == 9.0
    assert prov.extractor == "layout" and prov.alternative == 10.0
    assert prov.signals["resolved_by_checks"] == 1.0


def test_without_evidence_table_cells_follow_layout_and_free_text_follows_the_llm() -> None:
    lay_rec, llm_rec = consistent_record(), consistent_record()
    llm_rec.indicators[0].target_text = "≥125(公里)"
    llm_rec.goal_actual = "完成主干道养护120公里，路面完好率达到96%。"
    out = reconcile(output(lay_rec, "layout"), output(llm_rec, "llm"))
    assert out.record.indicators[0].target_text == "≥120(公里)"
    assert out.fields["indicators[0].target_text"].extractor == "layout"
    assert out.record.goal_actual == llm_rec.goal_actual
    assert out.fields["goal_actual"].extractor == "llm"
    assert out.fields["goal_actual"].alternative == lay_rec.goal_actual


def test_a_longer_free_text_that_contains_the_other_is_the_whole_wrapped_cell() -> None:
    lay_rec, llm_rec = consistent_record(), consistent_record()
    llm_rec.goal_expected = "完成全市主干道养护，"  # one line of the wrapped cell
    out = reconcile(output(lay_rec, "layout"), output(llm_rec, "llm"))
    assert out.record.goal_expected == lay_rec.goal_expected


def test_neither_trustworthy_gives_null_and_a_flag() -> None:
    lay_rec, llm_rec = consistent_record(), consistent_record()
    lay_rec.competent_department = "市交通局"
    llm_rec.competent_department = "市建委"
    lay = output(lay_rec, "layout", cited={"competent_department": "市道路中心"})
    llm = output(llm_rec, "llm", cited={"competent_department": "市道路中心"})
    out = reconcile(lay, llm)
    assert out.record.competent_department is None
    assert "competent_department" not in out.fields
    flag = next(f for f in out.flags if f.code == UNRESOLVED_CODE)
    assert flag.fields == ["competent_department"] and flag.origin == "extraction"


def test_llm_unavailable_or_empty_degrades_to_layout_with_a_flag() -> None:
    lay = output(consistent_record(), "layout")
    for llm in (None, ExtractorOutput(record=FormRecord())):
        out = reconcile(lay, llm, llm_error="endpoint down")
        assert out.record == consistent_record()
        assert LLM_UNAVAILABLE_CODE in _codes(out)
        assert {p.extractor for p in out.fields.values()} == {"layout"}
        assert out.fields["total_score"].signals["agreement"] == 0.5


class _Fixed:
    """An Extractor that returns a prepared output (or raises)."""

    def __init__(self, name: str, out: ExtractorOutput | None, error: Exception | None = None):
        self.name = name
        self.out = out
        self.error = error
        self.calls = 0

    def extract(self, form: FormRegion, layout: LayoutText, *, doc_sha256: str) -> ExtractorOutput:
        self.calls += 1
        if self.error is not None:
            raise self.error
        assert self.out is not None
        return self.out


def test_hybrid_extractor_survives_an_unusable_endpoint_and_stops_asking_it() -> None:
    layout = _Fixed("layout", output(consistent_record(), "layout"))
    llm = _Fixed("llm", None, LLMUnavailable("http://x", "refused", "check the URL"))
    hybrid = HybridExtractor(layout, llm, policy=ALWAYS)
    form = FormRegion(index=0, kind="project", title="财政项目支出绩效自评表", pages=[1])
    for _ in range(2):
        out = hybrid.extract(form, LayoutText(), doc_sha256="0" * 64)
        assert out.record == consistent_record()
        flag = next(f for f in out.flags if f.code == LLM_UNAVAILABLE_CODE)
        assert "refused" in flag.message
    assert llm.calls == 1 and layout.calls == 2
    assert out.stats.extractor == "hybrid"


def test_rows_are_aligned_by_name_before_comparing() -> None:
    lay_rec, llm_rec = consistent_record(), consistent_record()
    llm_rec.indicators = [llm_rec.indicators[1]]  # the LLM missed the first row
    llm_rec.indicators[0].score = 14.0
    llm = output(llm_rec, "llm")
    llm.flags.append(
        Flag(
            code="LLM_SOMETHING",
            severity="info",
            origin="extraction",
            fields=["indicators[0].score"],
            message="x",
        )
    )
    out = reconcile(output(lay_rec, "layout"), llm)
    assert [r.name for r in out.record.indicators] == ["养护里程", "路面完好率"]
    assert out.fields["indicators[0].score"].signals["agreement"] == 0.5  # layout alone
    # the LLM's 14 is compared with the same row's 41, and R9 keeps 41
    assert out.record.indicators[1].score == 41.0
    assert out.fields["indicators[1].score"].alternative == 14.0
    moved = next(f for f in out.flags if f.code == "LLM_SOMETHING")
    assert moved.fields == ["indicators[1].score"]


def test_align_rows_keeps_order_and_reports_rows_read_by_one_side() -> None:
    pairs = align_rows(["年度资金总额", "当年财政拨款", "其他资金"], ["年度资金总额", "其他资金"])
    assert pairs == [(0, 0), (1, None), (2, 1)]
    assert align_rows([], ["a"]) == [(None, 0)]


def test_a_label_cited_as_a_value_loses() -> None:
    llm_rec = consistent_record()
    llm_rec.project_name = "项目名称"  # the label cell, which does print this text
    out = reconcile(output(consistent_record(), "layout"), output(llm_rec, "llm"))
    assert out.record.project_name == "城市道路维护"
    assert out.fields["project_name"].alternative == "项目名称"


def test_an_llm_value_from_a_cell_the_layout_reads_as_another_field_loses() -> None:
    lay = output(consistent_record(), "layout")
    llm_rec = consistent_record()
    llm_rec.goal_expected = llm_rec.goal_actual  # both goals from the 实际完成情况 cell
    llm = output(llm_rec, "llm")
    llm.fields["goal_expected"] = lay.fields["goal_actual"].model_copy(update={"extractor": "llm"})
    out = reconcile(lay, llm)
    # free text would follow the LLM by default; the cell it cites belongs to goal_actual
    assert out.record.goal_expected == consistent_record().goal_expected
    assert out.fields["goal_expected"].extractor == "layout"
    assert out.record.goal_actual == consistent_record().goal_actual


def test_ocr_confidence_of_the_cited_cell_becomes_a_signal_and_lowers_confidence() -> None:
    from jixiao.extract.hybrid import add_ocr_signals
    from jixiao.ingest.model import Cell, Grid

    lay = output(consistent_record(), "layout")
    bbox = lay.fields["total_score"].bbox
    cell = Cell(
        id="c1",
        row=0,
        col=0,
        rowspan=1,
        colspan=1,
        page=1,
        bbox=bbox,
        text="90.00",
        confidence=0.42,
    )
    form = FormRegion(
        index=0,
        kind="project",
        title="财政项目支出绩效自评表",
        pages=[1],
        grids=[Grid(id="g1", pages=[1], n_rows=1, n_cols=1, cells=[cell])],
    )
    add_ocr_signals(lay, form)
    assert lay.fields["total_score"].signals["ocr_confidence"] == 0.42
    assert "ocr_confidence" not in lay.fields["project_name"].signals
    plain = reconcile(output(consistent_record(), "layout"), None)
    scanned = reconcile(lay, None)
    assert scanned.fields["total_score"].confidence < plain.fields["total_score"].confidence


def test_the_llm_side_ungrounded_findings_become_info_once_layout_fills_the_field() -> None:
    llm_rec = consistent_record()
    llm_rec.project_name = None  # the LLM cited a cell that does not print its answer
    llm = output(llm_rec, "llm")
    llm.flags.append(
        Flag(
            code="EXTRACTION_UNGROUNDED",
            severity="warning",
            origin="extraction",
            fields=["project_name"],
            message="the LLM cited a value the source does not show; left empty",
        )
    )
    out = reconcile(output(consistent_record(), "layout"), llm)
    assert out.record.project_name == consistent_record().project_name
    ungrounded = [f for f in out.flags if f.code == "EXTRACTION_UNGROUNDED"]
    assert [f.severity for f in ungrounded] == ["info"]
