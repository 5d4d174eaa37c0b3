"""scripts/check_prompt_baselines.py: a prompt file no baseline cites fails CI with the command
that fixes it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_prompt_baselines.py"


def _guard(prompts: Path, baselines: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--prompts", str(prompts), "--baselines", str(baselines)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_uncited_prompt_fails_with_the_command_and_cited_passes(tmp_path: Path) -> None:
    prompts, baselines = tmp_path / "prompts", tmp_path / "baselines"
    (prompts / "extract_header").mkdir(parents=True)
    baselines.mkdir()
    v1 = prompts / "extract_header" / "v1.md"
    v1.write_text("读取表头。\n{rows}\n", encoding="utf-8")
    v2 = prompts / "extract_header" / "v2.md"
    v2.write_text("读取表头（第二版）。\n{rows}\n", encoding="utf-8")
    sha1 = hashlib.sha256(v1.read_bytes()).hexdigest()
    run = {"format": "jixiao-eval-run/1", "split": "dev", "prompts": {"extract_header@v1": sha1}}
    baseline = {"format": "jixiao-eval-baseline/1", "note": "", "runs": {"dev": run}}
    (baselines / "llm-gemma3-270m.json").write_text(json.dumps(baseline), encoding="utf-8")

    failed = _guard(prompts, baselines)
    assert failed.returncode == 1
    assert "extract_header@v2" in failed.stdout and "extract_header@v1" not in failed.stdout
    assert "jixiao eval run --split all --extractor llm --prompt extract_header@v2" in failed.stdout

    sha2 = hashlib.sha256(v2.read_bytes()).hexdigest()
    run["prompts"]["extract_header@v2"] = sha2
    (baselines / "llm-gemma3-270m.json").write_text(json.dumps(baseline), encoding="utf-8")
    passed = _guard(prompts, baselines)
    assert passed.returncode == 0, passed.stdout
    # editing a cited prompt in place is caught: its hash is no longer cited
    v1.write_text("读取表头，改过了。\n{rows}\n", encoding="utf-8")
    assert _guard(prompts, baselines).returncode == 1


def test_a_routing_table_cites_the_prompts_it_measured(tmp_path: Path) -> None:
    """The field-question prompt is measured by `jixiao eval routing`, not by an llm baseline:
    the routing table it writes cites the prompt, and the guard counts that."""
    from jixiao.extract.escalation import KindRoute, ModelRoute, RoutingTable, save_routing

    prompts, baselines = tmp_path / "prompts", tmp_path / "baselines"
    (prompts / "field_question").mkdir(parents=True)
    baselines.mkdir()
    v1 = prompts / "field_question" / "v1.md"
    v1.write_text("问：{question}\n{rows}\n", encoding="utf-8")
    sha = hashlib.sha256(v1.read_bytes()).hexdigest()
    assert _guard(prompts, baselines).returncode == 1
    table = RoutingTable(
        models={
            "m": ModelRoute(
                source="x", kinds={"field": KindRoute()}, prompts={"field_question@v1": sha}
            )
        }
    )
    save_routing(table, baselines / "routing-m.json")
    assert _guard(prompts, baselines).returncode == 0
