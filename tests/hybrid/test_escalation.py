"""Escalation without the model: what the hybrid plans to ask, the routing that filters it, the
per-form budget, and the LLM opened only when a question is actually sent.

The model's answers themselves are in tests/llm/test_escalation_recorded.py (recorded against
the real embedded server).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jixiao.confidence import review_threshold
from jixiao.contract import FormRecord
from jixiao.extract.escalation import (
    EscalationPolicy,
    KindRoute,
    ModelRoute,
    RoutingTable,
    decide,
    load_routing,
    plan_questions,
    save_routing,
)
from jixiao.extract.hybrid import HybridExtractor, LazyLLM, reconcile
from jixiao.extract.layout import LayoutExtractor
from jixiao.ingest import ingest_pdf, serialize_form

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sh-bdc-2023-02.ruled.pdf"


def _form() -> Any:
    ingested = ingest_pdf(EXAMPLE)
    (form,) = ingested.forms
    return ingested, form


def _relabel(form: Any, mapping: dict[str, str]) -> None:
    """Print other words in the label cells (a template the layout's synonyms do not know)."""
    for grid in form.grids:
        for cell in grid.cells:
            if cell.text in mapping:
                cell.text = mapping[cell.text]


class _CountingOpener:
    """An LLM opener that counts how often the hybrid tried to start the LLM."""

    def __init__(self) -> None:
        self.opened = 0

    def __call__(self) -> contextlib.AbstractContextManager[Any]:
        self.opened += 1

        @contextlib.contextmanager
        def fail() -> Iterator[Any]:
            from jixiao.errors import LLMUnavailable

            raise LLMUnavailable(None, "no endpoint in this test", "none")
            yield  # pragma: no cover

        return fail()


def _routing_file(tmp_path: Path, **unmeasured: bool) -> Path:
    path = tmp_path / "routing.json"
    save_routing(RoutingTable(unmeasured=unmeasured), path)
    return path


def test_a_form_layout_reads_well_asks_nothing_and_never_starts_the_llm(tmp_path: Path) -> None:
    ingested, form = _form()
    opener = _CountingOpener()
    routing = _routing_file(tmp_path, field=True, section=True, form=True)
    hybrid = HybridExtractor(
        LayoutExtractor(),
        LazyLLM(opener, model="gemma3-270m"),
        policy=EscalationPolicy(routing_path=routing),
    )
    out = hybrid.extract(form, serialize_form(form), doc_sha256=ingested.document.sha256)
    assert opener.opened == 0
    assert out.stats.questions == []
    assert out.stats.llm_calls == 0
    assert out.stats.llm_policy == "auto"
    assert out.stats.routing is not None and out.stats.routing.startswith("routing.json@")
    assert "HYBRID_LLM_UNAVAILABLE" not in [f.code for f in out.flags]
    assert len(out.fields) > 150


def test_unknown_header_labels_plan_a_section_question(tmp_path: Path) -> None:
    ingested, form = _form()
    _relabel(form, {"项目名称": "工程名目"})
    layout = serialize_form(form)
    lay = LayoutExtractor().extract(form, layout, doc_sha256=ingested.document.sha256)
    assert lay.record.project_name is None
    base = reconcile(lay, None, llm_wanted=False)
    planned = plan_questions(
        base.record,
        base.fields,
        [],
        layout,
        threshold=review_threshold(),
        unplaced=lay.unplaced,
        sections_shown={"header", "funding", "goals", "indicators", "totals"},
    )
    sections = [q for q in planned if q.level == "section"]
    assert [q.target for q in sections] == ["header"]
    assert "项目名称" in sections[0].reason


def test_a_layout_nobody_anchored_plans_the_whole_form(tmp_path: Path) -> None:
    _ingested, form = _form()
    planned = plan_questions(
        FormRecord(project_name="x"),
        {},
        [],
        serialize_form(form),
        threshold=0.5,
        sections_shown={"header"},
    )
    assert [(q.level, q.target) for q in planned] == [("form", "form")]
    assert set(planned[0].sections) == {"header", "funding", "goals", "indicators", "totals"}


def test_low_confidence_values_plan_field_questions_with_their_row(tmp_path: Path) -> None:
    ingested, form = _form()
    layout = serialize_form(form)
    lay = LayoutExtractor().extract(form, layout, doc_sha256=ingested.document.sha256)
    base = reconcile(lay, None, llm_wanted=False)
    # every value is "unsure" at a threshold above every confidence
    planned = plan_questions(base.record, base.fields, [], layout, threshold=1.01)
    fields = [q for q in planned if q.level == "field"]
    assert len(fields) > 100
    score = next(q for q in fields if q.target == "indicators[0].score")
    shown = {cid for row in score.rows for cid in row.cell_ids}
    # the question shows the indicator's own row, holding the cell the layout read
    cited = base.fields["indicators[0].score"]
    assert any(
        layout.cells[c].bbox[0] >= cited.bbox[0] - 1
        and layout.cells[c].bbox[2] <= cited.bbox[2] + 1
        for c in shown
    )
    assert score.row_key == base.record.indicators[0].name
    assert len(score.rows) <= 3


def test_routing_and_budget_decide_what_is_asked(tmp_path: Path) -> None:
    ingested, form = _form()
    opener = _CountingOpener()
    hybrid = HybridExtractor(
        LayoutExtractor(),
        LazyLLM(opener, model="gemma3-270m"),
        policy=EscalationPolicy(
            threshold=1.01, routing_path=_routing_file(tmp_path, field=False, section=True)
        ),
    )
    out = hybrid.extract(form, serialize_form(form), doc_sha256=ingested.document.sha256)
    # routing says no to field questions: every one is recorded as skipped, none is sent
    assert out.stats.questions
    assert {q.status for q in out.stats.questions} == {"skipped_routing"}
    assert opener.opened == 0

    no_budget = HybridExtractor(
        LayoutExtractor(),
        LazyLLM(opener, model="gemma3-270m"),
        policy=EscalationPolicy(
            threshold=1.01,
            max_calls=0,
            routing_path=_routing_file(tmp_path, field=True),
        ),
    )
    out = no_budget.extract(form, serialize_form(form), doc_sha256=ingested.document.sha256)
    # the endpoint cannot be opened: the questions say so, and the form says it once
    statuses = {q.status for q in out.stats.questions}
    assert statuses == {"unavailable"}
    assert opener.opened == 1
    assert [f.code for f in out.flags].count("HYBRID_LLM_UNAVAILABLE") == 1


def test_the_lazy_llm_opens_once_for_the_run(tmp_path: Path) -> None:
    ingested, form = _form()
    opener = _CountingOpener()
    lazy = LazyLLM(opener, model="m")
    hybrid = HybridExtractor(
        LayoutExtractor(),
        lazy,
        policy=EscalationPolicy(threshold=1.01, routing_path=_routing_file(tmp_path, field=True)),
    )
    for _ in range(3):
        hybrid.extract(form, serialize_form(form), doc_sha256=ingested.document.sha256)
    assert opener.opened == 1  # a failed open is not retried for every form
    assert lazy.error is not None


def test_never_reads_by_layout_alone_without_a_flag() -> None:
    ingested, form = _form()
    opener = _CountingOpener()
    hybrid = HybridExtractor(
        LayoutExtractor(), LazyLLM(opener, model="m"), policy=EscalationPolicy(llm="never")
    )
    out = hybrid.extract(form, serialize_form(form), doc_sha256=ingested.document.sha256)
    assert opener.opened == 0
    assert out.stats.llm_policy == "never"
    assert "HYBRID_LLM_UNAVAILABLE" not in [f.code for f in out.flags]


def test_decide_asks_only_where_rescues_beat_breakage() -> None:
    assert decide(KindRoute(asked=10, rescued=3, broke=1, confirmed_wrong=1))
    assert not decide(KindRoute(asked=10, rescued=2, broke=1, confirmed_wrong=1))
    assert not decide(KindRoute(asked=0))
    table = RoutingTable(
        unmeasured={"field": False, "section": True, "form": True},
        models={
            "m": ModelRoute(
                source="x", kinds={"field": KindRoute(ask=True), "section": KindRoute()}
            )
        },
    )
    assert table.allows("m", "field")
    assert not table.allows("m", "section")
    assert not table.allows("m", "form")  # measured model, kind not measured: not asked
    assert table.allows("other", "section") and not table.allows("other", "field")


def test_routing_file_round_trip_and_cite(tmp_path: Path) -> None:
    path = _routing_file(tmp_path, field=True)
    loaded = load_routing(path)
    assert loaded.table.unmeasured["field"] is True
    assert loaded.cite.startswith("routing.json@") and len(loaded.cite.split("@")[1]) == 12
    assert load_routing(tmp_path / "absent.json").cite == "absent.json@absent"


@pytest.mark.parametrize("policy", ["sometimes", ""])
def test_unknown_policy_is_a_config_error(policy: str) -> None:
    from jixiao.errors import ConfigError
    from jixiao.extract.escalation import policy_options

    with pytest.raises(ConfigError):
        policy_options(policy)


def test_extract_command_llm_policy_through_the_installed_script(tmp_path: Path) -> None:
    """`--llm never` extracts with the hybrid and says so in the run; an unknown policy is one
    line on stderr and exit 11 (configuration), through the real console script."""
    import json
    import subprocess
    import sys

    jixiao = Path(sys.executable).parent / "jixiao"
    out = tmp_path / "out.json"
    done = subprocess.run(
        [str(jixiao), "extract", str(EXAMPLE), "-o", str(out), "--llm", "never"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(out.read_text("utf-8"))
    assert result["run"]["llm_policy"] == "never" and result["run"]["llm_calls"] == 0
    assert f"1 form(s) written to {out}" in done.stderr
    assert "values" in done.stderr and "to review" in done.stderr

    bad = subprocess.run(
        [str(jixiao), "extract", str(EXAMPLE), "-o", str(out), "--llm", "sometimes"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 11
    assert bad.stderr.strip().splitlines() == [
        "jixiao: unknown --llm 'sometimes' — use one of: auto, always, never"
    ]
