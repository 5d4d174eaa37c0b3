"""Scoring what the hybrid's LLM questions did against gold, and the routing decisions made
from those counts (jixiao.evals.escalation, `jixiao eval routing`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jixiao.contract import (
    ChangedValue,
    ExtractionResult,
    FormRecord,
    Indicator,
    LLMQuestion,
    RunInfo,
    SourceInfo,
)
from jixiao.evals.compare import compare_forms
from jixiao.evals.escalation import escalation_summary, routing_table, score_questions
from jixiao.evals.harness import RUN_FORMAT
from jixiao.extract.escalation import load_routing


def _gold() -> FormRecord:
    return FormRecord(
        project_name="道路养护",
        total_score=90.0,
        indicators=[
            Indicator(name="养护道路长度", weight=10.0, score=10.0),
            Indicator(name="验收合格率", weight=10.0, score=9.0),
        ],
    )


def _result(pred: FormRecord, questions: list[LLMQuestion]) -> ExtractionResult:
    return ExtractionResult(
        source=SourceInfo(file="x.pdf", sha256="0"),
        form=pred,
        run=RunInfo(extractor="hybrid", questions=questions, llm_calls=len(questions)),
    )


def test_rescued_broke_confirmed_and_null_are_judged_against_gold() -> None:
    gold = _gold()
    pred = gold.model_copy(deep=True)
    pred.indicators[0].score = 1.0  # the LLM broke a right 10.0
    pred.total_score = 90.0  # the LLM rescued a wrong 9.0
    pred.indicators[1].score = 8.0  # wrong, and the LLM agreed with it
    asked = dict(level="field", reason="r", status="asked", llm_calls=1)
    questions = [
        LLMQuestion(
            target="indicators[0].score",
            changed=[ChangedValue(path="indicators[0].score", before=10.0, after=1.0)],
            **asked,
        ),
        LLMQuestion(
            target="total_score",
            changed=[ChangedValue(path="total_score", before=9.0, after=90.0)],
            **asked,
        ),
        LLMQuestion(target="indicators[1].score", confirmed=["indicators[1].score"], **asked),
        LLMQuestion(target="project_name", answer="none", **asked),
        LLMQuestion(level="section", target="header", reason="r", status="skipped_routing"),
    ]
    counts = score_questions(_result(pred, questions), compare_forms(pred, gold))
    field = counts["field"]
    assert (field["rescued"], field["broke"], field["confirmed_wrong"], field["null"]) == (
        1,
        1,
        1,
        1,
    )
    assert field["asked"] == 4 and field["llm_calls"] == 4
    assert counts["section"]["skipped_routing"] == 1 and counts["section"]["asked"] == 0

    summary = escalation_summary([counts, counts], [4, 0])
    assert summary["levels"]["field"]["rescued"] == 2
    assert summary["median_llm_calls_per_form"] == 2 and summary["forms_asking"] == 1

    # one rescue against one break and one wrong confirmation: not worth asking
    table = routing_table({"r": {"split": "dev", "summary": {"escalation": summary}}}, model="m")
    assert not table.models["m"].kinds["field"].ask
    assert not table.allows("m", "field")


def test_eval_routing_command_refuses_test_runs_and_writes_the_table(tmp_path: Path) -> None:
    jixiao = Path(sys.executable).parent / "jixiao"
    levels = {
        "field": {"asked": 5, "rescued": 3, "broke": 1, "confirmed_wrong": 0, "null": 1},
        "section": {"asked": 2, "rescued": 0, "broke": 1, "confirmed_wrong": 0, "null": 1},
    }
    run = {"format": RUN_FORMAT, "split": "dev", "summary": {"escalation": {"levels": levels}}}
    dev = tmp_path / "dev.json"
    dev.write_text(json.dumps(run), "utf-8")
    out = tmp_path / "routing.json"
    done = subprocess.run(
        [str(jixiao), "eval", "routing", str(dev), "--model", "m", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "| field | 5 | 3 | 1 | 0 | 1 | yes |" in done.stdout
    table = load_routing(out).table
    assert table.allows("m", "field") and not table.allows("m", "section")

    test = tmp_path / "test.json"
    test.write_text(json.dumps({**run, "split": "test"}), "utf-8")
    refused = subprocess.run(
        [str(jixiao), "eval", "routing", str(test), "--model", "m"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 13 and "not a dev run" in refused.stderr
