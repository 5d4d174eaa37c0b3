"""Aggregates: calibration bins, ECE, coverage; forms matched to gold; document selection."""

from __future__ import annotations

import pytest

from jixiao.contract import ExtractionResult, FormRecord, RunInfo, SourceInfo
from jixiao.corpus.build import Manifest, ManifestDocument
from jixiao.evals.harness import match_forms, select_documents
from jixiao.evals.metrics import accuracy_block, calibration


def test_calibration_bins_ece_and_coverage() -> None:
    points: list[tuple[float | None, bool]] = [
        (0.95, True),
        (0.95, True),
        (0.95, False),
        (0.95, True),  # bin 0.9–1.0: accuracy 0.75 at confidence 0.95
        (0.15, False),
        (0.15, True),  # bin 0.1–0.2: accuracy 0.5 at 0.15
        (None, False),  # nothing predicted: no bin, counts as below the threshold
        (1.0, True),  # the top bin includes 1.0
    ]
    cal = calibration(points, threshold=0.9)
    bins = {round(b["lo"], 1): b for b in cal["bins"]}
    assert set(bins) == {0.1, 0.9}
    assert bins[0.9]["n"] == 5 and bins[0.9]["accuracy"] == pytest.approx(0.8)
    assert bins[0.9]["mean_confidence"] == pytest.approx(0.96)
    assert bins[0.1]["accuracy"] == 0.5
    assert cal["ece"] == pytest.approx(5 / 7 * 0.16 + 2 / 7 * 0.35)
    assert cal["above"] == {"correct": 4, "total": 5, "accuracy": 0.8}
    assert cal["below"]["total"] == 3 and cal["below"]["correct"] == 1
    assert cal["coverage"] == pytest.approx(5 / 8)
    assert cal["without_confidence"] == 1


def test_calibration_counts_the_wrong_values_a_reviewer_sees() -> None:
    points = [(0.9, True), (0.9, False), (0.2, False), (0.1, False), (None, False), (0.95, True)]
    cal = calibration(points, threshold=0.5)
    # four wrong values: one above the threshold, three below it (the missing one included)
    assert cal["wrong_above"] == 1
    assert cal["wrong_below"] == pytest.approx(3 / 4)
    assert calibration([(0.9, True)], threshold=0.5)["wrong_below"] is None


def test_input_kind_is_ocr_when_a_value_came_from_an_ocr_page() -> None:
    from jixiao.contract import FieldProvenance
    from jixiao.evals.harness import input_kind

    def result(signals: dict[str, float]) -> ExtractionResult:
        prov = FieldProvenance(
            confidence=0.9,
            page=1,
            bbox=(0, 0, 1, 1),
            source_text="x",
            extractor="layout",
            signals=signals,
        )
        return ExtractionResult(
            source=SourceInfo(file="a.pdf", sha256="0"),
            form=FormRecord(project_name="x"),
            fields={"project_name": prov},
            run=RunInfo(extractor="layout"),
        )

    assert input_kind(result({"ocr_confidence": 0.8})) == "ocr"
    assert input_kind(result({"label_match": 1.0})) == "text"
    assert input_kind(None) == "text"


def test_accuracy_block_per_group() -> None:
    block = accuracy_block([("header", True), ("header", False), ("funding", True)])
    assert block["correct"] == 2 and block["total"] == 3
    assert block["groups"]["header"]["accuracy"] == 0.5
    assert "goals" not in block["groups"]  # groups without leaves are left out, not 100 %


def _result(name: str | None, pages: list[int]) -> ExtractionResult:
    return ExtractionResult(
        source=SourceInfo(file="x.pdf", sha256="0", pages=pages),
        form=FormRecord(project_name=name),
        run=RunInfo(extractor="layout"),
    )


def test_forms_match_by_name_then_pages_then_the_only_form() -> None:
    golds = [
        (FormRecord(project_name="“一网通办” 运营服务"), [1, 2]),
        (FormRecord(project_name="乙"), [3, 4]),
    ]
    preds = [_result("乙", [3, 4]), _result("“一网通办”运营服务", [1, 2])]
    assert match_forms(golds, preds) == [1, 0]
    misread = [_result("甲项目", [1, 2]), _result("丙", [3])]
    assert match_forms(golds, misread) == [0, 1]  # names misread: the pages decide
    assert match_forms(golds, [_result("乙", [3, 4])]) == [None, 0]
    # a document of one form takes its one prediction even when name and pages disagree
    assert match_forms([(FormRecord(project_name="甲"), [1, 1])], [_result("丁", [2])]) == [0]


def test_a_limited_selection_takes_documents_in_turn_over_families() -> None:
    docs = [
        ManifestDocument(file=f"pdf/{fam}/{i}.pdf", family=fam, split=split, forms=[])
        for fam in ("ruled", "borderless", "split-target")
        for i in range(3)
        for split in ("dev", "test")
    ]
    manifest = Manifest(seed=7, created_by="test", documents=docs)
    picked = select_documents(manifest, "dev", limit=4)
    assert [d.family for d in picked] == ["ruled", "borderless", "split-target", "ruled"]
    assert all(d.split == "dev" for d in picked)
    assert len(select_documents(manifest, "test")) == 9
    assert {d.family for d in select_documents(manifest, "dev", family="ruled")} == {"ruled"}


def test_prompt_override_pins_a_version_and_restores_it() -> None:
    from jixiao.errors import ConfigError
    from jixiao.evals.harness import prompt_overrides
    from jixiao.extract.llm import prompts

    before = dict(prompts.SECTION_PROMPTS)
    name, version = before["header"]
    with prompt_overrides((f"{name}@v{version}",)) as pinned:
        assert list(pinned) == [f"{name}@v{version}"]
        assert len(next(iter(pinned.values()))) == 64
    assert before == prompts.SECTION_PROMPTS
    for bad in (f"{name}@v999", "no_such_prompt@v1", "extract_header"):
        with pytest.raises(ConfigError), prompt_overrides((bad,)):
            pass
        assert before == prompts.SECTION_PROMPTS


def test_calibration_says_which_threshold_the_values_would_need() -> None:
    # 200 right at 0.9, one wrong at 0.8, 10 right and one wrong at 0.6
    points: list[tuple[float | None, bool]] = [(0.9, True)] * 200 + [(0.8, False)]
    points += [(0.6, True)] * 10 + [(0.6, False), (None, False)]
    cal = calibration(points, threshold=0.5)
    # ≥ 0.8: 200/201 = 99.50 % right; ≥ 0.6: 210/213 = 98.6 %
    assert cal["threshold_needed"] == 0.8
    assert calibration([(0.9, False)] * 3, threshold=0.5)["threshold_needed"] is None
    # every value right enough however low the threshold: any threshold holds
    assert (
        calibration([(0.7, True)] * 5 + [(None, False)], threshold=0.5)["threshold_needed"] == 0.0
    )
