"""The committed `llm` and `hybrid` baselines of the embedded model, replayed from a cassette.

CI cannot afford the embedded model on a whole split (one call takes 10-100 s on two cores), so
both baselines score the same fixed subset: `SELECTION` documents per split, taken in turn over
the layout families (`jixiao eval run --limit`), so every family of both splits is in it. Their
LLM answers were recorded once against the real server; this test extracts the subset again
from the cassette and must reproduce both baselines exactly. A changed prompt, schema, model,
parameter or section text changes a request body and fails here at once (no recording).

Re-record and rewrite the two baselines (an explicit flag, as for gold; ~1 h on two idle cores):

    JIXIAO_LLM_THREADS=2 .venv/bin/pytest tests/llm/test_llm_baselines.py --record-mode=rewrite

or re-ask only the requests that changed (an ingestion change on one family), dropping the
recorded answers no longer asked for:

    JIXIAO_LLM_THREADS=2 .venv/bin/pytest tests/llm/test_llm_baselines.py --record-mode=new_episodes

The hybrid run re-uses the LLM run's answers through the response cache, so one recording
serves both. To rewrite the baselines from the existing cassette (after a scoring change, say):

    JIXIAO_WRITE_BASELINES=1 .venv/bin/pytest tests/llm/test_llm_baselines.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from jixiao.config import EMBEDDED_MODEL
from jixiao.corpus.build import build_corpus
from jixiao.evals.diff import diff_runs
from jixiao.evals.harness import EvalOptions, load_runs, run_eval, write_baseline

from .conftest import REPLAY_BASE_URL

REPO = Path(__file__).resolve().parents[2]
BASELINES = REPO / "evals" / "baselines"
LLM_BASELINE = BASELINES / "llm-gemma3-270m.json"
HYBRID_BASELINE = BASELINES / "hybrid-gemma3-270m.json"
CORPUS_SEED = 7  # the corpus every baseline scores: `jixiao corpus build --seed 7`
SELECTION = 6  # documents per split: one per layout family
FORMS_PER_DOCUMENT = 1  # of a bundle, its first form: ~7 calls of 10-100 s each per form
VALIDATION_RETRIES = 0  # llama.cpp's gemma template drops instructor's `tool` re-ask turn,
# so a re-ask would resend the same question blind at temperature 0: pure cost
NOTE = (
    "embedded gemma3-270m (Q4_K_M, llama.cpp on 2 CPU cores), mode tools, temperature 0, "
    f"max_validation_retries {VALIDATION_RETRIES}; subset: --limit {SELECTION} --forms-per-doc "
    f"{FORMS_PER_DOCUMENT} per split = the first form of the first document of each layout "
    "family of corpus seed 7. Live recording (2026-11-27, 2 idle cores): 96 calls, ~39 s each, "
    "63 min for both splits; summary.cost.seconds is the time of the run that wrote this file "
    "(a replay when cost.timing says so). "
    "Reproduced from cassettes/test_llm_baselines/ by tests/llm/test_llm_baselines.py"
)


@pytest.fixture
def vcr_config(vcr_config: dict[str, Any], recording: bool) -> dict[str, Any]:
    """While recording (`--record-mode=new_episodes` re-asks only what changed, e.g. the scan
    forms after an OCR change), drop the recorded answers nobody asked for any more."""
    return {**vcr_config, "drop_unused_requests": True} if recording else vcr_config


@pytest.fixture(scope="module")
def corpus_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, seed=CORPUS_SEED)
    return out / "manifest.json"


def _runs(extractor: str, manifest: Path, base_url: str) -> dict[str, dict[str, Any]]:
    runs = {}
    for split in ("dev", "test"):
        options = EvalOptions(
            split=split,
            manifest=manifest,
            extractor=extractor,
            model=EMBEDDED_MODEL,
            base_url=base_url,
            mode="tools",
            limit=SELECTION,
            forms_per_document=FORMS_PER_DOCUMENT,
            # the hybrid baseline is the hybrid before escalation: every section asked
            escalation={"llm": "always"} if extractor == "hybrid" else {},
        )
        run = run_eval(options)
        run["name"] = f"{extractor}-gemma3-270m"
        run["note"] = NOTE
        runs[split] = run
    return runs


def _assert_reproduces(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    baseline = load_runs(path)
    assert set(baseline) == set(runs), f"{path.name}: splits {sorted(baseline)}"
    for split, run in runs.items():
        base = baseline[split]
        diff = diff_runs(base, run, max_drop=0.0)
        assert diff.forms_compared == base["summary"]["forms"]["gold"], (
            f"{path.name} {split}: {diff.pdf_changed} PDFs re-rendered, {diff.gold_changed} gold"
            " changed since the baseline; re-record: see this module's docstring"
        )
        assert not diff.failed, f"{path.name} {split} regressed:\n" + "\n".join(diff.reasons())
        # reproduce means the same numbers, not merely no regression
        for key in ("field_accuracy", "families", "fields", "rows"):
            assert run["summary"].get(key) == base["summary"].get(key), (path.name, split, key)


@pytest.mark.vcr
def test_llm_and_hybrid_baselines_reproduce(
    corpus_manifest: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recording: bool,
    _server_for_recording: Any,
    vcr: Any,
) -> None:
    base_url = _server_for_recording.base_url if recording else REPLAY_BASE_URL
    monkeypatch.setenv("JIXIAO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("JIXIAO_LLM_MAX_VALIDATION_RETRIES", str(VALIDATION_RETRIES))
    # a request with no recording must fail at once, not back off for a minute
    monkeypatch.setenv("JIXIAO_LLM_MAX_TRANSPORT_RETRIES", "0" if not recording else "2")
    monkeypatch.setenv("JIXIAO_LLM_TIMEOUT_S", "900")

    llm = _runs("llm", corpus_manifest, base_url)
    if not recording:
        # the client turns a request with no recording into a failed section (a null value),
        # so say plainly why the numbers would differ
        unasked = len(vcr) - vcr.play_count
        assert unasked == 0, (
            f"{unasked} of {len(vcr)} recorded LLM answers were never asked for: a prompt, schema,"
            " model, parameter or section text changed since the recording. Run the evals for the"
            " change and re-record (see tests/llm/test_llm_baselines.py's docstring)."
        )
    for split, run in llm.items():
        cost = run["summary"]["cost"]
        assert cost["llm_calls"] > 0, (split, cost)
        assert run["summary"]["forms"]["documents_failed"] == 0, (split, run["summary"]["forms"])
    # hybrid asks the same questions: its answers come from the cache the llm run filled,
    # except a section whose answer failed there (a failure is not cached: asked again)
    hybrid = _runs("hybrid", corpus_manifest, base_url)
    for split, run in hybrid.items():
        cost = run["summary"]["cost"]
        llm_cost = llm[split]["summary"]["cost"]
        assert cost["cache_hits"] > 0, (split, cost)
        # never more requests than the llm run sent for the same sections
        assert cost["llm_calls"] + cost["cache_hits"] <= llm_cost["llm_calls"], (split, cost)

    if recording or os.environ.get("JIXIAO_WRITE_BASELINES") == "1":
        if not recording:  # seconds of a replay say nothing about the model's speed
            for run in (*llm.values(), *hybrid.values()):
                run["summary"]["cost"]["timing"] = "replay"
        write_baseline(llm, LLM_BASELINE, note=NOTE)
        write_baseline(hybrid, HYBRID_BASELINE, note=NOTE)
        return
    _assert_reproduces(LLM_BASELINE, llm)
    _assert_reproduces(HYBRID_BASELINE, hybrid)
    # the hybrid is never worse than the better of its two extractors, family by family
    layout = _runs("layout", corpus_manifest, base_url)
    for split, run in hybrid.items():
        for family, scores in run["summary"]["families"].items():
            best = max(_accuracy(llm[split], family), _accuracy(layout[split], family))
            assert scores["accuracy"] >= best, (split, family, scores["accuracy"], best)


def _accuracy(run: dict[str, Any], family: str) -> float:
    scores = run["summary"]["families"].get(family) or {}
    return float(scores.get("accuracy") or 0.0)


def test_baseline_note_names_this_test() -> None:
    """The baselines say how they were made and how to reproduce them."""
    for path in (LLM_BASELINE, HYBRID_BASELINE):
        note = json.loads(path.read_text(encoding="utf-8"))["note"]
        assert "test_llm_baselines" in note and f"--limit {SELECTION}" in note, path.name
