"""Confidence from checkable signals: monotone in each signal; threshold chosen from a table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from forms import consistent_record, output

from jixiao.checks import run_checks
from jixiao.confidence import (
    DEFAULT_REVIEW_THRESHOLD,
    apply_confidence,
    check_signals,
    choose_threshold,
    reliability_table,
    review_threshold,
    save_threshold,
    score_signals,
)

BASE = {"grounded": 1.0, "agreement": 0.5, "label_match": 1.0, "parse_clean": 1.0}


def test_a_failing_check_lowers_confidence() -> None:
    clean = score_signals(BASE)
    assert score_signals({**BASE, "check_failed_error": 1.0}) < clean
    assert score_signals({**BASE, "check_failed_error": 2.0}) < score_signals(
        {**BASE, "check_failed_error": 1.0}
    )
    assert score_signals({**BASE, "check_failed_warning": 1.0}) < clean


def test_agreement_raises_confidence() -> None:
    levels = [score_signals({**BASE, "agreement": a}) for a in (0.0, 0.5, 1.0)]
    assert levels[0] < levels[1] < levels[2]
    settled = score_signals({**BASE, "agreement": 0.0, "resolved_by_checks": 1.0})
    assert levels[0] < settled


@pytest.mark.parametrize(
    ("signal", "worse", "better"),
    [
        ("grounded", 0.0, 1.0),
        ("parse_clean", 0.0, 1.0),
        ("label_match", 0.6, 0.9),
        ("ocr_confidence", 0.5, 0.95),
        ("check_passed", 0.0, 1.0),
        ("ruled", 0.0, 1.0),
        ("llm_only", 1.0, 0.0),
        ("suspect", 1.0, 0.0),
    ],
)
def test_each_signal_is_monotone(signal: str, worse: float, better: float) -> None:
    assert score_signals({**BASE, signal: worse}) < score_signals({**BASE, signal: better})


def test_a_value_only_the_model_read_or_an_ocr_rule_doubted_goes_to_review() -> None:
    # a grounded single reading that passed its checks is accepted; the same value read by the
    # LLM alone, or repaired by an OCR rule (sign glyph, junk tail), falls below the threshold
    threshold = review_threshold()
    single = {**BASE, "agreement": 0.5, "check_passed": 1.0}
    assert score_signals(single) >= threshold
    assert score_signals({**single, "llm_only": 1.0}) < threshold
    suspect = {**single, "parse_clean": 0.5, "repaired": 1.0, "suspect": 1.0}
    assert score_signals(suspect) < threshold


def test_confidence_stays_in_unit_interval() -> None:
    assert 0.0 <= score_signals({"check_failed_error": 50.0, "grounded": 0.0}) <= 1.0
    assert 0.0 <= score_signals({**BASE, "agreement": 1.0, "check_passed": 1.0}) <= 1.0


def test_apply_confidence_marks_the_fields_of_a_broken_total() -> None:
    record = consistent_record()
    good = apply_confidence(record, output(record, "layout").fields, run_checks(record))
    broken = record.model_copy(deep=True)
    broken.total_score = 80.0  # R9 and R10 now fail
    bad = apply_confidence(broken, output(broken, "layout").fields, run_checks(broken))
    assert good["total_score"].signals["check_passed"] == 1.0
    assert bad["total_score"].signals["check_failed_error"] >= 1.0
    assert bad["total_score"].confidence < good["total_score"].confidence
    # a field no rule judges keeps its confidence
    assert bad["project_name"].confidence == good["project_name"].confidence


def test_check_signals_count_only_findings_that_name_the_field() -> None:
    record = consistent_record()
    record.funding[0].execution_rate = 80.0  # R1 on the total row only
    by_path = check_signals(record, run_checks(record))
    assert by_path["funding[0].execution_rate"]["check_failed_error"] == 1.0
    assert by_path["funding[1].execution_rate"]["check_failed_error"] == 0.0
    assert by_path["funding[1].execution_rate"]["check_passed"] == 1.0


def test_reliability_table_bins() -> None:
    bins = reliability_table([(0.05, False), (0.95, True), (1.0, True), (0.92, False)])
    top = bins[-1]
    assert (top.n, top.correct) == (3, 2)
    assert bins[0].n == 1 and bins[0].accuracy == 0.0
    assert sum(b.n for b in bins) == 4


def test_threshold_is_the_lowest_one_that_keeps_accepted_values_right() -> None:
    # bins: 0.99 → 200/200 right, 0.9 → 100/101, 0.5 → 0/50
    points = [(0.99, True)] * 200 + [(0.9, True)] * 100 + [(0.9, False)] + [(0.5, False)] * 50
    assert choose_threshold(points, target=0.995) == 0.9  # 300/301 = 99.67 %
    assert choose_threshold(points, target=0.999) == 0.99  # 0.9 would give 99.67 %
    assert choose_threshold(points, target=0.995, min_support=400) is None
    assert choose_threshold([(0.8, False)], target=0.995) is None


def test_threshold_does_not_wave_through_a_small_mostly_wrong_group() -> None:
    # 1000 right at 0.95, then 4 values at 0.45 of which 1 is right: 99.7 % above 0.45 overall
    points = [(0.95, True)] * 1000 + [(0.45, True)] + [(0.45, False)] * 3
    assert choose_threshold(points, target=0.995) == 0.45
    assert choose_threshold(points, target=0.995, marginal_floor=0.9) == 0.95


def test_threshold_is_not_lowered_past_a_mostly_wrong_band_higher_up() -> None:
    # the window just above 0.05 is all right, but the band [0.35, 0.45) is 70 % right: every
    # band above the threshold must hold, so the threshold stays above that band
    points = (
        [(0.95, True)] * 5000
        + [(0.05, True)] * 10
        + [(0.4, True)] * 7
        + [(0.4, False)] * 3
        + [(0.6, True)] * 10
    )
    assert choose_threshold(points, target=0.995) == 0.05  # 99.94 % above 0.05 overall
    assert choose_threshold(points, target=0.995, marginal_floor=0.9) == 0.6


def test_review_threshold_round_trip_and_default(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.json"
    assert review_threshold(path) == DEFAULT_REVIEW_THRESHOLD
    save_threshold(0.8765, {"chosen_on": "dev"}, path)
    assert review_threshold(path) == 0.8765
    assert json.loads(path.read_text("utf-8"))["chosen_on"] == "dev"
    path.write_text("{broken", encoding="utf-8")
    assert review_threshold(path) == DEFAULT_REVIEW_THRESHOLD
