"""The regression gate: `jixiao eval compare` fails on a group drop and, on the test split, on
any previously-correct field that breaks; its exit code says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evalruns import form_entry, make_run

from jixiao.evals.diff import EvalRegression, diff_runs, format_diff


def test_same_run_passes() -> None:
    run = make_run("test", [form_entry("a", ["indicators[0].score"]), form_entry("b", [])])
    diff = diff_runs(run, run)
    assert not diff.failed and diff.forms_compared == 2 and diff.broken == []
    assert "OK: no regression" in format_diff(diff)


def test_a_group_drop_beyond_the_allowance_fails() -> None:
    base = make_run("dev", [form_entry("a", []), form_entry("b", [])])  # 20/20
    new = make_run("dev", [form_entry("a", ["indicators[1].score"]), form_entry("b", [])])  # 19/20
    diff = diff_runs(base, new, max_drop=0.5)
    assert diff.failed
    assert [c.key for c in diff.dropped_groups] == ["overall", "indicators"]
    assert round(diff.dropped_groups[0].points or 0, 6) == -5.0
    assert not diff_runs(base, new, max_drop=5.0).failed  # a 5-point allowance takes it
    text = format_diff(diff)
    assert "REGRESSION" in text and "indicators[1].score" in text


def test_one_broken_field_fails_on_test_but_not_on_dev_within_allowance() -> None:
    forms_base = [form_entry(f"f{i}", ["indicators[0].score"]) for i in range(100)]
    forms_new = [form_entry(f"f{i}", ["indicators[0].score"]) for i in range(100)]
    forms_new[3] = form_entry("f3", ["indicators[2].score"])  # one fixed, one broken: net 0
    for split, fails in (("test", True), ("dev", False)):
        diff = diff_runs(make_run(split, forms_base), make_run(split, forms_new))
        assert diff.failed is fails
        assert [b["path"] for b in diff.broken] == ["indicators[2].score"] and diff.fixed == 1
        assert diff.broken[0]["gold"] == 5.0 and diff.broken[0]["pred"] == 4.0


def test_gate_uses_only_forms_both_runs_scored_against_the_same_gold() -> None:
    base = make_run("test", [form_entry("a", []), form_entry("b", ["indicators[0].score"])])
    subset = make_run("test", [form_entry("a", [])])  # a --limit run of the good form only
    diff = diff_runs(base, subset)
    assert not diff.failed and diff.forms_compared == 1 and diff.forms_only_base == 1
    changed_gold = form_entry("a", ["indicators[0].score"])
    changed_gold["gold_sha256"] = "another gold"
    diff = diff_runs(base, make_run("test", [changed_gold]))
    assert diff.gold_changed == 1 and diff.broken == []
    rerendered = form_entry("a", ["indicators[0].score"])
    rerendered["doc_sha256"] = "another rendering"
    diff = diff_runs(base, make_run("test", [rerendered]))
    assert diff.pdf_changed == 1 and diff.forms_compared == 0 and not diff.failed


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jixiao", "eval", *args], capture_output=True, text=True, timeout=60
    )


def test_compare_command_exit_codes(tmp_path: Path) -> None:
    base = make_run("test", [form_entry("a", []), form_entry("b", [])])
    worse = make_run("test", [form_entry("a", ["indicators[4].score"]), form_entry("b", [])])
    (tmp_path / "base.json").write_text(json.dumps(base), encoding="utf-8")
    (tmp_path / "new.json").write_text(json.dumps(worse), encoding="utf-8")
    ok = _cli("compare", str(tmp_path / "base.json"), str(tmp_path / "base.json"))
    assert ok.returncode == 0, ok.stderr
    bad = _cli("compare", str(tmp_path / "base.json"), str(tmp_path / "new.json"))
    assert bad.returncode == EvalRegression.exit_code
    assert "indicators[4].score" in bad.stdout
    assert len(bad.stderr.strip().splitlines()) == 1 and "eval regression" not in bad.stdout
    assert "broke" in bad.stderr and "jixiao eval run" in bad.stderr
    (tmp_path / "junk.json").write_text("{}", encoding="utf-8")
    junk = _cli("compare", str(tmp_path / "base.json"), str(tmp_path / "junk.json"))
    assert junk.returncode == 13 and "not an eval run" in junk.stderr
